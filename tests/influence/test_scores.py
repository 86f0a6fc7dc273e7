"""influence_dot (the pass after the solves, in joblib blocks of rows) and
parameter_shift (the first-order parameter change, against refits)."""

import pickle

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from sklearn_fairif.adapters import LinearAdapter, RowTasks, make_adapter
from sklearn_fairif.influence import (
    CGSolver,
    ExactSolver,
    FairnessConstraints,
    compute_influence,
    influence_dot,
    parameter_shift,
)

FORMATS = {"dense": np.asarray, "csr": sparse.csr_matrix, "csc": sparse.csc_matrix}


@pytest.fixture
def split_small(monkeypatch):
    """Let the linear adapter split these small problems too."""
    monkeypatch.setattr(LinearAdapter, "min_split_products", 0)


def _adapter(fmt, class_weight=None, n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + rng.normal(size=n) > 0.5).astype(int)
    w = rng.uniform(0.5, 2.0, size=n)
    Xf = FORMATS[fmt](X)
    est = LogisticRegression(class_weight=class_weight).fit(Xf, y, sample_weight=w)
    return LinearAdapter(est, Xf, y, w), rng.normal(size=(5, 3))


@pytest.mark.parametrize("backend", ["threading", "loky"])
@pytest.mark.parametrize("class_weight", [None, "balanced"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_linear_blocks_equal_the_single_pass(fmt, class_weight, backend,
                                            split_small):
    adapter, U = _adapter(fmt, class_weight)
    serial = adapter.influence_dot(U)
    # Two jobs, as elsewhere in the suite: loky's workers are then reused.
    with joblib.parallel_config(backend=backend):
        parallel = influence_dot(adapter, U, n_jobs=2)
    # The same rows through the same operations: equal to the last bit here,
    # and the balanced correction's class totals taken over every block.
    assert_allclose(parallel, serial, rtol=1e-12, atol=0)
    if class_weight == "balanced":
        assert not np.allclose(serial, adapter.grad_dot(U))


def test_linear_tasks_carry_only_their_rows(split_small):
    adapter, U = _adapter("csc")
    row_tasks = adapter.influence_dot_tasks(U, 4)
    sizes = [args[0].shape[0] for _, args in row_tasks.tasks]
    assert sizes == [150] * 4
    # CSC is converted once: a row slice of CSR does not copy the whole matrix.
    assert all(args[0].format == "csr" for _, args in row_tasks.tasks)


class _Counting:
    """An adapter wrapper that counts the calls of the single pass."""

    def __init__(self, adapter):
        self.inner, self.calls = adapter, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def influence_dot(self, U):
        self.calls.append("single")
        return self.inner.influence_dot(U)

    def influence_dot_tasks(self, U, n_blocks):
        self.calls.append("tasks")
        return self.inner.influence_dot_tasks(U, n_blocks)


def test_a_small_linear_pass_is_not_split():
    adapter, U = _adapter("dense")
    assert adapter.influence_dot_tasks(U, 2) is None  # 600 x 4 x 3 products
    adapter.min_split_products = 600 * 4 * 3
    assert len(adapter.influence_dot_tasks(U, 2).tasks) == 2
    adapter.min_split_products += 1
    counting = _Counting(adapter)
    with joblib.parallel_config(backend="threading"):
        got = influence_dot(counting, U, n_jobs=2)
    assert counting.calls == ["tasks", "single"]
    assert_array_equal(got, adapter.influence_dot(U))


def test_one_job_runs_the_single_pass_without_tasks():
    adapter, U = _adapter("dense")
    counting = _Counting(adapter)
    assert_array_equal(influence_dot(counting, U), adapter.influence_dot(U))
    assert counting.calls == ["single"]


class _GradDotOnly:
    """A custom adapter with only the required grad_dot (no optional hooks)."""

    def __init__(self, adapter):
        self.n_samples, self.grad_dot = adapter.n_samples, adapter.grad_dot


def test_an_adapter_without_the_hook_keeps_the_single_pass():
    adapter, U = _adapter("dense")
    with joblib.parallel_config(backend="threading"):
        got = influence_dot(_GradDotOnly(adapter), U, n_jobs=2)
    assert_array_equal(got, adapter.grad_dot(U))


class _OneBlock:
    """An adapter whose split has a single block (e.g. one batch of rows)."""

    n_samples = 3

    def grad_dot(self, U):
        return np.zeros((3, 1))

    def influence_dot_tasks(self, U, n_blocks):
        return RowTasks([(np.ones, ((3, 1),))])


def test_a_single_block_is_not_sent_to_a_worker():
    with joblib.parallel_config(backend="threading"):
        got = influence_dot(_OneBlock(), np.zeros((2, 1)), n_jobs=2)
    assert_array_equal(got, np.zeros((3, 1)))  # the single pass, not the task


def test_combine_defaults_to_stacking_the_blocks(split_small):
    adapter, U = _adapter("dense")
    row_tasks = adapter.influence_dot_tasks(U, 2)

    class _Plain:
        n_samples = adapter.n_samples
        grad_dot = adapter.grad_dot

        def influence_dot_tasks(self, U, n_blocks):
            return RowTasks(row_tasks.tasks)

    with joblib.parallel_config(backend="threading"):
        got = influence_dot(_Plain(), U, n_jobs=2)
    assert_array_equal(got, adapter.grad_dot(U))


def test_compute_influence_passes_n_jobs_to_the_pass(biased_split, split_small):
    X, y, X_val, y_val, s_val = biased_split[:5]
    adapter = LinearAdapter(LogisticRegression().fit(X, y), X, y, np.ones(len(y)))
    constraints = FairnessConstraints("equalized_odds", y_val, s_val)
    serial = compute_influence(adapter, constraints, X_val)
    counting = _Counting(adapter)
    parallel = compute_influence(counting, constraints, X_val, n_jobs=2)
    assert counting.calls == ["tasks"]
    assert_allclose(parallel.influence, serial.influence, rtol=1e-12, atol=0)


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


def test_parameter_shift_of_a_sparse_batch_on_few_rows(biased_split):
    # The selection's clipped corrections: 12 columns on 3 rows are solved
    # as 3 (one per row) and combined; the same as the dense batch. No row
    # at all: no shift.
    X, y = biased_split[:2]
    adapter = make_adapter(LogisticRegression().fit(X, y), X, y)
    rng = np.random.default_rng(2)
    D = np.zeros((len(y), 12))
    D[[5, 40, 41]] = rng.standard_normal((3, 12))
    base = rng.uniform(0.5, 1.5, len(y))
    solves = []
    solver = CGSolver(tol=1e-12, max_iter=500)
    solve = solver.solve
    solver.solve = lambda a, b, damping: solves.append(b.shape[1]) or solve(
        a, b, damping)
    few = parameter_shift(adapter, solver, sparse.csr_array(D), base_weight=base)
    assert solves == [3]
    assert_allclose(few, parameter_shift(adapter, ExactSolver(), D,
                                         base_weight=base), rtol=1e-8, atol=1e-12)
    none = parameter_shift(adapter, ExactSolver(),
                           sparse.csr_array((len(y), 4)))
    assert none.shape == (adapter.n_params, 4) and not none.any()


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


def test_exact_solver_solves_for_an_unhashable_adapter(biased_split):
    X, y = biased_split[:2]
    inner = make_adapter(LogisticRegression().fit(X, y), X, y)

    class Unhashable:
        __hash__ = None  # e.g. a dataclass with eq=True

        def __getattr__(self, name):
            return getattr(inner, name)

    b = np.ones((inner.n_params, 1))
    assert_allclose(ExactSolver().solve(Unhashable(), b, 1e-3),
                    ExactSolver().solve(inner, b, 1e-3))
