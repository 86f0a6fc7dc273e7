"""Model-family adapters: one per family, behind the :class:`InfluenceAdapter` protocol.

The linear adapter is pure NumPy/SciPy; the skorch adapter imports torch only
when a network is actually wrapped (``SkorchAdapter`` is loaded on first access).
"""

from ._linear import LinearAdapter
from ._protocol import InfluenceAdapter, ModelFamily, RowTasks, row_blocks
from ._registry import (
    check_accepts_sample_weight,
    fit_weighted,
    get_adapter_class,
    make_adapter,
)

__all__ = [
    "InfluenceAdapter",
    "LinearAdapter",
    "ModelFamily",
    "RowTasks",
    "SkorchAdapter",
    "check_accepts_sample_weight",
    "fit_weighted",
    "get_adapter_class",
    "make_adapter",
    "row_blocks",
]


def __getattr__(name):
    # Lazy: importing the skorch adapter imports torch.
    if name == "SkorchAdapter":
        from ._torch import SkorchAdapter

        return SkorchAdapter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
