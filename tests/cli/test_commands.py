"""Each command as a user meets it: exit codes, exact error lines, JSON shapes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
IRIS = SAMPLES / "iris" / "iris.csv"


# ---- init ---------------------------------------------------------------------------------


def test_init_fits_config_to_data(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("init", tmp_path / "p", "--data", SAMPLES / "churn" / "churn.csv", "--target", "churned", "--json")
    assert result.exit_code == 0, result
    payload = json.loads(result.stdout)
    assert payload["task"] == "binary" and payload["n_inputs"] == 10 and payload["n_outputs"] == 1
    assert payload["loss"] == "binary_crossentropy" and payload["categorical"] == ["plan", "region"]
    text = (tmp_path / "p" / "dlcli.toml").read_text()
    assert 'target = "churned"' in text and "# categorical (one-hot encoded): plan, region" in text
    assert (tmp_path / "p" / ".gitignore").read_text().startswith("# dlcli")


def test_init_never_overwrites_without_force(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("init", tmp_path).exit_code == 0
    result = cli("init", tmp_path)
    assert result.exit_code == 2
    assert result.stderr == f"Error: '{tmp_path / 'dlcli.toml'}' already exists.\nHint: Use --force to overwrite it.\n"
    assert cli("init", tmp_path, "--force").exit_code == 0


def test_init_on_a_table_needs_a_target(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("init", tmp_path, "--data", IRIS)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"Error: {IRIS} is a table, so --target must name the column to predict."


# ---- train --------------------------------------------------------------------------------


def test_train_json_is_compact_unless_the_history_is_asked_for(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("train", "--data", IRIS, "--target", "species", "--epochs", "5", "--out", tmp_path / "r", "--json")
    assert result.exit_code == 0, result
    assert "history" not in json.loads(result.stdout) and len(result.stdout.splitlines()) < 40


def test_train_json_shape_and_run_directory(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    result = cli("train", "--data", IRIS, "--target", "species", "--epochs", "15", "--out", out, "--json", "--history")
    assert result.exit_code == 0, result
    payload = json.loads(result.stdout)
    assert set(payload) >= {
        "model",
        "run_dir",
        "epochs_run",
        "best_epoch",
        "history",
        "metrics",
        "samples_per_second",
        "seconds",
    }
    assert payload["model"] == str(out / "model.h5") and payload["epochs_run"] == len(payload["history"]) <= 15
    assert {"accuracy", "f1_macro", "log_loss"} <= set(payload["metrics"])
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoints",
        "config.toml",
        "history.jsonl",
        "metrics.json",
        "model.h5",
    ]
    assert len((out / "history.jsonl").read_text().splitlines()) == payload["epochs_run"]
    assert (out / "checkpoints" / "epoch-0010.h5").exists()


def test_train_plain_progress_is_one_line_per_epoch_on_stderr(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "train", "--data", IRIS, "--target", "species", "--epochs", "3", "--patience", "0", "--out", tmp_path / "r"
    )
    assert result.exit_code == 0, result
    lines = [line for line in result.stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in lines] == ["1/3", "2/3", "3/3"]
    assert result.stdout.startswith(f"model\t{tmp_path / 'r' / 'model.h5'}\n")  # a pipe: tab-separated


def test_train_refuses_to_overwrite_a_run(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    args = ["train", "--data", IRIS, "--target", "species", "--epochs", "2", "--out", tmp_path / "r", "--quiet"]
    assert cli(*args).exit_code == 0
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"Error: Run directory '{tmp_path / 'r'}' already holds a run."
    assert cli(*args, "--force").exit_code == 0


def test_runs_without_out_get_a_counter_in_the_working_directory(cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    # Not beside the config: training samples/iris/dlcli.toml must not write into samples/.
    for _ in range(2):
        assert cli("train", "samples/iris/dlcli.toml", "--epochs", "1", "--quiet").exit_code == 0
    assert sorted(p.name for p in (project / "runs").iterdir()) == ["iris-1", "iris-2"]
    assert not (project / "samples" / "iris" / "runs").exists()


def test_print_config_reflects_env_and_flags(cli, monkeypatch: pytest.MonkeyPatch, project: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DLCLI_TRAIN_BATCH_SIZE", "64")
    result = cli("train", "samples/iris/dlcli.toml", "--epochs", "5", "--set", "model.dropout=0.1", "--print-config")
    assert result.exit_code == 0
    assert (
        "epochs = 5\n" in result.stdout and "batch_size = 64\n" in result.stdout and "dropout = 0.1\n" in result.stdout
    )


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--set", "train.epocs=3"],
            "Error: Unknown config key 'train.epocs' in --set train.epocs. Did you mean 'train.epochs'?",
        ),
        (
            ["--optimizer", "adma"],
            "Error: train.optimizer must be one of: sgd, momentum, nesterov, adam, adamw, rmsprop; got 'adma'. "
            "Did you mean 'adam'?",
        ),
        (["--lr", "0"], "Error: train.lr must be > 0, got 0."),
        (["--target", "specis"], "Error: Column 'specis' given as the target is not in {IRIS}."),
    ],
)
def test_train_bad_input_exits_2_with_one_line(cli, tmp_path: Path, args: list[str], line: str) -> None:  # type: ignore[no-untyped-def]
    base = ["train", "--data", str(IRIS), "--target", "species", "--out", str(tmp_path / "r")]
    result = cli(*base, *args)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == line.format(IRIS=IRIS)
    assert "Traceback" not in result.stderr


def test_train_without_data(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    result = cli("train")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: No training data given.\nHint: Pass --data FILE --target COLUMN, or run 'dlcli init'.\n"
    )


def test_ragged_csv(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,y\n1,2,0\n1,2\n")
    result = cli("train", "--data", bad, "--target", "y", "--out", tmp_path / "r")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"Error: {bad}, line 3: expected 3 fields as in the header, found 2."
    assert not (tmp_path / "r" / "model.h5").exists()


def test_non_finite_loss_exits_1_and_keeps_last_good_weights(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "train",
        "--data",
        SAMPLES / "housing" / "housing.csv",
        "--target",
        "price_k",
        "--optimizer",
        "sgd",
        "--lr",
        "1e6",
        "--epochs",
        "5",
        "--out",
        tmp_path / "r",
    )
    assert result.exit_code == 1, result
    error, hint = result.stderr.splitlines()[-2:]
    assert error.startswith("Error: The loss became inf at epoch 1, batch ")
    assert hint.startswith("Hint: ") and hint.endswith(
        f"The last good weights are in {tmp_path / 'r' / 'checkpoints' / 'last-good.h5'}."
    )
    # The library names settings by key; the command line shows its own flags.
    assert hint.startswith("Hint: Lower the learning rate (--lr), enable gradient clipping by global norm (--set ")
    assert (tmp_path / "r" / "checkpoints" / "last-good.h5").exists()
    assert "Traceback" not in result.stderr


def test_debug_shows_traceback(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Exception, match="specis"):
        cli("--debug", "train", "--data", IRIS, "--target", "specis", "--out", tmp_path / "r")


# ---- eval / predict / inspect -------------------------------------------------------------


def test_eval_json(cli, iris_model: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("eval", iris_model, IRIS, "--json")
    assert result.exit_code == 0, result
    payload = json.loads(result.stdout)
    assert set(payload) == {"metrics", "n_samples", "confusion_matrix", "labels", "per_class", "roc_auc_skipped"}
    assert set(payload["metrics"]) == {"accuracy", "precision_macro", "recall_macro", "f1_macro", "log_loss", "roc_auc"}
    assert payload["n_samples"] == 150 and np.sum(payload["confusion_matrix"]) == 150
    assert payload["metrics"]["accuracy"] > 0.8


def test_eval_regression_keys(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    housing = SAMPLES / "housing" / "housing.csv"
    assert (
        cli(
            "train", "--data", housing, "--target", "price_k", "--epochs", "30", "--out", tmp_path / "r", "--quiet"
        ).exit_code
        == 0
    )
    payload = json.loads(cli("eval", tmp_path / "r" / "model.h5", housing, "--json").stdout)
    assert set(payload["metrics"]) == {"mse", "rmse", "mae", "r2"} and "confusion_matrix" not in payload
    assert payload["metrics"]["r2"] > 0.5
    assert payload["metrics"]["rmse"] == pytest.approx(payload["metrics"]["mse"] ** 0.5)


def test_predict_labels_csv_to_stdout(cli, iris_model: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("predict", iris_model, IRIS)
    assert result.exit_code == 0, result
    lines = result.stdout.splitlines()
    assert lines[0] == "species" and len(lines) == 151
    assert set(lines[1:]) <= {"setosa", "versicolor", "virginica"}


def test_predict_proba_jsonl_from_stdin_without_target(cli, iris_model: Path) -> None:  # type: ignore[no-untyped-def]
    rows = "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n"
    result = cli("predict", iris_model, "-", "--proba", "--format", "jsonl", input=rows)
    assert result.exit_code == 0, result
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 2 and set(records[0]) == {"setosa", "versicolor", "virginica"}
    assert sum(records[0].values()) == pytest.approx(1.0, abs=1e-5)
    assert max(records[0], key=records[0].get) == "setosa"


def test_predict_npy_output_file_in_chunks(cli, iris_model: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "p.npy"
    result = cli("predict", iris_model, IRIS, "--proba", "--output", out, "--chunk-rows", "7")
    assert result.exit_code == 0, result
    proba = np.load(out)
    assert proba.shape == (150, 3) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert not list(tmp_path.glob(".p.npy.*"))


def test_predict_wrong_feature_count(cli, iris_model: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    np.save(tmp_path / "x.npy", np.zeros((2, 3)))
    result = cli("predict", iris_model, tmp_path / "x.npy")
    assert result.exit_code == 2
    assert (
        result.stderr.splitlines()[0] == f"Error: {tmp_path / 'x.npy'}: the model expects 4 features, the data has 3."
    )


def test_predict_bad_cell_leaves_no_output_file(cli, iris_model: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.csv"
    bad.write_text("sepal_length,sepal_width,petal_length,petal_width\n5,3,1,0.2\n5,x,1,0.2\n")
    result = cli("predict", iris_model, bad, "--output", tmp_path / "out.csv")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"Error: {bad}, line 3: column 'sepal_width' must be numeric, found 'x'."
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_model_file_errors(cli, tmp_path: Path, iris_model: Path) -> None:  # type: ignore[no-untyped-def]
    import h5py

    text = tmp_path / "notes.h5"
    text.write_text("not a model\n")
    truncated = tmp_path / "trunc.h5"
    truncated.write_bytes(iris_model.read_bytes()[:2000])
    with h5py.File(tmp_path / "foreign.h5", "w") as handle:
        handle["x"] = [1, 2]
    expected = {
        text: f"Error: '{text}' is not a dlcli model file: it is not an HDF5 file.",
        truncated: f"Error: '{truncated}' is damaged: its content does not match the checksum dlcli wrote with it",
        tmp_path / "missing.h5": f"Error: '{tmp_path / 'missing.h5'}' does not exist.",
        tmp_path / "foreign.h5": f"Error: '{tmp_path / 'foreign.h5'}' is not a dlcli model file: it is an HDF5 file "
        "without a 'dlcli_format' attribute or a Keras model (model_config, model_weights).",
    }
    for path, line in expected.items():
        for command in (["predict", path, IRIS], ["eval", path, IRIS], ["inspect", path]):
            result = cli(*command)
            assert result.exit_code == 2, result
            assert result.stderr.splitlines()[0].startswith(line), result
            assert result.stderr.splitlines()[1].startswith("Hint: ") and "Traceback" not in result.stderr


def test_warm_start_is_not_resume(cli, tmp_path: Path, iris_model: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "train",
        "--data",
        IRIS,
        "--target",
        "species",
        "--epochs",
        "3",
        "--init-from",
        iris_model,
        "--out",
        tmp_path / "warm",
        "--json",
        "--history",
    )
    assert result.exit_code == 0, result
    payload = json.loads(result.stdout)
    assert [h["epoch"] for h in payload["history"]] == [1, 2, 3]  # a fresh run, not a continuation
    assert payload["metrics"]["accuracy"] > 0.8  # it started from a trained model
    resume = cli("train", "--resume", iris_model)
    assert resume.exit_code == 2
    assert resume.stderr.splitlines()[0] == (
        f"Error: '{iris_model}' is a model, not a checkpoint: it has no training state to resume."
    )


def test_warm_start_from_a_different_architecture(cli, tmp_path: Path, iris_model: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "train",
        "--data",
        IRIS,
        "--target",
        "species",
        "--hidden",
        "8",
        "--init-from",
        iris_model,
        "--out",
        tmp_path / "warm",
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0].startswith(f"Error: Cannot load weights from '{iris_model}': its layers")


def test_inspect_json(cli, iris_model: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("inspect", iris_model, "--json")
    assert result.exit_code == 0, result
    payload = json.loads(result.stdout)
    assert [layer["class_name"] for layer in payload["layers"]] == [
        "Normalization",
        "Dense",
        "Dropout",
        "Dense",
        "Dropout",
        "Dense",
    ]
    assert payload["trainable_params"] == 4 * 64 + 64 + 64 * 32 + 32 + 32 * 3 + 3
    assert payload["schema"]["classes"] == ["setosa", "versicolor", "virginica"]
    assert len(payload["metadata"]["data_sha256"]) == 64 and payload["metadata"]["seed"] == 0
    assert "accuracy" in payload["metrics"]


def test_inspect_human(cli, iris_model: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("inspect", iris_model)
    assert result.exit_code == 0, result
    # CliRunner's stdout is a pipe: name<TAB>value lines.
    assert "trainable_params\t2499\n" in result.stdout and "classes\tsetosa, versicolor, virginica\n" in result.stdout


# ---- the app itself ------------------------------------------------------------------------


def test_version_and_usage_errors(cli) -> None:  # type: ignore[no-untyped-def]
    from dlcli import __version__

    assert cli("--version").stdout == f"dlcli {__version__}\n"
    result = cli("trian")
    assert result.exit_code == 2 and "No such command 'trian'" in result.stderr
    result = cli("train", "--epochs", "many")
    assert result.exit_code == 2 and "Error: Invalid value for '--epochs'" in result.stderr


def test_quiet_train_writes_nothing_on_stderr(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("train", "--data", IRIS, "--target", "species", "--epochs", "2", "--out", tmp_path / "r", "--quiet")
    assert result.exit_code == 0 and result.stderr == ""


def test_feature_constant_in_training_does_not_wreck_predictions(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # "flag" is 0 in every training row; a later 1 must stay an ordinary input, not (1-0)/1e-7.
    import numpy as np

    rng = np.random.default_rng(0)

    def write(path: Path, n: int, flag: int) -> None:
        x = rng.normal(size=(n, 2))
        label = np.where(x[:, 0] + x[:, 1] > 0, "yes", "no")
        rows = [f"{a:.4f},{b:.4f},{flag},{c}" for (a, b), c in zip(x, label, strict=True)]
        path.write_text("x1,x2,flag,label\n" + "\n".join(rows) + "\n")

    write(tmp_path / "train.csv", 400, 0)
    write(tmp_path / "test.csv", 200, 1)
    trained = cli(
        "train",
        "--data",
        tmp_path / "train.csv",
        "--target",
        "label",
        "--epochs",
        "60",
        "--out",
        tmp_path / "run",
        "--quiet",
    )
    assert trained.exit_code == 0, trained
    result = cli("eval", tmp_path / "run" / "model.h5", tmp_path / "test.csv", "--json")
    assert result.exit_code == 0, result
    assert json.loads(result.stdout)["metrics"]["accuracy"] >= 0.9


# ---- settings named in messages ---------------------------------------------------------------


def test_messages_name_the_flag_of_the_command_that_ran(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """One library message, three spellings: a flag, --set, or the key in dlcli.toml."""
    from dlcli.errors import ConfigError, setting

    error = ConfigError("x", hint=f"{setting('train.lr')} {setting('train.clip_norm', '1.0')} {setting('force')}")
    assert error.hint == "train.lr train.clip_norm=1.0 force"

    from typer.main import get_command

    from dlcli.cli.app import app
    from dlcli.cli.boundary import flag_namer

    group = get_command(app)

    class Ctx:
        def __init__(self, name: str) -> None:
            self.invoked_subcommand = name

    assert error.rendered(flag_namer(group, Ctx("train")))[1] == "--lr --set train.clip_norm=1.0 --force"
    assert error.rendered(flag_namer(group, Ctx("eval")))[1] == (
        "[train] lr in dlcli.toml [train] clip_norm = 1.0 in dlcli.toml --force"
    )


def test_a_bad_checksum_flag_names_the_choices(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "src").mkdir()
    result = cli("push", tmp_path / "src", tmp_path / "dest", "--checksum", "sometimes")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        "Error: remote.checksum must be one of: when_required, when_supported; got 'sometimes'."
    )
