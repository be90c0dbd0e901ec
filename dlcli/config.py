"""Configuration: the schema with its constraints, its defaults, and resolution.

Resolution order, last wins: built-in defaults < ``dlcli.toml`` < ``DLCLI_<SECTION>_<KEY>``
environment variables < command-line flags (given as dotted overrides such as
``train.epochs=50``). Everything is validated once, here, and returned as frozen dataclasses.

Each field is declared with :func:`setting`: its default, what it means, its flag, and its
constraints (choices, a range) side by side. Choices that name registered things (optimizers,
activations, tasks, ...) are read from the registries in :mod:`dlcli.nn`, so the schema, the
``init`` template and docs/configuration.md never restate them.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from dlcli import tomlwriter
from dlcli.errors import ConfigError
from dlcli.errors import setting as mention

CONFIG_FILENAME = "dlcli.toml"


# --- constraints ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """What the schema knows about one key (the field's metadata, plus its name)."""

    key: str
    default: Any
    help: str
    flag: str | None = None
    choices: Callable[[], tuple[str, ...]] | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    item_low: int | None = None
    path: bool = False

    def valid_choices(self) -> tuple[str, ...] | None:
        return None if self.choices is None else self.choices()

    def range_text(self) -> str | None:
        """``">= 0 and < 1"`` style bounds, or ``None`` when unbounded."""
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return " and ".join(parts) or None


def setting(default: Any, help: str, **constraints: Any) -> Any:
    """A config field: ``default``, its ``help`` text, and :class:`Setting` constraints."""
    metadata = {"help": help, **constraints}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def registered(kind: str, *first: str, where: Callable[[Any], bool] | None = None) -> Callable[[], tuple[str, ...]]:
    """Choices read from the ``dlcli.nn`` registry of ``kind`` (imported when first needed)."""

    def names() -> tuple[str, ...]:
        from dlcli.nn import REGISTRIES

        registry = REGISTRIES[kind]
        return (*first, *(name for name in registry.names() if where is None or where(registry[name])))

    return names


def _tasks() -> tuple[str, ...]:
    from dlcli.nn.tasks import TASKS

    return ("auto", *TASKS)


def _monitors() -> tuple[str, ...]:
    from dlcli.nn.tasks import monitors

    return monitors()


def _dtypes() -> tuple[str, ...]:
    from dlcli.nn.model import DTYPES

    return DTYPES


def _checksum_modes() -> tuple[str, ...]:
    from dlcli.remote.settings import CHECKSUM_MODES

    return CHECKSUM_MODES


# --- the schema ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataConfig:
    path: str = setting(
        "", "training data: CSV with a header, NPZ (X, y), HDF5 (/X, /y), or an s3:// URL", flag="--data", path=True
    )
    target: str = setting("", "the column to predict (CSV)", flag="--target")
    task: str = setting(
        "auto",
        "the kind of problem; auto: string targets and integer targets with at most 20 values are classes, "
        "else regression",
        choices=_tasks,
    )
    val_split: float = setting(
        0.2,
        "fraction held out for validation (shuffled with the seed, stratified for classes); 0 trains without one",
        flag="--val-split",
        low=0.0,
        high=1.0,
        high_open=True,
    )
    features: list[str] = setting([], "feature columns to use (default: every column but the target and ignore)")
    ignore: list[str] = setting([], "columns to drop, e.g. identifiers")
    delimiter: str = setting(",", "CSV field delimiter")


@dataclass(frozen=True)
class ModelConfig:
    hidden: list[int] = setting(
        [64, 32], "hidden layer widths; [] gives a linear or logistic model", flag="--hidden", item_low=1
    )
    activation: str = setting(
        "relu",
        "activation of the hidden layers",
        flag="--activation",
        choices=registered("activation", where=lambda a: a.elementwise),
    )
    dropout: float = setting(
        0.3, "dropout rate after each hidden layer", flag="--dropout", low=0.0, high=1.0, high_open=True
    )
    batch_norm: bool = setting(False, "batch normalisation before each hidden activation")
    loss: str = setting(
        "auto", "the loss; auto picks the task's; mse is L = 1/(2n) Σ (y − y*)²", choices=registered("loss", "auto")
    )
    dtype: str = setting("float32", "dtype of weights and computation", choices=_dtypes)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = setting(300, "maximum number of epochs (early stopping usually ends sooner)", flag="--epochs", low=1)
    batch_size: int = setting(32, "mini-batch size; batches are reshuffled every epoch", flag="--batch-size", low=1)
    lr: float = setting(1e-3, "learning rate", flag="--lr", low=0.0, low_open=True)
    optimizer: str = setting("adamw", "the update rule", flag="--optimizer", choices=registered("optimizer"))
    weight_decay: float = setting(0.3, "L2 weight decay (decoupled for adamw: w -= lr * weight_decay * w)", low=0.0)
    schedule: str = setting("constant", "learning-rate schedule (cosine has a warm-up)", choices=registered("schedule"))
    warmup_epochs: int = setting(0, "linear warm-up epochs for the cosine schedule", low=0)
    clip_norm: float = setting(0.0, "clip gradients to this global norm (0: off)", low=0.0)
    patience: int = setting(
        100,
        "early stopping after this many epochs without improvement (0: off); generous because on small data the "
        "validation loss is noisy, and restore_best makes the extra epochs cost only time",
        flag="--patience",
        low=0,
    )
    min_delta: float = setting(0.0, "smallest change that counts as an improvement", low=0.0)
    monitor: str = setting("val_loss", "the value early stopping watches", choices=_monitors)
    restore_best: bool = setting(True, "keep the weights of the best epoch, not the last")
    refit: bool = setting(
        True,
        "after early stopping picks the best epoch count E, retrain from the same initialisation on all rows for E "
        "epochs and save that model; the reported metrics stay those of the selection run on rows it never saw",
    )
    checkpoint_every: int = setting(10, "write checkpoints/epoch-NNNN.h5 every N epochs (0: off)", low=0)
    seed: int = setting(0, "one seed for the split, the initialisation and the shuffling", flag="--seed", low=0)


@dataclass(frozen=True)
class OutputConfig:
    out: str = setting(
        "",
        "run directory; empty: runs/<name>-<n> beside the config (or in the working directory), never overwriting",
        flag="--out",
        path=True,
    )
    name: str = setting("", "run name (default: the config file's or the data file's stem)")


@dataclass(frozen=True)
class RemoteConfig:
    url: str = setting("", "default remote for push and pull: s3://bucket/prefix or a directory")
    push_to: str = setting("", "upload checkpoints while training, then the run directory", flag="--push-to")
    endpoint_url: str = setting(
        "", "S3-compatible endpoint (else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS)", flag="--endpoint-url"
    )
    profile: str = setting("", "AWS profile", flag="--profile")
    jobs: int = setting(8, "parallel transfers", flag="--jobs", low=1, high=256)
    checksum: str = setting(
        "when_required",
        "boto3 request/response checksums: when_required works with most S3-compatible stores",
        flag="--checksum",
        choices=_checksum_modes,
    )
    cache_dir: str = setting("", "cache for s3:// data and models (default ~/.cache/dlcli, or DLCLI_CACHE_DIR)")


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


def settings() -> dict[str, Setting]:
    """Every key's :class:`Setting`, in schema order: what docs and the init template print."""
    found = {}
    for section, cls in SECTIONS.items():
        defaults = cls()
        for f in fields(cls):
            key = f"{section}.{f.name}"
            found[key] = Setting(key=key, default=getattr(defaults, f.name), **f.metadata)
    return found


def all_keys() -> list[str]:
    """Every valid dotted key, e.g. ``train.epochs``."""
    return list(settings())


def flag_for(key: str) -> str | None:
    """The common flag of a config key (``--data`` for ``data.path``), if it has one."""
    found = settings().get(key)
    return found.flag if found else None


# --- resolution ----------------------------------------------------------------------------


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
    env = _from_env(os.environ if environ is None else environ)
    layers = [file_values, env, _from_overrides(overrides or {})]
    merged: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    for layer in layers:
        for section, values in layer.items():
            merged[section].update(values)
    schema = settings()
    built = {s: SECTIONS[s](**_coerce_section(s, merged[s], schema)) for s in SECTIONS}
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
            hint=f"Create one with 'dlcli init', or pass the data with {mention('data.path', 'FILE')} "
            f"{mention('data.target', 'COLUMN')}.",
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file '{path}' is not valid TOML: {exc}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"Config file '{path}' is not UTF-8 text.") from None
    schema = settings()
    values: dict[str, dict[str, Any]] = {}
    for section, table in raw.items():
        _check_section(section, where=str(path))
        if not isinstance(table, dict):
            raise ConfigError(f"'{section}' in {path} must be a table ([{section}]), got a {type(table).__name__}.")
        for key, value in table.items():
            _check_key(section, key, where=str(path))
            if schema[f"{section}.{key}"].path:
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


def _coerce_section(section: str, values: dict[str, Any], schema: dict[str, Setting]) -> dict[str, Any]:
    hints = get_type_hints(SECTIONS[section])
    coerced = {}
    for key, value in values.items():
        dotted = f"{section}.{key}"
        coerced[key] = validate(schema[dotted], _coerce(dotted, value, hints[key]))
    return coerced


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
        raise TypeError(f"unsupported config type {annotation}")  # a schema bug, not user input
    kind = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[annotation]
    raise ConfigError(f"{key} must be {kind}, got {value!r}.")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
        return value.lower() in ("true", "1", "yes", "on")
    raise ValueError


def validate(spec: Setting, value: Any) -> Any:
    """``value`` if it meets the constraints declared for ``spec.key``, else :class:`ConfigError`."""
    choices = spec.valid_choices()
    if choices is not None and value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"{spec.key} must be one of: {', '.join(choices)}; got '{value}'.{hint}")
    if spec.item_low is not None and any(v < spec.item_low for v in value):
        raise ConfigError(
            f"{spec.key} must list positive layer widths, got {value}.",
            hint=f"For example: {mention(spec.key, '64,32')}",
        )
    bounds = spec.range_text()
    if bounds is not None and not _in_range(spec, value):
        raise ConfigError(f"{spec.key} must be {bounds}, got {value:g}.")
    return value


def check(key: str, value: Any) -> Any:
    """``value`` if it is valid for ``key`` (for options that bypass the config layers)."""
    return validate(settings()[key], value)


def _in_range(spec: Setting, value: float) -> bool:
    if spec.low is not None and (value <= spec.low if spec.low_open else value < spec.low):
        return False
    return spec.high is None or (value < spec.high if spec.high_open else value <= spec.high)


def to_toml(config: Config) -> str:
    """Render a resolved configuration as TOML (used for ``--print-config`` and run dirs)."""
    return tomlwriter.dumps(config.to_dict())
