"""Soft group rates on the validation set and the fairness constraints built on them.

Every quantity here is a function of the validation *margins* ``z`` (the binary
logit: ``decision_function`` for a linear model, ``z1 - z0`` for a two-logit
network head), so the same code serves every model family. A constraint ``c`` is

    g_c(z) = sum_j V[j, c] * sigma(T[j, c] * z_j / temperature)

where ``T[j, c]`` is ``+1`` when the rate counts row ``j`` as predicted positive
(TPR, selection rate), ``-1`` when it counts it as predicted negative (TNR), and
``V[j, c]`` holds ``+1 / n_cell`` for the rows of one group and ``-1 / n_cell``
for the rows it is compared with. Rates are means over the rows of each
group/class cell (never sums), so cells of different sizes weigh the same.

With ``contrast="per_group"`` a column is one group's rate itself (``V`` holds
``+1 / n_cell`` on that group's cell and 0 elsewhere) rather than a difference
of groups; IFFair needs these group-oriented quantities. A constant ``s_val``
then gives the validation-wide rate, e.g. the soft accuracy of all rows.
:func:`stack_constraints` puts several such sets side by side, so that one
influence computation serves all of them.
"""

import copy

import numpy as np
from scipy.special import expit

# Each rate: which validation rows it averages over and the per-row sign T.
# ``T = 2y - 1`` makes the soft accuracy sigma(z / tau) on positives and
# sigma(-z / tau) on negatives, i.e. the softmax probability of the true class.
_RATES = {
    "tpr": (lambda y: y == 1, lambda y: np.ones(len(y))),
    "tnr": (lambda y: y == 0, lambda y: -np.ones(len(y))),
    "accuracy": (lambda y: np.ones(len(y), dtype=bool), lambda y: 2.0 * y - 1.0),
    "selection_rate": (
        lambda y: np.ones(len(y), dtype=bool),
        lambda y: np.ones(len(y)),
    ),
}

OBJECTIVES = {
    "equalized_odds": ("tpr", "tnr"),
    "equal_opportunity": ("tpr",),
    "accuracy_parity": ("accuracy",),
    "error_rate_parity": ("accuracy",),
    "demographic_parity": ("selection_rate",),
}

# Objectives whose rates need validation labels.
NEEDS_LABELS = frozenset(
    name for name, rates in OBJECTIVES.items() if rates != ("selection_rate",)
)

_CELL_NAMES = {
    "tpr": "positive (y=1)",
    "tnr": "negative (y=0)",
    "accuracy": "",
    "selection_rate": "",
}

# Gumbel-softmax draws averaged per evaluation; enough that the averaged
# gradient is smooth, few enough that it stays O(m) cheap.
N_GUMBEL_DRAWS = 32


class FairnessConstraints:
    """The fairness constraints of one objective on one validation set.

    Parameters
    ----------
    objective : str
        A key of :data:`OBJECTIVES`.
    y_val : ndarray of shape (m,) or None
        Validation labels in {0, 1}; may be None for demographic parity.
    s_val : ndarray of shape (m,)
        Validation group labels (at least two groups).
    temperature : float
        Temperature ``tau`` of the soft rates.
    surrogate : {"softmax", "gumbel"}
        ``"gumbel"`` adds logistic noise (the difference of two Gumbel draws)
        to the margins before the sigmoid and averages over draws.
    random_state : RandomState
        Source of the Gumbel noise.
    contrast : {"pairwise", "per_group"}, default="pairwise"
        ``"pairwise"``: each column contrasts groups (the fairness gaps).
        ``"per_group"``: one column per rate and group, holding that group's
        soft rate (a single group gives the validation-wide rate).

    Attributes
    ----------
    names : list of str
        One readable name per constraint, e.g. ``"tpr[0] - tpr[1]"``, or
        ``"tpr[0]"`` with ``contrast="per_group"``.
    rates : list of str
        The rate of each column (``"tpr"``, ``"tnr"``, ``"accuracy"`` or
        ``"selection_rate"``).
    groups : list
        With ``contrast="per_group"``, the group of each column; ``None``
        entries otherwise.
    V, T : ndarray of shape (m, k)
        Row weights and signs, see the module docstring.
    signs : ndarray of shape (m, n_signs)
        The distinct columns of ``T``, one per rate (every column of a rate
        has the same signs): the sigmoids are computed once per column of
        ``signs``, not once per constraint.
    sign_of_column : ndarray of shape (k,)
        Each constraint's column of ``signs``: ``T = signs[:, sign_of_column]``.
    """

    def __init__(self, objective, y_val, s_val, *, temperature=1.0,
                 surrogate="softmax", random_state=None, contrast="pairwise"):
        if contrast not in ("pairwise", "per_group"):
            raise ValueError(
                f"contrast must be 'pairwise' or 'per_group', got {contrast!r}."
            )
        self.temperature = temperature
        self.surrogate = surrogate
        s_val = np.asarray(s_val)
        groups = np.unique(s_val)
        m = len(s_val)
        y = np.zeros(m) if y_val is None else np.asarray(y_val, dtype=float)
        columns = _group_contrasts if contrast == "pairwise" else _group_rates
        names, V, rates, column_groups, signs, of_column = [], [], [], [], [], []
        for rate in OBJECTIVES[objective]:
            rows_of, sign_of = _RATES[rate]
            rows = rows_of(y)
            signs.append(sign_of(y))
            for name, v, group in columns(rate, rows, s_val, groups):
                names.append(name)
                V.append(v)
                rates.append(rate)
                column_groups.append(group)
                of_column.append(len(signs) - 1)
        self.names = names
        self.rates = rates
        self.groups = column_groups
        self.V = np.column_stack(V)
        self.signs = np.column_stack(signs)
        self.sign_of_column = np.array(of_column)
        self._noise = None
        if surrogate == "gumbel":
            # Fixed draws: the objective stays a deterministic function of z,
            # so gradients, predictions and refits all see the same surrogate.
            rng = np.random.default_rng(random_state)
            self._noise = rng.logistic(size=(N_GUMBEL_DRAWS, m))

    @property
    def T(self):
        """Per-row signs of every constraint, shape (m, k)."""
        return self.signs[:, self.sign_of_column]

    @property
    def n_constraints(self):
        """Number of constraints ``k``."""
        return self.V.shape[1]

    def _soft(self, z):
        """Soft indicators of the sign columns, shape (draws, m, n_signs)."""
        z = np.asarray(z, dtype=float)[None, :]
        if self._noise is not None:
            z = z + self._noise
        return expit(self.signs[None] * z[:, :, None] / self.temperature)

    def values(self, z):
        """Soft constraint values ``g`` of shape (k,) at margins ``z``."""
        p = self._soft(z).mean(axis=0)
        return np.einsum("jc,jc->c", self.V, p[:, self.sign_of_column])

    def grad_margins(self, z):
        """Jacobian ``dg / dz`` of shape (m, k) at margins ``z``."""
        p = self._soft(z)
        dp = (p * (1.0 - p)).mean(axis=0)
        return self.V * (self.signs * dp)[:, self.sign_of_column] / self.temperature

    def hard_values(self, y_pred):
        """Constraint values with hard 0/1 predictions ``y_pred``."""
        predicted_positive = (np.asarray(y_pred) == 1)[:, None]
        hit = np.where(self.T > 0, predicted_positive, ~predicted_positive)
        return (self.V * hit).sum(axis=0)


def stack_constraints(first, *others):
    """Put the columns of several constraint sets side by side.

    One influence computation (one iHVP solve with all right-hand sides) then
    serves all of them. The sets must be built on the same validation rows
    with the same surrogate; the result uses the first set's Gumbel noise.
    Each set keeps its own temperature: ``sigma(T z / tau_b)`` is
    ``sigma((tau_a / tau_b) T z / tau_a)``, so its signs ``T`` are rescaled
    to the first set's temperature.

    Parameters
    ----------
    first, *others : FairnessConstraints

    Returns
    -------
    stacked : FairnessConstraints
        ``values``, ``grad_margins`` and ``hard_values`` return the columns of
        ``first`` followed by those of each of ``others``.
    """
    members = (first, *others)
    for other in others:
        if (other.V.shape[0] != first.V.shape[0]
                or other.surrogate != first.surrogate):
            raise ValueError(
                "Stacked constraints need the same validation rows and surrogate."
            )
    stacked = copy.copy(first)
    stacked.V = np.hstack([c.V for c in members])
    stacked.signs = np.hstack([c.signs * (first.temperature / c.temperature)
                               for c in members])
    offsets = np.cumsum([0] + [c.signs.shape[1] for c in members[:-1]])
    stacked.sign_of_column = np.concatenate(
        [c.sign_of_column + o for c, o in zip(members, offsets, strict=True)])
    stacked.names = [n for c in members for n in c.names]
    stacked.rates = [r for c in members for r in c.rates]
    stacked.groups = [g for c in members for g in c.groups]
    return stacked


def _cell_means(rate, rows, s_val, groups):
    """Each group's cell's row weights ``1 / n_cell``: row g, shape (G, m).

    Raises on an empty cell. One comparison for all groups: the cross-fitting
    plan has one group per (group, fold).
    """
    cells = (s_val == groups[:, None]) & rows
    counts = np.count_nonzero(cells, axis=1)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        g = groups[empty[0]]
        label = g.item() if isinstance(g, np.generic) else g
        cell = _CELL_NAMES[rate]
        raise ValueError(
            f"Group {label!r} has no {cell + ' ' if cell else ''}rows in the "
            f"validation set (s_val, y_val), so its {rate} is undefined. Use "
            "a larger validation set or an objective that does not need this "
            "rate."
        )
    return cells / counts[:, None]


def _group_rates(rate, rows, s_val, groups):
    """Yield ``(name, v, group)``: each group's own rate on one rate."""
    means = _cell_means(rate, rows, s_val, groups)
    for i, g in enumerate(groups):
        yield f"{rate}[{g}]", means[i], g


def _group_contrasts(rate, rows, s_val, groups):
    """Yield ``(name, v, None)`` triples contrasting the groups on one rate.

    Two groups give one constraint (group 0 minus group 1, as in the paper);
    ``G > 2`` groups give one per group, each against the validation-wide rate,
    so that driving all of them to zero equalises every group.
    """
    means = _cell_means(rate, rows, s_val, groups)
    if len(groups) == 2:
        a, b = groups
        yield f"{rate}[{a}] - {rate}[{b}]", means[0] - means[1], None
        return
    overall = rows / rows.sum()
    for i, g in enumerate(groups):
        yield f"{rate}[{g}] - {rate}[all]", means[i] - overall, None
