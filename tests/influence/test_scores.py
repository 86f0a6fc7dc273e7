"""parameter_shift: the first-order parameter change, against refits."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.linear_model import LogisticRegression

from sklearn_fairif.adapters import make_adapter
from sklearn_fairif.influence import ExactSolver, parameter_shift


def _theta(est):
    return np.concatenate([est.coef_.ravel(), est.intercept_])


@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_parameter_shift_predicts_a_refit_to_first_order(biased_split, class_weight):
    X, y = biased_split[:2]
    rng = np.random.default_rng(0)
    base = rng.uniform(0.5, 1.5, len(y))
    est = LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000,
                             class_weight=class_weight)
    fitted = est.fit(X, y, sample_weight=base)
    adapter = make_adapter(fitted, X, y, base)
    direction = rng.standard_normal(len(y))
    errors = []
    for eps in (1e-2, 1e-3):
        D = eps * direction
        refit = LogisticRegression(**est.get_params()).fit(
            X, y, sample_weight=base * (1 + D))
        moved = _theta(refit) - _theta(fitted)
        predicted = parameter_shift(adapter, ExactSolver(), D, base_weight=base)
        errors.append(np.abs(predicted - moved).max() / np.abs(moved).max())
    # First order: the relative error falls with eps (about tenfold).
    assert errors[1] < 0.2 * errors[0] and errors[1] < 1e-2


def test_parameter_shift_is_linear_and_batched(biased_split):
    X, y = biased_split[:2]
    adapter = make_adapter(LogisticRegression().fit(X, y), X, y)
    D = np.random.default_rng(1).standard_normal((len(y), 3))
    both = parameter_shift(adapter, ExactSolver(), D)
    assert both.shape == (adapter.n_params, 3)
    assert_allclose(both[:, 1], parameter_shift(adapter, ExactSolver(), D[:, 1]),
                    rtol=1e-12)


def test_exact_solver_reuses_its_factor_and_does_not_pickle_it(biased_split):
    X, y = biased_split[:2]
    adapter = make_adapter(LogisticRegression().fit(X, y), X, y)
    solver = ExactSolver()
    b = np.ones((adapter.n_params, 1))
    first = solver.solve(adapter, b, 1e-3)
    calls = []
    hessian = adapter.hessian
    adapter.hessian = lambda: calls.append(1) or hessian()
    assert_allclose(solver.solve(adapter, b, 1e-3), first)
    assert calls == []  # same adapter and damping: the factor is reused
    solver.solve(adapter, b, 1e-2)
    assert calls == [1]  # another damping: refactored
    assert "_factors" not in pickle.loads(pickle.dumps(solver)).__dict__
