"""``dlcli train``: parse flags into config overrides, run the library's training, render."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from dlcli.cli import render
from dlcli.cli.boundary import warn
from dlcli.cli.common import DelimiterOpt, EndpointOpt, JsonOpt, ProfileOpt, QuietOpt, SetOpt, overrides
from dlcli.cli.progress import EpochProgress, print_summary
from dlcli.errors import Interrupted, UsageError


def train(
    config: Annotated[
        Path | None,
        typer.Argument(
            metavar="CONFIG", help="dlcli.toml to train from (default: ./dlcli.toml if present).", show_default=False
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            metavar="FILE|URL",
            help="Training data: CSV, Parquet, Feather, NPZ, HDF5, or an s3:// URL.",
            show_default=False,
        ),
    ] = None,
    target: Annotated[
        str | None, typer.Option(metavar="COLUMN", help="Target column (CSV).", show_default=False)
    ] = None,
    hidden: Annotated[
        str | None, typer.Option(metavar="WIDTHS", help="Hidden layer widths, e.g. 64,32.", show_default=False)
    ] = None,
    activation: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Hidden activation: {choices:model.activation}.", show_default=False),
    ] = None,
    dropout: Annotated[
        float | None, typer.Option(metavar="RATE", help="Dropout rate after each hidden layer.", show_default=False)
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(metavar="N", help="Maximum number of epochs.", show_default=False)
    ] = None,
    batch_size: Annotated[int | None, typer.Option(metavar="N", help="Mini-batch size.", show_default=False)] = None,
    lr: Annotated[float | None, typer.Option(metavar="RATE", help="Learning rate.", show_default=False)] = None,
    optimizer: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Optimizer: {choices:train.optimizer}.", show_default=False),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Learning-rate schedule: {choices:train.schedule}; its parameters are train.step_size, "
            "decay_factor, decay_rate, plateau_patience, warmup_epochs and min_lr (--set).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(metavar="N", help="Random seed (split, initialisation, shuffling).", show_default=False),
    ] = None,
    val_split: Annotated[
        float | None, typer.Option(metavar="FRACTION", help="Fraction held out for validation.", show_default=False)
    ] = None,
    delimiter: DelimiterOpt = None,
    memory_limit: Annotated[
        str | None,
        typer.Option(
            metavar="SIZE",
            help="Memory for the encoded inputs, e.g. 2GiB; larger data streams from the cache (out of core).",
            show_default=False,
        ),
    ] = None,
    patience: Annotated[
        str | None,
        typer.Option(
            metavar="N|auto",
            help="Early-stopping patience in epochs (0: off; auto, the default: fewer epochs on more rows).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR", help="Run directory (default: runs/<name>, never overwritten).", show_default=False
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the run in --out if it holds one.")] = False,
    resume: Annotated[
        Path | None,
        typer.Option(
            metavar="CHECKPOINT",
            help="Continue exactly from this checkpoint, from any directory; --epochs N trains it on to N epochs.",
            show_default=False,
        ),
    ] = None,
    init_from: Annotated[
        Path | None,
        typer.Option(metavar="MODEL", help="Start from this model's weights, then train afresh.", show_default=False),
    ] = None,
    push_to: Annotated[
        str | None,
        typer.Option(
            metavar="REMOTE",
            help="Upload checkpoints and the run to this remote as they are written; checked writable before "
            "training starts.",
            show_default=False,
        ),
    ] = None,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
    set_: SetOpt = None,
    print_config: Annotated[bool, typer.Option("--print-config", help="Print the resolved config and exit.")] = False,
    origin: Annotated[
        bool, typer.Option("--origin", help="With --print-config: say above each key where its value came from.")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Train data-parallel on N local MPI ranks (needs the mpi extra); same as mpiexec -n N dlcli train.",
            min=1,
            show_default=False,
        ),
    ] = None,
    json_: JsonOpt = False,
    history: Annotated[
        bool, typer.Option("--history", help="With --json: include every epoch's record (as in history.jsonl).")
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """Train a model and write a run directory.

    The configuration is resolved as defaults < dlcli.toml < DLCLI_* environment < flags. The
    run directory holds model.h5, checkpoints/, history.jsonl, metrics.json and the resolved
    config.toml, which trains the run again from any directory (into a new run beside it).
    Ctrl-C saves a checkpoint and prints the command that resumes it.

    A run trains twice: the selection run trains on the training rows, early stopping picks
    the best epoch count E, and its model is scored on the validation rows (the metrics
    printed and in metrics.json); then model.h5 is refit on all rows for E epochs (with
    --set train.refit=false, model.h5 is the selection run's best epoch instead).

    Under mpiexec (or with --workers N) every rank trains its part of each batch and the
    gradients are summed: the same model as one process (docs/distributed.md).

    Example: dlcli train --data samples/iris/iris.csv --target species --epochs 100
    """
    from dlcli import parallel
    from dlcli.config import Config, config_origins, load_config, parse_set_options, to_toml
    from dlcli.workflows.training import prepare_training

    if workers is not None and workers > 1:
        if parallel.launched_size() > 1:
            raise UsageError(
                "--workers starts its own ranks, but this process is already one of an MPI job.",
                hint="Leave out --workers under mpiexec or srun.",
            )
        from dlcli.parallel.launch import relaunch

        raise typer.Exit(relaunch(workers, sys.argv[1:]))
    world = parallel.current()
    quiet = quiet or world.rank != 0  # rank 0 speaks for the job

    flags = overrides(
        data__path=data,
        data__target=target,
        model__hidden=hidden,
        model__activation=activation,
        model__dropout=dropout,
        train__epochs=epochs,
        train__batch_size=batch_size,
        train__lr=lr,
        train__optimizer=optimizer,
        train__schedule=schedule,
        train__seed=seed,
        data__val_split=val_split,
        data__memory_limit=memory_limit,
        data__delimiter=delimiter,
        train__patience=patience,
        output__out=str(out) if out else None,
        remote__push_to=push_to,
        remote__endpoint_url=endpoint_url,
        remote__profile=profile,
    )
    flags.update(parse_set_options(set_ or []))
    if resume is not None and (config is not None or init_from is not None or force):
        given = "a config file" if config is not None else "--init-from" if init_from is not None else "--force"
        raise UsageError(
            f"--resume takes its configuration from the checkpoint, so {given} cannot go with it.",
            hint="Resume with only the checkpoint (and --epochs to train longer), or start a new run.",
        )
    # On --resume the checkpoint's config is the base (a ./dlcli.toml or DLCLI_* do not apply).
    cfg = Config() if resume is not None else parallel.agreed(world, lambda: load_config(config, flags))
    if print_config:
        if world.rank == 0:
            origins = config_origins(config, flags) if origin and resume is None else None
            typer.echo(to_toml(cfg, origins=origins), nl=False)
        return
    run = prepare_training(cfg, resume=resume, changes=flags, init_from=init_from, force=force, world=world)
    render.log(f"Training {run.describe()} → {run.run_dir}", quiet)
    units = run.units_note()
    if units:
        render.log(units, quiet)
    for note, hint in run.data_notes():
        warn(note, hint)
    progress = EpochProgress(run.total_epochs, run.start_epoch, quiet=quiet)
    try:
        with progress:
            for record in run.records():
                progress.update(record)
        render.log(run.stop_reason(), quiet)
        plan = run.refit_plan()
        if plan:
            render.log(plan, quiet)
            with EpochProgress(run.best_epoch(), quiet=quiet, label="refit") as refit:
                result = run.finish(on_refit_epoch=refit.update)
        else:
            result = run.finish()
    except KeyboardInterrupt:
        checkpoint = run.save_interrupt_checkpoint()
        launch = f"mpiexec -n {world.size} " if world.size > 1 else ""
        interrupted = Interrupted(
            f"Training interrupted; checkpoint saved to {checkpoint}.",
            hint=f"Resume with: {launch}dlcli train --resume {shlex.quote(str(checkpoint))}",
        )
        interrupted.agreed = world.size > 1  # every rank stopped at the same batch
        raise interrupted from None
    if world.rank != 0:
        return
    if json_:
        render.emit_json(result.to_json(history=history))
    else:
        print_summary(result, quiet)
    if result.push_error is not None:
        raise result.push_error  # after the result: the model and metrics are printed either way
