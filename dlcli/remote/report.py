"""The result of a push, pull or background upload."""

from __future__ import annotations

from dataclasses import dataclass, field


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

    @property
    def transferred(self) -> list[str]:
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
