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


def make_run(root: Path) -> Path:
    run = root / "run"
    (run / "checkpoints").mkdir(parents=True)
    for name in ("model.h5", "config.toml", "checkpoints/epoch-0010.h5", "checkpoints/epoch-0020.h5"):
        (run / name).write_text(name)
    return run


def test_exclude_names_a_folder_as_rsync_does(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = make_run(tmp_path)
    for pattern, target in (("checkpoints", "a"), ("checkpoints/", "b")):
        assert cli("push", run, tmp_path / target, "--exclude", pattern, "-q").exit_code == 0
        assert sorted(p.name for p in (tmp_path / target).iterdir()) == ["config.toml", "model.h5"]
    assert cli("push", run, tmp_path / "c", "--include", "checkpoints", "-q").exit_code == 0
    assert sorted(p.name for p in (tmp_path / "c" / "checkpoints").iterdir()) == ["epoch-0010.h5", "epoch-0020.h5"]
    assert not (tmp_path / "c" / "model.h5").exists()


def test_a_dry_run_lists_every_file_it_would_transfer_or_delete(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = make_run(tmp_path)
    remote = tmp_path / "remote"
    assert cli("push", run, remote, "--exclude", "checkpoints", "-q").exit_code == 0
    (run / "model.h5").write_text("changed")
    (run / "config.toml").unlink()
    result = cli("push", run, remote, "--dry-run", "--delete")
    assert result.exit_code == 0, result
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert lines == [
        ["upload", "checkpoints/epoch-0010.h5", f"{remote}/checkpoints/epoch-0010.h5"],
        ["upload", "checkpoints/epoch-0020.h5", f"{remote}/checkpoints/epoch-0020.h5"],
        ["upload", "model.h5", f"{remote}/model.h5"],
        ["delete", "config.toml", f"{remote}/config.toml"],
    ]
    assert (remote / "config.toml").exists() and (remote / "model.h5").read_text() == "model.h5"  # nothing changed


def complete(words: str) -> list[str]:
    """What bash completion offers for the last word of ``words`` (a real completion request)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1)}
    env["_DLCLI_COMPLETE"] = "complete_bash"
    result = subprocess.run([sys.executable, "-m", "dlcli"], env=env, capture_output=True, text=True, timeout=60)
    return result.stdout.split()


@pytest.mark.parametrize(
    ("words", "offered"),
    [
        ("dlcli train --optimizer ada", ["adam", "adamw"]),
        ("dlcli train --schedule ", ["constant", "step", "exponential", "cosine", "reduce_on_plateau"]),
        ("dlcli train --activation sel", []),
        ("dlcli train --set train.opt", ["train.optimizer="]),
        ("dlcli train --set train.optimizer=rm", ["train.optimizer=rmsprop"]),
        ("dlcli predict model.h5 --format p", ["parquet"]),
    ],
)
def test_option_values_complete_in_the_shell(words: str, offered: list[str]) -> None:
    assert complete(words) == offered


def test_usage_lines_name_arguments_as_man_pages_do(cli) -> None:  # type: ignore[no-untyped-def]
    usage = cli("eval", "--help").stdout
    assert usage.splitlines()[0] == "Usage: dlcli eval [OPTIONS] MODEL DATA"
    assert "<str>" not in usage


def test_print_config_origin_says_where_each_value_came_from(cli, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "dlcli.toml"
    config.write_text('[data]\npath = "iris.csv"\ntarget = "species"\n')
    monkeypatch.setenv("DLCLI_TRAIN_BATCH_SIZE", "64")
    result = cli("train", config, "--epochs", "5", "--print-config", "--origin")
    assert result.exit_code == 0, result
    lines = result.stdout.splitlines()

    def origin(key_line: str) -> str:
        return lines[lines.index(key_line) - 1]

    assert origin('target = "species"') == f"# from {config}"
    assert origin("batch_size = 64") == "# from environment variable DLCLI_TRAIN_BATCH_SIZE"
    assert origin("epochs = 5") == "# from the command line"
    assert origin('optimizer = "adamw"') == "# from the default"


def test_inspect_names_keras_as_the_writer_of_a_keras_file(cli) -> None:  # type: ignore[no-untyped-def]
    keras_file = Path(__file__).resolve().parents[1] / "fixtures" / "keras_3.15.1.h5"
    result = cli("inspect", keras_file)
    assert result.exit_code == 0, result
    facts = dict(line.split("\t", 1) for line in result.stdout.splitlines()[:4])
    assert facts["format"] == "keras-legacy-h5" and facts["keras_version"] == "3.15.1"
    assert "?" not in result.stdout and "vNone" not in result.stdout and "dlcli_version" not in result.stdout
