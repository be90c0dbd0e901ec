"""``dlcli explain`` as a user runs it: on real trained models, synthetic data whose truth is
known, every bundled sample, pictures, and every bad input as one ``Error:`` line."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SAMPLE_DATA = {"iris": "iris.csv", "housing": "housing.csv", "churn": "churn.csv"}
INFORMATIVE = {"x0", "x1", "colour"}


def train(out: Path, config: Path, **overrides: object) -> Path:
    from dlcli.config import load_config
    from dlcli.workflows.training import prepare_training

    run = prepare_training(load_config(config, {"output.out": str(out), **overrides}, environ={}))
    for _ in run.records():
        pass
    run.finish()
    return out / "model.h5"


def synthetic(path: Path, task: str, rows: int = 1500) -> Path:
    """y depends on x0, x1 and the categorical colour; x2..x8 are noise."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((rows, 9))
    colour = rng.choice(["red", "green", "blue"], rows)
    value = 2.0 * X[:, 0] - 1.5 * X[:, 1] + np.select([colour == "red", colour == "blue"], [2.0, -2.0], 0.0)
    target = np.where(value > 0, "yes", "no") if task == "binary" else value + 0.1 * rng.standard_normal(rows)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f"x{i}" for i in range(9)] + ["colour", "y"])
        for i in range(rows):
            writer.writerow([*X[i].round(4), colour[i], target[i] if task == "binary" else round(target[i], 4)])
    config = path.with_suffix(".toml")
    config.write_text(
        f'[data]\npath = "{path.name}"\ntarget = "y"\ntask = "{task}"\n'
        "[model]\nhidden = [32, 16]\n[train]\nepochs = 60\nlr = 0.01\nrefit = false\n"
    )
    return config


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """name -> (model, data): the samples trained briefly, and the two synthetic sets."""
    root = tmp_path_factory.mktemp("explain")
    found = {}
    for name, data in SAMPLE_DATA.items():
        model = train(root / name, SAMPLES / name / "dlcli.toml", **{"train.epochs": 30})
        found[name] = (model, SAMPLES / name / data)
    overrides = {"train.epochs": 30, "model.batch_norm": True, "model.activation": "gelu", "model.dropout": 0.2}
    found["churn_batchnorm_gelu"] = (
        train(root / "bn", SAMPLES / "churn" / "dlcli.toml", **overrides),
        found["churn"][1],
    )
    for task in ("regression", "binary"):
        config = synthetic(root / f"synthetic_{task}.csv", task)
        found[f"synthetic_{task}"] = (train(root / f"run_{task}", config), root / f"synthetic_{task}.csv")
    return found


@pytest.mark.parametrize("task", ["regression", "binary"])
def test_permutation_importance_ranks_the_informative_features_first(task, models, cli):
    model, data = models[f"synthetic_{task}"]
    result = cli("explain", model, data, "--json")
    assert result.exit_code == 0, result
    payload = json.loads(result.stdout)
    ranked = [row["feature"] for row in payload["features"]]
    assert set(ranked[:3]) == INFORMATIVE, ranked
    assert len(ranked) == 10  # colour's three one-hot columns are one feature
    assert payload["metric"] == ("r2" if task == "regression" else "accuracy")
    assert all(
        row["drop"] > 5 * max(row_["drop"] for row_ in payload["features"][3:]) for row in payload["features"][:3]
    )


@pytest.mark.parametrize("columns", [80, 100])
def test_on_a_terminal_the_bars_fit_its_width_and_no_name_is_cut(columns, models, cli, monkeypatch):
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setenv("NO_COLOR", "1")
    model, data = models["churn"]
    result = cli("explain", model, data)
    assert result.exit_code == 0, result
    lines = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout).splitlines()  # styles stay under NO_COLOR
    table = [line for line in lines if "█" in line]
    assert {line.split()[0] for line in table} == {"tenure_months", "monthly_fee", "support_tickets", "plan", "region"}
    assert all(len(line.rstrip()) <= columns for line in lines[1:]), lines  # the title may wrap
    assert "…" not in result.stdout
    assert max(line.count("█") for line in table) == (24 if columns == 100 else 80 - 59 - 1)


@pytest.mark.parametrize("task", ["regression", "binary"])
def test_attributions_rank_the_informative_features_first(task, models, cli, tmp_path):
    model, data = models[f"synthetic_{task}"]
    out = tmp_path / "rows.csv"
    result = cli("explain", model, data, "--output", out, "--json")
    assert result.exit_code == 0, result
    summary = json.loads(result.stdout)
    ranked = [row["feature"] for row in summary["mean_abs_attribution"]]
    assert set(ranked[:3]) == INFORMATIVE, ranked
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1500 and "colour" in rows[0]


@pytest.mark.parametrize("name", [*SAMPLE_DATA, "churn_batchnorm_gelu", "synthetic_regression", "synthetic_binary"])
def test_completeness_holds_on_every_row_of_every_sample(name, models, cli, tmp_path):
    """Per row the attributions sum to f(row) - f(baseline) within 1%, checked from the file."""
    from dlcli.workflows.inference import load_predictor

    model, data = models[name]
    out = tmp_path / "rows.csv"
    result = cli("explain", model, data, "-o", out, "--json")
    assert result.exit_code == 0, result
    assert json.loads(result.stdout)["completeness"]["worst_gap"] <= 0.01
    schema = load_predictor(model).schema
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) > 100
    if schema.is_classification:
        at_x, at_baseline, scale = "probability", "baseline_probability", 1.0
    else:
        at_x, at_baseline, scale = schema.target, f"baseline_{schema.target}", schema.target_std
    table = np.array([[float(row[f.name]) for f in schema.features] for row in rows])
    diff = np.array([float(row[at_x]) - float(row[at_baseline]) for row in rows])
    gap = np.abs(table.sum(axis=1) - diff) / np.maximum(np.abs(diff), 0.01 * scale)
    assert gap.max() <= 0.0101, (name, gap.max())  # the file's rounding on top of the 1%
    np.testing.assert_allclose(gap, [float(row["completeness_gap"]) for row in rows], atol=1e-4)


def test_regression_attributions_are_in_the_target_units(models, cli):
    model, data = models["housing"]
    result = cli("explain", model, data, "--rows")
    assert result.exit_code == 0, result
    header, first = result.stdout.splitlines()[:2]
    assert header.startswith("price_k,baseline_price_k,area_m2")
    predicted = cli("predict", model, data).stdout.splitlines()[1]
    assert float(first.split(",")[0]) == pytest.approx(float(predicted), rel=1e-5)


def test_class_option_attributes_that_class(models, cli):
    model, data = models["iris"]
    result = cli("explain", model, data, "--rows", "--class", "virginica", "--keep", "species")
    assert result.exit_code == 0, result
    lines = list(csv.reader(result.stdout.splitlines()))
    assert lines[0][:4] == ["species", "class", "probability", "baseline_probability"]
    assert {row[1] for row in lines[1:]} == {"virginica"}
    assert "rows explained; worst completeness gap" in result.stderr


def test_pictures_of_importance_and_of_rows(models, cli, tmp_path):
    model, data = models["churn"]
    png, svg = tmp_path / "importance.png", tmp_path / "rows.svg"
    assert cli("explain", model, data, "--plot", png).exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = cli("explain", model, data, "--rows", "--plot", svg)
    assert result.exit_code == 0, result
    text = svg.read_text()
    assert "<svg" in text and "tenure_months" in text
    assert text.count("<use ") >= 5 * 500  # one marker per row and feature in the beeswarm


def test_the_table_is_plain_in_a_pipe(models, cli):
    model, data = models["iris"]
    lines = cli("explain", model, data, "--repeats", "2").stdout.splitlines()
    assert lines[0].split("\t") == ["feature", "accuracy_drop", "std", "loss_rise", "std"]
    assert len(lines) == 5 and all(len(line.split("\t")) == 5 for line in lines)


def test_same_seed_same_importance_and_sample_bounds_the_rows(models, cli):
    model, data = models["churn"]
    first = json.loads(cli("explain", model, data, "--json", "--sample", "200").stdout)
    again = json.loads(cli("explain", model, data, "--json", "--sample", "200").stdout)
    assert first == again
    assert first["rows"] == 200 and first["total_rows"] == 600


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rows", "--class", "setosa"], "needs a classification model"),
        (["--rows", "--baseline", "nowhere.csv"], "neither mean nor zero nor a data file"),
        (["--rows", "--format", "npy"], "named columns"),
        (["--rows", "--method", "simpson"], "simpson"),
        (["--repeats", "0"], "at least 1"),
        (["--plot", "picture.gif"], ".png or .svg"),
        (["--rows", "--json"], "needs --output"),
    ],
)
def test_bad_options_are_one_error_line(args, message, models, cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model, data = models["housing"]
    result = cli("explain", model, data, *args)
    assert result.exit_code == 2, result
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_unknown_class_and_data_that_does_not_match(models, cli, tmp_path):
    model, data = models["iris"]
    result = cli("explain", model, data, "--rows", "--class", "rose")
    assert result.exit_code == 2 and "no such class" in result.stderr and "setosa" in result.stderr
    other = cli("explain", model, models["housing"][1])
    assert other.exit_code == 2 and other.stderr.startswith("Error: "), other
    unlabelled = tmp_path / "unlabelled.csv"
    unlabelled.write_text("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n")
    result = cli("explain", model, unlabelled)
    assert result.exit_code == 2 and "species" in result.stderr, result
    assert cli("explain", model, unlabelled, "--rows").exit_code == 0


def test_zero_and_file_baselines(models, cli, tmp_path):
    model, data = models["churn"]
    reference = tmp_path / "reference.csv"
    reference.write_text(Path(data).read_text().splitlines()[0] + "\n" + Path(data).read_text().splitlines()[1] + "\n")
    for baseline in ("zero", str(reference)):
        result = cli("explain", model, data, "--rows", "--baseline", baseline)
        assert result.exit_code == 0, result
    row = next(
        csv.DictReader(cli("explain", model, reference, "--rows", "--baseline", str(reference)).stdout.splitlines())
    )
    assert float(row["probability"]) == pytest.approx(float(row["baseline_probability"]), abs=1e-6)
    assert all(abs(float(row[f])) < 1e-6 for f in ("tenure_months", "plan", "region"))


def test_chunks_change_nothing_but_memory(models, cli):
    model, data = models["churn_batchnorm_gelu"]
    whole = cli("explain", model, data, "--rows")
    assert whole.exit_code == 0, whole
    assert cli("explain", model, data, "--rows", "--chunk-rows", "7").stdout == whole.stdout


def test_a_keras_written_model_explains_each_output_as_a_class(cli, tmp_path):
    """No dlcli schema: features x0..x3, and the two softmax outputs are classes 0 and 1."""
    keras_model = Path(__file__).resolve().parents[1] / "fixtures" / "keras_3.15.1.h5"
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4)).astype(np.float32)
    np.savez(tmp_path / "data.npz", X=X, y=(X[:, 0] > 0).astype(int))
    data = tmp_path / "data.npz"
    importance = cli("explain", keras_model, data, "--json")
    assert importance.exit_code == 0, importance
    assert {row["feature"] for row in json.loads(importance.stdout)["features"]} == {"x0", "x1", "x2", "x3"}
    per_class = {}
    for label in ("0", "1"):
        result = cli("explain", keras_model, data, "--rows", "--class", label)
        assert result.exit_code == 0, result
        rows = list(csv.DictReader(result.stdout.splitlines()))
        per_class[label] = np.array([[float(row[f"x{i}"]) for i in range(4)] for row in rows])
    # p(1) = 1 - p(0): the two classes' attributions are opposite.
    np.testing.assert_allclose(per_class["1"], -per_class["0"], atol=1e-5)
