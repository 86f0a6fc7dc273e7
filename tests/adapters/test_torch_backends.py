"""The torch adapter's CUDA-motivated fixes, checked on the CPU.

Half-precision modules, TF32/cuDNN/attention settings during the influence
passes, batched autograd, host syncs per solver iteration, caches of uploaded
data, batch sizes and the Hessian subsample rule.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from numpy.testing import assert_allclose  # noqa: E402
from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier  # noqa: E402
from torch import nn  # noqa: E402
from torch.func import functional_call, grad, vmap  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402

from sklearn_fairif.adapters import _torch  # noqa: E402
from sklearn_fairif.adapters._torch import (  # noqa: E402
    SkorchAdapter,
    default_hessian_samples,
)
from sklearn_fairif.adapters._torch_ops import (  # noqa: E402
    _batch_size_for,
    _batched_grad,
)
from sklearn_fairif.influence import CGSolver, LissaSolver  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def _data(n=120, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, (X[:, 0] - 0.5 * X[:, 1] + rng.normal(size=n) > 0).astype(float)


def _net(module, **kw):
    params = dict(max_epochs=5, lr=0.3, batch_size=-1, train_split=None, verbose=0)
    params.update(kw)
    net = NeuralNetBinaryClassifier(module, **params)
    return net.initialize()


def _mlp(d=4, hidden=6, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, hidden), nn.Tanh(),
                         nn.Linear(hidden, 1)).to(dtype)


def _flat(module):
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()])


def _hessian(module, X, y):
    """Reference Hessian of the mean BCE loss by autograd."""
    X, y = torch.as_tensor(X, dtype=_flat(module).dtype), torch.as_tensor(y)
    names = [(n, p.shape, p.numel()) for n, p in module.named_parameters()]

    def objective(theta):
        params, start = {}, 0
        for name, shape, size in names:
            params[name] = theta[start:start + size].view(shape)
            start += size
        out = functional_call(module, params, (X,)).reshape(-1)
        return nn.functional.binary_cross_entropy_with_logits(
            out, y.to(out.dtype))

    return torch.autograd.functional.hessian(objective, _flat(module))


# -------------------------------------------------------------- precision
@pytest.mark.parametrize("half", [torch.bfloat16, torch.float16])
def test_half_precision_module_is_evaluated_in_float32(half):
    X, y = _data()
    module = _mlp(dtype=torch.float32)
    reference = SkorchAdapter(_net(module), X, y, np.ones(len(y)))
    module_half = _mlp(dtype=torch.float32).to(half)
    adapter = SkorchAdapter(_net(module_half), X, y, np.ones(len(y)))
    assert adapter.dtype == torch.float32 and adapter.theta.dtype == torch.float32
    V = torch.randn(adapter.n_params, 2)
    HV = adapter.hvp(V)
    assert HV.dtype == torch.float32
    # The module's half weights, evaluated in float32: equal to the float32
    # net with those (rounded) weights, far closer than half precision allows.
    rounded = _mlp(dtype=torch.float32)
    rounded.load_state_dict({k: v.float() for k, v in module_half.state_dict().items()})
    ref = SkorchAdapter(_net(rounded), X, y, np.ones(len(y)))
    assert_allclose(HV.numpy(), ref.hvp(V).numpy(), rtol=1e-5, atol=1e-6)
    # (an untrained net: damping well above its negative curvature)
    u = CGSolver(tol=1e-6).solve(adapter, adapter.logit_vjp(X, np.ones((120, 2))),
                                 damping=5.0)
    assert u.dtype == torch.float32 and torch.isfinite(u).all()
    assert reference.dtype == torch.float32
    assert next(module_half.parameters()).dtype == half  # the module is untouched


# ----------------------------------------------------------- backends
class _Recorder(nn.Module):
    """Records the backend flags seen during forward passes."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.seen = inner, []

    def forward(self, X):
        self.seen.append((torch.get_float32_matmul_precision(),
                          torch.backends.cudnn.allow_tf32,
                          torch.backends.cudnn.enabled,
                          torch.backends.mha.get_fastpath_enabled()))
        return self.inner(X)


def test_tf32_off_during_influence_passes_and_restored(monkeypatch):
    X, y = _data()
    module = _Recorder(_mlp())
    adapter = SkorchAdapter(_net(module), X, y, np.ones(len(y)))
    torch.set_float32_matmul_precision("high")  # what TF32 users set
    try:
        module.seen.clear()
        adapter.hvp(torch.ones(adapter.n_params, 1))
        adapter.grad_dot(np.ones((adapter.n_params, 1)))
        adapter.logit_vjp(X, np.ones((len(y), 1)))
        assert module.seen and {s[:2] for s in module.seen} == {("highest", False)}
        assert {s[3] for s in module.seen} == {False}  # fused MHA path off
        assert {s[2] for s in module.seen} == {torch.backends.cudnn.enabled}
        assert torch.get_float32_matmul_precision() == "high"
        assert torch.backends.cudnn.allow_tf32
        assert torch.backends.mha.get_fastpath_enabled()
    finally:
        torch.set_float32_matmul_precision("highest")


class _GRUNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(2, 4, batch_first=True)
        self.head = nn.Linear(4, 1)
        self.cudnn = []

    def forward(self, X):
        self.cudnn.append(torch.backends.cudnn.enabled)
        out, _ = self.gru(X.reshape(len(X), 2, 2))
        return self.head(out[:, -1])


def test_recurrent_module_runs_with_cudnn_off():
    X, y = _data(n=60)
    torch.manual_seed(0)
    module = _GRUNet().double()
    adapter = SkorchAdapter(_net(module), X, y, np.ones(len(y)), batch_size=25)
    module.cudnn.clear()
    gd = adapter.grad_dot(np.ones((adapter.n_params, 2)))
    assert np.isfinite(gd).all() and gd.shape == (60, 2)
    H = adapter.to_numpy(adapter.hessian())
    assert_allclose(H, H.T, atol=1e-12)
    assert module.cudnn and not any(module.cudnn)
    assert torch.backends.cudnn.enabled  # restored


class _Attention(nn.Module):
    """A TransformerEncoderLayer over 4 tokens of 2 features, then a head."""

    def __init__(self):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(2, nhead=1, dim_feedforward=8,
                                                dropout=0.1, batch_first=True)
        self.head = nn.Linear(2, 1)

    def forward(self, X):
        return self.head(self.layer(X.reshape(len(X), 4, 2)).mean(1))


def test_transformer_encoder_layer_influence_on_cpu():
    # Failed before: the fused fast path under no_grad has no forward-mode AD
    # and the flash kernel no double backward.
    X, y = _data(n=40, d=8)
    torch.manual_seed(0)
    module = _Attention().double()
    adapter = SkorchAdapter(_net(module), X, y, np.ones(len(y)), batch_size=16)
    U = np.random.default_rng(0).normal(size=(adapter.n_params, 2))
    gd = adapter.grad_dot(U)
    names = [(n, p.shape, p.numel()) for n, p in module.named_parameters()]

    def loss_i(theta, x, yi):
        params, start = {}, 0
        for name, shape, size in names:
            params[name] = theta[start:start + size].view(shape)
            start += size
        out = functional_call(module, params, (x[None],)).reshape(-1)
        return nn.functional.binary_cross_entropy_with_logits(out, yi[None])

    module.eval()
    with sdpa_kernel(SDPBackend.MATH):
        per_sample = vmap(grad(loss_i), in_dims=(None, 0, 0))(
            _flat(module), torch.as_tensor(X), torch.as_tensor(y))
    assert_allclose(gd, per_sample.numpy() @ U, atol=1e-10)
    H = adapter.to_numpy(adapter.hessian())
    assert np.isfinite(H).all()
    assert_allclose(H, H.T, atol=1e-10)


# ------------------------------------------------------ batched autograd
def test_batched_hvp_equals_autograd_hessian_many_columns():
    X, y = _data()
    module = _mlp()
    adapter = SkorchAdapter(_net(module), X, y, np.ones(len(y)), batch_size=37)
    H = _hessian(module, X, y)
    V = torch.randn(adapter.n_params, 16, dtype=torch.float64)
    assert_allclose(adapter.hvp(V).numpy(), (H @ V).numpy(), atol=1e-10)
    U = np.random.default_rng(1).normal(size=(adapter.n_params, 16))
    G = np.random.default_rng(2).normal(size=(len(y), 16))
    # Batched results equal one pass per column.
    columns = np.column_stack([adapter.grad_dot(U[:, [c]]) for c in range(16)])
    assert_allclose(adapter.grad_dot(U), columns, atol=1e-10)
    columns = torch.cat([adapter.logit_vjp(X, G[:, [c]]) for c in range(16)], 1)
    assert_allclose(adapter.logit_vjp(X, G).numpy(), columns.numpy(), atol=1e-10)


def test_batched_grad_equals_loop():
    theta = torch.randn(5, dtype=torch.float64, requires_grad=True)
    out = torch.sin(theta) * theta.sum()
    cot = torch.randn(3, 5, dtype=torch.float64)
    assert_allclose(_batched_grad(out, theta, cot).detach().numpy(),
                    _batched_grad(out, theta, cot, batched=False).detach().numpy(),
                    atol=1e-12)


def test_dense_hessian_never_builds_a_full_identity(monkeypatch):
    X, y = _data()
    module = nn.Sequential(nn.Linear(4, 40), nn.Tanh(), nn.Linear(40, 1)).double()
    adapter = SkorchAdapter(_net(module), X, y, np.ones(len(y)))
    assert adapter.n_params == 241
    sizes, eye = [], torch.eye

    def spy(n, *args, **kwargs):
        sizes.append(n)
        return eye(n, *args, **kwargs)

    monkeypatch.setattr(torch, "eye", spy)
    H = adapter.to_numpy(adapter.hessian())
    assert max(sizes) <= _torch._HESSIAN_CHUNK
    assert_allclose(H, _hessian(module, X, y).numpy(), atol=1e-12)


# ----------------------------------------------------------- host syncs
_SYNCS = ("item", "__bool__", "__float__", "__int__", "tolist", "numpy", "cpu")


@pytest.fixture
def sync_counter(monkeypatch):
    """Count tensor-to-host reads (each would be a device sync on CUDA)."""
    counts = {"n": 0}
    for name in _SYNCS:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, **kwargs):
            counts["n"] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return counts


def _solver_adapter(n=300):
    X, y = _data(n=n)
    net = _net(_mlp(), optimizer__weight_decay=1e-2, max_epochs=40)
    net.fit(X, y)
    adapter = SkorchAdapter(net, X, y, np.ones(n), batch_size=64)
    return adapter, adapter.from_numpy(np.ones((adapter.n_params, 2)))


def test_one_host_read_per_cg_iteration(sync_counter):
    adapter, b = _solver_adapter()
    before = sync_counter["n"]
    adapter.hvp(b)
    assert sync_counter["n"] == before  # none inside an HVP
    solver = CGSolver(tol=1e-10, max_iter=500)
    before = sync_counter["n"]
    solver.solve(adapter, b, damping=0.1)
    syncs = sync_counter["n"] - before
    assert solver.n_iter_ > 5
    assert syncs == solver.n_iter_ + 1  # one convergence check per iteration


def test_cg_curvature_error_is_still_raised(sync_counter):
    adapter, b = _solver_adapter()
    H = adapter.to_numpy(adapter.hessian())
    lowest = np.linalg.eigvalsh(H)[0]
    with pytest.raises(ValueError, match="Increase `damping`"):
        CGSolver().solve(adapter, b, damping=-lowest - 1.0)


def test_lissa_reads_back_once_per_repeat(sync_counter):
    adapter, b = _solver_adapter()
    solver = LissaSolver(depth=50, scale=10.0, repeats=2, batch_size=32,
                         random_state=0)
    seen = []
    hvp = adapter.hvp

    def spy(V, batch=None):
        seen.append(batch)
        return hvp(V, batch=batch)

    adapter.hvp = spy
    before = sync_counter["n"]
    u = solver.solve(adapter, b, damping=0.1)
    syncs = sync_counter["n"] - before
    assert syncs <= 1 + 2 * solver.repeats  # ||b||, then per repeat 2 checks
    assert all(isinstance(s, torch.Tensor) and s.dtype == torch.long for s in seen)
    assert all(len(torch.unique(s)) == 32 for s in seen)  # without replacement
    assert torch.isfinite(u).all()


# ---------------------------------------------------------------- caches
def test_repeated_hvp_on_one_index_array_gathers_once(monkeypatch):
    X, y = _data(n=200)
    adapter = SkorchAdapter(_net(_mlp()), X, y, np.ones(200))
    gathers = []
    gather = adapter._gather
    monkeypatch.setattr(adapter, "_gather", lambda rows: gathers.append(1)
                        or gather(rows))
    idx = np.sort(np.random.default_rng(0).choice(200, 50, replace=False))
    V = torch.randn(adapter.n_params, 2, dtype=torch.float64)
    first = adapter.hvp(V, batch=idx)
    for _ in range(3):
        assert_allclose(adapter.hvp(V, batch=idx).numpy(), first.numpy())
    assert len(gathers) == 1
    idx[0] = 199 if idx[0] != 199 else 0  # changed in place: gathered again
    adapter.hvp(V, batch=idx)
    assert len(gathers) == 2
    sub = SkorchAdapter(adapter.net, X[idx], y[idx], np.ones(50))
    assert_allclose(adapter.hvp(V, batch=idx).numpy(), sub.hvp(V).numpy(),
                    atol=1e-12)


def test_validation_inputs_are_uploaded_once(monkeypatch):
    X, y = _data()
    adapter = SkorchAdapter(_net(_mlp()), X, y, np.ones(len(y)))
    calls = []
    to_tensors = _torch._to_tensors
    monkeypatch.setattr(_torch, "_to_tensors",
                        lambda *a: calls.append(1) or to_tensors(*a))
    X_val = X[:50]
    z = adapter.decision_function(X_val)
    adapter.logit_vjp(X_val, np.ones((50, 2)))
    adapter.decision_function(X_val)
    assert len(calls) == 1
    assert_allclose(adapter.decision_function(X_val.copy()), z)  # new object
    assert len(calls) == 2


# ------------------------------------------------------ sizes and rules
def test_default_hessian_samples_rule():
    assert default_hessian_samples(1_000) is None
    assert default_hessian_samples(4_096) is None
    assert default_hessian_samples(5_000) == 3_000
    assert default_hessian_samples(30_000) == 3_000
    assert default_hessian_samples(50_000) == 5_000
    assert default_hessian_samples(100_000) == 10_000
    assert default_hessian_samples(3_000_000) == 10_000
    X, y = _data(n=300)
    adapter = SkorchAdapter(_net(_mlp()), X, y, np.ones(300))
    assert adapter.default_hessian_samples is None
    assert adapter.hessian_samples is None
    fixed = SkorchAdapter(_net(_mlp()), X, y, np.ones(300), hessian_samples=100)
    assert len(fixed._hessian_data[1]) == 100


def test_cpu_batch_size_default_is_large():
    X, y = _data()
    adapter = SkorchAdapter(_net(_mlp(), batch_size=128), X, y, np.ones(len(y)))
    assert adapter.batch_size == _torch.CPU_BATCH_SIZE
    for explicit in (256, 8192):  # an explicit inference batch is respected
        net = _net(_mlp(), iterator_valid__batch_size=explicit)
        assert SkorchAdapter(net, X, y, np.ones(len(y))).batch_size == explicit
    assert SkorchAdapter(_net(_mlp(), batch_size=-1), X, y,
                         np.ones(len(y))).batch_size is None  # all rows
    assert SkorchAdapter(_net(_mlp()), X, y, np.ones(len(y)),
                         batch_size=16).batch_size == 16


def test_cuda_batch_size_from_free_memory():
    # 1 GiB free, 1 MiB per row, a quarter of it: 256 rows.
    assert _batch_size_for(2**30, 2**20, 0.25, (16, 65536)) == 256
    assert _batch_size_for(2**30, 3 * 2**20, 0.25, (16, 65536)) == 64  # floor 2^k
    assert _batch_size_for(2**40, 1.0, 0.25, (256, 65536)) == 65536
    assert _batch_size_for(0, 1.0, 0.25, (256, 65536)) == 256


def test_two_logit_classifier_dtype_follows_module():
    X, y = _data()
    torch.manual_seed(0)
    net = NeuralNetClassifier(nn.Linear(4, 2).to(torch.bfloat16),
                              criterion=nn.CrossEntropyLoss, max_epochs=1,
                              train_split=None, verbose=0).initialize()
    adapter = SkorchAdapter(net, X, y.astype(int), np.ones(len(y)))
    assert adapter.dtype == torch.float32
    assert np.isfinite(adapter.grad_dot(np.ones((adapter.n_params, 2)))).all()


@pytest.mark.parametrize("api", ["legacy", "new"])
def test_tf32_settings_of_either_torch_api_are_restored(api):
    # torch >= 2.9 raises when a TF32 setting made through one API is read
    # through the other: the adapter must work, and restore, with both.
    X, y = _data()
    adapter = SkorchAdapter(_net(_mlp()), X, y, np.ones(len(y)))
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    try:
        if api == "legacy":
            matmul.allow_tf32, cudnn.allow_tf32 = True, True
        else:
            matmul.fp32_precision, cudnn.fp32_precision = "tf32", "tf32"
        adapter.hvp(torch.ones(adapter.n_params, 1))
        if api == "legacy":
            assert matmul.allow_tf32 and cudnn.allow_tf32
        else:
            assert matmul.fp32_precision == cudnn.fp32_precision == "tf32"
    finally:
        matmul.fp32_precision, cudnn.fp32_precision = "ieee", "ieee"
        matmul.allow_tf32, cudnn.allow_tf32 = False, True
