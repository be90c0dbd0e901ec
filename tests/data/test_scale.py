"""The data path at scale: columnar formats, the table cache, streamed batches and metrics."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from dlcli.data.cache import cached_table, tables_dir
from dlcli.data.encode import Encoder
from dlcli.data.fit import fit_schema, fit_target
from dlcli.data.prepare import TrainingData, encode_rows, input_moments, prepare_training_data
from dlcli.data.sources import iter_inputs, iter_labelled
from dlcli.data.streams import StreamBatchSource, prefetch
from dlcli.data.survey import survey
from dlcli.errors import DataError
from dlcli.files import STALE_TEMP_SECONDS, TEMP_PREFIX, sweep_temporary
from dlcli.nn.metrics import ClassificationStream, RegressionStream, classification_metrics, regression_metrics


def table(n: int = 600, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    x[rng.random(n) < 0.05, 1] = np.nan  # missing cells
    colour = rng.choice(["red", "green", "blue"], n)
    y = np.where(x[:, 0] + (colour == "red") > 0.3, "yes", "no")
    return pa.table({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "colour": colour, "y": y})


def write_all(tmp_path: Path, data: pa.Table) -> dict[str, Path]:
    paths = {"csv": tmp_path / "t.csv", "parquet": tmp_path / "t.parquet", "feather": tmp_path / "t.feather"}
    pcsv.write_csv(data, paths["csv"])
    pq.write_table(data, paths["parquet"], row_group_size=128)
    feather.write_feather(data, paths["feather"], chunksize=100)
    return paths


def prepared(path: Path, cache: Path, memory_limit: int = 1 << 30, val_split: float = 0.2) -> TrainingData:
    return prepare_training_data(
        path,
        "y",
        task="auto",
        val_split=val_split,
        rng=np.random.default_rng(3),
        cache_dir=cache,
        memory_limit=memory_limit,
    )


def test_csv_parquet_and_feather_give_the_same_schema_and_inputs(tmp_path: Path) -> None:
    paths = write_all(tmp_path, table())
    loaded = {fmt: prepared(path, tmp_path / "cache") for fmt, path in paths.items()}
    csv = loaded["csv"]
    assert [f.kind for f in csv.schema.features] == ["numeric", "numeric", "numeric", "categorical"]
    assert csv.schema.features[3].categories == ["blue", "green", "red"] and csv.schema.classes == ["no", "yes"]
    for other in ("parquet", "feather"):
        schema = loaded[other].schema
        assert [(f.name, f.kind, f.categories) for f in schema.features] == [
            (f.name, f.kind, f.categories) for f in csv.schema.features
        ]
        assert [f.fill for f in schema.features] == pytest.approx([f.fill for f in csv.schema.features])
        assert np.allclose(loaded[other].train.X, csv.train.X, atol=1e-6)  # type: ignore[attr-defined]
        assert np.array_equal(loaded[other].train.y, csv.train.y)  # type: ignore[attr-defined]


def test_predict_and_eval_read_every_format_the_same(tmp_path: Path) -> None:
    paths = write_all(tmp_path, table())
    schema = prepared(paths["csv"], tmp_path / "cache").schema
    inputs = {fmt: np.concatenate(list(iter_inputs(p, schema, chunk_rows=64))) for fmt, p in paths.items()}
    assert inputs["csv"].shape == (600, schema.n_inputs)
    for fmt in ("parquet", "feather"):
        assert np.allclose(inputs[fmt], inputs["csv"], atol=1e-6), fmt
    targets = [np.concatenate([y for _, y in iter_labelled(p, schema)]) for p in paths.values()]
    assert all(np.array_equal(t, targets[0]) for t in targets)


def test_the_cache_is_reused_and_keyed_by_content_and_options(tmp_path: Path) -> None:
    paths = write_all(tmp_path, table())
    cache = tmp_path / "cache"
    prepared(paths["csv"], cache)
    entries = sorted(tables_dir(cache).iterdir())
    assert len(entries) == 1
    before = entries[0].stat().st_mtime_ns
    prepared(paths["csv"], cache)
    assert sorted(tables_dir(cache).iterdir()) == entries and entries[0].stat().st_mtime_ns == before
    pcsv.write_csv(table(seed=1), paths["csv"])  # new content → new entry
    prepared(paths["csv"], cache)
    assert len(list(tables_dir(cache).iterdir())) == 2


def test_a_killed_build_leaves_no_entry_and_its_temporary_file_is_swept(tmp_path: Path) -> None:
    directory = tables_dir(tmp_path)
    directory.mkdir(parents=True)
    old = directory / f"{TEMP_PREFIX}dead-t.h5"
    old.write_bytes(b"partial")
    os.utime(old, (time.time() - STALE_TEMP_SECONDS - 5,) * 2)
    fresh = directory / f"{TEMP_PREFIX}live-t.h5"  # another process's build in progress
    fresh.write_bytes(b"partial")
    paths = write_all(tmp_path, table())
    prepared(paths["csv"], tmp_path)
    assert not old.exists() and fresh.exists()
    assert sweep_temporary(directory, older_than=-1) == 1 and not fresh.exists()


def test_a_csv_column_that_turns_to_text_after_the_first_block_is_categorical(tmp_path: Path) -> None:
    rows = 300_000  # more than pyarrow's first block, so its type inference sees numbers only
    path = tmp_path / "late.csv"
    with path.open("w") as out:
        out.write("a,b,y\n")
        out.writelines(f"{i % 7},{i % 3},{i % 2}\n" for i in range(rows))
        out.write("1,three,0\n")
    data = prepared(path, tmp_path / "cache", val_split=0.0)
    kinds = {f.name: f.kind for f in data.schema.features}
    assert kinds == {"a": "numeric", "b": "categorical"}
    assert data.schema.features[1].categories == ["0", "1", "2", "three"]
    assert data.n_train == rows + 1


def test_quoted_newlines_fall_back_to_the_serial_reader(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    body = "".join(f'{i},"line one\nline two {i % 2}",{i % 2}\n' for i in range(40_000))
    path.write_text("a,note,y\n" + body)
    data = prepared(path, tmp_path / "cache", val_split=0.0)
    assert data.n_train == 40_000
    assert data.schema.features[1].categories == ["line one\nline two 0", "line one\nline two 1"]


def test_infinite_value_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "inf.csv"
    path.write_text("a,y\n1,0\n\n2,1\ninf,0\n")
    with pytest.raises(DataError) as info:
        prepared(path, tmp_path / "cache", val_split=0.0)
    assert info.value.message == f"{path}, line 5: column 'a' has an infinite value."


def stream_source(tmp_path: Path, block_bytes: int = 1024) -> tuple[StreamBatchSource, np.ndarray, np.ndarray]:
    paths = write_all(tmp_path, table(1000))
    store = cached_table(paths["parquet"], "x", tmp_path / "cache", target="y")
    target = store.target()
    rows = np.arange(0, 1000, 2)  # every other row, as a split would leave
    schema = fit_schema(store, target, rows, task="auto")
    encoder = Encoder(schema, "float32", store.dictionaries)
    y = schema.encode_target(target, store.source)[rows]
    X = encode_rows(store, encoder, rows)
    return StreamBatchSource(store, encoder, rows, y, block_bytes=block_bytes), X, y


def test_streamed_epochs_cover_every_row_once_in_a_seeded_block_shuffle(tmp_path: Path) -> None:
    source, X, _ = stream_source(tmp_path)
    assert source.n_blocks > 5  # several blocks, so the order is really two-level
    epoch = source.epoch(np.random.default_rng(7), 32)
    batches = list(epoch.batches())
    assert len(batches) == len(epoch) == -(-500 // 32) and [len(b[0]) for b in batches[:-1]] == [32] * (len(epoch) - 1)
    seen = np.concatenate([b[0] for b in batches])
    order = np.lexsort(seen.T[::-1])
    assert np.array_equal(seen[order], X[np.lexsort(X.T[::-1])])  # the same rows, each once
    assert not np.array_equal(seen, X)  # but shuffled
    again = list(source.epoch(np.random.default_rng(7), 32).batches())
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(batches, again, strict=True))
    tail = list(source.epoch(np.random.default_rng(7), 32).batches(start=5))  # a resume mid-epoch
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(batches[5:], tail, strict=True))


def test_streamed_shards_split_each_global_batch(tmp_path: Path) -> None:
    source, _, _ = stream_source(tmp_path)
    whole = list(source.epoch(np.random.default_rng(1), 30).batches())
    parts = [list(source.shard(r, 3).epoch(np.random.default_rng(1), 30).batches()) for r in range(3)]
    for b, pieces in enumerate(zip(*parts, strict=True)):
        assert np.array_equal(np.concatenate([p[0] for p in pieces]), whole[b][0])


def test_streamed_chunks_equal_the_matrix_and_moments_match(tmp_path: Path) -> None:
    source, X, y = stream_source(tmp_path)
    chunks = list(source.chunks(100))
    assert np.array_equal(np.concatenate([c[0] for c in chunks]), X)
    assert np.array_equal(np.concatenate([c[1] for c in chunks]), y)
    mean, var, count = input_moments(source)
    assert count == len(X) and np.allclose(mean, X.astype(np.float64).mean(0)) and np.allclose(var, X.var(0))


def test_out_of_core_preparation_serves_the_same_rows(tmp_path: Path) -> None:
    paths = write_all(tmp_path, table(3000))
    memory = prepared(paths["csv"], tmp_path / "cache")
    streamed = prepared(paths["csv"], tmp_path / "cache", memory_limit=10_000)
    assert memory.in_memory and not streamed.in_memory
    assert streamed.schema == memory.schema
    for a, b in ((memory.train, streamed.train), (memory.val, streamed.val)):
        assert a is not None and b is not None
        assert np.array_equal(
            np.concatenate([c for c, _ in a.chunks(500)]), np.concatenate([c for c, _ in b.chunks(77)])
        )


def test_prefetch_hands_over_errors_and_stops_when_abandoned() -> None:
    def failing():  # type: ignore[no-untyped-def]
        yield 1
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        list(prefetch(failing))
    items = prefetch(lambda: iter(range(1000)))
    assert next(items) == 0
    items.close()  # the producer thread is joined, not left blocked on a full queue


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_streamed_metrics_equal_the_one_pass_metrics(chunk: int) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 500)
    proba = rng.dirichlet(np.ones(3), 500)
    stream = ClassificationStream(3)
    for i in range(0, 500, chunk):
        stream.update(y[i : i + chunk], proba[i : i + chunk])
    full, streamed = classification_metrics(y, proba, 3), stream.result()
    assert streamed["confusion_matrix"] == full["confusion_matrix"]
    for key in ("accuracy", "precision_macro", "recall_macro", "f1_macro"):
        assert streamed[key] == full[key]
    assert streamed["log_loss"] == pytest.approx(full["log_loss"], rel=1e-12)
    t, p = rng.normal(5, 2, 500), rng.normal(5, 2, 500)
    regression = RegressionStream()
    for i in range(0, 500, chunk):
        regression.update(t[i : i + chunk], p[i : i + chunk])
    assert regression.result() == pytest.approx(regression_metrics(t, p), rel=1e-12)


def test_survey_bounds_its_pass_and_says_when_it_stopped(tmp_path: Path) -> None:
    paths = write_all(tmp_path, table(2000))
    full = survey(paths["csv"], "y")
    assert full.complete and full.n_rows == 2000 and full.categories == {"colour": 3}
    assert full.schema.task == "binary" and full.schema.classes == ["no", "yes"]
    hurried = survey(paths["csv"], "y", seconds=0.0)
    assert not hurried.complete and 0 < hurried.n_rows <= 2000
    assert survey(paths["parquet"], "y").schema.features == full.schema.features


def test_fit_target_infers_the_task_from_every_row(tmp_path: Path) -> None:
    paths = write_all(tmp_path, table())
    store = cached_table(paths["csv"], "x", tmp_path / "cache", target="a")
    assert fit_target(store.target(), store.source).task == "regression"


def test_a_small_table_makes_a_small_cache_entry(tmp_path: Path) -> None:
    from pathlib import Path as P

    iris = P(__file__).resolve().parents[2] / "samples" / "iris" / "iris.csv"
    store = cached_table(iris, "x", tmp_path, target="species")
    assert store.n_rows == 150
    (entry,) = tables_dir(tmp_path).iterdir()
    assert entry.stat().st_size < 64 * 1024  # not whole 4 MiB chunks for 150 rows
