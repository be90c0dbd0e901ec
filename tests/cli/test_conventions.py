"""Conventions a user of git, the AWS CLI or Keras expects from any command."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlcli.errors import DataError


def test_debug_after_the_command_shows_the_traceback_as_before_it(cli, iris_model: Path) -> None:  # type: ignore[no-untyped-def]
    # Typed after the command (where one adds it on seeing an error), --debug is not "No such option".
    with pytest.raises(DataError, match="not found"):
        cli("eval", iris_model, "nope.csv", "--debug")
    with pytest.raises(DataError, match="not found"):
        cli("--debug", "eval", iris_model, "nope.csv")
    result = cli("eval", iris_model, "nope.csv")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: Data file 'nope.csv' not found.")
