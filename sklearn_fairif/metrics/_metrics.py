"""Group fairness gaps of binary classifiers: AD, AOD, EOD and DP.

Definitions follow the FairIF paper (Wang et al., WSDM 2024), computed with
fairlearn's :class:`~fairlearn.metrics.MetricFrame`. Every gap is the mean, over the
group rates it involves, of the gap of that rate between groups:

=====  ==============================  =====================================
 AD    accuracy_difference             |Δ accuracy|
 AOD   average_odds_difference         ½ (|Δ TPR| + |Δ TNR|)
 EOD   equal_opportunity_difference    |Δ TPR|
 DP    demographic_parity_difference   |Δ selection rate|
=====  ==============================  =====================================

With two groups Δ is the difference between them; with more, it is the largest
minus the smallest group value ("between_groups") or the largest absolute
difference between a group and the whole population ("to_overall"), as in
:meth:`fairlearn.metrics.MetricFrame.difference`.
"""

import numpy as np
from fairlearn.metrics import (
    MetricFrame,
    false_positive_rate,
    selection_rate,
    true_negative_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score

from ..utils._arrays import (
    check_group_weights,
)
from ..utils._validation import (
    _check_sensitive_features,
)
from ._targets import (
    _check_targets,
    _warn_missing_class,
)

# Group rates, computed on labels encoded as 0/1 (1 = positive class).
_RATES = {
    "accuracy": accuracy_score,
    "tpr": true_positive_rate,
    "tnr": true_negative_rate,
    "fpr": false_positive_rate,
    "selection_rate": selection_rate,
}

# Each fairness gap is the mean of the between-group gaps of these rates. AOD uses
# FPR: its gap equals the TNR gap (TNR = 1 - FPR) whenever both are defined, and
# for a group without negatives, where fairlearn reports TNR = FPR = 0, using FPR
# keeps AOD equal to fairlearn's equalized_odds_difference(agg="mean").
_GAP_RATES = {
    "accuracy_difference": ("accuracy",),
    "average_odds_difference": ("tpr", "fpr"),
    "equal_opportunity_difference": ("tpr",),
    "demographic_parity_difference": ("selection_rate",),
}

_METHODS = ("between_groups", "to_overall")


def _validate_inputs(y_true, y_pred, sensitive_features, sample_weight):
    """Encode labels as 0/1 and check groups and weights against them."""
    y_true, y_pred, sample_weight = _check_targets(y_true, y_pred, sample_weight)
    groups = _check_sensitive_features(sensitive_features, y_true.shape[0])
    # fairlearn's selection rate would silently drop a group whose weights are
    # all zero (the other rates raise): one rule for every metric.
    check_group_weights(sample_weight, groups)
    return y_true, y_pred, groups, sample_weight


def _check_method(method):
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}.")


def _rate_frame(rates, y_true, y_pred, groups, sample_weight):
    """Return a MetricFrame of the named group rates."""
    return MetricFrame(
        metrics={rate: _RATES[rate] for rate in rates},
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=groups,
        sample_params={rate: {"sample_weight": sample_weight} for rate in rates},
    )


def _needed_classes(rates):
    """Map rates to the classes they need: TPR positives, TNR/FPR negatives."""
    needed = []
    if "tpr" in rates:
        needed.append("tpr")
    if "tnr" in rates or "fpr" in rates:
        needed.append("tnr")
    return tuple(needed)


def _gap(name, differences):
    """Combine the per-rate differences of a MetricFrame into one fairness gap."""
    return float(np.mean([differences[rate] for rate in _GAP_RATES[name]]))


def _fairness_gap(name, y_true, y_pred, sensitive_features, method, sample_weight):
    _check_method(method)
    y_true, y_pred, groups, sample_weight = _validate_inputs(
        y_true, y_pred, sensitive_features, sample_weight
    )
    rates = _GAP_RATES[name]
    # fairlearn silently reports 0 for an undefined TPR/FPR: say so.
    _warn_missing_class(y_true, groups, rates=_needed_classes(rates))
    frame = _rate_frame(rates, y_true, y_pred, groups, sample_weight)
    return _gap(name, frame.difference(method=method))


def accuracy_difference(
    y_true, y_pred, *, sensitive_features, method="between_groups", sample_weight=None
):
    """Accuracy difference (AD) between groups.

    ``|accuracy(s=0) - accuracy(s=1)|`` for two groups; for more, the largest
    minus the smallest group accuracy. Equals
    :func:`fairlearn.metrics.accuracy_score_difference`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True binary labels. Any two labels are accepted; the greater one is the
        positive class (1 for ``{0, 1}`` and ``{-1, 1}``).
    y_pred : array-like of shape (n_samples,)
        Predicted labels, with the same two labels as ``y_true``.
    sensitive_features : array-like of shape (n_samples,) or (n_samples, n_columns)
        Group label of each sample (list, array, pandas Series or DataFrame). With
        several columns each combination of values is a group. At least two
        groups are needed.
    method : {"between_groups", "to_overall"}, default="between_groups"
        ``"between_groups"``: largest minus smallest group value.
        ``"to_overall"``: largest absolute difference between a group's value and
        the value on all samples.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    float
        The accuracy difference, in [0, 1]; 0 means equal accuracy.

    See Also
    --------
    fairness_report : All group rates and gaps in one table.

    Examples
    --------
    >>> from sklearn_fairif.metrics import accuracy_difference
    >>> y_true = [1, 1, 0, 0, 1, 1, 0, 0]
    >>> y_pred = [1, 1, 0, 0, 1, 0, 1, 0]
    >>> groups = ["a", "a", "a", "a", "b", "b", "b", "b"]
    >>> accuracy_difference(y_true, y_pred, sensitive_features=groups)
    0.5
    """
    return _fairness_gap(
        "accuracy_difference", y_true, y_pred, sensitive_features, method, sample_weight
    )


def average_odds_difference(
    y_true, y_pred, *, sensitive_features, method="between_groups", sample_weight=None
):
    """Average odds difference (AOD) between groups.

    ``½ (|TPR(s=0) - TPR(s=1)| + |TNR(s=0) - TNR(s=1)|)`` for two groups, the
    absolute version of the FairIF paper (AIF360's is signed). Since
    TNR = 1 - FPR, the TNR gap is the false positive rate gap; it is computed
    from FPR, so a group without negatives (TNR and FPR both undefined, both
    reported as 0 by fairlearn) gives fairlearn's value too. For more groups each
    gap is the largest minus the smallest group rate. Equals
    ``fairlearn.metrics.equalized_odds_difference(..., agg="mean")``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True binary labels. Any two labels are accepted; the greater one is the
        positive class (1 for ``{0, 1}`` and ``{-1, 1}``).
    y_pred : array-like of shape (n_samples,)
        Predicted labels, with the same two labels as ``y_true``.
    sensitive_features : array-like of shape (n_samples,) or (n_samples, n_columns)
        Group label of each sample (list, array, pandas Series or DataFrame). With
        several columns each combination of values is a group. At least two
        groups are needed.
    method : {"between_groups", "to_overall"}, default="between_groups"
        ``"between_groups"``: largest minus smallest group value.
        ``"to_overall"``: largest absolute difference between a group's value and
        the value on all samples.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    float
        The average odds difference, in [0, 1]; 0 means equal TPR and TNR.

    Warns
    -----
    UndefinedMetricWarning
        When a group has no positive (or no negative) samples: its TPR (or
        TNR and FPR) is undefined and counted as 0, as fairlearn does.

    See Also
    --------
    equal_opportunity_difference : The TPR gap alone.

    Examples
    --------
    >>> from sklearn_fairif.metrics import average_odds_difference
    >>> y_true = [1, 1, 0, 0, 1, 1, 0, 0]
    >>> y_pred = [1, 1, 0, 0, 1, 0, 1, 0]
    >>> groups = ["a", "a", "a", "a", "b", "b", "b", "b"]
    >>> # TPR: a 2/2, b 1/2; TNR: a 2/2, b 1/2 -> (0.5 + 0.5) / 2
    >>> average_odds_difference(y_true, y_pred, sensitive_features=groups)
    0.5
    """
    return _fairness_gap(
        "average_odds_difference",
        y_true,
        y_pred,
        sensitive_features,
        method,
        sample_weight,
    )


def equal_opportunity_difference(
    y_true, y_pred, *, sensitive_features, method="between_groups", sample_weight=None
):
    """Equal opportunity difference (EOD) between groups.

    ``|TPR(s=0) - TPR(s=1)|`` for two groups; for more, the largest minus the
    smallest group true positive rate. Equals
    :func:`fairlearn.metrics.equal_opportunity_difference`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True binary labels. Any two labels are accepted; the greater one is the
        positive class (1 for ``{0, 1}`` and ``{-1, 1}``).
    y_pred : array-like of shape (n_samples,)
        Predicted labels, with the same two labels as ``y_true``.
    sensitive_features : array-like of shape (n_samples,) or (n_samples, n_columns)
        Group label of each sample (list, array, pandas Series or DataFrame). With
        several columns each combination of values is a group. At least two
        groups are needed.
    method : {"between_groups", "to_overall"}, default="between_groups"
        ``"between_groups"``: largest minus smallest group value.
        ``"to_overall"``: largest absolute difference between a group's value and
        the value on all samples.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    float
        The equal opportunity difference, in [0, 1]; 0 means equal TPR.

    Warns
    -----
    UndefinedMetricWarning
        When a group has no positive samples: its TPR is undefined and counted
        as 0, as fairlearn does.

    See Also
    --------
    average_odds_difference : Also accounts for the TNR gap.

    Examples
    --------
    >>> from sklearn_fairif.metrics import equal_opportunity_difference
    >>> y_true = [1, 1, 0, 0, 1, 1, 0, 0]
    >>> y_pred = [1, 1, 0, 0, 1, 0, 1, 0]
    >>> groups = ["a", "a", "a", "a", "b", "b", "b", "b"]
    >>> equal_opportunity_difference(y_true, y_pred, sensitive_features=groups)
    0.5
    """
    return _fairness_gap(
        "equal_opportunity_difference",
        y_true,
        y_pred,
        sensitive_features,
        method,
        sample_weight,
    )


def demographic_parity_difference(
    y_true, y_pred, *, sensitive_features, method="between_groups", sample_weight=None
):
    """Demographic parity difference (DP) between groups.

    ``|P(ŷ=1 | s=0) - P(ŷ=1 | s=1)|`` for two groups; for more, the largest
    minus the smallest group selection rate. ``y_true`` is only validated. Equals
    :func:`fairlearn.metrics.demographic_parity_difference`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True binary labels, used to tell which label is positive. Any two labels
        are accepted; the greater one is the positive class (1 for ``{0, 1}`` and
        ``{-1, 1}``).
    y_pred : array-like of shape (n_samples,)
        Predicted labels, with the same two labels as ``y_true``.
    sensitive_features : array-like of shape (n_samples,) or (n_samples, n_columns)
        Group label of each sample (list, array, pandas Series or DataFrame). With
        several columns each combination of values is a group. At least two
        groups are needed.
    method : {"between_groups", "to_overall"}, default="between_groups"
        ``"between_groups"``: largest minus smallest group value.
        ``"to_overall"``: largest absolute difference between a group's value and
        the value on all samples.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    float
        The demographic parity difference, in [0, 1]; 0 means equal selection
        rates.

    Examples
    --------
    >>> from sklearn_fairif.metrics import demographic_parity_difference
    >>> y_true = [1, 1, 0, 0, 1, 1, 0, 0]
    >>> y_pred = [1, 1, 0, 0, 1, 1, 1, 0]
    >>> groups = ["a", "a", "a", "a", "b", "b", "b", "b"]
    >>> demographic_parity_difference(y_true, y_pred, sensitive_features=groups)
    0.25
    """
    return _fairness_gap(
        "demographic_parity_difference",
        y_true,
        y_pred,
        sensitive_features,
        method,
        sample_weight,
    )
