"""Each schedule against its formula; reduce_on_plateau state round trip."""

from __future__ import annotations

import math

import pytest

from dlcli.errors import ConfigError
from dlcli.nn import get_schedule


def test_constant():
    s = get_schedule("constant", lr=0.3)
    assert [s.lr(e, e * 10) for e in range(3)] == [0.3, 0.3, 0.3]


def test_step():
    s = get_schedule("step", lr=1.0, step_size=3, gamma=0.5)
    assert [s.lr(e) for e in range(7)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]


def test_exponential():
    s = get_schedule("exponential", lr=2.0, decay_rate=0.9)
    for e in range(5):
        assert s.lr(e) == pytest.approx(2.0 * 0.9**e)


def test_cosine_with_warmup():
    s = get_schedule("cosine", lr=1.0, epochs=12, warmup_epochs=2, min_lr=0.1)
    assert s.lr(0) == pytest.approx(0.5)
    assert s.lr(1) == pytest.approx(1.0)
    for e in range(2, 14):
        p = min(1.0, (e - 2) / 10)
        assert s.lr(e) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))
    assert s.lr(12) == pytest.approx(0.1)


def test_reduce_on_plateau_and_state_dict():
    s = get_schedule("reduce_on_plateau", lr=1.0, factor=0.5, patience=2, min_delta=0.0)
    for metric in [1.0, 0.9, 0.95, 0.95]:
        s.on_epoch_end(metric)
    assert s.lr(4) == 0.5
    state = s.state_dict()
    t = get_schedule("reduce_on_plateau", lr=1.0, factor=0.5, patience=2, min_delta=0.0)
    t.load_state_dict(state)
    for sched in (s, t):
        sched.on_epoch_end(0.99)
        sched.on_epoch_end(0.99)
    assert s.lr(6) == t.lr(6) == 0.25


def test_reduce_on_plateau_max_mode_and_min_lr():
    s = get_schedule("reduce_on_plateau", lr=1.0, factor=0.1, patience=1, mode="max", min_lr=0.05)
    for metric in [0.5, 0.4, 0.3, 0.2]:
        s.on_epoch_end(metric)
    assert s.lr(4) == 0.05


def test_unknown_schedule():
    with pytest.raises(ConfigError, match=r"Unknown schedule 'linear'. Expected one of: constant"):
        get_schedule("linear")
