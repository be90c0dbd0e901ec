"""The one registry helper: names, lookups, validated constructor arguments, one message."""

from __future__ import annotations

import pytest

from dlcli.errors import ConfigError
from dlcli.nn import ACTIVATIONS, LAYERS, LOSSES, OPTIMIZERS, REGISTRIES, SCHEDULES, Registry
from dlcli.nn.optimizers import Optimizer


def test_every_kind_is_in_one_table() -> None:
    assert set(REGISTRIES) == {
        "activation",
        "initializer",
        "integration method",
        "kernel set",
        "layer",
        "loss",
        "optimizer",
        "schedule",
    }
    assert OPTIMIZERS.names() == ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop")
    assert "Dense" in LAYERS and LOSSES.canonical("mean_squared_error") == "mse"


@pytest.mark.parametrize(
    ("registry", "name"), [(OPTIMIZERS, "adamx"), (SCHEDULES, "linear"), (ACTIVATIONS, "relux"), (LOSSES, "l2")]
)
def test_unknown_names_list_the_valid_ones(registry: Registry, name: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as info:
        registry.get(name)
    assert info.value.message == f"Unknown {registry.kind} '{name}'. Expected one of: {', '.join(registry.names())}."


def test_arguments_are_checked_against_the_signature() -> None:
    assert OPTIMIZERS.arguments("adam") == ("beta_1", "beta_2", "epsilon", "weight_decay")
    message = r"Unknown hyper-parameter 'beta1' for optimizer 'adam'\. Expected one of: beta_1"
    with pytest.raises(ConfigError, match=message):
        OPTIMIZERS.get("adam", beta1=0.9)
    with pytest.raises(ConfigError, match="takes no arguments"):
        ACTIVATIONS.get("relu", alpha=1)


def test_a_new_entry_is_one_decorated_class() -> None:
    registry: Registry[type[Optimizer]] = Registry("optimizer")

    @registry.register()
    class Frozen(Optimizer):
        name = "frozen"

    assert registry.names() == ("frozen",) and isinstance(registry.get("frozen"), Frozen)
    with pytest.raises(ValueError, match="registered twice"):
        registry.add("frozen", Frozen)
