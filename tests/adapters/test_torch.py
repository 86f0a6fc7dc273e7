"""The skorch/torch adapter: HVPs, JVP influences, solvers, weighted refit.

Exactness checks run in float64 on tiny networks against brute-force autograd
(dense Hessians, per-sample gradients by ``vmap(grad)``); the influence is
checked against actual retraining in a slow test.
"""

import copy
import pickle
import subprocess
import sys

import joblib
import numpy as np
import pytest
from scipy import sparse

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from numpy.testing import assert_allclose, assert_array_equal  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402
from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier  # noqa: E402
from skorch.callbacks import Callback, EpochScoring  # noqa: E402
from skorch.dataset import ValidSplit  # noqa: E402
from skorch.helper import SliceDict  # noqa: E402
from torch import nn  # noqa: E402
from torch.func import functional_call, grad, vmap  # noqa: E402

from sklearn_fairif import FairIFClassifier  # noqa: E402
from sklearn_fairif._objectives import FairnessConstraints  # noqa: E402
from sklearn_fairif.adapters import get_adapter_class  # noqa: E402
from sklearn_fairif.adapters._torch import SkorchAdapter  # noqa: E402
from sklearn_fairif.influence import (  # noqa: E402
    CGSolver,
    ExactSolver,
    LissaSolver,
    influence_dot,
    influence_scores,
)
from sklearn_fairif.metrics import average_odds_difference  # noqa: E402

CUDA = torch.cuda.is_available()
gpu = [pytest.mark.gpu, pytest.mark.skipif(not CUDA, reason="needs CUDA")]


pytestmark = pytest.mark.usefixtures("one_thread")


# ------------------------------------------------------------------ helpers
def _data(n=120, d=4, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] - 0.5 * X[:, 1] + rng.normal(size=n) > 0).astype(int)
    return X.astype(dtype), y


def _mlp(d, out, hidden=5, act=nn.Tanh, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, hidden), act(), nn.Linear(hidden, out)).to(dtype)


def _net(head, module, **kw):
    """A small full-batch net. head: 'binary' (1 logit) or 'two' (2 logits)."""
    params = dict(max_epochs=30, lr=0.3, batch_size=-1, train_split=None,
                  verbose=0)
    params.update(kw)
    if head == "binary":
        return NeuralNetBinaryClassifier(module, **params)
    params.setdefault("criterion", nn.CrossEntropyLoss)
    return NeuralNetClassifier(module, **params)


def _targets(head, y):
    return y.astype(np.float64) if head == "binary" else y.astype(np.int64)


def _fitted(head, n=120, d=4, weights=None, seed=0, **kw):
    X, y = _data(n, d, seed)
    yt = _targets(head, y)
    w = np.ones(n) if weights is None else weights
    out = 1 if head == "binary" else 2
    net = SkorchAdapter.fit(_net(head, _mlp(d, out), **kw), X, yt, w)
    return net, X, yt, w


def _flat_params(module):
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()])


def _unflatten(module, theta):
    out, start = {}, 0
    for name, p in module.named_parameters():
        out[name] = theta[start:start + p.numel()].view(p.shape)
        start += p.numel()
    return out


def _per_sample_loss(head, out, y):
    """Reference per-sample losses, written out independently of the adapter."""
    if head == "binary":
        return nn.functional.binary_cross_entropy_with_logits(
            out.reshape(-1), y, reduction="none")
    return nn.functional.cross_entropy(out, y, reduction="none")


def _reference_objective(head, module, X, y, w, wd):
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    w = torch.as_tensor(w)

    def objective(theta):
        out = functional_call(module, _unflatten(module, theta), (X,))
        return (w * _per_sample_loss(head, out, y)).mean() + wd / 2 * (theta**2).sum()

    return objective


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# ------------------------------------------------------- exactness checks
@pytest.mark.parametrize("head", ["binary", "two"])
def test_hvp_and_hessian_equal_autograd_hessian(head):
    rng = np.random.default_rng(1)
    w = rng.uniform(0.2, 2.0, 120)
    net, X, y, w = _fitted(head, weights=w)
    adapter = SkorchAdapter(net, X, y, w, batch_size=37)  # uneven batches
    objective = _reference_objective(head, net.module_, X, y, w, wd=0.0)
    H = torch.autograd.functional.hessian(objective, _flat_params(net.module_))
    V = torch.as_tensor(rng.normal(size=(adapter.n_params, 3)))
    assert_allclose(adapter.hvp(V).numpy(), (H @ V).numpy(), atol=1e-12)
    assert_allclose(adapter.hessian().numpy(), H.numpy(), atol=1e-12)
    assert adapter.n_params == H.shape[0] and adapter.n_samples == len(y)


def test_weight_decay_is_in_the_hessian():
    wd = 0.05
    net, X, y, w = _fitted("binary", optimizer=torch.optim.SGD,
                           optimizer__weight_decay=wd)
    adapter = SkorchAdapter(net, X, y, w)
    theta = _flat_params(net.module_)
    H = torch.autograd.functional.hessian(
        _reference_objective("binary", net.module_, X, y, w, wd=wd), theta)
    H0 = torch.autograd.functional.hessian(
        _reference_objective("binary", net.module_, X, y, w, wd=0.0), theta)
    assert_allclose(adapter.hessian().numpy(), H.numpy(), atol=1e-12)
    assert_allclose((H - H0).numpy(), wd * np.eye(len(theta)), atol=1e-12)


def test_weight_decay_per_parameter_group():
    # No decay on biases, a common set-up: only the weights get wd * I.
    def groups(module):
        return [{"params": [p for n, p in module.named_parameters() if "bias" in n],
                 "weight_decay": 0.0},
                {"params": [p for n, p in module.named_parameters() if "weight" in n],
                 "weight_decay": 0.1}]

    class Net(NeuralNetBinaryClassifier):
        def initialize_optimizer(self, *args, **kwargs):
            self.optimizer_ = torch.optim.SGD(groups(self.module_), lr=self.lr)
            return self

    X, y = _data()
    net = Net(_mlp(4, 1), max_epochs=2, batch_size=-1, train_split=None, verbose=0)
    net.fit(X, y.astype(float))
    adapter = SkorchAdapter(net, X, y.astype(float), np.ones(len(y)))
    expected = np.concatenate([
        np.full(p.numel(), 0.0 if "bias" in n else 0.1)
        for n, p in net.module_.named_parameters()
    ])
    assert_allclose(adapter._wd.numpy(), expected)


@pytest.mark.parametrize("head", ["binary", "two"])
def test_grad_dot_equals_per_sample_gradients(head):
    # The adapter is built with non-unit weights, which must NOT enter grad_dot.
    rng = np.random.default_rng(2)
    net, X, y, w = _fitted(head, weights=rng.uniform(0.5, 2.0, 120))
    adapter = SkorchAdapter(net, X, y, w, batch_size=50)
    module, theta = net.module_, _flat_params(net.module_)

    def loss_i(t, x, yi):
        out = functional_call(module, _unflatten(module, t), (x[None],))
        return _per_sample_loss(head, out, yi[None])[0]

    per_sample = vmap(grad(loss_i), in_dims=(None, 0, 0))(
        theta, torch.as_tensor(X), torch.as_tensor(y))
    U = rng.normal(size=(adapter.n_params, 2))
    assert_allclose(adapter.grad_dot(U), per_sample.numpy() @ U, atol=1e-12)


@pytest.mark.parametrize("head", ["binary", "two"])
def test_margins_and_constraint_gradients(head):
    net, X, y, w = _fitted(head)
    adapter = SkorchAdapter(net, X, y, w, batch_size=33)
    z = adapter.decision_function(X)
    assert isinstance(z, np.ndarray) and z.shape == (len(y),)
    # z is the positive class's logit: sigmoid(z) is predict_proba[:, 1].
    assert_allclose(1 / (1 + np.exp(-z)), net.predict_proba(X)[:, 1], atol=1e-12)
    module, theta = net.module_, _flat_params(net.module_)

    def margins(t):
        out = functional_call(module, _unflatten(module, t), (torch.as_tensor(X),))
        return out.reshape(-1) if head == "binary" else out[:, 1] - out[:, 0]

    J = torch.autograd.functional.jacobian(margins, theta)
    G = np.random.default_rng(3).normal(size=(len(y), 2))
    got = adapter.logit_vjp(X, G)
    assert isinstance(got, torch.Tensor) and got.shape == (adapter.n_params, 2)
    assert_allclose(got.numpy(), J.T.numpy() @ G, atol=1e-12)


def test_class_weighted_criterion_is_part_of_ell_i():
    # class weights live in ell_i (grad_dot and Hessian), like LogisticRegression's
    # class_weight, and the weighted refit normalises by the batch size.
    X, y = _data()
    cw = torch.tensor([1.0, 3.0], dtype=torch.float64)
    net = _net("two", _mlp(4, 2), criterion=nn.CrossEntropyLoss,
               criterion__weight=cw, max_epochs=10)
    net = SkorchAdapter.fit(net, X, y, np.ones(len(y)))
    adapter = SkorchAdapter(net, X, y, np.ones(len(y)))
    module, theta = net.module_, _flat_params(net.module_)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)

    def objective(t):
        out = functional_call(module, _unflatten(module, t), (Xt,))
        return nn.functional.cross_entropy(out, yt, weight=cw,
                                           reduction="none").mean()

    H = torch.autograd.functional.hessian(objective, theta)
    assert_allclose(adapter.hessian().numpy(), H.numpy(), atol=1e-12)
    u = np.random.default_rng(0).normal(size=(adapter.n_params, 1))

    def loss_i(t, x, yi):
        out = functional_call(module, _unflatten(module, t), (x[None],))
        return nn.functional.cross_entropy(out, yi[None], weight=cw)

    per_sample = vmap(grad(loss_i), in_dims=(None, 0, 0))(theta, Xt, yt)
    # cross_entropy's "mean" of one weighted sample divides by its weight.
    per_sample = per_sample * cw[yt][:, None]
    assert_allclose(adapter.grad_dot(u), per_sample.numpy() @ u, atol=1e-12)


def test_probability_heads_nllloss_and_bceloss():
    X, y = _data()
    torch.manual_seed(0)
    soft = nn.Sequential(_mlp(4, 2), nn.Softmax(dim=-1))
    net = NeuralNetClassifier(soft, max_epochs=5, batch_size=-1, train_split=None,
                              verbose=0)  # skorch's default NLLLoss
    net = SkorchAdapter.fit(net, X, y, np.ones(len(y)))
    adapter = SkorchAdapter(net, X, y, np.ones(len(y)))
    p = net.predict_proba(X)
    assert_allclose(adapter.decision_function(X), np.log(p[:, 1] / p[:, 0]),
                    rtol=1e-6)
    sig = nn.Sequential(_mlp(4, 1), nn.Sigmoid())
    net = NeuralNetBinaryClassifier(sig, criterion=nn.BCELoss, max_epochs=5,
                                    batch_size=-1, train_split=None, verbose=0)
    net = SkorchAdapter.fit(net, X, y.astype(float), np.ones(len(y)))
    adapter = SkorchAdapter(net, X, y.astype(float), np.ones(len(y)))
    p1 = net.predict_proba(X)[:, 1]
    assert_allclose(adapter.decision_function(X), np.log(p1 / (1 - p1)), rtol=1e-6)
    assert np.isfinite(adapter.grad_dot(np.ones((adapter.n_params, 1)))).all()


def test_eval_mode_dropout_and_batchnorm():
    X, y = _data(n=200)
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(),
                           nn.Dropout(0.5), nn.Linear(8, 1)).double()
    net = _net("binary", module, max_epochs=5)
    net = SkorchAdapter.fit(net, X, y.astype(float), np.ones(len(y)))
    net.module_.train()
    adapter = SkorchAdapter(net, X, y.astype(float), np.ones(len(y)), batch_size=64)
    z1, z2 = adapter.decision_function(X), adapter.decision_function(X)
    assert_allclose(z1, z2)  # dropout off, running statistics used
    U = np.ones((adapter.n_params, 1))
    assert_allclose(adapter.grad_dot(U), adapter.grad_dot(U))
    assert net.module_.training  # the module's mode is restored


# ------------------------------------------------- grad_dot in joblib blocks
def _dropout_batchnorm_net(n=200, dtype=torch.float64):
    X, y = _data(n=n)
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(),
                           nn.Dropout(0.5), nn.Linear(8, 1)).to(dtype)
    net = _net("binary", module, max_epochs=5)
    net = SkorchAdapter.fit(net, X.astype(np.float32) if dtype == torch.float32
                            else X, y.astype(float), np.ones(n))
    net.module_.train()
    return net, X, y.astype(float)


@pytest.mark.parametrize("backend", [
    "threading",
    # Each loky worker imports torch first: 10-15 s on a shared 2-core machine.
    pytest.param("loky", marks=pytest.mark.slow),
])
def test_grad_dot_blocks_equal_the_single_pass(backend):
    net, X, y = _dropout_batchnorm_net()
    adapter = SkorchAdapter(net, X, y, np.ones(len(y)), batch_size=32)
    U = np.random.default_rng(0).normal(size=(adapter.n_params, 2))
    serial = adapter.grad_dot(U)
    with joblib.parallel_config(backend=backend):
        parallel = influence_dot(adapter, U, n_jobs=2)
    assert_allclose(parallel, serial, rtol=1e-12, atol=0)
    # Dropout was off in the workers, and the caller's state is restored.
    assert net.module_.training
    assert torch.backends.mha.get_fastpath_enabled()


def test_grad_dot_blocks_are_whole_batches_and_equal_in_float32():
    net, X, y = _dropout_batchnorm_net(dtype=torch.float32)
    adapter = SkorchAdapter(net, X, y, np.ones(len(y)), batch_size=32)
    row_tasks = adapter.influence_dot_tasks(np.ones((adapter.n_params, 1)), 3)
    sizes = [args[2].shape[0] for _, args in row_tasks.tasks]
    assert sizes == [64, 64, 72]  # 7 batches of 32 rows (the last one short)
    # Rows of their own: pickling a view would ship the whole storage.
    assert all(args[1].untyped_storage().nbytes() == args[1].nbytes
               for _, args in row_tasks.tasks)
    U = np.random.default_rng(1).normal(size=(adapter.n_params, 2))
    with joblib.parallel_config(backend="threading"):
        parallel = influence_dot(adapter, U, n_jobs=3)
    # The very batches of the single pass: the same float32 rounding.
    assert_array_equal(parallel, adapter.grad_dot(U))


def test_grad_dot_blocks_with_dict_inputs():
    X, y = _data(n=90)
    Xd = SliceDict(num=X[:, :3], extra=X[:, 3:])

    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.num, self.extra = nn.Linear(3, 4), nn.Linear(1, 4)
            self.out = nn.Linear(4, 1)

        def forward(self, num, extra):
            return self.out(torch.tanh(self.num(num) + self.extra(extra)))

    torch.manual_seed(0)
    net = SkorchAdapter.fit(_net("binary", TwoInputs().double(), max_epochs=3),
                            Xd, y.astype(float), np.ones(90))
    adapter = SkorchAdapter(net, Xd, y.astype(float), np.ones(90), batch_size=20)
    U = np.random.default_rng(2).normal(size=(adapter.n_params, 2))
    with joblib.parallel_config(backend="threading"):
        parallel = influence_dot(adapter, U, n_jobs=2)
    assert_allclose(parallel, adapter.grad_dot(U), rtol=1e-12, atol=0)


def test_an_accelerator_keeps_its_single_pass():
    net, X, y = _dropout_batchnorm_net(n=64)
    adapter = SkorchAdapter(net, X, y, np.ones(len(y)), batch_size=16)
    U = np.ones((adapter.n_params, 1))
    assert len(adapter.influence_dot_tasks(U, 2).tasks) == 2
    adapter.device = torch.device("cuda")  # only its type is read
    assert adapter.influence_dot_tasks(U, 2) is None


# ---------------------------------------------------------------- solvers
@pytest.fixture(scope="module")
def solver_problem():
    net, X, y, w = _fitted("binary", n=200, max_epochs=60,
                           optimizer__weight_decay=1e-2)
    adapter = SkorchAdapter(net, X, y, w)
    b = adapter.from_numpy(np.random.default_rng(4).normal(size=(adapter.n_params, 2)))
    damping = 0.05
    exact = adapter.to_numpy(ExactSolver().solve(adapter, b, damping))
    return adapter, b, damping, exact


def test_cg_agrees_with_exact(solver_problem):
    adapter, b, damping, exact = solver_problem
    solver = CGSolver(tol=1e-10, max_iter=500)
    u = solver.solve(adapter, b, damping)
    assert isinstance(u, torch.Tensor)
    err = _rel(adapter.to_numpy(u), exact)
    print(f"CG relative error vs exact: {err:.2e} ({solver.n_iter_} iterations)")
    assert err < 1e-6


def test_lissa_agrees_with_exact(solver_problem):
    adapter, b, damping, exact = solver_problem
    full = LissaSolver(depth=500, batch_size=None, random_state=0)
    err_full = _rel(adapter.to_numpy(full.solve(adapter, b, damping)), exact)
    stochastic = LissaSolver(depth=400, repeats=2, batch_size=50, random_state=0)
    err_sto = _rel(adapter.to_numpy(stochastic.solve(adapter, b, damping)), exact)
    print(f"LiSSA relative error vs exact: full batch {err_full:.2e}, "
          f"mini-batches of 50 rows x {stochastic.repeats} repeats {err_sto:.2e}")
    assert err_full < 1e-3
    assert err_sto < 0.15


def test_lissa_divergence_is_detected(solver_problem):
    adapter, b, damping, _ = solver_problem
    with pytest.raises(FloatingPointError, match="Increase `scale`"):
        LissaSolver(depth=300, scale=1e-3, batch_size=None).solve(adapter, b,
                                                                  damping)


def test_cg_reports_negative_curvature():
    # An undertrained ReLU net has negative curvature: CG says what to change.
    net, X, y, w = _fitted("binary", n=200, max_epochs=3)
    adapter = SkorchAdapter(net, X, y, w)
    H = adapter.to_numpy(adapter.hessian())
    b = adapter.from_numpy(np.linalg.eigh(H)[1][:, :1])  # the lowest eigenvector
    if np.linalg.eigvalsh(H)[0] >= 0:
        pytest.skip("this net happens to be convex")
    with pytest.raises(ValueError, match="Increase `damping`"):
        CGSolver().solve(adapter, b, damping=0.0)


# ------------------------------------------------------ influence_params
class _HeadFirst(nn.Module):
    """Registers its head before its body: execution order must win."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(6, 1)
        self.body = nn.Linear(4, 6)

    def forward(self, X):
        return self.head(torch.tanh(self.body(X)))


def test_influence_params_last_layer_and_names():
    X, y = _data()
    torch.manual_seed(0)
    net = _net("binary", _HeadFirst().double(), max_epochs=5)
    net = SkorchAdapter.fit(net, X, y.astype(float), np.ones(len(y)))
    yt = y.astype(float)
    last = SkorchAdapter(net, X, yt, np.ones(len(y)), influence_params="last_layer")
    assert last.param_names == ["head.weight", "head.bias"] and last.n_params == 7
    named = SkorchAdapter(net, X, yt, np.ones(len(y)), influence_params=["body.bias"])
    assert named.param_names == ["body.bias"] and named.n_params == 6
    full = SkorchAdapter(net, X, yt, np.ones(len(y)))
    assert full.n_params == 37
    # The last-layer Hessian is the matching block of the full one.
    H = full.to_numpy(full.hessian())
    assert_allclose(last.to_numpy(last.hessian()), H[:7, :7], atol=1e-12)
    with pytest.raises(ValueError, match="Unknown parameter names"):
        SkorchAdapter(net, X, yt, np.ones(len(y)), influence_params=["nope"])


def test_transposed_hooks_are_the_transposes():
    X, y = _data()
    torch.manual_seed(0)
    net = _net("binary", _HeadFirst().double(), max_epochs=5)
    net = SkorchAdapter.fit(net, X, y.astype(float), np.ones(len(y)))
    adapter = SkorchAdapter(net, X, y.astype(float), np.ones(len(y)),
                            batch_size=7)  # several batches
    rng = np.random.default_rng(0)
    U = rng.standard_normal((adapter.n_params, 3))
    D = rng.standard_normal((len(y), 4))
    got = adapter.to_numpy(adapter.influence_dot_t(D))
    assert got.shape == (adapter.n_params, 4)
    assert_allclose(got.T @ U, D.T @ adapter.grad_dot(U), rtol=1e-10, atol=1e-12)
    # A sparse D passes over its rows only, with the dense D's result.
    D[[0, 3, 4, 11, 12, 13, 14, 15, 16, 17]] = 0.0
    sparse_got = adapter.influence_dot_t(sparse.csc_array(D))
    assert_allclose(adapter.to_numpy(sparse_got),
                    adapter.to_numpy(adapter.influence_dot_t(D)), rtol=1e-10,
                    atol=1e-12)
    # logit_jvp is likewise the transpose of logit_vjp.
    G = rng.standard_normal((len(y), 2))
    jvp = adapter.logit_jvp(X, U)
    assert jvp.shape == (len(y), 3)
    assert_allclose(G.T @ jvp, adapter.to_numpy(adapter.logit_vjp(X, G)).T @ U,
                    rtol=1e-10, atol=1e-12)


def test_default_solver_is_exact_for_small_parameter_sets():
    X, y = _data()
    net = SkorchAdapter.fit(_net("binary", _HeadFirst().double(), max_epochs=2),
                            X, y.astype(float), np.ones(len(y)))
    assert SkorchAdapter(net, X, y.astype(float), np.ones(len(y))).default_solver \
        == "exact"  # 37 parameters
    wide = SkorchAdapter.fit(_net("binary", _mlp(4, 1, hidden=300), max_epochs=1), X,
                             y.astype(float), np.ones(len(y)))
    adapter = SkorchAdapter(wide, X, y.astype(float), np.ones(len(y)))
    assert adapter.n_params > 1024 and adapter.default_solver == "cg"


def test_frozen_parameters_are_left_out():
    X, y = _data()
    module = _mlp(4, 1)
    module[0].weight.requires_grad_(False)
    net = SkorchAdapter.fit(_net("binary", module, max_epochs=3), X,
                            y.astype(float), np.ones(len(y)))
    adapter = SkorchAdapter(net, X, y.astype(float), np.ones(len(y)))
    assert adapter.param_names == ["0.bias", "2.weight", "2.bias"]


def test_hessian_samples_subset():
    net, X, y, w = _fitted("binary", n=300)
    sub = SkorchAdapter(net, X, y, w, hessian_samples=100, random_state=0)
    rows = np.sort(np.random.default_rng(0).choice(300, 100, replace=False))
    ref = SkorchAdapter(net, X[rows], y[rows], w[rows])
    assert_allclose(sub.hessian().numpy(), ref.hessian().numpy(), atol=1e-12)
    assert sub.grad_dot(np.ones((sub.n_params, 1))).shape == (300, 1)


# --------------------------------------------------------- weighted refit
def _explicit_loop(head, module, X, y, w, epochs, lr, wd):
    """Plain torch: full-batch SGD on sum_i w_i ell_i / n."""
    module = copy.deepcopy(module)
    opt = torch.optim.SGD(module.parameters(), lr=lr, weight_decay=wd)
    X, y, w = torch.as_tensor(X), torch.as_tensor(y), torch.as_tensor(w)
    for _ in range(epochs):
        opt.zero_grad()
        loss = (w * _per_sample_loss(head, module(X), y)).sum() / len(w)
        loss.backward()
        opt.step()
    return module


@pytest.mark.parametrize("head", ["binary", "two"])
def test_weighted_refit_equals_explicit_weighted_loop(head):
    X, y = _data(n=150)
    y = _targets(head, y)
    w = np.random.default_rng(5).uniform(0, 3, len(y))
    module = _mlp(4, 1 if head == "binary" else 2)
    net = _net(head, module, max_epochs=25, lr=0.2, optimizer__weight_decay=0.01)
    fitted = SkorchAdapter.fit(net, X, y, w)
    expected = _explicit_loop(head, module, X, y, w, 25, 0.2, 0.01)
    assert_allclose(_flat_params(fitted.module_), _flat_params(expected),
                    rtol=1e-10, atol=1e-12)
    # The user's net and module are untouched; the fitted net is of their class.
    assert not hasattr(net, "module_")
    fresh = _mlp(4, module[-1].out_features)
    assert_allclose(_flat_params(module), _flat_params(fresh))
    assert type(fitted) is type(net)
    unweighted = SkorchAdapter.fit(net, X, y, np.ones(len(y)))
    assert not np.allclose(_flat_params(fitted.module_),
                           _flat_params(unweighted.module_))


class _XOnly(nn.Module):
    """A module whose forward takes exactly one input: weights must not leak."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 1)

    def forward(self, X):
        return self.lin(X)


def test_weighted_refit_with_train_split_callbacks_and_pickle():
    X, y = _data(n=200, dtype=np.float32)
    net = NeuralNetBinaryClassifier(
        _XOnly, max_epochs=3, batch_size=32, verbose=0,
        train_split=ValidSplit(4, stratified=True),
        callbacks=[EpochScoring("roc_auc", lower_is_better=False)],
    )
    w = np.random.default_rng(0).uniform(0, 2, len(y))
    fitted = SkorchAdapter.fit(net, X, y.astype(np.float32), w)
    assert {"valid_loss", "valid_acc", "roc_auc"} <= set(fitted.history[-1])
    assert type(fitted) is NeuralNetBinaryClassifier
    again = pickle.loads(pickle.dumps(fitted))
    assert_allclose(again.predict_proba(X), fitted.predict_proba(X))


def test_weighted_refit_with_dict_inputs():
    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(3, 2), nn.Linear(1, 2)

        def forward(self, num, extra):
            return self.a(num) + self.b(extra)

    X, y = _data(n=100)
    Xd = SliceDict(num=X[:, :3], extra=X[:, 3:])
    torch.manual_seed(0)
    net = _net("two", TwoInputs().double(), max_epochs=5)
    w = np.random.default_rng(0).uniform(0, 2, len(y))
    fitted = SkorchAdapter.fit(net, Xd, y, w)
    adapter = SkorchAdapter(fitted, Xd, y, w, batch_size=30)
    p = fitted.predict_proba(Xd)
    assert_allclose(adapter.decision_function(Xd), np.log(p[:, 1] / p[:, 0]),
                    rtol=1e-8)
    assert adapter.grad_dot(np.ones((adapter.n_params, 1))).shape == (100, 1)


# --------------------------------------------------- pretrained / same start
_STARTS = []


class _RecordStart(Callback):
    """Record the module's weights when training begins (a global survives
    the deep copy that ``clone`` makes of callbacks)."""

    def on_train_begin(self, net, **kwargs):
        _STARTS.append(_flat_params(net.module_).clone())


def test_pretrained_module_is_the_start_of_both_stages(biased_split):
    X, y, X_val, y_val, s_val = biased_split[:5]
    pretrained = _mlp(5, 1, hidden=8, seed=123)
    # "Pretrain" on another task: labels from another direction.
    opt = torch.optim.SGD(pretrained.parameters(), lr=0.5)
    Xt = torch.as_tensor(X)
    for _ in range(50):
        opt.zero_grad()
        nn.functional.binary_cross_entropy_with_logits(
            pretrained(Xt).reshape(-1), (Xt[:, 2] > 0).double()).backward()
        opt.step()
    before = _flat_params(pretrained).clone()
    _STARTS.clear()
    net = _net("binary", pretrained, max_epochs=5, lr=0.1,
               callbacks=[_RecordStart()])
    clf = FairIFClassifier(net, damping=1.0, random_state=0).fit(
        X, y.astype(float), X_val=X_val, y_val=y_val, s_val=s_val)
    assert len(_STARTS) == 2  # stage 1 and stage 2
    for start in _STARTS:
        assert_allclose(start, before)
    assert_allclose(_flat_params(pretrained), before)  # the user's copy intact
    assert not np.allclose(_flat_params(clf.estimator_.module_), before)


def test_initialised_net_weights_are_the_start():
    # skorch's way to load pretrained weights: initialize() then load_params.
    X, y = _data()
    net = _net("binary", nn.Linear, module__in_features=4, module__out_features=1,
               module__dtype=torch.float64, max_epochs=0)
    net.initialize()
    with torch.no_grad():
        net.module_.weight.fill_(0.25)
    fitted = SkorchAdapter.fit(net, X, y.astype(float), np.ones(len(y)))
    assert_allclose(fitted.module_.weight.detach(), np.full((1, 4), 0.25))


def test_random_init_is_the_same_in_both_stages(biased_split):
    X, y, X_val, y_val, s_val = biased_split[:5]
    _STARTS.clear()
    net = _net("binary", nn.Linear, module__in_features=5, module__out_features=1,
               module__dtype=torch.float64, max_epochs=3,
               callbacks=[_RecordStart()])
    FairIFClassifier(net, damping=0.1).fit(
        X, y.astype(float), X_val=X_val, y_val=y_val, s_val=s_val)
    assert len(_STARTS) == 2
    assert_allclose(_STARTS[0], _STARTS[1])
    # The refit restarts torch's stream without consuming the caller's.
    state = torch.get_rng_state()
    SkorchAdapter.fit(net, X, y.astype(float), np.ones(len(y)))
    assert torch.equal(torch.get_rng_state(), state)


# ------------------------------------------------------------- end to end
def _mlp_net(**kw):
    params = dict(max_epochs=60, batch_size=128, train_split=None, verbose=0,
                  optimizer=torch.optim.Adam, optimizer__lr=0.01,
                  optimizer__weight_decay=1e-3)
    params.update(kw)
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 1))
    return NeuralNetBinaryClassifier(module, **params)


@pytest.mark.parametrize("solver", ["cg", "lissa"])
def test_fairif_with_mlp_lowers_test_aod(biased_split, solver):
    X, y, X_val, y_val, s_val, X_test, y_test, s_test = biased_split
    X, X_val, X_test = (a.astype(np.float32) for a in (X, X_val, X_test))
    clf = FairIFClassifier(_mlp_net(), solver=solver, alpha=0.01, damping=0.1,
                           random_state=0)
    clf.fit(X, y.astype(np.float32), X_val=X_val, y_val=y_val, s_val=s_val)
    aod_before = average_odds_difference(
        y_test, clf.initial_estimator_.predict(X_test), sensitive_features=s_test)
    aod_after = average_odds_difference(
        y_test, clf.predict(X_test), sensitive_features=s_test)
    print(f"{solver}: test AOD {aod_before:.3f} -> {aod_after:.3f}")
    assert aod_after < 0.5 * aod_before
    assert clf.influence_.shape == (len(y), 2)


def test_fairif_two_logit_head_last_layer_exact(biased_split):
    X, y, X_val, y_val, s_val, X_test, y_test, s_test = biased_split
    X, X_val, X_test = (a.astype(np.float32) for a in (X, X_val, X_test))
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 2))
    net = NeuralNetClassifier(module, criterion=nn.CrossEntropyLoss, max_epochs=60,
                              batch_size=128, train_split=None, verbose=0,
                              optimizer=torch.optim.Adam, optimizer__lr=0.01)
    clf = FairIFClassifier(net, solver="exact", influence_params="last_layer",
                           damping=0.01, random_state=0)
    clf.fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val)
    aod_before = average_odds_difference(
        y_test, clf.initial_estimator_.predict(X_test), sensitive_features=s_test)
    aod_after = average_odds_difference(
        y_test, clf.predict(X_test), sensitive_features=s_test)
    assert aod_after < aod_before
    assert set(np.unique(clf.predict(X_test))) <= {0, 1}


def test_verbose_shows_progress(biased_split, capsys):
    X, y, X_val, y_val, s_val = biased_split[:5]
    net = _net("binary", nn.Linear, module__in_features=5, module__out_features=1,
               module__dtype=torch.float64, max_epochs=2, batch_size=256)
    FairIFClassifier(net, damping=0.1, verbose=2).fit(
        X, y.astype(float), X_val=X_val, y_val=y_val, s_val=s_val)
    err = capsys.readouterr().err
    assert "influence" in err


# ----------------------------------------------------------------- errors
def test_unsupported_criterion_and_heads():
    with pytest.raises(ValueError, match="criterion=BCEWithLogitsLoss or BCELoss"):
        get_adapter_class(NeuralNetBinaryClassifier(nn.Linear, criterion=nn.MSELoss))
    with pytest.raises(ValueError, match="CrossEntropyLoss or NLLLoss"):
        get_adapter_class(
            NeuralNetClassifier(nn.Linear, criterion=nn.BCEWithLogitsLoss()))
    assert get_adapter_class(NeuralNetClassifier(nn.Linear)) is SkorchAdapter
    X, y = _data()
    net = _net("two", _mlp(4, 3), max_epochs=1)
    net.fit(X, y)
    with pytest.raises(ValueError, match="binary head"):
        SkorchAdapter(net, X, y, np.ones(len(y)))


_BLOCK_TORCH = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "skorch"):
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, Block())
"""


def test_import_never_imports_torch():
    # A normal import leaves torch unimported.
    code = ("import sys, sklearn_fairif, sklearn_fairif.adapters\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    # Without torch and skorch, the package imports and linear models work.
    # (Torch is made uninstallable by an import hook: the issue's
    # sys.modules["torch"] = None breaks ``import sklearn`` itself, whose SciPy
    # array-API helpers look torch up in sys.modules and find None.)
    code = _BLOCK_TORCH + (
        "from sklearn.datasets import make_classification\n"
        "import sklearn_fairif.adapters, sklearn_fairif.influence\n"
        "from sklearn_fairif import FairIFClassifier\n"
        "X, y = make_classification(random_state=0)\n"
        "s = (X[:60, 0] > 0).astype(int)\n"
        "FairIFClassifier().fit(X, y, X_val=X[:60], y_val=y[:60], s_val=s)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------- influence vs retraining
class _LBFGSWithDecay(torch.optim.LBFGS):
    """LBFGS on loss + weight_decay/2 ||theta||^2 (torch's LBFGS has none).

    Stores ``weight_decay`` in its parameter group, where the adapter reads it.
    """

    def __init__(self, params, weight_decay=0.0, **kwargs):
        super().__init__(params, **kwargs)
        self.param_groups[0]["weight_decay"] = weight_decay

    def step(self, closure):
        group = self.param_groups[0]

        def penalised():
            loss = closure()
            with torch.no_grad():
                for p in group["params"]:
                    loss = loss + group["weight_decay"] / 2 * (p * p).sum()
                    p.grad.add_(p, alpha=group["weight_decay"])
            return loss

        return super().step(penalised)


@pytest.mark.slow
def test_influence_predicts_retrained_gap_changes():
    rng = np.random.default_rng(3)
    s = (rng.random(1000) < 0.3).astype(int)
    X = rng.normal(size=(1000, 5))
    X[:, 0] += s
    logit = 1.5 * X[:, 1] + 0.5 * X[:, 2] - 2.0 * s * X[:, 1] + 0.5 * s
    y = (rng.random(1000) < 1 / (1 + np.exp(-logit))).astype(int)
    X_tr, y_tr, s_tr = X[:500], y[:500].astype(float), s[:500]
    X_val, y_val, s_val = X[500:], y[500:], s[500:]
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 1)).double()
    net = NeuralNetBinaryClassifier(
        module, optimizer=_LBFGSWithDecay, optimizer__weight_decay=1e-2, lr=1.0,
        optimizer__max_iter=3000, optimizer__tolerance_grad=1e-10,
        optimizer__tolerance_change=0.0, optimizer__history_size=50,
        max_epochs=1, batch_size=-1, train_split=None, verbose=0,
    )
    cons = FairnessConstraints("equalized_odds", y_val, s_val)
    base = SkorchAdapter.fit(net, X_tr, y_tr, np.ones(len(y_tr)))
    adapter = SkorchAdapter(base, X_tr, y_tr, np.ones(len(y_tr)))
    influence, gaps = influence_scores(adapter, cons, X_val, ExactSolver())
    cells = 2 * s_tr + y_tr.astype(int)
    predicted, actual = [], []
    for _ in range(20):
        w = (1 + rng.uniform(-0.3, 0.3, 4))[cells]
        refit = SkorchAdapter.fit(net, X_tr, y_tr, w)
        z = SkorchAdapter(refit, X_tr, y_tr, w).decision_function(X_val)
        predicted.append((w - 1) @ influence)
        actual.append(cons.values(z) - gaps)
    predicted, actual = np.array(predicted), np.array(actual)
    for c in range(2):
        rho = spearmanr(predicted[:, c], actual[:, c]).statistic
        print(f"constraint {c}: Spearman {rho:.3f} over 20 group-wise reweightings")
        assert rho >= 0.8


# -------------------------------------------------------------------- GPU
@pytest.fixture
def cuda_problem():
    net, X, y, w = _fitted("binary", n=300, device="cuda", max_epochs=40,
                           optimizer__weight_decay=1e-2)
    return net, X, y, w


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs CUDA")
def test_gpu_adapter_matches_autograd_and_stays_on_device(cuda_problem):
    net, X, y, w = cuda_problem
    adapter = SkorchAdapter(net, X, y, w, batch_size=64)
    assert adapter.device.type == "cuda"
    module = net.module_
    objective = _reference_objective_cuda(module, X, y, w, wd=1e-2)
    H = torch.autograd.functional.hessian(objective, _flat_params(module))
    V = torch.randn(adapter.n_params, 2, dtype=torch.float64, device="cuda")
    HV = adapter.hvp(V)
    assert HV.device.type == "cuda"
    assert_allclose(HV.cpu().numpy(), (H @ V).cpu().numpy(), atol=1e-10)
    b = adapter.logit_vjp(X, np.ones((len(y), 2)))
    assert b.device.type == "cuda"
    exact = adapter.to_numpy(ExactSolver().solve(adapter, b, 0.05))
    cg = adapter.to_numpy(CGSolver(tol=1e-10, max_iter=500).solve(adapter, b, 0.05))
    assert _rel(cg, exact) < 1e-6
    lissa = LissaSolver(depth=3000, batch_size=None).solve(adapter, b, 0.05)
    assert _rel(adapter.to_numpy(lissa), exact) < 1e-3
    gd = adapter.grad_dot(b)
    assert isinstance(gd, np.ndarray) and gd.shape == (len(y), 2)

    def loss_i(t, x, yi):
        out = functional_call(module, _unflatten(module, t), (x[None],))
        return _per_sample_loss("binary", out, yi[None])[0]

    per_sample = vmap(grad(loss_i), in_dims=(None, 0, 0))(
        _flat_params(module), torch.as_tensor(X, device="cuda"),
        torch.as_tensor(y, device="cuda"))
    assert_allclose(gd, (per_sample @ b).cpu().numpy(), atol=1e-10)


def _reference_objective_cuda(module, X, y, w, wd):
    X = torch.as_tensor(X, device="cuda")
    y = torch.as_tensor(y, device="cuda")
    w = torch.as_tensor(w, device="cuda")

    def objective(theta):
        out = functional_call(module, _unflatten(module, theta), (X,))
        return ((w * _per_sample_loss("binary", out, y)).mean()
                + wd / 2 * (theta**2).sum())

    return objective


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs CUDA")
def test_gpu_weighted_refit_equals_explicit_loop():
    X, y = _data(n=150)
    yt = y.astype(np.float64)
    w = np.random.default_rng(5).uniform(0, 3, len(y))
    module = _mlp(4, 1).cuda()
    net = _net("binary", module, max_epochs=25, lr=0.2, device="cuda")
    fitted = SkorchAdapter.fit(net, X, yt, w)
    expected = _explicit_loop_cuda(module, X, yt, w, 25, 0.2)
    assert_allclose(_flat_params(fitted.module_).cpu(),
                    _flat_params(expected).cpu(), rtol=1e-8, atol=1e-10)


def _explicit_loop_cuda(module, X, y, w, epochs, lr):
    module = copy.deepcopy(module)
    opt = torch.optim.SGD(module.parameters(), lr=lr)
    X, y, w = (torch.as_tensor(a, device="cuda") for a in (X, y, w))
    for _ in range(epochs):
        opt.zero_grad()
        loss = (w * _per_sample_loss("binary", module(X), y)).sum() / len(w)
        loss.backward()
        opt.step()
    return module


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs CUDA")
def test_gpu_fairif_end_to_end(biased_split):
    X, y, X_val, y_val, s_val, X_test, y_test, s_test = biased_split
    X, X_val, X_test = (a.astype(np.float32) for a in (X, X_val, X_test))
    clf = FairIFClassifier(_mlp_net(device="cuda"), damping=0.1, random_state=0)
    clf.fit(X, y.astype(np.float32), X_val=X_val, y_val=y_val, s_val=s_val)
    aod_before = average_odds_difference(
        y_test, clf.initial_estimator_.predict(X_test), sensitive_features=s_test)
    aod_after = average_odds_difference(
        y_test, clf.predict(X_test), sensitive_features=s_test)
    assert aod_after < aod_before


def test_auto_damping_raises_until_positive_definite(biased_split):
    # Adam stops away from an exact minimum: the undamped Hessian of this MLP
    # is indefinite, so CG (and the exact solve) need damping; "auto" finds
    # enough by itself.
    X, y, X_val, y_val, s_val = biased_split[:5]
    X, X_val = X.astype(np.float32), X_val.astype(np.float32)
    for solver, message in (("cg", "Increase `damping`"),
                            ("exact", "not positive definite.*increase `damping`")):
        with pytest.raises(ValueError, match=message):
            FairIFClassifier(_mlp_net(), damping=0.0, solver=solver).fit(
                X, y.astype(np.float32), X_val=X_val, y_val=y_val, s_val=s_val)
    clf = FairIFClassifier(_mlp_net(), solver="cg", random_state=0)
    clf.fit(X, y.astype(np.float32), X_val=X_val, y_val=y_val, s_val=s_val)
    assert clf.damping_ >= 1e-2
    assert np.isfinite(clf.influence_).all()
    gaps = clf.validation_gaps_
    assert np.abs(gaps["after"]).sum() < np.abs(gaps["before"]).sum()
