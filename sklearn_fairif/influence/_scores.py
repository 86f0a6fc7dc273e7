"""Influence of each training sample on the validation fairness constraints.

Sign convention (used throughout the library): an influence is the derivative of
a validation quantity with respect to *up-weighting* a training sample. With
training weights ``w`` (mean 1) in the mean objective
``(1/n) sum_i w_i s_i ell_i(theta) + R(theta)``, the implicit-function theorem
gives ``d theta / d w_i = -(1/n) H^-1 s_i grad ell_i``, hence

    influence[i, c] = d g_c / d w_i = -(1/n) grad g_c^T H^-1 s_i grad ell_i.

Cost trick: ``u_c = H^-1 grad g_c`` is solved once per constraint (k small), and
``influence[:, c] = -(1/n) s_i grad ell_i^T u_c`` is one pass over the data.
"""

import numpy as np


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


def influence_scores(adapter, constraints, X_val, solver, *, damping=0.0,
                     base_weight=None, progress=None):
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

    Returns
    -------
    influence : ndarray of shape (n_samples, k)
        ``influence[i, c] = d g_c / d w_i`` at unit-mean weights.
    gaps : ndarray of shape (k,)
        The constraint values at the fitted model.
    """
    gaps, grad = constraint_gradients(adapter, constraints, X_val)
    u = solver.solve(adapter, grad, damping, progress=progress)
    # Optional protocol hook: adapters whose internal per-sample scaling
    # depends on the weights (balanced class weights) correct grad_dot.
    dot = getattr(adapter, "influence_dot", adapter.grad_dot)
    # The (n, k) result is the largest array of the pass: it is scaled in
    # place (grad_dot returns a new array, see the adapter protocol), so the
    # pass holds one copy of it.
    influence = np.asarray(dot(u))
    influence /= -adapter.n_samples
    if base_weight is not None:
        if influence.dtype == np.float64:
            influence *= np.asarray(base_weight)[:, None]
        else:
            influence = influence * np.asarray(base_weight)[:, None]
    return influence, gaps
