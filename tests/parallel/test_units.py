"""The logic of data-parallel training that needs no ranks: detection, shares, merges, refusals."""

from __future__ import annotations

import numpy as np
import pytest

from dlcli.errors import ConfigError
from dlcli.nn import BatchNormalization, Dense, Sequential, get_optimizer, get_schedule
from dlcli.nn.metrics import RegressionStream
from dlcli.nn.model import STATUS_SLOTS
from dlcli.parallel.launch import without_option
from dlcli.parallel.world import Solo, launched_size
from dlcli.train import Trainer
from dlcli.train.distributed import global_rows


@pytest.mark.parametrize(
    ("env", "size"),
    [
        ({}, 1),
        ({"PMI_SIZE": "4"}, 4),
        ({"OMPI_COMM_WORLD_SIZE": "3"}, 3),
        ({"SLURM_NTASKS": "8"}, 1),  # a batch script's own shell is not a rank of 8
        ({"SLURM_STEP_NUM_TASKS": "8", "PMI_FD": "5"}, 8),
    ],
)
def test_the_launcher_environment_says_how_many_ranks(env: dict[str, str], size: int) -> None:
    assert launched_size(env) == size


def test_workers_is_removed_from_the_ranks_command_line() -> None:
    argv = ["train", "--workers", "2", "--epochs", "3", "--workers=4", "x.toml"]
    assert without_option(argv, "--workers") == ["train", "--epochs", "3", "x.toml"]


def model(dtype: str = "float64") -> Sequential:
    layers = [Dense(6, activation="tanh"), BatchNormalization(), Dense(2, activation="softmax")]
    return Sequential(layers, input_dim=3, loss="sparse_categorical_crossentropy", dtype=dtype).build(
        np.random.default_rng(0)
    )


def test_a_share_scales_the_gradients_without_a_pass_over_them() -> None:
    X, y = np.random.default_rng(1).normal(size=(10, 3)), np.arange(10) % 2
    m = model()
    m.compute_loss_and_gradients(X, y)
    whole = m.gradient_buffer().copy()
    m.compute_loss_and_gradients(X, y, share=0.25)
    np.testing.assert_allclose(m.gradient_buffer(), 0.25 * whole, rtol=1e-12)


def test_an_empty_part_gives_zero_gradients_and_zero_loss() -> None:
    m = model()
    m.layers[1].sync = Solo()  # empty parts happen only with a group, whose BN statistics are global
    m.gradient_buffer()[:] = 1.0
    with np.errstate(invalid="ignore"):  # alone, the "global" batch has 0 rows: 0/0 statistics
        assert m.compute_loss_and_gradients(np.empty((0, 3)), None) == 0.0
    assert not m.gradient_buffer()[:-STATUS_SLOTS].any()


def test_the_last_global_batch_holds_the_remainder() -> None:
    assert [global_rows(70, 32, b) for b in range(3)] == [32, 32, 6]


def test_merged_regression_streams_equal_one_pass() -> None:
    rng = np.random.default_rng(2)
    t, p = rng.normal(size=(101, 2)), rng.normal(size=(101, 2))
    one = RegressionStream()
    one.update(t, p)
    a, b = RegressionStream(), RegressionStream()
    a.update(t[:40], p[:40])
    b.update(t[40:], p[40:])
    a.merge(b)
    assert a.result() == pytest.approx(one.result(), rel=1e-12)


class Pair(Solo):
    size = 2


def test_a_checkpoint_resumes_only_with_its_number_of_ranks() -> None:
    def trainer(group: object) -> Trainer:
        return Trainer(
            model(),
            get_optimizer("adam"),
            get_schedule("constant", lr=0.01),
            epochs=2,
            batch_size=4,
            rng=np.random.default_rng(3),
            task="multiclass",
            group=group,  # type: ignore[arg-type]
        )

    state = trainer(None).state_dict()
    assert state["world"] == 1
    with pytest.raises(ConfigError, match="one process; this run has 2 MPI ranks"):
        trainer(Pair()).load_state_dict(state)
    two = trainer(Pair()).state_dict()
    with pytest.raises(ConfigError, match="2 MPI ranks; this run has one process") as refused:
        trainer(None).load_state_dict(two)
    assert "mpiexec -n 2 dlcli train --resume" in str(refused.value.hint)
