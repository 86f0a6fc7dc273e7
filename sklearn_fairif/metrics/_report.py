"""A per-group table of the rates behind the fairness gaps."""

import pandas as pd
from fairlearn.metrics import MetricFrame, count

from ._metrics import _GAP_RATES, _RATES, _gap, _validate_inputs
from ._targets import (
    _warn_missing_class,
)

_OVERALL = "overall"
# The printed columns; the FPR that AOD is computed from is the complement of TNR.
_COLUMNS = ["count", "accuracy", "tpr", "tnr", "selection_rate"]


def fairness_report(y_true, y_pred, *, sensitive_features, sample_weight=None):
    """Tabulate group rates and the four fairness gaps of a binary classifier.

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
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights, used by every rate (not by ``count``).

    Returns
    -------
    report : pandas.DataFrame
        One row per group, sorted by group label, then a row ``"overall"`` for all
        samples together (``"overall (all groups)"`` if a group is itself named
        ``"overall"``). The index is named after the pandas Series or DataFrame
        columns given as ``sensitive_features``, else ``"group"``. Columns:

        - ``count``: number of samples (unweighted);
        - ``accuracy``: fraction of correct predictions;
        - ``tpr``: true positive rate, ``P(ŷ=1 | y=1)``;
        - ``tnr``: true negative rate, ``P(ŷ=0 | y=0)``;
        - ``selection_rate``: ``P(ŷ=1)``.

        ``report.attrs["differences"]`` is a dict of the between-groups gaps
        ``accuracy_difference`` (AD), ``average_odds_difference`` (AOD),
        ``equal_opportunity_difference`` (EOD) and
        ``demographic_parity_difference`` (DP), equal to the functions of the same
        names. Print it with ``pd.Series(report.attrs["differences"])``. (A dict,
        not a Series, so that pandas operations that compare ``attrs``, such as
        :func:`pandas.concat`, keep working.)

    Warns
    -----
    UndefinedMetricWarning
        When a group has no positive (or no negative) samples: its ``tpr`` (or
        ``tnr``) is undefined and shown as 0, as fairlearn does.

    See Also
    --------
    average_odds_difference : One of the gaps, as a function.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_fairif.metrics import fairness_report
    >>> y_true = [1, 1, 0, 0, 1, 1, 0, 0]
    >>> y_pred = [1, 1, 0, 0, 1, 0, 1, 0]
    >>> sex = pd.Series(["F", "F", "F", "F", "M", "M", "M", "M"], name="sex")
    >>> report = fairness_report(y_true, y_pred, sensitive_features=sex)
    >>> print(report)  # doctest: +NORMALIZE_WHITESPACE
             count  accuracy   tpr   tnr  selection_rate
    sex
    F            4      1.00  1.00  1.00             0.5
    M            4      0.50  0.50  0.50             0.5
    overall      8      0.75  0.75  0.75             0.5
    >>> print(pd.Series(report.attrs["differences"]))
    accuracy_difference              0.5
    average_odds_difference          0.5
    equal_opportunity_difference     0.5
    demographic_parity_difference    0.0
    dtype: float64
    """
    y_true, y_pred, groups, sample_weight = _validate_inputs(
        y_true, y_pred, sensitive_features, sample_weight
    )
    _warn_missing_class(y_true, groups)
    frame = MetricFrame(
        metrics={"count": count, **_RATES},
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=groups,
        # count takes no weights: a group's size is its number of rows.
        sample_params={rate: {"sample_weight": sample_weight} for rate in _RATES},
    )
    by_group = frame.by_group
    overall_label = _overall_label(by_group.index)
    overall = frame.overall.to_frame(overall_label).T
    report = pd.concat([by_group, overall])[_COLUMNS]
    report = report.astype({"count": int})
    report.index.name = _index_name(sensitive_features)
    differences = frame.difference(method="between_groups")
    report.attrs["differences"] = {name: _gap(name, differences) for name in _GAP_RATES}
    return report


def _overall_label(group_labels):
    # Never let the all-samples row pass for a group of the same name.
    if _OVERALL in set(group_labels):
        return f"{_OVERALL} (all groups)"
    return _OVERALL


def _index_name(sensitive_features):
    """Name the groups after the user's column(s) when they have names."""
    if isinstance(sensitive_features, pd.Series) and sensitive_features.name:
        return str(sensitive_features.name)
    if isinstance(sensitive_features, pd.DataFrame):
        return ", ".join(map(str, sensitive_features.columns))
    return "group"
