"""The search space of ``dlcli tune``: the ``[tune]`` table of ``dlcli.toml``.

Each entry is a dotted config key with a distribution or a list of choices, next to what it
tunes::

    [tune]
    train.lr = "loguniform(1e-4, 3e-2)"
    model.hidden = ["64,32", "128,64"]
    train.batch_size = [32, 64, 128]

The schema decides what is valid: a key must exist, a range must suit the key's type
(``uniform``/``loguniform`` for numbers, ``int``/``logint`` for integers) and both bounds, like
every choice, must be values the key accepts. Nothing here samples; ``workflows.tuning`` maps
each :class:`Dimension` to the sampler's suggestion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_type_hints

from dlcli.errors import ConfigError

from .resolve import SEARCH_SECTION, _suggest, coerce_value, config_path, read_toml
from .schema import SECTIONS, settings

# name → (the key type it suits, sampled on a log scale)
DISTRIBUTIONS: dict[str, tuple[type, bool]] = {
    "uniform": (float, False),
    "loguniform": (float, True),
    "int": (int, False),
    "logint": (int, True),
}
# What a search cannot change: where the data and the results are, and how they move.
FIXED_SECTIONS = ("output", "remote")
FIXED_KEYS = ("data.path", "data.target")
EXAMPLE = 'train.lr = "loguniform(1e-4, 3e-2)"'
_CALL = re.compile(r"\s*([a-z_]+)\s*\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*\)\s*")


@dataclass(frozen=True)
class Dimension:
    """One tuned key: a range (``low``..``high``, of ``kind`` float or int) or ``choices``."""

    key: str
    kind: str  # "float", "int" or "choice"
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    # Values as a flag would give them: a list key's choice is its items joined by commas.
    choices: tuple[Any, ...] = ()

    def describe(self) -> str:
        if self.kind == "choice":
            return "[" + ", ".join(f'"{c}"' if isinstance(c, str) else str(c) for c in self.choices) + "]"
        name = next(n for n, (t, log) in DISTRIBUTIONS.items() if t.__name__ == self.kind and log == self.log)
        return f"{name}({self.low:g}, {self.high:g})"


def load_space(path: str | Path | None) -> list[Dimension]:
    """The ``[tune]`` table of the config file at ``path`` (see :func:`.resolve.config_path`),
    validated; ``[]`` when there is none."""
    found = config_path(path)
    if found is None:
        return []
    table = read_toml(found).get(SEARCH_SECTION, {})
    where = f"[{SEARCH_SECTION}] of {found}"
    if not isinstance(table, dict):
        raise ConfigError(f"'{SEARCH_SECTION}' in {found} must be a table ([{SEARCH_SECTION}]).")
    return parse_space(_flatten(table, where), where)


def _flatten(table: dict[str, Any], where: str) -> dict[str, Any]:
    """``{"train": {"lr": …}}`` (what TOML makes of ``train.lr = …``) → ``{"train.lr": …}``."""
    flat = {}
    for section, keys in table.items():
        if not isinstance(keys, dict):
            raise ConfigError(
                f"'{section}' in {where} is not a config key: name each one with its section.",
                hint=f"For example: {EXAMPLE}",
            )
        flat.update({f"{section}.{key}": value for key, value in keys.items()})
    return flat


def parse_space(entries: dict[str, Any], where: str = f"[{SEARCH_SECTION}]") -> list[Dimension]:
    """Validate dotted ``entries`` (key → distribution text or list of choices)."""
    return [_dimension(key, value, where) for key, value in entries.items()]


def _dimension(key: str, value: Any, where: str) -> Dimension:
    _check_tunable(key, where)
    try:
        if isinstance(value, list):
            return _choices(key, value)
        if isinstance(value, str):
            return _range(key, value)
    except ConfigError as exc:
        raise ConfigError(f"{key} in {where}: {exc.raw_message}", hint=exc.raw_hint) from None
    raise ConfigError(
        f'{key} in {where} must be a distribution such as "loguniform(1e-4, 3e-2)" or a list of choices, '
        f"got {value!r}.",
        hint=f"Distributions: {', '.join(DISTRIBUTIONS)}; for example: {EXAMPLE}",
    )


def _check_tunable(key: str, where: str) -> None:
    section, _, name = key.partition(".")
    if section not in SECTIONS:
        raise ConfigError(f"Unknown config section '{section}' in {where}.{_suggest(section, list(SECTIONS))}")
    if key not in settings():
        names = [k.partition(".")[2] for k in settings() if k.startswith(section + ".")]
        raise ConfigError(f"Unknown config key '{key}' in {where}.{_suggest(name, names, prefix=section + '.')}")
    if section in FIXED_SECTIONS or key in FIXED_KEYS:
        raise ConfigError(
            f"{key} in {where} cannot be tuned: a search changes how a model is built and trained, not where "
            "the data and the results are.",
            hint=f"Set it in [{section}] instead.",
        )


def _choices(key: str, values: list[Any]) -> Dimension:
    if not values:
        raise ConfigError("the list of choices is empty.", hint="List two or more values, or leave the key out.")
    coerced = [coerce_value(key, v) for v in values]
    shown = [",".join(map(str, c)) if isinstance(c, list) else c for c in coerced]
    repeated = sorted({str(s) for s in shown if shown.count(s) > 1})
    if repeated:
        raise ConfigError(f"the choices list {', '.join(repeated)} more than once.", hint="Name each choice once.")
    return Dimension(key, "choice", choices=tuple(shown))


def _range(key: str, text: str) -> Dimension:
    match = _CALL.fullmatch(text)
    if not match or match.group(1) not in DISTRIBUTIONS:
        raise ConfigError(
            f"'{text}' is not a distribution.", hint=f"Use one of {', '.join(DISTRIBUTIONS)}, e.g. {EXAMPLE}"
        )
    name, low_text, high_text = match.groups()
    wanted, log = DISTRIBUTIONS[name]
    section, _, field_name = key.partition(".")
    annotation = get_type_hints(SECTIONS[section])[field_name]
    types = set(get_args(annotation)) or {annotation}
    if wanted not in types:
        fitting = [n for n, (t, _) in DISTRIBUTIONS.items() if t in types]
        hint = f"Use {' or '.join(fitting)}." if fitting else "List the choices instead, e.g. [a, b]."
        raise ConfigError(f"{name}() draws {wanted.__name__}s, but {key} is not one.", hint=hint)
    try:
        low, high = wanted(float(low_text)), wanted(float(high_text))
    except ValueError:
        raise ConfigError(f"the bounds of '{text}' must be numbers.", hint=f"For example: {EXAMPLE}") from None
    if not low < high:
        raise ConfigError(f"the lower bound of '{text}' must be below the upper one.")
    if log and low <= 0:
        raise ConfigError(
            f"{name}() needs a lower bound above 0, got {low:g}.", hint="Use uniform() for a range from 0."
        )
    for bound in (low, high):
        coerce_value(key, bound)  # both ends must be values the key accepts
    return Dimension(key, wanted.__name__, low=low, high=high, log=log)
