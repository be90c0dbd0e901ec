"""Remotes: sync files to and from ``s3://bucket/prefix`` or a local directory, decided by content.

boto3 is imported only inside the S3 code paths, and the names below are imported from their
modules when first used, so ``import dlcli.remote`` — which every ``import dlcli.remote.settings``
(the configuration's checksum modes) runs first — does not load the sync machinery
(thread pools, hashing, the stores).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# `plan` is both a module and the function exported here: imported now, so that a later import
# of the module (the sync does one) cannot replace the function on the package.
from dlcli.remote.plan import Action, Op, plan

if TYPE_CHECKING:
    from dlcli.remote.cache import fetch
    from dlcli.remote.compare import Comparator, Verdict
    from dlcli.remote.report import SyncReport
    from dlcli.remote.settings import SyncOptions
    from dlcli.remote.store import FileState, Store, open_store
    from dlcli.remote.sync import pull, push
    from dlcli.remote.uploader import BackgroundUploader
    from dlcli.remote.url import LocalRemote, S3Remote, is_s3_url, parse_remote

_MODULE_OF = {
    "fetch": "cache",
    "Comparator": "compare",
    "Verdict": "compare",
    "SyncReport": "report",
    "SyncOptions": "settings",
    "FileState": "store",
    "Store": "store",
    "open_store": "store",
    "pull": "sync",
    "push": "sync",
    "BackgroundUploader": "uploader",
    "LocalRemote": "url",
    "S3Remote": "url",
    "is_s3_url": "url",
    "parse_remote": "url",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})


__all__ = [
    "Action",
    "BackgroundUploader",
    "Comparator",
    "FileState",
    "LocalRemote",
    "Op",
    "S3Remote",
    "Store",
    "SyncOptions",
    "SyncReport",
    "Verdict",
    "fetch",
    "is_s3_url",
    "open_store",
    "parse_remote",
    "plan",
    "pull",
    "push",
]
