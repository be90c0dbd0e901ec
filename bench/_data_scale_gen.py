"""The child side of ``bench/data_scale.py``: the data files, the timed CSV reads, the predict baseline.

Each job runs as ``python bench/_data_scale_gen.py JOB ...`` in its own process, because a
child's peak RSS (``ru_maxrss``) starts at its parent's peak: the benchmark process must never
grow, so it only imports this module for the file names (standard library only at import).

Jobs:

* ``generate WORKDIR --rows N --hdf5-gb G``: with a fixed seed, ``data.csv`` (``f0..f29`` with
  6 significant digits and a binary ``y`` drawn from a logistic function of a few features),
  the same table as ``data.parquet`` and ``data.feather``, the CSV's first rows as
  ``rows-N.csv`` and ``one_row.csv``, and ``data.h5`` with ``/X`` (float32, ``HDF5_COLS``
  columns, about G GB, written in blocks) and ``/y``. Files whose parameters and size match
  ``manifest.json`` are kept. Prints the paths and sizes as JSON.
* ``read METHOD CSV``: one CSV → float32 matrix read; prints its seconds (the call alone,
  imports excluded), shape, dtype and sum as JSON, or ``{"unavailable": ...}``.
* ``predict MODEL CSV OUT``: what ``dlcli predict`` does, in plain pyarrow + NumPy.
* ``threads``: the thread pools NumPy uses (threadpoolctl), as JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

FEATURES = 30
HDF5_COLS = 256
CHUNK_ROWS = 50_000  # rows generated and written at a time, so no file is ever held whole
MANIFEST = "manifest.json"


def subset_rows(rows: int) -> list[int]:
    """The scaling sizes: 100k, 300k and 1M rows at the default 1M."""
    return sorted({max(1, rows // 10), max(1, rows * 3 // 10), rows})


def hdf5_rows(gb: float) -> int:
    return max(1, int(gb * 1e9 / (HDF5_COLS * 4)))


def paths(workdir: Path, rows: int) -> dict[str, Path]:
    files = {"csv": "data.csv", "parquet": "data.parquet", "feather": "data.feather", "hdf5": "data.h5"}
    out = {key: workdir / name for key, name in files.items()}
    out["one_row"] = workdir / "one_row.csv"
    for n in subset_rows(rows):
        out[f"rows-{n}"] = out["csv"] if n == rows else workdir / f"rows-{n}.csv"
    return out


def _labels(rng, X):  # type: ignore[no-untyped-def]
    """Binary 0/1 from a logistic function of four features: learnable, but not trivially."""
    import numpy as np

    z = 1.5 * X[:, 0] - 1.0 * X[:, 1] + 0.8 * X[:, 2] * X[:, 3]
    return (rng.random(len(X)) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)


def write_csv(path: Path, rows: int, seed: int) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    fmt = ",".join(["%.6g"] * FEATURES + ["%d"])
    with open(path, "w", encoding="ascii", newline="\n") as handle:
        handle.write(",".join([f"f{i}" for i in range(FEATURES)] + ["y"]) + "\n")
        for start in range(0, rows, CHUNK_ROWS):
            X = rng.standard_normal((min(CHUNK_ROWS, rows - start), FEATURES))
            np.savetxt(handle, np.column_stack([X, _labels(rng, X)]), fmt=fmt)


def write_columnar(csv: Path, parquet: Path, feather: Path) -> None:
    """Parquet and Feather from the CSV as parsed, so all three hold exactly the same numbers."""
    import pyarrow.csv
    import pyarrow.feather
    import pyarrow.parquet

    table = pyarrow.csv.read_csv(csv)
    pyarrow.parquet.write_table(table, parquet)
    pyarrow.feather.write_feather(table, feather)


def write_head(csv: Path, out: Path, rows: int) -> None:
    with open(csv, encoding="ascii") as src, open(out, "w", encoding="ascii") as dst:
        for _ in range(rows + 1):  # the header, then the rows
            dst.write(src.readline())


def write_hdf5(path: Path, rows: int, seed: int) -> None:
    import h5py
    import numpy as np

    rng = np.random.default_rng(seed + 1)
    with h5py.File(path, "w") as f:
        # Contiguous (no chunking, no compression): reading row ranges is then plain I/O.
        X = f.create_dataset("X", (rows, HDF5_COLS), dtype=np.float32)
        y = f.create_dataset("y", (rows,), dtype=np.int64)
        for start in range(0, rows, CHUNK_ROWS):
            block = rng.standard_normal((min(CHUNK_ROWS, rows - start), HDF5_COLS), dtype=np.float32)
            X[start : start + len(block)] = block
            y[start : start + len(block)] = _labels(rng, block)


def generate(workdir: Path, rows: int, hdf5_gb: float, seed: int) -> dict:
    """Write what is missing or stale; returns the manifest (parameters and file sizes)."""
    workdir.mkdir(parents=True, exist_ok=True)
    table = {"rows": rows, "seed": seed, "features": FEATURES}  # what the CSV and its derivatives depend on
    hdf5 = {"rows": hdf5_rows(hdf5_gb), "cols": HDF5_COLS, "seed": seed}
    files = paths(workdir, rows)
    manifest_path = workdir / MANIFEST
    old = json.loads(manifest_path.read_text()).get("files", {}) if manifest_path.exists() else {}

    def fresh(key: str, params: dict) -> bool:
        p, entry = files[key], old.get(key, {})
        return p.exists() and entry.get("params") == params and entry.get("size") == p.stat().st_size

    csv_fresh = fresh("csv", table)
    if not csv_fresh:
        write_csv(files["csv"], rows, seed)
    if not (csv_fresh and fresh("parquet", table) and fresh("feather", table)):
        write_columnar(files["csv"], files["parquet"], files["feather"])
    heads = {key: int(key.split("-")[1]) for key in files if key.startswith("rows-") and files[key] != files["csv"]}
    heads["one_row"] = 1
    for key, n in heads.items():
        if not (csv_fresh and fresh(key, table)):
            write_head(files["csv"], files[key], n)
    hdf5_fresh = fresh("hdf5", hdf5)
    if not hdf5_fresh:
        write_hdf5(files["hdf5"], hdf5["rows"], seed)
    entries = {key: {"params": hdf5 if key == "hdf5" else table, "size": p.stat().st_size} for key, p in files.items()}
    manifest_path.write_text(json.dumps({"files": entries}, indent=1))
    return {
        "paths": {key: str(p) for key, p in files.items()},
        "sizes": {key: e["size"] for key, e in entries.items()},
        "hdf5_rows": hdf5["rows"],
        "reused": csv_fresh and hdf5_fresh,
    }


def clear_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)


def _dlcli_reader():  # type: ignore[no-untyped-def]
    import importlib

    return importlib.import_module("dlcli.data.tables").read_matrix  # looked up by name, as an optional reader


def _numpy_reader():  # type: ignore[no-untyped-def]
    import numpy as np

    return lambda p: np.loadtxt(p, delimiter=",", skiprows=1, dtype=np.float32)


def _pandas_reader():  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd

    return lambda p: pd.read_csv(p).to_numpy(np.float32)


def _pyarrow_reader():  # type: ignore[no-untyped-def]
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pc

    pa.array([0.0]).to_numpy()  # pyarrow imports pandas on its first to_numpy: outside the timer, as for pandas

    def read(p):  # type: ignore[no-untyped-def]
        table = pc.read_csv(p)
        X = np.empty((table.num_rows, table.num_columns), np.float32)  # no float64 matrix on the way
        for j, column in enumerate(table.columns):
            X[:, j] = column.to_numpy()
        return X

    return read


READERS = {
    "dlcli read_matrix": _dlcli_reader,
    "numpy.loadtxt": _numpy_reader,
    "pandas.read_csv": _pandas_reader,
    "pyarrow.csv.read_csv": _pyarrow_reader,
}


def read(method: str, path: str) -> dict:
    import time

    try:
        reader = READERS[method]()
    except (ImportError, AttributeError) as exc:
        return {"unavailable": f"{type(exc).__name__}: {exc}"}
    start = time.perf_counter()
    X = reader(path)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "shape": list(X.shape), "dtype": str(X.dtype), "sum": float(X.sum(dtype="f8"))}


def predict(model_path: str, data: str, out: str) -> None:
    """``dlcli predict`` for an all-numeric binary model: pyarrow batches in the schema's column
    order, missing cells get the training mean, the model's NumPy forward pass, labels at p ≥ 0.5."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pc

    from dlcli.model_io import load_model

    loaded = load_model(model_path)
    schema = loaded.schema
    assert schema["task"] == "binary", schema["task"]
    names = [f["name"] for f in schema["features"]]
    fills = np.array([f["fill"] for f in schema["features"]], np.float32)
    classes = np.asarray(schema["classes"])
    convert = pc.ConvertOptions(include_columns=names, column_types={n: pa.float32() for n in names})
    # 2 MiB blocks: about dlcli's 8192-row chunks for these rows
    reader = pc.open_csv(data, read_options=pc.ReadOptions(block_size=1 << 21), convert_options=convert)
    options = pc.WriteOptions(quoting_style="none", quoting_header="none")
    writer = None
    for batch in reader:
        X = np.empty((batch.num_rows, len(names)), np.float32)
        for j, name in enumerate(names):
            X[:, j] = batch.column(name).to_numpy()
        missing = np.isnan(X)
        if missing.any():
            X[missing] = np.broadcast_to(fills, X.shape)[missing]
        labels = pa.table({schema["target"]: classes[(loaded.model.predict(X).reshape(-1) >= 0.5).astype(int)]})
        writer = writer or pc.CSVWriter(out, labels.schema, write_options=options)
        writer.write_table(labels)
    if writer:
        writer.close()


def threads() -> list:
    import numpy  # noqa: F401  (loads the BLAS that threadpoolctl reports)
    import threadpoolctl

    keys = ("internal_api", "version", "num_threads")
    return [[pool.get(k) for k in keys] for pool in threadpoolctl.threadpool_info()]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The child side of bench/data_scale.py.")
    jobs = parser.add_subparsers(dest="job", required=True)
    g = jobs.add_parser("generate")
    g.add_argument("workdir", type=Path)
    g.add_argument("--rows", type=int, required=True)
    g.add_argument("--hdf5-gb", type=float, required=True)
    g.add_argument("--seed", type=int, default=0)
    jobs.add_parser("read").add_argument("args", nargs=2)
    jobs.add_parser("predict").add_argument("args", nargs=3)
    jobs.add_parser("threads")
    ns = parser.parse_args()
    if ns.job == "generate":
        print(json.dumps(generate(ns.workdir, ns.rows, ns.hdf5_gb, ns.seed)))
    elif ns.job == "read":
        print(json.dumps(read(*ns.args)))
    elif ns.job == "predict":
        predict(*ns.args)
    else:
        print(json.dumps(threads()))
