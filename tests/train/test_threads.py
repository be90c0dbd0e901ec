"""BLAS threads chosen by the work: one for small or skinny products, all allowed otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from dlcli.nn import Dense, Sequential
from dlcli.train import threads
from dlcli.train.evaluation import EVAL_ROWS

from .conftest import make_trainer, sources


def blas_threads_now() -> int:
    return max(info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas")


def net(*sizes: int) -> Sequential:
    layers = [Dense(n, "relu") for n in sizes[1:-1]] + [Dense(sizes[-1], "softmax")]
    return Sequential(layers, sizes[0], loss="categorical_crossentropy").build(np.random.default_rng(0))


def test_small_or_skinny_products_get_one_thread_and_large_ones_all() -> None:
    tabular, mlp = net(30, 64, 32, 3), net(784, 256, 128, 10)
    assert threads.threads_for(tabular, 1024, 2) == 1  # 2k-value weights: 1 thread at any batch size
    assert threads.threads_for(tabular, EVAL_ROWS, 2) == 1
    assert threads.threads_for(mlp, 128, 2) == 2
    assert threads.threads_for(mlp, 4, 2) == 1  # under a million multiply-adds in the pass
    assert threads.threads_for(mlp, 128, 1) == 1  # never more than allowed


def test_the_limit_applies_inside_the_block_and_is_undone_after() -> None:
    blas = threads.BlasThreads()
    if blas.allowed < 2:
        pytest.skip("one BLAS thread here: nothing to choose")
    with blas.limited(1):
        assert blas_threads_now() == 1
    assert blas_threads_now() == blas.allowed


def test_a_limit_the_user_set_is_never_raised() -> None:
    with threadpool_limits(1, user_api="blas"):
        blas = threads.BlasThreads()
        assert blas.allowed == 1
        with blas.limited(2):
            assert blas_threads_now() == 1


@pytest.mark.parametrize(("model", "rows", "expected"), [("tabular", 16, 1), ("mlp", 128, "allowed")])
def test_the_trainer_steps_with_the_chosen_count(model: str, rows: int, expected: object) -> None:
    allowed = threads.BlasThreads().allowed
    if allowed < 2:
        pytest.skip("one BLAS thread here: nothing to choose")
    m = net(2, 16, 3) if model == "tabular" else net(2, 4096, 64, 3)
    seen: list[int] = []
    trainer = make_trainer(
        m, seed=0, epochs=1, schedule="constant", grad_hook=lambda grads: seen.append(blas_threads_now())
    )
    trainer.batch_size = rows
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((rows * 2, 2)), rng.integers(0, 3, rows * 2)
    list(trainer.fit(*sources(X, y, X, y)))
    assert set(seen) == {1 if expected == 1 else allowed}
    assert blas_threads_now() == allowed  # restored after the fit
