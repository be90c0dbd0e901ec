"""The compatibility promise: checked-in files from every format version keep loading.

The files in tests/fixtures/ were written by tests/fixtures/make_fixtures.py when their
format version was current, and are never regenerated. Each ``<name>.h5`` has a
``<name>.expected.npz`` with inputs ``X`` and the predictions ``y`` it gave when written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dlcli.model_io import FORMAT_VERSION, load_model, read_summary

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FILES = sorted(FIXTURES.glob("*.h5"))


def expected(path: Path) -> dict[str, np.ndarray]:
    with np.load(path.with_suffix(".expected.npz"), allow_pickle=False) as data:
        return dict(data)


def test_there_is_a_fixture_for_every_format_version() -> None:
    names = {path.name for path in FILES}
    for version in range(1, FORMAT_VERSION + 1):
        assert f"model_v{version}.h5" in names and f"checkpoint_v{version}.h5" in names


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_fixture_loads_and_predicts_what_it_did_when_written(path: Path) -> None:
    loaded = load_model(path)
    values = expected(path)
    # Not bit-exact: another BLAS may sum in another order; 1e-5 is the Keras promise too.
    np.testing.assert_allclose(loaded.model.predict(values["X"]), values["y"], rtol=0, atol=1e-5)
    summary = read_summary(path)
    assert summary["params"] == loaded.model.count_params()


def test_v1_model_keeps_its_schema_and_metadata() -> None:
    loaded = load_model(FIXTURES / "model_v1.h5")
    assert (loaded.format_name, loaded.format_version, loaded.dlcli_version) == ("dlcli-model", 1, "0.1.0")
    assert loaded.schema is not None and loaded.metadata is not None
    assert loaded.schema["classes"] == ["setosa", "versicolor", "virginica"]
    assert loaded.metadata["metrics"] == {"accuracy": 0.5}
    assert [type(layer).__name__ for layer in loaded.model.layers] == [
        "Normalization",
        "Dense",
        "BatchNormalization",
        "Dropout",
        "Dense",
    ]
    assert loaded.training_state is None


def test_v1_checkpoint_keeps_its_training_state() -> None:
    path = FIXTURES / "checkpoint_v1.h5"
    state = load_model(path).training_state
    values = expected(path)
    assert state is not None
    assert (state["epoch"], state["early_stopping"], state["optimizer"]["t"]) == (3, {"best": None, "wait": 1}, 12)
    np.testing.assert_array_equal(state["optimizer"]["m"][0], values["m"])
    np.testing.assert_array_equal(state["optimizer"]["v"][0], values["v"])
    rng = np.random.default_rng()
    rng.bit_generator.state = state["rng"]  # the 128-bit integers came back exactly
    reference = np.random.default_rng(99)
    reference.random(3)
    assert rng.random() == reference.random()


def test_keras_written_fixture_has_no_dlcli_group() -> None:
    keras_files = [path for path in FILES if path.name.startswith("keras_")]
    assert keras_files, "tests/fixtures should hold a Keras-written file"
    loaded = load_model(keras_files[0])
    assert (loaded.format_name, loaded.schema, loaded.metadata) == ("keras-legacy-h5", None, None)
