"""Influence of each training sample on the validation fairness constraints.

Sign convention (used throughout the library): an influence is the derivative of
a validation quantity with respect to *up-weighting* a training sample. With
training weights ``w`` (mean 1) in the mean objective
``(1/n) sum_i w_i s_i ell_i(theta) + R(theta)``, the implicit-function theorem
gives ``d theta / d w_i = -(1/n) H^-1 s_i grad ell_i``, hence

    influence[i, c] = d g_c / d w_i = -(1/n) grad g_c^T H^-1 s_i grad ell_i.

Cost trick: ``u_c = H^-1 grad g_c`` is solved once per constraint (k small), and
``influence[:, c] = -(1/n) s_i grad ell_i^T u_c`` is one pass over the data.
That pass is independent row by row: with ``n_jobs`` it runs as blocks of
rows through joblib (:func:`influence_dot`), on whatever backend
:func:`joblib.parallel_config` selects.
"""

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from scipy import sparse

from ..adapters._protocol import held_rows


def constraint_gradients(adapter, constraints, X_val):
    """Values ``g`` (k,) and parameter gradients (P, k) of the constraints.

    Parameters
    ----------
    adapter : adapter
        A fitted model behind the adapter protocol.
    constraints : FairnessConstraints
        The validation constraints.
    X_val : array-like
        Validation features, already in the adapter's input space.

    Returns
    -------
    gaps : ndarray of shape (k,)
    grad : array of shape (P, k)
        In the adapter's array type.
    """
    z = adapter.decision_function(X_val)
    G = constraints.grad_margins(z)
    return constraints.values(z), adapter.logit_vjp(X_val, G)


def influence_dot(adapter, U, n_jobs=None):
    """``adapter.influence_dot(U)`` (or ``grad_dot``), in joblib workers.

    Parameters
    ----------
    adapter : adapter
        A fitted model behind the adapter protocol.
    U : array of shape (P, k)
        The iHVP solutions ``u_c``, in the adapter's array type.
    n_jobs : int, default=None
        Blocks of training rows evaluated at once through
        :class:`joblib.Parallel` (``None``: 1 unless in a
        :func:`joblib.parallel_config` context; ``-1``: all processors, or a
        Dask cluster's cores under its backend). One block per job. With 1,
        or for an adapter without ``influence_dot_tasks`` (or declining with
        ``None``), the single pass of the adapter runs in this process.

    Returns
    -------
    dot : ndarray of shape (n_samples, k)
        Equal to the single pass up to rounding (the blocks evaluate the same
        rows with the same operations).
    """
    dot = getattr(adapter, "influence_dot", adapter.grad_dot)
    split = getattr(adapter, "influence_dot_tasks", None)
    n_blocks = effective_n_jobs(n_jobs)
    row_tasks = None if n_blocks == 1 or split is None else split(U, n_blocks)
    if row_tasks is None or len(row_tasks.tasks) < 2:
        return np.asarray(dot(U))
    blocks = Parallel(n_jobs=n_jobs)(
        delayed(function)(*args) for function, args in row_tasks.tasks)
    combine = row_tasks.combine or np.vstack
    return np.asarray(combine(blocks))


def influence_scores(adapter, constraints, X_val, solver, *, damping=0.0,
                     base_weight=None, progress=None, n_jobs=None):
    """Influence of every training sample on every constraint.

    Parameters
    ----------
    adapter : adapter
        A fitted model behind the adapter protocol.
    constraints : FairnessConstraints
        The validation constraints.
    X_val : array-like
        Validation features, already in the adapter's input space.
    solver : solver instance
        Computes ``(H + damping I)^-1 b``.
    damping : float, default=0.0
        Added to the Hessian's diagonal.
    base_weight : ndarray of shape (n_samples,), default=None
        The user's sample weights ``s_i``, which FairIF's weights multiply.
    progress : callable, default=None
        Passed to iterative solvers, called once per iteration.
    n_jobs : int, default=None
        Parallel blocks of training rows for the pass after the solve, see
        :func:`influence_dot`.

    Returns
    -------
    influence : ndarray of shape (n_samples, k)
        ``influence[i, c] = d g_c / d w_i`` at unit-mean weights.
    gaps : ndarray of shape (k,)
        The constraint values at the fitted model.
    """
    gaps, grad = constraint_gradients(adapter, constraints, X_val)
    u = solver.solve(adapter, grad, damping, progress=progress)
    # The (n, k) result is the largest array of the pass: it is scaled in
    # place (grad_dot returns a new array, see the adapter protocol), so the
    # pass holds one copy of it.
    influence = np.asarray(influence_dot(adapter, u, n_jobs), dtype=float)
    influence /= -adapter.n_samples
    if base_weight is not None:
        influence *= np.asarray(base_weight)[:, None]
    return influence, gaps


def parameter_shift(adapter, solver, D, *, damping=0.0, base_weight=None):
    """First-order change of the parameters for weight changes ``D``.

    ``delta[:, b] = -(1/n) H^-1 sum_i D[i, b] s_i grad ell_i``: the
    implicit-function prediction of ``theta(1 + D[:, b]) - theta(1)``, the
    same linearisation the influence makes. It needs the optional
    ``influence_dot_t`` adapter hook.

    Parameters
    ----------
    adapter : adapter
        A fitted model behind the adapter protocol, with ``influence_dot_t``.
    solver : solver instance
        Computes ``(H + damping I)^-1 b`` (an :class:`ExactSolver` that already
        solved on this adapter reuses its factorisation).
    D : ndarray of shape (n_samples,) or (n_samples, b), or sparse matrix
        Changes of FairIF's weights. A SciPy sparse (n_samples, b) matrix
        (a few rows) costs only the rows it holds with the linear and
        skorch adapters.
    damping : float, default=0.0
        Added to the Hessian's diagonal.
    base_weight : ndarray of shape (n_samples,), default=None
        The user's sample weights, which FairIF's weights multiply.

    Returns
    -------
    delta : ndarray of shape (n_params,) or (n_params, b)
        In NumPy, in the adapter's parameter order.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_fairif.adapters import make_adapter
    >>> from sklearn_fairif.influence import ExactSolver, parameter_shift
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    >>> adapter = make_adapter(LogisticRegression().fit(X, y), X, y)
    >>> parameter_shift(adapter, ExactSolver(), np.full(200, 0.1)).shape
    (4,)
    """
    if sparse.issparse(D):
        columns = sparse.csr_array(D, dtype=float)
        n_rows = np.count_nonzero(np.diff(columns.indptr))
        if not n_rows:  # no weight changed: no shift
            return np.zeros((adapter.n_params, D.shape[1]))
        if n_rows < D.shape[1]:
            # Fewer rows than columns (the selection's clipped corrections:
            # a few rows under a batch of candidates): the shift is linear in
            # D, so solve once per row and combine, D = E_rows @ D[rows].
            rows, on_rows = held_rows(columns)
            indptr = np.zeros(D.shape[0] + 1, dtype=np.int64)
            indptr[rows + 1] = 1
            unit = sparse.csr_array(
                (np.ones(len(rows)), np.arange(len(rows)), np.cumsum(indptr)),
                shape=(D.shape[0], len(rows)))
            return parameter_shift(adapter, solver, unit, damping=damping,
                                   base_weight=base_weight) @ on_rows
        if base_weight is not None:
            columns = sparse.csr_array(
                columns.multiply(np.asarray(base_weight)[:, None]))
    else:
        D = np.asarray(D, dtype=float)
        columns = D.reshape(len(D), -1)
        if base_weight is not None:
            columns = columns * np.asarray(base_weight)[:, None]
    rhs = adapter.from_numpy(adapter.influence_dot_t(columns))
    delta = -np.asarray(adapter.to_numpy(solver.solve(adapter, rhs, damping)),
                        dtype=float) / adapter.n_samples
    return delta.ravel() if getattr(D, "ndim", 2) == 1 else delta
