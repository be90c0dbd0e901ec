"""``dlcli runs``, ``dlcli plot``, eval's ROC-AUC and per-class report, and plain output in a pipe,
on run directories written by real short trainings."""

from __future__ import annotations

import json
import shutil
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
IRIS = SAMPLES / "iris" / "iris.csv"
BOX = set("┏┓┗┛━┃│─┌┐└┘╇╈┡┩")


def train(out: Path, config: str = "iris", **overrides: object) -> Path:
    from dlcli.config import load_config
    from dlcli.workflows.training import prepare_training

    settings = {"train.epochs": 8, "output.out": str(out), **overrides}
    run = prepare_training(load_config(SAMPLES / config / "dlcli.toml", settings, environ={}))
    for _ in run.records():
        pass
    run.finish()
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """runs/{iris-a, iris-b, housing}: two iris runs that differ in lr, and a regression run."""
    root = tmp_path_factory.mktemp("runs")
    train(root / "iris-a")
    train(root / "iris-b", **{"train.lr": 0.01})
    train(root / "housing", "housing", **{"train.epochs": 5})
    return root


def lines(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines()]


# ---- dlcli runs ---------------------------------------------------------------------------


def test_runs_lists_every_run_as_tab_separated_rows(cli, runs: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("runs", runs, "--sort", "name")
    assert result.exit_code == 0, result
    header, *rows = lines(result.stdout)
    assert header == [
        "run",
        "status",
        "created",
        "task",
        "data",
        "epochs",
        "best",
        "metric",
        "value",
        "params",
        "bytes",
    ]
    table = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert list(table) == ["housing", "iris-a", "iris-b"]
    iris = table["iris-a"]
    assert iris["status"] == "ok" and iris["task"] == "multiclass" and iris["data"] == str(IRIS)
    assert iris["epochs"] == "8" and 1 <= int(iris["best"]) <= 8 and iris["metric"] == "val_accuracy"
    assert iris["params"] == "2508" and int(iris["bytes"]) == (runs / "iris-a" / "model.h5").stat().st_size
    assert table["housing"]["metric"] == "val_r2" and table["housing"]["task"] == "regression"
    assert result.stderr == ""


def test_runs_json_and_sort_keys(cli, runs: Path) -> None:  # type: ignore[no-untyped-def]
    payload = json.loads(cli("runs", runs, "--json", "--sort", "metric").stdout)
    values = [run["value"] for run in payload["runs"]]
    assert values == sorted(values, reverse=True)  # best first
    first = payload["runs"][0]
    assert {"name", "created", "task", "data", "epochs", "best_epoch", "metric", "value", "params", "bytes"} <= set(
        first
    )
    assert first["config"]["train"]["epochs"] in (5, 8) and first["metrics"]
    by_params = [r["params"] for r in json.loads(cli("runs", runs, "--json", "--sort", "params").stdout)["runs"]]
    assert by_params == sorted(by_params)
    backwards = json.loads(cli("runs", runs, "--json", "--sort", "name", "--reverse").stdout)["runs"]
    assert [r["name"] for r in backwards] == ["iris-b", "iris-a", "housing"]


def test_runs_bad_input_is_one_error_line(cli, runs: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("runs", tmp_path / "nowhere")
    assert result.exit_code == 2 and result.stderr.startswith(f"Error: Runs directory '{tmp_path / 'nowhere'}'")
    assert "Traceback" not in result.stderr
    result = cli("runs", runs, "--sort", "acuracy")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0].startswith("Error: Unknown sort key 'acuracy'. Expected one of: name,")
    result = cli("runs", "--compare", runs / "iris-a")
    assert result.exit_code == 2 and result.stderr.startswith("Error: --compare takes two runs, got 1.")
    result = cli("runs", "--compare", runs / "iris-a", tmp_path)
    assert result.exit_code == 2 and result.stderr.startswith(f"Error: '{tmp_path}' is not a run directory")


def test_incomplete_and_damaged_runs_are_listed_with_a_marker(cli, runs: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "runs"
    shutil.copytree(runs / "iris-a", root / "good")
    shutil.copytree(runs / "iris-a", root / "broken")
    model = root / "broken" / "model.h5"
    model.write_bytes(model.read_bytes()[:4000])  # a truncated copy
    with open(root / "broken" / "history.jsonl", "a") as handle:
        handle.write('{"epoch": 9, "lo')  # killed mid-line
    (root / "killed").mkdir()
    shutil.copy(runs / "iris-a" / "config.toml", root / "killed")
    (root / "killed" / "history.jsonl").write_text("".join((runs / "iris-a" / "history.jsonl").open().readlines()[:3]))
    (root / "not-a-run").mkdir()
    result = cli("runs", root, "--sort", "name")
    assert result.exit_code == 0, result
    status = {row[0]: row[1] for row in lines(result.stdout)[1:]}
    assert status == {"broken": "damaged", "good": "ok", "killed": "incomplete"}
    killed = next(row for row in lines(result.stdout) if row[0] == "killed")
    assert killed[5] == "3"  # the epochs it got through
    warning = result.stderr.splitlines()
    assert len(warning) == 1 and warning[0].startswith("Warning: broken: damaged (history.jsonl line 9")
    assert "killed: incomplete (no metrics.json" in warning[0]


def test_compare_two_runs(cli, runs: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("runs", "--compare", runs / "iris-a", runs / "iris-b")
    assert result.exit_code == 0, result
    rows = {row[0]: row[1:] for row in lines(result.stdout)}
    assert rows["key"] == ["iris-a", "iris-b"]
    assert rows["train.lr"] == ["0.0010", "0.0100"]
    assert "data.path" not in rows and "train.epochs" not in rows  # only the keys that differ
    assert set(rows) >= {"status", "epochs", "best_epoch", "params", "val_accuracy", "val_log_loss"}
    payload = json.loads(cli("runs", "--compare", runs / "iris-a", runs / "housing", "--json").stdout)
    assert {"a", "b", "config", "metrics"} == set(payload)
    differing = {row["key"]: (row["a"], row["b"]) for row in payload["config"]}
    assert differing["data.task"] == ("multiclass", "regression")
    assert {"val_accuracy", "val_r2"} <= {row["key"] for row in payload["metrics"]}


# ---- dlcli plot ---------------------------------------------------------------------------


def test_plot_png_and_svg(cli, runs: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("matplotlib")
    png, svg = tmp_path / "curves.png", tmp_path / "out" / "curves.svg"
    result = cli("plot", runs / "iris-a", "--output", png)
    assert result.exit_code == 0, result
    assert result.stdout == f"wrote\t{png}\n"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width >= 400 and height >= 400
    payload = json.loads(cli("plot", runs / "housing", "-o", svg, "--json").stdout)
    assert payload["format"] == "svg" and payload["series"] == ["loss", "val_loss", "r2", "val_r2"]
    root = ElementTree.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and len(svg.read_bytes()) > 10_000
    assert not [p for p in svg.parent.iterdir() if p.name.startswith(".dlcli-tmp")]


def test_plot_bad_suffix_and_missing_matplotlib(cli, runs: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    result = cli("plot", runs / "iris-a", "--output", tmp_path / "curves.gif")
    assert result.exit_code == 2
    gif = tmp_path / "curves.gif"
    assert result.stderr.splitlines() == [
        f"Error: Cannot tell the picture format of '{gif}': expected a file ending in .png or .svg.",
        "Hint: For example --output curves.png.",
    ]
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    result = cli("plot", runs / "iris-a", "--output", tmp_path / "curves.png")
    assert result.exit_code == 2 and not (tmp_path / "curves.png").exists()
    assert result.stderr.splitlines() == [
        "Error: Drawing a picture needs matplotlib, which is not installed.",
        "Hint: Install the plot extra: pip install 'dlcli[plot]' (or pip install matplotlib).",
    ]
    result = cli("plot", tmp_path)
    assert result.exit_code == 2 and result.stderr.startswith(f"Error: '{tmp_path}' is not a run directory")


def test_plot_draws_terminal_curves_without_output(cli, runs: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("plot", runs / "iris-a")
    assert result.exit_code == 0, result
    text = result.stdout
    best = json.loads(cli("runs", runs / "iris-a", "--json").stdout)["runs"][0]["best_epoch"]
    assert "● loss   × val_loss" in text and "● accuracy   × val_accuracy" in text
    assert f"★ best epoch {best}" in text and "┴" in text


def test_terminal_chart_log_scale_markers_and_best() -> None:
    from dlcli.cli.render import line_chart

    falling = [10.0 * 0.5**i for i in range(12)]  # 10 → 0.005: more than three decades
    chart = line_chart({"loss": falling, "val_loss": [v * 8 for v in falling]}, best=12, width=24)
    assert "log scale" in chart and "★ best epoch 12" in chart
    rows = chart.splitlines()[:8]
    # On a log scale a geometric fall is a straight line: one row every few epochs, not a cliff.
    assert sum(1 for row in rows if "●" in row) >= 6
    assert "log scale" not in line_chart({"loss": [1.0, 0.5, 0.2]})
    assert line_chart({"accuracy": [None, 0.5, 0.9], "val_accuracy": [0.4, None, 0.8]}, best=3).count("★") == 2


# ---- eval: ROC-AUC and the per-class report -------------------------------------------------


def test_eval_reports_roc_auc_and_per_class(cli, runs: Path) -> None:  # type: ignore[no-untyped-def]
    model = runs / "iris-a" / "model.h5"
    payload = json.loads(cli("eval", model, IRIS, "--json").stdout)
    assert 0.5 < payload["metrics"]["roc_auc"] <= 1.0 and payload["roc_auc_skipped"] == []
    per_class = payload["per_class"]
    assert [row["class"] for row in per_class] == ["setosa", "versicolor", "virginica"]
    assert [row["support"] for row in per_class] == [50, 50, 50]
    assert sum(row["recall"] * row["support"] for row in per_class) / 150 == pytest.approx(
        payload["metrics"]["accuracy"]
    )
    assert payload["metrics"]["roc_auc"] == pytest.approx(sum(row["roc_auc"] for row in per_class) / 3)
    result = cli("eval", model, IRIS)
    table = lines(result.stdout)
    assert ["roc_auc", f"{payload['metrics']['roc_auc']:.4f}"] in table
    start = table.index(["class", "precision", "recall", "f1", "support", "roc_auc"])
    assert [row[0] for row in table[start + 1 : start + 4]] == ["setosa", "versicolor", "virginica"]
    confusion = table.index(["confusion_matrix", "setosa", "versicolor", "virginica"])
    assert all(len(row) == 4 for row in table[confusion + 1 :])  # counts in their own columns


def test_eval_roc_auc_skips_an_absent_class(cli, runs: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    two = tmp_path / "two.csv"
    two.write_text("".join(IRIS.open().readlines()[:101]))  # setosa and versicolor only
    result = cli("eval", runs / "iris-a" / "model.h5", two, "--json")
    assert result.exit_code == 0, result
    payload = json.loads(result.stdout)
    assert payload["roc_auc_skipped"] == ["virginica"] and payload["per_class"][2]["roc_auc"] is None
    assert payload["metrics"]["roc_auc"] == pytest.approx(
        (payload["per_class"][0]["roc_auc"] + payload["per_class"][1]["roc_auc"]) / 2
    )
    assert result.stderr.splitlines() == [
        "Warning: ROC-AUC leaves out class(es) virginica: the data holds none of them (or only them)."
    ]
    one = tmp_path / "one.csv"
    one.write_text("".join(IRIS.open().readlines()[:51]))  # setosa alone: no area for any class
    payload = json.loads(cli("eval", runs / "iris-a" / "model.h5", one, "--json").stdout)
    assert "roc_auc" not in payload["metrics"] and payload["roc_auc_skipped"] == ["setosa", "versicolor", "virginica"]


def test_eval_binary_roc_auc(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    churn = SAMPLES / "churn" / "churn.csv"
    run = train(tmp_path / "churn", "churn", **{"data.path": str(churn), "train.epochs": 5})
    payload = json.loads(cli("eval", run / "model.h5", churn, "--json").stdout)
    per_class = payload["per_class"]
    assert 0.0 <= payload["metrics"]["roc_auc"] <= 1.0 and len(per_class) == 2
    assert per_class[0]["roc_auc"] == per_class[1]["roc_auc"] == payload["metrics"]["roc_auc"]


# ---- every command's output in a pipe: tab-separated, no boxes ------------------------------


def test_pipe_output_is_plain_tab_separated(cli, runs: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = runs / "iris-a" / "model.h5"
    outputs = {
        "inspect": cli("inspect", model).stdout,
        "eval": cli("eval", model, IRIS).stdout,
        "runs": cli("runs", runs).stdout,
        "compare": cli("runs", "--compare", runs / "iris-a", runs / "iris-b").stdout,
        "init": cli("init", tmp_path / "p", "--data", IRIS, "--target", "species").stdout,
        "train": cli("train", "--data", IRIS, "--target", "species", "--epochs", "2", "--out", tmp_path / "r").stdout,
    }
    for name, text in outputs.items():
        assert text and not BOX & set(text), name
        assert all("\t" in line for line in text.splitlines()), name
    inspect = dict(row[:2] for row in lines(outputs["inspect"]) if len(row) == 2)
    assert inspect["trainable_params"] == "2499" and inspect["classes"] == "setosa, versicolor, virginica"
    layers = lines(outputs["inspect"])
    start = layers.index(["layer", "type", "output", "params", "details"])
    assert [row[1] for row in layers[start + 1 :]] == ["Normalization", "Dense", "Dropout", "Dense", "Dropout", "Dense"]
    trained = dict(row for row in lines(outputs["train"]) if len(row) == 2)
    assert trained["model"] == str(tmp_path / "r" / "model.h5") and trained["epochs_run"] == "2"
    assert lines(outputs["init"])[0] == ["wrote", str(tmp_path / "p" / "dlcli.toml")]


def test_a_real_pipe_gets_tab_separated_lines(runs: Path) -> None:
    import subprocess

    model = runs / "iris-a" / "model.h5"
    for args in (["inspect", str(model)], ["eval", str(model), str(IRIS)], ["runs", str(runs)]):
        done = subprocess.run([sys.executable, "-m", "dlcli", *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert not BOX & set(done.stdout) and all("\t" in line for line in done.stdout.splitlines()), args
