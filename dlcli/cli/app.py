"""The ``dlcli`` command: a Typer app whose commands live one per module.

Command modules import the heavy libraries (NumPy, h5py, boto3) inside their functions, so
``dlcli --help`` and shell completion stay fast.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from dlcli import __version__
from dlcli.cli.boundary import DlcliGroup
from dlcli.cli.cache import cache_command
from dlcli.cli.dispatch import for_args
from dlcli.cli.eval import eval_command
from dlcli.cli.explain import explain
from dlcli.cli.helptext import DlcliCommand
from dlcli.cli.init import init
from dlcli.cli.inspect import inspect_command
from dlcli.cli.plot import plot
from dlcli.cli.predict import predict
from dlcli.cli.pull import pull
from dlcli.cli.push import push
from dlcli.cli.runs import runs_command
from dlcli.cli.train import train
from dlcli.cli.tune import tune

HELP = """Deep learning from the shell: train, evaluate and serve dense neural networks.

Models are single HDF5 files (also Keras legacy .h5 models); datasets, models and
checkpoints sync to S3-compatible storage or a local directory.

Exit codes: 0 success, 1 runtime failure, 2 invalid usage or input, 130 interrupted.

Example: dlcli init --data samples/iris/iris.csv --target species && dlcli train
"""

app = typer.Typer(
    name="dlcli",
    cls=DlcliGroup,
    help=HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dlcli {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show Python tracebacks on errors (or set DLCLI_DEBUG=1).")
    ] = False,
    version: Annotated[
        bool | None, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = None,
) -> None:
    """Global options, given before the command."""


app.command("init", cls=DlcliCommand)(init)
app.command("train", cls=DlcliCommand)(train)
app.command("eval", cls=DlcliCommand)(eval_command)
app.command("predict", cls=DlcliCommand)(predict)
app.command("inspect", cls=DlcliCommand)(inspect_command)
app.command("explain", cls=DlcliCommand)(explain)
app.command("tune", cls=DlcliCommand)(tune)
app.command("runs", cls=DlcliCommand)(runs_command)
app.command("plot", cls=DlcliCommand)(plot)
app.command("push", cls=DlcliCommand)(push)
app.command("pull", cls=DlcliCommand)(pull)
app.command("cache", cls=DlcliCommand)(cache_command)


def main(argv: list[str] | None = None) -> int:
    """Run dlcli with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    _adopt_rank_stdio()
    try:
        for_args(app, sys.argv[1:] if argv is None else argv, "dlcli")(
            args=argv, prog_name="dlcli", standalone_mode=True
        )
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


def _adopt_rank_stdio() -> None:
    """A rank started by ``--workers`` writes to the terminal directly, not through the launcher.

    MPICH's fork launcher relays the ranks' output through pipes it closes at the first
    non-ASCII byte (a progress bar's "→"), which would break the rank's next write; so the
    launching process hands its own stdout and stderr down as inherited descriptors
    (``dlcli.parallel.launch.STDIO_VARIABLE``), and the rank puts them back in place.
    """
    spec = os.environ.pop("DLCLI_RANK_STDIO", "")
    if spec:
        out, err = (int(fd) for fd in spec.split(","))
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(out, 1)
        os.dup2(err, 2)


if __name__ == "__main__":
    sys.exit(main())
