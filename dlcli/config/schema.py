"""The config schema: each key's default, meaning, flag and constraints, side by side.

Each field is declared with :func:`setting`; :func:`settings` lists them all as
:class:`Setting` records, which validation (:mod:`.resolve`), docs/configuration.md and the
``init`` template read. Choices that name registered things (optimizers, activations, tasks,
...) come from the registries in :mod:`dlcli.nn` when first needed, so nothing here restates
them and importing the schema does not import NumPy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

# --- "auto": settings chosen from the data ---------------------------------------------------

# Patience in samples seen, not epochs: 100 epochs without improvement is cheap insurance on
# 500 rows (the validation loss is noisy) and hours wasted on 500,000 (a default run on 200k
# rows trained 228 epochs, then refit 128, for +0.001 accuracy over its third epoch).
PATIENCE_SAMPLES = 500_000
PATIENCE_EPOCHS = (10, 100)  # the smallest and largest automatic patience
REFIT_MAX_ROWS = 20_000  # above, the 20 % validation rows add little and the refit doubles the time


def auto_patience(patience: int | str, train_rows: int) -> int:
    """``train.patience`` in epochs for ``train_rows`` training rows."""
    if patience != "auto":
        return int(patience)
    low, high = PATIENCE_EPOCHS
    return max(low, min(high, -(-PATIENCE_SAMPLES // max(1, train_rows))))


def auto_refit(refit: bool | str, rows: int) -> bool:
    """``train.refit`` for a data set of ``rows`` rows (training and validation)."""
    return rows <= REFIT_MAX_ROWS if refit == "auto" else bool(refit)


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
    unique: bool = False  # a list whose items must not repeat
    single_char: bool = False  # one character, not a line break or a quote (CSV delimiters)
    path: bool = False
    size: bool = False  # a byte size such as "2GiB", "512MB" or "auto"
    auto: bool = False  # "auto" is accepted besides the field's type: chosen from the data (see auto_rules)

    def valid_choices(self) -> tuple[str, ...] | None:
        return None if self.choices is None else self.choices()

    def describe(self, quote: Callable[[str], str] = str) -> str:
        """The help text with the valid choices (each through ``quote``) and bounds appended."""
        text = self.help
        choices = self.valid_choices()
        if choices:
            text += "; one of " + ", ".join(quote(c) for c in choices)
        bounds = self.range_text()
        return f"{text}; {bounds}" if bounds else text

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
    features: list[str] = setting(
        [], "feature columns to use (default: every column but the target and ignore)", unique=True
    )
    ignore: list[str] = setting([], "columns to drop, e.g. identifiers", unique=True)
    delimiter: str = setting(
        ",",
        "CSV field delimiter: one character, e.g. ';' or a tab; with ',' a header line without a comma but with "
        "one of ';', a tab or '|' is read with that one",
        flag="--delimiter",
        single_char=True,
    )
    memory_limit: str = setting(
        "auto",
        "memory for the encoded training inputs: above it, training streams row blocks from the data cache "
        "(out of core); a size such as 2GiB or 500MB, or auto (half of this machine's memory)",
        flag="--memory-limit",
        size=True,
    )


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
    schedule: str = setting(
        "constant",
        "learning-rate schedule: step multiplies the rate by decay_factor every step_size epochs, exponential by "
        "decay_rate every epoch, cosine decays it to min_lr by the last epoch after warmup_epochs, "
        "reduce_on_plateau multiplies it by decay_factor after plateau_patience epochs without improvement",
        flag="--schedule",
        choices=registered("schedule"),
    )
    warmup_epochs: int = setting(0, "cosine: linear warm-up epochs before the decay", low=0)
    step_size: int = setting(0, "step: epochs between two drops of the rate (0: a quarter of train.epochs)", low=0)
    decay_factor: float = setting(
        0.5,
        "step, reduce_on_plateau: what each drop multiplies the rate by",
        low=0.0,
        high=1.0,
        low_open=True,
        high_open=True,
    )
    decay_rate: float = setting(
        0.98, "exponential: the rate is multiplied by this every epoch", low=0.0, high=1.0, low_open=True
    )
    plateau_patience: int = setting(
        0, "reduce_on_plateau: epochs without improvement before a drop (0: half of train.patience, or 10)", low=0
    )
    min_lr: float = setting(0.0, "cosine, reduce_on_plateau: the rate never goes below this", low=0.0)
    clip_norm: float = setting(0.0, "clip gradients to this global norm (0: off)", low=0.0)
    patience: int | str = setting(
        "auto",
        "early stopping after this many epochs without improvement (0: off); auto: "
        f"{PATIENCE_SAMPLES:,} samples' worth of epochs, between {PATIENCE_EPOCHS[0]} and {PATIENCE_EPOCHS[1]} "
        f"({PATIENCE_EPOCHS[1]} up to {PATIENCE_SAMPLES // PATIENCE_EPOCHS[1]:,} training rows: small data has a "
        "noisy validation loss, and restore_best makes the extra epochs cost only time)",
        flag="--patience",
        low=0,
        auto=True,
    )
    min_delta: float = setting(0.0, "smallest change that counts as an improvement", low=0.0)
    monitor: str = setting("val_loss", "the value early stopping watches", choices=_monitors)
    restore_best: bool = setting(True, "keep the weights of the best epoch, not the last")
    refit: bool | str = setting(
        "auto",
        "after early stopping picks the best epoch count E, retrain from the same initialisation on all rows for E "
        "epochs and save that model; the reported metrics stay those of the selection run on rows it never saw; "
        f"auto: only up to {REFIT_MAX_ROWS:,} rows, where the validation rows are worth training on",
        auto=True,
    )
    checkpoint_every: int = setting(10, "write checkpoints/epoch-NNNN.h5 every N epochs (0: off)", low=0)
    keep_checkpoints: int = setting(
        3, "keep the last N checkpoints/epoch-NNNN.h5, deleting older ones (0: keep all)", low=0
    )
    seed: int = setting(0, "one seed for the split, the initialisation and the shuffling", flag="--seed", low=0)
    kernels: str = setting(
        "auto",
        "element-wise passes of a training step (Adam, bias and ReLU): numba compiles each into one pass with "
        "bit-identical results (pip install 'dlcli[fast]'); auto uses it when it is installed and the model "
        "has 50,000 or more parameters (below that, numba's start-up costs more than it saves)",
        choices=registered("kernel set", "auto"),
    )


@dataclass(frozen=True)
class OutputConfig:
    out: str = setting(
        "",
        "run directory; empty: runs/<name>-<n> in the working directory (beside the run for a run's own "
        "config.toml), never overwriting",
        flag="--out",
        path=True,
    )
    name: str = setting("", "run name (default: the config file's or the data file's stem)")


@dataclass(frozen=True)
class RemoteConfig:
    url: str = setting("", "default remote for push and pull: s3://bucket/prefix or a directory", path=True)
    push_to: str = setting("", "upload checkpoints while training, then the run directory", flag="--push-to", path=True)
    endpoint_url: str = setting(
        "", "S3-compatible endpoint (else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS)", flag="--endpoint-url"
    )
    profile: str = setting("", "AWS profile", flag="--profile")
    jobs: int = setting(8, "parallel transfers", flag="--jobs", low=1, high=256)
    timeout: float = setting(
        30.0,
        "seconds to wait for an S3 server's answer, per attempt of 5 (connecting: at most 10 of them)",
        low=0.0,
        low_open=True,
    )
    checksum: str = setting(
        "when_required",
        "boto3 request/response checksums: when_required works with most S3-compatible stores",
        flag="--checksum",
        choices=_checksum_modes,
    )
    cache_dir: str = setting(
        "", "cache for s3:// data and models (default ~/.cache/dlcli, or DLCLI_CACHE_DIR)", path=True
    )


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


_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_size(text: str) -> int | None:
    """Bytes in ``"2GiB"``, ``"500MB"``, ``"1.5g"`` or ``"1048576"``; ``None`` for ``"auto"``.

    Raises ``ValueError`` for anything else.
    """
    import re

    value = str(text).strip().lower()
    if value == "auto":
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value)
    if not match or match.group(2) not in _UNITS:
        raise ValueError(text)
    return int(float(match.group(1)) * _UNITS[match.group(2)])
