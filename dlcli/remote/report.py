"""The result of a push, pull or background upload, built from the workers' outcomes.

Workers never touch a report: each transfer returns an :class:`Outcome`, and the report is
assembled from them once the pool is done, in plan order, so totals are exact with any
number of threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from dlcli.errors import DlcliError
from dlcli.remote.store import FileState


@dataclass(frozen=True)
class Outcome:
    """What one transfer did: ``size`` bytes moved and the stored state, or an ``error``."""

    key: str
    size: int = 0
    stored: FileState | None = None
    error: str | None = None


def attempt(key: str, work: Callable[[], FileState | None], size: int | None = None) -> Outcome:
    """Run one transfer; a failure becomes the outcome's error, so the others go on.

    ``size`` defaults to the size of the state ``work`` returns.
    """
    try:
        stored = work()
    except DlcliError as exc:
        return Outcome(key, error=exc.message)
    except OSError as exc:  # a local file: vanished, unreadable, disk full
        return Outcome(key, error=f"{exc.strerror or exc} ({exc.filename or key})")
    moved = size if size is not None else (stored.size if stored is not None else 0)
    return Outcome(key, moved, stored)


@dataclass
class SyncReport:
    """What a sync did. ``failed`` holds ``{"key": ..., "error": ...}`` entries."""

    direction: str = "push"  # "push" or "pull"
    uploaded: list[str] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    bytes: int = 0
    dry_run: bool = False
    destination: str = ""

    @classmethod
    def from_outcomes(
        cls,
        direction: str,
        destination: str,
        outcomes: Iterable[Outcome],
        *,
        skipped: Iterable[str] = (),
        deleted: Iterable[str] = (),
        failed_deletes: Mapping[str, str] | None = None,
        dry_run: bool = False,
    ) -> SyncReport:
        """The report of a sync: transfers from ``outcomes``, deletes minus the failed ones."""
        done = list(outcomes)
        refused = dict(failed_deletes or {})
        moved = [o.key for o in done if o.error is None]
        report = cls(direction=direction, destination=destination, dry_run=dry_run)
        report.transferred.extend(moved)
        report.skipped = list(skipped)
        report.deleted = [key for key in deleted if key not in refused]
        report.failed = [{"key": o.key, "error": o.error} for o in done if o.error is not None]
        report.failed += [{"key": key, "error": error} for key, error in refused.items()]
        report.bytes = sum(o.size for o in done if o.error is None)
        return report

    @property
    def transferred(self) -> list[str]:
        """The keys moved: ``downloaded`` for a pull, ``uploaded`` otherwise."""
        return self.downloaded if self.direction == "pull" else self.uploaded

    def to_dict(self) -> dict[str, object]:
        """The documented JSON shape ("downloaded" in place of "uploaded" for pull)."""
        moved = "downloaded" if self.direction == "pull" else "uploaded"
        return {
            moved: sorted(self.transferred),
            "skipped": sorted(self.skipped),
            "deleted": sorted(self.deleted),
            "failed": sorted(self.failed, key=lambda f: f["key"]),
            "bytes": self.bytes,
            "dry_run": self.dry_run,
            "destination": self.destination,
        }

    def summary(self) -> str:
        """One human line, e.g. "uploaded 3 files (1.2 MB), skipped 10, deleted 0, failed 0"."""
        moved = "downloaded" if self.direction == "pull" else "uploaded"
        verb = f"would have {moved}" if self.dry_run else moved
        return (
            f"{verb} {len(self.transferred)} file(s) ({_human(self.bytes)}), skipped {len(self.skipped)}, "
            f"deleted {len(self.deleted)}, failed {len(self.failed)}"
            + (f" -> {self.destination}" if self.destination else "")
        )


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
