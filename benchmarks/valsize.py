"""How small may the validation set be (Table 11)?

Logistic regression on Adult and COMPAS; the validation split is subsampled
(stratified on label x group) to 100/50/25/10% before any method sees it.

Writes ``comparison_valsize.md``.

Usage: python benchmarks/valsize.py --quick|--full [--out DIR]
"""

import os

os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

from dataclasses import dataclass

import numpy as np
from _common import ALPHAS, load_split, main, mean_se, scores, table, write
from baselines import ERM, JTT, FairIF, LiLiu
from sklearn.model_selection import train_test_split

from sklearn_fairif.utils import make_tabular_pipeline


@dataclass(frozen=True)
class Config:
    seeds: tuple = (("adult", 3), ("compas", 20))
    fractions: tuple = (1.0, 0.5, 0.25, 0.1)
    max_rows: int | None = None
    alphas: tuple = ALPHAS


PRESETS = {
    "quick": Config(seeds=(("adult", 1), ("compas", 1)), fractions=(1.0, 0.25),
                    max_rows=3000, alphas=(0.03, 0.3)),
    "full": Config(),
}


def methods(config):
    return [ERM(make_tabular_pipeline()), FairIF(make_tabular_pipeline()),
            FairIF(make_tabular_pipeline(), alpha=0.3, name="FairIF (alpha=0.3)"),
            FairIF(make_tabular_pipeline(), alpha=list(config.alphas),
                   name="FairIF (alpha on val)"),
            LiLiu(make_tabular_pipeline()), JTT(make_tabular_pipeline())]


def subsample(X_val, y_val, s_val, frac, seed):
    """A stratified ``frac`` of the validation split (all of it for 1)."""
    if frac >= 1:
        return X_val, y_val, s_val
    strata = np.asarray(y_val).astype(str) + "_" + np.asarray(s_val).astype(str)
    keep, _ = train_test_split(np.arange(len(y_val)), train_size=frac,
                               stratify=strata, random_state=seed)
    return X_val.iloc[keep], np.asarray(y_val)[keep], np.asarray(s_val)[keep]


def run(config, out, command):
    body = (
        "Logistic regression; the validation split is subsampled (stratified on "
        "label x group) to the given fraction before any method sees it; the "
        "training and test splits are unchanged. Methods that use validation "
        "groups only. Test metrics: mean ± standard error over the seeds in "
        "each heading.\n"
    )
    for name, n_seeds in config.seeds:
        rows = []
        for frac in config.fractions:
            res = {}
            for seed in range(n_seeds):
                X_tr, X_val, X_te, y_tr, y_val, y_te, s_tr, s_val, s_te = \
                    load_split(name, seed, config.max_rows)
                X_val, y_val, s_val = subsample(X_val, y_val, s_val, frac, seed)
                for m in methods(config):
                    m.fit(X_tr, y_tr, s_tr, X_val, y_val, s_val)
                    sc = scores(y_te, m.predict(X_te), s_te)
                    for k in ("acc", "aod"):
                        res.setdefault(m.name, {}).setdefault(k, []).append(sc[k])
            for m, sc in res.items():
                rows.append({"validation rows": f"{frac:.0%} ({len(y_val)})",
                             "method": m, "ACC": mean_se(sc["acc"]),
                             "AOD": mean_se(sc["aod"])})
            print(name, frac, flush=True)
        body += f"\n## {name} ({n_seeds} seed{'s' * (n_seeds != 1)})\n\n"
        body += table(rows)
    write(out, "comparison_valsize", "Validation-set size (Table 11)", command, body)


if __name__ == "__main__":
    main(__doc__, PRESETS, run)
