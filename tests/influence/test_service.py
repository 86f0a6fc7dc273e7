"""compute_influence: solver cloning, the damping policy, the result."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.linear_model import LogisticRegression

from sklearn_fairif.adapters import make_adapter
from sklearn_fairif.influence import (
    CGSolver,
    ExactSolver,
    FairnessConstraints,
    NotPositiveDefiniteError,
    compute_influence,
    influence_scores,
)


@pytest.fixture
def problem(biased_split):
    X, y, X_val, y_val, s_val = biased_split[:5]
    adapter = make_adapter(LogisticRegression().fit(X, y), X, y)
    return adapter, FairnessConstraints("equalized_odds", y_val, s_val), X_val


def test_matches_influence_scores_and_clones_the_solver(problem):
    adapter, constraints, X_val = problem
    solver = CGSolver(tol=1e-10, max_iter=500)
    result = compute_influence(adapter, constraints, X_val, solver, damping=1e-3)
    ref, gaps = influence_scores(adapter, constraints, X_val, ExactSolver(),
                                 damping=1e-3)
    assert_allclose(result.influence, ref, rtol=1e-6, atol=1e-12)
    assert_allclose(result.gaps, gaps)
    assert result.solver is not solver and result.solver.n_iter_ > 0
    assert not hasattr(solver, "n_iter_")  # the caller's instance is untouched
    assert result.damping == 1e-3


class _Indefinite:
    """An adapter wrapper whose Hessian has eigenvalue -0.05."""

    def __init__(self, adapter):
        self.inner = adapter
        self.default_damping = 1e-3

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def hessian(self):
        H = self.inner.hessian()
        return H - (np.linalg.eigvalsh(H)[0] + 0.05) * np.eye(len(H))


def test_auto_damping_raises_tenfold_until_positive_definite(problem):
    adapter, constraints, X_val = problem
    wrapped = _Indefinite(adapter)
    result = compute_influence(wrapped, constraints, X_val, "exact")
    assert result.damping == pytest.approx(0.1)  # 1e-3, 1e-2 fail; 0.1 works
    with pytest.raises(NotPositiveDefiniteError):
        compute_influence(wrapped, constraints, X_val, "exact", damping=1e-3)


def test_named_solver_gets_the_random_state(problem):
    adapter, constraints, X_val = problem
    result = compute_influence(adapter, constraints, X_val, "lissa",
                               damping=0.1, random_state=3)
    assert result.solver.random_state == 3


class _ManyColumns:
    """Constraints with ``k`` columns (random margin gradients)."""

    def __init__(self, m, k):
        self.G = np.random.default_rng(0).normal(size=(m, k))
        self.n_constraints = k

    def values(self, z):
        return self.G.T @ np.tanh(z)

    def grad_margins(self, z):
        return self.G


@pytest.mark.parametrize("sparse_X", [False, True])
def test_influence_pass_holds_one_copy_of_the_result(sparse_X):
    # With many columns (alpha="auto" stacks hundreds) the n x k result is the
    # big array: the pass must not hold a second copy of it (a sum with the
    # intercept, the residual product or the 1/n scaling out of place).
    import tracemalloc

    from scipy import sparse

    rng = np.random.default_rng(0)
    n, d, k = 20000, 20, 100
    X = rng.normal(size=(n, d))
    y = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
    if sparse_X:
        X = sparse.csr_matrix(np.where(np.abs(X) > 1, X, 0.0))
    adapter = make_adapter(LogisticRegression().fit(X, y), X, y)
    constraints = _ManyColumns(50, k)
    X_val = X[:50]
    result_bytes = n * k * 8
    tracemalloc.start()
    try:
        influence, _ = influence_scores(adapter, constraints, X_val, ExactSolver(),
                                        base_weight=np.full(n, 2.0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert influence.shape == (n, k)
    assert peak < 1.3 * result_bytes, peak / result_bytes
