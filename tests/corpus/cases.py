"""The bad-input corpus: files and command lines a careless or hostile user could give dlcli.

Each :class:`Case` names the files it needs (written into a fresh working directory), the
command line, and the exit code the documented contract gives it (2: usage or input, 1: a
runtime failure such as an unreachable endpoint). Inputs come in families (CSV, NPY/NPZ,
HDF5 data, model files, TOML, flags, remotes); a family is a small table of variants run
through the commands that read that input, so a new input type is one more table.
"""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

Writer = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    files: dict[str, Writer] = field(default_factory=dict)
    exit_code: int = 2
    env: dict[str, str] = field(default_factory=dict)
    stdin: bytes | None = None


# --- writers -----------------------------------------------------------------------------------


def text(content: str) -> Writer:
    return lambda path: path.write_text(content, encoding="utf-8")


def raw(content: bytes) -> Writer:
    return lambda path: path.write_bytes(content)


def npy(array: np.ndarray) -> Writer:
    return lambda path: path.write_bytes(_npy_bytes(array))


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def npz(**arrays: np.ndarray) -> Writer:
    def write(path: Path) -> None:
        with path.open("wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]

    return write


def hdf5(build: Callable[[h5py.File], None]) -> Writer:
    def write(path: Path) -> None:
        with h5py.File(path, "w") as f:
            build(f)

    return write


def truncated(writer: Writer, keep: float) -> Writer:
    def write(path: Path) -> None:
        writer(path)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])

    return write


def flipped(writer: Writer, where: float) -> Writer:
    def write(path: Path) -> None:
        writer(path)
        data = bytearray(path.read_bytes())
        data[int(len(data) * where)] ^= 0x04
        path.write_bytes(bytes(data))

    return write


def copy_of(source: Path) -> Writer:
    return lambda path: path.write_bytes(source.read_bytes())


def edited_model(source: Path, edit: Callable[[h5py.File], None]) -> Writer:
    """A copy of ``source`` edited, then resealed: crafted, so the checks after the seal's
    (which would call any edit damage) are the ones that answer."""
    from dlcli.model_io.verify import seal

    def write(path: Path) -> None:
        path.write_bytes(source.read_bytes())
        with h5py.File(path, "r+") as f:
            edit(f)
        seal(path)

    return write


# --- data -------------------------------------------------------------------------------------

ROWS = 60
_A = [f"{0.1 * i:.1f}" for i in range(ROWS)]
_B = [str((7 * i) % 5) for i in range(ROWS)]
_Y = [str(i % 2) for i in range(ROWS)]


def csv_text(cells: dict[tuple[int, int], str] | None = None, header: str = "a,b,y", rows: int = ROWS) -> str:
    """A small binary-classification CSV; ``cells`` replaces (row, column) values."""
    lines = [header]
    for i in range(rows):
        values = [_A[i % ROWS], _B[i % ROWS], _Y[i % ROWS]]
        for (r, c), value in (cells or {}).items():
            if r == i:
                values[c] = value
        lines.append(",".join(values))
    return "\n".join(lines) + "\n"


GOOD_X = np.arange(ROWS * 3, dtype=np.float64).reshape(ROWS, 3) / 10
GOOD_Y = np.arange(ROWS) % 2

CSV_CASES: dict[str, Writer] = {
    "empty": raw(b""),
    "header-only": text("a,b,y\n"),
    "target-only-column": text("y\n" + "\n".join(_Y) + "\n"),
    "no-target-column": text(csv_text(header="a,b,c")),
    "extra-field": text(csv_text({(5, 2): "1,9"})),
    "short-row": text(csv_text().replace("\n0.5,0,1\n", "\n0.5\n")),
    "not-utf8": raw(csv_text().encode() + b"\xff\xfe,1,0\n"),
    "nul-cell": text(csv_text({(40, 0): "\x00"})),
    "nul-target": text(csv_text({(40, 2): "1\x00"})),
    "inf-cell": text(csv_text({(50, 0): "inf"})),
    "minus-inf-cell": text(csv_text({(3, 1): "-inf"})),
    "overflow-cell": text(csv_text({(50, 0): "1e400"})),
    "duplicate-header": text(csv_text(header="a,a,y")),
    "empty-header-name": text(csv_text(header="a,,y")),
    "target-all-missing": text(csv_text({(i, 2): "" for i in range(ROWS)})),
    "target-missing-cell": text(csv_text({(7, 2): ""})),
    "single-class": text(csv_text({(i, 2): "1" for i in range(ROWS)})),
    "unterminated-quote": text(csv_text({(9, 0): '"0.9'})),
    "binary-garbage": raw(bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8))),
    "only-newlines": text("\n\n\n"),
    "parquet-garbage": raw(b"PAR1" + b"\x00" * 64),
    "feather-garbage": raw(b"ARROW1\x00\x00" + b"\x01" * 64),
    # A tab, ';' or '|' in a comma-less header line is sniffed (and read); ':' is not.
    "colon-as-csv-one-column": text(csv_text().replace(",", ":")),
    "crlf-ragged": text(csv_text().replace("\n", "\r\n").replace("0.5,0,1", "0.5,0")),
    "huge-cell": text(csv_text({(3, 0): "9" * 5000})),
    "bom-then-garbage": raw(b"\xef\xbb\xbf" + b"\x00\x01\x02" * 30),
}
CSV_SUFFIX = {"parquet-garbage": ".parquet", "feather-garbage": ".feather"}

# Regression targets that cannot be learned: values overflow float32, or are not finite.
REGRESSION_CASES: dict[str, Writer] = {
    "target-1e300": text(csv_text({(10, 2): "1e300"}, rows=ROWS).replace("y\n", "y\n", 1)),
    "target-inf": text(csv_text({(10, 2): "inf"})),
    "target-1e400": text(csv_text({(10, 2): "1e400"})),
}

ARRAY_CASES: dict[str, tuple[str, Writer]] = {
    "npz-object-arrays": (".npz", npz(X=np.array([{"a": 1}] * ROWS, dtype=object), y=GOOD_Y)),
    "npz-truncated": (".npz", truncated(npz(X=GOOD_X, y=GOOD_Y), 0.5)),
    "npz-is-npy": (".npz", npy(GOOD_X)),
    "npz-garbage": (".npz", raw(b"PK\x03\x04" + b"\x01" * 100)),
    "npz-zero-rows": (".npz", npz(X=np.ones((0, 3)), y=np.ones(0))),
    "npz-zero-d": (".npz", npz(X=np.array(1.0), y=np.array(2.0))),
    "npz-3d": (".npz", npz(X=np.ones((ROWS, 3, 2)), y=GOOD_Y)),
    "npz-no-y": (".npz", npz(X=GOOD_X)),
    "npz-no-x": (".npz", npz(y=GOOD_Y)),
    "npz-length-mismatch": (".npz", npz(X=GOOD_X, y=GOOD_Y[:-5])),
    "npz-y-2d": (".npz", npz(X=GOOD_X, y=np.ones((ROWS, 2)))),
    "npz-complex": (".npz", npz(X=GOOD_X.astype(np.complex128), y=GOOD_Y)),
    "npz-strings": (".npz", npz(X=np.array([["a", "b", "c"]] * ROWS), y=GOOD_Y)),
    "npz-inf": (".npz", npz(X=np.where(GOOD_X > 5, np.inf, GOOD_X), y=GOOD_Y)),
    "npz-huge-values": (".npz", npz(X=GOOD_X * 1e300, y=GOOD_Y)),
    "h5-x-group": (".h5", hdf5(lambda f: (f.create_group("X"), f.create_dataset("y", data=GOOD_Y)))),
    "h5-x-scalar": (".h5", hdf5(lambda f: (f.create_dataset("X", data=1.0), f.create_dataset("y", data=GOOD_Y)))),
    "h5-no-y": (".h5", hdf5(lambda f: f.create_dataset("X", data=GOOD_X))),
    "h5-3d": (
        ".h5",
        hdf5(lambda f: (f.create_dataset("X", data=np.ones((ROWS, 2, 2))), f.create_dataset("y", data=GOOD_Y))),
    ),
    "h5-length-mismatch": (
        ".h5",
        hdf5(lambda f: (f.create_dataset("X", data=GOOD_X), f.create_dataset("y", data=GOOD_Y[:10]))),
    ),
    "h5-strings": (
        ".h5",
        hdf5(lambda f: (f.create_dataset("X", data=np.array([[b"a"] * 3] * ROWS)), f.create_dataset("y", data=GOOD_Y))),
    ),
    "h5-garbage": (".h5", raw(b"\x89HDF\r\n\x1a\n" + b"\x00" * 200)),
    "h5-x-compound": (
        ".h5",
        hdf5(
            lambda f: (
                f.create_dataset("X", data=np.zeros(ROWS, dtype=[("a", "f4"), ("b", "f4")])),
                f.create_dataset("y", data=GOOD_Y),
            )
        ),
    ),
    "h5-x-external-link": (
        ".h5",
        hdf5(
            lambda f: (f.__setitem__("X", h5py.ExternalLink("/etc/hostname", "/X")), f.create_dataset("y", data=GOOD_Y))
        ),
    ),
    "npz-y-nan": (".npz", npz(X=GOOD_X, y=np.where(GOOD_Y > 0, np.nan, 0.0))),
    "h5-truncated": (
        ".h5",
        truncated(hdf5(lambda f: (f.create_dataset("X", data=GOOD_X), f.create_dataset("y", data=GOOD_Y))), 0.4),
    ),
}
# What predict reads: the same families plus NPY (X only).
PREDICT_ARRAY_CASES: dict[str, tuple[str, Writer]] = {
    "npy-3d": (".npy", npy(np.ones((ROWS, 3, 2)))),
    "npy-1d": (".npy", npy(np.ones(ROWS))),
    "npy-object": (".npy", npy(np.array([{"a": 1}] * ROWS, dtype=object))),
    "npy-bad-header": (".npy", raw(b"\x93NUMPY\x01\x00\x10\x00{'descr': 'zz'}    \n")),
    "npy-wrong-width": (".npy", npy(np.ones((ROWS, 7)))),
    "npy-truncated": (".npy", truncated(npy(GOOD_X), 0.6)),
}


def data_cases() -> Iterator[Case]:
    train = ("train", "--target", "y", "--epochs", "1", "--out", "out")
    for name, writer in CSV_CASES.items():
        data = "data" + CSV_SUFFIX.get(name, ".csv")
        yield Case(f"train-csv-{name}", (*train, "--data", data), {data: writer})
    for name, writer in REGRESSION_CASES.items():
        yield Case(
            f"train-regression-{name}",
            (*train, "--data", "data.csv", "--set", "data.task=regression"),
            {"data.csv": writer},
        )
    for name, (suffix, writer) in ARRAY_CASES.items():
        yield Case(f"train-{name}", (*train, "--data", "data" + suffix), {"data" + suffix: writer})
    yield Case("train-data-missing", (*train, "--data", "nowhere.csv"))
    yield Case("train-data-directory", (*train, "--data", "adir"), {"adir/x": text("a\n")})
    yield Case("train-no-data", ("train", "--epochs", "1"))


# --- model files ------------------------------------------------------------------------------


def _set_attr(name: str, value: object) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        f.attrs[name] = value

    return edit


def _edit_config(change: Callable[[dict], None]) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        config = json.loads(f.attrs["model_config"])
        change(config)
        f.attrs["model_config"] = json.dumps(config)

    return edit


def _dense_layers(config: dict) -> list[dict]:
    return [layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense"]


def _first_dense(key: str, value: object) -> Callable[[dict], None]:
    def change(config: dict) -> None:
        _dense_layers(config)[0]["config"][key] = value

    return change


def _layer_at(index: int, value: object) -> Callable[[dict], None]:
    def change(config: dict) -> None:
        config["config"]["layers"][index] = value

    return change


def _first_kernel(edit: Callable[[h5py.Group, str], None]) -> Callable[[h5py.File], None]:
    def apply(f: h5py.File) -> None:
        paths: list[str] = []
        f["model_weights"].visit(lambda name: paths.append(name) if name.endswith("kernel") else None)
        group, _, leaf = ("model_weights/" + sorted(paths)[0]).rpartition("/")
        edit(f[group], leaf)

    return apply


def _replace(leaf_value: Callable[[h5py.Group, str], object]) -> Callable[[h5py.Group, str], None]:
    def edit(group: h5py.Group, leaf: str) -> None:
        value = leaf_value(group, leaf)
        del group[leaf]
        group[leaf] = value

    return edit


def _external_link(group: h5py.Group, leaf: str) -> None:
    del group[leaf]
    group[leaf] = h5py.ExternalLink("/etc/hostname", "/kernel")


def _external_storage(group: h5py.Group, leaf: str) -> None:
    shape, dtype = group[leaf].shape, group[leaf].dtype
    del group[leaf]
    group.create_dataset(leaf, shape=shape, dtype=dtype, external=[("weights.bin", 0, h5py.h5f.UNLIMITED)])


def _json_dataset(name: str, document: str | None) -> Callable[[h5py.File], None]:
    """Replace the JSON dataset ``dlcli/<name>`` (``None``: the same JSON, a changed checksum)."""

    def edit(f: h5py.File) -> None:
        group = f["dlcli"]
        if document is None:
            group[name].attrs["sha256"] = "0" * 64
            return
        del group[name]
        group.create_dataset(name, data=document, dtype=h5py.string_dtype("utf-8"))

    return edit


def _deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def model_edits() -> dict[str, Callable[[h5py.File], None]]:
    return {
        "config-not-json": _set_attr("model_config", "{not json"),
        "config-deep-json": _set_attr("model_config", _deep_json(100_000)),
        "config-empty": _set_attr("model_config", ""),
        "config-is-list": _set_attr("model_config", "[]"),
        "config-int": _set_attr("model_config", np.int64(3)),
        "format-version-99": _set_attr("format_version", np.int64(99)),
        "format-version-string": _set_attr("format_version", "one"),
        "units-float": _edit_config(_first_dense("units", 64.7)),
        "units-string": _edit_config(_first_dense("units", "64")),
        "units-negative": _edit_config(_first_dense("units", -4)),
        "units-huge": _edit_config(_first_dense("units", 10**9)),
        "units-contradict-weights": _edit_config(_first_dense("units", 7)),
        "activation-unknown": _edit_config(_first_dense("activation", "relux")),
        "activation-number": _edit_config(_first_dense("activation", 3)),
        "layer-is-string": _edit_config(_layer_at(1, "Dense")),
        "layer-is-list": _edit_config(_layer_at(1, [1, 2])),
        "layer-config-null": _edit_config(_layer_at(1, {"class_name": "Dense", "config": None})),
        "layer-unknown-class": _edit_config(_layer_at(1, {"class_name": "Conv2D", "config": {}})),
        "layers-not-list": _edit_config(lambda c: c["config"].__setitem__("layers", {"a": 1})),
        "input-dims-huge": _edit_config(
            lambda c: c["config"]["layers"][0]["config"].__setitem__("batch_shape", [None, 10**9])
        ),
        "kernel-missing": _first_kernel(lambda g, leaf: g.__delitem__(leaf)),
        "kernel-wrong-shape": _first_kernel(_replace(lambda g, leaf: np.zeros((2, 2), np.float32))),
        "kernel-strings": _first_kernel(_replace(lambda g, leaf: np.array([b"x"] * 4))),
        "kernel-nan": _first_kernel(_replace(lambda g, leaf: np.full(g[leaf].shape, np.nan, np.float32))),
        "kernel-external-link": _first_kernel(_external_link),
        "kernel-external-storage": _first_kernel(_external_storage),
        "weights-group-missing": lambda f: f.__delitem__("model_weights"),
        "metadata-deep-json": _json_dataset("metadata", _deep_json(50_000)),
        "schema-not-json": _json_dataset("schema", "{"),
        "schema-wrong-type": _json_dataset("schema", json.dumps({"task": 3, "features": 1})),
        "schema-edited": _json_dataset("schema", None),
        "config-edited-epsilon": _set_attr("model_config_sha256", "0" * 64),
    }


def checkpoint_edits() -> dict[str, Callable[[h5py.File], None]]:
    def drop_tree_key(key: str) -> Callable[[h5py.File], None]:
        def edit(f: h5py.File) -> None:
            group = f["dlcli/training_state"]
            tree = json.loads(group.attrs["tree"]) if "tree" in group.attrs else json.loads(group["tree"][()])
            tree.pop(key, None)
            if isinstance(tree.get("items"), dict):
                tree["items"].pop(key, None)
            _write_tree(group, tree)

        return edit

    def deep_tree(f: h5py.File) -> None:
        _write_tree(f["dlcli/training_state"], _deep_json(50_000), raw_text=True)

    return {
        "state-missing": lambda f: f["dlcli"].__delitem__("training_state"),
        "state-tree-deep": deep_tree,
        "state-arrays-missing": lambda f: f["dlcli/training_state"].__delitem__("arrays"),
        "state-no-epoch": drop_tree_key("epoch"),
        "state-no-optimizer": drop_tree_key("optimizer"),
    }


def _write_tree(group: h5py.Group, tree: object, raw_text: bool = False) -> None:
    value = tree if raw_text else json.dumps(tree)
    if "tree" in group.attrs:
        group.attrs["tree"] = value
    else:
        del group["tree"]
        group["tree"] = value


def model_cases(model: Path, checkpoint: Path, data: Path) -> Iterator[Case]:
    shared = {"data.csv": copy_of(data)}
    files: dict[str, Writer] = {
        "garbage": raw(b"not a model at all\n" * 20),
        "empty": raw(b""),
        "truncated": truncated(copy_of(model), 0.5),
        "bit-flipped": flipped(copy_of(model), 0.6),
        "plain-hdf5": hdf5(lambda f: f.create_dataset("X", data=GOOD_X)),
        "npz-as-model": npz(X=GOOD_X),
    }
    files.update({name: edited_model(model, edit) for name, edit in model_edits().items()})
    for name, writer in files.items():
        both = {**shared, "model.h5": writer}
        yield Case(f"predict-model-{name}", ("predict", "model.h5", "data.csv", "--output", "out/p.csv"), both)
        yield Case(f"inspect-model-{name}", ("inspect", "model.h5"), both)
    for name in ("garbage", "truncated", "units-huge", "kernel-wrong-shape", "config-deep-json"):
        yield Case(f"eval-model-{name}", ("eval", "model.h5", "data.csv"), {**shared, "model.h5": files[name]})
        rows = ("explain", "model.h5", "data.csv", "--rows")
        yield Case(f"explain-model-{name}", rows, {**shared, "model.h5": files[name]})
    for name, edit in checkpoint_edits().items():
        yield Case(
            f"resume-{name}",
            ("train", "--resume", "out/checkpoints/ckpt.h5"),
            {**shared, "out/checkpoints/ckpt.h5": edited_model(checkpoint, edit)},
        )
    yield Case("resume-model-not-checkpoint", ("train", "--resume", "model.h5"), {**shared, "model.h5": copy_of(model)})
    # Data that does not match a good model.
    mismatched: dict[str, tuple[str, Writer]] = {
        "missing-column": (".csv", text("a,y\n0.1,1\n0.2,0\n")),
        "text-in-numeric": (".csv", text("a,b,y\n0.1,x,1\n0.2,hello,0\n")),
        "inf-in-numeric": (".csv", text("a,b,y\n0.1,inf,1\n0.2,1,0\n")),
        "nul-in-numeric": (".csv", text("a,b,y\n0.1,\x00,1\n0.2,1,0\n")),
        "empty": (".csv", raw(b"")),
        **PREDICT_ARRAY_CASES,
    }
    for name, (suffix, writer) in mismatched.items():
        given = {"model.h5": copy_of(model), "in" + suffix: writer}
        yield Case(f"predict-data-{name}", ("predict", "model.h5", "in" + suffix, "--output", "out/p.csv"), given)
        yield Case(f"eval-data-{name}", ("eval", "model.h5", "in" + suffix), given)
        yield Case(f"explain-data-{name}", ("explain", "model.h5", "in" + suffix), given)
    yield Case(
        "eval-unseen-class",
        ("eval", "model.h5", "in.csv"),
        {"model.h5": copy_of(model), "in.csv": text("a,b,y\n0.1,1,7\n0.2,1,0\n")},
    )
    yield Case(
        "predict-format-bad",
        ("predict", "model.h5", "data.csv", "--format", "xls"),
        {**shared, "model.h5": copy_of(model)},
    )
    yield Case("predict-model-missing", ("predict", "nowhere.h5", "data.csv"), shared)
    good = {**shared, "model.h5": copy_of(model)}
    for name, flags in {
        "class-unknown": ("--rows", "--class", "nosuchclass"),
        "steps-zero": ("--rows", "--steps", "0"),
        "baseline-missing": ("--rows", "--baseline", "nowhere.csv"),
        "baseline-bad-data": ("--rows", "--baseline", "model.h5"),
        "method-unknown": ("--rows", "--method", "simpson"),
        "repeats-zero": ("--repeats", "0"),
        "sample-one": ("--sample", "1"),
        "plot-gif": ("--plot", "out/p.gif"),
        "format-npy": ("--output", "out/a.npy"),
    }.items():
        yield Case(f"explain-flag-{name}", ("explain", "model.h5", "data.csv", *flags), good)
    yield Case(
        "predict-output-is-dir",
        ("predict", "model.h5", "data.csv", "--output", "adir"),
        {**shared, "model.h5": copy_of(model), "adir/x": text("")},
    )


# --- config files and flags -------------------------------------------------------------------


def _toml(body: str) -> str:
    return '[data]\npath = "data.csv"\ntarget = "y"\n[train]\nepochs = 1\n' + body


TOML_CASES: dict[str, Writer] = {
    "invalid-syntax": text("[data\npath = \n"),
    "unknown-section": text(_toml("[trian]\nepochs = 3\n")),
    "unknown-key": text(_toml("[model]\nhiden = [64]\n")),
    "wrong-type": text(_toml('[model]\nhidden = "lots"\n')),
    "section-not-table": text("data = 3\n"),
    "epochs-zero": text(_toml('[output]\nname = "x"\n').replace("epochs = 1", "epochs = 0")),
    "lr-negative": text(_toml("").replace("epochs = 1", "epochs = 1\nlr = -1.0")),
    "lr-inf": text(_toml("").replace("epochs = 1", "epochs = 1\nlr = inf")),
    "lr-nan": text(_toml("").replace("epochs = 1", "epochs = 1\nlr = nan")),
    "weight-decay-inf": text(_toml("").replace("epochs = 1", "epochs = 1\nweight_decay = inf")),
    "val-split-one": text(_toml("").replace('target = "y"', 'target = "y"\nval_split = 1.0')),
    "hidden-zero": text(_toml("[model]\nhidden = [0]\n")),
    "hidden-empty-item": text(_toml('[model]\nhidden = "64,,32"\n')),
    "hidden-float": text(_toml("[model]\nhidden = [64.5]\n")),
    "delimiter-empty": text(_toml("").replace('target = "y"', 'target = "y"\ndelimiter = ""')),
    "delimiter-two-chars": text(_toml("").replace('target = "y"', 'target = "y"\ndelimiter = ";;"')),
    "delimiter-newline": text(_toml("").replace('target = "y"', 'target = "y"\ndelimiter = "\\n"')),
    "features-twice": text(_toml("").replace('target = "y"', 'target = "y"\nfeatures = ["a", "a"]')),
    "feature-unknown": text(_toml("").replace('target = "y"', 'target = "y"\nfeatures = ["a", "zz"]')),
    "target-as-feature": text(_toml("").replace('target = "y"', 'target = "y"\nfeatures = ["a", "y"]')),
    "optimizer-unknown": text(_toml("").replace("epochs = 1", 'epochs = 1\noptimizer = "adamm"')),
    "dtype-unknown": text(_toml('[model]\ndtype = "float16"\n')),
    "deeply-nested": text("a = " + "[" * 3000 + "]" * 3000 + "\n"),
    "deeply-nested-tables": text("x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n"),
    "not-utf8": raw(b'[data]\npath = "\xff\xfe"\n'),
    "memory-limit-bad": text(_toml("").replace('target = "y"', 'target = "y"\nmemory_limit = "lots"')),
    "task-unknown": text(_toml("").replace('target = "y"', 'target = "y"\ntask = "ranking"')),
    "task-binary-multiclass-data": text(
        _toml("").replace('target = "y"', 'target = "y"\ntask = "binary"').replace("data.csv", "three.csv")
    ),
}


def config_cases() -> Iterator[Case]:
    three = "a,b,y\n" + "".join(f"{i},{i % 4},{i % 3}\n" for i in range(30))
    for name, writer in TOML_CASES.items():
        yield Case(
            f"toml-{name}",
            ("train", "dlcli.toml", "--out", "out"),
            {"dlcli.toml": writer, "data.csv": text(csv_text()), "three.csv": text(three)},
        )
    yield Case("toml-missing", ("train", "nowhere.toml"))
    flags = {
        "epochs-text": ("--epochs", "abc"),
        "epochs-negative": ("--epochs", "-1"),
        "batch-size-zero": ("--batch-size", "0"),
        "lr-inf": ("--lr", "inf"),
        "lr-nan": ("--lr", "nan"),
        "lr-overflow": ("--lr", "1e400"),
        "lr-zero": ("--lr", "0"),
        "hidden-empty-item": ("--hidden", "64,,32"),
        "hidden-trailing-comma": ("--hidden", "64,"),
        "hidden-letters": ("--hidden", "a,b"),
        "hidden-negative": ("--hidden", "-3"),
        "val-split-high": ("--val-split", "1.5"),
        "dropout-one": ("--dropout", "1"),
        "seed-negative": ("--seed", "-1"),
        "memory-limit-bad": ("--memory-limit", "lots"),
        "optimizer-unknown": ("--optimizer", "sgdd"),
        "activation-unknown": ("--activation", "relux"),
        "set-no-equals": ("--set", "train.epochs"),
        "set-no-section": ("--set", "epochs=3"),
        "set-unknown-key": ("--set", "train.epoch=3"),
        "set-weight-decay-inf": ("--set", "train.weight_decay=inf"),
        "set-clip-norm-nan": ("--set", "train.clip_norm=nan"),
        "set-delimiter-empty": ("--set", "data.delimiter="),
        "set-delimiter-two": ("--set", "data.delimiter=;;"),
        "set-features-twice": ("--set", "data.features=a,a"),
        "set-ignore-target": ("--set", "data.ignore=y"),
        "set-features-empty-item": ("--set", "data.features=a,,b"),
        "target-unknown": ("--target", "zz"),
        "unknown-flag": ("--epocs", "3"),
    }
    base = ("train", "--data", "data.csv", "--target", "y", "--epochs", "1", "--out", "out")
    for name, extra in flags.items():
        argv = base if name != "target-unknown" else tuple(a for a in base if a not in ("--target", "y"))
        yield Case(f"flag-{name}", (*argv, *extra), {"data.csv": text(csv_text())})
    env = {
        "epochs-text": ("DLCLI_TRAIN_EPOCHS", "many"),
        "lr-inf": ("DLCLI_TRAIN_LR", "inf"),
        "unknown-key": ("DLCLI_TRAIN_EPOCH", "3"),
    }
    for name, (variable, value) in env.items():
        # Without --epochs, so the variable is the value in force (a flag would override it).
        argv = tuple(a for a in base if a not in ("--epochs", "1"))
        yield Case(f"env-{name}", argv, {"data.csv": text(csv_text())}, env={variable: value})
    yield Case("init-data-missing", ("init", "proj", "--data", "nowhere.csv", "--target", "y"))
    yield Case(
        "init-target-unknown", ("init", "proj", "--data", "data.csv", "--target", "zz"), {"data.csv": text(csv_text())}
    )
    yield Case("init-empty-csv", ("init", "proj", "--data", "data.csv", "--target", "y"), {"data.csv": raw(b"")})


# --- remotes ----------------------------------------------------------------------------------


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def remote_cases() -> Iterator[Case]:
    run = {"run/model.h5": text("x"), "run/history.jsonl": text("{}\n")}
    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    usage = {
        "endpoint-not-url": ("push", "run", "s3://bucket-a/p", "--endpoint-url", "not a url"),
        "endpoint-ftp": ("push", "run", "s3://bucket-a/p", "--endpoint-url", "ftp://127.0.0.1/x"),
        "bucket-too-short": ("push", "run", "s3://ab/p"),
        "bucket-uppercase": ("push", "run", "s3://Bucket/p"),
        "url-no-bucket": ("push", "run", "s3://"),
        "jobs-zero": ("push", "run", "s3://bucket-a/p", "--jobs", "0"),
        "profile-unknown": ("push", "run", "s3://bucket-a/p", "--profile", "nosuchprofile"),
        "push-source-missing": ("push", "nowhere", "s3://bucket-a/p"),
        "pull-into-file": ("pull", "s3://bucket-a/p", "run/model.h5"),
        "checksum-bad": ("push", "run", "s3://bucket-a/p", "--checksum", "always"),
    }
    for name, argv in usage.items():
        environ = {**creds, "AWS_CONFIG_FILE": "aws-config"} if name == "profile-unknown" else creds
        yield Case(f"remote-{name}", argv, {**run, "aws-config": text("[default]\n")}, env=environ)
    port = closed_port()
    endpoint = f"http://127.0.0.1:{port}"
    for command in (("push", "run", "s3://bucket-a/p"), ("pull", "s3://bucket-a/p", "back")):
        yield Case(
            f"remote-unreachable-{command[0]}",
            (*command, "--endpoint-url", endpoint),
            run,
            exit_code=1,
            env=creds,
        )
    yield Case(
        "remote-unreachable-predict-model",
        ("predict", "s3://bucket-a/model.h5", "data.csv", "--endpoint-url", endpoint),
        {"data.csv": text(csv_text())},
        exit_code=1,
        env=creds,
    )


def all_cases(model: Path, checkpoint: Path, data: Path) -> list[Case]:
    cases = [*data_cases(), *model_cases(model, checkpoint, data), *config_cases(), *remote_cases()]
    ids = [case.id for case in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return cases
