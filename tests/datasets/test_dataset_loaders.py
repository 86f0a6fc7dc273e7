"""Tests of the bundled-dataset loaders and of the checksum verification."""

import gzip
import hashlib
import io
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.preprocessing import OneHotEncoder

from sklearn_fairif.datasets import (
    _base,
    _loaders,
    load_adult,
    load_compas,
    load_german,
)

# The SHA256 digests of the raw public files (those of shared/data/SHA256SUMS).
RAW_SHA256 = {
    "adult.data": "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
    "adult.names": "c248284c0b5de30c9e1958d6cdd168a34a654758b620e68f46aefa83fc0a576a",
    "adult.test": "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
    "compas-scores-two-years.csv": (
        "c451db85908b2f7fef1d83203bedf6b71ecda0d5af468d82ae62178f91d0cc7d"
    ),
    "german.data": "b21f3d81db8071257d5ff1deaeba1fd4303b62712e6fcc9715c7a86202cb5871",
}

# Per dataset: rows, features, sensitive column, target column, and the counts of
# the cells (s, y) = (0, 0), (0, 1), (1, 0), (1, 1).
DATASETS = {
    "adult": (load_adult, 45222, 13, "sex", "income", [13026, 1669, 20988, 9539]),
    "compas": (
        load_compas,
        5278,
        9,
        "race",
        "no_two_year_recid",
        [1661, 1514, 822, 1281],
    ),
    "german": (load_german, 1000, 19, "sex", "good_credit", [109, 201, 191, 499]),
}


@pytest.fixture(params=list(DATASETS), scope="module")
def dataset(request):
    loader, n_rows, n_features, sensitive, target, counts = DATASETS[request.param]
    return {
        "loader": loader,
        "n_rows": n_rows,
        "n_features": n_features,
        "sensitive": sensitive,
        "target": target,
        "counts": counts,
    }


def _cell_counts(y, s):
    return np.bincount(2 * np.asarray(s) + np.asarray(y), minlength=4).tolist()


def test_group_label_counts(dataset):
    # Adult's counts are those of Table 8 of the FairIF paper.
    bunch = dataset["loader"]()
    assert _cell_counts(bunch.target, bunch.sensitive) == dataset["counts"]
    assert len(bunch.data) == dataset["n_rows"]


def test_bunch_layout(dataset):
    bunch = dataset["loader"]()
    assert set(bunch) == {
        "data",
        "target",
        "sensitive",
        "frame",
        "feature_names",
        "target_names",
        "sensitive_names",
        "DESCR",
    }
    assert bunch.data.shape == (dataset["n_rows"], dataset["n_features"])
    assert bunch.feature_names == bunch.data.columns.tolist()
    assert dataset["sensitive"] not in bunch.feature_names
    assert dataset["target"] not in bunch.feature_names
    assert bunch.frame.columns.tolist() == [
        *bunch.feature_names,
        dataset["sensitive"],
        dataset["target"],
    ]
    assert bunch.target.name == dataset["target"]
    assert bunch.sensitive.name == dataset["sensitive"]
    assert bunch.target_names.shape == (2,)
    assert bunch.sensitive_names.shape == (2,)
    assert "Licence" in bunch.DESCR and "Source" in bunch.DESCR


def test_frame_dtypes(dataset):
    bunch = dataset["loader"]()
    for name, dtype in bunch.data.dtypes.items():
        assert isinstance(dtype, pd.CategoricalDtype) or dtype == np.int64, name
    assert not bunch.data.isna().any().any()
    for column in (bunch.target, bunch.sensitive):
        assert column.dtype == np.int64
        assert set(column.unique()) == {0, 1}


def test_as_frame_false(dataset):
    bunch = dataset["loader"](as_frame=False)
    frame = dataset["loader"]().data
    assert isinstance(bunch.data, np.ndarray) and bunch.data.dtype == object
    assert bunch.data.shape == (dataset["n_rows"], dataset["n_features"])
    assert bunch.frame is None
    assert bunch.target.dtype == np.int64 and bunch.sensitive.dtype == np.int64
    # The object array holds the frame's values unchanged, numbers as numbers.
    np.testing.assert_array_equal(bunch.data, frame.astype(object).to_numpy())
    numeric = [i for i, d in enumerate(frame.dtypes) if d == np.int64]
    assert all(isinstance(v, (int, np.integer)) for v in bunch.data[0, numeric])


@pytest.mark.parametrize("as_frame", [True, False])
def test_return_X_y_is_a_triple(dataset, as_frame):
    bunch = dataset["loader"](as_frame=as_frame)
    result = dataset["loader"](return_X_y=True, as_frame=as_frame)
    assert isinstance(result, tuple) and len(result) == 3
    X, y, s = result
    assert type(X) is type(bunch.data)
    np.testing.assert_array_equal(np.asarray(X), np.asarray(bunch.data))
    np.testing.assert_array_equal(y, bunch.target)
    np.testing.assert_array_equal(s, bunch.sensitive)


def test_loaders_return_copies(dataset):
    first = dataset["loader"]()
    first.data.iloc[:, 0] = first.data.iloc[0, 0]
    first.frame.loc[:, dataset["target"]] = 0
    first.target[:] = 0
    second = dataset["loader"]()
    assert second.data.iloc[:, 0].nunique() > 1
    assert _cell_counts(second.target, second.sensitive) == dataset["counts"]


def test_dtype_selection_feeds_a_column_transformer(dataset):
    X = dataset["loader"]().data
    categorical = make_column_selector(dtype_include="category")
    numeric = make_column_selector(dtype_include="number")
    assert len(categorical(X)) + len(numeric(X)) == X.shape[1]
    encoder = make_column_transformer(
        (OneHotEncoder(sparse_output=False), categorical), ("passthrough", numeric)
    )
    n_levels = sum(X[c].nunique() for c in categorical(X))
    assert encoder.fit_transform(X).shape == (len(X), n_levels + len(numeric(X)))


def test_adult_conventions():
    bunch = load_adult()
    X = bunch.data
    assert "race" in bunch.feature_names and "fnlwgt" in bunch.feature_names
    assert all(
        "?" not in X[c].cat.categories
        for c in make_column_selector(dtype_include="category")(X)
    )
    # Stripped whitespace: no category starts with a blank.
    assert not any(str(v).startswith(" ") for v in X["workclass"].cat.categories)
    assert bunch.target_names.tolist() == ["<=50K", ">50K"]
    assert bunch.sensitive_names.tolist() == ["Female", "Male"]
    # Train rows come first; the last row is the test file's last complete row.
    assert X.iloc[0]["fnlwgt"] == 77516
    assert X.iloc[-1]["fnlwgt"] == 182148
    assert X.iloc[-1]["age"] == 35


def test_adult_recomputed_from_the_raw_files():
    # An independent parse: 48,842 rows, 3,620 with a "?".
    lines = []
    for name in ("adult.data", "adult.test"):
        text = _base._load_raw_bytes(name).decode()
        lines += [
            line
            for line in text.splitlines()
            if line.strip() and not line.startswith("|")
        ]
    assert len(lines) == 32561 + 16281
    complete = [line for line in lines if "?" not in line]
    assert len(complete) == 45222
    high = [line.rstrip(".").endswith(">50K") for line in complete]
    assert sum(high) == load_adult().target.sum()


def test_compas_conventions():
    bunch = load_compas()
    assert bunch.feature_names == [
        "sex",
        "age",
        "age_cat",
        "juv_fel_count",
        "juv_misd_count",
        "juv_other_count",
        "priors_count",
        "c_charge_degree",
        "length_of_stay",
    ]
    assert bunch.data["age_cat"].cat.categories.tolist() == [
        "Less than 25",
        "25 - 45",
        "Greater than 45",
    ]
    assert set(bunch.data["c_charge_degree"].cat.categories) == {"F", "M"}
    assert (bunch.data["length_of_stay"] >= 0).all()
    assert bunch.sensitive_names.tolist() == ["African-American", "Caucasian"]
    assert bunch.target_names.tolist() == ["reoffended", "did not reoffend"]


def test_compas_recomputed_from_the_raw_file():
    # ProPublica's filters written out again; y = 1 means no recidivism.
    raw = pd.read_csv(io.BytesIO(_base._load_raw_bytes("compas-scores-two-years.csv")))
    raw = raw[
        (raw.days_b_screening_arrest <= 30)
        & (raw.days_b_screening_arrest >= -30)
        & (raw.is_recid != -1)
        & (raw.c_charge_degree != "O")
        & (raw.score_text != "N/A")
    ]
    assert len(raw) == 6172
    raw = raw[raw.race.isin(["African-American", "Caucasian"])]
    bunch = load_compas()
    np.testing.assert_array_equal(bunch.target, 1 - raw.two_year_recid)
    np.testing.assert_array_equal(bunch.sensitive, raw.race == "Caucasian")
    np.testing.assert_array_equal(bunch.data["priors_count"], raw.priors_count)


def test_german_conventions():
    bunch = load_german()
    assert "personal_status_sex" not in bunch.feature_names
    assert len(bunch.feature_names) == 19
    assert bunch.data["purpose"].cat.categories.tolist()[-2:] == ["A49", "A410"]
    raw = pd.read_csv(
        io.BytesIO(_base._load_raw_bytes("german.data")), sep=" ", header=None
    )
    np.testing.assert_array_equal(
        bunch.sensitive, raw[8].isin(["A91", "A93", "A94"]).astype(int)
    )
    assert set(raw[8][bunch.sensitive == 0]) <= {"A92", "A95"}
    np.testing.assert_array_equal(bunch.target, (raw[20] == 1).astype(int))
    assert bunch.target_names.tolist() == ["bad", "good"]


# -- checksums ---------------------------------------------------------------


def test_checksum_file_lists_the_raw_files():
    assert _base._expected_checksums() == RAW_SHA256
    shipped = {
        entry.name.removesuffix(".gz")
        for entry in (resources.files("sklearn_fairif.datasets") / "data").iterdir()
        if entry.name.endswith(".gz")
    }
    assert shipped == set(RAW_SHA256)


@pytest.mark.parametrize("raw_name", sorted(RAW_SHA256))
def test_shipped_copies_decompress_to_the_raw_files(raw_name):
    content = _base._load_raw_bytes(raw_name)
    assert hashlib.sha256(content).hexdigest() == RAW_SHA256[raw_name]


def test_package_data_stays_small():
    folder = resources.files("sklearn_fairif.datasets") / "data"
    size = sum(len(f.read_bytes()) for f in folder.iterdir() if f.is_file())
    assert size < 2_000_000


@pytest.fixture
def tampered_german(monkeypatch, tmp_path):
    """Make the bundled german.data differ from the raw file by one byte."""
    content = bytearray(_base._load_raw_bytes("german.data"))
    content[0:3] = b"A12"
    (tmp_path / "german.data.gz").write_bytes(gzip.compress(bytes(content)))
    monkeypatch.setattr(_base, "_data_path", lambda name: tmp_path / name)


def test_corrupted_copy_raises(tampered_german):
    with pytest.raises(OSError, match="SHA256 checksum .* differs"):
        _base._load_raw_bytes("german.data")
    # The loader verifies too (bypassing the in-process cache of its frame).
    with pytest.raises(OSError, match="german.data"):
        _loaders._german_frame.__wrapped__()


def test_unlisted_file_raises():
    with pytest.raises(OSError, match="No SHA256 checksum"):
        _base._load_raw_bytes("not-a-dataset.csv")
