"""Every bad input in the corpus ends with its documented exit code and one clear error line.

Each case runs ``python -m dlcli`` in a subprocess, in a fresh working directory, with a
timeout (a hang fails the case). All cases run once, concurrently, in a session fixture; each
test item then checks one case's outcome, so a failure names the input.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from .cases import Case, all_cases

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
TIMEOUT = 60
# Runs of the CLI are mostly interpreter start-up; more than the cores keeps them busy.
WORKERS = max(2, 2 * (os.cpu_count() or 1))
IDS = [case.id for case in all_cases(Path("model.h5"), Path("ckpt.h5"), Path("data.csv"))]


@dataclass
class Outcome:
    case: Case
    exit_code: int | None  # None: killed at the timeout
    stderr: str
    leftovers: list[str]


def _leftovers(root: Path, case: Case) -> list[str]:
    """Temporary files, and anything in the output directory (a failed command writes nothing)."""
    found = []
    for path in root.rglob("*"):
        name = path.name
        if name.startswith(".dlcli-tmp-") or name.endswith(".tmp"):
            found.append(str(path.relative_to(root)))
    out = root / "out"
    if out.is_dir():
        given = {str(root / name) for name in case.files}  # a checkpoint to resume lives there
        found += [str(p.relative_to(root)) for p in out.rglob("*") if p.is_file() and str(p) not in given]
    return found


def _run(case: Case, root: Path, cache: Path) -> Outcome:
    root.mkdir(parents=True)
    for name, write in case.files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        write(root / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DLCLI_", "AWS_"))}
    env.update({"DLCLI_CACHE_DIR": str(cache), "HOME": str(root), "NO_COLOR": "1", "OMP_NUM_THREADS": "1"})
    env.update(case.env)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "dlcli", *case.argv],
            cwd=root,
            env=env,
            input=case.stdin or b"",
            capture_output=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if exc.stderr else ""
        return Outcome(case, None, stderr, _leftovers(root, case))
    return Outcome(case, done.returncode, done.stderr.decode(errors="replace"), _leftovers(root, case))


@pytest.fixture(scope="session")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    from dlcli.config import load_config
    from dlcli.workflows.training import prepare_training

    from .cases import csv_text

    base = tmp_path_factory.mktemp("corpus")
    data = base / "data.csv"
    data.write_text(csv_text())
    overrides = {
        "data.path": str(data),
        "data.target": "y",
        "train.epochs": 3,
        "train.checkpoint_every": 1,
        "output.out": str(base / "run"),
    }
    run = prepare_training(load_config(None, overrides, environ={}))
    for _ in run.records():
        pass
    run.finish()
    cases = all_cases(base / "run" / "model.h5", base / "run" / "checkpoints" / "epoch-0002.h5", data)
    assert [case.id for case in cases] == IDS
    with ThreadPoolExecutor(WORKERS) as pool:
        futures = {c.id: pool.submit(_run, c, base / "cases" / c.id, base / "cache") for c in cases}
        return {case_id: future.result() for case_id, future in futures.items()}


def test_the_corpus_is_large() -> None:
    assert len(IDS) >= 150


@pytest.mark.parametrize("case_id", IDS)
def test_bad_input(outcomes: dict[str, Outcome], case_id: str) -> None:
    outcome = outcomes[case_id]
    case, stderr = outcome.case, outcome.stderr
    assert outcome.exit_code is not None, f"hung for {TIMEOUT} s: dlcli {' '.join(case.argv)}\n{stderr}"
    assert "Traceback" not in stderr, stderr
    assert "Unexpected internal error" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, f"expected one Error: line, got:\n{stderr}"
    assert outcome.exit_code == case.exit_code, f"exit {outcome.exit_code}, expected {case.exit_code}:\n{stderr}"
    assert not outcome.leftovers, f"left behind: {outcome.leftovers}"
