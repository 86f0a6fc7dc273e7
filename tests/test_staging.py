"""ReweightedModel: the one owner of the model being reweighted."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_fairif._staging import ReweightedModel


def _model(estimator, data, sample_weight=None, **kw):
    X, y, X_val = data[0], data[1], data[2]
    sw = np.ones(len(y)) if sample_weight is None else sample_weight
    return ReweightedModel(estimator, X, y, classes=np.unique(y),
                           sample_weight=sw, X_val=X_val, **kw)


def test_fit_multiplies_the_user_weights(biased_split):
    X, y = biased_split[:2]
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    w = np.random.default_rng(1).uniform(0.0, 2.0, len(y))
    model = _model(LogisticRegression(C=0.5), biased_split, sample_weight=sw)
    ref = LogisticRegression(C=0.5).fit(X, y, sample_weight=sw * w)
    assert_allclose(model.fit(w).coef_, ref.coef_)
    assert_allclose(model.fit().coef_,
                    LogisticRegression(C=0.5).fit(X, y, sample_weight=sw).coef_)


def test_pipeline_preprocessing_fitted_once_and_validation_cached(biased_split):
    X, y, X_val = biased_split[:3]
    model = _model(make_pipeline(StandardScaler(), LogisticRegression()),
                   biased_split)
    scaler = StandardScaler().fit(X)
    assert_allclose(model.Xt, scaler.transform(X))
    assert_allclose(model.Xt_val, scaler.transform(X_val))
    fitted = model.fit(np.ones(len(y)))
    assert fitted[0] is model.pre[0]  # every refit reuses the fitted scaler
    # Margins and predictions from the cached transform equal the Pipeline's.
    assert_allclose(model.validation_margins(fitted),
                    fitted.decision_function(X_val))
    assert_array_equal(model.validation_predictions(fitted), fitted.predict(X_val))


def test_labels_encoded_for_predictions(biased_split):
    X, y, X_val = biased_split[:3]
    labels = np.array(["no", "yes"])[y]
    model = ReweightedModel(LogisticRegression(), X, labels,
                            classes=np.array(["no", "yes"]),
                            sample_weight=np.ones(len(y)), X_val=X_val)
    fitted = model.fit()
    assert_array_equal(model.validation_predictions(fitted),
                       (fitted.predict(X_val) == "yes").astype(int))


def test_warm_fit_matches_cold_fit_and_keeps_the_start(biased_split):
    X, y = biased_split[:2]
    est = LogisticRegression(tol=1e-10, max_iter=10_000)
    model = _model(est, biased_split)
    w = np.random.default_rng(2).uniform(0.0, 2.0, len(y))
    start = model.fit()
    start_coef = start.coef_.copy()
    warm = model.fit(w, warm_from=start)
    cold = model.fit(w)
    assert_allclose(warm.coef_, cold.coef_, rtol=1e-6, atol=1e-8)
    assert_array_equal(start.coef_, start_coef)  # the start is not modified
    assert warm.get_params()["warm_start"] is False
    assert est.get_params()["warm_start"] is False


def test_not_differentiable_model_fits_without_adapter(biased_split):
    model = _model(HistGradientBoostingClassifier(max_iter=5), biased_split,
                   differentiable=False)
    assert model.adapter_class is None
    assert model.fit().n_iter_ == 5
    with pytest.raises(TypeError, match="influence_estimator"):
        _model(HistGradientBoostingClassifier(), biased_split)


@pytest.mark.parametrize("params, match", [
    ({"foo": 1}, "unexpected fit parameters"),
    ({"logisticregression__sample_weight": 1}, "sample_weight"),
])
def test_pipeline_rejects_unknown_fit_params(biased_split, params, match):
    with pytest.raises(TypeError, match=match):
        _model(make_pipeline(StandardScaler(), LogisticRegression()), biased_split,
               fit_params=params)
