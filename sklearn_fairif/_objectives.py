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
"""

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

    Attributes
    ----------
    names : list of str
        One readable name per constraint, e.g. ``"tpr[0] - tpr[1]"``.
    V, T : ndarray of shape (m, k)
        Row weights and signs, see the module docstring.
    """

    def __init__(self, objective, y_val, s_val, *, temperature=1.0,
                 surrogate="softmax", random_state=None):
        self.temperature = temperature
        self.surrogate = surrogate
        s_val = np.asarray(s_val)
        groups = np.unique(s_val)
        m = len(s_val)
        y = np.zeros(m) if y_val is None else np.asarray(y_val, dtype=float)
        names, V, T = [], [], []
        for rate in OBJECTIVES[objective]:
            rows_of, sign_of = _RATES[rate]
            rows = rows_of(y)
            for name, v in _group_contrasts(rate, rows, s_val, groups):
                names.append(name)
                V.append(v)
                T.append(sign_of(y))
        self.names = names
        self.V = np.column_stack(V)
        self.T = np.column_stack(T)
        self._noise = None
        if surrogate == "gumbel":
            # Fixed draws: the objective stays a deterministic function of z,
            # so gradients, predictions and refits all see the same surrogate.
            rng = np.random.default_rng(random_state)
            self._noise = rng.logistic(size=(N_GUMBEL_DRAWS, m))

    @property
    def n_constraints(self):
        """Number of constraints ``k``."""
        return self.V.shape[1]

    def _soft(self, z):
        """Soft indicators, shape (draws, m, k)."""
        z = np.asarray(z, dtype=float)[None, :]
        if self._noise is not None:
            z = z + self._noise
        return expit(self.T[None] * z[:, :, None] / self.temperature)

    def values(self, z):
        """Soft constraint values ``g`` of shape (k,) at margins ``z``."""
        return np.einsum("jc,djc->c", self.V, self._soft(z)) / self._n_draws

    def grad_margins(self, z):
        """Jacobian ``dg / dz`` of shape (m, k) at margins ``z``."""
        p = self._soft(z)
        dp = (p * (1.0 - p)).mean(axis=0)
        return self.V * self.T * dp / self.temperature

    def hard_values(self, y_pred):
        """Constraint values with hard 0/1 predictions ``y_pred``."""
        predicted_positive = (np.asarray(y_pred) == 1)[:, None]
        hit = np.where(self.T > 0, predicted_positive, ~predicted_positive)
        return (self.V * hit).sum(axis=0)

    @property
    def _n_draws(self):
        return 1 if self._noise is None else self._noise.shape[0]


def _group_contrasts(rate, rows, s_val, groups):
    """Yield ``(name, v)`` pairs contrasting the groups on one rate.

    Two groups give one constraint (group 0 minus group 1, as in the paper);
    ``G > 2`` groups give one per group, each against the validation-wide rate,
    so that driving all of them to zero equalises every group.
    """
    cell = _CELL_NAMES[rate]
    means = {}
    for g in groups:
        mask = rows & (s_val == g)
        if not mask.any():
            label = g.item() if isinstance(g, np.generic) else g
            raise ValueError(
                f"Group {label!r} has no {cell + ' ' if cell else ''}rows in the "
                f"validation set, so its {rate} is undefined. Use a larger "
                "validation set or an objective that does not need this rate."
            )
        means[g] = mask / mask.sum()
    if len(groups) == 2:
        a, b = groups
        yield f"{rate}[{a}] - {rate}[{b}]", means[a] - means[b]
        return
    overall = rows / rows.sum()
    for g in groups:
        yield f"{rate}[{g}] - {rate}[all]", means[g] - overall
