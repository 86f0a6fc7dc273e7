"""alpha="auto" with an iterative (CG) iHVP solver: the same choice, at what cost?

A model cross-fits through conjugate gradients when its iHVPs are iterative:
linear models with more than 2,000 parameters, networks with more than 1,024
influence parameters (see ``select_alpha_nets.py``). There the folds' cells are
a second CG solve and each batch of candidates' parameter shifts one more, all
stopped at a relative residual of 1e-3 (the fit's own constraints keep the
solver's tol, 1e-6 by default).

- The bundled data sets, with ``select_alpha.py``'s splits and pipeline
  (one-hot + standardise, LogisticRegression): every model fitted with
  ``solver="exact"`` and with ``solver="cg"``. How often ``alpha_`` agrees,
  the test AOD of ``alpha="auto"`` under each (mean ± SE over seeds), and the
  fit time of ``alpha="auto"`` as a ratio to ``alpha=0.3``'s under the same
  solver.
- A wide sparse problem where CG is the default: the library's group_size
  generator's features next to 5,000 binary ones (20 per row) that carry
  half of the signal.

Times: 5 round-robin rounds per seed (every fit once per round), the median
of same-round ratios, then the median over seeds.

Usage: python benchmarks/select_alpha_cg.py --quick|--full [--out DIR]
"""

import os

os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

from dataclasses import dataclass

import numpy as np
from _common import (
    load_split,
    main,
    mean_se,
    quiet_warnings,
    round_ratio,
    round_robin,
    scores,
    table,
    write,
)
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from sklearn_fairif import FairIFClassifier
from sklearn_fairif.datasets import make_biased_classification
from sklearn_fairif.utils import make_tabular_pipeline

BUDGET = {"adult": 0.01, "compas": 0.02, "german": 0.02, "wide sparse": 0.01}


@dataclass(frozen=True)
class Config:
    seeds: tuple = (("compas", 20), ("german", 20), ("adult", 5),
                    ("wide sparse", 5))
    rounds: int = 5
    max_rows: int | None = None
    wide_rows: int = 20_000


PRESETS = {
    "quick": Config(seeds=(("compas", 1), ("wide sparse", 1)), rounds=1,
                    max_rows=1500, wide_rows=2_000),
    "full": Config(),
}


def _wide_sparse(n, seed, d=5_000, per_row=20):
    """group_size's features and labels, plus ``d`` sparse binary features.

    Half of the label's log-odds comes from the sparse block, so the model
    needs it; the group label itself is not a feature.
    """
    X, y, s = make_biased_classification(n, bias="group_size", random_state=seed)
    rng = np.random.default_rng(seed)
    cols = rng.integers(0, d, size=(n, per_row))
    B = sparse.csr_array((np.ones(n * per_row), cols.ravel(),
                          np.arange(0, n * per_row + 1, per_row)), shape=(n, d))
    beta = rng.normal(scale=0.5, size=d)
    logit = np.where(y == 1, 1.0, -1.0) + B @ beta
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = sparse.hstack([sparse.csr_array(X), B], format="csr")
    parts = np.split(rng.permutation(n), [int(0.6 * n), int(0.8 * n)])
    return [(X[p], y[p], s[p]) for p in parts]


def _split(name, seed, config):
    """(train, val, test) as (X, y, s) triples, features ready for the model."""
    if name == "wide sparse":
        return _wide_sparse(config.wide_rows, seed), LogisticRegression(max_iter=1000)
    X_tr, X_val, X_te, y_tr, y_val, y_te, s_tr, s_val, s_te = load_split(
        name, seed, config.max_rows)
    model = make_tabular_pipeline(LogisticRegression(max_iter=1000))
    return [(X_tr, y_tr, s_tr), (X_val, y_val, s_val), (X_te, y_te, s_te)], model


def run_seed(config, name, seed):
    (train, val, test), model = _split(name, seed, config)
    X_tr, y_tr, _ = train
    X_val, y_val, s_val = val
    X_te, y_te, s_te = test
    solvers = ("cg",) if name == "wide sparse" else ("exact", "cg")
    fits = {}
    for solver in solvers:
        for alpha in ("auto", 0.3):
            clf = FairIFClassifier(model, alpha=alpha, solver=solver,
                                   tol=BUDGET[name], random_state=seed)
            fits[(solver, alpha)] = (
                lambda c=clf: c.fit(X_tr, y_tr, X_val=X_val, y_val=y_val,
                                    s_val=s_val))
    times, fitted = round_robin(fits, config.rounds)
    out = {"alpha": {}, "aod": {}, "acc": {}, "ratio": {}}
    for solver in solvers:
        auto = fitted[(solver, "auto")]
        test_scores = scores(y_te, auto.predict(X_te), s_te, ("aod",))
        out["alpha"][solver] = auto.alpha_
        out["aod"][solver], out["acc"][solver] = test_scores["aod"], test_scores["acc"]
        out["ratio"][solver] = round_ratio(times, (solver, "auto"), (solver, 0.3))
    return out


def summarise(name, runs):
    """One table row; "—" where a solver was not run (CG only on wide data)."""
    solvers = runs[0]["alpha"]
    row = {"data": name, "seeds": len(runs), "same alpha_ (exact vs CG)": "—"}
    if "exact" in solvers:
        same = sum(r["alpha"]["exact"] == r["alpha"]["cg"] for r in runs)
        row["same alpha_ (exact vs CG)"] = f"{same} / {len(runs)}"
    for solver, label in (("exact", "exact"), ("cg", "CG")):
        aod = ratio = "—"
        if solver in solvers:
            aod = mean_se([r["aod"][solver] for r in runs], 2, 100)
            ratio = f"{np.median([r['ratio'][solver] for r in runs]):.2f}"
        row[f"auto test AOD (%), {label}"] = aod
        row[f"auto / 0.3 time, {label}"] = ratio
    return row


def run(config, out, command):
    quiet_warnings()
    rows = []
    for name, n_seeds in config.seeds:
        runs = []
        for seed in range(n_seeds):
            runs.append(run_seed(config, name, seed))
            print(name, seed, runs[-1]["alpha"], runs[-1]["ratio"], flush=True)
        rows.append(summarise(name, runs))
    body = table(rows)
    write(out, "select_alpha_cg", 'alpha="auto" with conjugate gradients', command,
          __doc__.split("\n\n", 1)[1].rsplit("\n\nUsage", 1)[0] + "\n\n" + body)


if __name__ == "__main__":
    main(__doc__, PRESETS, run)
