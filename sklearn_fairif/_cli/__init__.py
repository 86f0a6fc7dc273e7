"""The ``fairif`` command line: ERM vs FairIF on bundled data or on your own CSV.

``fairif demo`` runs on a bundled data set, ``fairif fit`` on a CSV file. Both
fit the model without weights (ERM) and with FairIF's weights, print their test
metrics side by side, and write a report folder: ``report.md``, a plot of
accuracy against fairness over ``alpha``, and a summary of who was reweighted.
``fit`` also saves the fitted model with joblib.

Bad input ends with one ``fairif: error: ...`` line on stderr and exit status 2.
"""

from ._main import main

__all__ = ["main"]
