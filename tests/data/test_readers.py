"""CSV/NPZ/HDF5 reading, schema fitting and encoding, with the exact error messages."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlcli.data.prepare import TrainingData, prepare_training_data
from dlcli.data.schema import Schema
from dlcli.data.sources import iter_inputs, iter_labelled
from dlcli.data.tables import read_matrix
from dlcli.errors import DataError

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


class Loaded:
    """All rows of a labelled file, encoded in memory (no validation split)."""

    def __init__(self, data: TrainingData) -> None:
        self.schema = data.schema
        self.X, self.y = data.train.X, data.train.y  # type: ignore[attr-defined]


def load_training_data(path: Path, target: str, **options: object) -> Loaded:
    import tempfile

    data = prepare_training_data(
        path,
        target,
        task="auto",
        val_split=0.0,
        rng=np.random.default_rng(0),
        cache_dir=Path(tempfile.mkdtemp(prefix="dlcli-test-cache-")),
        memory_limit=1 << 40,
        **options,  # type: ignore[arg-type]
    )
    return Loaded(data)


def load_labelled(path: Path, schema: Schema) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(iter_labelled(path, schema))


def read_csv_column(path: Path, name: str) -> np.ndarray:
    import pyarrow.csv as pcsv

    return pcsv.read_csv(path).column(name).to_numpy().astype(float).reshape(-1, 1)


def csv_file(tmp_path: Path, text: str, name: str = "d.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_iris_is_multiclass_with_named_classes() -> None:
    data = load_training_data(SAMPLES / "iris" / "iris.csv", "species")
    assert data.schema.task == "multiclass"
    assert data.schema.classes == ["setosa", "versicolor", "virginica"]
    assert data.X.shape == (150, 4) and data.X.dtype == np.float32
    assert np.bincount(data.y).tolist() == [50, 50, 50]


def test_churn_one_hot_encodes_string_columns() -> None:
    data = load_training_data(SAMPLES / "churn" / "churn.csv", "churned")
    kinds = {f.name: f.kind for f in data.schema.features}
    assert kinds == {
        "tenure_months": "numeric",
        "monthly_fee": "numeric",
        "support_tickets": "numeric",
        "plan": "categorical",
        "region": "categorical",
    }
    assert data.schema.task == "binary" and data.schema.classes == ["no", "yes"]
    assert data.schema.n_inputs == 3 + 3 + 4
    onehot = data.X[:, 3:6]
    assert set(np.unique(onehot)) == {0.0, 1.0} and np.all(onehot.sum(axis=1) == 1)


def test_housing_is_regression_with_scaled_target() -> None:
    data = load_training_data(SAMPLES / "housing" / "housing.csv", "price_k")
    schema = data.schema
    assert schema.task == "regression" and schema.target_scaled
    assert abs(float(data.y.mean())) < 1e-9 and abs(float(data.y.std()) - 1) < 1e-9
    assert np.allclose(schema.unscale(data.y), read_csv_column(SAMPLES / "housing" / "housing.csv", "price_k"))


def test_ragged_row_names_line_and_counts(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "a,b,y\n1,2,0\n3,4\n")
    with pytest.raises(DataError) as info:
        load_training_data(path, "y")
    assert info.value.message == f"{path}, line 3: expected 3 fields as in the header, found 2."
    assert "delimiter" in (info.value.hint or "")


def test_missing_target_column_suggests_nearest(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_training_data(SAMPLES / "iris" / "iris.csv", "specis")
    assert info.value.message == f"Column 'specis' given as the target is not in {SAMPLES / 'iris' / 'iris.csv'}."
    assert info.value.hint == "Did you mean 'species'?"


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is empty: expected a header line and rows"):
        load_training_data(csv_file(tmp_path, ""), "y")
    with pytest.raises(DataError, match="has a header but no rows"):
        load_training_data(csv_file(tmp_path, "a,y\n", "h.csv"), "y")


def test_binary_file_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    with pytest.raises(DataError, match="is not UTF-8 text"):
        load_training_data(path, "y")


def test_missing_numeric_cells_take_the_training_mean(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "a,b,y\n1,,0\n3,4,1\n5,6,0\n7,NA,1\n")
    data = load_training_data(path, "y")
    assert data.X[0, 1] == pytest.approx(5.0) and data.X[3, 1] == pytest.approx(5.0)


def test_missing_target_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="target 'y' is missing in data row 2"):
        load_training_data(csv_file(tmp_path, "a,y\n1,0\n2,\n3,1\n"), "y")


def test_non_numeric_cell_at_predict_time_names_line(tmp_path: Path) -> None:
    schema = load_training_data(SAMPLES / "iris" / "iris.csv", "species").schema
    path = csv_file(tmp_path, "sepal_length,sepal_width,petal_length,petal_width\n5,3,1,0.2\n5,abc,1,0.2\n")
    with pytest.raises(DataError) as info:
        list(iter_inputs(path, schema))
    assert info.value.message == f"{path}, line 3: column 'sepal_width' must be numeric, found 'abc'."


def test_prediction_data_missing_a_feature_column(tmp_path: Path) -> None:
    schema = load_training_data(SAMPLES / "iris" / "iris.csv", "species").schema
    path = csv_file(tmp_path, "sepal_length,sepal_width,petal_length\n5,3,1\n")
    with pytest.raises(DataError, match="Column 'petal_width' required by the model is not in"):
        list(iter_inputs(path, schema))


def test_unknown_category_encodes_as_zeros(tmp_path: Path) -> None:
    schema = load_training_data(csv_file(tmp_path, "c,y\nred,0\nblue,1\n"), "y").schema
    other = csv_file(tmp_path, "c\ngreen\nred\n", "p.csv")
    assert np.concatenate(list(iter_inputs(other, schema))).tolist() == [[0.0, 0.0], [0.0, 1.0]]


def test_npz_and_hdf5_inputs(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 3, 40)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    with h5py.File(tmp_path / "d.h5", "w") as handle:
        handle["X"], handle["y"] = X, y
    a = load_training_data(tmp_path / "d.npz", "")
    b = load_training_data(tmp_path / "d.h5", "")
    assert a.schema.task == b.schema.task == "multiclass"
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    chunks = list(iter_inputs(tmp_path / "d.h5", a.schema, chunk_rows=16))
    assert [len(c) for c in chunks] == [16, 16, 8]


def test_wrong_feature_count_in_array(tmp_path: Path) -> None:
    schema = load_training_data(SAMPLES / "iris" / "iris.csv", "species").schema
    np.save(tmp_path / "x.npy", np.zeros((3, 5)))
    with pytest.raises(DataError) as info:
        list(iter_inputs(tmp_path / "x.npy", schema))
    assert info.value.message == f"{tmp_path / 'x.npy'}: the model expects 4 features, the data has 5."


def test_npz_without_y_and_pickled_object_arrays(tmp_path: Path) -> None:
    np.savez(tmp_path / "n.npz", X=np.zeros((3, 2)))
    with pytest.raises(DataError, match="has no array 'y'"):
        load_training_data(tmp_path / "n.npz", "")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    schema = load_training_data(SAMPLES / "iris" / "iris.csv", "species").schema
    with pytest.raises(DataError, match="cannot be read as NPY without pickle"):
        list(iter_inputs(tmp_path / "o.npy", schema))


def test_eval_data_needs_the_target(tmp_path: Path) -> None:
    schema = load_training_data(SAMPLES / "iris" / "iris.csv", "species").schema
    path = csv_file(tmp_path, "sepal_length,sepal_width,petal_length,petal_width\n5,3,1,0.2\n")
    with pytest.raises(DataError, match="Column 'species' \\(the model's target\\) is not in"):
        load_labelled(path, schema)


def test_split_is_stratified_seeded_and_fitted_on_training_rows(tmp_path: Path) -> None:
    path = SAMPLES / "iris" / "iris.csv"

    def split() -> TrainingData:
        return prepare_training_data(
            path,
            "species",
            task="auto",
            val_split=0.2,
            rng=np.random.default_rng(1),
            cache_dir=tmp_path,
            memory_limit=1 << 30,
        )

    a, b = split(), split()
    assert a.val is not None and b.val is not None
    assert np.array_equal(a.val.X, b.val.X)  # type: ignore[attr-defined]
    assert np.bincount(a.val.y).tolist() == [10, 10, 10]  # type: ignore[attr-defined]
    assert a.n_train == 120


def test_schema_round_trips_through_dict() -> None:
    schema = load_training_data(SAMPLES / "churn" / "churn.csv", "churned").schema
    assert Schema.from_dict(schema.to_dict()) == schema


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from(["a", "b", "c"])), min_size=2, max_size=30
    )
)
def test_csv_round_trip_property(tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[float, str]]) -> None:
    path = tmp_path_factory.mktemp("p") / "p.csv"
    path.write_text("x,c,y\n" + "".join(f"{x!r},{c},{i % 2}\n" for i, (x, c) in enumerate(rows)))
    data = load_training_data(path, "y")
    assert len(data.X) == len(rows)
    assert data.X[:, 0].tolist() == [np.float32(x) for x, _ in rows]  # float32 inputs, exactly rounded
    categories = data.schema.features[1].categories
    assert [categories[int(np.argmax(r))] for r in data.X[:, 1:]] == [c for _, c in rows]
    assert data.y.tolist() == [i % 2 for i in range(len(rows))]
    assert read_matrix(path, dtype="float64")[:, 0].tolist() == [x for x, _ in rows]


ROWS = "".join(f"{i / 10},{i % 3},{i % 2}\n" for i in range(40))


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("inf", "line 12: column 'a' has an infinite value."),
        ("-1e400", "line 12: column 'a' has an infinite value."),
        ("1e39", "line 12: column 'a' has 1e+39, beyond the ±3.4e+38 its dtype holds."),
        ("\x00", "line 12: column 'a' has a NUL character."),
    ],
)
def test_a_bad_cell_anywhere_is_an_error_naming_its_line(tmp_path: Path, cell: str, message: str) -> None:
    lines = ("a,b,y\n" + ROWS).splitlines(keepends=True)
    lines[11] = f"{cell},1,0\n"
    path = csv_file(tmp_path, "".join(lines))
    # The whole file is checked before the split: with or without validation rows, one answer.
    for val_split in (0.0, 0.5):
        with pytest.raises(DataError) as info:
            prepare_training_data(
                path, "y", task="auto", val_split=val_split, rng=np.random.default_rng(0),
                cache_dir=tmp_path / f"cache-{val_split}", memory_limit=1 << 40,
            )  # fmt: skip
        assert info.value.message == f"{path}, {message}"


def test_a_target_too_large_to_learn_is_refused_whatever_the_split(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "a,y\n" + "".join(f"{i},{i * 1.5}\n" for i in range(30)) + "1,1e300\n")
    with pytest.raises(DataError) as info:
        load_training_data(path, "y")
    assert info.value.message == f"{path}: target 'y' is 1e+300 in data row 31, beyond the ±1.84e+19 a target can have."


def test_a_constant_target_is_refused(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "a,y\n" + "".join(f"{i},7\n" for i in range(30)))
    with pytest.raises(DataError, match="target 'y' is 7 in every row; nothing to learn"):
        load_training_data(path, "y")


@pytest.mark.parametrize("option", ["features", "ignore"])
def test_the_target_cannot_be_listed_as_a_feature_or_ignored(tmp_path: Path, option: str) -> None:
    path = csv_file(tmp_path, "a,b,y\n" + ROWS)
    with pytest.raises(DataError, match=f"data.{option} lists the target column 'y'"):
        load_training_data(path, "y", **{option: ["a", "y"]})


def _npz(tmp_path: Path, **arrays: np.ndarray) -> Path:
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


X40 = np.arange(120, dtype=np.float64).reshape(40, 3)
Y40 = np.arange(40) % 2


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (
            {"X": np.ones((40, 3, 2)), "y": Y40},
            r"expected a 2-D array \(n_samples, n_features\), got shape \(40, 3, 2\)",
        ),
        ({"X": X40, "y": np.ones((40, 2))}, r"expected one target per row \(y of shape \(40,\)\), got shape \(40, 2\)"),
        ({"X": np.where(X40 > 100, np.inf, X40), "y": Y40}, "data row 34: column 'x2' has an infinite value"),
        ({"X": X40 * 1e300, "y": Y40}, r"data row 1: column 'x1' has 1e\+300, beyond the float32 range"),
    ],
)
def test_arrays_that_do_not_fit_are_refused(tmp_path: Path, arrays: dict[str, np.ndarray], message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_training_data(_npz(tmp_path, **arrays), "y")


def test_an_npy_file_named_npz_says_so(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.save(tmp_path / "d.npy", X40)
    (tmp_path / "d.npy").rename(path)
    with pytest.raises(DataError, match="is a single NPY array, not an NPZ archive of X and y"):
        load_training_data(path, "y")


def test_a_column_of_y_is_one_target(tmp_path: Path) -> None:
    data = load_training_data(_npz(tmp_path, X=X40, y=Y40.reshape(40, 1)), "y")
    assert data.schema.task == "binary" and data.y.shape == (40,)
