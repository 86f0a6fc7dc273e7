import pickle
import re

import numpy as np
import pandas as pd
import pytest
import sklearn
from fairlearn.metrics import demographic_parity_ratio
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from sklearn_fairif.metrics import (
    accuracy_difference,
    average_odds_difference,
    demographic_parity_difference,
    equal_opportunity_difference,
    make_fairness_scorer,
)

ROUTING_HINT = re.escape("sklearn.set_config(enable_metadata_routing=True)")


def routing(enabled=True):
    # A context, never global set_config, so no state leaks between tests.
    return sklearn.config_context(enable_metadata_routing=enabled)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    n = 200
    X = rng.normal(size=(n, 3))
    s = rng.choice(["f", "m"], size=n)
    # The label depends on the group, so a model's gaps are not zero.
    y = (X[:, 0] + (s == "m") + 0.5 * rng.normal(size=n) > 0.5).astype(int)
    # Group labels as a Series with a non-default index: routing must slice it by
    # position, like X and y.
    return X, y, pd.Series(s, index=np.arange(1000, 1000 + n), name="sex")


@pytest.fixture(scope="module")
def fitted(data):
    X, y, _ = data
    return LogisticRegression().fit(X, y)


@pytest.mark.parametrize(
    "name, metric",
    [
        ("ad", accuracy_difference),
        ("aod", average_odds_difference),
        ("eod", equal_opportunity_difference),
        ("dp", demographic_parity_difference),
        ("AOD", average_odds_difference),
        ("average_odds_difference", average_odds_difference),
        ("demographic_parity_difference", demographic_parity_difference),
        (equal_opportunity_difference, equal_opportunity_difference),
    ],
)
def test_scorer_is_negated_metric(data, fitted, name, metric):
    X, y, s = data
    scorer = make_fairness_scorer(name)
    with routing():
        score = scorer(fitted, X, y, sensitive_features=s)
    expected = metric(y, fitted.predict(X), sensitive_features=s)
    assert expected > 0  # so that the sign is actually tested
    assert score == pytest.approx(-expected)


def test_scorer_method_is_passed(data, fitted):
    X, y, s = data
    scorer = make_fairness_scorer("aod", method="to_overall")
    with routing():
        score = scorer(fitted, X, y, sensitive_features=s)
    expected = average_odds_difference(
        y, fitted.predict(X), sensitive_features=s, method="to_overall"
    )
    assert score == pytest.approx(-expected)
    assert expected != pytest.approx(
        average_odds_difference(y, fitted.predict(X), sensitive_features=s)
    )


def test_scorer_repr_and_request():
    scorer = make_fairness_scorer("eod")
    text = repr(scorer)
    assert text.startswith("make_scorer(equal_opportunity_difference")
    assert "greater_is_better=False" in text
    requests = scorer.get_metadata_routing().score.requests
    assert requests == {"sensitive_features": True}


@pytest.mark.parametrize("bad", ["accuracy", "aodd", demographic_parity_ratio, 3])
def test_make_fairness_scorer_rejects_unknown_metric(bad):
    with pytest.raises(ValueError, match="metric must be one of .*'aod'"):
        make_fairness_scorer(bad)


def test_make_fairness_scorer_rejects_bad_method():
    with pytest.raises(ValueError, match="method must be one of"):
        make_fairness_scorer("aod", method="worst_case")


def test_scorer_pickles(data, fitted):
    X, y, s = data
    scorer = pickle.loads(pickle.dumps(make_fairness_scorer("dp")))
    with routing():
        score = scorer(fitted, X, y, sensitive_features=s)
    expected = demographic_parity_difference(y, fitted.predict(X), sensitive_features=s)
    assert score == pytest.approx(-expected)


# ------------------------------------------------------------- routing on


def test_grid_search_slices_groups_per_fold(data):
    X, y, s = data
    cv = KFold(3, shuffle=True, random_state=0)
    grid = {"C": [0.01, 1.0]}
    scoring = {"acc": "accuracy", "aod": make_fairness_scorer("aod")}
    with routing():
        search = GridSearchCV(
            LogisticRegression(), grid, scoring=scoring, refit="acc", cv=cv
        ).fit(X, y, sensitive_features=s)
    results = search.cv_results_
    assert np.all(results["mean_test_aod"] <= 0)
    assert np.all(np.isfinite(results["mean_test_aod"]))
    assert hasattr(search, "best_estimator_")
    # Recompute every split by hand, slicing the groups with the same folds.
    groups = s.to_numpy()
    for i, C in enumerate(grid["C"]):
        for k, (train, test) in enumerate(cv.split(X)):
            model = LogisticRegression(C=C).fit(X[train], y[train])
            expected = -average_odds_difference(
                y[test], model.predict(X[test]), sensitive_features=groups[test]
            )
            assert results[f"split{k}_test_aod"][i] == pytest.approx(expected)
    # The folds really differ, so equality above is not a coincidence.
    assert np.ptp([results[f"split{k}_test_aod"][0] for k in range(3)]) > 0


def test_grid_search_single_fairness_metric_picks_lowest_gap(data):
    X, y, s = data
    with routing():
        search = GridSearchCV(
            LogisticRegression(),
            {"C": [0.001, 10.0]},
            scoring=make_fairness_scorer("eod"),
            cv=3,
        ).fit(X, y, sensitive_features=s)
    scores = search.cv_results_["mean_test_score"]
    assert search.best_index_ == int(np.argmax(scores))
    assert search.best_score_ == pytest.approx(-min(-scores))


def test_cross_validate_with_params(data):
    X, y, s = data
    with routing():
        result = cross_validate(
            LogisticRegression(),
            X,
            y,
            scoring=make_fairness_scorer("dp"),
            params={"sensitive_features": s},
            cv=3,
        )
    assert result["test_score"].shape == (3,)
    assert np.all(result["test_score"] <= 0)


def test_sample_weight_needs_both_requests(data):
    X, y, s = data
    weight = np.random.RandomState(1).uniform(0.1, 2.0, len(y))
    cv = KFold(3)
    with routing():
        # set_score_request replaces earlier requests: re-request the groups.
        dropped = make_fairness_scorer("dp").set_score_request(sample_weight=True)
        assert "sensitive_features" not in dropped.get_metadata_routing().score.requests
        scorer = make_fairness_scorer("dp").set_score_request(
            sensitive_features=True, sample_weight=True
        )
        estimator = LogisticRegression().set_fit_request(sample_weight=False)
        result = cross_validate(
            estimator,
            X,
            y,
            scoring=scorer,
            params={"sensitive_features": s, "sample_weight": weight},
            cv=cv,
        )
    groups = s.to_numpy()
    for k, (train, test) in enumerate(cv.split(X)):
        model = LogisticRegression().fit(X[train], y[train])
        expected = -demographic_parity_difference(
            y[test],
            model.predict(X[test]),
            sensitive_features=groups[test],
            sample_weight=weight[test],
        )
        assert result["test_score"][k] == pytest.approx(expected)


def test_routing_on_but_groups_not_passed(data):
    X, y, _ = data
    with routing():
        search = GridSearchCV(
            LogisticRegression(),
            {"C": [1.0]},
            scoring=make_fairness_scorer("aod"),
            error_score="raise",
        )
        with pytest.raises(ValueError, match="fit\\(X, y, sensitive_features=s\\)"):
            search.fit(X, y)


# ------------------------------------------------------------ routing off


def test_scorer_without_routing_says_how_to_enable_it(data, fitted):
    X, y, _ = data
    scorer = make_fairness_scorer("aod")
    with routing(False):
        with pytest.raises(ValueError, match=ROUTING_HINT):
            scorer(fitted, X, y)


def test_scorer_called_with_groups_without_routing(data, fitted):
    # scikit-learn itself refuses extra scorer arguments while routing is off.
    X, y, s = data
    scorer = make_fairness_scorer("aod")
    with routing(False):
        with pytest.raises(ValueError, match="enable_metadata_routing=True"):
            scorer(fitted, X, y, sensitive_features=s)


def test_grid_search_without_routing_error_score_raise(data):
    X, y, _ = data
    with routing(False):
        search = GridSearchCV(
            LogisticRegression(),
            {"C": [1.0]},
            scoring={"acc": "accuracy", "aod": make_fairness_scorer("aod")},
            refit="acc",
            error_score="raise",
        )
        with pytest.raises(ValueError, match=ROUTING_HINT):
            search.fit(X, y)


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_grid_search_without_routing_default_error_score(data):
    # With the default error_score=np.nan, scikit-learn turns the scorer's error
    # into a warning (that carries our message) and NaN scores.
    X, y, _ = data
    with routing(False):
        search = GridSearchCV(
            LogisticRegression(),
            {"C": [1.0]},
            scoring={"acc": "accuracy", "aod": make_fairness_scorer("aod")},
            refit="acc",
        )
        with pytest.warns(UserWarning, match="Scoring failed") as record:
            search.fit(X, y)
    assert any(re.search(ROUTING_HINT, str(w.message)) for w in record)
    assert np.isnan(search.cv_results_["mean_test_aod"]).all()
    assert np.isfinite(search.cv_results_["mean_test_acc"]).all()


def test_grid_search_fit_with_groups_without_routing(data):
    # Routing off: GridSearchCV hands every fit param to the estimator's fit,
    # which does not take sensitive_features; scikit-learn reports failed fits.
    X, y, s = data
    with routing(False):
        search = GridSearchCV(
            LogisticRegression(),
            {"C": [1.0]},
            scoring={"acc": "accuracy", "aod": make_fairness_scorer("aod")},
            refit="acc",
        )
        msg = r"(?s)All the 5 fits failed.*unexpected keyword argument 'sensitive_fe"
        with pytest.raises(ValueError, match=msg):
            search.fit(X, y, sensitive_features=s)


def test_routing_state_does_not_leak():
    assert sklearn.get_config()["enable_metadata_routing"] is False
    make_fairness_scorer("aod")
    assert sklearn.get_config()["enable_metadata_routing"] is False
