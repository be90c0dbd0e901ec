"""Open and validate a model file; load a model, or only its weights (warm start).

Loading never executes anything from the file: the architecture is JSON mapped onto the
``dlcli.nn.LAYERS`` registry, weights are plain numeric datasets, and every check happens
before any weight is copied into a model.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from dlcli import __version__
from dlcli.errors import ConfigError, ModelFileError
from dlcli.nn import Sequential

from . import format as fmt
from .checkpoint import check_training_state
from .format import LayoutError, LoadedModel
from .keras_config import from_keras_config, keras_loss
from .state_tree import read_tree
from .verify import check_declared_shapes, check_seal, check_self_contained, check_stored

_SUPPORTED = (
    "dlcli reads models written by 'dlcli train' and Keras legacy .h5 models "
    "(model.save('model.h5')) made of Dense, Dropout, BatchNormalization, "
    "Activation and Normalization layers."
)


@dataclass
class FileInfo:
    """Identification read from the root attributes."""

    format_name: str
    format_version: int | None
    dlcli_version: str | None
    created: str | None
    keras_version: str | None


@contextmanager
def open_model_file(path: str | Path) -> Iterator[tuple[h5py.File, FileInfo]]:
    """Open ``path`` read-only after checking it is a model file this dlcli can read.

    Raises
    ------
    ModelFileError
        Missing, unreadable, not HDF5, truncated, foreign, or a newer format version.
    """
    _check_readable(path)
    try:
        check_seal(path)
    except LayoutError as exc:
        raise ModelFileError(
            f"'{path}' is damaged: {exc}.", hint="Copy or download it again, or use another checkpoint of the run."
        ) from None
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ModelFileError(
            f"'{path}' is not a dlcli model file: it is truncated or corrupted "
            f"(HDF5 cannot open it: {_first_line(exc)}).",
            hint="Copy or download it again. dlcli never leaves a half-written model file, "
            "so the damage happened after saving.",
        ) from None
    with f:
        try:
            check_self_contained(f)  # first: even identifying the file must not follow a link
            info = _identify(f, path)
            yield f, info
        except RecursionError:
            raise ModelFileError(
                f"'{path}' cannot be loaded: its JSON nests too deeply to be a dlcli model.", hint=_SUPPORTED
            ) from None
        except (LayoutError, KeyError, OSError, ValueError, TypeError, RuntimeError, IndexError) as exc:
            # ModelFileError is none of these, so it passes through unchanged.
            # The others come from h5py (and JSON of the wrong shape) on damaged content.
            hint = getattr(exc, "hint", None) or _SUPPORTED
            raise ModelFileError(f"'{path}' cannot be loaded: {_detail(exc)}.", hint=hint) from None


def load_model(path: str | Path) -> LoadedModel:
    """Load a dlcli model or checkpoint, or a Keras legacy .h5 model.

    Returns
    -------
    LoadedModel
        The built model with its weights, plus schema, metadata and training state.

    Raises
    ------
    ModelFileError
        If the file is missing, not a model file, too new, or inconsistent (a layer or
        weight missing, or a weight with the wrong shape).
    """
    with open_model_file(path) as (f, info):
        model = build_model(f)
        model.set_weights(read_weights(f[fmt.WEIGHTS_GROUP], model.layers))
        schema, metadata, state = _read_dlcli_group(f)
        if state is not None and metadata is not None and metadata.get("kind") == "checkpoint":
            check_training_state(state, model)
    return LoadedModel(
        model=model,
        schema=schema,
        metadata=metadata,
        training_state=state,
        format_version=info.format_version,
        format_name=info.format_name,
        dlcli_version=info.dlcli_version,
        created=info.created,
        keras_version=info.keras_version,
        path=str(path),
    )


def load_weights_into(model: Any, path: str | Path) -> None:
    """Copy the weights of the model in ``path`` into ``model`` (warm start).

    Layers are matched by position and must have the same types; every shape is checked
    before anything is copied, so on error ``model`` is unchanged.

    Raises
    ------
    ModelFileError
        ``"Cannot load weights from '<path>': layer 'dense_1' weight 'kernel': expected
        shape (64, 3), found (64, 4)."`` and the like.
    """
    hint = "Warm start needs the same layers and the same input features as that model."
    with open_model_file(path) as (f, _):
        theirs = [(spec["class_name"], spec["config"].get("name")) for spec in nn_config(f)["layers"]]
        mine = [layer.class_name for layer in model.layers]
        if [cls for cls, _ in theirs] != mine:
            raise ModelFileError(
                f"Cannot load weights from '{path}': its layers "
                f"({', '.join(cls for cls, _ in theirs)}) differ from this model's "
                f"({', '.join(mine)}).",
                hint=hint,
            )
        try:
            values = read_weights(f[fmt.WEIGHTS_GROUP], model.layers, [name for _, name in theirs])
        except LayoutError as exc:
            raise ModelFileError(f"Cannot load weights from '{path}': {exc}.", hint=hint) from None
    model.set_weights(values)


def nn_config(f: h5py.File) -> dict[str, Any]:
    """The ``Sequential.from_config`` dict for the file's architecture."""
    document = fmt.text(f.attrs[fmt.ATTR_MODEL_CONFIG])
    try:
        keras_config = fmt.loads(document, "its model_config attribute")
    except LayoutError:
        raise
    except ValueError:
        raise LayoutError("its model_config attribute is not valid JSON") from None
    group = f.get(fmt.DLCLI_GROUP)
    loss = dtype = None
    if isinstance(group, h5py.Group):
        loss = fmt.text(group.attrs["loss"]) if "loss" in group.attrs else None
        dtype = fmt.text(group.attrs["dtype"]) if "dtype" in group.attrs else None
    elif "training_config" in f.attrs:  # a Keras file: reuse its loss to allow fine-tuning
        try:
            loss = keras_loss(fmt.loads(fmt.text(f.attrs["training_config"])))
        except ValueError:
            loss = None
    return from_keras_config(keras_config, loss=loss, dtype=dtype)


def build_model(f: h5py.File) -> Sequential:
    """A built ``Sequential`` with the file's architecture (weights not loaded yet).

    The declared sizes are checked against the stored weights' shapes first, so nothing
    larger than what the file holds is allocated.
    """
    config = nn_config(f)
    check_declared_shapes(config, stored_shapes(f[fmt.WEIGHTS_GROUP], config))
    try:
        model = Sequential.from_config(config)
    except ConfigError as exc:
        raise LayoutError(exc.message.rstrip(".")) from None
    # Last, so a hand-edited config gets the specific message above when it is invalid;
    # a valid one that differs from what was saved (an epsilon's flipped digit) is damage.
    stored = f.attrs.get(fmt.ATTR_MODEL_CONFIG_SHA256)
    fmt.verify_digest(fmt.text(f.attrs[fmt.ATTR_MODEL_CONFIG]), stored, "the model_config attribute")
    return model


def stored_shapes(group: h5py.Group, config: dict[str, Any]) -> dict[str, dict[str, tuple[int, ...]]]:
    """Layer name -> weight name -> the stored dataset's shape (no data is read), for datasets
    whose data is all in the file: a shape without data behind it must not size the model."""
    shapes: dict[str, dict[str, tuple[int, ...]]] = {}
    for layer in config["layers"]:
        name = str(layer["config"].get("name"))
        if name in group:
            found = layer_datasets(group, name)
            for key, dataset in found.items():
                check_stored(dataset, f"layer '{name}' weight '{key}'")
            shapes[name] = {key: tuple(dataset.shape) for key, dataset in found.items()}
    return shapes


def read_weights(
    group: h5py.Group, layers: list[Any], file_names: list[str] | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """Read and check every layer's weights: layer name -> weight name -> array.

    ``file_names`` gives the layers' names in the file when they may differ (warm start).
    """
    out: dict[str, dict[str, np.ndarray]] = {}
    for i, layer in enumerate(layers):
        expected = layer.get_weights()
        if not expected:
            continue
        found = layer_datasets(group, file_names[i] if file_names else layer.name)
        out[layer.name] = {name: _checked(layer.name, name, target, found) for name, target in expected}
        extra = sorted(set(found) - {name for name, _ in expected})
        if extra:
            raise LayoutError(f"layer '{layer.name}' has unexpected weights {', '.join(extra)}")
    return out


def _checked(layer: str, name: str, target: np.ndarray, found: dict[str, h5py.Dataset]) -> np.ndarray:
    dataset = found.get(name)
    if dataset is None:
        listed = ", ".join(found) or "none"
        raise LayoutError(f"layer '{layer}' weight '{name}' is missing (found: {listed})")
    if dataset.shape != target.shape:
        raise LayoutError(f"layer '{layer}' weight '{name}': expected shape {target.shape}, found {dataset.shape}")
    if dataset.dtype.kind not in "biuf":
        raise LayoutError(f"layer '{layer}' weight '{name}' holds {dataset.dtype}, not numbers")
    check_stored(dataset, f"layer '{layer}' weight '{name}'")
    try:
        value = np.asarray(dataset[()])  # HDF5 verifies the Fletcher-32 checksum here
    except OSError:
        raise LayoutError(f"layer '{layer}' weight '{name}' fails its checksum: the file is damaged") from None
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        raise LayoutError(f"layer '{layer}' weight '{name}' holds NaN or infinite values")
    return value


def layer_datasets(group: h5py.Group, layer: str) -> dict[str, h5py.Dataset]:
    """A layer's weight datasets keyed by short name (``kernel``), in ``weight_names`` order.

    Keras names weights by path (``seq/dense/kernel``, tf.keras ``dense/kernel:0``); the
    last path component without the ``:0`` suffix is the weight's name.
    """
    layer_group = group.get(layer)
    if not isinstance(layer_group, h5py.Group):
        raise LayoutError(f"layer '{layer}' has no weights in the file ({group.name}/{layer} is missing)")
    found: dict[str, h5py.Dataset] = {}
    for path in fmt.read_name_list(layer_group, "weight_names"):
        dataset = layer_group.get(path)
        if not isinstance(dataset, h5py.Dataset):
            raise LayoutError(f"layer '{layer}' lists weight '{path}' but its dataset is missing")
        found[path.rsplit("/", 1)[-1].split(":", 1)[0]] = dataset
    return found


def _read_dlcli_group(f: h5py.File) -> tuple[Any, Any, Any]:
    """Schema, metadata and training state; all ``None`` for a Keras-written file."""
    group = f.get(fmt.DLCLI_GROUP)
    if not isinstance(group, h5py.Group):
        return None, None, None
    schema, metadata = (read_json(group, name) for name in (fmt.SCHEMA_DATASET, fmt.METADATA_DATASET))
    state = read_tree(group[fmt.STATE_GROUP]) if fmt.STATE_GROUP in group else None
    return schema, metadata, state


def read_json(group: h5py.Group, name: str) -> dict[str, Any] | None:
    """The JSON dataset ``name`` of the dlcli group (``None`` when absent), checked."""
    if name not in group:
        return None
    try:
        value = fmt.read_json_dataset(group, name)
    except LayoutError:
        raise
    except ValueError:
        raise LayoutError(f"{group.name}/{name} is not valid JSON") from None
    if not isinstance(value, dict):  # its readers look keys up in it
        raise LayoutError(f"{group.name}/{name} holds a JSON {type(value).__name__}, not an object")
    return value


def _check_readable(path: str | Path) -> None:
    p = Path(path)
    if not p.exists():
        raise ModelFileError(
            f"'{path}' does not exist.", hint="Check the path; 'dlcli train' writes model.h5 in its run directory."
        )
    if p.is_dir():
        raise ModelFileError(
            f"'{path}' is a directory, not a model file.", hint="Point to the .h5 file inside it, e.g. model.h5."
        )
    if not p.is_file():  # opening a FIFO waits for a writer; a device never ends
        raise ModelFileError(
            f"'{path}' is not a regular file (a FIFO, device or socket), so it cannot be a model file.",
            hint="Copy the model into a file first, e.g. cat … > model.h5.",
        )
    try:
        with open(p, "rb"):
            pass
    except OSError as exc:
        raise ModelFileError(f"'{path}' cannot be read: {exc.strerror}.") from None
    if not h5py.is_hdf5(p):
        raise ModelFileError(
            f"'{path}' is not a dlcli model file: it is not an HDF5 file.",
            hint="Point to a .h5 model written by 'dlcli train' (or by Keras' "
            "model.save('model.h5')); a CSV or text file is data, not a model.",
        )


def _identify(f: h5py.File, path: str | Path) -> FileInfo:
    """Check the format name and version; recognise Keras-written files."""
    attrs = f.attrs
    keras_version = fmt.text(attrs["keras_version"]) if "keras_version" in attrs else None
    if fmt.ATTR_FORMAT not in attrs:
        if fmt.ATTR_MODEL_CONFIG in attrs and fmt.WEIGHTS_GROUP in f:
            return FileInfo(fmt.KERAS_LEGACY_FORMAT, None, None, None, keras_version)
        raise ModelFileError(
            f"'{path}' is not a dlcli model file: it is an HDF5 file without a "
            f"'{fmt.ATTR_FORMAT}' attribute or a Keras model (model_config, model_weights).",
            hint=_SUPPORTED,
        )
    name = fmt.text(attrs[fmt.ATTR_FORMAT])
    if name != fmt.FORMAT_NAME:
        raise ModelFileError(
            f"'{path}' is not a dlcli model file: its format is '{name}', expected '{fmt.FORMAT_NAME}'.",
            hint=_SUPPORTED,
        )
    version = _format_version(attrs.get(fmt.ATTR_FORMAT_VERSION), path)
    writer = fmt.text(attrs[fmt.ATTR_DLCLI_VERSION]) if fmt.ATTR_DLCLI_VERSION in attrs else None
    if version > fmt.FORMAT_VERSION:
        raise _too_new(path, version, writer)
    _check_keras_parts(f, path)
    created = fmt.text(attrs[fmt.ATTR_CREATED]) if fmt.ATTR_CREATED in attrs else None
    return FileInfo(name, version, writer, created, keras_version)


def _too_new(path: str | Path, version: int, writer: str | None) -> ModelFileError:
    """The error for a file from a later format; the hint names the release to install."""
    hint = "Upgrade dlcli: pip install --upgrade dlcli"
    if writer:
        hint = f"It was written by dlcli {writer}; upgrade with: pip install --upgrade 'dlcli>={writer}'"
    return ModelFileError(
        f"'{path}' uses model format version {version}, but dlcli "
        f"{__version__} reads versions 1 to {fmt.FORMAT_VERSION}.",
        hint=hint,
    )


def _check_keras_parts(f: h5py.File, path: str | Path) -> None:
    """A dlcli file must carry the Keras architecture and weights it is built from."""
    parts = (
        (fmt.ATTR_MODEL_CONFIG in f.attrs, f"'{fmt.ATTR_MODEL_CONFIG}' attribute"),
        (isinstance(f.get(fmt.WEIGHTS_GROUP), h5py.Group), f"'{fmt.WEIGHTS_GROUP}' group"),
    )
    for present, what in parts:
        if not present:
            raise ModelFileError(
                f"'{path}' cannot be loaded: it has no {what}.", hint="The file is damaged; save or copy it again."
            )


def _format_version(value: Any, path: str | Path) -> int:
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, np.generic):
        value = value.item()  # so the message shows 0, not np.int64(0)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ModelFileError(
            f"'{path}' is not a dlcli model file: format_version is {value!r}, expected a positive integer.",
            hint=_SUPPORTED,
        )
    return int(value)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _detail(exc: BaseException) -> str:
    if isinstance(exc, LayoutError):
        return str(exc)
    return f"it is corrupted ({_first_line(exc).strip(chr(39) + chr(34))})"
