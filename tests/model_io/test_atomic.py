"""A failed save leaves neither a partial file nor a temporary file behind."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from dlcli.model_io import load_model, save_model, writer

from .conftest import make_model, raw_inputs


def _explode(*args: object, **kwargs: object) -> None:
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("step", ["_write_weights", "_write_dlcli_group"])
def test_failure_mid_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    monkeypatch.setattr(writer, step, _explode)
    path = tmp_path / "model.h5"
    with pytest.raises(OSError, match="No space left"):
        save_model(path, make_model())
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.h5"
    first = make_model(seed=0)
    save_model(path, first)
    monkeypatch.setattr(writer, "_write_dlcli_group", _explode)
    with pytest.raises(OSError):
        save_model(path, make_model(seed=3))
    assert [p.name for p in tmp_path.iterdir()] == ["model.h5"]
    np.testing.assert_array_equal(load_model(path).model.predict(raw_inputs()), first.predict(raw_inputs()))


def test_unstorable_training_state_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        save_model(tmp_path / "ckpt.h5", make_model(), training_state={"bad": object()})
    assert list(tmp_path.iterdir()) == []


def test_parent_directories_are_created_and_mode_follows_umask(tmp_path: Path) -> None:
    path = tmp_path / "run" / "checkpoints" / "epoch_1.h5"
    save_model(path, make_model())
    assert path.is_file()
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's private 0o600
