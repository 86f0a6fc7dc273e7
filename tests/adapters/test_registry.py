"""The adapter registry and protocol."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier

from sklearn_fairif.adapters import (
    InfluenceAdapter,
    LinearAdapter,
    fit_weighted,
    get_adapter_class,
    make_adapter,
)


@pytest.mark.parametrize("estimator", [LogisticRegression(),
                                       SGDClassifier(loss="log_loss")])
def test_linear_family(estimator):
    assert get_adapter_class(estimator) is LinearAdapter


def test_unsupported_estimator_names_the_way_out():
    with pytest.raises(TypeError, match="influence_estimator"):
        get_adapter_class(HistGradientBoostingClassifier())


def test_adapters_implement_the_protocol(biased_split):
    X, y = biased_split[:2]
    adapter = make_adapter(LogisticRegression().fit(X, y), X, y,
                           influence_params="last_layer")  # ignored, not an error
    assert isinstance(adapter, InfluenceAdapter)
    assert adapter.n_params == X.shape[1] + 1


def test_fit_weighted_clones_and_weights(biased_split):
    X, y = biased_split[:2]
    est = HistGradientBoostingClassifier(max_iter=3)
    w = np.zeros(len(y))
    w[:500] = 1.0
    fitted = fit_weighted(est, X, y, w)
    assert fitted is not est and not hasattr(est, "n_iter_")
    weighted = HistGradientBoostingClassifier(max_iter=3).fit(X, y, sample_weight=w)
    plain = HistGradientBoostingClassifier(max_iter=3).fit(X, y)
    np.testing.assert_array_equal(fitted.predict_proba(X), weighted.predict_proba(X))
    assert not np.allclose(fitted.predict_proba(X), plain.predict_proba(X))


def test_registry_imports_no_torch_for_scikit_learn_models():
    code = ("import sys\nfrom sklearn.linear_model import LogisticRegression\n"
            "from sklearn_fairif.adapters import get_adapter_class\n"
            "get_adapter_class(LogisticRegression())\n"
            "assert 'torch' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
