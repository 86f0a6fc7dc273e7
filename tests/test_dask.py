"""FairIF's alpha path on a real Dask cluster through joblib's dask backend."""

import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_fairif import FairIFClassifier

distributed = pytest.importorskip("distributed")


@pytest.mark.filterwarnings("ignore:No alpha kept")
def test_alpha_path_on_a_local_cluster_equals_serial(biased_split):
    import joblib

    X, y, X_val, y_val, s_val, X_test = biased_split[:6]
    kwargs = {"X_val": X_val, "y_val": y_val, "s_val": s_val}
    alphas = [0.01, 0.1, 1.0]
    serial = FairIFClassifier(alpha=alphas, refit_start="initial").fit(
        X, y, **kwargs)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                  processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        with joblib.parallel_config(backend="dask"), \
                distributed.get_task_stream(client) as stream:
            on_cluster = FairIFClassifier(alpha=alphas, refit_start="initial",
                                          n_jobs=-1).fit(X, y, **kwargs)
        assert len(client.scheduler_info()["workers"]) == 2
        # The refits really ran as tasks on the workers.
        assert len(stream.data) >= 1
        assert {t["worker"] for t in stream.data} <= set(
            client.scheduler_info()["workers"])
    assert_allclose(on_cluster.sample_weight_, serial.sample_weight_)
    assert_array_equal(on_cluster.predict(X_test), serial.predict(X_test))
    assert on_cluster.alpha_ == serial.alpha_

