"""Are the defaults good? dlcli with no tuning flags against scikit-learn references.

For each small tabular dataset bundled with scikit-learn (breast cancer, wine, iris, digits —
classification; diabetes — a small, noisy regression), over several random 75/25
train/test splits: train ``dlcli`` with its defaults on the training part (it holds out its
own validation split for early stopping), score it on the test part, and score
scikit-learn's ``MLPClassifier`` (comparable settings: (64, 32) ReLU, Adam, 300 epochs,
standardised inputs) or ``Ridge`` / a 200-epoch ``MLPRegressor`` on the same split.
Requires scikit-learn (a benchmark-only tool, not a dependency). Writes docs/benchmarks.md.
"""

from __future__ import annotations

import csv
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from _report import summary, write_section

SPLITS = 10


def write_csv(path: Path, X: np.ndarray, y: np.ndarray) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f"f{i}" for i in range(X.shape[1])] + ["target"])
        for row, t in zip(X.tolist(), y.tolist(), strict=True):
            writer.writerow([*map(repr, row), repr(t) if isinstance(t, float) else str(t)])


def dlcli_score(train: Path, test: Path, workdir: Path, regression: bool, overrides: dict[str, str]) -> float:
    from dlcli.config import load_config
    from dlcli.workflows.inference import evaluate, load_predictor
    from dlcli.workflows.training import prepare_training

    cfg = load_config(
        None, {"data.path": str(train), "data.target": "target", "output.out": str(workdir), **overrides}, environ={}
    )
    run = prepare_training(cfg)
    for _ in run.records():
        pass
    result = run.finish()
    metrics = evaluate(load_predictor(result.model), test).metrics
    return metrics["r2"] if regression else metrics["accuracy"]


def sklearn_scores(X_tr, y_tr, X_te, y_te, regression: bool, seed: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from sklearn.linear_model import Ridge
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if regression:
            ridge = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(X_tr, y_tr)
            mlp = make_pipeline(
                StandardScaler(), MLPRegressor(hidden_layer_sizes=(64, 32), max_iter=200, random_state=seed)
            ).fit(X_tr, y_tr)
            return {"ridge": ridge.score(X_te, y_te), "MLPRegressor 200 epochs": mlp.score(X_te, y_te)}
        mlp = make_pipeline(
            StandardScaler(), MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=300, random_state=seed)
        ).fit(X_tr, y_tr)
        return {"MLPClassifier": mlp.score(X_te, y_te)}


def main() -> None:
    import argparse

    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="try a non-default setting (the report is then printed, not written)",
    )
    parser.add_argument("--only", action="append", default=[], metavar="DATASET")
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.set)
    sets = {
        "breast_cancer": (datasets.load_breast_cancer, False),
        "wine": (datasets.load_wine, False),
        "iris": (datasets.load_iris, False),
        "digits": (datasets.load_digits, False),
        "diabetes": (datasets.load_diabetes, True),
    }
    sets = {k: v for k, v in sets.items() if not args.only or k in args.only}
    lines = ["| dataset | metric | dlcli defaults | reference(s) |", "|---|---|---|---|"]
    for name, (loader, regression) in sets.items():
        X, y = loader(return_X_y=True)
        ours: list[float] = []
        refs: dict[str, list[float]] = {}
        for seed in range(SPLITS):
            X_tr, X_te, y_tr, y_te = train_test_split(
                X, y, test_size=0.25, random_state=seed, stratify=None if regression else y
            )
            with tempfile.TemporaryDirectory() as tmp:
                tmp_path = Path(tmp)
                write_csv(tmp_path / "train.csv", X_tr, y_tr)
                write_csv(tmp_path / "test.csv", X_te, y_te)
                ours.append(
                    dlcli_score(tmp_path / "train.csv", tmp_path / "test.csv", tmp_path / "run", regression, overrides)
                )
            for key, value in sklearn_scores(X_tr, y_tr, X_te, y_te, regression, seed).items():
                refs.setdefault(key, []).append(value)
        metric = "R²" if regression else "accuracy"
        med, lo, hi = summary(ours)
        ref_text = "; ".join(
            f"{k} {summary(v)[0]:.3f} ({summary(v)[1]:.3f}–{summary(v)[2]:.3f}), mean {np.mean(v):.3f}"
            for k, v in refs.items()
        )
        ours_text = f"{med:.3f} ({lo:.3f}–{hi:.3f}), mean {np.mean(ours):.3f}"
        line = f"| {name} ({len(X)} rows) | {metric} | {ours_text} | {ref_text} |"
        print(line, flush=True)
        lines.append(line)
    body = "\n".join(
        [
            "## Default quality (`bench/defaults_quality.py`)",
            f"Test-set scores over {SPLITS} random 75/25 splits, median (min–max) and mean; dlcli trained with no "
            "tuning flags at all, scikit-learn with the settings named.",
            "",
            *lines,
        ]
    )
    if overrides or args.only:
        print(f"(not written: overrides {overrides}, datasets {list(sets)})")
        return
    write_section("defaults_quality", body)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
