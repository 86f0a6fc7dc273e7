"""The ``fairif`` command line: ERM vs FairIF on bundled data or on your own CSV.

``fairif demo`` runs on a bundled data set, ``fairif fit`` on a CSV file. Both
fit the model without weights (ERM) and with FairIF's weights, print their test
metrics side by side, and write a report folder: ``report.md``, plots of
accuracy against fairness over ``alpha`` and of both against ``alpha``
(``alpha_path.png``), and a summary of who was reweighted.
``fit`` also saves the fitted model with joblib.

Exit status: 0 on success; 2 on bad input or any failure, after exactly one
``fairif: error: ...`` line on stderr (never a traceback); 130 when interrupted.
Every output path is checked before anything is fitted: a run never writes over a
file it did not create unless ``--overwrite`` is given, and never over one of its
input files. The saved model predicts the CSV's own labels.
"""

from ._main import main

__all__ = ["main"]
