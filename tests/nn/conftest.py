"""Helpers for the nn tests: central finite differences in float64."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar ``f()`` with respect to ``x`` (perturbed in place)."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def assert_close_grad(analytic: np.ndarray, numeric: np.ndarray, tol: float = 1e-6) -> None:
    """Relative error ``|a - n| / max(1, |a| + |n|)`` below ``tol`` everywhere."""
    err = np.abs(analytic - numeric) / np.maximum(1.0, np.abs(analytic) + np.abs(numeric))
    assert err.max() < tol, f"max relative error {err.max():.3g}"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
