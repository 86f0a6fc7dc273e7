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

import warnings

import numpy as np
from scipy.optimize import brentq
from sklearn.exceptions import ConvergenceWarning


def solve_weights(influence, gaps, alpha, *, current_weights=None, tol=1e-13,
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
    tol : float, default=1e-13
        Tolerance on the dual gradient, i.e. on ``alpha * kappa - r`` (gap
        units) and on ``mean(w) - 1``. Newton converges quadratically, so a
        tight value costs one or two extra O(n k) iterations.
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
    g = np.asarray(gaps, dtype=float)
    if current_weights is not None:
        g = g - (np.asarray(current_weights, dtype=float) - 1.0) @ A
    weights, predicted, _ = _solve(_Dual(A, g, alpha), None, tol=tol,
                                   max_iter=max_iter)
    return weights, predicted


class WeightPath:
    """The weight problem of one (influence, gaps) solved along many alphas.

    Each :meth:`solve` starts Newton from the previous alpha's multipliers
    (scaled for the new alpha) and reuses the problem's Gram matrix, so a
    scan over a grid of alphas costs a few O(n k) iterations per value.
    ``solve(alpha)`` returns what :func:`solve_weights` returns.
    """

    def __init__(self, influence, gaps):
        self._dual = _Dual(np.asarray(influence, dtype=float),
                           np.asarray(gaps, dtype=float), None)
        self._x = self._alpha = None

    def solve(self, alpha, *, tol=1e-13, max_iter=200):
        """Return ``(weights, predicted_gaps)`` at ``alpha``."""
        start = None
        if self._x is not None:
            # kappa = r / alpha at the optimum: rescale it for the new alpha.
            start = self._x.copy()
            start[:-1] *= self._alpha / alpha
        self._dual.alpha = alpha
        weights, predicted, self._x = _solve(self._dual, start, tol=tol,
                                             max_iter=max_iter)
        self._alpha = alpha
        return weights, predicted


def _solve(dual, x0, *, tol, max_iter):
    """Solve the dual from ``x0`` (zeros when None); return weights, gaps, x."""
    k = dual.k
    x = _newton(dual, np.zeros(k + 1) if x0 is None else x0, tol=tol,
                max_iter=max_iter)
    delta = _clip(x @ dual.Bt)
    if abs(delta.mean()) > 1e-12:
        # Stopped early: re-solve the mean multiplier exactly for the final
        # kappa, so that mean(w) = 1 and w >= 0 hold whatever happened.
        t = x[:k] @ dual.Bt[:k]
        delta = _clip(t + _mean_multiplier(t))
    # The last rounding error of the mean, spread over the free rows (the exact
    # shift of nu for the final active set).
    free = delta > -1.0
    delta[free] -= delta.sum() / max(free.sum(), 1)
    delta = np.maximum(delta, -1.0)
    return 1.0 + delta, dual.g + delta @ dual.A, x


class _Dual:
    """The negated, rescaled dual of the weight problem.

    With ``b_i = n A[i]`` and multipliers ``x = (kappa, nu)`` (one per
    constraint, one for the mean), the primal minimiser is
    ``delta_i = max(-1, -(b_i . kappa + nu))`` and the function minimised is

        f(x) = alpha/2 |kappa|^2 - kappa . g - (1/2n) sum_i psi(b_i . kappa + nu),
        psi(t) = -t^2 if t <= 1 else 1 - 2t,

    convex and C^1 with gradient ``(alpha kappa - r, -mean(delta))`` (``r`` the
    predicted gaps); at its minimum ``r = alpha kappa`` and ``mean(delta) = 0``.
    """

    def __init__(self, A, g, alpha):
        n, self.k = A.shape
        self.A, self.g, self.alpha, self.n = A, g, alpha, n
        # n A keeps every quantity O(1); (k + 1) contiguous rows are the layout
        # the O(n k) products run fastest on.
        self.Bt = np.vstack([n * A.T, np.ones((1, n))])
        self.gram = self.Bt @ self.Bt.T

    def value_grad(self, x):
        t = x @ self.Bt
        delta = _clip(t)
        # psi(t) = -t^2 (t <= 1) or 1 - 2t (t > 1) is delta * (2t + delta)
        # with delta = max(-1, -t): one pass fewer than np.where.
        psi = delta * (2.0 * t + delta)
        kappa = x[: self.k]
        f = 0.5 * self.alpha * kappa @ kappa - kappa @ self.g - psi.mean() / 2.0
        grad = -(self.Bt @ delta) / self.n
        grad[: self.k] += self.alpha * kappa - self.g
        return f, grad, t

    def hessian(self, t):
        # Gram matrix of the free rows = full Gram minus the (usually few)
        # clipped rows: O(n) for the mask plus O(n_clipped k^2).
        clipped = self.Bt[:, t >= 1.0]
        H = (self.gram - clipped @ clipped.T) / self.n
        H[: self.k, : self.k] += self.alpha * np.eye(self.k)
        return H


def _newton(dual, x, *, tol, max_iter):
    """Semismooth Newton with Armijo backtracking on the convex dual.

    scipy's trust-region methods stall on this piecewise-quadratic function when
    most weights are clipped at 0 (its Hessian is then nearly singular); a
    regularised Newton step with a line search converges in a few iterations.
    """
    f, grad, t = dual.value_grad(x)
    for _ in range(max_iter):
        if np.max(np.abs(grad)) <= tol:
            return x
        H = dual.hessian(t)
        H[np.diag_indices_from(H)] += 1e-10 * (1.0 + np.abs(np.diag(H)).max())
        step = -np.linalg.solve(H, grad)
        slope = grad @ step
        size = 1.0
        for _ in range(60):
            f_new, grad_new, t_new = dual.value_grad(x + size * step)
            # Near the optimum f's changes drop below its rounding error; a
            # full step that halves the gradient is then accepted as progress.
            if f_new <= f + 1e-4 * size * slope or (
                size == 1.0
                and np.max(np.abs(grad_new)) <= 0.5 * np.max(np.abs(grad))
            ):
                break
            size *= 0.5
        x = x + size * step
        f, grad, t = f_new, grad_new, t_new
        if size * np.max(np.abs(step)) <= 1e-15 * (1.0 + np.max(np.abs(x))):
            return x  # at machine precision: no further progress possible
    if np.max(np.abs(grad)) > tol:
        warnings.warn(
            f"The weight solver did not converge in max_iter={max_iter} "
            f"iterations (dual gradient {np.max(np.abs(grad)):.1e} > tol={tol}); "
            "the weights are feasible but not optimal.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return x


def _clip(t):
    """Primal weight changes ``delta = max(-1, -t)`` from dual margins ``t``."""
    return np.maximum(-1.0, -t)


def _mean_multiplier(t):
    """Solve ``mean(max(-1, -(t + nu))) = 0`` for the shift ``nu`` (monotone)."""
    if np.all(t == t[0]):
        return -t[0]
    return brentq(
        lambda nu: _clip(t + nu).mean(), -t.max(), 1.0 - t.min(),
        xtol=1e-15, rtol=4 * np.finfo(float).eps,
    )
