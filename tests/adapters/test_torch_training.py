"""Weighted skorch training (adapters/_skorch_training.py) and its fit-data hook."""

import logging
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from numpy.testing import assert_allclose  # noqa: E402
from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier  # noqa: E402
from skorch.callbacks import Callback  # noqa: E402
from skorch.helper import SliceDict  # noqa: E402
from torch import nn  # noqa: E402

from sklearn_fairif.adapters._skorch_training import (  # noqa: E402
    HOOK_NAME,
    WEIGHT_KEY,
    _EpochHook,
    fit_weighted_net,
    prepare_fit_data,
)
from sklearn_fairif.adapters._torch import SkorchAdapter  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def _data(n=64, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.float32)


class _WeightsSeen(Callback):
    """Record the mean sample weight of the training batches, per epoch."""

    def initialize(self):
        self.sums, self.means = [], []
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.sums.append(batch[0][WEIGHT_KEY].double())

    def on_epoch_end(self, net, **kwargs):
        self.means.append(float(torch.cat(self.sums).mean()))
        self.sums = []


def _binary_net(**kw):
    params = dict(module=nn.Linear, module__in_features=3, module__out_features=1,
                  max_epochs=3, batch_size=16, train_split=None, verbose=0,
                  callbacks=[("seen", _WeightsSeen())])
    params.update(kw)
    return NeuralNetBinaryClassifier(**params)


def _epoch_times(net):
    return [float(len(net.history) + 1)] * 64  # weights 2, 3, ... after epochs


@pytest.mark.parametrize("workers", [
    {},
    {"iterator_train__num_workers": 2, "iterator_train__persistent_workers": True},
])
def test_returned_weights_reach_the_next_epoch(workers):
    # Persistent workers keep the dataset they were forked with: without the
    # shared-memory buffer the mean weight stayed 1, 1, 1.
    X, y = _data()
    net = _binary_net(**workers)
    fitted = fit_weighted_net(net, X, y, np.ones(64), on_epoch_end=_epoch_times)
    assert_allclose(dict(fitted.callbacks_)["seen"].means, [1.0, 2.0, 3.0])


def test_adapter_hook_with_returned_weights_keeps_them():
    # Returned weights stay until the next return (None must not reset them).
    X, y = _data()

    def once(net):
        return np.full(64, 2.0) if len(net.history) == 1 else None

    fitted = SkorchAdapter.fit(_binary_net(), X, y, np.ones(64), on_epoch_end=once)
    assert_allclose(dict(fitted.callbacks_)["seen"].means, [1.0, 2.0, 2.0])


def test_wrong_weight_shape_from_the_hook_is_named():
    X, y = _data()
    with pytest.raises(ValueError, match="on_epoch_end returned weights of shape"):
        fit_weighted_net(_binary_net(), X, y, np.ones(64),
                         on_epoch_end=lambda net: np.ones(3))


def test_hook_is_a_callback_and_leaves_nothing_behind():
    assert issubclass(_EpochHook, Callback)
    X, y = _data()
    calls = []
    net = _binary_net()
    fitted = fit_weighted_net(net, X, y, np.ones(64), on_epoch_end=calls.append)
    assert len(calls) == 3 and calls[0] is not net
    assert HOOK_NAME not in dict(fitted.callbacks_)
    assert not any(isinstance(cb, _EpochHook) for _, cb in fitted.callbacks_)
    blob = pickle.dumps(fitted)
    assert b"_skorch_training" not in blob and b"_Weighted" not in blob
    assert type(fitted) is NeuralNetBinaryClassifier


def test_training_progress_is_logged(caplog):
    X, y = _data()
    with caplog.at_level(logging.DEBUG, logger="sklearn_fairif"):
        fit_weighted_net(_binary_net(), X, y, np.ones(64), estimator_name="IFFair")
    records = [r.fairif for r in caplog.records if hasattr(r, "fairif")]
    assert records[0] == {"event": "train_begin", "estimator": "IFFair",
                          "max_epochs": 3}
    assert [r["epoch"] for r in records[1:]] == [1, 2, 3]
    assert {r["event"] for r in records[1:]} == {"epoch_end"}
    assert all(r.levelno == logging.DEBUG for r in caplog.records)


def test_default_estimator_name_and_epochs_fit_param(caplog):
    X, y = _data()
    with caplog.at_level(logging.DEBUG, logger="sklearn_fairif"):
        fit_weighted_net(_binary_net(), X, y, np.ones(64), epochs=2)
    records = [r.fairif for r in caplog.records if hasattr(r, "fairif")]
    assert records[0]["estimator"] == "FairIF" and records[0]["max_epochs"] == 2
    assert len(records) == 3


def test_tensor_targets_and_weights_are_accepted():
    X, y = _data()
    w = np.random.default_rng(0).uniform(0.5, 2, 64)
    from_numpy = fit_weighted_net(_binary_net(), X, y, w)
    from_tensors = fit_weighted_net(_binary_net(), torch.as_tensor(X),
                                    torch.as_tensor(y), torch.as_tensor(w))
    assert_allclose(from_numpy.predict_proba(X), from_tensors.predict_proba(X),
                    rtol=1e-6)
    adapter = SkorchAdapter(from_tensors, torch.as_tensor(X), torch.as_tensor(y),
                            torch.as_tensor(w))
    reference = SkorchAdapter(from_tensors, X, y, w)
    V = torch.ones(adapter.n_params, 1)
    assert_allclose(adapter.hvp(V).numpy(), reference.hvp(V).numpy(), rtol=1e-6)


def test_cuda_stream_is_not_reseeded_for_a_cpu_net(monkeypatch):
    # torch.manual_seed would queue a reseed of every CUDA device for when the
    # caller first uses CUDA; a CPU net must leave CUDA alone.
    calls = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", calls.append)
    monkeypatch.setattr(torch.cuda, "manual_seed", calls.append)
    X, y = _data()
    state = torch.get_rng_state()
    fit_weighted_net(_binary_net(), X, y, np.ones(64))
    assert calls == []
    assert torch.equal(torch.get_rng_state(), state)


def test_same_start_for_repeated_fits():
    X, y = _data()
    net = _binary_net(max_epochs=1)
    first = fit_weighted_net(net, X, y, np.ones(64))
    torch.rand(5)  # the caller's stream moves on; the fits restart anyway
    second = fit_weighted_net(net, X, y, np.ones(64))
    assert_allclose(first.module_.weight.detach(), second.module_.weight.detach())


# ------------------------------------------------------------ fit data
def test_prepare_fit_data_dtypes():
    X = np.random.default_rng(0).normal(size=(6, 3))  # float64
    y01 = np.array([0, 1, 1, 0, 1, 0])
    Xb, yb = prepare_fit_data(NeuralNetBinaryClassifier(nn.Linear), X, y01)
    assert Xb.dtype == np.float32 and yb.dtype == np.float32
    Xc, yc = prepare_fit_data(NeuralNetClassifier(nn.Linear(3, 2)), X, y01)
    assert Xc.dtype == np.float32 and yc.dtype == np.int64
    # A float64 module instance, or module__dtype, keeps float64.
    X64, y64 = prepare_fit_data(NeuralNetBinaryClassifier(nn.Linear(3, 1).double()),
                                X.astype(np.float32), y01)
    assert X64.dtype == np.float64 and y64.dtype == np.float64
    Xd, _ = prepare_fit_data(
        NeuralNetBinaryClassifier(nn.Linear, module__dtype=torch.float64),
        X.astype(np.float32), y01)
    assert Xd.dtype == np.float64
    # Tensors and dict values are cast too; integer inputs (indices) are kept.
    Xt, _ = prepare_fit_data(NeuralNetBinaryClassifier(nn.Linear),
                             torch.as_tensor(X), y01)
    assert Xt.dtype == torch.float32
    Xs, _ = prepare_fit_data(
        NeuralNetBinaryClassifier(nn.Linear),
        SliceDict(num=X, idx=np.arange(6)), y01)
    assert isinstance(Xs, SliceDict)
    assert Xs["num"].dtype == np.float32 and Xs["idx"].dtype == np.arange(1).dtype


def test_prepared_float64_data_fits_a_float32_module():
    X = np.random.default_rng(0).normal(size=(40, 3))
    y01 = (X[:, 0] > 0).astype(int)
    net = NeuralNetBinaryClassifier(nn.Linear(3, 1), max_epochs=2,
                                    train_split=None, verbose=0)
    with pytest.raises(RuntimeError):  # what users met before the hook
        fit_weighted_net(net, X, y01, np.ones(40))
    Xp, yp = prepare_fit_data(net, X, y01)
    fitted = fit_weighted_net(net, Xp, yp, np.ones(40))
    assert fitted.predict_proba(Xp).shape == (40, 2)


@pytest.mark.parametrize("net", [
    NeuralNetClassifier(nn.Linear(3, 1)),
    NeuralNetClassifier(nn.Linear, module__in_features=3, module__out_features=1),
])
def test_one_output_classifier_is_named(net):
    X = np.zeros((4, 3))
    with pytest.raises(ValueError, match="NeuralNetClassifier needs a module with 2"):
        SkorchAdapter.prepare_fit_data(net, X, np.array([0, 1, 0, 1]))


@pytest.mark.parametrize("module", ["sklearn_fairif.adapters._skorch_training",
                                    "sklearn_fairif.adapters._torch"])
def test_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module),
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
