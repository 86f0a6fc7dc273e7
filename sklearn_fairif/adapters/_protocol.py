"""The adapter protocol: what the influence machinery needs from a model family.

An adapter wraps one *fitted* model together with its training data and exposes
the quantities of the maths (DESIGN §2) without the influence code knowing the
model type. The solvers and :func:`~sklearn_fairif.influence.compute_influence`
talk to models only through this protocol.

Adding a model family
---------------------
1. Write ``adapters/_<family>.py`` with a class that implements
   :class:`InfluenceAdapter` (the instance side) and the class-level hooks of
   :class:`ModelFamily` (``supports``, ``check_estimator``, ``fit``).
2. Add one line to ``_FAMILIES`` in ``adapters/_registry.py``: the module and
   class name, plus a cheap predicate when importing the module is costly
   (torch, say), so that ``import sklearn_fairif`` stays light.
3. Test it against finite differences and refits (``tests/adapters/``).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from scipy import sparse


@runtime_checkable
class InfluenceAdapter(Protocol):
    """One fitted model and its training data, as the influence code sees it.

    Attributes
    ----------
    n_samples : int
        Training-set size ``n``.
    n_params : int
        Number of parameters ``P`` the influence is taken over.
    default_solver : {"exact", "cg", "lissa"}
        What ``solver="auto"`` resolves to.
    default_damping : float
        Where ``damping="auto"`` starts.
    default_hessian_samples : int or None
        Rows of the subsample ``hvp`` estimates the Hessian on when called
        without ``batch`` (what a solver's ``hessian_samples="auto"`` gets);
        ``None`` means every row.
    """

    n_samples: int
    n_params: int
    default_solver: str
    default_damping: float
    default_hessian_samples: int | None

    def decision_function(self, X):
        """Binary margins ``z`` (the positive class's logit), NumPy (m,)."""

    def logit_vjp(self, X, G):
        """``sum_j G[j, c] * grad_theta z_j`` per column: shape (P, k).

        With ``G = dg/dz`` this is the parameter gradient of each validation
        constraint. Returned in the adapter's array type.
        """

    def hvp(self, V, batch=None):
        """``H @ V`` (P × k) for the mean training objective's Hessian.

        The regulariser is included. ``batch`` (training-row indices) gives the
        estimate on those rows only: LiSSA's mini-batches and the solvers'
        fixed ``hessian_samples`` subset, which is passed unchanged to every
        call so that an adapter may cache its rows.
        """

    def hessian(self):
        """Dense ``H`` (P × P), for the exact solver (small P only)."""

    def grad_dot(self, U):
        """``grad ell_i . U[:, c]`` for every training row, NumPy (n, k).

        One pass over the data, never an n × P matrix. ``ell_i`` includes the
        model's own per-sample scaling (``class_weight``) but not the sample
        weights the adapter was built with: those enter the Hessian only.
        A new array each call, which the caller may overwrite (the influence
        pass scales it in place).
        """

    def to_numpy(self, a):
        """Return ``a`` as a NumPy array (moved off the device)."""

    def from_numpy(self, a):
        """Return ``a`` in the adapter's array type (on the model's device)."""


class ModelFamily(Protocol):
    """The class-level hooks of an adapter class (one per model family).

    ``influence_dot(U)`` is an optional instance method: the derivative of the
    weighted training gradient with respect to each sample's weight, dotted
    with ``U``; it defaults to ``grad_dot`` and differs only when the model
    rescales samples as a function of the weights (balanced class weights).
    ``influence_dot_t(D)`` is its optional transpose, ``sum_i D[i, b]`` times
    that derivative, shape (P, b), for a dense ``D`` or a SciPy sparse one
    (whose pass should touch only the rows it holds: the selection's
    corrections for weights clipped at 0), and ``logit_jvp(X, V)`` the optional
    transpose of ``logit_vjp`` (``grad z_j . V[:, c]``, shape (m, k)): with
    both and an exact solve, ``alpha="auto"`` predicts every validation
    margin under a weight change through one parameter shift
    (:func:`~sklearn_fairif.influence.parameter_shift`) instead of one
    influence column per tracked row.
    ``influence_dot_tasks(U, n_blocks)`` is another optional instance method:
    the pass of ``influence_dot`` (or ``grad_dot``) split over blocks of
    training rows, returned as :class:`RowTasks` (or ``None`` to keep the
    single pass, e.g. on an accelerator), which ``n_jobs`` runs through
    joblib. Without it the pass always runs in the calling process.
    ``hessian_diagonal()`` is an optional instance method: the diagonal of
    ``hessian()`` (P,), NumPy, cheap to compute;
    :class:`~sklearn_fairif.influence.CGSolver` then preconditions with it
    (Jacobi).
    ``columnwise_hvp`` is an optional instance attribute, ``True`` when
    ``hvp`` costs one pass over its rows per column of ``V`` (a network's
    double backward on the CPU) rather than one pass for all of them: the
    ``alpha="auto"`` scan then gives conjugate gradients one candidate at a
    time. It defaults to ``False``.
    ``prepare_fit_data(estimator, X, y01)`` is an optional hook that turns the
    0/1 targets and the inputs into what the family's ``fit`` expects.
    ``warm_fit(fitted, X, y, sample_weight)`` (refit from a solution) and
    ``displaced(fitted, delta)`` (a copy with the parameters moved by
    ``delta``, in the adapter's order) are optional hooks of convex families:
    with both, a refit starts from the first-order prediction of its solution.
    """

    @staticmethod
    def supports(estimator):
        """Whether the (unfitted) estimator belongs to this family."""

    @staticmethod
    def check_estimator(estimator):
        """Raise a clear error for settings without a smooth loss."""

    @staticmethod
    def fit(estimator, X, y, sample_weight, **fit_params):
        """Fit a clone of ``estimator`` (never mutated) with ``sample_weight``."""


@dataclass(frozen=True)
class RowTasks:
    """The influence pass of one adapter, split over blocks of training rows.

    What an adapter's optional ``influence_dot_tasks(U, n_blocks)`` returns.
    Each task carries only its block's rows (and what every block shares), so
    a process or cluster backend ships the training data once in all rather
    than once per block.

    Attributes
    ----------
    tasks : sequence of (callable, tuple)
        ``function(*args)`` gives one block's rows of ``grad_dot(U)``, NumPy
        ``(rows, k)``; blocks are contiguous and in row order. The functions
        must be picklable (module-level) for process-based backends.
    combine : callable, default=None
        Turns the list of block results into ``influence_dot(U)`` ``(n, k)``;
        ``None`` stacks them. Whole-data corrections (balanced class weights'
        class totals) belong here.
    """

    tasks: Sequence[tuple]
    combine: Callable | None = None


def row_blocks(n_rows, n_blocks, granularity=1):
    """At most ``n_blocks`` contiguous slices of ``range(n_rows)``, in order.

    Block edges fall on multiples of ``granularity`` (an adapter's batch size,
    so that each block evaluates the very batches of the single pass).

    Examples
    --------
    >>> from sklearn_fairif.adapters import row_blocks
    >>> row_blocks(10, 3)
    [slice(0, 3, None), slice(3, 6, None), slice(6, 10, None)]
    >>> row_blocks(10, 3, granularity=4)
    [slice(0, 4, None), slice(4, 8, None), slice(8, 10, None)]
    """
    units = -(-n_rows // granularity)  # ceil
    n_blocks = max(1, min(n_blocks, units))
    edges = [min(n_rows, granularity * (units * b // n_blocks))
             for b in range(n_blocks + 1)]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def held_rows(D):
    """Return the rows a sparse ``D`` (n, b) holds and ``D`` on them, dense.

    What an adapter's ``influence_dot_t`` passes over for a sparse ``D``
    (the selection's corrections for weights clipped at 0): ``(rows,
    D[rows])``, rows in increasing order.
    """
    D = sparse.csr_array(D, dtype=float)
    counts = np.diff(D.indptr)
    rows = np.flatnonzero(counts)
    # Scattered from the CSR arrays: SciPy's row indexing and toarray took
    # four times as long, and the selection calls this once per batch. A
    # bincount sums the entries a non-canonical D repeats, 5 times faster
    # than np.add.at.
    b = D.shape[1]
    flat = np.repeat(np.arange(len(rows)) * b, counts[rows]) + D.indices
    dense = np.bincount(flat, weights=D.data, minlength=len(rows) * b)
    # (An empty D's bincount is of ints.)
    return rows, dense.astype(float, copy=False).reshape(len(rows), b)
