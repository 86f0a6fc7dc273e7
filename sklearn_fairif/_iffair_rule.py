"""IFFair's update rule: one multiplicative weight step, and its projection.

Pure NumPy/SciPy functions of the influences; :mod:`._iffair_loop` keeps the
state across updates and the estimator decides when to call them. What is
reconstructed and why is in the user guide (IFFair section).
"""

import numpy as np
from scipy.optimize import brentq

# Every first-order prediction is trusted for half its length: the step goes
# half-way to the minimiser of the predicted squared gaps, and spends at most
# half of the remaining accuracy budget. Full steps oscillated around zero gap
# on Adult and overran the budget on COMPAS by a factor 2.
_DAMPING = 0.5


def iffair_step(weights, disparities, gaps, *, variant, step_size, bounds,
                accuracy_influence=None, accuracy_budget=np.inf):
    """One IFFair weight update (see :class:`IFFairClassifier`, Notes).

    Parameters
    ----------
    weights : ndarray of shape (n,)
        Current weights, mean 1, within ``bounds``.
    disparities : ndarray of shape (n, n_rates)
        Per rate, the influence of each weight on the worse-off group's rate
        minus that on the better-off group's: ``-d gap_r / d w_i``.
    gaps : ndarray of shape (n_rates,)
        The current soft gaps (better-off minus worse-off, >= 0).
    variant : {"uniform", "diverse"}
    step_size : float
    bounds : (float, float)
    accuracy_influence : ndarray of shape (n,), default=None
        Derivative of the validation soft accuracy with respect to each
        weight (used for the guard when ``accuracy_budget`` is finite, and
        reported).
    accuracy_budget : float, default=np.inf
        How much the soft accuracy may be predicted to fall; a negative
        budget asks for a predicted rise (after an overrun).

    Returns
    -------
    new_weights : ndarray of shape (n,)
    info : dict
        ``disparity`` (the combined ``d``), ``predicted_gap_change``,
        ``predicted_accuracy_change``, ``accuracy_budget``, ``n_skipped`` and
        ``step_scale``.
    """
    weights = np.asarray(weights, dtype=float)
    D = np.asarray(disparities, dtype=float).reshape(len(weights), -1)
    gaps = np.asarray(gaps, dtype=float)
    # Gradient of sum_r gap_r**2 / 2 (up to its scale): larger gaps pull harder.
    total = gaps.sum()
    d = D @ gaps / total if total > 0 else np.zeros(len(weights))
    if variant == "uniform":
        direction = np.sign(d)
    else:
        rms = np.sqrt(np.mean(d * d))
        direction = d / rms if rms > 0 else np.zeros_like(d)
    proposal = weights * np.exp(step_size * direction)
    guarded = accuracy_influence is not None and np.isfinite(accuracy_budget)
    n_skipped = 0
    if guarded:
        change = proposal - weights
        skip = _costliest(-change * accuracy_influence, change * d,
                          float(accuracy_budget))
        proposal[skip] = weights[skip]
        n_skipped = int(skip.sum())
    new = project_weights(proposal, *bounds)
    delta = new - weights
    # First-order change of each gap along the step, and the step length t
    # minimising the predicted sum of squared gaps (a gap overshooting past
    # zero counts again), damped by _DAMPING against the linearisation error.
    gap_slope = -(delta @ D)
    curvature = gap_slope @ gap_slope
    t_best = -(gaps @ gap_slope) / curvature if curvature > 0 else 0.0
    scale = float(np.clip(_DAMPING * t_best, 0.0, 1.0))
    accuracy_change = (0.0 if accuracy_influence is None
                       else float(delta @ accuracy_influence))
    allowed = _DAMPING * max(float(accuracy_budget), 0.0)
    if guarded and -scale * accuracy_change > allowed:
        scale = allowed / -accuracy_change
    new = weights + scale * delta if scale < 1 else new
    return new, {
        "disparity": d,
        "predicted_gap_change": float(
            np.abs(gaps + scale * gap_slope).sum() - gaps.sum()
        ),
        "predicted_accuracy_change": scale * accuracy_change,
        "accuracy_budget": float(accuracy_budget),
        "n_skipped": n_skipped,
        "step_scale": scale,
    }


def _costliest(cost, benefit, allowed):
    """Mask of the changes to skip so that the summed ``cost`` is <= ``allowed``.

    Only changes with a positive cost are skipped, the highest cost per unit
    of benefit first (a change with no benefit first of all).
    """
    skip = np.zeros(len(cost), dtype=bool)
    excess = cost.sum() - allowed
    if excess <= 0:
        return skip
    costly = np.flatnonzero(cost > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(benefit[costly] > 0, cost[costly] / benefit[costly], np.inf)
    order = costly[np.argsort(-ratio, kind="stable")]
    removed = np.cumsum(cost[order])
    n = min(int(np.searchsorted(removed, excess)) + 1, len(order))
    skip[order[:n]] = True
    return skip


def project_weights(weights, lower, upper):
    """``clip(c * weights, lower, upper)`` with ``c`` such that the mean is 1.

    Parameters
    ----------
    weights : ndarray of shape (n,)
        Positive weights.
    lower, upper : float
        Bounds with ``lower <= 1 <= upper``.

    Returns
    -------
    projected : ndarray of shape (n,)
    """
    w = np.maximum(np.asarray(weights, dtype=float), np.finfo(float).tiny)

    def excess(log_c):
        return np.mean(np.clip(np.exp(log_c) * w, lower, upper)) - 1.0

    if abs(excess(0.0)) < 1e-15:
        return np.clip(w, lower, upper)
    # The scale c can be tiny or huge (a step of exp(50)): find it on a log
    # scale, where an absolute tolerance is a relative one on c.
    lo, hi = 0.0, 0.0
    while excess(lo) > 0:
        lo -= 1.0
    while excess(hi) < 0:
        hi += 1.0
    log_c = brentq(excess, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps)
    return np.clip(np.exp(log_c) * w, lower, upper)
