"""Does n_rounds > 1 close the residual gap that the first-order step leaves?

For each data set (seed 0, default alpha) and n_rounds in 1..3: the validation
surrogate gap predicted by the last linearisation, the one measured after the
refit, the hard validation AOD, and test accuracy / AOD.

Writes ``fairif_rounds.md``.

Usage: python benchmarks/rounds.py --quick|--full [--out DIR]
"""

import os

os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

from dataclasses import dataclass

import numpy as np
from _common import load_split, main, table, write

from sklearn_fairif import FairIFClassifier
from sklearn_fairif.datasets import make_biased_classification, train_val_test_split
from sklearn_fairif.metrics import average_odds_difference
from sklearn_fairif.utils import make_tabular_pipeline

BIASES = ("group_size", "distribution_shift", "class_size")


@dataclass(frozen=True)
class Config:
    datasets: tuple = ("adult", "compas", "german")
    biases: tuple = BIASES
    synthetic_n: int = 6000
    rounds: tuple = (1, 2, 3)
    max_rows: int | None = None


PRESETS = {
    "quick": Config(datasets=("german",), biases=("group_size",), synthetic_n=2000,
                    rounds=(1, 2)),
    "full": Config(),
}


def splits(config):
    """``(name, split, model)`` for the bundled and the synthetic data sets."""
    for name in config.datasets:
        yield name, load_split(name, 0, config.max_rows), make_tabular_pipeline()
    for bias in config.biases:
        X, y, s = make_biased_classification(config.synthetic_n, bias=bias,
                                             random_state=0)
        yield f"synthetic {bias}", train_val_test_split(X, y, s, random_state=0), None


def run(config, out, command):
    rows = []
    for name, split, model in splits(config):
        X_tr, X_val, X_te, y_tr, y_val, y_te, _, s_val, s_te = split
        for n_rounds in config.rounds:
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
    write(out, "fairif_rounds", "FairIF: residual gap against n_rounds (default "
          "alpha, seed 0)", command, table(rows))


if __name__ == "__main__":
    main(__doc__, PRESETS, run)
