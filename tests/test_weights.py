"""The weight solver against a generic constrained solver and the KKT conditions.

The primal problem (DESIGN §2.4) is

    minimise f(w) = ||g + (w - 1) @ A||^2 + alpha * mean((w - 1)^2)
    subject to w >= 0, mean(w) = 1.

The reference solution is computed here without the library: SLSQP on the
primal, then polished by an exact active-set solve (the KKT linear system on
the free set, iterated until the active set is stable).
"""

import warnings

import numpy as np
import pytest
from scipy import sparse
from scipy.optimize import lsq_linear, minimize
from sklearn.exceptions import ConvergenceWarning

from sklearn_fairif._weights import solve_weights


def _objective(w, A, g, alpha, w0=None):
    w0 = np.ones(len(w)) if w0 is None else w0
    r = g + (w - w0) @ A
    return r @ r + alpha * np.mean((w - 1.0) ** 2)


def _gradient(w, A, g, alpha, w0=None):
    w0 = np.ones(len(w)) if w0 is None else w0
    r = g + (w - w0) @ A
    return 2.0 * A @ r + 2.0 * alpha * (w - 1.0) / len(w)


def _active_set_polish(w, A, g, alpha, w0=None, max_rounds=50):
    """Exact minimiser on a free set, starting from an approximate solution."""
    n = len(w)
    w0 = np.ones(n) if w0 is None else w0
    # f(w) = w^T Q w / 2 + c^T w + const, with Q = 2 A A^T + 2 alpha I / n.
    Q = 2.0 * A @ A.T + 2.0 * alpha * np.eye(n) / n
    c = 2.0 * A @ (g - w0 @ A) - 2.0 * alpha * np.ones(n) / n
    zero = w < 1e-7 * max(1.0, w.max())
    for _ in range(max_rounds):
        free = ~zero
        nf = free.sum()
        # [Q_ff 1][w_f]   [-c_f]
        # [1^T  0][nu ] = [ n  ]
        K = np.zeros((nf + 1, nf + 1))
        K[:nf, :nf] = Q[np.ix_(free, free)]
        K[:nf, nf] = 1.0
        K[nf, :nf] = 1.0
        rhs = np.concatenate([-c[free], [float(n)]])
        sol = np.linalg.solve(K, rhs)
        w_new = np.zeros(n)
        w_new[free] = sol[:nf]
        nu = sol[nf]
        mu = Q @ w_new + c + nu  # multipliers of w_i >= 0 on the zero set
        neg_free = free & (w_new < 0)
        bad_zero = zero & (mu < -1e-12 * np.abs(mu).max())
        if not neg_free.any() and not bad_zero.any():
            return w_new
        zero = (zero & ~bad_zero) | neg_free
    raise RuntimeError("active-set polish did not settle")


def _reference(A, g, alpha, w0=None, method="bvls"):
    """Independent minimiser: a generic solver, then the exact active-set polish.

    ``"bvls"``: bounded-variable least squares on the stacked residuals
    ``[g + A^T (w - w0); sqrt(alpha / n) (w - 1); rho (mean(w) - 1)]`` (the
    equality as a heavily weighted row). ``"slsqp"``: SLSQP on the primal with
    the bound and the equality constraint.
    """
    n = A.shape[0]
    w0 = np.ones(n) if w0 is None else w0
    if method == "bvls":
        rho = 1e4
        M = np.vstack([A.T, np.sqrt(alpha / n) * np.eye(n), np.full((1, n), rho / n)])
        b = np.concatenate([w0 @ A - g, np.full(n, np.sqrt(alpha / n)), [rho]])
        x = lsq_linear(M, b, bounds=(0.0, np.inf), method="bvls", tol=1e-15).x
    else:
        # Scaled by n so that the gradient is O(1) for SLSQP's tolerances.
        res = minimize(
            lambda w: n * _objective(w, A, g, alpha, w0), np.ones(n),
            jac=lambda w: n * _gradient(w, A, g, alpha, w0),
            bounds=[(0.0, None)] * n, method="SLSQP",
            constraints=[{"type": "eq", "fun": lambda w: w.mean() - 1.0,
                          "jac": lambda w: np.full(n, 1.0 / n)}],
            options={"ftol": 1e-12, "maxiter": 500},
        )
        assert res.success, res.message
        x = res.x
    return _active_set_polish(x, A, g, alpha, w0)


def _kkt_residuals(w, A, g, alpha, w0=None):
    """Stationarity on free rows and sign of the bound multipliers.

    KKT: grad f(w) + nu * 1 - mu = 0, mu >= 0, mu_i w_i = 0. nu is
    reconstructed from the free rows; mu_i = grad_i + nu on the zero rows.
    Both residuals are returned relative to the gradient's scale.
    """
    grad = _gradient(w, A, g, alpha, w0)
    free = w > 0
    nu = -grad[free].mean()
    scale = np.abs(grad).max() + 2.0 * alpha / len(w)
    stationarity = np.abs(grad[free] + nu).max() / scale
    mu = grad[~free] + nu
    most_negative_mu = (mu.min() / scale) if mu.size else 0.0
    return stationarity, most_negative_mu


def _problem(seed, n, k, gap_scale):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, k)) / n
    g = rng.standard_normal(k) * gap_scale
    return A, g


CASES = [
    # (seed, n, k, gap_scale): large gaps relative to A drive weights to 0.
    (0, 30, 1, 0.2),
    (1, 50, 2, 0.2),
    (2, 64, 3, 0.5),
    (3, 80, 4, 0.3),
    (4, 40, 2, 3.0),
    (5, 75, 4, 5.0),
    (6, 60, 1, 10.0),
]
ALPHAS = [1e-5, 1e-3, 1e-2, 1e-1, 1.0]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"n{c[1]}k{c[2]}g{c[3]}")
@pytest.mark.parametrize("alpha", ALPHAS)
def test_matches_generic_constrained_solver(case, alpha):
    seed, n, k, gap_scale = case
    A, g = _problem(seed, n, k, gap_scale)
    w, predicted = solve_weights(A, g, alpha)
    # Feasibility first: an infeasible w can have a lower objective.
    assert w.min() >= 0.0
    assert abs(w.mean() - 1.0) < 1e-12, f"mean(w) = {w.mean()!r} != 1"
    ref = _reference(A, g, alpha)
    f, f_ref = _objective(w, A, g, alpha), _objective(ref, A, g, alpha)
    rel = abs(f - f_ref) / f_ref
    assert rel < 1e-8, f"objective {f!r} vs reference {f_ref!r} (rel {rel:.2e})"
    # Strictly convex problem: the minimiser itself is unique.
    assert np.abs(w - ref).max() < 1e-6, np.abs(w - ref).max()
    # predicted_gaps is the linearised gap at w.
    np.testing.assert_allclose(predicted, g + (w - 1.0) @ A, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(
    "case, alpha",
    [(CASES[1], 1e-2), (CASES[3], 1e-3), (CASES[4], 1e-5), (CASES[5], 1e-5),
     (CASES[6], 1e-2)],
    ids=lambda v: f"{v}" if np.isscalar(v) else f"n{v[1]}k{v[2]}g{v[3]}",
)
def test_generic_references_agree(case, alpha):
    # The two independent references (SLSQP and bounded least squares, each
    # polished) agree with each other, so either can stand for the optimum.
    A, g = _problem(*case)
    slsqp = _reference(A, g, alpha, method="slsqp")
    bvls = _reference(A, g, alpha, method="bvls")
    np.testing.assert_allclose(slsqp, bvls, atol=1e-9)
    f_raw = _objective(slsqp, A, g, alpha)
    assert abs(f_raw - _objective(bvls, A, g, alpha)) < 1e-12 * f_raw


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"n{c[1]}k{c[2]}g{c[3]}")
@pytest.mark.parametrize("alpha", ALPHAS)
def test_kkt_conditions(case, alpha):
    seed, n, k, gap_scale = case
    A, g = _problem(seed, n, k, gap_scale)
    w, _ = solve_weights(A, g, alpha)
    assert w.min() >= 0.0
    assert abs(w.mean() - 1.0) < 1e-12, f"mean(w) = {w.mean()!r} != 1"
    stationarity, most_negative_mu = _kkt_residuals(w, A, g, alpha)
    assert stationarity < 1e-7, f"stationarity residual {stationarity:.2e}"
    assert most_negative_mu > -1e-7, f"bound multiplier {most_negative_mu:.2e} < 0"
    # Complementary slackness holds by construction of mu; the zero rows must be
    # exact zeros and the free rows strictly positive.
    assert np.all((w == 0) | (w > 1e-12))


def test_some_cases_hit_the_bound():
    # Guard that the parametrisation above exercises the w >= 0 constraint.
    zeros = []
    for case in CASES:
        A, g = _problem(*case)
        zeros.append((solve_weights(A, g, 1e-3)[0] == 0).mean())
    assert max(zeros) > 0.25, zeros


def test_closed_form_without_active_bounds():
    # Large alpha keeps every weight positive: the solution is the
    # equality-constrained least-squares minimiser, a linear solve.
    A, g = _problem(11, 40, 3, 0.05)
    alpha = 10.0
    w, _ = solve_weights(A, g, alpha)
    assert w.min() > 0
    n = len(w)
    Q = 2.0 * A @ A.T + 2.0 * alpha * np.eye(n) / n
    c = 2.0 * A @ (g - np.ones(n) @ A) - 2.0 * alpha / n
    K = np.block([[Q, np.ones((n, 1))], [np.ones((1, n)), np.zeros((1, 1))]])
    exact = np.linalg.solve(K, np.concatenate([-c, [n]]))[:n]
    np.testing.assert_allclose(w, exact, rtol=1e-9)


@pytest.mark.parametrize("alpha", [1e-4, 1e-2, 1.0])
def test_current_weights_linearisation(alpha):
    A, g = _problem(21, 60, 2, 0.5)
    rng = np.random.default_rng(0)
    w0 = rng.uniform(0.2, 2.0, size=60)
    w0 /= w0.mean()
    w, predicted = solve_weights(A, g, alpha, current_weights=w0)
    # The problem linearised around w0 with the penalty still anchored at 1.
    ref = _reference(A, g, alpha, w0=w0)
    f = _objective(w, A, g, alpha, w0)
    f_ref = _objective(ref, A, g, alpha, w0)
    assert abs(f - f_ref) / f_ref < 1e-8, (f, f_ref)
    np.testing.assert_allclose(w, ref, atol=1e-6)
    np.testing.assert_allclose(predicted, g + (w - w0) @ A, rtol=1e-10, atol=1e-14)
    # Same as solving around 1 with the shifted gaps g - (w0 - 1) @ A.
    w_shift, pred_shift = solve_weights(A, g - (w0 - 1.0) @ A, alpha)
    np.testing.assert_allclose(w, w_shift, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(predicted, pred_shift, rtol=1e-10, atol=1e-14)
    stationarity, most_negative_mu = _kkt_residuals(w, A, g, alpha, w0)
    assert stationarity < 1e-7 and most_negative_mu > -1e-7


def test_zero_gaps_give_unit_weights():
    A, _ = _problem(3, 50, 2, 0.1)
    w, predicted = solve_weights(A, np.zeros(2), 0.01)
    np.testing.assert_allclose(w, 1.0, atol=1e-12)
    np.testing.assert_allclose(predicted, 0.0, atol=1e-14)


def test_smaller_alpha_closes_more_of_the_gap():
    A, g = _problem(8, 80, 2, 0.3)
    residuals = [
        np.linalg.norm(solve_weights(A, g, alpha)[1]) for alpha in [1.0, 1e-2, 1e-4]
    ]
    assert residuals[0] > residuals[1] > residuals[2]
    assert residuals[0] < np.linalg.norm(g)


def test_large_n_constraints_hold():
    n, k = 10**6, 2
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, k)) / n
    g = np.array([0.5, -0.4])  # large enough that ~8% of the weights hit 0
    alpha = 1e-3
    w, predicted = solve_weights(A, g, alpha)
    assert w.shape == (n,)
    assert 0.01 < (w == 0).mean() < 0.5
    assert w.min() >= 0.0
    assert abs(w.mean() - 1.0) < 1e-10
    np.testing.assert_allclose(predicted, g + (w - 1.0) @ A, rtol=1e-8, atol=1e-13)
    assert np.linalg.norm(predicted) < np.linalg.norm(g)
    stationarity, most_negative_mu = _kkt_residuals(w, A, g, alpha)
    assert stationarity < 1e-6 and most_negative_mu > -1e-6


@pytest.mark.parametrize("max_iter", [3, 20])
def test_non_convergence_is_feasible_or_warns(max_iter):
    # With an iteration cap too small for the dual solve, the weights must
    # still be feasible, and a sub-optimal answer must not be silent.
    A, g = _problem(5, 75, 4, 5.0)
    alpha = 1e-3
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        w, predicted = solve_weights(A, g, alpha, max_iter=max_iter)
    warned = any(issubclass(r.category, ConvergenceWarning) for r in record)
    assert w.min() >= 0.0
    assert abs(w.mean() - 1.0) < 1e-12, (
        f"mean(w) = {w.mean()!r} != 1 (ConvergenceWarning issued: {warned})"
    )
    stationarity, most_negative_mu = _kkt_residuals(w, A, g, alpha)
    if stationarity > 1e-7 or most_negative_mu < -1e-7:
        assert warned, (
            f"sub-optimal weights (KKT residual {stationarity:.1e}) without a "
            "ConvergenceWarning"
        )


def test_weight_path_equals_independent_solves():
    from sklearn_fairif._weights import WeightPath

    rng = np.random.default_rng(3)
    # Three problems in one batch, of different difficulty: one with most
    # weights clipped at 0 (large gaps) converges later than the others.
    A = rng.normal(scale=1e-3, size=(3, 2000, 3))
    g = np.array([[0.1, -0.05, 0.02], [0.01, 0.0, -0.02], [2.0, -1.5, 1.0]])
    path = WeightPath(A, g)
    # The scan's order, largest first (each start extrapolated from the last
    # two solutions), then an alpha solved twice (no extrapolation).
    for alpha in [*np.logspace(1, -4, 16), 1e-4]:
        w_path, r_path = path.solve(alpha)
        assert w_path.shape == (3, 2000) and r_path.shape == (3, 3)
        for i in range(3):
            w, r = solve_weights(A[i], g[i], alpha)
            np.testing.assert_allclose(w_path[i], w, atol=1e-9)
            np.testing.assert_allclose(r_path[i], r, atol=1e-12)


def test_weight_path_in_batches_equals_independent_solves():
    from sklearn_fairif._weights import WeightPath

    rng = np.random.default_rng(4)
    A = rng.normal(scale=1e-3, size=(2, 1000, 2))
    g = np.array([[0.2, -0.1], [1.0, 0.5]])
    path = WeightPath(A, g)
    alphas = np.logspace(1, -4, 12)
    for batch in (alphas[:4], alphas[4:8], alphas[8:], alphas[-2:]):
        change = path.solve_low_rank(batch, tol=1e-12)
        C = change.clipped.toarray()
        for j, alpha in enumerate(batch):
            for i in range(2):
                d = solve_weights(A[i], g[i], alpha)[0] - 1.0
                np.testing.assert_allclose(
                    -path.basis(i) @ change.x[i, j] + C[:, j * 2 + i], d,
                    atol=1e-9)


def _dual_direct(A, g, alpha, x):
    """The dual's value and gradient summed over every row (no pruning)."""
    n, k = A.shape
    t = n * A @ x[:k] + x[k]
    delta = np.maximum(-1.0, -t)
    psi = np.where(t <= 1.0, -(t**2), 1.0 - 2.0 * t)
    f = 0.5 * alpha * x[:k] @ x[:k] - x[:k] @ g - psi.mean() / 2.0
    grad = np.append(alpha * x[:k] - g - delta @ A, -delta.mean())
    return f, grad


@pytest.mark.parametrize("one_row_per_block", [False, True])
@pytest.mark.parametrize("scale", [0.0, 0.3, 3.0, 30.0])
def test_dual_pruned_to_candidate_rows_equals_the_full_sum(scale, one_row_per_block,
                                                           monkeypatch):
    # The dual evaluates only the rows that can clip (|b_i| |kappa| + nu >= 1,
    # a prefix by |b_i|) plus the Gram matrix: from no row (scale 0) to most
    # rows clipped (scale 30), and with nu >= 1 (every row a candidate). The
    # Hessian sums the clipped rows' outer products by blocks of rows: one
    # block, or one row per block.
    from sklearn_fairif import _weights
    from sklearn_fairif._weights import _Dual

    if one_row_per_block:
        monkeypatch.setattr(_weights, "_OUTER_PRODUCT_VALUES", 1)

    rng = np.random.default_rng(7)
    A = rng.standard_t(3, size=(2, 500, 3)) / 500  # heavy tails: a few big rows
    g = rng.normal(size=(2, 3))
    dual = _Dual(A, g)
    alphas = np.array([0.05, 0.5, 5.0])
    dual.alpha = alphas
    # Each problem at three alphas and three points (x is (p, a, k + 1)).
    x = scale * rng.normal(size=(2, 3, 4))
    x[1, :, 3] = 1.5 if scale else 0.0
    f, grad = dual.value_grad(x)
    H = dual.hessian(x)
    h = 1e-7
    for i in range(2):
        for j, alpha in enumerate(alphas):
            f_ref, grad_ref = _dual_direct(A[i], g[i], alpha, x[i, j])
            np.testing.assert_allclose(f[i, j], f_ref, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(grad[i, j], grad_ref, rtol=1e-10,
                                       atol=1e-12)
            # Finite differences of the direct sum check the Hessian (the
            # dual is piecewise quadratic: exact away from the kinks).
            for c in range(4):
                e = np.zeros(4)
                e[c] = h
                fd = (_dual_direct(A[i], g[i], alpha, x[i, j] + e)[1]
                      - _dual_direct(A[i], g[i], alpha, x[i, j] - e)[1]) / (2 * h)
                np.testing.assert_allclose(H[i, j][:, c], fd, rtol=1e-5,
                                           atol=1e-6)


def test_clipped_entries_as_csr_equal_scipys_conversion():
    from sklearn_fairif._weights import _csr

    rng = np.random.default_rng(3)
    rows, columns = np.divmod(rng.choice(50 * 6, size=40, replace=False), 6)
    data = rng.normal(size=40)
    got = _csr(data, rows, columns, shape=(50, 6))
    want = sparse.coo_array((data, (rows, columns)), shape=(50, 6)).tocsr()
    np.testing.assert_array_equal(got.toarray(), want.toarray())
    assert got.has_canonical_format
    np.testing.assert_array_equal(got.indptr, want.indptr)


@pytest.mark.parametrize("prune", [True, False])
def test_low_rank_change_equals_the_weights(prune):
    from sklearn_fairif._weights import WeightPath

    rng = np.random.default_rng(8)
    A = rng.normal(scale=1e-3, size=(3, 1500, 2))
    g = np.array([[0.3, -0.2], [0.02, 0.01], [1.0, 0.5]])
    V = rng.normal(size=(1500, 4))
    path = WeightPath(A, g, prune=prune)
    # One batched call for three alphas, from no weight at 0 to many.
    alphas = (1.0, 0.01, 1e-4)
    change = WeightPath(A, g, prune=prune).solve_low_rank(alphas, tol=1e-12)
    C = change.clipped.toarray()
    assert C.shape == (1500, 3 * 3)
    for j, alpha in enumerate(alphas):
        weights = WeightPath(A, g).solve(alpha, tol=1e-12)[0]
        for i in range(3):
            d, c = weights[i] - 1.0, C[:, j * 3 + i]  # problems vary fastest
            # w - 1 = -B x + c, with c on the clipped rows only.
            B = path.basis(i)
            np.testing.assert_allclose(-B @ change.x[i, j] + c, d, atol=1e-10)
            assert np.all(d[c != 0] == -1.0)
            np.testing.assert_allclose(c @ V - change.x[i, j] @ (B.T @ V),
                                       d @ V, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(change.mean_sq[i, j], np.mean(d**2),
                                       rtol=1e-9)
    assert np.count_nonzero(C[:, 2 * 3:], axis=0).max() > 10  # clipped case ran
