"""``dlcli cache``: what the local cache holds, and emptying it.

The cache directory (``remote.cache_dir``, else ``$DLCLI_CACHE_DIR``, else ``~/.cache/dlcli``)
holds ``tables/`` (the binary copies of CSV/Parquet/Feather files that training reads),
``objects/`` (``s3://`` datasets and models fetched once) and ``hashes.json`` (the SHA-256s of
local files already hashed). Everything in it can be rebuilt, so clearing it only costs time.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dlcli.config import Config
from dlcli.files import is_temporary

from .remotes import sync_options


@dataclass
class CacheEntry:
    kind: str  # "table", "object", "temporary" or "index"
    path: str
    bytes: int
    modified: float
    source: str = ""
    rows: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def cache_location(cfg: Config) -> Path:
    from dlcli.remote.settings import cache_dir

    return cache_dir(sync_options(cfg))


def cache_entries(root: Path) -> list[CacheEntry]:
    """Every file in the cache, tables with the file they were read from and their rows."""
    entries: list[CacheEntry] = []
    if not root.is_dir():
        return entries
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        stat = path.stat()
        entry = CacheEntry(_kind(root, path), str(path), stat.st_size, stat.st_mtime)
        if entry.kind == "table":
            entry.source, entry.rows = _table_origin(path)
        elif entry.kind == "object":
            entry.source = path.name
        entries.append(entry)
    return entries


def clear_cache(root: Path) -> tuple[int, int]:
    """Remove everything in the cache; returns (files, bytes) removed."""
    entries = cache_entries(root)
    for sub in ("tables", "objects"):
        shutil.rmtree(root / sub, ignore_errors=True)
    for entry in entries:
        Path(entry.path).unlink(missing_ok=True)
    return len(entries), sum(e.bytes for e in entries)


def _kind(root: Path, path: Path) -> str:
    if is_temporary(path.name):
        return "temporary"  # left by a killed write; swept by the next build, or by clear
    top = path.relative_to(root).parts[0]
    return {"tables": "table", "objects": "object"}.get(top, "index")


def _table_origin(path: Path) -> tuple[str, int | None]:
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            return str(handle.attrs.get("source", "")), int(handle.attrs.get("rows", 0))
    except (OSError, KeyError, ValueError):
        return "(unreadable)", None


def age(seconds: float) -> str:
    """``3 min``, ``5 h``, ``2 d``: how long ago a timestamp was."""
    delta = max(0.0, time.time() - seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if delta >= size:
            return f"{int(delta // size)} {unit}"
    return f"{int(delta)} s"
