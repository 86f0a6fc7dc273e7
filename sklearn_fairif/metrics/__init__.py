"""Group fairness metrics of binary classifiers, with fairlearn's signatures.

The four gaps of the FairIF paper (AD, AOD, EOD, DP), a per-group report, and
scorers that receive the group labels through scikit-learn's metadata routing.
"""

from ._metrics import (
    accuracy_difference,
    average_odds_difference,
    demographic_parity_difference,
    equal_opportunity_difference,
)
from ._report import fairness_report
from ._scorers import make_fairness_scorer

__all__ = [
    "accuracy_difference",
    "average_odds_difference",
    "demographic_parity_difference",
    "equal_opportunity_difference",
    "fairness_report",
    "make_fairness_scorer",
]
