import re
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import UndefinedMetricWarning

from sklearn_fairif.metrics._targets import (
    _check_binary_targets,
    _check_targets,
    _warn_missing_class,
)
from sklearn_fairif.utils._validation import (
    _check_sensitive_features,
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
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
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


# ------------------------------------------------------- input-contract checks
from scipy import sparse  # noqa: E402

from sklearn_fairif.utils._arrays import (  # noqa: E402
    check_finite,
    check_positive_values,
    check_sample_weight_nonneg,
)
from sklearn_fairif.utils._validation import (  # noqa: E402
    FairIFDataWarning,
    check_binary_target,
    check_cells,
    check_groups,
)


@pytest.mark.parametrize(
    "y, error, match",
    [
        ([0, 1, "a", "b"], TypeError, "y_val mixes strings and numbers"),
        ([1, 1, 1], ValueError, "y_val contains only one class"),
        ([], ValueError, "y_val is empty"),
        ([0, 1, 2], ValueError, "y_val must hold binary class labels"),
        ([0.5, 1.5], ValueError, "y_val must hold binary class labels"),
        ([0.0, np.nan, 1.0], ValueError, "y_val contains 1 missing label"),
        (["a", None, "b"], ValueError, "y_val contains 1 missing label"),
        ([0.0, np.inf, 1.0], ValueError, "y_val contains infinite"),
        (np.zeros((3, 2)), ValueError, "y_val must be a 1-D array"),
    ],
)
def test_check_binary_target_errors(y, error, match):
    with pytest.raises(error, match=re.escape(match)):
        check_binary_target(y, "y_val")


@pytest.mark.parametrize(
    "y, classes",
    [([0, 1, 1], [0, 1]), ([-1, 1], [-1, 1]), (["no", "yes"], ["no", "yes"]),
     ([True, False], [False, True]), (np.array([[0], [1]]), [0, 1]),
     (pd.Series([2, 1]), [1, 2])],
)
def test_check_binary_target_accepts_any_two_labels(y, classes):
    y_array, found = check_binary_target(y, "y")
    assert y_array.ndim == 1
    assert found.tolist() == classes


def test_check_binary_target_single_class_when_allowed():
    _, classes = check_binary_target([1, 1], "y", allow_single_class=True)
    assert classes.tolist() == [1]


def test_check_groups_mixed_types():
    with pytest.raises(TypeError, match="s_val mixes strings and numbers"):
        check_groups(np.array([1, "a", 1, "a"], dtype=object), 4)


@pytest.mark.parametrize(
    "s, n, match",
    [([], None, "s_val is empty"), ([0, 0, 0], 3, "at least two distinct groups"),
     ([0, 1], 3, "s_val has 2 entries but the data has 3"),
     ([0, None, 1], 3, "s_val contains 1 missing")],
)
def test_check_groups_errors(s, n, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        check_groups(s, n)


def test_check_groups_warns_continuous_column():
    rng = np.random.RandomState(0)
    with pytest.warns(FairIFDataWarning, match="s_val has many groups: 240"):
        check_groups(rng.normal(size=240), 240)
    # Two float groups: suspicious numbers, but not "many groups".
    with pytest.warns(FairIFDataWarning, match=re.escape(
            "s_val holds non-integer numbers (2 distinct) in 4 rows")):
        check_groups([0.5, 1.5, 0.5, 1.5], 4)


def test_check_groups_warns_tiny_group():
    with pytest.warns(FairIFDataWarning, match=r"'c' \(1 row\)"):
        check_groups(["a", "a", "b", "b", "c"], 5)


def test_check_groups_quiet_on_good_groups():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        groups = check_groups(pd.Series(["a", "b"] * 10), 20)
    assert groups.tolist() == ["a", "b"] * 10


def test_check_cells_counts_positives_not_rows():
    # Group "b" has 50 rows but a single positive: its TPR is 0 or 1.
    s = np.array(["a"] * 50 + ["b"] * 50)
    y = np.array([0, 1] * 25 + [1] + [0] * 49)
    with pytest.warns(FairIFDataWarning) as record:
        small = check_cells(("tpr", "tnr"), y, s, min_count=20)
    assert small == [("b", 1, 1)]
    assert len(record) == 1
    message = str(record[0].message)
    assert "s_val group 'b' has 1 positive (y=1) rows" in message


def test_check_cells_one_warning_per_cell():
    s = np.repeat(["a", "b"], 10)
    y = np.tile([0, 1], 10)
    with pytest.warns(FairIFDataWarning) as record:
        small = check_cells(("tpr", "fpr", "tnr"), y, s, min_count=20)
    assert len(small) == len(record) == 4


def test_check_cells_rows_for_selection_rate():
    s = np.repeat(["a", "b"], [30, 5])
    with pytest.warns(FairIFDataWarning, match="'b' has 5 rows"):
        assert check_cells(("selection_rate",), None, s) == [("b", None, 5)]


def test_check_cells_quiet_when_large():
    s = np.repeat([0, 1], 40)
    y = np.tile([0, 1], 40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_cells(("tpr", "tnr"), y, s) == []


def test_check_cells_bad_rate():
    with pytest.raises(ValueError, match="objective_rates"):
        check_cells(("recall",), [0, 1], [0, 1])


@pytest.mark.parametrize(
    "a, match",
    [(np.array([[1.0, np.nan], [2.0, 3.0]]), "X_val contains 1 NaN value(s) (the "
      "first in row 0)"),
     (np.array([1.0, np.inf, -np.inf]), "X_val contains 2 infinite value(s)"),
     (sparse.csr_matrix(np.array([[0.0, np.nan]])), "X_val contains 1 NaN"),
     (pd.DataFrame({"age": [1.0, np.inf], "job": ["a", "b"]}),
      "X_val column 'age' contains 1 infinite")],
)
def test_check_finite_names_the_array(a, match):
    with pytest.raises(ValueError, match=re.escape(match) + ".*check the input"):
        check_finite(a, "X_val", hint="check the input")


def test_check_finite_passes_clean_and_non_numeric():
    for a in (np.arange(3), np.ones((2, 2)), np.array(["a", "b"]),
              pd.DataFrame({"a": ["x"], "b": [1]})):
        assert check_finite(a, "X") is a


@pytest.mark.parametrize(
    "w, match",
    [([1.0, -1.0], "sample_weight must be non-negative; 1 weight(s) are negative"),
     ([0.0, 0.0], "sample_weight is zero for every sample"),
     ([1.0], "sample_weight has 1 entries but the data has 2"),
     ([1.0, np.nan], "sample_weight contains 1 NaN"),
     ([[1.0, 1.0]], "sample_weight must be 1-D"),
     (["a", "b"], "sample_weight must hold numbers")],
)
def test_check_sample_weight_nonneg(w, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        check_sample_weight_nonneg(w, 2)


def test_check_sample_weight_nonneg_ok():
    assert check_sample_weight_nonneg(None, 3) is None
    assert check_sample_weight_nonneg([0, 2], 2).dtype == np.float64


@pytest.mark.parametrize(
    "values, error, match",
    [([], ValueError, "alpha is an empty list"),
     ([0.1, -1], ValueError, "every value of alpha must be a finite number > 0"),
     ([0], ValueError, "> 0, got 0.0"),
     ([np.nan], ValueError, "got nan"),
     (-1, ValueError, "> 0"),
     ([[0.1, 1]], TypeError, "alpha must be a number or a flat list"),
     (["0.1"], TypeError, "alpha must be a number or a flat list"),
     ([True], TypeError, "alpha must be a number")],
)
def test_check_positive_values_errors(values, error, match):
    with pytest.raises(error, match=re.escape(match)):
        check_positive_values(values, "alpha")


def test_check_positive_values_ok():
    assert check_positive_values(0.5, "alpha").tolist() == [0.5]
    assert check_positive_values([0, 1], "tol", allow_zero=True).tolist() == [0, 1]
