"""Inverse-HVP solvers against dense linear algebra on a logistic Hessian.

The reference Hessian is assembled here from its formula,
``H = [X, 1]^T diag(p (1 - p)) [X, 1] / n + diag(1 / (C n), ..., 1 / (C n), 0)``
(scikit-learn's LogisticRegression objective divided by ``C n``), and the
reference solution is ``numpy.linalg.solve(H + damping I, b)``.
"""

import tracemalloc
import warnings

import numpy as np
import pytest
from scipy import sparse
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from sklearn_fairif._objectives import FairnessConstraints
from sklearn_fairif.adapters import LinearAdapter
from sklearn_fairif.influence import (
    CGSolver,
    ExactSolver,
    LissaSolver,
    constraint_gradients,
    influence_scores,
    resolve_solver,
)


def _logistic(seed=0, n=500, d=8, C=1.0):
    rng = np.random.default_rng(seed)
    # Unequal feature scales: a condition number in the hundreds.
    X = rng.standard_normal((n, d)) * np.geomspace(0.1, 2.0, d)
    y = (rng.random(n) < expit(X @ rng.normal(size=d) + 0.3)).astype(int)
    est = LogisticRegression(C=C, tol=1e-10, max_iter=10000).fit(X, y)
    adapter = LinearAdapter(est, X, y, np.ones(n))
    Xt = np.column_stack([X, np.ones(n)])
    p = expit(Xt @ np.append(est.coef_.ravel(), est.intercept_))
    H = Xt.T @ (Xt * (p * (1 - p))[:, None]) / n
    H += np.diag(np.append(np.full(d, 1.0 / (C * n)), 0.0))
    b = rng.standard_normal((d + 1, 3))
    return adapter, H, b


def _reference(H, b, damping):
    return np.linalg.solve(H + damping * np.eye(len(H)), b)


def _rel_err(u, ref):
    return np.linalg.norm(u - ref) / np.linalg.norm(ref)


@pytest.fixture(scope="module")
def problem():
    return _logistic()


def test_reference_hessian_is_the_adapters(problem):
    adapter, H, _ = problem
    err = _rel_err(adapter.hessian(), H)
    assert err < 1e-12, f"relative error {err:.2e}"


@pytest.mark.parametrize("damping", [0.0, 1e-3, 0.1])
def test_exact_solver(problem, damping):
    adapter, H, b = problem
    u = ExactSolver().solve(adapter, b, damping)
    err = _rel_err(u, _reference(H, b, damping))
    assert err < 1e-10, f"ExactSolver relative error {err:.2e}"


@pytest.mark.parametrize("damping", [0.0, 1e-3])
def test_cg_solver(problem, damping):
    adapter, H, b = problem
    solver = CGSolver(tol=1e-10, max_iter=500)
    u = solver.solve(adapter, b, damping)
    ref = _reference(H, b, damping)
    err = _rel_err(u, ref)
    assert err < 1e-8, f"CG relative error {err:.2e} (n_iter_={solver.n_iter_})"
    err_exact = _rel_err(u, ExactSolver().solve(adapter, b, damping))
    assert err_exact < 1e-8, f"CG vs ExactSolver relative error {err_exact:.2e}"
    # Residual test against the reference matrix, column by column.
    res = np.linalg.norm((H + damping * np.eye(len(H))) @ u - b, axis=0)
    assert np.all(res <= 1e-9 * np.linalg.norm(b, axis=0)), res
    # CG on a P x P system: about P iterations (a few more for rounding).
    assert solver.n_iter_ <= 3 * len(H), solver.n_iter_


def test_cg_columns_are_independent(problem):
    # Solving k right-hand sides together equals solving them one by one.
    adapter, H, b = problem
    together = CGSolver(tol=1e-12, max_iter=500).solve(adapter, b, 1e-3)
    for c in range(b.shape[1]):
        alone = CGSolver(tol=1e-12, max_iter=500).solve(adapter, b[:, [c]], 1e-3)
        np.testing.assert_allclose(together[:, [c]], alone, rtol=1e-9, atol=1e-12)


def test_cg_stops_multiplying_converged_columns(problem):
    # A zero right-hand side is converged from the start and an easy column
    # (an eigenvector) after one step: the HVPs skip both from then on, and
    # the hard column's answer is the one it gets alone.
    adapter, H, b = problem
    counted = []

    class Counting:
        n_samples, n_params = adapter.n_samples, adapter.n_params
        to_numpy = staticmethod(np.asarray)
        from_numpy = staticmethod(np.asarray)

        def hvp(self, V, batch=None):
            counted.append(V.shape[1])
            return adapter.hvp(V, batch)

    eigenvector = np.linalg.eigh(H)[1][:, [0]]
    rhs = np.hstack([b[:, [0]], np.zeros((len(H), 1)), eigenvector])
    solver = CGSolver(tol=1e-12, max_iter=500)
    x = solver.solve(Counting(), rhs, 1e-3)
    alone = CGSolver(tol=1e-12, max_iter=500).solve(adapter, b[:, [0]], 1e-3)
    np.testing.assert_allclose(x[:, [0]], alone, rtol=1e-9, atol=1e-12)
    assert np.all(x[:, 1] == 0)
    np.testing.assert_allclose(H @ x[:, [2]] + 1e-3 * x[:, [2]], eigenvector,
                               atol=1e-10)
    assert counted[0] == 2 and set(counted[1:]) == {1}
    assert len(counted) == solver.n_iter_ > 2


def test_cg_preconditions_with_the_hessian_diagonal():
    # Features on scales four decades apart (as one-hot columns of rare
    # categories): the Jacobi-preconditioned solve reaches the exact answer
    # in fewer iterations than plain CG on the same adapter without the hook.
    rng = np.random.default_rng(3)
    X = rng.standard_normal((2000, 30)) * np.geomspace(0.01, 100.0, 30)
    y = (rng.random(2000) < expit(X[:, -5:].sum(axis=1) / 100)).astype(int)
    est = LogisticRegression(C=0.1, tol=1e-10, max_iter=10_000).fit(X, y)
    adapter = LinearAdapter(est, X, y, np.ones(len(y)))
    b = rng.standard_normal((31, 3))

    class Plain:  # the same model, without hessian_diagonal
        n_samples, n_params = adapter.n_samples, adapter.n_params
        to_numpy = from_numpy = staticmethod(np.asarray)
        hvp = staticmethod(adapter.hvp)

    exact = ExactSolver().solve(adapter, b, 1e-3)
    iterations = {}
    for name, model in (("jacobi", adapter), ("plain", Plain())):
        solver = CGSolver(tol=1e-10, max_iter=5000)
        u = solver.solve(model, b, 1e-3)
        assert _rel_err(u, exact) < 1e-7, name
        iterations[name] = solver.n_iter_
    assert iterations["jacobi"] < 0.5 * iterations["plain"], iterations


def test_cg_preconditioner_skips_a_zero_diagonal_entry():
    # An all-zero feature without penalty or damping: its Hessian row is zero.
    # The preconditioner leaves that coordinate unscaled (no 1/0), and a
    # right-hand side outside it is solved as usual.
    H = np.diag([0.0, 1.0, 4.0])
    H[1, 2] = H[2, 1] = 0.5

    class Singular:
        n_samples, n_params = 10, 3
        to_numpy = from_numpy = staticmethod(np.asarray)

        def hvp(self, V, batch=None):
            return H @ V

        def hessian_diagonal(self):
            return np.diag(H).copy()

    b = np.array([[0.0], [1.0], [2.0]])
    u = CGSolver(tol=1e-12).solve(Singular(), b)
    assert np.all(np.isfinite(u))
    np.testing.assert_allclose(H @ u, b, atol=1e-10)


def _lissa_depth(H, damping, scale, target=1e-12):
    # The error contracts by (1 - lambda_min / scale) per step.
    lam = np.linalg.eigvalsh(H + damping * np.eye(len(H)))
    return int(np.ceil(np.log(target) / np.log1p(-lam[0] / scale))), lam


@pytest.mark.parametrize("damping", [0.0, 1e-2])
def test_lissa_deterministic_full_batch(problem, damping):
    adapter, H, b = problem
    lam_max = np.linalg.eigvalsh(H + damping * np.eye(len(H)))[-1]
    scale = 1.2 * lam_max
    depth, _ = _lissa_depth(H, damping, scale)
    solver = LissaSolver(depth=depth, scale=scale, batch_size=None)
    u = solver.solve(adapter, b, damping)
    ref = _reference(H, b, damping)
    err = _rel_err(u, ref)
    assert err < 1e-8, f"LiSSA (depth {depth}) relative error {err:.2e}"
    err_exact = _rel_err(u, ExactSolver().solve(adapter, b, damping))
    assert err_exact < 1e-8, f"LiSSA vs ExactSolver relative error {err_exact:.2e}"
    # Deterministic: a second run gives the same numbers.
    np.testing.assert_array_equal(u, solver.solve(adapter, b, damping))


def test_lissa_estimated_scale(problem):
    adapter, H, b = problem
    damping = 1e-2
    lam = np.linalg.eigvalsh(H + damping * np.eye(len(H)))
    solver = LissaSolver(depth=2000, scale=None, batch_size=None, random_state=0)
    u = solver.solve(adapter, b, damping)
    # Convergence needs scale > lambda_max / 2; the estimate pads by 1.5.
    assert solver.scale_ > lam[-1], (solver.scale_, lam[-1])
    assert solver.scale_ < 3 * lam[-1], (solver.scale_, lam[-1])
    err = _rel_err(u, _reference(H, b, damping))
    assert err < 1e-6, f"LiSSA(scale=None) relative error {err:.2e}"


def test_lissa_stochastic(problem):
    adapter, H, b = problem
    damping = 1e-2
    lam_max = np.linalg.eigvalsh(H + damping * np.eye(len(H)))[-1]
    solver = LissaSolver(depth=1500, scale=1.5 * lam_max, repeats=4,
                         batch_size=100, random_state=0)
    u = solver.solve(adapter, b, damping)
    err = _rel_err(u, _reference(H, b, damping))
    assert err < 0.05, f"stochastic LiSSA relative error {err:.2e}"
    again = LissaSolver(depth=1500, scale=1.5 * lam_max, repeats=4,
                        batch_size=100, random_state=0).solve(adapter, b, damping)
    np.testing.assert_array_equal(u, again)


@pytest.mark.parametrize("factor", [10.0, 2.2])
def test_lissa_too_small_scale_raises(problem, factor):
    # The recursion multiplies the error by (1 - lambda / scale) per step: it
    # diverges once scale < lambda_max / 2 (factor > 2). At factor 2.2 and
    # depth 100 the iterate grows ~1.2^100 ~ 1e8-fold: a wrong answer that must
    # not come back silently.
    adapter, H, b = problem
    lam_max = np.linalg.eigvalsh(H)[-1]
    solver = LissaSolver(depth=100, scale=lam_max / factor, batch_size=None)
    with np.errstate(over="ignore", invalid="ignore"):
        with pytest.raises(FloatingPointError, match=r"[Ii]ncrease `scale`"):
            u = solver.solve(adapter, b, 0.0)
            err = _rel_err(u, _reference(H, b, 0.0))
            print(f"returned without raising; relative error {err:.2e}")


def test_exact_solver_singular_hessian_raises():
    # Separable data, no penalty (C=inf) and a feature that is zero on every
    # training row: the Hessian has an exactly zero row and column.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = (X[:, 0] > 0).astype(int)
    X = np.column_stack([X, np.zeros(200)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs runs off to infinity
        est = LogisticRegression(C=np.inf, max_iter=500).fit(X, y)
    adapter = LinearAdapter(est, X, y, np.ones(200))
    assert np.linalg.eigvalsh(adapter.hessian())[0] <= 1e-12
    b = rng.standard_normal((adapter.n_params, 2))
    with pytest.raises(ValueError, match="damping"):
        ExactSolver().solve(adapter, b, damping=0.0)
    # Damping makes it solvable, and the solution solves the damped system.
    u = ExactSolver().solve(adapter, b, damping=1e-3)
    lhs = adapter.hvp(u) + 1e-3 * u
    assert np.linalg.norm(lhs - b) <= 1e-8 * np.linalg.norm(b)


class _MatrixAdapter:
    """The adapter protocol around an explicit symmetric matrix."""

    def __init__(self, M):
        self.M = M
        self.n_samples, self.n_params = 10, len(M)

    def hvp(self, V, batch=None):
        return self.M @ V

    def hessian(self):
        return self.M.copy()

    to_numpy = staticmethod(np.asarray)
    from_numpy = staticmethod(np.asarray)


def test_indefinite_hessian_raises_in_exact_and_cg():
    adapter = _MatrixAdapter(np.diag([1.0, 0.5, -0.2]))
    b = np.ones((3, 1))
    with pytest.raises(ValueError, match="damping"):
        ExactSolver().solve(adapter, b, 0.0)
    with pytest.raises(ValueError, match="damping"):
        CGSolver().solve(adapter, b, 0.0)
    # Enough damping makes both solvable, with the same answer.
    ref = b / np.array([[1.3], [0.8], [0.1]])
    np.testing.assert_allclose(ExactSolver().solve(adapter, b, 0.3), ref)
    np.testing.assert_allclose(CGSolver(tol=1e-12).solve(adapter, b, 0.3), ref,
                               rtol=1e-9)


class _DiagonalAdapter(_MatrixAdapter):
    """The same, with the diagonal CG's preconditioner reads."""

    def hessian_diagonal(self):
        return np.diag(self.M).copy()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("solver, adapter", [
    (ExactSolver(), _MatrixAdapter), (CGSolver(), _MatrixAdapter),
    (CGSolver(), _DiagonalAdapter), (LissaSolver(batch_size=None), _MatrixAdapter)])
def test_solvers_name_a_non_finite_hessian(bad, solver, adapter):
    # A diverged training (NaN parameters) or an overflowing feature: one
    # clear error, not SciPy's "array must not contain infs or NaNs", nor
    # advice on damping, curvature or LiSSA's scale that cannot help.
    M = np.eye(3)
    M[1, 1] = bad
    with pytest.raises(ValueError, match="Hessian at the fitted parameters is "
                       "not finite") as info:
        solver.solve(adapter(M), np.ones((3, 1)), 1e-3)
    assert "damping" not in str(info.value)


def test_cg_max_iter_warns(problem):
    adapter, H, b = problem
    solver = CGSolver(tol=1e-14, max_iter=2)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        u = solver.solve(adapter, b, 0.0)
    assert solver.n_iter_ == 2
    assert np.all(np.isfinite(u))


# ----------------------------------------------------- 10^5 sparse features


def _random_csr(rng, n, d, nnz_per_row):
    rows = np.repeat(np.arange(n), nnz_per_row)
    cols = rng.integers(0, d, n * nnz_per_row)
    vals = rng.standard_normal(n * nnz_per_row)
    return sparse.csr_matrix((vals, (rows, cols)), shape=(n, d))


def test_cg_on_1e5_sparse_features_without_densifying():
    rng = np.random.default_rng(0)
    n, d = 5000, 100_000
    X = _random_csr(rng, n, d, 20)
    X_val = _random_csr(rng, 1000, d, 20)
    beta = np.zeros(d)
    support = rng.choice(d, 2000, replace=False)
    beta[support] = 2.0 * rng.standard_normal(2000)
    y = (rng.random(n) < expit(X @ beta)).astype(int)
    y_val = (rng.random(1000) < expit(X_val @ beta)).astype(int)
    s_val = rng.integers(0, 2, 1000)
    C = 1.0
    est = LogisticRegression(C=C, max_iter=1000).fit(X, y)

    adapter = LinearAdapter(est, X, y, np.ones(n))
    assert sparse.issparse(adapter.X)
    assert adapter.n_params == d + 1
    assert adapter.default_solver == "cg"
    assert isinstance(resolve_solver("auto", adapter), CGSolver)

    def no_dense_hessian():
        raise AssertionError("a 1e5 x 1e5 dense Hessian was requested")

    adapter.hessian = no_dense_hessian
    constraints = FairnessConstraints("equalized_odds", y_val, s_val)
    damping = 1e-4
    tracemalloc.start()
    try:
        _, b = constraint_gradients(adapter, constraints, X_val)
        solver = CGSolver(tol=1e-7, max_iter=2000)
        u = solver.solve(adapter, b, damping)
        influence, _ = influence_scores(
            adapter, constraints, X_val, resolve_solver("auto", adapter),
            damping=damping,
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # A dense X would take 4 GB, a dense Hessian 80 GB.
    assert peak < 200e6, f"peak traced memory {peak / 1e6:.0f} MB"
    assert b.shape == (d + 1, 2) and u.shape == (d + 1, 2)
    assert influence.shape == (n, 2) and np.all(np.isfinite(influence))

    # Residual with the adapter's hvp ...
    res = np.linalg.norm(adapter.hvp(u) + damping * u - b, axis=0)
    assert np.all(res <= 1e-5 * np.linalg.norm(b, axis=0)), res
    # ... and with an independent sparse matvec of the logistic Hessian.
    theta = np.append(est.coef_.ravel(), est.intercept_)
    p = expit(X @ theta[:-1] + theta[-1])
    wgt = p * (1 - p)
    Xu = X @ u[:-1] + u[-1]
    Hu = np.vstack([X.T @ (wgt[:, None] * Xu), (wgt[:, None] * Xu).sum(0)]) / n
    Hu[:-1] += u[:-1] / (C * n)
    res_indep = np.linalg.norm(Hu + damping * u - b, axis=0)
    assert np.all(res_indep <= 1e-5 * np.linalg.norm(b, axis=0)), res_indep
