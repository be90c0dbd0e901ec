"""dlcli tune as a user meets it: a [tune] section, real studies in journal files, real
worker processes, Ctrl-C and kills, and the config and model it ends with."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"

SPACE = """
[tune]
train.lr = "loguniform(1e-4, 3e-2)"
model.hidden = ["16", "64,32"]
model.dropout = "uniform(0, 0.5)"
train.batch_size = [16, 32, 64]
"""


def project_config(tmp_path: Path, space: str = SPACE, epochs: int = 12) -> Path:
    """iris with a search space, few epochs: a study of a few seconds."""
    config = tmp_path / "dlcli.toml"
    config.write_text(
        f'[data]\npath = "{SAMPLES / "iris" / "iris.csv"}"\ntarget = "species"\n'
        f"[train]\nepochs = {epochs}\npatience = 5\n" + space
    )
    return config


def trials_of(directory: Path) -> list[dict]:
    return [json.loads(line) for line in (directory / "trials.jsonl").read_text().splitlines()]


def journal(directory: Path) -> list:
    """The study's trials as Optuna has them (the study is named after the data: iris)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    storage = JournalStorage(JournalFileBackend(str(directory / "study.journal")))
    return optuna.load_study(study_name="iris", storage=storage).trials


def journal_states(directory: Path) -> list[str]:
    return [t.state.name for t in journal(directory)]


def test_a_study_ends_with_trials_a_best_config_and_its_model(cli, tmp_path: Path) -> None:
    config = project_config(tmp_path)
    out = tmp_path / "tuned"
    result = cli("tune", config, "--trials", "6", "--workers", "1", "--out", out, "--json")
    assert result.exit_code == 0, result
    report = json.loads(result.stdout)
    assert len(report["trials"]) == 6 == len(trials_of(out))
    assert {t["state"] for t in report["trials"]} <= {"complete", "pruned"}
    best = report["best"]
    complete = [t["value"] for t in report["trials"] if t["state"] == "complete"]
    assert best["value"] == min(complete)
    assert (out / "model.h5").is_file() and (out / "best" / "model.h5").is_file()
    # A trial is the selection run of dlcli train with its config: the same best val_loss.
    history = [json.loads(line) for line in (out / "best" / "history.jsonl").read_text().splitlines()]
    assert min(h["val_loss"] for h in history) == pytest.approx(best["value"], rel=1e-12)
    # best.toml is a complete config holding the best values, and it trains.
    text = (out / "best.toml").read_text()
    assert f"lr = {best['params']['train.lr']!r}" in text
    assert "[tune]" not in text
    trained = cli("train", out / "best.toml", "--out", tmp_path / "again", "--quiet", "--json")
    assert trained.exit_code == 0, trained
    assert json.loads(trained.stdout)["metrics"]["log_loss"] == pytest.approx(best["value"], rel=1e-5)


def test_a_pipe_gets_one_line_per_trial_and_stdout_the_best(cli, tmp_path: Path) -> None:
    result = cli(
        "tune", project_config(tmp_path), "--trials", "4", "--workers", "1", "--out", tmp_path / "t", "--no-train"
    )
    assert result.exit_code == 0, result
    lines = [line for line in result.stderr.splitlines() if line.startswith("trial ")]
    assert len(lines) == 4
    assert all(" val_loss=" in line and " train.lr=" in line for line in lines)
    assert result.stdout.startswith("Best trial ")
    assert "Config: " in result.stdout and "Model:" not in result.stdout
    assert not (tmp_path / "t" / "model.h5").exists()


def test_the_same_seed_on_one_worker_gives_the_same_trials(cli, tmp_path: Path) -> None:
    config = project_config(tmp_path)
    for name in ("a", "b"):
        assert (
            cli(
                "tune", config, "--trials", "5", "--workers", "1", "--seed", "3", "--out", tmp_path / name, "--no-train"
            ).exit_code
            == 0
        )
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(trials_of(tmp_path / "a")) == strip(trials_of(tmp_path / "b"))
    other = cli("tune", config, "--trials", "5", "--workers", "1", "--seed", "4", "--out", tmp_path / "c", "--no-train")
    assert other.exit_code == 0
    assert strip(trials_of(tmp_path / "c")) != strip(trials_of(tmp_path / "a"))


def test_workers_share_one_study(cli, tmp_path: Path) -> None:
    config = project_config(tmp_path, epochs=40)
    out = tmp_path / "t"
    result = cli("tune", config, "--trials", "10", "--workers", "2", "--out", out, "--no-train", "--quiet")
    assert result.exit_code == 0, result
    trials = journal(out)
    finished = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert 10 <= len(finished) <= 11  # two workers may both start the last one
    assert len({t.user_attrs["worker"]["pid"] for t in trials}) == 2


def test_cross_validation_scores_the_mean_over_folds(cli, tmp_path: Path) -> None:
    out = tmp_path / "t"
    result = cli(
        "tune",
        project_config(tmp_path),
        "--trials",
        "3",
        "--workers",
        "1",
        "--cv",
        "3",
        "--out",
        out,
        "--json",
        "--no-train",
    )
    assert result.exit_code == 0, result
    assert all(t["value"] is not None for t in json.loads(result.stdout)["trials"])


def test_a_metric_to_maximise(cli, tmp_path: Path) -> None:
    result = cli(
        "tune",
        project_config(tmp_path),
        "--trials",
        "4",
        "--workers",
        "1",
        "--metric",
        "val_accuracy",
        "--out",
        tmp_path / "t",
        "--json",
        "--no-train",
    )
    assert result.exit_code == 0, result
    report = json.loads(result.stdout)
    assert report["direction"] == "maximize"
    assert report["best"]["value"] == max(t["value"] for t in report["trials"] if t["state"] == "complete")
    assert 'monitor = "val_accuracy"' in (tmp_path / "t" / "best.toml").read_text()


@pytest.mark.parametrize(
    ("space", "message"),
    [
        (
            'train.lrr = "uniform(0.1, 0.2)"',
            "Error: Unknown config key 'train.lrr' in [tune] of {config}. Did you mean 'train.lr'?",
        ),
        (
            'model.dropout = "uniform(0, 1)"',
            "Error: model.dropout in [tune] of {config}: model.dropout must be >= 0 and < 1, got 1.",
        ),
        (
            'train.batch_size = "uniform(8, 64)"',
            "Error: train.batch_size in [tune] of {config}: uniform() draws floats, but train.batch_size is not one.",
        ),
        ('train.lr = "normal(0, 1)"', "Error: train.lr in [tune] of {config}: 'normal(0, 1)' is not a distribution."),
        (
            'train.optimizer = ["adam", "adamm"]',
            "Error: train.optimizer in [tune] of {config}: train.optimizer must be one of: sgd, momentum, "
            "nesterov, adam, adamw, rmsprop; got 'adamm'. Did you mean 'adam'?",
        ),
        ('output.out = ["a", "b"]', "Error: output.out in [tune] of {config} cannot be tuned"),
        ("train.lr = 0.01", "Error: train.lr in [tune] of {config} must be a distribution"),
        ("", "Error: Nothing to tune: {config} has no [tune] section."),
    ],
)
def test_a_bad_space_is_one_error_naming_the_key(cli, tmp_path: Path, space: str, message: str) -> None:
    config = project_config(tmp_path, space="\n[tune]\n" + space + "\n" if space else "")
    result = cli("tune", config, "--trials", "2", "--out", tmp_path / "t")
    assert result.exit_code == 2, result
    assert result.stderr.startswith(message.format(config=config)), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sampler", "grid"], "Error: --sampler must be one of: tpe, random, sobol; got 'grid'."),
        (["--pruner", "asha"], "Error: --pruner must be one of: hyperband, halving, median, none; got 'asha'."),
        (["--direction", "up"], "Error: --direction must be one of: minimize, maximize; got 'up'."),
        (["--metric", "val_los"], "Error: train.monitor must be one of:"),
        (["--set", "data.val_split=0"], "Error: Tuning scores each trial on validation rows, but data.val_split is 0."),
        (["--storage", "nosuchdb://x"], "Error: Cannot open the study storage 'nosuchdb://x'"),
    ],
)
def test_bad_flags_are_one_error(cli, tmp_path: Path, args: list[str], message: str) -> None:
    result = cli("tune", project_config(tmp_path), "--trials", "2", "--workers", "1", "--out", tmp_path / "t", *args)
    assert result.exit_code == 2, result
    assert result.stderr.startswith(message), result.stderr


def test_resume_needs_a_tune_directory_and_only_it(cli, tmp_path: Path) -> None:
    result = cli("tune", "--resume", tmp_path)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: '{tmp_path}' is not a tune directory: it has no tune.json.")
    config = project_config(tmp_path)
    assert cli("tune", config, "--trials", "2", "--workers", "1", "--out", tmp_path / "t", "--no-train").exit_code == 0
    again = cli("tune", config, "--trials", "2", "--out", tmp_path / "t")
    assert again.exit_code == 2
    assert again.stderr.startswith(f"Error: '{tmp_path / 't'}' already holds a study.")
    mixed = cli("tune", config, "--resume", tmp_path / "t")
    assert mixed.exit_code == 2
    assert "--resume continues the study as it was set up" in mixed.stderr
    more = cli("tune", "--resume", tmp_path / "t", "--trials", "4", "--no-train", "--json")
    assert more.exit_code == 0, more
    assert len(json.loads(more.stdout)["trials"]) == 4
    # A lower --trials ends the study sooner (here: at once), and is what a later resume keeps.
    fewer = cli("tune", "--resume", tmp_path / "t", "--trials", "3", "--no-train", "--json")
    assert fewer.exit_code == 0, fewer
    assert len(json.loads(fewer.stdout)["trials"]) == 4
    assert json.loads((tmp_path / "t" / "tune.json").read_text())["trials"] == 3
    again = cli("tune", "--resume", tmp_path / "t", "--no-train", "--json")
    assert again.exit_code == 0 and len(json.loads(again.stdout)["trials"]) == 4


def _start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("DLCLI_DEBUG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "dlcli", "tune", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_trials(directory: Path, count: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        path = directory / "trials.jsonl"
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"no {count} trials in time: {proc.poll()}")


def _running(directory: Path) -> set[int]:
    """The pids of the workers whose trials the study still holds as running."""
    return {t.user_attrs["worker"]["pid"] for t in journal(directory) if t.state.name == "RUNNING"}


def _resume(directory: Path) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "dlcli", "tune", "--resume", str(directory), "--json"]
    return subprocess.run(args, cwd=directory.parent, capture_output=True, text=True, timeout=300)


# Trials that run long enough to be cut: seconds of epochs, nothing pruned or stopped early.
LONG = ["--epochs", "400", "--pruner", "none", "--set", "train.patience=0", "--workers", "2", "--no-train"]


@pytest.mark.slow
def test_ctrl_c_leaves_the_study_intact_and_resume_completes_it(tmp_path: Path) -> None:
    out = tmp_path / "t"
    proc = _start([str(project_config(tmp_path)), "--trials", "4", "--out", str(out), *LONG], tmp_path)
    _wait_for_trials(out, 1, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert f"Tuning interrupted; the study in {out} is intact." in stderr
    assert f"Hint: Continue it with: dlcli tune --resume {out}" in stderr
    assert "Traceback" not in stderr
    states = journal_states(out)
    assert "RUNNING" not in states and "FAIL" in states  # the cut trials, which do not count
    resumed = _resume(out)
    assert resumed.returncode == 0, resumed.stderr
    assert journal_states(out).count("COMPLETE") == 4


@pytest.mark.slow
def test_a_killed_search_is_swept_and_resumed(tmp_path: Path) -> None:
    out = tmp_path / "t"
    proc = _start([str(project_config(tmp_path)), "--trials", "3", "--out", str(out), *LONG], tmp_path)
    _wait_for_trials(out, 1, proc)
    proc.kill()
    proc.communicate(timeout=60)
    # The orphaned worker notices within an epoch and leaves its trial as an interrupt would.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _running(out) - {proc.pid}:
        time.sleep(0.1)
    assert _running(out) == {proc.pid}  # the killed process's own trial, until a resume sweeps it
    resumed = _resume(out)
    assert resumed.returncode == 0, resumed.stderr
    states = journal_states(out)
    assert "RUNNING" not in states and states.count("COMPLETE") == 3


def test_a_tune_directory_plots_and_its_best_run_is_listed(cli, tmp_path: Path) -> None:
    out = tmp_path / "runs" / "t"
    assert cli("tune", project_config(tmp_path), "--trials", "8", "--workers", "1", "--out", out).exit_code == 0
    terminal = cli("plot", out)
    assert terminal.exit_code == 0, terminal
    assert "val_loss per trial" in terminal.stdout and "trials" in terminal.stdout
    assert "importance (PED-ANOVA):" in terminal.stdout and "train.lr" in terminal.stdout
    png = tmp_path / "search.png"
    drawn = json.loads(cli("plot", out, "--output", png, "--json").stdout)
    assert drawn["trials"] == 8 and drawn["format"] == "png" and drawn["metric"] == "val_loss"
    assert set(drawn["importances"]) == {"train.lr", "model.hidden", "model.dropout", "train.batch_size"}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    # dlcli runs lists the best run (a run directory) and not the tune directory itself.
    listed = json.loads(cli("runs", tmp_path / "runs", "--json").stdout)["runs"]
    assert [Path(r["path"]).relative_to(tmp_path / "runs").as_posix() for r in listed] == ["t/best"]


def test_tune_help_has_an_example_and_does_not_load_optuna() -> None:
    # Optuna (and its SQLAlchemy) load when a search runs; NumPy may, as for train --help,
    # whose choices come from the registries.
    code = (
        "import sys\nfrom dlcli.cli.app import main\ncode = main(['tune', '--help'])\n"
        "print(code, sorted(m for m in ('optuna', 'sqlalchemy', 'h5py', 'boto3') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.splitlines()[-1] == "0 []"
    assert "dlcli tune samples/iris/dlcli.toml" in " ".join(done.stdout.split())


def test_without_optuna_it_is_one_error_naming_the_extra(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "optuna", None)  # as if the tune extra were not installed
    result = cli("tune", project_config(tmp_path), "--trials", "2", "--out", tmp_path / "t")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Error: dlcli tune needs Optuna, which is not installed.",
        "Hint: Install the tune extra: pip install 'dlcli[tune]' (or pip install optuna).",
    ]
    assert not (tmp_path / "t").exists()


@pytest.mark.slow
def test_separate_commands_join_one_study_through_storage(tmp_path: Path) -> None:
    # Two `dlcli tune` commands (as on two machines sharing a file system) on one journal.
    config, storage = project_config(tmp_path), tmp_path / "shared" / "iris.journal"
    storage.parent.mkdir()
    args = [str(config), "--storage", str(storage), "--trials", "30", "--workers", "1", "--no-train", "--quiet"]
    args += ["--epochs", "150", "--pruner", "none", "--set", "train.patience=0"]  # seconds: time for b to join
    procs = [_start([*args, "--out", str(tmp_path / "a")], tmp_path)]
    deadline = time.monotonic() + 60  # b joins once a has set the study up, as a second machine would
    while not (tmp_path / "a" / "tune.json").exists() and time.monotonic() < deadline and procs[0].poll() is None:
        time.sleep(0.05)
    procs.append(_start([*args, "--out", str(tmp_path / "b")], tmp_path))
    for proc in procs:
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    trials = optuna.load_study(study_name="iris", storage=JournalStorage(JournalFileBackend(str(storage)))).trials
    assert 30 <= sum(t.state.name in ("COMPLETE", "PRUNED") for t in trials) <= 31
    assert len({t.user_attrs["worker"]["pid"] for t in trials}) == 2
    assert [t.number for t in trials if t.params["train.lr"] == 1e-3] == [0]  # the baseline, once


def test_a_database_url_holds_the_study(cli, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    result = cli("tune", project_config(tmp_path), "--storage", url, "--trials", "4", "--workers", "2", "--out",
                 tmp_path / "t", "--no-train", "--json")  # fmt: skip
    assert result.exit_code == 0, result
    assert len(json.loads(result.stdout)["trials"]) >= 4
    assert (tmp_path / "study.db").stat().st_size > 0 and not (tmp_path / "t" / "study.journal").exists()
