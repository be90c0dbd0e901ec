"""Resolution: defaults < ``dlcli.toml`` < ``DLCLI_<SECTION>_<KEY>`` environment < flags.

Command-line flags arrive as dotted overrides such as ``train.epochs=50``. Everything is
validated once, here, against the constraints the schema declares, and returned as frozen
dataclasses.
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from dlcli import tomlwriter
from dlcli.errors import ConfigError
from dlcli.errors import setting as mention

from .schema import SECTIONS, Config, Setting, parse_size, settings

CONFIG_FILENAME = "dlcli.toml"
# The table of dlcli.toml that holds the search space of dlcli tune (see config.space).
SEARCH_SECTION = "tune"


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
    merged, origins, source = _layered(path, overrides, environ)
    # A value typed just now needs no pointer in a message: the user sees it.
    where = {key: "" if origin == COMMAND_LINE else origin for key, origin in origins.items()}
    schema = settings()
    built = {s: SECTIONS[s](**_coerce_section(s, merged[s], schema, where)) for s in SECTIONS}
    return Config(**built, source=source)


COMMAND_LINE = "the command line"


def config_origins(
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Where each key's value comes from (the config file, an environment variable, the
    command line, or the default), for ``--print-config --origin``; same arguments as
    :func:`load_config`."""
    found = _layered(path, overrides, environ)[1]
    return {key: found.get(key, "the default") for key in settings()}


def _layered(
    path: str | Path | None, overrides: Mapping[str, Any] | None, environ: Mapping[str, str] | None
) -> tuple[dict[str, dict[str, Any]], dict[str, str], str]:
    """The merged raw values by section, each dotted key's origin, and the file read."""
    file_values, source = _read_file(path)
    env = _from_env(os.environ if environ is None else environ)
    layers: list[tuple[dict[str, dict[str, Any]], Callable[[str], str]]] = [
        (file_values, lambda key: source),
        (env, lambda key: f"environment variable DLCLI_{key.replace('.', '_').upper()}"),
        (_from_overrides(overrides or {}), lambda key: COMMAND_LINE),
    ]
    merged: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    origins: dict[str, str] = {}
    for layer, where in layers:
        for section, values in layer.items():
            merged[section].update(values)
            origins.update({f"{section}.{key}": where(f"{section}.{key}") for key in values})
    return merged, origins, source


def _read_file(path: str | Path | None) -> tuple[dict[str, dict[str, Any]], str]:
    found = config_path(path)
    if found is None:
        return {}, ""
    path = found
    raw = read_toml(path)
    schema = settings()
    values: dict[str, dict[str, Any]] = {}
    for section, table in raw.items():
        if section == SEARCH_SECTION:
            continue  # the search space of dlcli tune (config.space), not settings
        _check_section(section, where=str(path), known=[*SECTIONS, SEARCH_SECTION])
        if not isinstance(table, dict):
            raise ConfigError(f"'{section}' in {path} must be a table ([{section}]), got a {type(table).__name__}.")
        for key, value in table.items():
            _check_key(section, key, where=str(path))
            if schema[f"{section}.{key}"].path:
                value = _relative_to(path.parent, value)
            values.setdefault(section, {})[key] = value
    return values, str(path)


def config_path(path: str | Path | None) -> Path | None:
    """The config file ``path`` names (``dlcli.toml`` in a directory); ``None``: none given
    and no ``./dlcli.toml``. A named file that does not exist is an error."""
    if path is None:
        default = Path(CONFIG_FILENAME)
        return default if default.is_file() else None
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_FILENAME
    if not path.is_file():
        raise ConfigError(
            f"Config file '{path}' not found.",
            hint=f"Create one with 'dlcli init', or pass the data with {mention('data.path', 'FILE')} "
            f"{mention('data.target', 'COLUMN')}.",
        )
    return path


def read_toml(path: Path) -> dict[str, Any]:
    """A config file's tables as TOML has them, or a :class:`ConfigError` saying why not."""
    try:
        # utf-8-sig: editors on Windows save a byte-order mark, which TOML readers must skip.
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file '{path}' is not valid TOML: {exc}.") from None
    except RecursionError:
        # tomllib parses nested arrays and inline tables recursively; no config nests deeply.
        raise ConfigError(
            f"Config file '{path}' nests arrays or tables too deeply to be a dlcli config.",
            hint="dlcli settings are flat: [section] tables of key = value.",
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"Config file '{path}' is not UTF-8 text.") from None


def rebased(overrides: Mapping[str, Any], base: str | Path) -> dict[str, Any]:
    """Dotted ``overrides`` with their relative local paths taken relative to ``base``
    (the inverse of :func:`portable`, for a stored config read from anywhere)."""
    schema = settings()
    return {k: _relative_to(Path(base), v) if schema[k].path else v for k, v in overrides.items()}


def _relative_to(base: Path, value: Any) -> Any:
    """Paths in a config file are relative to the file, not to the working directory."""
    if not isinstance(value, str) or value in ("", "-") or "://" in value or Path(value).is_absolute():
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


def _check_section(section: str, where: str, known: list[str] | None = None) -> None:
    if section not in SECTIONS:
        raise ConfigError(f"Unknown config section '{section}' in {where}.{_suggest(section, known or list(SECTIONS))}")


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


def _coerce_section(
    section: str, values: dict[str, Any], schema: dict[str, Setting], origins: Mapping[str, str]
) -> dict[str, Any]:
    hints = get_type_hints(SECTIONS[section])
    coerced = {}
    for key, value in values.items():
        dotted = f"{section}.{key}"
        try:
            coerced[key] = _typed(schema[dotted], hints[key], value)
        except ConfigError as exc:
            # Say where the bad value was set: a stale DLCLI_* variable is easy to forget.
            where = origins.get(dotted)
            if not where:
                raise
            raise ConfigError(f"{where}: {exc.raw_message}", hint=exc.raw_hint) from None
    return coerced


def coerce_value(key: str, value: Any) -> Any:
    """``value`` (a TOML value or a string as typed) as the type of ``key``, validated:
    what a config file or flag setting ``key`` to ``value`` would resolve to."""
    section, _, name = key.partition(".")
    return _typed(settings()[key], get_type_hints(SECTIONS[section])[name], value)


def _typed(spec: Setting, annotation: Any, value: Any) -> Any:
    if spec.auto:  # int | str or bool | str: the word "auto", else the concrete type
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        annotation = next(t for t in get_args(annotation) if t is not str)
    return validate(spec, _coerce(spec.key, value, annotation))


def _coerce(key: str, value: Any, annotation: Any) -> Any:
    """Convert a TOML value or a string from the environment/flags to the field's type."""
    if get_origin(annotation) is list:
        (item_type,) = get_args(annotation)
        if isinstance(value, str):
            value = _split_list(key, value)
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
            number = float(value)
            if not math.isfinite(number):
                raise ConfigError(f"{key} must be a finite number, got {value!r}.", hint=_example(key))
            return number
        if annotation is str:
            if not isinstance(value, str):
                raise ValueError
            return value
    except (TypeError, ValueError):
        pass
    else:
        raise TypeError(f"unsupported config type {annotation}")  # a schema bug, not user input
    kind = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[annotation]
    either = " or auto" if settings()[key].auto else ""
    raise ConfigError(f"{key} must be {kind}{either}, got {value!r}.")


def _split_list(key: str, text: str) -> list[str]:
    """``"64,32"`` → ``["64", "32"]``; ``""`` is the empty list, and an empty item is a typo."""
    if not text.strip():
        return []
    items = [item.strip() for item in text.split(",")]
    if "" in items:
        raise ConfigError(f"{key} has an empty item in '{text}'.", hint=_example(key))
    return items


def _example(key: str) -> str:
    default = settings()[key].default
    text = ",".join(map(str, default)) or "a,b" if isinstance(default, list) else str(default)
    return f"For example: {mention(key, text)}"


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
    if spec.unique and len(set(value)) < len(value):
        repeated = sorted({v for v in value if value.count(v) > 1})
        raise ConfigError(
            f"{spec.key} lists {', '.join(map(repr, repeated))} more than once.", hint="Name each column once."
        )
    if spec.single_char and (len(value) != 1 or value in "\r\n\"'"):
        raise ConfigError(
            f"{mention(spec.key)} must be one character other than a line break or a quote, got {value!r}.",
            hint=f'For example: {mention(spec.key, ";")}, or a tab written "\\t" in dlcli.toml',
        )
    if spec.size:
        try:
            parse_size(value)
        except ValueError:
            raise ConfigError(
                f"{mention(spec.key)} must be a size such as 2GiB, 500MB or auto; got '{value}'.",
                hint=f"For example: {mention(spec.key, '2GiB')}",
            ) from None
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


def to_toml(config: Config, relative_to: str | Path | None = None, origins: Mapping[str, str] | None = None) -> str:
    """Render a resolved configuration as TOML (used for ``--print-config`` and run dirs);
    with ``origins`` (:func:`config_origins`), a ``# from …`` comment above each key."""
    tables = portable(config, relative_to) if relative_to is not None else shown(config)
    comments = {key: f"from {where}" for key, where in (origins or {}).items()}
    return tomlwriter.dumps(tables, comments)


def shown(config: Config) -> dict[str, dict[str, Any]]:
    """``config`` as nested dicts safe to print or save: a password in a URL is ``***``."""
    from dlcli.remote.settings import redact_url

    tables = config.to_dict()
    tables["remote"] = {k: redact_url(v) if isinstance(v, str) else v for k, v in tables["remote"].items()}
    return tables


def portable(config: Config, base: str | Path) -> dict[str, dict[str, Any]]:
    """``config`` as nested dicts, its local paths relative to the directory ``base``.

    Stored that way (a run directory's config.toml, a checkpoint's config), a path means
    the same file from any working directory, and after the project is moved as a whole.
    """
    tables = shown(config)
    for key, spec in settings().items():
        section, _, name = key.partition(".")
        value = tables[section][name]
        if spec.path and isinstance(value, str) and value not in ("", "-") and "://" not in value:
            tables[section][name] = os.path.relpath(Path(value).absolute(), Path(base).absolute())
    return tables
