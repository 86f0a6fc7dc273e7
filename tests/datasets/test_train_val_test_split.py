"""Tests of train_val_test_split."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from sklearn_fairif.datasets import (
    load_german,
    make_biased_classification,
    train_val_test_split,
)


def _cells(y, s):
    return np.bincount(2 * np.asarray(s) + np.asarray(y), minlength=4)


@pytest.mark.parametrize("n_samples", [1000, 997, 333])
@pytest.mark.parametrize(
    "bias", ["group_size", "distribution_shift", "class_size", None]
)
def test_sizes_and_cell_shares(n_samples, bias):
    X, y, s = make_biased_classification(n_samples, bias=bias, random_state=0)
    parts = train_val_test_split(X, y, s, random_state=0)
    assert len(parts) == 9
    n_test = int(np.ceil(0.2 * n_samples))
    assert [len(p) for p in parts[:3]] == [n_samples - 2 * n_test, n_test, n_test]

    share = _cells(y, s) / n_samples
    for k in range(3):
        X_k, y_k, s_k = parts[k], parts[3 + k], parts[6 + k]
        assert X_k.shape == (len(y_k), X.shape[1]) and len(s_k) == len(y_k)
        # Each label x group cell keeps its share to within one row.
        assert np.abs(_cells(y_k, s_k) - share * len(y_k)).max() <= 1


def test_parts_are_disjoint_and_aligned():
    X, y, s = make_biased_classification(500, random_state=1)
    ids = np.arange(500)
    X = np.column_stack([ids, X])
    X_tr, X_va, X_te, y_tr, y_va, y_te, s_tr, s_va, s_te = train_val_test_split(
        X, y, s, random_state=1
    )
    seen = np.concatenate([X_tr[:, 0], X_va[:, 0], X_te[:, 0]]).astype(int)
    assert sorted(seen) == ids.tolist()
    for X_k, y_k, s_k in [(X_tr, y_tr, s_tr), (X_va, y_va, s_va), (X_te, y_te, s_te)]:
        rows = X_k[:, 0].astype(int)
        np.testing.assert_array_equal(y_k, y[rows])
        np.testing.assert_array_equal(s_k, s[rows])


def test_pandas_inputs_keep_types_and_index():
    X, y, s = load_german(return_X_y=True)
    X.index = X.index + 1000
    y.index = s.index = X.index
    X_tr, X_va, X_te, y_tr, y_va, y_te, s_tr, s_va, s_te = train_val_test_split(
        X, y, s, random_state=0
    )
    assert isinstance(X_va, pd.DataFrame) and isinstance(y_va, pd.Series)
    assert isinstance(s_te, pd.Series)
    assert (X_va.dtypes == X.dtypes).all()
    for X_k, y_k, s_k in [(X_tr, y_tr, s_tr), (X_va, y_va, s_va), (X_te, y_te, s_te)]:
        assert X_k.index.equals(y_k.index) and X_k.index.equals(s_k.index)
    assert X_tr.index.min() >= 1000
    assert len(X_tr.index.union(X_va.index).union(X_te.index)) == 1000


def test_lists_and_sparse_inputs():
    X, y, s = make_biased_classification(200, bias=None, random_state=0)
    parts = train_val_test_split(sp.csr_matrix(X), y.tolist(), s.tolist())
    assert sp.issparse(parts[0]) and parts[0].shape == (120, X.shape[1])
    assert isinstance(parts[4], list) and len(parts[4]) == 40


def test_string_labels_and_groups():
    rng = np.random.RandomState(0)
    y = rng.choice(["no", "yes"], size=300)
    s = rng.choice(["a", "b", "c"], size=300)
    X = rng.normal(size=(300, 2))
    parts = train_val_test_split(X, y, s, random_state=0)
    cells = pd.crosstab(y, s)
    test_cells = pd.crosstab(parts[5], parts[8])
    assert np.abs(test_cells - cells * 60 / 300).to_numpy().max() <= 1


def test_random_state_reproducible():
    X, y, s = make_biased_classification(300, random_state=0)
    first = train_val_test_split(X, y, s, random_state=42)
    again = train_val_test_split(X, y, s, random_state=42)
    other = train_val_test_split(X, y, s, random_state=43)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def test_integer_sizes():
    X, y, s = make_biased_classification(400, random_state=0)
    parts = train_val_test_split(X, y, s, val_size=50, test_size=100, random_state=0)
    assert [len(p) for p in parts[:3]] == [250, 50, 100]


@pytest.mark.parametrize(
    "stratify, key",
    [("label", lambda y, s: np.bincount(y)), ("group", lambda y, s: np.bincount(s))],
)
def test_stratify_label_or_group(stratify, key):
    X, y, s = make_biased_classification(1000, bias="group_size", random_state=0)
    parts = train_val_test_split(X, y, s, stratify=stratify, random_state=0)
    share = key(y, s) / 1000
    for k in range(3):
        counts = key(parts[3 + k], parts[6 + k])
        assert np.abs(counts - share * len(parts[3 + k])).max() <= 1


def test_stratify_none_allows_singleton_cells():
    X, y, s = make_biased_classification(100, bias=None, random_state=0)
    s = s.copy()
    s[np.flatnonzero(s == 0)[1:]] = 1  # a single row in group 0
    with pytest.raises(ValueError, match="'label_group' needs at least 2 rows"):
        train_val_test_split(X, y, s, random_state=0)
    parts = train_val_test_split(X, y, s, stratify=None, random_state=0)
    assert [len(p) for p in parts[:3]] == [60, 20, 20]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"val_size": 0.5, "test_size": 0.5}, ValueError, "no row"),
        ({"val_size": 60, "test_size": 40}, ValueError, "no row"),
        ({"val_size": 1.5}, ValueError, "fraction"),
        ({"test_size": 0}, ValueError, "positive count"),
        ({"test_size": "0.2"}, TypeError, "int or a float"),
        ({"stratify": "sex"}, ValueError, "stratify should be"),
    ],
)
def test_invalid_parameters(kwargs, error, match):
    X, y, s = make_biased_classification(100, random_state=0)
    with pytest.raises(error, match=match):
        train_val_test_split(X, y, s, **kwargs)


def test_inconsistent_lengths():
    X, y, s = make_biased_classification(100, random_state=0)
    with pytest.raises(ValueError, match="must have the same number of rows"):
        train_val_test_split(X, y, s[:-1])
