"""Does tuning pay? ``dlcli tune`` against dlcli's defaults and scikit-learn's search.

For the bundled samples (iris, housing, churn) and digits, wine, breast cancer and diabetes
(exported from scikit-learn), over several random 75/25 train/test splits, interleaved per
split:

- dlcli defaults: ``dlcli train`` with no tuning flags;
- dlcli tune: ``dlcli tune --trials N --workers 2`` over the [tune] section ``dlcli init``
  writes (lr, hidden widths, dropout, weight decay, batch size), then its model.h5;
- scikit-learn: ``HalvingRandomSearchCV`` (5-fold, factor 3, epochs as the resource, N
  candidates, 2 jobs) over ``MLPClassifier``/``MLPRegressor`` with the comparable space
  (learning_rate_init, hidden_layer_sizes, alpha, batch_size), refit on the training part;
- the regressions (diabetes, housing) also: ridge regression (alpha 1).

dlcli reads each split as CSV text (churn's categories as they are); scikit-learn gets the
same rows as numbers, categories one-hot encoded.

Every model is scored on the same test part; wall times are the whole command or fit.
scikit-learn is a benchmark reference only. Writes the tune section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _report import summary, write_section

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_TARGETS = {"iris": "species", "housing": "price_k", "churn": "churned"}
SKLEARN = ("wine", "breast_cancer", "digits", "diabetes")
DATASETS = (*SAMPLE_TARGETS, *SKLEARN)
REGRESSION = {"housing", "diabetes"}


def tunes(cv: int) -> dict[str, list[object]]:
    """The dlcli tune contenders: its default (one validation split) and, with ``cv``, k-fold."""
    return {"dlcli tune": [], **({f"dlcli tune --cv {cv}": ["--cv", cv]} if cv else {})}


def tune_section() -> str:
    from dlcli.workflows.scaffold import TUNE_SECTION

    return TUNE_SECTION


def dlcli(*args: object, cwd: Path) -> tuple[dict, float]:
    env = {**os.environ, "NO_COLOR": "1"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "dlcli", *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=3600
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"dlcli {' '.join(map(str, args))} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout), seconds


def test_score(model: Path, test: Path, regression: bool, cwd: Path) -> float:
    metrics, _ = dlcli("eval", model, test, "--json", cwd=cwd)
    found = metrics.get("metrics", metrics)
    return float(found["r2"] if regression else found["accuracy"])


def sklearn_search(X_tr, y_tr, X_te, y_te, regression: bool, seed: int, candidates: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    from scipy.stats import loguniform  # scipy comes with scikit-learn
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV, KFold, StratifiedKFold
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    space = {
        "mlp__learning_rate_init": loguniform(1e-4, 3e-2),
        "mlp__hidden_layer_sizes": [(), (32,), (64, 32), (128, 64), (256, 128, 64)],
        "mlp__alpha": loguniform(1e-4, 1),
        "mlp__batch_size": [32, 64, 128],
    }
    estimator = (MLPRegressor if regression else MLPClassifier)(random_state=seed, max_iter=300)
    pipeline = Pipeline([("scale", StandardScaler()), ("mlp", estimator)])
    folds = (
        KFold(5, shuffle=True, random_state=seed) if regression else StratifiedKFold(5, shuffle=True, random_state=seed)
    )
    search = HalvingRandomSearchCV(
        pipeline,
        space,
        n_candidates=candidates,
        factor=3,
        resource="mlp__max_iter",
        min_resources=10,
        max_resources=300,
        cv=folds,
        n_jobs=2,
        random_state=seed,
    )
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X_tr, y_tr)
    seconds = time.perf_counter() - started
    return float(search.score(X_te, y_te)), seconds


def ridge_score(X_tr, y_tr, X_te, y_te) -> float:  # type: ignore[no-untyped-def]
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return float(make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(X_tr, y_tr).score(X_te, y_te))


def load(name: str) -> tuple[list[list[str]], np.ndarray, np.ndarray]:
    """The rows as CSV text with the target last (what dlcli reads; the header first) and
    ``X, y`` as numbers (what scikit-learn fits: categories one-hot encoded)."""
    if name not in SAMPLE_TARGETS:
        from sklearn import datasets

        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        text = [
            [*map(repr, row), repr(t) if name in REGRESSION else str(t)]
            for row, t in zip(X.tolist(), y.tolist(), strict=True)
        ]
        return [[*(f"f{i}" for i in range(X.shape[1])), "target"], *text], X, y
    with open(ROOT / "samples" / name / f"{name}.csv", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    target = header.index(SAMPLE_TARGETS[name])
    features = [j for j in range(len(header)) if j != target]
    columns = []
    for j in features:
        values = np.array([row[j] for row in rows])
        try:
            columns.append(values.astype(float)[:, None])
        except ValueError:  # a categorical column: one-hot, for scikit-learn
            columns.append((values[:, None] == np.unique(values)[None, :]).astype(float))
    labels = np.array([row[target] for row in rows])
    text = [[*(row[j] for j in features), row[target]] for row in rows]
    return (
        [[*(header[j] for j in features), "target"], *text],
        np.hstack(columns),
        (labels.astype(float) if name in REGRESSION else labels),
    )


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--cv", type=int, default=5, help="also dlcli tune --cv K (0: not)")
    args = parser.parse_args()
    from sklearn.model_selection import train_test_split

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-tune-"))
    names = args.datasets.split(",")
    scores: dict[str, dict[str, list[float]]] = {n: {} for n in names}
    seconds: dict[str, dict[str, list[float]]] = {n: {} for n in names}

    def add(name: str, what: str, score: float, wall: float | None = None) -> None:
        scores[name].setdefault(what, []).append(score)
        if wall is not None:
            seconds[name].setdefault(what, []).append(wall)
        print(f"{name:14} {what:20} {score:.4f}" + (f"  {wall:6.1f} s" if wall is not None else ""), flush=True)

    for split in range(args.splits):
        for name in names:  # interleaved: every contender of a split runs before the next split
            (header, *rows), X, y = load(name)
            regression = name in REGRESSION
            stratify = None if regression else y
            train, test = train_test_split(np.arange(len(y)), test_size=0.25, random_state=split, stratify=stratify)
            X_tr, X_te, y_tr, y_te = X[train], X[test], y[train], y[test]
            here = workdir / f"{name}-{split}"
            here.mkdir(parents=True, exist_ok=True)
            write_rows(here / "train.csv", [header, *(rows[i] for i in train)])
            write_rows(here / "test.csv", [header, *(rows[i] for i in test)])
            (here / "dlcli.toml").write_text(
                f'[data]\npath = "train.csv"\ntarget = "target"\n[train]\nseed = {split}\n\n' + tune_section()
            )
            _, wall = dlcli("train", "dlcli.toml", "--out", "defaults", "--force", "--quiet", "--json", cwd=here)
            add(
                name,
                "dlcli defaults",
                test_score(here / "defaults" / "model.h5", here / "test.csv", regression, here),
                wall,
            )
            for label, extra in tunes(args.cv).items():
                tuned = here / label.replace(" ", "").replace("-", "")
                if tuned.exists():
                    shutil.rmtree(tuned)
                _, wall = dlcli(
                    "tune", "dlcli.toml", "--trials", args.trials, "--workers", 2, "--out", tuned.name, "--quiet",
                    "--json", *extra, cwd=here,
                )  # fmt: skip
                add(name, label, test_score(tuned / "model.h5", here / "test.csv", regression, here), wall)
            score, wall = sklearn_search(X_tr, y_tr, X_te, y_te, regression, split, args.trials)
            add(name, "sklearn halving", score, wall)
            if regression:
                add(name, "ridge", ridge_score(X_tr, y_tr, X_te, y_te))
        report(scores, seconds, args, split + 1)  # after each split: figures so far, if the run is cut


def report(scores: dict, seconds: dict, args: argparse.Namespace, splits: int) -> None:
    import numpy
    import optuna
    import sklearn

    labels = list(tunes(args.cv))
    lines = [
        "## Tuning (`bench/tune.py`)",
        f"Test-set score (accuracy; R² for {' and '.join(sorted(REGRESSION))}) over {splits} random 75/25 "
        "splits, median (min–max); wall seconds of the whole command or fit, median (min–max); Δ: the median "
        f"of the per-split differences (the same rows). `dlcli tune --trials {args.trials} --workers 2` "
        + (f"(and with `--cv {args.cv}`) " if args.cv else "")
        + "over the [tune] section `dlcli init` writes, then its model.h5; scikit-learn's `HalvingRandomSearchCV` "
        f"(5-fold, factor 3, epochs as the resource from 10 to 300, {args.trials} candidates, `n_jobs=2`) over "
        "MLPClassifier/MLPRegressor with the comparable space. The contenders of a split run one after another "
        "(interleaved).",
        f"Command: `python bench/tune.py --splits {args.splits} --trials {args.trials} --cv {args.cv}`, "
        f"{time.strftime('%Y-%m-%d')}; Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} "
        f"CPUs; numpy {numpy.__version__}, optuna {optuna.__version__}, scikit-learn {sklearn.__version__}.",
        "",
    ]

    def cell(values: list[float], digits: int = 3) -> str:
        mid, lo, hi = summary(values)
        return f"{mid:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f})"

    def gap(a: list[float], b: list[float]) -> float:
        return float(np.median(np.subtract(a, b)))

    head = ["dataset", "dlcli defaults", *labels, "sklearn halving search", "ridge"]
    head += [f"{label.removeprefix('dlcli ')} − defaults" for label in labels]
    head += [f"{label.removeprefix('dlcli ')} − sklearn" for label in labels]
    head += [f"{label.removeprefix('dlcli ')} s" for label in labels] + ["sklearn s"]
    lines += ["| " + " | ".join(head) + " |", "|---|" + "---|" * (len(head) - 1)]
    for name, found in scores.items():
        cells = [name, cell(found["dlcli defaults"]), *(cell(found[label]) for label in labels)]
        cells += [cell(found["sklearn halving"]), cell(found["ridge"]) if "ridge" in found else ""]
        cells += [f"{gap(found[label], found['dlcli defaults']):+.3f}" for label in labels]
        cells += [f"{gap(found[label], found['sklearn halving']):+.3f}" for label in labels]
        cells += [cell(seconds[name][label], 1) for label in labels] + [cell(seconds[name]["sklearn halving"], 1)]
        lines.append("| " + " | ".join(cells) + " |")
    compared = [n for n in scores if n in SKLEARN]
    verdict = lambda ok: "met" if ok else "missed"  # noqa: E731
    lines += ["", "Targets (issue 11):"]
    for label in labels:
        below = [n for n, f in scores.items() if gap(f[label], f["dlcli defaults"]) < 0]
        beaten = [
            n
            for n in compared
            if gap(scores[n][label], scores[n]["sklearn halving"]) >= 0
            and np.median(seconds[n][label]) <= np.median(seconds[n]["sklearn halving"])
        ]
        line = f"- `{label}`: ≥ defaults on every dataset: {verdict(not below)}"
        line += f" (below on {', '.join(below)})" if below else ""
        line += "; ≥ scikit-learn's search at no more wall time on 3 of the 4 scikit-learn datasets: "
        line += f"{verdict(len(beaten) >= min(3, len(compared)))} ({len(beaten)} of {len(compared)}"
        line += f": {', '.join(beaten)})" if beaten else ")"
        if "diabetes" in scores:
            tuned, ridge = np.median(scores["diabetes"][label]), np.median(scores["diabetes"]["ridge"])
            line += f"; diabetes R² ≥ ridge's: {verdict(tuned >= ridge)} ({tuned:.3f} against {ridge:.3f})"
        lines.append(line + ".")
    body = "\n".join(lines)
    print(body)
    write_section("tune", body)


if __name__ == "__main__":
    main()
