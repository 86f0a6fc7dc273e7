"""Inverse-Hessian-vector-product solvers: ``u = (H + damping I)^-1 b``.

Each solver is a small estimator-like object (``get_params``/``set_params``) so
that it can be configured and passed as ``FairIFClassifier(solver=CGSolver(...))``.
They touch the model only through the adapter protocol (``hvp``, ``hessian``,
``from_numpy``/``to_numpy``), so the conjugate-gradient and LiSSA iterations run
in the adapter's array type: NumPy for linear models, torch tensors on the
model's device for networks. The k right-hand sides (one per fairness
constraint) are solved together, one batched HVP per iteration.
"""

import numbers
import warnings
import weakref

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ..utils._warnings import external_stacklevel


class NotPositiveDefiniteError(ValueError):
    """The damped Hessian is not positive definite: more damping is needed."""


# No damping or solver setting helps here: the model or the data is at fault.
_NON_FINITE_HESSIAN = (
    "The Hessian at the fitted parameters is not finite: the model's training "
    "diverged (non-finite parameters) or a feature is so large that its square "
    "overflows. Check the estimator's fit (e.g. a smaller learning rate) or "
    "scale the features."
)


def _col_dot(a, b):
    """Column-wise inner products of two (P, k) arrays (NumPy or torch)."""
    return (a * b).sum(0)


def _is_finite(a):
    return bool(np.isfinite(float((a * a).sum())))


class ExactSolver(BaseEstimator):
    """Cholesky solve of the dense damped Hessian.

    Exact up to rounding; costs O(P^3) time and O(P^2) memory, so it is the
    choice for linear models with up to a few thousand parameters and for
    small networks.

    Examples
    --------
    >>> from sklearn_fairif.influence import ExactSolver
    >>> ExactSolver()
    ExactSolver()
    """

    def solve(self, adapter, b, damping=0.0, progress=None):
        """Return ``(H + damping I)^-1 b`` for ``b`` of shape (P, k).

        Parameters
        ----------
        adapter : adapter
            Gives ``hessian()``.
        b : array of shape (P, k)
            Right-hand sides, in the adapter's array type.
        damping : float, default=0.0
            Added to the Hessian's diagonal.
        progress : callable, default=None
            Unused (a single direct solve); accepted for a uniform interface.

        Returns
        -------
        u : array of shape (P, k)
        """
        factor = self._factor(adapter, damping)
        return adapter.from_numpy(cho_solve(factor, adapter.to_numpy(b)))

    def _factor(self, adapter, damping):
        """Cholesky factor of the damped Hessian, kept for the same adapter.

        A later solve on the same adapter and damping (e.g. the parameter
        shifts of the refits' warm starts) costs only the triangular solves.
        """
        # Keyed weakly by the adapter: the factor lives as long as the
        # adapter (one fit), and is never pickled with a fitted solver_.
        cache = self.__dict__.setdefault("_factors", weakref.WeakKeyDictionary())
        try:
            cached = cache.get(adapter)
        except TypeError:  # an unhashable or non-weakrefable custom adapter
            cache, cached = None, None
        if cached is not None and cached[0] == damping:
            return cached[1]
        H = np.array(adapter.to_numpy(adapter.hessian()), dtype=float)
        H[np.diag_indices_from(H)] += damping
        if not np.isfinite(H).all():
            raise ValueError(_NON_FINITE_HESSIAN)
        try:
            factor = cho_factor(H)
        except LinAlgError as exc:
            raise NotPositiveDefiniteError(
                "The damped Hessian is not positive definite (a non-convex model "
                "or an unregularised one on separable data); increase `damping` "
                "or use solver='cg'."
            ) from exc
        if cache is not None:
            cache[adapter] = (damping, factor)
        return factor

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_factors", None)
        return state


class CGSolver(BaseEstimator):
    """Matrix-free conjugate gradients on the damped Hessian.

    Needs only Hessian-vector products, so memory stays O(P k). The default for
    networks and for linear models with many features. Preconditioned by the
    Hessian's diagonal where the adapter gives it (linear models).

    Parameters
    ----------
    tol : float, default=1e-6
        Stop when every column's residual norm is below ``tol`` times its
        right-hand side's norm.
    max_iter : int, default=200
        Iteration cap; a ``ConvergenceWarning`` is issued when it is reached.
    hessian_samples : int, None or "auto", default="auto"
        Estimate the Hessian on a fixed random subset of this many training
        rows (the same rows in every iteration); the gradients and the
        per-sample influences still use every row. ``None`` uses all rows;
        ``"auto"`` leaves the choice to the model family (all rows for linear
        models, a subsample for networks: see the adapter's
        ``default_hessian_samples``).
    random_state : int, RandomState instance or None, default=None
        Seeds the ``hessian_samples`` subset (``None``: seed 0, so that
        repeated fits agree).

    Attributes
    ----------
    n_iter_ : int
        Iterations of the last solve.

    Examples
    --------
    >>> from sklearn_fairif.influence import CGSolver
    >>> CGSolver(tol=1e-8, max_iter=500, hessian_samples=5000)
    CGSolver(hessian_samples=5000, max_iter=500, tol=1e-08)
    """

    _parameter_constraints = {
        "tol": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "hessian_samples": [
            Interval(numbers.Integral, 1, None, closed="left"), None,
            StrOptions({"auto"}),
        ],
        "random_state": ["random_state"],
    }

    def __init__(self, tol=1e-6, max_iter=200, hessian_samples="auto",
                 random_state=None):
        self.tol = tol
        self.max_iter = max_iter
        self.hessian_samples = hessian_samples
        self.random_state = random_state

    def _hessian_batch(self, adapter):
        """Training rows of every HVP: ``None`` (all, or the adapter's default).

        With ``"auto"`` the adapter's own default applies: an adapter that
        subsamples by itself (a network's) is left to do so.
        """
        size = self.hessian_samples
        if size == "auto" or size is None or size >= adapter.n_samples:
            return None
        seed = 0 if self.random_state is None else self.random_state
        rng = check_random_state(seed)
        return np.sort(rng.choice(adapter.n_samples, size, replace=False))

    def solve(self, adapter, b, damping=0.0, progress=None):
        """Return ``(H + damping I)^-1 b`` for ``b`` of shape (P, k).

        Parameters
        ----------
        adapter : adapter
            Gives ``hvp``.
        b : array of shape (P, k)
            Right-hand sides, in the adapter's array type.
        damping : float, default=0.0
            Added to the Hessian's diagonal.
        progress : callable, default=None
            Called once per iteration (e.g. a tqdm ``update``).

        Returns
        -------
        u : array of shape (P, k)
        """
        self._validate_params()
        batch = self._hessian_batch(adapter)
        precondition = _jacobi(adapter, damping)
        x, r = b * 0.0, b
        p = precondition(r)
        rr = _col_dot(r, r)  # the stopping test: the residual's own norm
        rz = _col_dot(r, p)
        stop = (self.tol**2) * rr
        self.n_iter_ = 0
        # One host read per iteration (which columns are still active),
        # which also carries the previous step's curvature tests (non-positive,
        # non-finite): on a GPU every other read would be a device
        # synchronisation.
        bad = nonfinite = (rr * 0.0).sum() > 0  # none seen yet
        active = rr > stop
        converged = False
        for _ in range(self.max_iter):
            state, columns = _cg_state(active, bad, nonfinite)
            if state >= 2:
                break
            if state == 0:
                converged = True
                break
            Ap = _damped_hvp(adapter, p, damping, batch, columns)
            pAp = _col_dot(p, Ap)
            bad = ((pAp <= 0) & active).any()
            nonfinite = (pAp * 0.0 != 0.0).any()  # inf or NaN, NumPy or torch
            # Converged columns take a zero step; the guard avoids 0 / 0 there.
            step = rz / (pAp + ~active) * active
            x = x + p * step
            r = r - Ap * step
            z = precondition(r)
            rz_new = _col_dot(r, z)
            p = z + p * (rz_new / (rz + (rz == 0)))
            rz = rz_new
            rr = _col_dot(r, r)
            active = rr > stop
            self.n_iter_ += 1
            if progress is not None:
                progress()
        else:
            state, _ = _cg_state(active, bad, nonfinite)
        if state == 3:
            raise ValueError(_NON_FINITE_HESSIAN)
        if state == 2:
            raise NotPositiveDefiniteError(
                "Conjugate gradients met a direction of non-positive curvature:"
                " the damped Hessian is not positive definite (a non-convex "
                "model). Increase `damping`."
            )
        if not converged and state == 1:
            warnings.warn(
                f"CGSolver did not reach tol={self.tol} in max_iter="
                f"{self.max_iter} iterations; increase max_iter or damping.",
                ConvergenceWarning,
                stacklevel=external_stacklevel(),
            )
        return x


def _jacobi(adapter, damping):
    """Return the diagonal preconditioner ``r -> r / (diag(H) + damping)``.

    From the adapter's optional ``hessian_diagonal`` (the identity without
    it). One-hot features of rare categories give a linear model's Hessian
    a diagonal spread over orders of magnitude, which plain CG pays for in
    iterations.
    """
    diagonal = getattr(adapter, "hessian_diagonal", None)
    if diagonal is None:
        return lambda r: r
    diagonal = np.asarray(diagonal(), dtype=float) + damping
    if not np.isfinite(diagonal).all():
        raise ValueError(_NON_FINITE_HESSIAN)
    # A zero entry (an all-zero feature, no penalty, no damping) is left
    # unscaled rather than divided by.
    inverse = 1.0 / np.where(diagonal > 0, diagonal, 1.0)
    inverse = adapter.from_numpy(inverse[:, None])
    return lambda r: r * inverse


def _cg_state(active, bad, nonfinite):
    """``(state, columns)`` from one host read of CG's flags.

    ``state``: 3 after a non-finite curvature, 2 after a non-positive one,
    else 1 while a column is active, 0 when all have converged;
    ``columns``: the active columns, or None when all are.
    """
    # tolist: one read for a NumPy array or a tensor on any device.
    flags = np.asarray((active * 1 + bad * 2 + nonfinite * 4).tolist(),
                       dtype=int).reshape(-1)
    on = (flags % 2).astype(bool)
    first = flags[0] if flags.size else 0
    state = 3 if first >= 4 else 2 if first >= 2 else int(on.any())
    return state, None if on.all() else np.flatnonzero(on).tolist()


def _damped_hvp(adapter, p, damping, batch, columns):
    """``(H + damping I) p``, computed on ``columns`` only (zero elsewhere).

    A converged column (or an all-zero right-hand side) takes no further
    step, so its HVP would be wasted: the selection of ``alpha="auto"``
    solves many columns that converge at different iterations.
    """
    if columns is None:
        return adapter.hvp(p, batch=batch) + damping * p
    Ap = p * 0.0
    part = p[:, columns]
    Ap[:, columns] = adapter.hvp(part, batch=batch) + damping * part
    return Ap


class LissaSolver(BaseEstimator):
    """LiSSA: the stochastic Neumann-series estimate of the inverse HVP.

    Iterates ``h <- b + (I - (H_batch + damping I) / scale) h`` for ``depth``
    steps with mini-batch Hessians and returns ``h / scale``, averaged over
    ``repeats`` runs (Agarwal et al. 2017; the FairIF paper's solver). The
    series converges only when ``scale`` exceeds the largest eigenvalue of the
    damped Hessian; with ``scale=None`` that eigenvalue is estimated by power
    iteration and padded.

    Parameters
    ----------
    depth : int, default=1000
        Recursion depth per repeat.
    scale : float or None, default=None
        Must exceed the largest eigenvalue of ``H + damping I``.
    repeats : int, default=1
        Independent runs averaged.
    batch_size : int, default=256
        Rows per stochastic HVP; ``None`` uses the full data (deterministic).
    random_state : int, RandomState instance or None, default=None
        Mini-batch sampling.

    Examples
    --------
    >>> from sklearn_fairif.influence import LissaSolver
    >>> LissaSolver(depth=200, scale=10.0)
    LissaSolver(depth=200, scale=10.0)
    """

    _parameter_constraints = {
        "depth": [Interval(numbers.Integral, 1, None, closed="left")],
        "scale": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "repeats": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(self, depth=1000, scale=None, repeats=1, batch_size=256,
                 random_state=None):
        self.depth = depth
        self.scale = scale
        self.repeats = repeats
        self.batch_size = batch_size
        self.random_state = random_state

    def solve(self, adapter, b, damping=0.0, progress=None):
        """Return an estimate of ``(H + damping I)^-1 b``.

        Parameters
        ----------
        adapter : adapter
            Gives ``hvp`` (with mini-batches) and ``n_samples``.
        b : array of shape (P, k)
            Right-hand sides, in the adapter's array type.
        damping : float, default=0.0
            Added to the Hessian's diagonal.
        progress : callable, default=None
            Called once per recursion step.

        Returns
        -------
        u : array of shape (P, k)

        Raises
        ------
        FloatingPointError
            When the recursion diverges or produces NaN, with what to change.
        """
        self._validate_params()
        rng = check_random_state(self.random_state)
        scale = self.scale
        if scale is None:
            scale = 1.5 * (_largest_eigenvalue(adapter, b, rng) + damping)
            if not np.isfinite(scale):
                raise ValueError(_NON_FINITE_HESSIAN)
        self.scale_ = scale
        n = adapter.n_samples
        estimate = b * 0.0
        b_norm = float((b * b).sum()) ** 0.5
        stochastic = self.batch_size is not None and self.batch_size < n
        # Mini-batches without replacement, drawn for a whole repeat at once
        # by a Generator seeded from ``rng`` (O(batch) per step where
        # RandomState.choice is O(n)), and moved to the adapter's device in
        # one upload when it offers ``as_index``.
        draw = np.random.default_rng(rng.randint(2**32)) if stochastic else None
        as_index = getattr(adapter, "as_index", None)
        for _ in range(self.repeats):
            batches = [None] * self.depth
            if stochastic:
                batches = np.stack([
                    draw.choice(n, size=self.batch_size, replace=False)
                    for _ in range(self.depth)
                ])
                if as_index is not None:
                    batches = as_index(batches)
            h, change = b, None
            for t in range(self.depth):
                batch = batches[t]
                h_new = b + h - (adapter.hvp(h, batch=batch) + damping * h) / scale
                if t == self.depth - 1:  # read back once per repeat
                    change = ((h_new - h) ** 2).sum()
                h = h_new
                if progress is not None:
                    progress()
            change = float(change) ** 0.5
            # A convergent series moves by less than ||b|| per step (full batch;
            # far less near its limit): a larger last step means divergence,
            # even when it is too slow to overflow.
            if not _is_finite(h) or not change <= 10.0 * b_norm:
                raise FloatingPointError(
                    f"LiSSA diverged (scale={scale:.3g}): the recursion needs "
                    "scale > the largest eigenvalue of the damped Hessian. Increase "
                    "`scale` (or leave it None to estimate it), increase `damping`, "
                    "or use solver='cg'."
                )
            estimate = estimate + h / scale
        return estimate / self.repeats


def _largest_eigenvalue(adapter, b, rng, n_iter=30):
    """Power-iteration estimate of the largest Hessian eigenvalue.

    The iterates stay in the adapter's array type (on the device for a
    network): one host read at the end, not one per iteration.
    """
    v = adapter.from_numpy(rng.standard_normal((b.shape[0], 1)))
    v = v / ((v * v).sum() ** 0.5)
    for _ in range(n_iter - 1):
        w = adapter.hvp(v)
        v = w / ((w * w).sum() ** 0.5)
    # v has unit norm: its Rayleigh quotient is v . Hv.
    return float((adapter.hvp(v) * v).sum())
