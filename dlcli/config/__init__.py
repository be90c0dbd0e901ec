"""Configuration: the schema with its constraints, its defaults, and resolution.

Resolution order, last wins: built-in defaults < ``dlcli.toml`` < ``DLCLI_<SECTION>_<KEY>``
environment variables < command-line flags (given as dotted overrides such as
``train.epochs=50``). Everything is validated once, here, and returned as frozen dataclasses.

The schema (defaults and constraints beside each field) is in :mod:`.schema`, resolution and
validation in :mod:`.resolve`; everything public is re-exported here.
"""

from dlcli.errors import ConfigError

from .resolve import (
    CONFIG_FILENAME,
    check,
    config_origins,
    load_config,
    parse_set_options,
    portable,
    rebased,
    to_toml,
    validate,
)
from .schema import (
    SECTIONS,
    Config,
    DataConfig,
    ModelConfig,
    OutputConfig,
    RemoteConfig,
    Setting,
    TrainConfig,
    all_keys,
    auto_patience,
    auto_refit,
    flag_for,
    parse_size,
    registered,
    setting,
    settings,
)

__all__ = [
    "CONFIG_FILENAME",
    "SECTIONS",
    "Config",
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "OutputConfig",
    "RemoteConfig",
    "Setting",
    "TrainConfig",
    "all_keys",
    "auto_patience",
    "auto_refit",
    "check",
    "config_origins",
    "flag_for",
    "load_config",
    "parse_set_options",
    "parse_size",
    "portable",
    "rebased",
    "registered",
    "setting",
    "settings",
    "to_toml",
    "validate",
]
