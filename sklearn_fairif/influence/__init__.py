"""Influence of training samples on validation fairness constraints.

:func:`compute_influence` is the entry point: from a fitted model behind the
adapter protocol (:func:`sklearn_fairif.adapters.make_adapter`) and a set of
:class:`FairnessConstraints`, it returns each training sample's influence on
each constraint. The iHVP solvers (:class:`ExactSolver`, :class:`CGSolver`,
:class:`LissaSolver`) configure how ``H^-1 grad g`` is solved, and
:func:`solve_weights` turns influences into fair sample weights.
"""

from .._objectives import FairnessConstraints, stack_constraints
from .._weights import solve_weights
from ._scores import (
    constraint_gradients,
    influence_dot,
    influence_scores,
    parameter_shift,
)
from ._service import InfluenceResult, compute_influence, resolve_solver
from ._solvers import (
    CGSolver,
    ExactSolver,
    LissaSolver,
    NotPositiveDefiniteError,
)

__all__ = [
    "CGSolver",
    "ExactSolver",
    "FairnessConstraints",
    "InfluenceResult",
    "LissaSolver",
    "NotPositiveDefiniteError",
    "compute_influence",
    "constraint_gradients",
    "influence_dot",
    "influence_scores",
    "parameter_shift",
    "resolve_solver",
    "solve_weights",
    "stack_constraints",
]
