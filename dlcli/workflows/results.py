"""What a training run returns to its caller: where the model went, how it did, what it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dlcli.errors import RemoteError


@dataclass
class TrainResult:
    model: str
    run_dir: str
    epochs_run: int
    best_epoch: int
    history: list[dict[str, Any]]
    metrics: dict[str, float]
    samples_per_second: float
    seconds: float
    pushed: list[str] = field(default_factory=list)
    # The final upload failed: the run is complete on disk, this error says how to finish it.
    push_error: RemoteError | None = None
    # What model.h5 is and what the metrics measure (see workflows/provenance.py).
    trained_as: str = ""
    metrics_from: str = ""

    def to_json(self, history: bool = False) -> dict[str, Any]:
        """The result as JSON; the per-epoch ``history`` (also in history.jsonl) only if asked."""
        failed = None if self.push_error is None else {"error": self.push_error.message, "hint": self.push_error.hint}
        return {
            "model": self.model,
            "run_dir": self.run_dir,
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "metrics": self.metrics,
            "samples_per_second": self.samples_per_second,
            "seconds": self.seconds,
            "pushed": self.pushed,
            "push_failed": failed,
            "trained_as": self.trained_as,
            "metrics_from": self.metrics_from,
        } | ({"history": self.history} if history else {})
