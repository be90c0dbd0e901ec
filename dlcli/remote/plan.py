"""Sync planning: a pure function from the two sides' file states to a list of actions.

No network, no file system: what equality means is the comparison strategy's
(:class:`~dlcli.remote.compare.Comparator`), so the plan is testable over pairs of file
states alone, with a fake hasher where foreign objects are involved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from dlcli.remote.compare import Comparator, Verdict
from dlcli.remote.store import FileState

Compare = Callable[[str, FileState, FileState], Verdict]


class Op(StrEnum):
    TRANSFER = "transfer"
    SKIP = "skip"
    DELETE = "delete"


@dataclass(frozen=True)
class Action:
    """One step of a plan; ``size`` is the bytes a transfer moves (or the deleted file's size)."""

    op: Op
    key: str
    size: int = 0


def plan(
    source: Mapping[str, FileState],
    target: Mapping[str, FileState],
    *,
    delete: bool = False,
    compare: Compare | None = None,
) -> list[Action]:
    """Actions that make ``target`` hold ``source``'s content, in key order.

    A file is transferred when it is missing on the target or ``compare`` does not say it is
    the same (unknown is treated as different: re-sending is safe, skipping is not). With
    ``delete``, target files absent from the source are deleted. ``compare`` defaults to a
    :class:`~dlcli.remote.compare.Comparator` without a hasher.
    """
    decide = compare or Comparator().compare
    actions = []
    for key in sorted(source):
        state = source[key]
        existing = target.get(key)
        same = existing is not None and decide(key, state, existing) is Verdict.SAME
        actions.append(Action(Op.SKIP if same else Op.TRANSFER, key, state.size))
    if delete:
        actions.extend(Action(Op.DELETE, key, target[key].size) for key in sorted(set(target) - set(source)))
    return actions
