"""``predict`` and ``eval`` as ranks of an MPI job: the rows split across ranks, one result.

Every rank reads one contiguous share of the rows (``numpy.array_split`` of the row range,
by rank) a chunk at a time. A table is first read once per machine, by its first rank,
into a row file in the cache (:mod:`dlcli.data.rowstore`), which the machine's ranks open
and which is unlinked as soon as they have; arrays are read by row range as they are.

``predict``: each rank writes its predictions to a part beside the output, under a
temporary name of its own (:func:`dlcli.files.temp_name`, so a killed rank's part is swept
by the next write there), in the current directory for stdout; when all are written,
rank 0 joins them in rank order, a block at a time, into the output (written atomically)
or onto stdout, and the parts are removed, also on failure. The result is the file one
process writes, byte for byte (Parquet: the same table). ``eval``: each rank accumulates
its rows' metric sums; the sums are merged in rank order, so the counts (and the confusion
matrix) are exact and the metrics equal to rounding.

Each phase is agreed (:mod:`dlcli.parallel.agree`): an error on any rank ends every rank
with the same error and exit code, reported once, by rank 0.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from dlcli.data.cache import tables_dir
from dlcli.data.formats import is_table
from dlcli.data.rowstore import ArrayRows, RowFile, RowSource, build_row_file, row_range
from dlcli.data.writers import NPY_HEADER_BYTES, PredictionWriter, npy_header
from dlcli.errors import DataError, UsageError
from dlcli.files import TEMP_PREFIX, AtomicFile, temp_name
from dlcli.parallel import World, agreed, on_root, root_first, shared

from .inference import (
    DEFAULT_CHUNK_ROWS,
    EvalResult,
    Predictor,
    eval_result,
    load_predictor,
    localize,
    metric_stream,
    output_columns,
    output_plan,
    parse_pool_running,
    update_stream,
)

COPY_BYTES = 1 << 20  # block size when joining parts

__all__ = ["evaluate_ranks", "part_paths", "predict_ranks"]


def predict_ranks(
    world: World,
    model: str,
    data: str | None,
    output: Path | None,
    fmt: str | None = None,
    *,
    proba: bool = False,
    threshold: float | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    remote_options: Any = None,
) -> int:
    """:func:`~dlcli.workflows.inference.predict_to` on this rank's rows; the job's rows."""
    agreed(world, lambda: _require_file_input(data))
    assert data is not None
    predictor = load_on_ranks(world, model, remote_options)
    fmt, labels = agreed(world, lambda: output_plan(predictor, output, fmt, proba, threshold))
    schema = predictor.schema
    columns = output_columns(schema, proba)
    parts = part_paths(world, output)
    mine = parts[world.rank]
    try:
        with parse_pool_running(), open_rows(world, predictor, data, remote_options, labelled=False) as rows:
            start, stop = row_range(rows.n_rows, world.rank, world.size)

            def write_part() -> int:
                writer = PredictionWriter(mine, fmt, columns, labels, header=world.rank == 0)
                try:
                    for X, _ in rows.encoded(start, stop, chunk_rows):
                        out = predictor.outputs(X)
                        writer.write(
                            schema.probabilities(out) if proba else schema.decode_output(out, threshold or 0.5)
                        )
                except BaseException:
                    writer.abort()
                    raise
                writer.close()
                return writer.rows

            written = agreed(world, write_part)
        total = int(sum(world.allgather(written)))
        on_root(world, lambda: join_parts(parts, output, fmt))
    finally:
        for path in parts if world.rank == 0 else [mine]:
            path.unlink(missing_ok=True)
    if total == 0:
        agreed(world, lambda: _no_rows(data))
    return total


def evaluate_ranks(world: World, model: str, data: str, *, remote_options: Any = None) -> EvalResult:
    """:func:`~dlcli.workflows.inference.evaluate` over every rank's rows (the same on all ranks)."""
    agreed(world, lambda: _require_file_input(data))
    predictor = load_on_ranks(world, model, remote_options)
    with parse_pool_running(), open_rows(world, predictor, data, remote_options, labelled=True) as rows:
        start, stop = row_range(rows.n_rows, world.rank, world.size)

        def accumulate() -> tuple[Any, int]:
            stream, n = metric_stream(predictor.schema), 0
            for X, y in rows.encoded(start, stop, DEFAULT_CHUNK_ROWS):
                assert y is not None
                update_stream(predictor, stream, X, y)
                n += len(y)
            return stream, n

        mine = agreed(world, accumulate)
    parts = world.allgather(mine)
    whole = parts[0][0]
    for stream, _ in parts[1:]:  # in rank order: every rank gets the same sums
        whole.merge(stream)
    return agreed(world, lambda: eval_result(predictor.schema, whole, sum(n for _, n in parts)))


def load_on_ranks(world: World, model: str, remote_options: Any) -> Predictor:
    """The model on every rank; an ``s3://`` model fetched once per machine."""
    local = root_first(world, lambda: localize(model, remote_options=remote_options))
    predictor = agreed(world, lambda: load_predictor(local))
    predictor.path = str(model)
    return predictor


@contextmanager
def open_rows(
    world: World, predictor: Predictor, data: str, remote_options: Any, *, labelled: bool
) -> Iterator[RowSource]:
    """The data as a :class:`~dlcli.data.rowstore.RowSource` on every rank (closed on exit)."""
    local = root_first(world, lambda: localize(data, remote_options=remote_options))
    dtype = str(predictor.model.dtype)
    rows: RowSource
    if is_table(local):
        rows = _table_rows(world, predictor, local, remote_options, labelled, dtype)
    else:
        rows = agreed(world, lambda: ArrayRows(local, predictor.schema, dtype, labelled=labelled))
    try:
        yield rows
    finally:
        rows.close()


def _table_rows(
    world: World, predictor: Predictor, local: Path, remote_options: Any, labelled: bool, dtype: str
) -> RowFile:
    from dlcli.remote.settings import cache_dir

    # One file per job and machine; named as a temporary so that a killed job's is swept.
    job = shared(world, lambda: secrets.token_hex(4))
    host = "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname())[:40]
    path = tables_dir(cache_dir(remote_options)) / f"{TEMP_PREFIX}rows-{job}-{host}-{local.stem[:60]}.h5"

    def make() -> RowFile:
        if world.local_rank == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
            build_row_file(local, predictor.schema, path, labelled=labelled, chunk_rows=DEFAULT_CHUNK_ROWS, dtype=dtype)
        return RowFile(path, predictor.schema, dtype)

    try:
        return root_first(world, make)
    finally:
        if world.local_rank == 0:  # every rank of the machine has it open, or has failed to
            path.unlink(missing_ok=True)


def part_paths(world: World, output: Path | None) -> list[Path]:
    """Every rank's part, by rank: beside ``output``, or in the current directory for stdout."""
    directory, name = (Path("."), "dlcli-predict") if output is None else (output.parent, output.name[:180])
    # Each rank names its own (the name carries its process), and rank 0 learns the others'.
    mine = directory / temp_name(f"{name}.part-{world.rank:04d}")
    return [Path(p) for p in world.allgather(str(mine))]


def join_parts(parts: list[Path], output: Path | None, fmt: str) -> None:
    """The parts, in order, as one file in ``fmt`` at ``output`` (``None``: stdout)."""
    for rank, part in enumerate(parts):
        if not part.is_file():
            raise DataError(
                f"Rank {rank}'s predictions ('{part}') are not visible to rank 0.",
                hint="Write the output to a directory every rank shares (a network file system).",
            )
    if output is None:
        sys.stdout.flush()
        _join(parts, fmt, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    target = AtomicFile(output)
    try:
        with target.open("wb") as handle:
            _join(parts, fmt, handle)
    except BaseException:
        target.discard()
        raise
    target.commit()


def _join(parts: list[Path], fmt: str, out: IO[bytes]) -> None:
    if fmt == "npy":
        _join_npy(parts, out)
    elif fmt == "parquet":
        _join_parquet(parts, out)
    else:  # CSV (only rank 0's part has the header) and JSON Lines: the bytes, in order
        for part in parts:
            with part.open("rb") as handle:
                shutil.copyfileobj(handle, out, COPY_BYTES)


def _join_npy(parts: list[Path], out: IO[bytes]) -> None:
    headers = [_npy_shape(part) for part in parts]
    # An empty part has no rows to fix its dtype; any filled one has the model's (they agree).
    dtype, shape = next(((d, s) for d, s in headers if s[0]), headers[0])
    out.write(npy_header(dtype, (sum(s[0] for _, s in headers), *shape[1:])))
    for part in parts:
        with part.open("rb") as handle:
            handle.seek(NPY_HEADER_BYTES)
            shutil.copyfileobj(handle, out, COPY_BYTES)


def _npy_shape(part: Path) -> tuple[np.dtype[Any], tuple[int, ...]]:
    with part.open("rb") as handle:
        np.lib.format.read_magic(handle)
        shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
    return dtype, tuple(shape)


def _join_parquet(parts: list[Path], out: IO[bytes]) -> None:
    import pyarrow.parquet as pq

    files = [pq.ParquetFile(str(part)) for part in parts]
    filled = [f for f in files if f.metadata.num_rows]
    if not filled:  # no rows anywhere: rank 0's empty file is the output
        with parts[0].open("rb") as handle:
            shutil.copyfileobj(handle, out, COPY_BYTES)
        return
    schema = filled[0].schema_arrow
    with pq.ParquetWriter(out, schema) as writer:
        for f in filled:
            for group in range(f.num_row_groups):  # a row group at a time: memory is one chunk
                table = f.read_row_group(group)
                writer.write_table(table if table.schema.equals(schema) else table.cast(schema))


def _require_file_input(data: str | None) -> None:
    if data is None or str(data) == "-":
        raise UsageError(
            "Under mpiexec the data must be a file: stdin cannot be split across ranks.",
            hint="Pass the data as a file or s3:// URL.",
        )


def _no_rows(data: str) -> None:
    raise DataError(f"'{data}' has no rows to predict.")
