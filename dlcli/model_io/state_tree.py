"""Store any state dict in an HDF5 group: arrays as datasets, everything else as JSON.

A state dict is a nested ``dict`` whose leaves are NumPy arrays, Python scalars, strings,
lists or ``None`` (see docs/architecture.md). This module knows nothing about what the keys
mean, so the trainer can add state without a format change.

Layout of the group: a scalar string dataset ``tree`` with the JSON of the structure, and a
group ``arrays`` with one dataset per array, named ``"0"``, ``"1"``, ... In the JSON, an
array is ``{"__ndarray__": i}`` and a NumPy scalar ``{"__npscalar__": i}`` (both refer to
``arrays/i``), a tuple ``{"__tuple__": [...]}``, and a dict whose keys are not all strings,
or whose only key is one of these markers, ``{"__dict__": [[key, value], ...]}``. Python
ints of any size and floats (via ``repr``) survive JSON exactly. No pickle: object and
unicode arrays are refused.
"""

from __future__ import annotations

import json
from typing import Any

import h5py
import numpy as np

from .format import (
    ATTR_SHA256,
    LayoutError,
    check_depth,
    create_checked_dataset,
    digest,
    read_json_dataset,
    text,
)
from .verify import check_stored

TREE_DATASET = "tree"
ARRAYS_GROUP = "arrays"
_ARRAY, _SCALAR, _TUPLE, _DICT = "__ndarray__", "__npscalar__", "__tuple__", "__dict__"
_MARKERS = (_ARRAY, _SCALAR, _TUPLE, _DICT)


def write_tree(group: h5py.Group, tree: Any) -> None:
    """Store ``tree`` in ``group`` (which must be empty).

    Raises
    ------
    TypeError
        For a leaf that cannot be stored without pickle (objects, unicode arrays, ...),
        naming where in the tree it is.
    ValueError
        For a tree nesting more than ``MAX_JSON_DEPTH`` levels once encoded.
    """
    arrays: list[np.ndarray] = []
    encoded = _encode(tree, arrays, "training_state")
    check_depth(encoded, "training_state", ValueError)  # never write what read_tree refuses
    data = group.create_group(ARRAYS_GROUP)
    for i, array in enumerate(arrays):
        create_checked_dataset(data, str(i), array)
    text_json = json.dumps(encoded, allow_nan=True)
    tree = group.create_dataset(TREE_DATASET, data=text_json, dtype=h5py.string_dtype("utf-8"))
    tree.attrs[ATTR_SHA256] = digest(text_json)


def read_tree(group: h5py.Group) -> Any:
    """Rebuild the value stored by :func:`write_tree` (raises ``LayoutError`` if damaged)."""
    try:
        encoded = read_json_dataset(group, TREE_DATASET)
    except (KeyError, ValueError) as exc:
        raise LayoutError(f"{group.name}/{TREE_DATASET} is missing or not JSON ({exc})") from None
    arrays = group.get(ARRAYS_GROUP)
    if not isinstance(arrays, h5py.Group):
        raise LayoutError(f"{group.name}/{ARRAYS_GROUP} is missing")
    return _Decoder(arrays).decode(encoded)


def _encode(value: Any, arrays: list[np.ndarray], where: str) -> Any:
    """JSON-able form of ``value``; arrays are appended to ``arrays`` and referenced."""
    if value is None or (
        isinstance(value, (bool, int, float, str)) and not isinstance(value, np.generic)
    ):  # np.float64 is a float
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        marker = _ARRAY if isinstance(value, np.ndarray) else _SCALAR
        return {marker: _add_array(value, arrays, where)}
    if isinstance(value, list):
        return [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, dict):
        return _encode_dict(value, arrays, where)
    raise TypeError(
        f"{where}: cannot store a {type(value).__name__} in a model file "
        "(expected arrays, numbers, strings, lists, dicts or None)"
    )


def _encode_dict(value: dict[Any, Any], arrays: list[np.ndarray], where: str) -> Any:
    # A plain JSON object unless JSON would change the keys or the decoder would mistake it.
    plain = all(isinstance(k, str) for k in value) and not (len(value) == 1 and next(iter(value)) in _MARKERS)
    if plain:
        return {k: _encode(v, arrays, f"{where}[{k!r}]") for k, v in value.items()}
    pairs = []
    for key, item in value.items():
        if not (key is None or isinstance(key, (bool, int, float, str))) or isinstance(key, np.generic):
            raise TypeError(
                f"{where}: dict key {key!r} is a {type(key).__name__}; keys must be str, int, float, bool or None"
            )
        pairs.append([key, _encode(item, arrays, f"{where}[{key!r}]")])
    return {_DICT: pairs}


def _add_array(value: np.ndarray | np.generic, arrays: list[np.ndarray], where: str) -> int:
    array = np.asarray(value)
    if array.dtype.kind not in "biufcS":  # no objects (pickle), unicode, datetimes, voids
        raise TypeError(
            f"{where}: arrays of dtype {array.dtype} cannot be stored in a model file (numeric, bool or bytes only)"
        )
    arrays.append(array)
    return len(arrays) - 1


class _Decoder:
    """Rebuilds a tree; a damaged marker is a ``LayoutError`` naming the tree, and each array
    is read once (a tree referring to one array a million times would be a memory bomb)."""

    def __init__(self, arrays: h5py.Group) -> None:
        self.arrays = arrays
        self.read: set[int] = set()

    def decode(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key in (_ARRAY, _SCALAR):
                array = self.array(inner)
                return array[()] if key == _SCALAR else array
            if key == _TUPLE:
                return tuple(self.decode(v) for v in self.listed(key, inner))
            if key == _DICT:
                return dict(self.pair(item) for item in self.listed(key, inner))
        return {k: self.decode(v) for k, v in value.items()}

    def listed(self, marker: str, inner: Any) -> list[Any]:
        if not isinstance(inner, list):
            raise self.damaged(f"holds {marker} with {type(inner).__name__}, not a list")
        return inner

    def pair(self, item: Any) -> tuple[Any, Any]:
        """A ``[key, value]`` entry of a ``__dict__``, with a key ``_encode_dict`` allows."""
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], _KEYS)):
            raise self.damaged(f"holds a {_DICT} entry {str(item)[:40]}, not [key, value]")
        return item[0], self.decode(item[1])

    def array(self, index: Any) -> np.ndarray:
        if not isinstance(index, int) or isinstance(index, bool):
            raise self.damaged(f"refers to array {str(index)[:40]}, not an index")
        if index in self.read:
            raise self.damaged(f"refers to array {index} twice")
        self.read.add(index)
        return _read_array(self.arrays, index)

    def damaged(self, what: str) -> LayoutError:
        return LayoutError(f"{self.arrays.parent.name}/{TREE_DATASET} {what}")


_KEYS = (type(None), bool, int, float, str)  # the dict keys _encode_dict stores


def _read_array(arrays: h5py.Group, index: int) -> np.ndarray:
    dataset = arrays.get(str(index))
    if not isinstance(dataset, h5py.Dataset):
        raise LayoutError(f"{arrays.name}/{index} is missing")
    if dataset.dtype.kind not in "biufcS":  # what write_tree stores: never objects
        raise LayoutError(f"{arrays.name}/{index} holds {text(dataset.dtype)}, not numbers")
    check_stored(dataset, "a training-state array")
    return np.asarray(dataset[()])
