"""Checks that run on a model file before anything is built or read from it.

The seal comes first: dlcli writes its files with a 512-byte HDF5 user block (which HDF5
and Keras skip) holding the SHA-256 of everything after it, and verifies it before HDF5
parses a byte. A flipped bit or a truncated copy is then "damaged", not whatever the HDF5
library makes of it: some damaged headers send it into an endless loop, or read back as
other numbers. Files without a seal (written by Keras, or by dlcli before it sealed) are
read without it.

A model file must be self-contained: an HDF5 external link, a dataset with external raw
storage or a virtual dataset would make ``h5py`` read other files (a link to a FIFO hangs),
so any of them is refused before a byte of weights is read. The architecture's declared
sizes are checked against the stored datasets' shapes, and bounded, before the model is
built, so a crafted config cannot make dlcli allocate what the file does not hold. Layer
fields have the JSON types the layers expect (``units: 64.7`` is not 64).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import h5py

from .format import LayoutError

# Far beyond any model dlcli trains on one machine, far below what would exhaust memory.
MAX_PARAMS = 2**31
MAX_WIDTH = 2**24
MAX_OBJECTS = 100_000  # groups and datasets walked; a model has a few per layer
# JSON fields of layer configs and the types they must have (bool is not an int here).
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "units": (int,),
    "activation": (str, type(None)),
    "use_bias": (bool,),
    "trainable": (bool,),
    "rate": (int, float),
    "seed": (int, type(None)),
    "momentum": (int, float),
    "epsilon": (int, float),
    "center": (bool,),
    "scale": (bool,),
}
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", type(None): "null"}


USERBLOCK = 512  # HDF5's smallest user block
_SEAL = b"dlcli-sha256:"


def seal(path: str | Path) -> None:
    """Write the SHA-256 of the content after the user block into the user block."""
    with open(path, "r+b") as handle:
        handle.seek(USERBLOCK)
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
        handle.seek(0)
        handle.write((_SEAL + digest.encode() + b"\n").ljust(USERBLOCK, b"\0"))


def check_seal(path: str | Path) -> None:
    """``LayoutError`` when ``path`` has a seal its content does not match."""
    with open(path, "rb") as handle:
        head = handle.read(USERBLOCK)
        if not head.startswith(_SEAL):
            return
        expected = head[len(_SEAL) : len(_SEAL) + 64].decode("ascii", "replace")
        if hashlib.file_digest(handle, "sha256").hexdigest() != expected:
            raise LayoutError(
                "its content does not match the checksum dlcli wrote with it (a flipped bit, "
                "a truncated or partial copy)"
            )


def check_self_contained(f: h5py.File) -> None:
    """Refuse external links, external raw storage and virtual datasets anywhere in ``f``."""
    pending: list[h5py.Group] = [f]
    walked: set[tuple[int, int]] = set()  # hard links may form cycles: walk each group once
    seen = 0
    while pending:
        group = pending.pop()
        for name in group:
            seen += 1
            if seen > MAX_OBJECTS:
                raise LayoutError(f"it holds more than {MAX_OBJECTS} objects, far more than a model has")
            link = group.get(name, getlink=True)
            where = f"{group.name.rstrip('/')}/{name}"
            if isinstance(link, h5py.ExternalLink):
                raise LayoutError(
                    f"{where} is a link to '{link.filename}'; a model file must be self-contained, not read other files"
                )
            if isinstance(link, h5py.SoftLink):
                continue  # inside this file; its target is walked where it really is
            item = group.get(name)
            if isinstance(item, h5py.Group):
                key = h5py.h5g.get_objinfo(item.id).objno
                if key not in walked:
                    walked.add(key)
                    pending.append(item)
            elif isinstance(item, h5py.Dataset) and (
                item.is_virtual or item.id.get_create_plist().get_external_count() > 0
            ):
                kind = "a virtual dataset" if item.is_virtual else "stored in an external file"
                raise LayoutError(f"{where} is {kind}; a model file must be self-contained, not read other files")


def check_stored(dataset: h5py.Dataset, what: str) -> None:
    """Refuse a dataset whose data is not all in the file, before it is read.

    HDF5 reads unwritten data as fill values: a crafted shape with no data behind it would
    be gigabytes of zeros, a cut one silently zeros. Contiguous data must occupy its full
    size; chunked data (the Fletcher-32 weights) must have every chunk stored.
    """
    string = h5py.check_string_dtype(dataset.dtype)
    if dataset.size == 0 or (string is not None and string.length is None):
        return  # variable-length strings live in the file's heap, as large as stored
    if dataset.chunks is not None:
        expected = math.prod(-(-n // c) for n, c in zip(dataset.shape, dataset.chunks, strict=True))
        if dataset.id.get_num_chunks() >= expected:
            return
    elif dataset.id.get_create_plist().get_nfilters() > 0 or dataset.id.get_storage_size() >= dataset.nbytes:
        return
    raise LayoutError(f"{what} ({dataset.name}) is not all stored in the file: it is truncated or crafted")


def check_layer_fields(spec: Any, index: int) -> tuple[str, dict[str, Any]]:
    """``(class_name, config)`` of one Keras layer entry, with its fields' JSON types checked."""
    if not isinstance(spec, dict):
        raise LayoutError(f"layer entry {index} of model_config is {_json_type(spec)}, not an object")
    class_name, config = spec.get("class_name"), spec.get("config")
    if not isinstance(class_name, str):
        raise LayoutError(f"layer entry {index} of model_config has no class_name")
    if not isinstance(config, dict):
        raise LayoutError(f"layer entry {index} ({class_name}) of model_config has {_json_type(config)} as config")
    name = config.get("name", f"#{index}")
    for key, types in _FIELD_TYPES.items():
        if key not in config:
            continue
        value = config[key]
        exact = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if isinstance(value, float) and not math.isfinite(value):
            # Python's JSON reads NaN and Infinity: an epsilon of NaN would predict NaN.
            raise LayoutError(f"layer '{name}' has {key} {value!r}; it must be a finite number")
        if not exact:
            expected = " or ".join(_TYPE_NAMES[t] for t in types)
            raise LayoutError(f"layer '{name}' has {key} {value!r}; it must be {expected}")
    if class_name == "Activation" and not isinstance(config.get("activation"), str):
        raise LayoutError(f"layer '{name}' has activation {config.get('activation')!r}; it must be a string")
    units = config.get("units")
    if units is not None and not 0 < units <= MAX_WIDTH:
        raise LayoutError(f"layer '{name}' has units {units}; it must be between 1 and {MAX_WIDTH}")
    return class_name, config


def check_declared_shapes(config: dict[str, Any], stored: dict[str, dict[str, tuple[int, ...]]]) -> None:
    """The widths ``config`` (a ``Sequential.from_config`` dict) declares, against the shapes
    of the weights ``stored`` (layer name -> weight name -> shape), and against the bounds."""
    width = config["input_dim"]
    if isinstance(width, bool) or not isinstance(width, int) or not 0 < width <= MAX_WIDTH:
        raise LayoutError(f"the model's input width is {width!r}; it must be between 1 and {MAX_WIDTH}")
    params = 0
    for layer in config["layers"]:
        layer_config = layer["config"]
        name = str(layer_config.get("name"))
        shapes = stored.get(name, {})
        if layer["class_name"] == "Dense":
            units = layer_config.get("units")
            if units is None:
                raise LayoutError(f"layer '{name}' is a Dense layer without units")
            expected = {"kernel": (width, units), "bias": (units,)}
            if layer_config.get("use_bias", True) is False:
                expected.pop("bias")
            width = units
        else:  # the other layers keep the width and store per-feature vectors (or a scalar)
            expected = {key: shape for key, shape in shapes.items() if shape in ((), (width,))}
        for key, shape in shapes.items():
            if key in expected and expected[key] != shape:
                # The config declares the expected shape; the file stores the found one.
                raise LayoutError(f"layer '{name}' weight '{key}': expected shape {expected[key]}, found {shape}")
            if key not in expected and layer["class_name"] != "Dense":
                raise LayoutError(f"layer '{name}' stores weight '{key}' of shape {shape}; its width is {width}")
        params += sum(_size(shape) for shape in expected.values())
        if params > MAX_PARAMS:
            raise LayoutError(f"the model declares more than {MAX_PARAMS:,} parameters; dlcli refuses to build it")


def _size(shape: tuple[int, ...]) -> int:
    size = 1
    for n in shape:
        size *= int(n)
    return size


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
