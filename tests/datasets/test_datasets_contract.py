"""The input contract of the datasets module: bad arguments, one clear error."""

import re

import numpy as np
import pandas as pd
import pytest

from sklearn_fairif.datasets import (
    load_adult,
    load_compas,
    load_german,
    make_biased_classification,
    train_val_test_split,
)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"class_sep": np.nan}, ValueError, "class_sep must be a finite number"),
        ({"class_sep": np.inf}, ValueError, "class_sep must be a finite number"),
        ({"class_sep": -1.0}, ValueError, "class_sep == -1.0, must be >= 0"),
        ({"class_sep": True}, TypeError, "class_sep must be a number"),
        ({"class_sep": "2"}, TypeError, "class_sep must be an instance"),
        ({"group_sep": np.nan}, ValueError, "group_sep must be a finite number"),
        ({"group_sep": -np.inf}, ValueError, "group_sep"),
        ({"angle": np.nan}, ValueError, "angle must be a finite number"),
        ({"angle": 181}, ValueError, "angle == 181, must be <= 180"),
        ({"angle": -1}, ValueError, "angle == -1, must be >= 0"),
        ({"group_scale": np.inf}, ValueError, "group_scale must be a finite"),
        ({"group_scale": np.nan}, ValueError, "group_scale"),
        ({"group_scale": 0}, ValueError, "group_scale == 0, must be > 0"),
        ({"n_samples": 0}, ValueError, "n_samples == 0, must be >= 1"),
        ({"n_samples": -5}, ValueError, "n_samples == -5"),
        ({"n_samples": 2.5}, TypeError, "n_samples must be an instance of int"),
        ({"n_samples": np.nan}, TypeError, "n_samples must be an instance of int"),
        ({"n_samples": True}, TypeError, "n_samples must be a number"),
        ({"n_features": 2}, ValueError, "n_features == 2, must be >= 3"),
        ({"n_features": 3.0}, TypeError, "n_features must be an instance"),
        ({"bias": "foo"}, ValueError, "bias should be one of"),
        ({"bias": ["group_size"]}, ValueError, "bias should be one of"),
        ({"random_state": "x"}, ValueError, "random_state must be None"),
        ({"random_state": -1}, ValueError, "random_state must be None"),
    ],
)
def test_make_biased_classification_bad_parameters(kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make_biased_classification(**{"n_samples": 100, "random_state": 0, **kwargs})


@pytest.mark.parametrize("kwargs", [{"class_sep": 0}, {"angle": 180},
                                    {"group_sep": 0.0}, {"n_features": 3}])
def test_make_biased_classification_edge_values_are_finite(kwargs):
    X, y, s = make_biased_classification(50, random_state=0, **kwargs)
    assert np.isfinite(X).all() and set(y) <= {0, 1} and set(s) <= {0, 1}


def _data(n=40):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, 2))
    y = np.tile([0, 1], n // 2)
    s = np.repeat([0, 1], n // 2)
    return X, y, s


def _singleton_group():
    X, y, s = _data()
    s = s.astype(object)
    s[0] = "rare"
    s[s == 0] = "a"
    s[s == 1] = "b"
    return X, y, s


@pytest.mark.parametrize(
    "make, kwargs, error, message",
    [
        (_singleton_group, {}, ValueError,
         "stratify='label_group' needs at least 2 rows in every stratum, but the "
         "cell y=0, s='rare' has 1 row(s)"),
        (_singleton_group, {"stratify": "group"}, ValueError,
         "the group s='rare' has 1 row(s)"),
        (_data, {"val_size": 0}, ValueError, "val_size=0 should be a positive count"),
        (_data, {"val_size": 1.0}, ValueError, "val_size=1.0 should be a fraction"),
        (_data, {"test_size": np.nan}, ValueError, "test_size=nan should be a"),
        (_data, {"val_size": "0.2"}, TypeError, "val_size should be an int or"),
        (_data, {"val_size": True}, TypeError, "val_size should be an int or"),
        (_data, {"test_size": 40}, ValueError, "test_size=40 should be"),
        (_data, {"val_size": 20, "test_size": 20}, ValueError,
         "leave no row of the 40 samples for training"),
        (_data, {"stratify": "foo"}, ValueError, "stratify should be one of"),
        (_data, {"stratify": ["label"]}, ValueError, "stratify should be one of"),
        (_data, {"random_state": -1}, ValueError, "random_state must be None"),
        (_data, {"random_state": "seed"}, ValueError, "random_state must be None"),
    ],
)
def test_train_val_test_split_bad_arguments(make, kwargs, error, message):
    X, y, s = make()
    with pytest.raises(error, match=re.escape(message)):
        train_val_test_split(X, y, s, **kwargs)


@pytest.mark.parametrize(
    "change, error, message",
    [
        (lambda X, y, s: (X, y[:5], s), ValueError,
         "X, y and s must have the same number of rows, got 40, 5 and 40"),
        (lambda X, y, s: (X, y, s[:3]), ValueError, "got 40, 40 and 3"),
        (lambda X, y, s: (X[:0], y[:0], s[:0]), ValueError, "have 0 row(s)"),
        (lambda X, y, s: (X, y, np.where(s == 0, np.nan, 1.0)), ValueError,
         "s contains 20 missing value(s)"),
        (lambda X, y, s: (X, y, np.array([1, "a"] * 20, dtype=object)), TypeError,
         "s mixes strings and numbers"),
        (lambda X, y, s: (X, np.array([0, "x"] * 20, dtype=object), s), TypeError,
         "y mixes strings and numbers"),
        (lambda X, y, s: (X, pd.Series([None] + [1] * 39), s), ValueError,
         "y contains 1 missing value(s)"),
    ],
)
def test_train_val_test_split_bad_arrays(change, error, message):
    with pytest.raises(error, match=re.escape(message)):
        train_val_test_split(*change(*_data()), random_state=0)


def test_train_val_test_split_singleton_ok_without_stratify():
    X, y, s = _singleton_group()
    parts = train_val_test_split(X, y, s, stratify=None, random_state=0)
    assert sum(len(p) for p in parts[:3]) == 40


@pytest.mark.parametrize("loader", [load_adult, load_compas, load_german])
@pytest.mark.parametrize(
    "kwargs, error, message",
    [({"return_X_y": 1}, TypeError, "return_X_y must be True or False, got 1"),
     ({"as_frame": "yes"}, TypeError, "as_frame must be True or False"),
     ({"as_frame": None}, TypeError, "as_frame must be True or False, got None"),
     ({"foo": 1}, TypeError, "unexpected keyword argument 'foo'")],
)
def test_loaders_bad_arguments(loader, kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        loader(**kwargs)


@pytest.mark.parametrize("loader", [load_compas, load_german])
def test_loaders_accept_numpy_bool(loader):
    X, y, s = loader(return_X_y=np.bool_(True), as_frame=np.bool_(False))
    assert len(X) == len(y) == len(s)
