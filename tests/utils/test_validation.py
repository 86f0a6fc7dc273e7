import re
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import UndefinedMetricWarning

from sklearn_fairif.utils._validation import (
    _check_binary_targets,
    _check_sensitive_features,
    _check_targets,
    _warn_missing_class,
)

# ---------------------------------------------------------------- sensitive features


@pytest.mark.parametrize(
    "container",
    [
        list,
        np.asarray,
        pd.Series,
        lambda v: pd.Series(v, name="sex", index=np.arange(10, 10 + len(v))),
        lambda v: pd.DataFrame({"sex": v}),
        lambda v: np.asarray(v).reshape(-1, 1),
    ],
    ids=["list", "ndarray", "series", "series-index", "dataframe", "column"],
)
def test_check_sensitive_features_containers(container):
    values = ["a", "b", "b", "a", "c"]
    groups = _check_sensitive_features(container(values), 5)
    assert isinstance(groups, np.ndarray)
    assert groups.ndim == 1
    assert_array_equal(groups, values)


def test_check_sensitive_features_keeps_integer_labels():
    groups = _check_sensitive_features([0, 1, 1, 0])
    assert groups.dtype.kind == "i"
    assert_array_equal(groups, [0, 1, 1, 0])


def test_check_sensitive_features_intersects_columns():
    frame = pd.DataFrame({"sex": ["F", "M", "F", "M"], "race": [1, 1, 2, 1]})
    groups = _check_sensitive_features(frame, 4)
    assert_array_equal(groups, ["F, 1", "M, 1", "F, 2", "M, 1"])
    # A 2-D array is read the same way, one column per attribute.
    groups = _check_sensitive_features(frame.to_numpy(), 4)
    assert_array_equal(groups, ["F, 1", "M, 1", "F, 2", "M, 1"])


def test_check_sensitive_features_rejects_ambiguous_intersection():
    frame = pd.DataFrame({"u": ["a, b", "a"], "v": ["c", "b, c"]})
    with pytest.raises(ValueError, match="cannot be joined into unambiguous"):
        _check_sensitive_features(frame)


def test_check_sensitive_features_length_mismatch_names_both_lengths():
    msg = "sensitive_features has 3 entries but the data has 4 samples"
    with pytest.raises(ValueError, match=msg):
        _check_sensitive_features(["a", "b", "a"], 4)
    with pytest.raises(ValueError, match="s_val has 2 entries but the data has 5"):
        _check_sensitive_features(["a", "b"], 5, name="s_val")


@pytest.mark.parametrize("values", [["a", "a", "a"], [1], np.zeros(4)])
def test_check_sensitive_features_single_group(values):
    with pytest.raises(
        ValueError, match="at least two distinct groups.*only one group"
    ):
        _check_sensitive_features(values)


def test_check_sensitive_features_empty():
    with pytest.raises(
        ValueError, match="at least two distinct groups to compare, got no samples"
    ):
        _check_sensitive_features([])


@pytest.mark.parametrize(
    "values",
    [
        ["a", None, "b"],
        ["a", np.nan, "b"],
        np.array([0.0, np.nan, 1.0]),
        pd.Series(["a", None, "b"]),
        pd.Series([1, None, 2], dtype="Int64"),
        pd.DataFrame({"u": ["a", "b", "a"], "v": [1.0, np.nan, 2.0]}),
    ],
    ids=["none", "nan-in-str", "nan-float", "series", "nullable-int", "frame"],
)
def test_check_sensitive_features_missing(values):
    msg = re.escape("contains 1 missing group label(s) (NaN or None)")
    with pytest.raises(ValueError, match=msg + ".*position 1"):
        _check_sensitive_features(values)


def test_check_sensitive_features_rejects_3d():
    with pytest.raises(ValueError, match="must be 1-D .* or 2-D"):
        _check_sensitive_features(np.zeros((2, 2, 2)))


# ---------------------------------------------------------------------- targets


@pytest.mark.parametrize(
    "y",
    [[0, 1, 1], [-1, 1, 1], [True, False, True], ["no", "yes", "no"], [1, 1, 1]],
)
def test_check_binary_targets_accepts(y):
    checked = _check_binary_targets(y)
    assert checked.shape == (3,)
    assert_array_equal(checked, y)


@pytest.mark.parametrize(
    "y, kind",
    [([0, 1, 2], "multiclass"), ([0.5, 1.0, 0.2], "continuous")],
)
def test_check_binary_targets_rejects(y, kind):
    with pytest.raises(ValueError, match=f"y_pred must hold binary.*'{kind}'"):
        _check_binary_targets(y, name="y_pred")


def test_check_binary_targets_rejects_2d():
    with pytest.raises(ValueError, match=re.escape("got shape (2, 2)")):
        _check_binary_targets([[0, 1], [1, 0]])


def test_check_targets_encodes_greater_label_as_positive():
    y_true, y_pred, weight = _check_targets(["no", "yes", "yes"], ["yes", "yes", "no"])
    assert_array_equal(y_true, [0, 1, 1])
    assert_array_equal(y_pred, [1, 1, 0])
    assert weight is None
    y_true, y_pred, _ = _check_targets([-1, 1], [1, 1])
    assert_array_equal(y_true, [0, 1])
    assert_array_equal(y_pred, [1, 1])


@pytest.mark.parametrize(
    "label, expected", [(1, 1), (True, 1), (0, 0), (-1, 0), (False, 0)]
)
def test_check_targets_single_label(label, expected):
    y_true, y_pred, _ = _check_targets([label] * 3, [label] * 3)
    assert_array_equal(y_true, [expected] * 3)
    assert_array_equal(y_pred, [expected] * 3)


def test_check_targets_single_ambiguous_label():
    with pytest.raises(ValueError, match="single label 'yes'.*cannot be inferred"):
        _check_targets(["yes", "yes"], ["yes", "yes"])


def test_check_targets_length_mismatch():
    with pytest.raises(ValueError, match="same length, got 3 and 2"):
        _check_targets([0, 1, 1], [0, 1])


def test_check_targets_too_many_labels_together():
    with pytest.raises(ValueError, match=re.escape("3 distinct labels [0, 1, 2]")):
        _check_targets([0, 1, 1], [1, 2, 2])


def test_check_targets_mixed_label_types():
    with pytest.raises(ValueError, match="Mix of label input types"):
        _check_targets(["a", "b"], [0, 1])


def test_check_targets_sample_weight():
    _, _, weight = _check_targets([0, 1], [0, 1], [1, 2])
    assert weight.dtype == np.float64
    assert_array_equal(weight, [1.0, 2.0])
    with pytest.raises(ValueError, match="sample_weight"):
        _check_targets([0, 1], [0, 1], [1, 2, 3])
    with pytest.raises(ValueError, match="Negative values"):
        _check_targets([0, 1], [0, 1], [1, -2])


# ---------------------------------------------------------------------- warning


def test_warn_missing_class_names_group_and_rate():
    y_true = [1, 0, 0, 0, 1, 1]
    groups = ["a", "a", "b", "b", "c", "c"]
    with pytest.warns(UndefinedMetricWarning) as record:
        _warn_missing_class(y_true, groups)
    messages = [str(w.message) for w in record]
    assert len(messages) == 2
    assert "Group 'b' has no positive samples" in messages[0]
    assert "true positive rate (TPR) cannot be computed" in messages[0]
    assert "fairlearn counts it as 0" in messages[0]
    assert "Group 'c' has no negative samples" in messages[1]
    assert "true negative rate (TNR) and false positive rate" in messages[1]
    # It is a UserWarning, so ordinary filters apply.
    assert all(issubclass(w.category, UserWarning) for w in record)


def test_warn_missing_class_only_requested_rates():
    y_true = [1, 0, 1, 1]
    groups = [0, 0, 1, 1]
    with pytest.warns(UndefinedMetricWarning, match="Group 1 has no negative"):
        _warn_missing_class(y_true, groups, rates=("tnr",))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_missing_class(y_true, groups, rates=("tpr",))


def test_warn_missing_class_pos_label():
    with pytest.warns(UndefinedMetricWarning, match="Group 'x' has no positive"):
        _warn_missing_class(["n", "n", "y", "n"], ["x", "x", "z", "z"], pos_label="y")


def test_warn_missing_class_silent_when_all_defined():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_missing_class([0, 1, 0, 1], ["a", "a", "b", "b"])
