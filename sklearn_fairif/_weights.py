"""The weight solver: sample weights that close the linearised fairness gaps.

Given the influence matrix ``A`` (n × k: the first-order change of each of the k
validation constraints per unit of extra weight on each training sample) and the
current constraint values ``g``, the weights solve

    minimise   sum_c (g_c + sum_i (w_i - 1) A[i, c])**2  +  alpha * mean((w - 1)**2)
    subject to w >= 0,  mean(w) = 1.

``alpha``'s scale: the first term is a squared gap in rate units (a gap of 0.1
contributes 0.01), the second is the mean squared weight change. ``alpha = 0.01``
therefore accepts a mean squared change of weights of 1 to close a gap of 0.1.

The primal has n variables but only k + 1 equality-type couplings, so we solve
its dual in k + 1 variables (one multiplier per constraint plus one for the mean):
each dual evaluation costs O(n k), and the weights are recovered in closed form
as a clipped affine function of the multipliers.
"""

import numpy as np
from scipy.optimize import minimize


def solve_weights(influence, gaps, alpha, *, current_weights=None, tol=1e-10,
                  max_iter=200):
    """Solve for fair sample weights.

    Parameters
    ----------
    influence : ndarray of shape (n_samples, n_constraints)
        ``influence[i, c]``: derivative of constraint ``c`` with respect to the
        weight of training sample ``i``, at ``current_weights``.
    gaps : ndarray of shape (n_constraints,)
        Constraint values at ``current_weights``.
    alpha : float
        Strength of the penalty on ``mean((w - 1)**2)``, > 0.
    current_weights : ndarray of shape (n_samples,), default=None
        Weights at which ``influence`` and ``gaps`` were computed (all ones when
        None). The linearisation is taken around them; the penalty stays
        anchored at 1.
    tol : float, default=1e-10
        Gradient tolerance of the dual solve.
    max_iter : int, default=200
        Iteration cap of the dual solve.

    Returns
    -------
    weights : ndarray of shape (n_samples,)
        Non-negative weights with mean 1.
    predicted_gaps : ndarray of shape (n_constraints,)
        The linearised constraint values at ``weights``.
    """
    A = np.asarray(influence, dtype=float)
    n, k = A.shape
    g = np.asarray(gaps, dtype=float)
    if current_weights is not None:
        g = g - (np.asarray(current_weights, dtype=float) - 1.0) @ A
    # Per-sample influences are O(1/n); n A keeps every quantity O(1). Stored
    # as (k + 1) contiguous rows, the layout the O(n k) products run fastest on.
    Bt = np.vstack([n * A.T, np.ones((1, n))])

    cache = {}

    def margins(x):
        # objective and hessian are evaluated at the same points: one O(n k)
        # product per point.
        key = x.tobytes()
        if key not in cache:
            cache.clear()
            cache[key] = x @ Bt
        return cache[key]

    def objective(x):
        # Negated dual, scaled so that the gradient is (alpha * kappa - r, -mean(delta)).
        t = margins(x)
        delta = np.maximum(-1.0, -t)
        psi = np.where(t <= 1.0, -(t**2), 1.0 - 2.0 * t)
        kappa = x[:k]
        f = 0.5 * alpha * kappa @ kappa - kappa @ g - psi.mean() / 2.0
        grad = -(Bt @ delta) / n
        grad[:k] += alpha * kappa - g
        return f, grad

    gram = Bt @ Bt.T

    def hessian(x):
        # The Gram matrix of the free rows, as the full one minus the clipped
        # rows (usually few): O(n) for the mask plus O(n_clipped k^2).
        clipped = Bt[:, margins(x) >= 1.0]
        H = (gram - clipped @ clipped.T) / n
        H[:k, :k] += alpha * np.eye(k)
        return H

    result = minimize(
        objective, np.zeros(k + 1), jac=True, hess=hessian, method="trust-exact",
        options={"gtol": tol, "maxiter": max_iter},
    )
    delta = np.maximum(-1.0, -margins(result.x))
    # The dual optimum makes mean(delta) = 0 up to tol; remove the remainder on
    # the free rows only, which keeps every weight non-negative.
    free = delta > -1.0
    if free.any():
        delta[free] -= delta.sum() / free.sum()
    weights = np.maximum(1.0 + delta, 0.0)
    delta = weights - 1.0
    return weights, g + delta @ A
