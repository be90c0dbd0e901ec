"""``dlcli eval``: metrics of a model on labelled data."""

from __future__ import annotations

from typing import Annotated

import typer

from dlcli.cli import render
from dlcli.cli.common import EndpointOpt, JsonOpt, ProfileOpt, remote_options

# The per-class report's columns, as named in --json's per_class rows.
PER_CLASS = ("class", "precision", "recall", "f1", "support", "roc_auc")


def eval_command(
    model: Annotated[str, typer.Argument(metavar="MODEL", help="Model file (.h5), local or s3://.")],
    data: Annotated[
        str, typer.Argument(metavar="DATA", help="Labelled data: CSV with the target column, NPZ or HDF5 with X and y.")
    ],
    json_: JsonOpt = False,
    endpoint_url: EndpointOpt = None,
    profile: ProfileOpt = None,
) -> None:
    """Evaluate a model on labelled data.

    Classification: accuracy, macro precision/recall/F1, log-loss, ROC-AUC (binary; one-vs-rest
    macro for multi-class, leaving out classes the data does not hold, with a warning), a
    per-class report (precision, recall, F1, support, ROC-AUC) and the confusion matrix.
    Regression: MSE, RMSE, MAE and R², in the target's original units. In a pipe every line is
    tab-separated: name and value, then the per-class and confusion blocks, each with a header.

    Under mpiexec the rows are split across the ranks and their metric sums merged; rank 0 prints
    (docs/distributed.md).

    Example: dlcli eval runs/iris/model.h5 samples/iris/iris.csv --json
    """
    from dlcli.parallel import agreed, current

    world = current()
    options = agreed(world, lambda: remote_options(model, data, endpoint_url=endpoint_url, profile=profile))
    if world.size > 1:
        from dlcli.workflows.parallel_inference import evaluate_ranks

        result = evaluate_ranks(world, model, data, remote_options=options)
        if world.rank != 0:
            return
    else:
        from dlcli.workflows.inference import evaluate, load_predictor

        predictor = load_predictor(model, remote_options=options)
        result = evaluate(predictor, data, remote_options=options)
    if result.roc_auc_skipped:
        skipped = ", ".join(map(str, result.roc_auc_skipped))
        render.log(f"Warning: ROC-AUC leaves out class(es) {skipped}: the data holds none of them (or only them).")
    if json_:
        render.emit_json(result.to_json())
        return
    render.print_metrics(f"{model} on {data} ({result.n_samples} samples)", result.metrics)
    if result.per_class is not None:
        rows = ([row[c] for c in PER_CLASS] for row in result.per_class)
        render.print_table("per class", PER_CLASS, rows, right=PER_CLASS[1:])
    if result.confusion_matrix is not None:
        render.print_confusion(result.confusion_matrix, result.labels)
