"""What does FairIF cost and gain over ERM with logistic regression?

Adult, COMPAS and German, 60/20/20 splits stratified on label x group; test
accuracy, AD, AOD, EOD (mean ± standard error) of ERM, FairIF at alpha=0.3,
FairIF's default ``alpha="auto"`` and FairIF with the 7-value alpha list; each
fit time as a ratio to the ERM fit measured in the same run, and the influence
+ weight stages (plus the selection for ``"auto"``) as a fraction of one ERM
fit. Also records the list's validation alpha path.

Writes ``fairif_linear.md``.

Usage: python benchmarks/fairif_linear.py --quick|--full [--out DIR]
"""

import os

os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

from dataclasses import dataclass

import numpy as np
from _common import (
    load_split,
    main,
    mean_se,
    round_ratio,
    round_robin,
    scores,
    seeds_label,
    table,
    write,
)
from sklearn.base import clone

from sklearn_fairif import FairIFClassifier
from sklearn_fairif.utils import make_tabular_pipeline


@dataclass(frozen=True)
class Config:
    seeds: tuple = (("adult", 5), ("compas", 20), ("german", 20))
    alphas: tuple = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
    repeat: int = 3  # round-robin timed fits per seed (median)
    max_rows: int | None = None


PRESETS = {
    "quick": Config(seeds=(("german", 1),), alphas=(0.03, 0.3), repeat=1),
    "full": Config(),
}

METHODS = ("ERM", "FairIF (alpha=0.3)", 'FairIF (alpha="auto", default)',
           "FairIF (alpha from list)")


def run_seed(config, name, seed):
    X_tr, X_val, X_te, y_tr, y_val, y_te, _, s_val, s_te = load_split(
        name, seed, config.max_rows)
    val = {"X_val": X_val, "y_val": y_val, "s_val": s_val}
    # Warm caches (imports, first-call overheads) so all are timed alike.
    clone(make_tabular_pipeline()).fit(X_tr, y_tr)
    models = dict(zip(METHODS, (
        make_tabular_pipeline(),
        FairIFClassifier(make_tabular_pipeline(), alpha=0.3),
        FairIFClassifier(make_tabular_pipeline()),
        FairIFClassifier(make_tabular_pipeline(), alpha=list(config.alphas)),
    ), strict=True))
    times, _ = round_robin(
        {m: (lambda model=model, kw={} if m == "ERM" else val:
             model.fit(X_tr, y_tr, **kw)) for m, model in models.items()},
        config.repeat)
    erm = float(np.median(times["ERM"]))
    fixed, auto, tuned = (models[m] for m in METHODS[1:])
    path = dict(tuned.cv_results_)
    # The unweighted model's validation accuracy and gap, as the path's origin.
    path["erm_accuracy"] = float(np.mean(tuned.initial_estimator_.predict(X_val)
                                         == y_val))
    path["erm_gap"] = float(np.mean(np.abs(tuned.validation_gaps_["hard_before"])))
    return {
        "scores": {m: scores(y_te, model.predict(X_te), s_te)
                   for m, model in models.items()},
        "ratio": {m: round_ratio(times, m, "ERM") for m in METHODS},
        "erm": erm,
        "influence+weights": _influence_share(fixed, erm),
        "auto influence+weights": _influence_share(auto, erm),
        "path": path, "alpha_": tuned.alpha_, "auto alpha_": auto.alpha_,
    }


def _influence_share(model, erm):
    """Influence, selection and weight stages of a fit, over one ERM fit."""
    stages = model.stage_times_
    return sum(stages.get(k, 0.0) for k in ("influence", "alpha selection",
                                            "weights")) / erm


def section(name, runs):
    rows = []
    for m in METHODS:
        row = {"method": m}
        for k in ("acc", "ad", "aod", "eod"):
            row[k.upper()] = mean_se([r["scores"][m][k] for r in runs])
        row["fit time / ERM"] = f"{np.median([r['ratio'][m] for r in runs]):.2f}"
        rows.append(row)
    erm_aod = np.array([r["scores"]["ERM"]["aod"] for r in runs])
    fair_aod = np.array([r["scores"][METHODS[1]]["aod"] for r in runs])
    dacc = 100 * np.array([r["scores"][METHODS[1]]["acc"] - r["scores"]["ERM"]["acc"]
                           for r in runs])
    infl = [r["influence+weights"] for r in runs]
    auto_infl = [r["auto influence+weights"] for r in runs]
    return (
        f"\n## {name} ({seeds_label(len(runs))})\n\n" + table(rows)
        + f"\n- ERM fit: {np.median([r['erm'] for r in runs]):.3f} s (median); "
        f"influence + weight stages: {np.median(infl):.1%} of one ERM fit at "
        f"alpha=0.3, {np.median(auto_infl):.1%} with the selection of "
        '"auto"\n'
        f"- FairIF at alpha=0.3: mean test AOD {erm_aod.mean():.4f} -> "
        f"{fair_aod.mean():.4f} ({1 - fair_aod.mean() / erm_aod.mean():+.0%} "
        f"reduction), accuracy {mean_se(dacc, digits=2)} points\n"
        f"- alpha chosen by \"auto\": {[round(r['auto alpha_'], 4) for r in runs]}\n"
        f"- alpha chosen from the list: {[r['alpha_'] for r in runs]}\n"
    )


def path_table(config, per_data):
    rows = []
    for name, runs in per_data.items():
        for j, a in enumerate(config.alphas):
            acc = [100 * (r["path"]["val_accuracy"][j] - r["path"]["erm_accuracy"])
                   for r in runs]
            gap = [r["path"]["val_gap"][j] / r["path"]["erm_gap"] for r in runs]
            rows.append({"dataset": name, "alpha": f"{a:g}",
                         "val accuracy - ERM (points)": mean_se(acc, digits=2),
                         "val AOD / ERM val AOD": mean_se(gap, digits=2)})
    return table(rows)


def run(config, out, command):
    body = (f"Fit times: median over {config.repeat} round-robin fits of the "
            "ratio to the ERM fit of the same round, median over seeds; BLAS on "
            "one thread. Test metrics: mean ± standard error over seeds. Alpha "
            f"list: {list(config.alphas)}.\n")
    per_data = {}
    for name, n_seeds in config.seeds:
        per_data[name] = [run_seed(config, name, seed) for seed in range(n_seeds)]
        body += section(name, per_data[name])
        print(name, "done", flush=True)
    body += ("\n## Validation alpha path (mean ± SE over seeds)\n\nMeasured on "
             "the validation split only (the test split plays no part in "
             "choosing alpha from the list).\n\n" + path_table(config, per_data))
    write(out, "fairif_linear", "ERM vs FairIF, logistic regression (60/20/20, "
          "stratified on label x group)", command, body)


if __name__ == "__main__":
    main(__doc__, PRESETS, run)
