"""Model-family adapters: one per family, behind a common protocol.

The linear adapter is pure NumPy/SciPy; the torch/skorch adapter imports torch
only when a network is actually wrapped.
"""

from ._base import check_accepts_sample_weight, fit_weighted, get_adapter
from ._linear import LinearAdapter

__all__ = [
    "LinearAdapter",
    "check_accepts_sample_weight",
    "fit_weighted",
    "get_adapter",
]
