"""Fairer classifiers by influence-function reweighting of the training data.

The training set needs no sensitive attribute: only a small validation set carries
group labels. :class:`FairIFClassifier` estimates, with influence functions, how
up-weighting each training sample moves the fairness gaps measured on that
validation set, solves for sample weights that close the gaps, and refits.
:class:`IFFairClassifier` instead adjusts the weights step by step during
training, by each sample's influence disparity between the validation groups.
:class:`AlphaPathDisplay` plots how ``alpha`` was chosen (with matplotlib, which
is imported only when plotting).
"""

from ._display import AlphaPathDisplay
from ._fairif import FairIFClassifier
from ._iffair import IFFairClassifier
from ._validation_set import ValidationSet

__version__ = "0.1.0.dev0"

__all__ = [
    "AlphaPathDisplay",
    "FairIFClassifier",
    "IFFairClassifier",
    "ValidationSet",
    "__version__",
]
