"""Input checks shared by the fairness metrics and the FairIF estimator.

The estimator imports :func:`_check_sensitive_features` for the group labels of its
validation set, so the rules below (one label per sample, at least two groups, no
missing labels) are the same everywhere in the package.
"""

import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight

# Separator of the labels of intersectional groups built from several columns,
# e.g. ("female", "black") -> "female, black".
_INTERSECTION_SEP = ", "


def _check_sensitive_features(
    sensitive_features, n_samples=None, *, name="sensitive_features"
):
    """Validate group labels and return them as a 1-D array.

    Parameters
    ----------
    sensitive_features : array-like of shape (n_samples,) or (n_samples, n_columns)
        Group label of each sample: a list, a NumPy array, a pandas Series or a
        pandas DataFrame. The labels are read by position; a pandas index is
        ignored. With several columns, every combination of values is one
        (intersectional) group, as in fairlearn; its label is the values joined
        with ``", "``, e.g. ``"female, black"``.
    n_samples : int, default=None
        Expected number of samples; ``None`` skips the length check.
    name : str, default="sensitive_features"
        Name of the argument, used in error messages.

    Returns
    -------
    groups : ndarray of shape (n_samples,)
        The group label of each sample, with the labels' own values (integers stay
        integers) for a single column.

    Raises
    ------
    ValueError
        If the length is not ``n_samples``, if a label is missing (NaN or None) or
        if there are fewer than two distinct groups.
    """
    groups = _as_label_array(sensitive_features, name)
    if n_samples is not None and groups.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {groups.shape[0]} entries but the data has {n_samples} "
            f"samples; pass exactly one group label per sample."
        )
    _check_no_missing(groups, name)
    _check_at_least_two_groups(groups, name)
    return groups


def _as_label_array(sensitive_features, name):
    """Turn any accepted container into a 1-D array of labels."""
    if isinstance(sensitive_features, pd.Series):
        return sensitive_features.to_numpy()
    if isinstance(sensitive_features, pd.DataFrame):
        n_columns = sensitive_features.shape[1]
        columns = [sensitive_features.iloc[:, j].to_numpy() for j in range(n_columns)]
    else:
        array = _to_numpy(sensitive_features)
        if array.ndim == 1:
            return array
        if array.ndim != 2:
            raise ValueError(
                f"{name} must be 1-D (one label per sample) or 2-D (one column per "
                f"sensitive attribute); got an array with {array.ndim} dimensions."
            )
        columns = [array[:, j] for j in range(array.shape[1])]
    if len(columns) == 0:
        raise ValueError(f"{name} has no columns.")
    if len(columns) == 1:
        return columns[0]
    return _intersect(columns, name)


def _to_numpy(values):
    if isinstance(values, np.ndarray):
        return values
    as_object = np.asarray(values, dtype=object)
    # NumPy would turn a NaN among strings into the string "nan", a group of its
    # own; keep such input as objects so the missing label is caught.
    if pd.isna(as_object).any():
        return as_object
    # Otherwise let NumPy infer the dtype, so integer labels stay integers.
    return np.asarray(values)


def _intersect(columns, name):
    """Label each sample with the combination of its values in all columns."""
    for column in columns:
        _check_no_missing(column, name)
    tuples = list(zip(*columns, strict=True))
    labels = np.array(
        [_INTERSECTION_SEP.join(map(str, values)) for values in tuples], dtype=object
    )
    # Joining could merge two different combinations, e.g. ("a, b", "c") and
    # ("a", "b, c"): refuse rather than silently pool them.
    if len(set(labels)) != len(set(tuples)):
        raise ValueError(
            f"The columns of {name} cannot be joined into unambiguous group labels "
            f"because some values contain {_INTERSECTION_SEP!r}; combine the columns "
            f"into a single column yourself."
        )
    return labels


def _check_no_missing(groups, name):
    missing = np.flatnonzero(pd.isna(groups))
    if missing.size:
        raise ValueError(
            f"{name} contains {missing.size} missing group label(s) (NaN or None), "
            f"the first at position {missing[0]}; drop those samples or give them a "
            f"group label."
        )


def _check_at_least_two_groups(groups, name):
    distinct = pd.unique(groups)
    if distinct.size < 2:
        found = (
            f"only one group ({_py(distinct[0])!r})" if distinct.size else "no samples"
        )
        raise ValueError(
            f"{name} must contain at least two distinct groups to compare, got {found}."
        )


def _check_binary_targets(y, *, name="y_true"):
    """Check that ``y`` holds binary class labels and return it as a 1-D array.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels: at most two distinct values of any type (``{0, 1}``,
        ``{-1, 1}``, booleans, strings...). A single class is allowed.
    name : str, default="y_true"
        Name of the argument, used in error messages.

    Returns
    -------
    y : ndarray of shape (n_samples,)
        The labels.

    Raises
    ------
    ValueError
        If ``y`` is not 1-D or holds more than two classes or continuous values.
    """
    y_array = np.asarray(y)
    if y_array.ndim == 2 and y_array.shape[1] == 1:
        y_array = y_array.ravel()
    if y_array.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of class labels, got shape {y_array.shape}."
        )
    target_type = type_of_target(y_array, input_name=name)
    if target_type != "binary":
        classes = pd.unique(y_array)
        shown = ", ".join(map(repr, classes[:5].tolist()))
        more = ", ..." if classes.size > 5 else ""
        raise ValueError(
            f"{name} must hold binary class labels (at most two distinct values); "
            f"got target type {target_type!r} with {classes.size} distinct values: "
            f"[{shown}{more}]."
        )
    return y_array


def _check_targets(y_true, y_pred, sample_weight=None):
    """Check a pair of binary label arrays and encode them as 0/1.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels; together at most two distinct values.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    y_true, y_pred : ndarray of shape (n_samples,), dtype int
        1 for the positive class, 0 for the other (see :func:`_positive_label`).
    sample_weight : ndarray of shape (n_samples,) or None
        The weights as floats, or None.
    """
    y_true = _check_binary_targets(y_true, name="y_true")
    y_pred = _check_binary_targets(y_pred, name="y_pred")
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(
            f"y_true and y_pred must have the same length, got {y_true.shape[0]} "
            f"and {y_pred.shape[0]}."
        )
    # unique_labels also rejects a mix of strings and numbers.
    labels = unique_labels(y_true, y_pred)
    if labels.size > 2:
        raise ValueError(
            f"y_true and y_pred together hold {labels.size} distinct labels "
            f"{labels.tolist()}; binary fairness metrics need at most two."
        )
    pos_label = _positive_label(labels)
    if sample_weight is not None:
        sample_weight = _check_sample_weight(
            sample_weight, y_true, ensure_non_negative=True
        )
    return _encode(y_true, pos_label), _encode(y_pred, pos_label), sample_weight


def _encode(y, pos_label):
    """Return 1 where ``y`` is the positive class, else 0."""
    if pos_label is None:  # only a negative label is present
        return np.zeros(y.shape[0], dtype=int)
    return (y == pos_label).astype(int)


def _positive_label(labels):
    """Return the positive class among the sorted distinct ``labels``.

    With two labels it is the greater one, as for a fitted classifier's
    ``classes_[1]`` (the column of ``predict_proba`` FairIF treats as positive);
    for ``{0, 1}`` and ``{-1, 1}`` that is 1. A single label is positive when it
    is 1 (or True) and negative when it is 0 or -1 (or False); any other single
    label is ambiguous. Returns None when the only label is negative.
    """
    if labels.size == 2:
        return labels[1]
    (label,) = labels
    if _equals_any(label, (1,)):
        return label
    if _equals_any(label, (0, -1)):
        return None
    raise ValueError(
        f"y_true and y_pred hold a single label {_py(label)!r}, so the positive class "
        f"cannot be inferred; binary fairness metrics need label 1 (or 0/-1) when "
        f"only one class is present."
    )


def _equals_any(label, values):
    # Strings never equal numbers; avoid NumPy's elementwise comparison warnings.
    if isinstance(label, str | bytes):
        return False
    return any(label == value for value in values)


def _warn_missing_class(y_true, groups, *, pos_label=1, rates=("tpr", "tnr")):
    """Warn about groups whose true positive or true negative rate is undefined.

    fairlearn reports a true positive rate of 0 for a group without positives
    (and a true negative rate of 0 for one without negatives), which silently
    inflates the gaps; this makes the problem visible.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    groups : array-like of shape (n_samples,)
        Group label of each sample.
    pos_label : object, default=1
        The positive class of ``y_true``.
    rates : tuple of {"tpr", "tnr"}, default=("tpr", "tnr")
        The rates that will be used: "tpr" needs positives in every group, "tnr"
        (or the false positive rate) negatives.

    Warns
    -----
    UndefinedMetricWarning
        A subclass of UserWarning, naming the group and the undefined rate.
    """
    positive = np.asarray(y_true) == pos_label
    groups = np.asarray(groups)
    for group in pd.unique(groups):
        in_group = positive[groups == group]
        if "tpr" in rates and not in_group.any():
            _warn_undefined(group, "positive", "true positive rate (TPR)")
        if "tnr" in rates and in_group.all():
            _warn_undefined(
                group, "negative", "true negative rate (TNR) and false positive rate"
            )


def _py(label):
    """Return a NumPy scalar as a Python one, for readable error messages."""
    return label.item() if isinstance(label, np.generic) else label


def _warn_undefined(group, kind, rate):
    warnings.warn(
        f"Group {_py(group)!r} has no {kind} samples in y_true, so its {rate} "
        f"cannot be computed; fairlearn counts it as 0, which distorts the gap "
        f"between groups.",
        UndefinedMetricWarning,
        stacklevel=4,
    )
