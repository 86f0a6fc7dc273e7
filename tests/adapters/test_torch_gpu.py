"""The torch adapter on CUDA: every path of the influence, and CPU agreement.

Skipped without CUDA; with ``FAIRIF_REQUIRE_GPU=1`` a skip is a failure
(tests/adapters/conftest.py), which is how scripts/gpu_check.sh runs them.
"""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from numpy.testing import assert_allclose  # noqa: E402
from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier  # noqa: E402
from torch import nn  # noqa: E402

from sklearn_fairif import FairIFClassifier, IFFairClassifier  # noqa: E402
from sklearn_fairif._objectives import FairnessConstraints  # noqa: E402
from sklearn_fairif.adapters import _torch  # noqa: E402
from sklearn_fairif.adapters._skorch_training import fit_weighted_net  # noqa: E402
from sklearn_fairif.adapters._torch import SkorchAdapter  # noqa: E402
from sklearn_fairif.influence import (  # noqa: E402
    CGSolver,
    ExactSolver,
    LissaSolver,
    influence_scores,
)

CUDA = torch.cuda.is_available()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not CUDA, reason="needs CUDA")]


def _problem(n, d=5, seed=0):
    rng = np.random.default_rng(seed)
    s = (rng.random(n) < 0.3).astype(int)
    X = rng.normal(size=(n, d))
    X[:, 0] += s
    logit = 1.5 * X[:, 1] + 0.5 * X[:, 2] - 2.0 * s * X[:, 1] + 0.5 * s
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y, s


def _module(out=1, dtype=torch.float64, seed=0, softmax=False):
    torch.manual_seed(seed)
    layers = [nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, out)]
    if softmax:
        layers.append(nn.Softmax(dim=-1))
    return nn.Sequential(*layers).to(dtype)


def _fit(head, n, device, dtype=torch.float64, **kw):
    X, y, s = _problem(n)
    params = dict(max_epochs=20, batch_size=256, train_split=None, verbose=0,
                  optimizer=torch.optim.Adam, optimizer__lr=0.01,
                  optimizer__weight_decay=1e-2, device=device)
    params.update(kw)
    np_dtype = torch.empty((), dtype=dtype).numpy().dtype
    if head == "binary":
        net = NeuralNetBinaryClassifier(_module(1, dtype), **params)
        yt = y.astype(np_dtype)
    else:
        net = NeuralNetClassifier(_module(2, dtype, softmax=head == "nll"),
                                  criterion=(nn.NLLLoss if head == "nll"
                                             else nn.CrossEntropyLoss), **params)
        yt = y.astype(np.int64)
    X = X.astype(np_dtype)
    return fit_weighted_net(net, X, yt, np.ones(n)), X, yt, s


def _stored_tensors(adapter):
    """Every tensor the adapter keeps (data, parameters, subsets)."""
    found = []

    def walk(value, name):
        if isinstance(value, torch.Tensor):
            found.append((name, value))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{name}[{k}]")
        elif isinstance(value, (tuple, list)):
            for i, v in enumerate(value):
                walk(v, f"{name}[{i}]")

    for name, value in vars(adapter).items():
        walk(value, name)
    return found


def _corr(a, b):
    return min(np.corrcoef(a[:, c], b[:, c])[0, 1] for c in range(a.shape[1]))


@pytest.mark.parametrize("head", ["binary", "two", "nll"])
def test_heads_on_cuda_match_cpu(head):
    net, X, y, _ = _fit(head, 600, "cuda")
    gpu = SkorchAdapter(net, X, y, np.ones(len(y)), batch_size=128)
    for name, t in _stored_tensors(gpu):
        assert t.device.type == "cuda", name
    net.device = "cpu"  # an attribute, not set_params: nothing re-initialised
    net.module_.to("cpu")
    cpu = SkorchAdapter(net, X, y, np.ones(len(y)), batch_size=128)
    V = np.random.default_rng(0).normal(size=(gpu.n_params, 2))
    assert_allclose(gpu.to_numpy(gpu.hvp(V)), cpu.to_numpy(cpu.hvp(V)),
                    rtol=1e-8, atol=1e-10)
    assert_allclose(gpu.grad_dot(V), cpu.grad_dot(V), rtol=1e-8, atol=1e-10)
    assert_allclose(gpu.decision_function(X), cpu.decision_function(X),
                    rtol=1e-8, atol=1e-10)


def test_above_the_hessian_subset_lissa_minibatches_and_last_layer():
    n = 6000  # above default_hessian_samples' floor: a subset is used
    net, X, y, s = _fit("binary", n, "cuda", max_epochs=5)
    adapter = SkorchAdapter(net, X, y, np.ones(n))
    assert adapter.hessian_samples == _torch.default_hessian_samples(n) < n
    assert len(adapter._hessian_data[1]) == adapter.hessian_samples
    assert adapter._hessian_data[1].device.type == "cuda"
    b = adapter.logit_vjp(X[:500], np.ones((500, 2)))
    exact = adapter.to_numpy(ExactSolver().solve(adapter, b, 0.1))
    cg = CGSolver(tol=1e-8, max_iter=500)
    assert np.linalg.norm(adapter.to_numpy(cg.solve(adapter, b, 0.1)) - exact) \
        < 1e-5 * np.linalg.norm(exact)
    lissa = LissaSolver(depth=400, repeats=2, batch_size=256, random_state=0)
    u = adapter.to_numpy(lissa.solve(adapter, b, 0.1))
    assert np.linalg.norm(u - exact) < 0.2 * np.linalg.norm(exact)
    last = SkorchAdapter(net, X, y, np.ones(n), influence_params="last_layer")
    assert last.n_params == 17
    u_last = ExactSolver().solve(last, last.logit_vjp(X[:500], np.ones((500, 2))),
                                 0.01)
    assert u_last.device.type == "cuda"
    assert np.isfinite(last.grad_dot(u_last)).all()


def test_host_placement_branch(monkeypatch):
    # Too little free memory: the data stays on the host (pinned) and every
    # batch is copied; the results are the same.
    net, X, y, _ = _fit("binary", 800, "cuda")
    on_device = SkorchAdapter(net, X, y, np.ones(800), batch_size=200)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (0, 0))
    host = SkorchAdapter(net, X, y, np.ones(800), batch_size=200)
    assert host._X.device.type == "cpu" and host._X.is_pinned()
    assert host.theta.device.type == "cuda"
    V = np.ones((host.n_params, 2))
    assert_allclose(host.to_numpy(host.hvp(V)), on_device.to_numpy(on_device.hvp(V)),
                    rtol=1e-10)
    assert_allclose(host.grad_dot(V), on_device.grad_dot(V), rtol=1e-10)
    idx = np.arange(0, 800, 3)  # a mini-batch gathered from host memory
    assert_allclose(host.to_numpy(host.hvp(V, batch=idx)),
                    on_device.to_numpy(on_device.hvp(V, batch=idx)), rtol=1e-10)
    rows = host.as_index(idx)  # device indices into host data
    assert_allclose(host.to_numpy(host.hvp(V, batch=rows)),
                    on_device.to_numpy(on_device.hvp(V, batch=idx)), rtol=1e-10)


def test_cuda_tensors_as_targets_and_weights():
    net, X, y, _ = _fit("binary", 300, "cuda")
    w = np.random.default_rng(0).uniform(0.5, 2, 300)
    a = SkorchAdapter(net, torch.as_tensor(X, device="cuda"),
                      torch.as_tensor(y, device="cuda"),
                      torch.as_tensor(w, device="cuda"))
    b = SkorchAdapter(net, X, y, w)
    V = np.ones((a.n_params, 1))
    assert_allclose(a.to_numpy(a.hvp(V)), b.to_numpy(b.hvp(V)), rtol=1e-10)
    refit = fit_weighted_net(net, X, torch.as_tensor(y, device="cuda").cpu(),
                             torch.as_tensor(w, device="cuda"), epochs=2)
    assert next(refit.module_.parameters()).device.type == "cuda"


def test_caller_cuda_stream_is_kept():
    torch.cuda.init()
    torch.cuda.manual_seed(1234)
    torch.rand(3, device="cuda")
    state = torch.cuda.get_rng_state()
    _fit("binary", 200, "cuda", max_epochs=2)
    assert torch.equal(torch.cuda.get_rng_state(), state)


def test_tf32_off_in_passes_and_restored():
    net, X, y, _ = _fit("binary", 400, "cuda", dtype=torch.float32)
    seen = []
    net.module_.register_forward_hook(
        lambda *_: seen.append((torch.backends.cuda.matmul.allow_tf32,
                                torch.backends.cudnn.allow_tf32)))
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        adapter = SkorchAdapter(net, X, y, np.ones(400))
        adapter.hvp(np.ones((adapter.n_params, 1)))
        assert seen and not any(a or b for a, b in seen)
        assert torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32 = False


def test_one_sync_per_cg_iteration_on_cuda():
    net, X, y, _ = _fit("binary", 2000, "cuda", dtype=torch.float32)
    adapter = SkorchAdapter(net, X, y, np.ones(2000))
    b = adapter.logit_vjp(X[:300], np.ones((300, 2)))
    solver = CGSolver(tol=1e-6, max_iter=50)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            solver.solve(adapter, b, damping=0.1)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    assert len(syncs) <= solver.n_iter_ + 1, [str(w.message) for w in syncs[:3]]


def test_cuda_batch_size_is_sized_from_memory():
    net, X, y, _ = _fit("binary", 300, "cuda", dtype=torch.float32)
    adapter = SkorchAdapter(net, X, y, np.ones(300))
    from sklearn_fairif.adapters import _torch_ops

    low, high = _torch_ops.CUDA_BATCH_BOUNDS
    assert low <= adapter.batch_size <= high
    assert adapter.batch_size > 128  # skorch's default would be 128


def test_fairif_and_iffair_on_cuda_agree_with_cpu():
    X, y, s = _problem(3000)
    X = X.astype(np.float32)
    X_tr, y_tr = X[:2000], y[:2000].astype(np.float32)
    X_val, y_val, s_val = X[2000:], y[2000:], s[2000:]

    def net(device):
        return NeuralNetBinaryClassifier(
            _module(1, torch.float32), max_epochs=15, batch_size=256,
            train_split=None, verbose=0, optimizer=torch.optim.Adam,
            optimizer__lr=0.01, optimizer__weight_decay=1e-3, device=device)

    fitted = {}
    for device in ("cpu", "cuda"):
        fitted[device] = FairIFClassifier(net(device), random_state=0)
        fitted[device].fit(X_tr, y_tr, X_val=X_val, y_val=y_val, s_val=s_val)
    assert _corr(fitted["cpu"].influence_, fitted["cuda"].influence_) > 0.999
    assert np.corrcoef(fitted["cpu"].sample_weight_,
                       fitted["cuda"].sample_weight_)[0, 1] > 0.999
    clf = IFFairClassifier(net("cuda"), update_every=5, n_updates=2,
                           random_state=0)
    clf.fit(X_tr, y_tr, X_val=X_val, y_val=y_val, s_val=s_val)
    assert clf.n_updates_ == 2
    assert next(clf.estimator_.module_.parameters()).device.type == "cuda"
    assert np.isfinite(clf.sample_weight_).all()


def test_influence_scores_on_cuda_equal_cpu():
    net, X, y, s = _fit("binary", 1500, "cuda")
    cons = FairnessConstraints("equalized_odds", y[:500], s[:500])
    gpu = SkorchAdapter(net, X, y, np.ones(len(y)))
    inf_gpu, _ = influence_scores(gpu, cons, X[:500], CGSolver(tol=1e-10), damping=0.1)
    net.device = "cpu"  # an attribute, not set_params: nothing re-initialised
    net.module_.to("cpu")
    cpu = SkorchAdapter(net, X, y, np.ones(len(y)))
    inf_cpu, _ = influence_scores(cpu, cons, X[:500], CGSolver(tol=1e-10), damping=0.1)
    assert _corr(inf_gpu, inf_cpu) > 0.999999
