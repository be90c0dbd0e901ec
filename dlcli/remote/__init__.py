"""Remotes: sync files to and from ``s3://bucket/prefix`` or a local directory, decided by content.

boto3 is imported only inside the S3 code paths, so ``import dlcli.remote`` stays cheap.
"""

from dlcli.remote.cache import fetch
from dlcli.remote.compare import Comparator, Verdict
from dlcli.remote.plan import Action, Op, plan
from dlcli.remote.report import SyncReport
from dlcli.remote.settings import SyncOptions
from dlcli.remote.store import FileState, Store, open_store
from dlcli.remote.sync import pull, push
from dlcli.remote.uploader import BackgroundUploader
from dlcli.remote.url import LocalRemote, S3Remote, is_s3_url, parse_remote

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
