"""Scorers that let model selection see the fairness gaps."""

import warnings

from sklearn import config_context, get_config
from sklearn.metrics import make_scorer

from ..utils._warnings import external_stacklevel
from ._metrics import (
    _METHODS,
    accuracy_difference,
    average_odds_difference,
    demographic_parity_difference,
    equal_opportunity_difference,
)

_METRICS = {
    "ad": accuracy_difference,
    "aod": average_odds_difference,
    "eod": equal_opportunity_difference,
    "dp": demographic_parity_difference,
}

_ROUTING_OFF_MESSAGE = (
    "The fairness scorer {name!r} was called without sensitive_features because "
    "metadata routing is disabled, so scikit-learn cannot pass group labels to a "
    "scorer. Call sklearn.set_config(enable_metadata_routing=True) (or use "
    "`with sklearn.config_context(enable_metadata_routing=True):`), then pass the "
    "groups to the meta-estimator, e.g. GridSearchCV(...).fit(X, y, "
    "sensitive_features=s) or cross_validate(..., params={{'sensitive_features': "
    "s}}). {raise_hint}"
)

# A search catches scoring errors and records NaN (error_score=np.nan), which
# leaves an arbitrary best_params_: tell the user how to make it stop instead.
_RAISE_HINT = (
    "In GridSearchCV, RandomizedSearchCV or cross_validate, pass "
    "error_score='raise' so that this stops the search instead of leaving NaN "
    "fairness scores and an arbitrary best_params_."
)

_NOT_PASSED_MESSAGE = (
    "The fairness scorer {name!r} was called without sensitive_features. Pass the "
    "group labels to the meta-estimator, e.g. GridSearchCV(...).fit(X, y, "
    "sensitive_features=s) or cross_validate(..., params={{'sensitive_features': "
    "s}}); they are sliced to each test fold. {raise_hint}"
)


class _RequireSensitiveFeatures:
    """Score function that explains how to route missing group labels.

    Without routing, a scorer calls its metric without ``sensitive_features`` and
    the user would get a bare ``TypeError``. A class rather than a closure, so that
    the scorer (and a fitted search holding it) can be pickled.
    """

    def __init__(self, metric):
        self.metric = metric
        # make_scorer's repr prints the score function's __name__.
        self.__name__ = metric.__name__

    def __call__(self, y_true, y_pred, *, sensitive_features=None, **kwargs):
        if sensitive_features is None:
            routing = get_config()["enable_metadata_routing"]
            message = _NOT_PASSED_MESSAGE if routing else _ROUTING_OFF_MESSAGE
            message = message.format(name=self.__name__, raise_hint=_RAISE_HINT)
            # Also warn: with the default error_score=np.nan a search turns the
            # error below into NaN scores, and this line is what the user sees.
            warnings.warn(message, UserWarning, stacklevel=external_stacklevel())
            raise ValueError(message)
        return self.metric(
            y_true, y_pred, sensitive_features=sensitive_features, **kwargs
        )


def _resolve_metric(metric):
    """Return the metric function named by a short name, full name or function."""
    if callable(metric):
        if metric in _METRICS.values():
            return metric
    elif isinstance(metric, str):
        key = metric.lower()
        by_full_name = {func.__name__: func for func in _METRICS.values()}
        if key in _METRICS:
            return _METRICS[key]
        if key in by_full_name:
            return by_full_name[key]
    valid = [*_METRICS, *(func.__name__ for func in _METRICS.values())]
    raise ValueError(
        f"metric must be one of {valid} or one of these functions from "
        f"sklearn_fairif.metrics, got {metric!r}."
    )


def make_fairness_scorer(metric, *, method="between_groups"):
    """Make a scorer of a fairness gap for model selection.

    The scorer requests ``sensitive_features`` through scikit-learn's metadata
    routing, so a meta-estimator slices the group labels to each test fold. It has
    ``greater_is_better=False``: a gap is better when lower, so the score is the
    negated gap (at most 0, best 0), following scikit-learn's convention.

    Parameters
    ----------
    metric : {"ad", "aod", "eod", "dp"}, str or callable
        The gap: ``"ad"`` / ``"accuracy_difference"``, ``"aod"`` /
        ``"average_odds_difference"``, ``"eod"`` /
        ``"equal_opportunity_difference"``, ``"dp"`` /
        ``"demographic_parity_difference"``, or one of those functions of
        :mod:`sklearn_fairif.metrics`.
    method : {"between_groups", "to_overall"}, default="between_groups"
        Passed to the metric; see :func:`average_odds_difference`.

    Returns
    -------
    scorer : callable
        A scikit-learn scorer, ``scorer(estimator, X, y, sensitive_features=s)``,
        requesting ``sensitive_features``.

    Raises
    ------
    ValueError
        From the scorer, when called without ``sensitive_features`` (it also
        warns, with the same message, so that the problem shows even where a
        search swallows the error). Metadata
        routing must be enabled with
        ``sklearn.set_config(enable_metadata_routing=True)``: without it
        scikit-learn never passes group labels to scorers (and passing
        ``sensitive_features`` to ``GridSearchCV.fit`` sends them to the
        estimator's ``fit`` instead, which fails with "All the ... fits
        failed"). Inside a search with the default ``error_score=np.nan`` the
        error becomes a warning, NaN scores and an arbitrary ``best_params_``:
        **pass** ``error_score="raise"`` to ``GridSearchCV`` (or
        ``cross_validate``) so that a missing ``sensitive_features`` stops the
        search with this message.

    Notes
    -----
    To weight the score as well, request both parameters again:
    ``scorer.set_score_request(sensitive_features=True, sample_weight=True)``;
    ``set_score_request`` replaces earlier requests rather than adding to them.

    A test fold holding a single group has no gap to measure: the metric raises
    ("only one group") and the search records ``error_score`` for that split.
    With small groups, choose folds that contain every group.

    Examples
    --------
    >>> import numpy as np
    >>> import sklearn
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_fairif.metrics import make_fairness_scorer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 3))
    >>> s = rng.randint(2, size=200)
    >>> y = (X[:, 0] + s + rng.normal(size=200) > 0.5).astype(int)
    >>> scoring = {"acc": "accuracy", "aod": make_fairness_scorer("aod")}
    >>> with sklearn.config_context(enable_metadata_routing=True):
    ...     search = GridSearchCV(
    ...         LogisticRegression(), {"C": [0.1, 1.0]}, scoring=scoring, refit="acc"
    ...     ).fit(X, y, sensitive_features=s)
    >>> bool((search.cv_results_["mean_test_aod"] <= 0).all())
    True
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}.")
    score_func = _RequireSensitiveFeatures(_resolve_metric(metric))
    scorer = make_scorer(score_func, greater_is_better=False, method=method)
    # set_score_request refuses to run while routing is off; the request it
    # records is what matters once the user turns routing on.
    with config_context(enable_metadata_routing=True):
        return scorer.set_score_request(sensitive_features=True)
