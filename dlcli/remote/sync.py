"""push and pull: list both sides -> compare -> plan (pure, in plan.py) -> execute in parallel."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from dlcli.errors import DlcliError, RemoteError, RemoteUsageError
from dlcli.files import atomic_path
from dlcli.remote.hashing import HashCache, hash_file, multipart_etag
from dlcli.remote.local import atomic_copy, delete_local, list_local, walk
from dlcli.remote.paths import check_relative_key, safe_destination
from dlcli.remote.plan import FileState, Op, is_multipart_etag, plan
from dlcli.remote.report import SyncReport
from dlcli.remote.settings import SyncOptions, cache_dir
from dlcli.remote.url import LocalRemote, S3Remote, parse_remote


def selected(key: str, options: SyncOptions) -> bool:
    """A key is synced when it matches an --include (if any are given) and no --exclude."""
    if options.include and not any(fnmatch.fnmatch(key, g) for g in options.include):
        return False
    return not any(fnmatch.fnmatch(key, g) for g in options.exclude)


def _filter(states: dict[str, FileState], options: SyncOptions) -> dict[str, FileState]:
    return {k: v for k, v in states.items() if selected(k, options)}


def hash_cache(options: SyncOptions) -> HashCache:
    return HashCache(cache_dir(options) / "hashes.json")


def _run(jobs: int, keys: list[str], work: Callable[[str], None], report: SyncReport) -> None:
    """Run ``work(key)`` in a thread pool; a failure is recorded and the others go on."""

    def one(key: str) -> None:
        try:
            work(key)
        except DlcliError as exc:
            report.failed.append({"key": key, "error": exc.message})
        except OSError as exc:
            report.failed.append({"key": key, "error": f"{exc.strerror or exc} ({exc.filename or key})"})

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, keys))


def push(src: Path, dest: str, options: SyncOptions) -> SyncReport:
    """Make the remote ``dest`` hold the files of ``src`` (a file or directory), deciding by SHA-256."""
    src = Path(src)
    if not src.exists():
        raise RemoteUsageError(f"Nothing to push: '{src}' does not exist.", hint="Check the path of SRC.")
    remote = parse_remote(dest)
    hashes = hash_cache(options)
    files = walk(src)
    source = _filter(list_local(src, hashes), options)
    report = SyncReport(direction="push", dry_run=options.dry_run, destination=str(remote))
    if isinstance(remote, LocalRemote):
        target = list_local(remote.path, hashes) if remote.path.is_dir() else {}
        actions = plan(source, _filter(target, options), delete=options.delete)
        _execute_local(
            actions,
            lambda k: atomic_copy(files[k], remote.path, k),
            lambda k: delete_local(remote.path, k),
            options,
            report,
        )
    else:
        _push_s3(remote, files, source, options, report)
    hashes.save()
    return report


def _execute_local(
    actions: list,
    transfer: Callable[[str], object],
    remove: Callable[[str], None],
    options: SyncOptions,
    report: SyncReport,
) -> None:
    moved = report.downloaded if report.direction == "pull" else report.uploaded
    todo = [a for a in actions if a.op is Op.TRANSFER]
    report.skipped.extend(a.key for a in actions if a.op is Op.SKIP)
    if options.on_total:
        options.on_total(sum(a.size for a in todo))
    if options.dry_run:
        moved.extend(a.key for a in todo)
        report.deleted.extend(a.key for a in actions if a.op is Op.DELETE)
        report.bytes = sum(a.size for a in todo)
        return
    sizes = {a.key: a.size for a in todo}

    def work(key: str) -> None:
        transfer(key)
        moved.append(key)
        report.bytes += sizes[key]
        if options.on_bytes:
            options.on_bytes(sizes[key])

    _run(options.jobs, [a.key for a in todo], work, report)
    for action in (a for a in actions if a.op is Op.DELETE):
        try:
            remove(action.key)
            report.deleted.append(action.key)
        except DlcliError as exc:
            report.failed.append({"key": action.key, "error": exc.message})


def _push_s3(
    remote: S3Remote, files: dict[str, Path], source: dict[str, FileState], options: SyncOptions, report: SyncReport
) -> None:
    from dlcli.remote.s3 import S3Store

    store = S3Store(remote, options)
    target, listing = store.states()
    target = _filter(target, options)
    settle_foreign(source, target, files)
    actions = plan(source, target, delete=options.delete)
    etags = {k: v["etag"] for k, v in listing.items()}
    uploaded_etags: dict[str, str] = {}

    def transfer(key: str) -> None:
        uploaded_etags[key] = store.upload(files[key], key, source[key].sha256 or "", options.on_bytes)

    # store.upload reports bytes as they go; _execute_local must not count them a second time.
    _execute_local(actions, transfer, lambda k: store.delete([k]), options.with_(on_bytes=None), report)
    # Rewrite the manifest after any change, and also when some SHA-256 had to come from a HEAD
    # (objects pushed by an older run or by the background uploader), so the next no-op push
    # costs one listing and one manifest read instead of a HEAD per file.
    if options.dry_run or not (report.uploaded or report.deleted or store.manifest_misses):
        return
    entries = {k: {"size": s.size, "sha256": s.sha256, "etag": etags.get(k)} for k, s in target.items() if s.sha256}
    for key in report.uploaded:
        entries[key] = {"size": source[key].size, "sha256": source[key].sha256, "etag": uploaded_etags[key]}
    for key in report.deleted:
        entries.pop(key, None)
    store.write_manifest(entries)


def pull(src: str, dest: Path, options: SyncOptions) -> SyncReport:
    """Make the local directory ``dest`` hold the files of the remote ``src``, verified by SHA-256."""
    remote = parse_remote(src)
    dest = Path(dest)
    hashes = hash_cache(options)
    report = SyncReport(direction="pull", dry_run=options.dry_run, destination=str(dest))
    local = _filter(list_local(dest, hashes), options) if dest.is_dir() else {}
    if isinstance(remote, LocalRemote):
        if not remote.path.exists():
            raise RemoteUsageError(
                f"Nothing to pull: '{remote.path}' does not exist.",
                hint="Check the path of SRC (a directory remote or s3://bucket/prefix).",
            )
        files = walk(remote.path)
        source = _filter(list_local(remote.path, hashes), options)
        for key in source:
            check_relative_key(key)
        actions = plan(source, local, delete=options.delete)
        _execute_local(
            actions,
            lambda k: _verified_copy(files[k], dest, k, source[k]),
            lambda k: delete_local(dest, k),
            options,
            report,
        )
    else:
        _pull_s3(remote, dest, local, options, report)
    hashes.save()
    return report


def _verified_copy(source: Path, dest: Path, key: str, state: FileState) -> None:
    target = atomic_copy(source, dest, key)
    if state.sha256 and hash_file(target)[0] != state.sha256:
        target.unlink(missing_ok=True)
        raise RemoteError(f"'{key}' changed while it was copied; nothing was kept.")


def _pull_s3(
    remote: S3Remote, dest: Path, local: dict[str, FileState], options: SyncOptions, report: SyncReport
) -> None:
    from dlcli.remote.s3 import S3Store

    store = S3Store(remote, options)
    source, _ = store.states()
    if not source and remote.prefix and not remote.trailing_slash:
        store, source = _as_single_object(remote, options) or (store, source)
    if not source:  # a typo in the prefix must not look like a successful, empty pull
        raise RemoteUsageError(
            f"Nothing to pull: no objects under {remote} (endpoint {store.endpoint or 'AWS default'}).",
            hint="Check the bucket and prefix of SRC.",
        )
    source = _filter(source, options)
    for key in source:
        check_relative_key(key)  # refuse the whole pull before writing anything
    settle_foreign(local, source, {key: dest / key for key in local})
    actions = plan(source, local, delete=options.delete)
    _execute_local(
        actions,
        lambda k: download_verified(store, k, dest, source[k], options.on_bytes),
        lambda k: delete_local(dest, k),
        options.with_(on_bytes=None),
        report,
    )


def settle_foreign(local: dict[str, FileState], remote: dict[str, FileState], paths: dict[str, Path]) -> None:
    """Fill in what the local side needs to compare with objects other tools wrote (no SHA-256):
    its MD5 for a plain-MD5 ETag, or its multipart ETag when a likely part size reproduces the
    remote one. Only same-size pairs are hashed; the rest differ anyway."""
    for key, state in list(local.items()):
        other = remote.get(key)
        if other is None or other.sha256 is not None or other.size != state.size:
            continue
        if other.md5:
            local[key] = replace(state, md5=hash_file(paths[key], md5=True)[1])
        elif is_multipart_etag(other.etag):
            local[key] = replace(state, etag=multipart_etag(paths[key], str(other.etag)))


def _as_single_object(remote: S3Remote, options: SyncOptions) -> tuple[object, dict[str, FileState]] | None:
    """``s3://bucket/dir/file.h5`` names one object: pull it as ``file.h5`` into the destination,
    the way a local file source behaves (the store is re-rooted at its parent prefix)."""
    from dlcli.remote.s3 import S3Store

    parent, _, name = remote.prefix.rpartition("/")
    store = S3Store(S3Remote(remote.bucket, parent), options)
    state = store.single_object(name)
    return (store, {name: state}) if state is not None else None


def download_verified(
    store: object, key: str, dest_root: Path, state: FileState, on_bytes: Callable[[int], None] | None
) -> Path:
    """Download into a temporary file beside the target, verify SHA-256 (or the plain MD5), rename."""
    target = safe_destination(dest_root, key)
    with atomic_path(target) as tmp:
        store.download(key, tmp, on_bytes, state.size)  # type: ignore[attr-defined]
        sha, md5 = hash_file(tmp, md5=state.sha256 is None)
        if state.sha256 and sha != state.sha256:
            raise RemoteError(
                f"Checksum mismatch for '{key}': expected SHA-256 {state.sha256}, got {sha}.",
                hint="The object changed during the download or is corrupt; pull again.",
            )
        if state.sha256 is None and state.md5 and md5 != state.md5:
            raise RemoteError(f"Checksum mismatch for '{key}': the ETag MD5 {state.md5} does not match the download.")
    return target
