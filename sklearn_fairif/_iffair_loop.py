"""IFFair's state across weight updates: weights, trajectory, evaluations.

:class:`IFFairLoop` is built from values (the validation constraints and the
update parameters) and is fed what the estimator computes — influences,
constraint values and validation predictions — so it never touches a model or
an estimator. :meth:`IFFairLoop.history` returns what ``fit`` stores.
"""

from dataclasses import dataclass

import numpy as np

from ._iffair_rule import iffair_step
from ._objectives import FairnessConstraints, stack_constraints
from .utils._logging import emit

# Temperature of the soft accuracy the utility guard predicts. At 1 the soft
# accuracy of these low-confidence models is nearly linear in the margins, and
# the guard, which picks the changes it keeps, found changes that cost up to 7
# points of (hard) validation accuracy on COMPAS for 1 point of soft accuracy;
# at 0.25, with utility_tolerance=0.01, the validation accuracy fell by at most
# about 2 points on Adult, COMPAS and German.
UTILITY_TEMPERATURE = 0.25


def iffair_constraints(objective, y_val, s_val, *, temperature, surrogate,
                       random_state):
    """Per-group soft rates, plus the validation soft accuracy when labelled.

    Returns ``(groups, constraints)``: ``groups`` has one column per rate and
    group; ``constraints`` is ``groups`` with the soft accuracy of all rows
    stacked as one more column (the utility guard's), so one influence pass
    serves both.
    """
    options = {"temperature": temperature, "surrogate": surrogate,
               "random_state": random_state}
    groups = FairnessConstraints(objective, y_val, s_val, contrast="per_group",
                                 **options)
    if y_val is None:
        return groups, groups
    accuracy = FairnessConstraints(
        "accuracy_parity", y_val, np.zeros(len(y_val)), contrast="per_group",
        **{**options, "temperature": UTILITY_TEMPERATURE},
    )
    return groups, stack_constraints(groups, accuracy)


@dataclass
class IFFairHistory:
    """What an IFFair run leaves behind (stored by ``fit`` as attributes)."""

    weights: np.ndarray
    trajectory: np.ndarray
    n_updates: int
    gap_names: list
    group_rate_names: list
    validation_gaps: np.ndarray
    history: dict
    influence: np.ndarray
    disparity: np.ndarray


class IFFairLoop:
    """Weights, trajectory and evaluations of one IFFair run.

    Parameters
    ----------
    groups : FairnessConstraints
        Per-group soft rates (``contrast="per_group"``).
    y_val : ndarray of shape (m,) or None
        0/1 validation labels.
    n_samples : int
        Training-set size.
    variant, step_size, bounds, utility_tolerance
        The estimator's update parameters (see :class:`IFFairClassifier`).
    """

    def __init__(self, groups, y_val, n_samples, *, variant, step_size, bounds,
                 utility_tolerance):
        self.groups, self.y_val = groups, y_val
        self.variant, self.step_size, self.bounds = variant, step_size, bounds
        self.n_groups = groups.n_constraints
        self.rate_columns = {}
        for column, rate in enumerate(groups.rates):
            self.rate_columns.setdefault(rate, []).append(column)
        self.guarded = y_val is not None and utility_tolerance is not None
        self.utility_tolerance = utility_tolerance
        self.weights = np.ones(n_samples)
        self.trajectory = [self.weights.copy()]
        self.evaluations, self.updates = [], []
        self.reference_accuracy = None
        self.influence = self.disparity = None

    # -- evaluation -----------------------------------------------------------
    def evaluate(self, values, y_pred, epoch=None):
        """Record the model trained with the current weights.

        ``values`` are the stacked constraint values at its margins and
        ``y_pred`` its 0/1 validation predictions.
        """
        group_rates = values[: self.n_groups]
        soft_accuracy = values[self.n_groups] if self.y_val is not None else np.nan
        record = {
            "epoch": epoch,
            "group_rates": group_rates,
            "soft_gaps": self._gaps(group_rates),
            "hard_gaps": self._gaps(self.groups.hard_values(y_pred)),
            "val_accuracy": (np.nan if self.y_val is None
                             else float(np.mean(y_pred == self.y_val))),
            "val_soft_accuracy": float(soft_accuracy),
        }
        self.evaluations.append(record)
        return record

    def _gaps(self, rates):
        return np.array([
            np.max(rates[cols]) - np.min(rates[cols])
            for cols in self.rate_columns.values()
        ])

    def repeat_last_evaluation(self):
        """Reuse the last evaluation as the final one (the update changed nothing)."""
        self.evaluations.append(dict(self.evaluations[-1]))

    # -- one update -----------------------------------------------------------
    def update(self, influence, values, y_pred, epoch=None):
        """One weight update from influences at the current model.

        Returns whether the weights moved.
        """
        record = self.evaluate(values, y_pred, epoch)
        group_influence = influence[:, : self.n_groups]
        # Per rate: influence on the worse-off group minus the better-off.
        disparities = np.column_stack([
            group_influence[:, cols[np.argmin(values[cols])]]
            - group_influence[:, cols[np.argmax(values[cols])]]
            for cols in self.rate_columns.values()
        ])
        accuracy_influence, budget = None, np.inf
        if self.y_val is not None:
            accuracy_influence = influence[:, self.n_groups]
        if self.guarded:
            if self.reference_accuracy is None:
                self.reference_accuracy = record["val_soft_accuracy"]
            budget = (record["val_soft_accuracy"] - self.reference_accuracy
                      + self.utility_tolerance)
        new, info = iffair_step(
            self.weights, disparities, record["soft_gaps"],
            variant=self.variant, step_size=self.step_size, bounds=self.bounds,
            accuracy_influence=accuracy_influence, accuracy_budget=budget,
        )
        self.influence, self.disparity = group_influence, info.pop("disparity")
        self.updates.append(info)
        changed = not np.array_equal(new, self.weights)
        self.weights = new
        self.trajectory.append(new.copy())
        self._log(record, info, epoch)
        return changed

    def _log(self, record, info, epoch):
        where = "" if epoch is None else f" (epoch {epoch})"
        gaps = ", ".join(
            f"{rate} {gap:.4f}" for rate, gap in
            zip(self.rate_columns, record["hard_gaps"], strict=True)
        )
        emit("update", "IFFair",
             f"update {len(self.updates)}{where}: validation gaps {gaps}; "
             f"accuracy {record['val_accuracy']:.4f}; predicted gap change "
             f"{info['predicted_gap_change']:+.4f}, skipped {info['n_skipped']}, "
             f"step scale {info['step_scale']:.3f}",
             update=len(self.updates), epoch=epoch,
             gaps=dict(zip(self.rate_columns, record["hard_gaps"], strict=True)),
             accuracy=record["val_accuracy"],
             predicted_gap_change=info["predicted_gap_change"])

    # -- result -----------------------------------------------------------------
    def history(self):
        """Return the run as an :class:`IFFairHistory`."""
        n = len(self.weights)
        history = {
            key: [e[key] for e in self.evaluations]
            for key in ("epoch", "soft_gaps", "group_rates", "val_accuracy",
                        "val_soft_accuracy")
        }
        for key in ("predicted_gap_change", "predicted_accuracy_change",
                    "accuracy_budget", "n_skipped", "step_scale"):
            history[key] = [u[key] for u in self.updates]
        return IFFairHistory(
            weights=self.weights,
            trajectory=np.array(self.trajectory),
            n_updates=len(self.updates),
            gap_names=list(self.rate_columns),
            group_rate_names=list(self.groups.names),
            validation_gaps=np.array([e["hard_gaps"] for e in self.evaluations]),
            history=history,
            influence=(np.zeros((n, self.n_groups)) if self.influence is None
                       else self.influence),
            disparity=np.zeros(n) if self.disparity is None else self.disparity,
        )
