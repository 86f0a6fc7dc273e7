"""Bundled fairness datasets, a biased synthetic generator and a split helper.

The Adult, COMPAS and German credit datasets load offline from compressed copies
of their public releases, verified against the raw files' SHA256 checksums.
"""

from ._loaders import load_adult, load_compas, load_german
from ._split import train_val_test_split
from ._synthetic import make_biased_classification

__all__ = [
    "load_adult",
    "load_compas",
    "load_german",
    "make_biased_classification",
    "train_val_test_split",
]
