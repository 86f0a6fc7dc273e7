"""Property-based tests of the weight solver: on random problems the weights are
finite, non-negative, have mean 1 and satisfy the KKT conditions."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sklearn_fairif._weights import solve_weights

SETTINGS = settings(max_examples=40, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw):
    """Influence matrix A (n x k, entries O(1/n)), gaps g and alpha."""
    n = draw(st.integers(2, 80))
    k = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    a_scale = draw(st.sampled_from([1e-3, 1.0, 10.0]))
    A = rng.standard_normal((n, k)) * a_scale / n
    gap_scale = draw(st.sampled_from([0.0, 1e-3, 0.1, 1.0, 5.0]))
    g = rng.standard_normal(k) * gap_scale
    alpha = draw(st.sampled_from([1e-4, 1e-2, 0.1, 1.0, 100.0]))
    return A, g, alpha


def _objective_grad(w, A, g, alpha):
    r = g + (w - 1.0) @ A
    n = len(w)
    return 2.0 * A @ r + 2.0 * alpha * (w - 1.0) / n


def _kkt(w, A, g, alpha):
    """Relative stationarity on free rows and the most negative bound multiplier."""
    grad = _objective_grad(w, A, g, alpha)
    free = w > 0
    nu = -grad[free].mean()
    scale = np.abs(grad).max() + 2.0 * alpha / len(w) + 1e-300
    stationarity = np.abs(grad[free] + nu).max() / scale
    mu = grad[~free] + nu
    return stationarity, (mu.min() / scale if mu.size else 0.0)


def _solve(A, g, alpha, **kwargs):
    with warnings.catch_warnings():
        # Non-convergence must still give feasible weights (checked below).
        warnings.simplefilter("ignore")
        return solve_weights(A, g, alpha, **kwargs)


@SETTINGS
@given(problems())
def test_weights_finite_nonnegative_mean_one(problem):
    A, g, alpha = problem
    w, predicted = _solve(A, g, alpha)
    assert w.shape == (A.shape[0],)
    assert np.isfinite(w).all() and np.isfinite(predicted).all()
    assert w.min() >= 0.0
    assert abs(w.mean() - 1.0) < 1e-10


@SETTINGS
@given(problems())
def test_kkt_conditions_hold(problem):
    A, g, alpha = problem
    w, _ = _solve(A, g, alpha)
    stationarity, most_negative_mu = _kkt(w, A, g, alpha)
    assert stationarity < 1e-6
    assert most_negative_mu > -1e-6


@SETTINGS
@given(problems())
def test_predicted_gaps_are_the_linearisation(problem):
    A, g, alpha = problem
    w, predicted = _solve(A, g, alpha)
    np.testing.assert_allclose(predicted, g + (w - 1.0) @ A, atol=1e-12)


@SETTINGS
@given(problems())
def test_never_worse_than_unit_weights(problem):
    # w = 1 is feasible, so the optimum's objective is at most its value.
    A, g, alpha = problem
    w, predicted = _solve(A, g, alpha)
    value = predicted @ predicted + alpha * np.mean((w - 1.0) ** 2)
    assert value <= g @ g * (1 + 1e-9) + 1e-15


@SETTINGS
@given(problems(), st.permutations(range(5)))
def test_permuting_rows_permutes_weights(problem, order):
    A, g, alpha = problem
    n = A.shape[0]
    perm = np.argsort(np.resize(np.asarray(order), n) * n + np.arange(n))
    w, _ = _solve(A, g, alpha)
    w_perm, _ = _solve(A[perm], g, alpha)
    np.testing.assert_allclose(w_perm, w[perm], atol=1e-7)


@pytest.mark.parametrize("n", [2, 10])
def test_zero_gaps_unit_weights(n):
    A = np.random.default_rng(0).standard_normal((n, 2)) / n
    w, _ = solve_weights(A, np.zeros(2), 0.1)
    np.testing.assert_allclose(w, 1.0)
