"""Public helpers shared by the estimators, the command line and the benchmarks."""

from ._tabular import make_tabular_pipeline

__all__ = ["make_tabular_pipeline"]
