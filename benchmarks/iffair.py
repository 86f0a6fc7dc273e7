"""Does IFFair mitigate every metric "without conflicts", and against FairIF?

ERM vs FairIF vs IFFair (both variants), each optimising each fairness metric,
on Adult, COMPAS and German with logistic regression (``make_tabular_pipeline``),
60/20/20 splits stratified on label x group; test accuracy and the four gaps DP,
AOD (equalized odds), EOD (equal opportunity) and AD (error-rate parity), mean ±
standard error over seeds. The second table per data set answers IFFair's claim
of mitigating the metrics "without conflicts": the change of every metric
against ERM (paired by seed) when one objective is optimised, with a mark where
a metric it did *not* target gets worse by more than ``conflict`` on average.

Writes ``iffair.md``.

Usage: python benchmarks/iffair.py --quick|--full [--out DIR]
"""

import os

os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

from dataclasses import dataclass

import numpy as np
from _common import load_split, main, mean_se, median_time, scores, table, write

from sklearn_fairif import FairIFClassifier, IFFairClassifier
from sklearn_fairif.utils import make_tabular_pipeline

# Metric -> the objective that targets it.
OBJECTIVES = {
    "dp": "demographic_parity",
    "aod": "equalized_odds",
    "eod": "equal_opportunity",
    "ad": "error_rate_parity",
}
# The four gaps, in the order of the results tables.
METRICS = ("dp", "aod", "eod", "ad")


@dataclass(frozen=True)
class Config:
    datasets: tuple = ("adult", "compas", "german")
    seeds: int = 3
    variants: tuple = ("diverse", "uniform")
    # Mean worsening of a non-targeted gap that counts as a conflict.
    conflict: float = 0.01
    repeat: int = 3  # timed fits per model (median)
    max_rows: int | None = None


PRESETS = {
    "quick": Config(datasets=("german",), seeds=1, variants=("diverse",),
                    repeat=1),
    "full": Config(),
}


def models(seed, variants):
    yield "ERM", None, make_tabular_pipeline()
    for metric, objective in OBJECTIVES.items():
        yield "FairIF", metric, FairIFClassifier(
            make_tabular_pipeline(), objective=objective, random_state=seed)
        for variant in variants:
            yield f"IFFair ({variant})", metric, IFFairClassifier(
                make_tabular_pipeline(), objective=objective, variant=variant,
                random_state=seed)


def run_seed(config, name, seed):
    X_tr, X_val, X_te, y_tr, y_val, y_te, _, s_val, s_te = load_split(
        name, seed, config.max_rows)
    val = {"X_val": X_val, "y_val": y_val, "s_val": s_val}
    rows = {}
    for method, target, model in models(seed, config.variants):
        kwargs = {} if target is None else val
        elapsed, _ = median_time(lambda m=model, kw=kwargs: m.fit(X_tr, y_tr, **kw),
                                 repeat=config.repeat)
        rows[(method, target)] = {
            **scores(y_te, model.predict(X_te), s_te, metrics=METRICS),
            "time": elapsed}
    return rows


def label(method, target):
    return method if target is None else f"{method} → {target.upper()}"


def section(config, name, per_seed, verdicts):
    """The two tables of one data set; appends to ``verdicts``."""
    erm = ("ERM", None)
    table_rows, deltas = [], []
    for key in per_seed[0]:
        runs = [r[key] for r in per_seed]
        row = {"method": label(*key),
               "accuracy": mean_se([r["acc"] for r in runs], digits=3)}
        for metric in METRICS:
            row[metric.upper()] = mean_se([r[metric] for r in runs], digits=3)
        ratio = np.median([r[key]["time"] / r[erm]["time"] for r in per_seed])
        row["fit time / ERM"] = f"{ratio:.1f}"
        table_rows.append(row)
        if key[1] is None:
            continue
        change = {m: np.mean([r[key][m] - r[erm][m] for r in per_seed])
                  for m in ("acc", *METRICS)}
        worse = [m for m in METRICS if m != key[1] and change[m] > config.conflict]
        cells = {"method": label(*key),
                 "Δ accuracy (points)": f"{100 * change['acc']:+.1f}"}
        for m in METRICS:
            mark = " (target)" if m == key[1] else " ▲" if m in worse else ""
            cells[f"Δ {m.upper()}"] = f"{change[m]:+.3f}{mark}"
        cells["conflicts"] = ", ".join(m.upper() for m in worse) or "none"
        deltas.append(cells)
        verdicts.append((name, key[0], key[1], change, worse))
    return (f"\n## {name} ({config.seeds} seed{'s' * (config.seeds != 1)})\n\n"
            + table(table_rows)
            + "\nChange against ERM (paired by seed). ▲: a gap the method did not "
            f"target grew by more than {config.conflict} on average.\n\n"
            + table(deltas))


def summary(config, verdicts):
    rows = []
    for method in dict.fromkeys(v[1] for v in verdicts):
        sel = [v for v in verdicts if v[1] == method]
        n_conflicts = sum(len(v[4]) for v in sel)
        reduced = sum(v[3][v[2]] < 0 for v in sel)
        rows.append({
            "method": method,
            "targeted gap reduced (of runs)": f"{reduced} / {len(sel)}",
            "mean targeted change": f"{np.mean([v[3][v[2]] for v in sel]):+.3f}",
            f"non-targeted gaps worse by > {config.conflict}":
                f"{n_conflicts} / {3 * len(sel)}",
            "mean Δ accuracy (points)":
                f"{100 * np.mean([v[3]['acc'] for v in sel]):+.2f}",
        })
    return "\n## Summary: conflicts and targeted reductions\n\n" + table(rows)


def run(config, out, command):
    iffair = IFFairClassifier()
    body = (
        f"IFFair and FairIF at their defaults (IFFair: step_size="
        f"{iffair.step_size}, n_updates={iffair.n_updates}, weight_bounds="
        f"{iffair.weight_bounds}, utility_tolerance={iffair.utility_tolerance}; "
        f"FairIF: alpha={FairIFClassifier().alpha}). "
        "`→ X`: the objective targeting metric X (DP: "
        "demographic_parity, AOD: equalized_odds, EOD: equal_opportunity, AD: "
        "error_rate_parity). Test-set values, mean ± standard error over seeds; "
        "the validation split is the only one with group labels. Fit time: "
        f"median of {config.repeat} fits over ERM's on the same seed, median "
        "over seeds.\n"
    )
    verdicts = []
    for name in config.datasets:
        per_seed = [run_seed(config, name, seed) for seed in range(config.seeds)]
        body += section(config, name, per_seed, verdicts)
        print(name, "done", flush=True)
    body += summary(config, verdicts)
    write(out, "iffair", "ERM vs FairIF vs IFFair, one objective at a time "
          "(logistic regression, 60/20/20 stratified on label x group)",
          command, body)


if __name__ == "__main__":
    main(__doc__, PRESETS, run)
