"""Inverse-HVP solvers and influence scores (model-agnostic, via adapters)."""

from ._scores import constraint_gradients, influence_scores
from ._solvers import (
    CGSolver,
    ExactSolver,
    LissaSolver,
    NotPositiveDefiniteError,
    resolve_solver,
)

__all__ = [
    "CGSolver",
    "ExactSolver",
    "LissaSolver",
    "NotPositiveDefiniteError",
    "constraint_gradients",
    "influence_scores",
    "resolve_solver",
]
