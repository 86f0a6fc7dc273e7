"""The input contract of the metrics: every bad input, one clear error naming it.

One parametrised table per kind of bad input, run against all four gap
functions and :func:`fairness_report`, plus the fairness scorer in a search
with routing off (issue 13).
"""

import re
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_validate

from sklearn_fairif.metrics import (
    accuracy_difference,
    average_odds_difference,
    demographic_parity_difference,
    equal_opportunity_difference,
    fairness_report,
    make_fairness_scorer,
)

METRICS = [
    accuracy_difference,
    average_odds_difference,
    demographic_parity_difference,
    equal_opportunity_difference,
    fairness_report,
]

Y = [0, 1, 0, 1, 0, 1]
P = [0, 1, 1, 0, 1, 1]
S = ["a", "a", "b", "b", "c", "c"]

# (id, y_true, y_pred, sensitive_features, sample_weight, error, message)
BAD_INPUTS = [
    ("empty", [], [], [], None, ValueError, "y_true is empty"),
    ("zero-weight-group", Y, P, S, [1, 1, 0, 0, 1, 1], ValueError,
     "sample_weight is zero for every sample of group 'b'"),
    ("zero-weight-group-2", Y[:4], P[:4], S[:4], [0, 0, 1, 1], ValueError,
     "sample_weight is zero for every sample of group 'a'"),
    ("all-zero-weights", Y, P, S, [0] * 6, ValueError,
     "sample_weight is zero for every sample"),
    ("negative-weight", Y, P, S, [1, -1, 1, 1, 1, 1], ValueError,
     "sample_weight must be non-negative"),
    ("nan-weight", Y, P, S, [1, np.nan, 1, 1, 1, 1], ValueError,
     "sample_weight contains 1 NaN"),
    ("inf-weight", Y, P, S, [1, np.inf, 1, 1, 1, 1], ValueError,
     "sample_weight contains 1 infinite"),
    ("string-weight", Y, P, S, list("abcdef"), ValueError,
     "sample_weight must hold numbers"),
    ("2d-weight", Y, P, S, [[1] * 6], ValueError, "sample_weight must be 1-D"),
    ("short-weight", Y, P, S, [1] * 5, ValueError, "sample_weight has 5 entries"),
    ("mixed-y-true", [0, "a"] * 3, [0, "a"] * 3, S, None, TypeError,
     "y_true mixes strings and numbers"),
    ("mixed-y-pred", Y, [0, "x", 0, 1, 0, 1], S, None, TypeError,
     "y_pred mixes strings and numbers"),
    ("mixed-groups", Y, P, [1, "a", 1, "a", 1, "a"], None, TypeError,
     "sensitive_features mixes strings and numbers"),
    ("none-groups", Y, P, None, None, ValueError, "sensitive_features is None"),
    ("scalar-groups", Y, P, "a", None, ValueError, "sensitive_features must be 1-D"),
    ("3d-groups", Y, P, np.zeros((6, 1, 1)), None, ValueError,
     "sensitive_features must be 1-D"),
    ("short-groups", Y, P, S[:5], None, ValueError,
     "sensitive_features has 5 entries but the data has 6"),
    ("one-group", Y, P, ["a"] * 6, None, ValueError,
     "sensitive_features must contain at least two distinct groups"),
    ("missing-group", Y, P, ["a", None, "b", "b", "a", "a"], None, ValueError,
     "sensitive_features contains 1 missing group label"),
    ("nan-y-true", [0, np.nan, 0, 1, 0, 1], P, S, None, ValueError, "y_true"),
    ("nan-y-pred", Y, [0, np.nan, 0, 1, 0, 1], S, None, ValueError, "y_pred"),
    ("probabilities", Y, [0.1, 0.9, 0.4, 0.6, 0.2, 0.8], S, None, ValueError,
     "y_pred must hold binary class labels"),
    ("three-classes", [0, 1, 2, 0, 1, 2], P, S, None, ValueError,
     "y_true must hold binary class labels"),
    ("length-mismatch", Y, P[:5], S, None, ValueError,
     "y_true and y_pred must have the same length"),
    ("labels-differ", ["no", "yes"] * 3, ["n", "y"] * 3, S, None, ValueError,
     "y_true and y_pred together hold 4 distinct labels"),
    ("2d-y", np.zeros((6, 2)), P, S, None, ValueError, "y_true must be a 1-D"),
]


@pytest.mark.parametrize("metric", METRICS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    "y_true, y_pred, groups, weight, error, message",
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_one_clear_error(metric, y_true, y_pred, groups, weight, error,
                                   message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. undefined-rate warnings
        with pytest.raises(error, match=re.escape(message)):
            metric(y_true, y_pred, sensitive_features=groups, sample_weight=weight)


@pytest.mark.parametrize("metric", METRICS[:4], ids=lambda f: f.__name__)
@pytest.mark.parametrize("method", ["largest", None, ""])
def test_bad_method(metric, method):
    with pytest.raises(ValueError, match="method must be one of"):
        metric(Y, P, sensitive_features=S, method=method)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"metric": "accuracy"}, "metric must be one of"),
     ({"metric": None}, "metric must be one of"),
     ({"metric": len}, "metric must be one of"),
     ({"metric": "aod", "method": "max"}, "method must be one of")],
)
def test_make_fairness_scorer_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_fairness_scorer(**kwargs)


# ------------------------------------------------ a search without group labels


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 3))
    s = rng.randint(2, size=120)
    y = (X[:, 0] + s + rng.normal(size=120) > 0.5).astype(int)
    return X, y, s


def _search(**kwargs):
    return GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]},
                        scoring=make_fairness_scorer("aod"), cv=3, **kwargs)


def test_search_routing_off_raises_our_message_with_error_score_raise(data):
    X, y, _ = data
    with pytest.warns(UserWarning, match="error_score='raise'"):
        with pytest.raises(ValueError, match="enable_metadata_routing=True"):
            _search(error_score="raise").fit(X, y)


def test_search_routing_off_default_warns_about_error_score(data):
    X, y, _ = data
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        search = _search().fit(X, y)
    ours = [w for w in record if "called without sensitive_features" in str(w.message)]
    # One warning per scored split, each naming the fix and error_score="raise".
    assert len(ours) >= 6
    assert all("error_score='raise'" in str(w.message) for w in ours)
    assert all("enable_metadata_routing=True" in str(w.message) for w in ours)
    assert np.isnan(search.cv_results_["mean_test_score"]).all()


def test_search_routing_on_without_groups_says_pass_them(data):
    X, y, _ = data
    with sklearn.config_context(enable_metadata_routing=True):
        with pytest.warns(UserWarning):
            with pytest.raises(ValueError, match="Pass the group labels") as info:
                _search(error_score="raise").fit(X, y)
    assert "error_score='raise'" in str(info.value)


def test_cross_validate_routing_off_raises(data):
    X, y, _ = data
    with pytest.warns(UserWarning):
        with pytest.raises(ValueError, match="enable_metadata_routing"):
            cross_validate(LogisticRegression(), X, y, cv=3, error_score="raise",
                           scoring=make_fairness_scorer("dp"))


def test_search_with_routing_and_groups_scores(data):
    X, y, s = data
    with sklearn.config_context(enable_metadata_routing=True):
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            search = _search(error_score="raise").fit(X, y, sensitive_features=s)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all() and (scores <= 0).all()
