"""What a short command loads: a one-row ``dlcli predict`` is mostly imports, so the ones it
does not need stay out (no timings here; the machine decides those)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"

# boto3/botocore: only an s3:// location needs them. pydantic: Typer's converters, replaced
# by dlcli.cli.coercion; if this fails after a Typer upgrade, coercion.install no longer takes.
# rich.console: nothing is printed on a terminal. dlcli.config/dlcli.remote: local paths only.
# numba: the compiled kernels (the fast extra) are for training only.
NOT_FOR_LOCAL_PREDICT = ("boto3", "botocore", "pydantic", "rich.console", "dlcli.config", "dlcli.remote", "numba")
NOT_FOR_HELP = ("boto3", "botocore", "pydantic", "rich.console", "numpy", "h5py", "pyarrow", "matplotlib", "numba")


def loaded_by(args: list[str], watched: tuple[str, ...]) -> list[str]:
    """Which of ``watched`` a fresh interpreter has imported after ``dlcli ARGS``."""
    code = (
        "import json, sys\nfrom dlcli.cli.app import main\n"
        f"code = main({args!r})\n"
        f"print(json.dumps([code, sorted(m for m in {watched!r} if m in sys.modules)]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    exit_code, loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert exit_code == 0, result.stderr
    return list(loaded)


def test_local_predict_loads_neither_boto3_nor_pydantic(iris_model: Path, tmp_path: Path) -> None:
    one_row = tmp_path / "one.csv"
    header, first = (SAMPLES / "iris" / "iris.csv").read_text().splitlines()[:2]
    one_row.write_text(",".join(header.split(",")[:4]) + "\n" + ",".join(first.split(",")[:4]) + "\n")
    out = tmp_path / "pred.csv"
    assert loaded_by(["predict", str(iris_model), str(one_row), "-o", str(out)], NOT_FOR_LOCAL_PREDICT) == []
    assert out.read_text().splitlines()[0] == "species"


def test_help_loads_no_engine_library() -> None:
    assert loaded_by(["--help"], NOT_FOR_HELP) == []


@pytest.mark.parametrize("command", ["plot", "runs"])
def test_help_of_the_run_commands_loads_no_engine_library(command: str) -> None:
    # matplotlib (the plot extra) is imported only when a picture is drawn.
    assert loaded_by([command, "--help"], NOT_FOR_HELP) == []


@pytest.mark.parametrize(("kernels", "loaded"), [("auto", []), ("numba", ["numba"])])
def test_training_imports_numba_only_when_it_pays(tmp_path: Path, kernels: str, loaded: list[str]) -> None:
    # iris's 2.6k-parameter model is below the auto threshold: numba's start-up would cost more than it saves.
    args = ["train", "--data", str(SAMPLES / "iris" / "iris.csv"), "--target", "species", "--epochs", "2"]
    args += ["--out", str(tmp_path / "run"), "--quiet", "--set", f"train.kernels={kernels}"]
    assert loaded_by(args, ("numba",)) == loaded


def test_terminal_curves_need_no_matplotlib(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "history.jsonl").write_text('{"epoch": 1, "loss": 1.0}\n{"epoch": 2, "loss": 0.5}\n')
    assert loaded_by(["plot", str(run)], ("matplotlib",)) == []


# ---- dlcli.cli.coercion: the same values and messages as Typer's converters -------------------

VALUES: list[Any] = [
    *("1", "-3", "0", "256", "257", "1.5", "-2e3", ".5", "5.", "1_000", " 3 ", "+4", "0x10", "inf", "nan"),
    *("", "abc", "-", "/tmp", "/nonexistent/x", "9" * 30, "é"),
    *(7, 7.0, True, False, None, ["a", "b"], ("x",), [], Path("p"), b"bytes"),
]


def test_every_parameter_converts_as_typer_would() -> None:
    from typer._click import Context
    from typer._coercion import build_runtime_param
    from typer.main import get_command

    from dlcli.cli import coercion
    from dlcli.cli.app import app

    group = get_command(app)
    checked = 0
    for command in [group, *group.commands.values()]:  # type: ignore[attr-defined]
        ctx = Context(command)
        coercion.install(command, ctx)
        for param in command.get_params(ctx):
            ours = param._runtime_param  # type: ignore[attr-defined]
            assert isinstance(ours, coercion._Plain), (command.name, param.name)
            typers = build_runtime_param(param.type_descriptor)  # type: ignore[attr-defined]
            for value in VALUES:
                assert outcome(ours, value, param, ctx) == outcome(typers, value, param, ctx), (param.name, value)
                checked += 1
    assert checked > 1000


def outcome(converter: Any, value: Any, param: Any, ctx: Any) -> tuple[str, str, str]:
    from typer._click.exceptions import UsageError

    try:
        result = converter.coerce(value, param=param, ctx=ctx)
    except (UsageError, ValueError, TypeError) as exc:  # the message is part of the behaviour
        return "error", type(exc).__name__, str(exc)
    return "ok", type(result).__name__, repr(result)


# ---- dlcli.cli.dispatch: only the invoked command is built ---------------------------------------


@pytest.mark.parametrize(
    ("args", "built"),
    [
        (["predict", "m.h5", "x.csv"], ["predict"]),
        (["--debug", "eval", "m.h5", "x.csv"], ["eval"]),
        (["predict", "--help"], ["predict"]),
        (["--help"], None),
        (["-h", "predict"], None),
        (["--version"], None),
        ([], None),
        (["predcit"], None),  # a typo: the whole app, for the suggestion
        (["--no-such-flag", "predict"], None),
    ],
)
def test_only_the_named_command_is_built(args: list[str], built: list[str] | None) -> None:
    from dlcli.cli.app import app
    from dlcli.cli.dispatch import for_args

    chosen = for_args(app, args, "dlcli")
    if built is None:
        assert chosen is app
    else:
        assert [info.name for info in chosen.registered_commands] == built
        assert len(app.registered_commands) > 1  # the app itself is untouched


def test_shell_completion_sees_every_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from dlcli.cli.app import app
    from dlcli.cli.dispatch import for_args

    monkeypatch.setenv("_DLCLI_COMPLETE", "complete_bash")
    assert for_args(app, ["predict"], "dlcli") is app


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("pandas") is None, reason="pyarrow imports pandas only when installed"
)
def test_reading_tables_does_not_import_pandas_through_pyarrow(iris_model: Path, tmp_path: Path) -> None:
    # pa.array, pa.scalar, fill_null and to_numpy import pandas when it is installed (0.2-0.3 s).
    assert loaded_by(["eval", str(iris_model), str(SAMPLES / "iris" / "iris.csv")], ("pandas",)) == []
    churn = SAMPLES / "churn" / "churn.csv"
    run = tmp_path / "churn"
    assert loaded_by(["train", "--data", str(churn), "--target", "churned", "--epochs", "1", "--out", str(run),
                      "--quiet"], ("pandas",)) == []  # fmt: skip
    assert loaded_by(["predict", str(run / "model.h5"), str(churn), "--output", str(tmp_path / "p.csv")],
                     ("pandas",)) == []  # fmt: skip
