"""The influence service: one call from a fitted adapter to the influence matrix.

It resolves and clones the solver (the caller's instance is never touched),
solves the iHVPs and owns the ``damping="auto"`` policy: start at the
adapter's ``default_damping`` and multiply by 10 while the solver reports a
damped Hessian that is not positive definite.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.base import clone

from ._scores import influence_scores
from ._solvers import CGSolver, ExactSolver, LissaSolver, NotPositiveDefiniteError

_SOLVERS = {"exact": ExactSolver, "cg": CGSolver, "lissa": LissaSolver}

# damping="auto" tries default_damping * 10**i for i < _AUTO_DAMPING_TRIES;
# from a default of 0 (an L2-regularised convex model) the first retry is
# _DAMPING_FLOOR.
_AUTO_DAMPING_TRIES = 5
_DAMPING_FLOOR = 1e-4


@dataclass(frozen=True)
class InfluenceResult:
    """What :func:`compute_influence` returns.

    Attributes
    ----------
    influence : ndarray of shape (n_samples, k)
        ``influence[i, c] = d g_c / d w_i``.
    gaps : ndarray of shape (k,)
        The constraint values at the fitted model.
    damping : float
        The damping the solve used.
    solver : solver instance
        The fitted solver clone (``n_iter_``, ``scale_`` ... set on it).
    """

    influence: np.ndarray
    gaps: np.ndarray
    damping: float
    solver: object


def resolve_solver(solver, adapter, *, random_state=None):
    """Return a fresh solver instance for ``adapter`` (a clone for instances).

    Parameters
    ----------
    solver : {"auto", "exact", "cg", "lissa"} or solver instance
        ``"auto"`` takes the adapter's ``default_solver``.
    adapter : InfluenceAdapter
    random_state : int, RandomState instance or None, default=None
        Set on a solver built from a name, when it takes one.

    Returns
    -------
    solver : solver instance
        Never the object passed in: solving writes ``n_iter_`` and the like.
    """
    if not isinstance(solver, str):
        return clone(solver)
    name = adapter.default_solver if solver == "auto" else solver
    instance = _SOLVERS[name]()
    if "random_state" in instance.get_params():
        instance.set_params(random_state=random_state)
    return instance


def compute_influence(adapter, constraints, X_val, solver="auto", *,
                      damping="auto", base_weight=None, random_state=None,
                      progress=None, n_jobs=None):
    """Influence of every training sample on every validation constraint.

    Parameters
    ----------
    adapter : InfluenceAdapter
        A fitted model behind the adapter protocol.
    constraints : FairnessConstraints
        The validation constraints (any object with ``values`` and
        ``grad_margins``).
    X_val : array-like
        Validation features, in the adapter's input space.
    solver : {"auto", "exact", "cg", "lissa"} or solver instance, default="auto"
        The iHVP solver; an instance is cloned, never modified.
    damping : float or "auto", default="auto"
        Added to the Hessian's diagonal. ``"auto"`` starts at the adapter's
        ``default_damping`` (0 for an L2-regularised linear model) and
        multiplies it by 10 (up to 4 times; from 0, the first retry is 1e-4)
        while the damped Hessian is not positive definite.
    base_weight : ndarray of shape (n_samples,), default=None
        The user's sample weights, which FairIF's weights multiply.
    random_state : int, RandomState instance or None, default=None
        For solvers built from a name (LiSSA's mini-batches, CG's Hessian
        subsample).
    progress : callable, default=None
        Called once per solver iteration.
    n_jobs : int, default=None
        After the solves, the pass over the training rows runs as this many
        blocks through joblib (``None``: 1 unless in a
        :func:`joblib.parallel_config` context; ``-1``: all processors, or a
        Dask cluster's cores), see :func:`influence_dot`. The solves run in
        this process.

    Returns
    -------
    result : InfluenceResult

    Raises
    ------
    NotPositiveDefiniteError
        When even the largest damping tried leaves the Hessian indefinite (or
        at once with a fixed ``damping``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_fairif.adapters import make_adapter
    >>> from sklearn_fairif.influence import FairnessConstraints, compute_influence
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    >>> adapter = make_adapter(LogisticRegression().fit(X, y), X, y)
    >>> s_val = rng.integers(0, 2, size=200)
    >>> constraints = FairnessConstraints("equalized_odds", y, s_val)
    >>> result = compute_influence(adapter, constraints, X)
    >>> result.influence.shape
    (200, 2)
    """
    auto = isinstance(damping, str) and damping == "auto"
    value = adapter.default_damping if auto else float(damping)
    tries = _AUTO_DAMPING_TRIES if auto else 1
    for attempt in range(tries):
        instance = resolve_solver(solver, adapter, random_state=random_state)
        try:
            influence, gaps = influence_scores(
                adapter, constraints, X_val, instance, damping=value,
                base_weight=base_weight, progress=progress, n_jobs=n_jobs,
            )
        except NotPositiveDefiniteError:
            if attempt == tries - 1:
                raise
            value = value * 10.0 if value > 0 else _DAMPING_FLOOR
            continue
        return InfluenceResult(influence, gaps, value, instance)
