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

from .format import ATTR_SHA256, LayoutError, create_checked_dataset, digest, read_json_dataset, text

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
    """
    arrays: list[np.ndarray] = []
    encoded = _encode(tree, arrays, "training_state")
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
    return _decode(encoded, arrays)


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


def _decode(value: Any, arrays: h5py.Group) -> Any:
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, inner),) = value.items()
        if key in (_ARRAY, _SCALAR):
            array = _read_array(arrays, inner)
            return array[()] if key == _SCALAR else array
        if key == _TUPLE:
            return tuple(_decode(v, arrays) for v in inner)
        if key == _DICT:
            return {k: _decode(v, arrays) for k, v in inner}
    return {k: _decode(v, arrays) for k, v in value.items()}


def _read_array(arrays: h5py.Group, index: Any) -> np.ndarray:
    dataset = arrays.get(str(index))
    if not isinstance(dataset, h5py.Dataset):
        raise LayoutError(f"{arrays.name}/{index} is missing")
    if dataset.dtype.kind == "O":
        raise LayoutError(f"{arrays.name}/{index} holds {text(dataset.dtype)}, not numbers")
    return np.asarray(dataset[()])
