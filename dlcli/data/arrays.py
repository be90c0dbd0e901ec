"""NPY, NPZ and HDF5 inputs as :class:`~dlcli.data.columns.ArrayStore`: numeric ``X`` and ``y``.

NPY is memory-mapped and HDF5 ``/X`` read by row range, so either can be larger than memory;
NPZ (a zip archive) is loaded whole. Targets are index-sized and always loaded.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from dlcli.data.columns import ArrayStore
from dlcli.data.formats import data_format, require_file
from dlcli.errors import DataError

XY_HINT = "Save with numpy.savez(path, X=X, y=y)."
H5_HINT = "Store features in /X and targets in /y."


def open_arrays(path: str | Path, *, need_y: bool, sha256: str = "") -> ArrayStore:
    """An :class:`ArrayStore` over the arrays in ``path`` (``need_y``: training, evaluation)."""
    require_file(path)
    fmt = data_format(path)
    if fmt == "hdf5":
        return _open_hdf5(path, need_y, sha256)
    if fmt == "npy":
        if need_y:
            raise DataError(
                f"'{path}' holds one array; training and evaluation need X and y.",
                hint="Save both with numpy.savez(path, X=X, y=y).",
            )
        X = _load(path, fmt, mmap_mode="r")
        return ArrayStore(_features(X, str(path)), None, str(path), sha256)
    loaded = _load(path, fmt)
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise DataError(
            f"'{path}' is a single NPY array, not an NPZ archive of X and y.",
            hint=f"Rename it to .npy for predict, or {XY_HINT[0].lower()}{XY_HINT[1:]}",
        )
    with loaded:
        if "X" not in loaded.files:
            raise DataError(f"'{path}' has no array 'X' (found: {', '.join(loaded.files) or 'none'}).", hint=XY_HINT)
        X = _features(_member(loaded, "X", path), f"{path}:X")
        y = _member(loaded, "y", path) if "y" in loaded.files else None
    if need_y and y is None:
        raise DataError(f"'{path}' has no array 'y'.", hint=XY_HINT)
    return ArrayStore(X, _targets(y, len(X), str(path)), str(path), sha256)


def _load(path: str | Path, fmt: str, mmap_mode: Any = None) -> Any:
    try:
        return np.load(path, allow_pickle=False, mmap_mode=mmap_mode)
    except ValueError as exc:
        raise DataError(
            f"'{path}' cannot be read as {fmt.upper()} without pickle ({exc}).",
            hint="Save plain numeric arrays (numpy.save / numpy.savez).",
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"'{path}' is not a valid {fmt.upper()} file ({exc}).") from None


def _member(loaded: Any, name: str, path: str | Path) -> np.ndarray:
    # NPZ members are read lazily, so a truncated archive or an object array fails here.
    try:
        array: np.ndarray = loaded[name]
    except ValueError as exc:
        raise DataError(
            f"'{path}': array '{name}' cannot be read without pickle ({exc}).",
            hint="Save plain numeric arrays (numpy.save / numpy.savez).",
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"'{path}': array '{name}' is damaged ({exc}).") from None
    return array


def _features(X: Any, source: str) -> Any:
    if X.dtype.kind not in "fiub":
        raise DataError(f"{source}: expected numeric features, found dtype {X.dtype}.")
    if X.ndim == 0 or X.shape[0] == 0:
        raise DataError(f"{source}: expected a non-empty 2-D array (n_samples, n_features), got shape {X.shape}.")
    if X.ndim == 1:
        return np.asarray(X).reshape(-1, 1)
    if X.ndim != 2:
        # Flattening silently would hide a mistake (an image stack meant for another tool).
        raise DataError(
            f"{source}: expected a 2-D array (n_samples, n_features), got shape {X.shape}.",
            hint="Flatten each sample first, e.g. X.reshape(len(X), -1), if that is what you mean.",
        )
    return X


def _targets(raw: Any, n: int, source: str) -> np.ndarray | None:
    if raw is None:
        return None
    y: np.ndarray = np.asarray(raw)
    if y.dtype.kind == "S":
        y = y.astype(str)
    if y.ndim == 0 or len(y) != n:
        raise DataError(f"{source}: X has {n} rows but y has {y.shape[0] if y.ndim else 0}.")
    if y.ndim > 1 and y.shape[1:] != (1,) * (y.ndim - 1):
        raise DataError(
            f"{source}: expected one target per row (y of shape ({n},)), got shape {y.shape}.",
            hint="dlcli predicts one target; for class labels stored one-hot, save y.argmax(axis=1).",
        )
    return y.reshape(n) if y.ndim > 1 else y


def _open_hdf5(path: str | Path, need_y: bool, sha256: str) -> ArrayStore:
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"'{path}' is not a readable HDF5 file ({exc}).") from None
    try:
        X = handle.get("X")
        if not isinstance(X, h5py.Dataset):
            found = "a group" if X is not None else "no dataset"
            raise DataError(f"'{path}' has {found} '/X', expected a 2-D numeric dataset.", hint=H5_HINT)
        X = _features(X, f"{path}:/X")
        y = handle.get("y")
        if y is not None and not isinstance(y, h5py.Dataset):
            raise DataError(f"'{path}': '/y' is a group, expected a dataset.", hint=H5_HINT)
        if need_y and y is None:
            raise DataError(f"'{path}' has no dataset '/y'.", hint=H5_HINT)
        return ArrayStore(
            X, _targets(None if y is None else y[...], X.shape[0], str(path)), str(path), sha256, closer=handle
        )
    except BaseException:
        handle.close()
        raise
