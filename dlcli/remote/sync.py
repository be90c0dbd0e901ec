"""push and pull: one pipeline for both directions.

1. **List** both sides: the local side is a :class:`~dlcli.remote.local.LocalStore` (the tree
   pushed from, the directory pulled into); the other side is whatever
   :func:`~dlcli.remote.store.open_store` opens for the URL.
2. **Compare and plan** (pure): :func:`~dlcli.remote.plan.plan` with the comparison strategy
   of :mod:`dlcli.remote.compare`, which hashes a local file only for a pair that needs it.
3. **Execute** the transfers in a thread pool; each worker returns an
   :class:`~dlcli.remote.report.Outcome`, and the report is built after the pool.
4. **Finish**: deletes, then the written store commits (the S3 store writes its manifest).

Before executing, the written store clears what an interrupted sync left (``recover``:
abandoned temporary files, stale multipart uploads); a local destination that is a file is
refused before anything is listed.

A push writes to the other store with ``put``; a pull reads from it with ``get``. Nothing else
in the pipeline depends on the direction or on the backend.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from dlcli.errors import RemoteUsageError
from dlcli.remote.compare import Comparator
from dlcli.remote.hashing import HashCache
from dlcli.remote.local import LocalStore
from dlcli.remote.paths import check_relative_key
from dlcli.remote.plan import Action, Op, plan
from dlcli.remote.report import Outcome, SyncReport, attempt
from dlcli.remote.settings import SyncOptions, cache_dir
from dlcli.remote.store import Changes, FileState, Store, open_store
from dlcli.remote.url import LocalRemote, Remote, parse_remote

States = dict[str, FileState]
S = TypeVar("S", bound=Store)
R = TypeVar("R", LocalRemote, Remote)


def push(src: Path, dest: str, options: SyncOptions) -> SyncReport:
    """Make the remote ``dest`` hold the files of ``src`` (a file or directory), deciding by content."""
    src = Path(src)
    if not src.exists():
        raise RemoteUsageError(f"Nothing to push: '{src}' does not exist.", hint="Check the path of SRC.")
    remote = parse_remote(dest)
    if isinstance(remote, LocalRemote):
        check_directory(remote.path, "push")
    hashes = HashCache(cache_dir(options) / "hashes.json")
    local, source = _one_or_all(LocalRemote(src), lambda r: LocalStore(r.path, hashes))
    store = open_store(remote, options, hashes=hashes)
    report = _sync(True, local, source, store, store.states(), options, str(remote))
    hashes.save()
    return report


def pull(src: str, dest: Path, options: SyncOptions) -> SyncReport:
    """Make the local directory ``dest`` hold the files of the remote ``src``, each one verified."""
    remote = parse_remote(src)
    check_directory(Path(dest), "pull")  # before the network: one error, not one per file
    hashes = HashCache(cache_dir(options) / "hashes.json")
    store, source = _one_or_all(remote, lambda r: open_store(r, options, hashes=hashes))
    if not source and (why := store.absent()) is not None:  # a typo must not look like an empty pull
        raise RemoteUsageError(
            f"Nothing to pull: {why}.", hint="Check SRC: a directory, or the bucket and prefix of s3://bucket/prefix."
        )
    local = LocalStore(Path(dest), hashes)
    report = _sync(False, local, local.states(), store, source, options, str(local.root))
    hashes.save()
    return report


def check_directory(path: Path, direction: str) -> None:
    """Refuse a destination directory that is a file, or lies under one (it is created when missing)."""
    for existing in (path, *path.parents):
        if existing.is_dir():
            return
        if existing.exists() or existing.is_symlink():
            what = "it is" if existing == path else f"'{existing}' is"
            raise RemoteUsageError(
                f"Cannot {direction} into '{path}': {what} a file, not a directory.",
                hint="DEST is a directory (created when missing): give another path, or move the file away.",
            )


def _one_or_all(remote: R, open_: Callable[[R], S]) -> tuple[S, States]:
    """The store at ``remote`` and its files; when it lists nothing and the URL may name one
    file (``s3://bucket/dir/file.h5``, a local file), the store at its parent and that file."""
    store = open_(remote)
    states = store.states()
    if not states and (split := remote.as_object()) is not None:
        parent_remote, name = split
        parent = open_(parent_remote)
        if (state := parent.stat(name)) is not None:
            return parent, {name: state}
    return store, states


def _sync(
    push: bool,
    local: LocalStore,
    local_states: States,
    other: Store,
    other_states: States,
    options: SyncOptions,
    to: str,
) -> SyncReport:
    """The pipeline once both sides are listed; ``push`` says which side is the source."""
    mine, theirs = _filter(local_states, options), _filter(other_states, options)
    source, target = (mine, theirs) if push else (theirs, mine)
    if not push:
        for key in source:
            check_relative_key(key)  # refuse the whole pull before writing anything
    actions = plan(source, target, delete=options.delete, compare=Comparator(local).compare)
    todo = [a for a in actions if a.op is Op.TRANSFER]
    skipped = [a.key for a in actions if a.op is Op.SKIP]
    doomed = [a.key for a in actions if a.op is Op.DELETE]
    if options.on_total:
        options.on_total(sum(a.size for a in todo))
    direction = "push" if push else "pull"
    if options.dry_run:
        planned = [Outcome(a.key, a.size) for a in todo]
        return SyncReport.from_outcomes(direction, to, planned, skipped=skipped, deleted=doomed, dry_run=True)
    written = other if push else local
    if (cleared := written.recover()) and options.on_notice:
        options.on_notice(cleared)
    outcomes = execute(todo, _transfer(push, local, other, source, options), options.jobs)
    refused = written.delete(doomed) if doomed else {}
    stored = {o.key: o.stored for o in outcomes if o.stored is not None}
    written.finish(Changes(stored, [key for key in doomed if key not in refused]))
    return SyncReport.from_outcomes(direction, to, outcomes, skipped=skipped, deleted=doomed, failed_deletes=refused)


def _transfer(
    push: bool, local: LocalStore, other: Store, source: States, options: SyncOptions
) -> Callable[[str], FileState | None]:
    """Move one key: ``put`` it to the other store (push) or ``get`` it from there (pull)."""

    def put(key: str) -> FileState:
        return other.put(local.path(key), key, source[key].sha256 or "", options.on_bytes)

    def get(key: str) -> FileState:
        other.get(key, local.root, source[key], options.on_bytes)
        return source[key]

    return put if push else get


def execute(actions: list[Action], transfer: Callable[[str], FileState | None], jobs: int) -> list[Outcome]:
    """Run ``transfer(key)`` for each action in a pool of ``jobs`` threads.

    Returns the outcomes in the order of ``actions``; a failure is an outcome, the others go on.
    """
    if not actions:
        return []

    def one(action: Action) -> Outcome:
        return attempt(action.key, lambda: transfer(action.key), action.size)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, actions))


def selected(key: str, options: SyncOptions) -> bool:
    """A key is synced when it matches an include pattern (if any are given) and no exclude pattern."""
    if options.include and not any(matches(key, g) for g in options.include):
        return False
    return not any(matches(key, g) for g in options.exclude)


def matches(key: str, pattern: str) -> bool:
    """``pattern`` (a glob) matches ``key`` itself or one of the folders it lies in, so
    ``--exclude checkpoints`` (or ``checkpoints/``) leaves out the whole folder, as rsync does."""
    pattern = pattern.rstrip("/") or pattern
    if fnmatch.fnmatch(key, pattern):
        return True
    parts = key.split("/")
    return any(fnmatch.fnmatch("/".join(parts[:i]), pattern) for i in range(1, len(parts)))


def _filter(states: Mapping[str, FileState], options: SyncOptions) -> States:
    return {k: v for k, v in states.items() if selected(k, options)}
