"""Does n_rounds > 1 close the residual gap that the first-order step leaves?

For each data set (seed 0, default alpha) and n_rounds in 1..3: the validation
surrogate gap predicted by the last linearisation, the one measured after the
refit, the hard validation AOD, and test accuracy / AOD.

Usage: python benchmarks/bench_rounds.py
"""

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import header, markdown_table  # noqa: E402

from sklearn_fairif import FairIFClassifier  # noqa: E402
from sklearn_fairif._cli import tabular_model  # noqa: E402
from sklearn_fairif.datasets import (  # noqa: E402
    load_adult,
    load_compas,
    load_german,
    make_biased_classification,
    train_val_test_split,
)
from sklearn_fairif.metrics import average_odds_difference  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "fairif_rounds.md"


def datasets():
    yield "adult", load_adult(return_X_y=True)
    yield "compas", load_compas(return_X_y=True)
    yield "german", load_german(return_X_y=True)
    for bias in ("group_size", "distribution_shift", "class_size"):
        yield f"synthetic {bias}", make_biased_classification(
            6000, bias=bias, random_state=0)


def main():
    warnings.filterwarnings("ignore", category=UserWarning)
    rows = []
    for name, (X, y, s) in datasets():
        X_tr, X_val, X_te, y_tr, y_val, y_te, _, s_val, s_te = train_val_test_split(
            X, y, s, random_state=0)
        model = tabular_model() if hasattr(X, "columns") else None
        for n_rounds in (1, 2, 3):
            clf = FairIFClassifier(model, n_rounds=n_rounds).fit(
                X_tr, y_tr, X_val=X_val, y_val=y_val, s_val=s_val)
            gaps = clf.validation_gaps_
            y_pred = clf.predict(X_te)
            aod = average_odds_difference(y_te, y_pred, sensitive_features=s_te)
            rows.append({
                "data": name, "n_rounds": n_rounds,
                "soft gap before": f"{np.abs(gaps['before']).sum():.4f}",
                "soft gap predicted": f"{np.abs(gaps['predicted']).sum():.4f}",
                "soft gap after": f"{np.abs(gaps['after']).sum():.4f}",
                "val AOD before": f"{np.abs(gaps['hard_before']).mean():.4f}",
                "val AOD after": f"{np.abs(gaps['hard_after']).mean():.4f}",
                "test acc": f"{np.mean(y_pred == np.asarray(y_te)):.4f}",
                "test AOD": f"{aod:.4f}",
            })
            print(rows[-1], flush=True)
    text = header("FairIF: residual gap against n_rounds (default alpha, seed 0)",
                  "python benchmarks/bench_rounds.py")
    text += markdown_table(rows, list(rows[0]))
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
