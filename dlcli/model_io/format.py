"""Names and small HDF5 helpers shared by the writer and the reader.

Everything the layout promises lives here as a constant, so ``docs/model-format.md`` and
the code have one place to agree on. Strings are written the way Keras writes them (byte
strings in attributes), JSON documents that may grow (metadata, history) as UTF-8 string
datasets because HDF5 attributes are limited to 64 KiB.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

FORMAT_NAME = "dlcli-model"
FORMAT_VERSION = 1  # bump on any change a v1 reader would misread; old versions keep loading
KERAS_LEGACY_FORMAT = "keras-legacy-h5"  # format_name reported for Keras-written files

# The Keras legacy layout we mirror: the version whose loader we tested against, and a
# backend name that says "plain arrays" (Keras 3 ships a numpy backend).
KERAS_VERSION = "3.15.1"
KERAS_BACKEND = "numpy"

ATTR_FORMAT = "dlcli_format"
ATTR_FORMAT_VERSION = "format_version"
ATTR_DLCLI_VERSION = "dlcli_version"
ATTR_CREATED = "created"
ATTR_MODEL_CONFIG = "model_config"
ATTR_MODEL_CONFIG_SHA256 = "model_config_sha256"
ATTR_SHA256 = "sha256"  # on each JSON dataset

WEIGHTS_GROUP = "model_weights"
DLCLI_GROUP = "dlcli"
STATE_GROUP = "training_state"
SCHEMA_DATASET = "schema"
METADATA_DATASET = "metadata"

# JSON deeper than this is refused (read) and never written: dlcli's own documents nest a
# few levels, Python's parser gives up near 1,000.
MAX_JSON_DEPTH = 100

# Keras splits a list attribute into name0, name1, ... above this size (object header limit).
HDF5_OBJECT_HEADER_LIMIT = 64512


class LayoutError(ValueError):
    """Something inside a file is not as the layout says; the reader adds the path.

    ``hint`` replaces the reader's default hint (what dlcli reads) where another fits better.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass
class LoadedModel:
    """What :func:`dlcli.model_io.load_model` returns.

    Attributes
    ----------
    model : dlcli.nn.Sequential
        Built, with the file's weights.
    schema, metadata : dict or None
        As given to ``save_model`` (JSON round trip); ``None`` for Keras-written files.
    training_state : dict or None
        The checkpoint's state dict (arrays come back as arrays), ``None`` for plain models.
    format_version : int or None
        dlcli format version of the file; ``None`` for a Keras-written file.
    format_name : str
        ``"dlcli-model"`` or ``"keras-legacy-h5"``.
    """

    model: Any
    schema: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    training_state: dict[str, Any] | None = None
    format_version: int | None = FORMAT_VERSION
    format_name: str = FORMAT_NAME
    dlcli_version: str | None = None
    created: str | None = None
    keras_version: str | None = None
    path: str = ""


def text(value: Any) -> str:
    """An attribute value as ``str`` (h5py returns ``bytes`` for Keras' fixed-length strings)."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def write_name_list(group: h5py.Group, name: str, names: list[str]) -> None:
    """Store a list of names as Keras does: byte strings, split into chunks if too large."""
    if not names:
        # Keras writes ``[]``, which h5py stores as an empty float64 array.
        group.attrs[name] = np.zeros((0,), dtype=np.float64)
        return
    data = np.array([n.encode("utf-8") for n in names])
    chunks = 1
    while any(c.nbytes > HDF5_OBJECT_HEADER_LIMIT for c in np.array_split(data, chunks)):
        chunks += 1
    if chunks == 1:
        group.attrs[name] = data
        return
    for i, chunk in enumerate(np.array_split(data, chunks)):
        group.attrs[f"{name}{i}"] = chunk


def read_name_list(group: h5py.Group, name: str) -> list[str]:
    """Read a list written by :func:`write_name_list` or by Keras (chunked or not)."""
    if name in group.attrs:
        return [text(n) for n in np.atleast_1d(group.attrs[name])]
    names: list[str] = []
    i = 0
    while f"{name}{i}" in group.attrs:
        names.extend(text(n) for n in group.attrs[f"{name}{i}"])
        i += 1
    return names


def to_jsonable(value: Any) -> Any:
    """``json.dumps`` default: NumPy scalars and arrays become Python values, paths strings."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"Cannot store a {type(value).__name__} as JSON in a model file: {value!r}")


def dumps(value: Any) -> str:
    """JSON text of ``value``; NaN and infinities allowed (Python reads them back).

    Raises ``ValueError`` for JSON nested deeper than :func:`loads` accepts, so dlcli never
    writes a file it would refuse.
    """
    document = json.dumps(value, default=to_jsonable, sort_keys=False)
    check_depth(json.loads(document), "the JSON", ValueError)
    return document


def create_checked_dataset(group: h5py.Group, name: str, value: np.ndarray) -> h5py.Dataset:
    """A dataset with HDF5's Fletcher-32 checksum, which every read verifies (a flipped bit is
    an error, not a changed prediction). Scalars cannot carry the filter (it needs chunks)."""
    if value.ndim == 0 or value.size == 0:
        return group.create_dataset(name, data=value)
    return group.create_dataset(name, data=value, fletcher32=True)


def write_json_dataset(group: h5py.Group, name: str, value: Any) -> None:
    """Store ``value`` as a scalar UTF-8 string dataset holding its JSON, and its SHA-256."""
    document = dumps(value)
    dataset = group.create_dataset(name, data=document, dtype=h5py.string_dtype("utf-8"))
    dataset.attrs[ATTR_SHA256] = digest(document)


def read_json_dataset(group: h5py.Group, name: str) -> Any:
    """Parse a dataset written by :func:`write_json_dataset` (raises ``ValueError`` if bad,
    or if it does not match its checksum; files written before checksums have none)."""
    dataset = group[name]
    if not isinstance(dataset, h5py.Dataset) or dataset.shape != ():
        raise ValueError(f"'{dataset.name}' is not a scalar string dataset")
    document = text(dataset[()])
    verify_digest(document, dataset.attrs.get(ATTR_SHA256), dataset.name)
    return loads(document, dataset.name)


def verify_digest(document: str, stored: Any, where: str) -> None:
    """Raise ``LayoutError`` when ``document`` does not match the SHA-256 ``stored`` for it."""
    if stored is not None and text(stored) != digest(document):
        raise LayoutError(f"{where} does not match its checksum: the file is damaged")


def loads(document: str, where: str = "a JSON document in it") -> Any:
    """``json.loads`` refusing JSON nested more than :data:`MAX_JSON_DEPTH` levels deep.

    The parser, and the code walking what it returns, recurse: JSON thousands of levels deep
    would end in a ``RecursionError``. ``where`` names the document in the ``LayoutError``.
    """
    try:
        value = json.loads(document)
    except RecursionError:
        raise LayoutError(f"{where} nests too deeply to be dlcli's (more than {MAX_JSON_DEPTH} levels)") from None
    check_depth(value, where, LayoutError)
    return value


def check_depth(value: Any, where: str, error: type[ValueError]) -> None:
    """Raise ``error`` if parsed JSON ``value`` nests more than :data:`MAX_JSON_DEPTH` levels
    (a scalar is 0, ``[]`` is 1); walks with a stack, not recursion."""
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth + 1 > MAX_JSON_DEPTH:
            raise error(f"{where} nests too deeply to be dlcli's (more than {MAX_JSON_DEPTH} levels)")
        pending.extend((child, depth + 1) for child in children)


def digest(document: str) -> str:
    """The SHA-256 stored beside a JSON document, verified when it is read."""
    return hashlib.sha256(document.encode("utf-8")).hexdigest()
