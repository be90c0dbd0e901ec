"""Configuration: the schema, its defaults, and resolution.

Resolution order, last wins: built-in defaults < ``dlcli.toml`` < ``DLCLI_<SECTION>_<KEY>``
environment variables < command-line flags (given as dotted overrides such as
``train.epochs=50``). Everything is validated once, here, and returned as frozen dataclasses.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from dlcli.errors import ConfigError

CONFIG_FILENAME = "dlcli.toml"

TASKS = ("auto", "binary", "multiclass", "regression")
ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "tanh", "sigmoid", "softplus", "silu", "linear")
LOSSES = ("auto", "mse", "mae", "huber", "binary_crossentropy", "categorical_crossentropy")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "step", "exponential", "cosine", "reduce_on_plateau")
MONITORS = ("val_loss", "loss", "val_accuracy", "val_f1_macro", "val_r2", "val_mae", "val_rmse")
DTYPES = ("float32", "float64")
CHECKSUM_MODES = ("when_required", "when_supported")


@dataclass(frozen=True)
class DataConfig:
    path: str = ""
    target: str = ""
    task: str = "auto"
    val_split: float = 0.2
    features: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    delimiter: str = ","


@dataclass(frozen=True)
class ModelConfig:
    hidden: list[int] = field(default_factory=lambda: [64, 32])
    activation: str = "relu"
    dropout: float = 0.3
    batch_norm: bool = False
    loss: str = "auto"
    dtype: str = "float32"


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 300
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "adamw"
    weight_decay: float = 0.3
    schedule: str = "constant"
    warmup_epochs: int = 0
    clip_norm: float = 0.0
    patience: int = 100
    min_delta: float = 0.0
    monitor: str = "val_loss"
    restore_best: bool = True
    refit: bool = True
    checkpoint_every: int = 10
    seed: int = 0


@dataclass(frozen=True)
class OutputConfig:
    out: str = ""
    name: str = ""


@dataclass(frozen=True)
class RemoteConfig:
    url: str = ""
    push_to: str = ""
    endpoint_url: str = ""
    profile: str = ""
    jobs: int = 8
    checksum: str = "when_required"
    cache_dir: str = ""


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    remote: RemoteConfig = field(default_factory=RemoteConfig)
    source: str = ""  # the config file it was read from, "" for none

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The resolved configuration as nested plain dicts (no ``source``)."""
        return {s: dataclasses.asdict(getattr(self, s)) for s in SECTIONS}


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "output": OutputConfig,
    "remote": RemoteConfig,
}

# Keys holding paths: relative values in a config file are resolved against its directory.
PATH_KEYS = ("data.path", "output.out")

CHOICES: dict[str, tuple[str, ...]] = {
    "data.task": TASKS,
    "model.activation": ACTIVATIONS,
    "model.loss": LOSSES,
    "model.dtype": DTYPES,
    "train.optimizer": OPTIMIZERS,
    "train.schedule": SCHEDULES,
    "train.monitor": MONITORS,
    "remote.checksum": CHECKSUM_MODES,
}

# (low, high, low inclusive, high inclusive); None means unbounded.
RANGES: dict[str, tuple[float | None, float | None, bool, bool]] = {
    "data.val_split": (0.0, 1.0, True, False),
    "model.dropout": (0.0, 1.0, True, False),
    "train.epochs": (1, None, True, True),
    "train.batch_size": (1, None, True, True),
    "train.lr": (0.0, None, False, True),
    "train.weight_decay": (0.0, None, True, True),
    "train.warmup_epochs": (0, None, True, True),
    "train.clip_norm": (0.0, None, True, True),
    "train.patience": (0, None, True, True),
    "train.min_delta": (0.0, None, True, True),
    "train.checkpoint_every": (0, None, True, True),
    "train.seed": (0, None, True, True),
    "remote.jobs": (1, 256, True, True),
}


def all_keys() -> list[str]:
    """Every valid dotted key, e.g. ``train.epochs``."""
    return [f"{s}.{f.name}" for s, cls in SECTIONS.items() for f in fields(cls)]


def load_config(
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Resolve the configuration: defaults < file < ``DLCLI_*`` env < ``overrides``.

    Parameters
    ----------
    path
        A ``dlcli.toml`` file. ``None`` uses ``./dlcli.toml`` when it exists.
    overrides
        Dotted keys to values (typed values, or strings as typed on a command line).
    environ
        The environment to read ``DLCLI_<SECTION>_<KEY>`` from (default ``os.environ``).
    """
    file_values, source = _read_file(path)
    layers = [file_values, _from_env(os.environ if environ is None else environ), _from_overrides(overrides or {})]
    merged: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    for layer in layers:
        for section, values in layer.items():
            merged[section].update(values)
    built = {s: SECTIONS[s](**_coerce_section(s, merged[s])) for s in SECTIONS}
    return Config(**built, source=source)


def _read_file(path: str | Path | None) -> tuple[dict[str, dict[str, Any]], str]:
    if path is None:
        default = Path(CONFIG_FILENAME)
        if not default.is_file():
            return {}, ""
        path = default
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_FILENAME
    if not path.is_file():
        raise ConfigError(
            f"Config file '{path}' not found.",
            hint="Create one with 'dlcli init', or pass the data with --data FILE --target COLUMN.",
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file '{path}' is not valid TOML: {exc}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"Config file '{path}' is not UTF-8 text.") from None
    values: dict[str, dict[str, Any]] = {}
    for section, table in raw.items():
        _check_section(section, where=str(path))
        if not isinstance(table, dict):
            raise ConfigError(f"'{section}' in {path} must be a table ([{section}]), got a {type(table).__name__}.")
        for key, value in table.items():
            _check_key(section, key, where=str(path))
            if f"{section}.{key}" in PATH_KEYS:
                value = _relative_to(path.parent, value)
            values.setdefault(section, {})[key] = value
    return values, str(path)


def _relative_to(base: Path, value: Any) -> Any:
    """Paths in a config file are relative to the file, not to the working directory."""
    if not isinstance(value, str) or not value or "://" in value or Path(value).is_absolute():
        return value
    return str(base / value) if str(base) not in ("", ".") else value


def _from_env(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = {}
    for name, value in environ.items():
        if not name.startswith("DLCLI_"):
            continue
        section, _, key = name[len("DLCLI_") :].lower().partition("_")
        if section not in SECTIONS or not key:
            continue  # DLCLI_DEBUG, DLCLI_CACHE_DIR and friends are not config keys
        _check_key(section, key, where=f"environment variable {name}")
        values.setdefault(section, {})[key] = value
    return values


def _from_overrides(overrides: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = {}
    for dotted, value in overrides.items():
        section, _, key = dotted.partition(".")
        _check_section(section, where=f"--set {dotted}")
        _check_key(section, key, where=f"--set {dotted}")
        values.setdefault(section, {})[key] = value
    return values


def parse_set_options(items: list[str]) -> dict[str, str]:
    """Turn ``["train.epochs=5", …]`` into ``{"train.epochs": "5", …}``."""
    parsed: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise ConfigError(
                f"--set expects section.key=value, got '{item}'.",
                hint="For example: --set train.epochs=50",
            )
        parsed[key.strip()] = value.strip()
    return parsed


def _check_section(section: str, where: str) -> None:
    if section not in SECTIONS:
        raise ConfigError(f"Unknown config section '{section}' in {where}.{_suggest(section, list(SECTIONS))}")


def _check_key(section: str, key: str, where: str) -> None:
    names = [f.name for f in fields(SECTIONS[section])]
    if key not in names:
        raise ConfigError(
            f"Unknown config key '{section}.{key}' in {where}.{_suggest(key, names, prefix=section + '.')}"
        )


def _suggest(word: str, candidates: list[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if close:
        return f" Did you mean '{prefix}{close[0]}'?"
    return " Expected one of: " + ", ".join(prefix + c for c in candidates) + "."


def _coerce_section(section: str, values: dict[str, Any]) -> dict[str, Any]:
    hints = get_type_hints(SECTIONS[section])
    return {
        key: _validate(f"{section}.{key}", _coerce(f"{section}.{key}", value, hints[key]))
        for key, value in values.items()
    }


def _coerce(key: str, value: Any, annotation: Any) -> Any:
    """Convert a TOML value or a string from the environment/flags to the field's type."""
    if get_origin(annotation) is list:
        (item_type,) = get_args(annotation)
        if isinstance(value, str):
            value = [v for v in (p.strip() for p in value.split(",")) if v]
        if not isinstance(value, list):
            raise ConfigError(f"{key} must be a list, got {value!r}.")
        return [_coerce(key, v, item_type) for v in value]
    try:
        if annotation is bool:
            return _to_bool(value)
        if annotation is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if annotation is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if annotation is str:
            if not isinstance(value, str):
                raise ValueError
            return value
    except (TypeError, ValueError):
        pass
    else:
        raise AssertionError(f"unsupported config type {annotation}")  # a schema bug, not user input
    kind = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[annotation]
    raise ConfigError(f"{key} must be {kind}, got {value!r}.")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
        return value.lower() in ("true", "1", "yes", "on")
    raise ValueError


def _validate(key: str, value: Any) -> Any:
    choices = CHOICES.get(key)
    if choices is not None and value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"{key} must be one of: {', '.join(choices)}; got '{value}'.{hint}")
    bounds = RANGES.get(key)
    if bounds is not None:
        _check_range(key, value, *bounds)
    if key == "model.hidden" and any(v < 1 for v in value):
        raise ConfigError(
            f"model.hidden must list positive layer widths, got {value}.", hint="For example: --hidden 64,32"
        )
    return value


def _check_range(key: str, value: float, low: float | None, high: float | None, low_inc: bool, high_inc: bool) -> None:
    ok_low = low is None or (value >= low if low_inc else value > low)
    ok_high = high is None or (value <= high if high_inc else value < high)
    if ok_low and ok_high:
        return
    parts = []
    if low is not None:
        parts.append(f"{'>=' if low_inc else '>'} {low:g}")
    if high is not None:
        parts.append(f"{'<=' if high_inc else '<'} {high:g}")
    raise ConfigError(f"{key} must be {' and '.join(parts)}, got {value:g}.")


def to_toml(config: Config) -> str:
    """Render a resolved configuration as TOML (used for ``--print-config`` and run dirs)."""
    lines: list[str] = []
    for section, values in config.to_dict().items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in values.items())
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
