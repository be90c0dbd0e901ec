"""One step of each optimizer against its closed form; state dicts; decay and clipping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlcli.errors import ConfigError
from dlcli.nn import OPTIMIZERS, clip_by_global_norm, get_optimizer, global_norm

LR = 0.1


def setup(rng: np.random.Generator):
    w = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    g = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    return w, g


def two_steps(name: str, rng: np.random.Generator, **hyper):
    """Apply two steps with the same gradient; return (w0, g, w1, w2)."""
    w, g = setup(rng)
    w0 = [a.copy() for a in w]
    opt = get_optimizer(name, **hyper)
    opt.step(w, [a.copy() for a in g], LR)
    w1 = [a.copy() for a in w]
    opt.step(w, [a.copy() for a in g], LR)
    return w0, g, w1, [a.copy() for a in w]


def test_sgd_is_exactly_w_minus_lr_g(rng):
    w0, g, w1, _ = two_steps("sgd", rng)
    for a0, ga, a1 in zip(w0, g, w1, strict=True):
        np.testing.assert_array_equal(a1, a0 - LR * ga)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum(nesterov, rng):
    mu = 0.9
    w0, g, w1, w2 = two_steps("nesterov" if nesterov else "momentum", rng, momentum=mu)
    for a0, ga, a1, a2 in zip(w0, g, w1, w2, strict=True):
        v1 = -LR * ga
        v2 = mu * v1 - LR * ga
        if nesterov:
            np.testing.assert_allclose(a1, a0 + mu * v1 - LR * ga, rtol=1e-12)
            np.testing.assert_allclose(a2, a1 + mu * v2 - LR * ga, rtol=1e-12)
        else:
            np.testing.assert_allclose(a1, a0 + v1, rtol=1e-12)
            np.testing.assert_allclose(a2, a1 + v2, rtol=1e-12)


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_adam_family(name, rng):
    b1, b2, eps, wd = 0.9, 0.999, 1e-7, 0.01
    w0, g, w1, w2 = two_steps(name, rng, weight_decay=wd)
    for a0, ga, a1, a2 in zip(w0, g, w1, w2, strict=True):
        m = v = 0.0
        a = a0.copy()
        for t in (1, 2):
            grad = ga if name == "adamw" else ga + wd * a
            if name == "adamw":
                a = a - LR * wd * a
            m = b1 * m + (1 - b1) * grad
            v = b2 * v + (1 - b2) * grad**2
            m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
            # Keras places epsilon outside the bias-corrected root: eps * sqrt(1 - b2^t).
            a = a - LR * m_hat / (np.sqrt(v_hat) + eps / math.sqrt(1 - b2**t))
            np.testing.assert_allclose(a, a1 if t == 1 else a2, rtol=1e-10, atol=1e-12)


def test_rmsprop(rng):
    rho, eps = 0.9, 1e-7
    w0, g, w1, _ = two_steps("rmsprop", rng, rho=rho)
    for a0, ga, a1 in zip(w0, g, w1, strict=True):
        v = (1 - rho) * ga**2
        np.testing.assert_allclose(a1, a0 - LR * ga / (np.sqrt(v) + eps), rtol=1e-12)


def test_sgd_l2_weight_decay(rng):
    w0, g, w1, _ = two_steps("sgd", rng, weight_decay=0.5)
    for a0, ga, a1 in zip(w0, g, w1, strict=True):
        np.testing.assert_allclose(a1, a0 - LR * (ga + 0.5 * a0), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_dict_resume_is_bit_exact(name, rng):
    w, _ = setup(rng)
    grads = [[rng.standard_normal(a.shape) for a in w] for _ in range(6)]
    straight = [a.copy() for a in w]
    opt = get_optimizer(name)
    for step in grads:
        opt.step(straight, [a.copy() for a in step], LR)

    resumed = [a.copy() for a in w]
    first = get_optimizer(name)
    for step in grads[:3]:
        first.step(resumed, [a.copy() for a in step], LR)
    state = first.state_dict()
    second = get_optimizer(name)
    second.load_state_dict(state)
    for step in grads[3:]:
        second.step(resumed, [a.copy() for a in step], LR)
    for a, b in zip(straight, resumed, strict=True):
        np.testing.assert_array_equal(a, b)


def test_flat_buffer_fast_path_matches_per_parameter(rng):
    flat = rng.standard_normal(8)
    views = [flat[:6].reshape(3, 2), flat[6:]]
    separate = [v.copy() for v in views]
    a, b = get_optimizer("adam"), get_optimizer("adam")
    for _ in range(3):
        gflat = rng.standard_normal(8)
        gviews = [gflat[:6].reshape(3, 2), gflat[6:]]
        b.step(separate, [x.copy() for x in gviews], LR)
        a.step(views, gviews, LR)
    assert a._layout is not None and a._layout[2] is not None  # the flat path ran
    for x, y in zip(views, separate, strict=True):
        np.testing.assert_array_equal(x, y)


def test_clip_by_global_norm(rng):
    g = [np.full((2, 2), 3.0), np.full(1, 4.0)]
    norm = clip_by_global_norm(g, 1.0)
    assert norm == pytest.approx(math.sqrt(4 * 9 + 16))
    assert global_norm(g) == pytest.approx(1.0)
    small = [np.array([0.1])]
    clip_by_global_norm(small, 1.0)
    assert small[0][0] == 0.1


def test_unknown_names_list_valid_ones():
    with pytest.raises(ConfigError, match=r"Unknown optimizer 'adamx'. Expected one of: sgd"):
        get_optimizer("adamx")
    with pytest.raises(ConfigError, match="Unknown hyper-parameter 'beta1'"):
        get_optimizer("adam", beta1=0.9)
