"""FairIF on a real Dask cluster through joblib's dask backend.

One local cluster of two worker processes serves the module's tests (starting
one takes seconds); the workers run the alpha path's refits and the influence
pass's row blocks, and the results must equal the serial fit's.
"""

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_fairif import FairIFClassifier
from sklearn_fairif.adapters import LinearAdapter

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                  processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        yield client


def _fit_on(client, clf, X, y, kwargs):
    """Fit under the dask backend; return the fitted clf and its tasks' keys."""
    with joblib.parallel_config(backend="dask"), \
            distributed.get_task_stream(client) as stream:
        clf.fit(X, y, **kwargs)
    workers = set(client.scheduler_info()["workers"])
    # The tasks really ran on the cluster's workers.
    assert stream.data and {t["worker"] for t in stream.data} <= workers
    return clf, [str(t["key"]) for t in stream.data]


@pytest.mark.filterwarnings("ignore:No alpha kept")
def test_alpha_path_on_a_local_cluster_equals_serial(client, biased_split):
    X, y, X_val, y_val, s_val, X_test = biased_split[:6]
    kwargs = {"X_val": X_val, "y_val": y_val, "s_val": s_val}
    alphas = [0.01, 0.1, 1.0]
    serial = FairIFClassifier(alpha=alphas, refit_start="initial").fit(
        X, y, **kwargs)
    on_cluster, _ = _fit_on(client, FairIFClassifier(
        alpha=alphas, refit_start="initial", n_jobs=-1), X, y, kwargs)
    assert_allclose(on_cluster.sample_weight_, serial.sample_weight_)
    assert_array_equal(on_cluster.predict(X_test), serial.predict(X_test))
    assert on_cluster.alpha_ == serial.alpha_


def test_influence_pass_on_a_local_cluster_equals_serial(client, biased_split,
                                                         monkeypatch):
    # A linear pass this small is normally kept in the fitting process.
    monkeypatch.setattr(LinearAdapter, "min_split_products", 0)
    X, y, X_val, y_val, s_val, X_test = biased_split[:6]
    kwargs = {"X_val": X_val, "y_val": y_val, "s_val": s_val}
    # One alpha: the refit runs here, only the influence pass is parallel.
    serial = FairIFClassifier(alpha=0.3).fit(X, y, **kwargs)
    on_cluster, keys = _fit_on(client, FairIFClassifier(alpha=0.3, n_jobs=-1),
                               X, y, kwargs)
    assert any("_grad_dot_rows" in key for key in keys)
    assert_allclose(on_cluster.influence_, serial.influence_, rtol=1e-12, atol=0)
    assert_allclose(on_cluster.sample_weight_, serial.sample_weight_,
                    rtol=1e-12)
    assert_array_equal(on_cluster.predict(X_test), serial.predict(X_test))


@pytest.mark.slow  # each worker imports torch: 10-20 s on a shared 2-core machine
def test_network_influence_pass_on_a_local_cluster_equals_serial(client,
                                                                 biased_split):
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    X, y, X_val, y_val, s_val, X_test = biased_split[:6]
    kwargs = {"X_val": X_val, "y_val": y_val, "s_val": s_val}

    def fitted(n_jobs):
        torch.manual_seed(0)
        module = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(),
                                     torch.nn.Linear(8, 1)).double()
        net = skorch.NeuralNetBinaryClassifier(
            module, max_epochs=5, lr=0.1, batch_size=256, train_split=None,
            iterator_valid__batch_size=256, verbose=0)
        return FairIFClassifier(net, alpha=0.3, n_jobs=n_jobs)

    serial = fitted(None).fit(X, y, **kwargs)
    on_cluster, keys = _fit_on(client, fitted(-1), X, y, kwargs)
    assert any("_grad_dot_block" in key for key in keys)
    assert_allclose(on_cluster.influence_, serial.influence_, rtol=1e-12,
                    atol=1e-15)
    assert_allclose(on_cluster.sample_weight_, serial.sample_weight_,
                    rtol=1e-10)
    assert_array_equal(on_cluster.predict(X_test), serial.predict(X_test))
    assert np.ptp(serial.sample_weight_) > 0
