"""Target checks of the fairness metrics: binary labels, the positive class.

The group and label checks they build on are the package's shared ones
(:mod:`sklearn_fairif.utils._validation`).
"""

import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils.multiclass import unique_labels

from ..utils._arrays import check_sample_weight_nonneg
from ..utils._validation import _py, check_binary_target
from ..utils._warnings import external_stacklevel


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
    # The package's one binary-label check; the metrics accept one class.
    return check_binary_target(y, name, allow_single_class=True)[0]


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
        sample_weight = check_sample_weight_nonneg(sample_weight, y_true.shape[0])
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


def _warn_undefined(group, kind, rate):
    warnings.warn(
        f"Group {_py(group)!r} has no {kind} samples in y_true, so its {rate} "
        f"cannot be computed; fairlearn counts it as 0, which distorts the gap "
        f"between groups.",
        UndefinedMetricWarning,
        stacklevel=external_stacklevel(),
    )
