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
its dual in k + 1 variables (one multiplier per constraint plus one for the mean),
and the weights are recovered in closed form as a clipped affine function of the
multipliers. The dual is quadratic but for the rows whose weight is clipped at 0,
so after one O(n k^2) Gram matrix and one sort of the rows, each evaluation
costs O(k^2) plus O(k) per row that *could* clip (see :class:`_Dual`), and a
scan over alphas can keep every solution in that low-rank form
(:meth:`WeightPath.solve_low_rank`).
"""

import warnings
from typing import NamedTuple

import numpy as np
from scipy import sparse
from scipy.optimize import brentq
from sklearn.exceptions import ConvergenceWarning

from .utils._warnings import external_stacklevel

# Entries of one block of clipped rows' outer products in the dual's Hessian
# (8 MB).
_OUTER_PRODUCT_VALUES = 1_000_000


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
    # One cold solve: sorting the rows for pruning costs more than it saves.
    weights, predicted = WeightPath(A[None], g[None], prune=False).solve(
        alpha, tol=tol, max_iter=max_iter)
    return weights[0], predicted[0]


class WeightPath:
    """Weight problems sharing n and k, solved together along many alphas.

    ``influence`` (p, n, k, or p arrays of shape (n, k)) and ``gaps`` (p, k)
    are p problems (the folds of the alpha selection). Each call solves every
    problem at one alpha or at a batch of them, all in lockstep (one batched
    Newton step for the whole grid of problems x alphas), starting from the
    last solutions extrapolated to each new alpha (:meth:`_start`); the
    Gram matrices and the row order are computed once.

    :meth:`solve` returns the weights; :meth:`solve_low_rank` returns them
    as ``w - 1 = -B x + c`` (:class:`LowRankChange`), ``B = [n A, 1]``
    (:meth:`basis`): ``(w - 1) @ V`` is then ``c @ V - x @ (B.T @ V)``,
    O((k + 1) c) given ``B.T @ V`` plus O(c) per clipped row, so a scan
    never forms an n-vector.
    """

    def __init__(self, influence, gaps, *, prune=True):
        # Read once, into the dual's (sorted) copy: the caller may drop them.
        self._dual = _Dual(influence, np.asarray(gaps, dtype=float), prune=prune)
        self._x = self._alpha = self._previous = None

    def _solve(self, alphas, tol, max_iter):
        """Multipliers of every problem at every alpha, (p, n_alphas, k + 1)."""
        alphas = np.asarray(alphas, dtype=float).reshape(-1)
        start = self._start(alphas)
        self._dual.alpha = alphas
        x = _newton(self._dual, start, tol=tol, max_iter=max_iter)
        # The last two alphas solved (a scan's smallest so far) start the next
        # call.
        if len(alphas) > 1:
            self._previous = (x[:, -2].copy(), alphas[-2])
        elif self._x is not None:
            self._previous = (self._x, self._alpha)
        self._x, self._alpha = x[:, -1].copy(), alphas[-1]
        return x

    def _start(self, alphas):
        """Newton's starts for ``alphas``, from the last solutions (p, a, k + 1).

        With two solutions known, each start is their extrapolation, linear
        in log(alpha); with one, its kappa rescaled (``kappa = r / alpha`` at
        the optimum). Along the selection's scan the extrapolation took a
        quarter fewer dual evaluations than the rescaling, each visiting
        about half as many candidate rows.
        """
        dual = self._dual
        if self._x is None:
            return np.zeros((dual.p, len(alphas), dual.k + 1))
        start = np.repeat(self._x[:, None, :], len(alphas), axis=1)
        if self._previous is not None and self._previous[1] != self._alpha:
            x_prev, alpha_prev = self._previous
            steps = np.log(alphas / self._alpha) / np.log(self._alpha / alpha_prev)
            return start + steps[None, :, None] * (self._x - x_prev)[:, None, :]
        start[..., :-1] *= (self._alpha / alphas)[None, :, None]
        return start

    def solve(self, alpha, *, tol=1e-13, max_iter=200):
        """Return ``(weights, predicted_gaps)`` at ``alpha``: (p, n) and (p, k)."""
        return _finish(self._dual, self._solve([alpha], tol, max_iter)[:, 0])

    def solve_low_rank(self, alphas, *, tol=1e-13, max_iter=200):
        """Return the weight changes at each of ``alphas``, one LowRankChange.

        At the dual optimum to ``tol``: ``mean(w) - 1`` is below ``tol``
        rather than rounded to zero as in :meth:`solve`.
        """
        dual = self._dual
        x = self._solve(alphas, tol, max_iter)
        excess, _ = dual._excess(x)
        # sum (w - 1)^2 = |B x|^2 less (t^2 - 1) = excess^2 + 2 excess on the
        # clipped rows.
        mean_sq = (np.einsum("pak,pak->pa", x, x @ dual.gram)
                   - np.einsum("pal,pal->pa", excess, excess)
                   - 2.0 * excess.sum(axis=-1)) / dual.n
        problem, alpha, position = _clipped_entries(excess)
        clipped = _csr(excess[problem, alpha, position],
                       dual.caller_rows(position), alpha * dual.p + problem,
                       shape=(dual.n, x.shape[1] * dual.p))
        return LowRankChange(x, clipped, mean_sq)

    def basis(self, i):
        """Problem ``i``'s ``B = [n A, 1]``, (n, k + 1), in the caller's order."""
        dual = self._dual
        if dual.order is None:
            return dual.Bt[i].T.copy()
        B = np.empty((dual.n, dual.k + 1))
        B[dual.order] = dual.Bt[i].T
        return B


class LowRankChange(NamedTuple):
    """Weight changes ``w - 1 = -B x + c`` of p problems at a alphas.

    See :class:`WeightPath`. ``c`` is zero but on the clipped rows (weight
    0), where it is ``b_i . x - 1``, so that ``w_i = 0`` there.

    Attributes
    ----------
    x : ndarray of shape (p, a, k + 1)
        The dual multipliers.
    clipped : scipy.sparse.csr_array of shape (n, a * p)
        Every ``c``: column ``j * p + i`` is problem ``i`` at alpha ``j``
        (problems varying fastest), rows in the caller's order.
    mean_sq : ndarray of shape (p, a)
        ``mean((w - 1)**2)``.
    """

    x: np.ndarray
    clipped: sparse.csr_array
    mean_sq: np.ndarray


def _finish(dual, x):
    """Weights and predicted gaps at the multipliers ``x``."""
    k = dual.k
    # The weight changes, in the dual's row order, transformed in place (a
    # fresh n-vector per step costs more than the arithmetic on it).
    delta = dual.margins(x[:, None, :])[:, 0]
    _clip(delta, out=delta)
    for i in np.flatnonzero(np.abs(delta.mean(axis=1)) > 1e-12):
        # Stopped early: re-solve the mean multiplier exactly for the final
        # kappa, so that mean(w) = 1 and w >= 0 hold whatever happened.
        t = x[i, :k] @ dual.Bt[i, :k]
        delta[i] = _clip(t + _mean_multiplier(t))
    # The last rounding error of the mean, spread over the free rows (the exact
    # shift of nu for the final active set).
    free = delta > -1.0
    shift = delta.sum(axis=1) / np.maximum(free.sum(axis=1), 1)
    np.subtract(delta, shift[:, None], out=delta, where=free)
    np.maximum(delta, -1.0, out=delta)
    predicted = dual.g + (dual.Bt[:, :k] @ delta[:, :, None])[:, :, 0] / dual.n
    delta += 1.0
    if dual.order is None:
        return delta, predicted
    weights = np.empty_like(delta)
    weights[:, dual.order] = delta  # back to the caller's row order
    return weights, predicted


class _Dual:
    """The negated, rescaled duals of p weight problems.

    With ``b_i = n A[i]`` and multipliers ``x = (kappa, nu)`` (one per
    constraint, one for the mean), the primal minimiser is
    ``delta_i = max(-1, -t_i)``, ``t_i = b_i . kappa + nu``, and the function
    minimised is

        f(x) = alpha/2 |kappa|^2 - kappa . g - (1/2n) sum_i psi(t_i),
        psi(t) = -t^2 if t <= 1 else 1 - 2t,

    convex and C^1 with gradient ``(alpha kappa - r, -mean(delta))`` (``r`` the
    predicted gaps); at its minimum ``r = alpha kappa`` and ``mean(delta) = 0``.
    Every method works on all p problems at a alphas at once: ``x`` is
    (p, a, k + 1), ``alpha`` (a,).

    Only the clipped rows (``t_i >= 1``, weight 0) make ``f`` non-quadratic:
    ``sum_i psi(t_i) = -x' Gram x + sum_clipped (t_i - 1)^2``. A row can clip
    only if ``|b_i| |kappa| + nu >= 1``, so with the rows sorted by ``|b_i|``
    (its largest over the problems; ``prune=True``) every evaluation touches
    a prefix of candidates (0-30% of Adult's rows at the alphas the
    selection scans, of which 0-2% clip) plus the (k+1)^2 Gram matrix, not
    all n. A single cold solve skips the O(n log n) sort and visits every
    row.
    """

    def __init__(self, A, g, *, prune=True):
        # A: (p, n, k), or p arrays of shape (n, k).
        self.p, (n, self.k) = len(A), np.shape(A[0])
        self.g, self.n = g, n
        self.alpha = None  # (a,): set per solve
        # B = [n A, 1] (n A keeps every quantity O(1)) as (k + 1) contiguous
        # rows per problem, the layout the O(n k) products run fastest on;
        # to prune, its columns sorted by their largest |b_i| over the
        # problems, largest first (``order``): one sort shared by the
        # problems (the folds' influences are much alike), and a row that
        # can clip in any problem lies in the prefix its |b_i| there gives.
        self.Bt = np.empty((self.p, self.k + 1, n))
        for i in range(self.p):
            np.multiply(np.asarray(A[i], dtype=float).T, n, out=self.Bt[i, : self.k])
        self.order = self.neg_sq_norms = None
        if prune:
            neg_sq = -np.einsum("pkn,pkn->pn", self.Bt[:, : self.k],
                                self.Bt[:, : self.k]).max(axis=0)
            self.order = np.argsort(neg_sq)
            self.neg_sq_norms = neg_sq[self.order]
            # take, not fancy indexing: 5 times faster along the last axis.
            self.Bt[:, : self.k] = np.take(self.Bt[:, : self.k], self.order, axis=2)
        self.Bt[:, self.k] = 1.0
        # einsum: twice as fast as matmul's batched product of thin matrices.
        self.gram = np.einsum("pkn,pln->pkl", self.Bt, self.Bt)
        self._last = None  # (x, excess, stop) of the last evaluation

    def caller_rows(self, positions):
        """Return the rows at ``positions`` of the sorted order, in the caller's."""
        return positions if self.order is None else self.order[positions]

    def margins(self, x, stop=None):
        """Dual margins ``t = B x`` of the first ``stop`` rows, (p, a, stop)."""
        return x @ self.Bt[:, :, :stop]

    def _n_candidates(self, x):
        """Rows (a prefix in the sorted order) that may clip at any ``x``."""
        if self.order is None:
            return self.n  # not pruned: every row
        kappa = x[..., : self.k]
        kappa_sq = np.einsum("pak,pak->pa", kappa, kappa)
        # |b_i| kappa + nu >= 1, with a margin for the rounding of t.
        need = 1.0 - 1e-9 - x[..., self.k]
        if np.any(need <= 0.0):
            return self.n
        # The least reach over problems and alphas bounds the shared prefix.
        with np.errstate(divide="ignore"):  # kappa = 0: no row can clip
            reach_sq = (need * need / kappa_sq).min()
        if reach_sq == np.inf:
            return 0
        return int(np.searchsorted(self.neg_sq_norms, -reach_sq, side="right"))

    def _excess(self, x):
        """Candidate rows' ``max(t - 1, 0)`` (nonzero on the clipped ones)."""
        if self._last is not None and np.array_equal(self._last[0], x):
            return self._last[1:]  # Newton's Hessian at the last point evaluated
        stop = self._n_candidates(x)
        excess = self.margins(x, stop)
        excess -= 1.0  # in place: the (p, a, stop) block is most of the work
        np.maximum(excess, 0.0, out=excess)
        self._last = (x.copy(), excess, stop)
        return excess, stop

    def value_grad(self, x):
        """Value (p, a) and gradient (p, a, k + 1) at the multipliers ``x``."""
        excess, stop = self._excess(x)
        gram_x = x @ self.gram  # the Gram matrices are symmetric
        # sum psi = -x' Gram x + |excess|^2 and B' delta = -Gram x + B' excess.
        psi_sum = np.einsum("pal,pal->pa", excess, excess) - np.einsum(
            "pak,pak->pa", x, gram_x)
        kappa = x[..., : self.k]
        f = (0.5 * self.alpha * np.einsum("pak,pak->pa", kappa, kappa)
             - np.einsum("pak,pk->pa", kappa, self.g) - psi_sum / (2.0 * self.n))
        grad = (gram_x - excess @ self.Bt[:, :, :stop].transpose(0, 2, 1)) / self.n
        grad[..., : self.k] += self.alpha[:, None] * kappa - self.g[:, None, :]
        return f, grad

    def hessian(self, x):
        """Hessian (p, a, k + 1, k + 1) at the multipliers ``x``."""
        # Gram matrix of the free rows = full Gram minus the (usually few)
        # clipped rows, all among the candidates.
        excess, _ = self._excess(x)
        H = self._clipped_gram(excess > 0.0) / self.n
        H[..., : self.k, : self.k] += self.alpha[:, None, None] * np.eye(self.k)
        return H

    def _clipped_gram(self, clipped):
        """Gram matrices of the free rows, (p, a, k + 1, k + 1).

        The clipped rows' outer products, once per position clipped in any
        problem at any alpha, summed by one product with the mask per block
        of positions (each block's products under _OUTER_PRODUCT_VALUES): a
        product per problem cost the 6,000-row selections twice as long in
        Python, and the outer products of every clipped entry at once were
        29 MB at 3e5 rows with 7% clipped.
        """
        p, a, _ = clipped.shape
        q = self.k + 1
        H = np.repeat(self.gram[:, None], a, axis=1)
        rows = np.flatnonzero(clipped.any(axis=(0, 1)))
        per_block = max(1, _OUTER_PRODUCT_VALUES // (p * q * q))
        for first in range(0, len(rows), per_block):
            block = rows[first:first + per_block]
            B = np.take(self.Bt, block, axis=2)  # (p, q, block)
            outer = np.empty((p, q, q, len(block)))  # C order: one copy, no strides
            np.multiply(B[:, :, None], B[:, None], out=outer)
            mask = np.take(clipped, block, axis=2).astype(float)  # (p, a, block)
            H -= (mask @ outer.reshape(p, q * q, -1).transpose(0, 2, 1)).reshape(
                p, a, q, q)
        return H


def _newton(dual, x, *, tol, max_iter):
    """Semismooth Newton with Armijo backtracking on the convex duals.

    scipy's trust-region methods stall on this piecewise-quadratic function when
    most weights are clipped at 0 (its Hessian is then nearly singular); a
    regularised Newton step with a line search converges in a few iterations.
    ``x`` is (p, a, k + 1): every problem at every alpha takes its own steps
    and step sizes; a converged one stays where it is while the others go on.
    """
    f, grad = dual.value_grad(x)
    done = np.zeros(x.shape[:2], dtype=bool)  # at machine precision
    for _ in range(max_iter):
        norm = np.abs(grad).max(axis=-1)
        moving = (norm > tol) & ~done
        if not moving.any():
            return x
        H = dual.hessian(x)
        diag = np.einsum("...ii->...i", H)
        diag += 1e-10 * (1.0 + np.abs(diag).max(axis=-1, keepdims=True))
        step = -np.linalg.solve(H, grad[..., None])[..., 0]
        step[~moving] = 0.0
        size, f, grad = _line_search(dual, x, step, f, grad, norm, moving)
        moved = size[..., None] * step
        x = x + moved
        done |= np.abs(moved).max(axis=-1) <= 1e-15 * (1.0 + np.abs(x).max(axis=-1))
    if np.any(np.abs(grad).max(axis=-1) > tol):
        warnings.warn(
            f"The weight solver did not converge in max_iter={max_iter} "
            f"iterations (dual gradient {np.max(np.abs(grad)):.1e} > tol={tol}); "
            "the weights are feasible but not optimal.",
            ConvergenceWarning,
            stacklevel=external_stacklevel(),
        )
    return x


def _line_search(dual, x, step, f, grad, norm, moving):
    """Armijo backtracking, per problem, along ``step``.

    Returns the step sizes and the value and gradient at ``x + size * step``
    (the next iterate's, so none is evaluated twice).
    """
    slope = np.einsum("...k,...k->...", grad, step)
    f_new, grad_new = dual.value_grad(x + step)
    # Near the optimum f's changes drop below its rounding error; a full
    # step that halves the gradient is then accepted as progress.
    # (Negated comparisons: a NaN is never accepted.)
    pending = moving & ~((f_new <= f + 1e-4 * slope)
                         | (np.abs(grad_new).max(axis=-1) <= 0.5 * norm))
    size = np.ones(x.shape[:2])
    for _ in range(60):
        if not pending.any():
            break
        size[pending] *= 0.5
        f_try, grad_try = dual.value_grad(x + size[..., None] * step)
        f_new[pending] = f_try[pending]
        grad_new[pending] = grad_try[pending]
        pending &= ~(f_new <= f + 1e-4 * size * slope)
    return size, f_new, grad_new


def _clipped_entries(excess):
    """``np.nonzero(excess)`` of a (p, a, rows) array: (problem, alpha, row).

    Through the flat indices of a boolean mask: numpy's n-dimensional
    nonzero took 15 times as long (0.5 ms for Adult's 5 x 4 x 8000).
    """
    _, a, rows = excess.shape
    flat = np.flatnonzero(excess > 0.0)
    problem_alpha, position = np.divmod(flat, rows)
    problem, alpha = np.divmod(problem_alpha, a)
    return problem, alpha, position


def _csr(data, rows, columns, shape):
    """Return the CSR array of the entries ``(rows, columns, data)``, none repeated.

    CSR because every consumer gathers the rows it holds (``held_rows``);
    built from its sorted arrays, a third of the time of SciPy's conversion
    from coordinates, paid once per batch of the selection's scan.
    """
    order = np.lexsort((columns, rows))
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    return sparse.csr_array((data[order], columns[order], indptr), shape=shape)


def _clip(t, out=None):
    """Primal weight changes ``delta = max(-1, -t)`` from dual margins ``t``."""
    delta = np.negative(t, out=out)
    return np.maximum(delta, -1.0, out=delta)


def _mean_multiplier(t):
    """Solve ``mean(max(-1, -(t + nu))) = 0`` for the shift ``nu`` (monotone)."""
    if np.all(t == t[0]):
        return -t[0]
    return brentq(
        lambda nu: _clip(t + nu).mean(), -t.max(), 1.0 - t.min(),
        xtol=1e-15, rtol=4 * np.finfo(float).eps,
    )
