"""ERM vs FairIF vs IFFair (both variants), each optimising each fairness metric.

Adult, COMPAS and German with logistic regression (the CLI's tabular pipeline),
60/20/20 splits stratified on label x group; test accuracy and the four gaps
DP, AOD (equalized odds), EOD (equal opportunity) and AD (error-rate parity),
mean ± std over seeds. The second table per data set answers IFFair's claim of
mitigating the metrics "without conflicts": the change of every metric against
ERM (paired by seed) when one objective is optimised, with a mark where a
metric it did *not* target gets worse by more than ``--conflict`` on average.

Usage: python benchmarks/bench_iffair.py [--seeds 3] [--datasets adult compas german]
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import header, loaders, markdown_table, mean_std  # noqa: E402
from _common import scores as _scores  # noqa: E402

from sklearn_fairif import FairIFClassifier, IFFairClassifier  # noqa: E402
from sklearn_fairif._cli import tabular_model  # noqa: E402
from sklearn_fairif.datasets import train_val_test_split  # noqa: E402

RESULTS = Path(__file__).parent / "results"
LOADERS = loaders()
# Metric -> the objective that targets it.
OBJECTIVES = {
    "dp": "demographic_parity",
    "aod": "equalized_odds",
    "eod": "equal_opportunity",
    "ad": "error_rate_parity",
}


# The four gaps, in the order of the results tables.
METRICS = ("dp", "aod", "eod", "ad")


def scores(y, y_pred, s):
    return _scores(y, y_pred, s, metrics=METRICS)


def models(seed, variants):
    yield "ERM", None, tabular_model()
    for metric, objective in OBJECTIVES.items():
        yield "FairIF", metric, FairIFClassifier(
            tabular_model(), objective=objective, random_state=seed)
        for variant in variants:
            yield f"IFFair ({variant})", metric, IFFairClassifier(
                tabular_model(), objective=objective, variant=variant,
                random_state=seed)


def run_seed(name, seed, variants):
    X, y, s = LOADERS[name](return_X_y=True)
    X_tr, X_val, X_te, y_tr, y_val, y_te, _, s_val, s_te = train_val_test_split(
        X, y, s, random_state=seed
    )
    val = {"X_val": X_val, "y_val": y_val, "s_val": s_val}
    rows = {}
    for method, target, model in models(seed, variants):
        start = time.perf_counter()
        if target is None:
            model.fit(X_tr, y_tr)
        else:
            model.fit(X_tr, y_tr, **val)
        elapsed = time.perf_counter() - start
        rows[(method, target)] = {**scores(y_te, model.predict(X_te), s_te),
                                  "time": elapsed}
    return rows


def label(method, target):
    return method if target is None else f"{method} → {target.upper()}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=list(LOADERS))
    parser.add_argument("--variants", nargs="+", default=["diverse", "uniform"])
    parser.add_argument("--conflict", type=float, default=0.01,
                        help="mean worsening of a non-targeted gap that counts "
                             "as a conflict")
    parser.add_argument("--out", default=str(RESULTS / "iffair.md"))
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)

    text = header(
        "ERM vs FairIF vs IFFair, one objective at a time (logistic regression, "
        "60/20/20 stratified on label x group)",
        "python benchmarks/bench_iffair.py " + " ".join(sys.argv[1:]),
    )
    iffair = IFFairClassifier()
    text += (
        f"\nIFFair and FairIF at their defaults (IFFair: step_size="
        f"{iffair.step_size}, n_updates={iffair.n_updates}, weight_bounds="
        f"{iffair.weight_bounds}, utility_tolerance={iffair.utility_tolerance}; "
        f"FairIF: alpha={FairIFClassifier().alpha}). "
        "`→ X`: the objective targeting metric X (DP: "
        "demographic_parity, AOD: equalized_odds, EOD: equal_opportunity, AD: "
        "error_rate_parity). Test-set values, mean ± std over seeds; the "
        "validation split is the only one with group labels.\n"
    )
    verdicts = []
    for name in args.datasets:
        per_seed = [run_seed(name, seed, args.variants) for seed in range(args.seeds)]
        keys = list(per_seed[0])
        erm_time = np.mean([r[("ERM", None)]["time"] for r in per_seed])
        table, deltas = [], []
        for key in keys:
            runs = [r[key] for r in per_seed]
            row = {"method": label(*key),
                   "accuracy": mean_std([r["acc"] for r in runs], digits=3)}
            for metric in METRICS:
                row[metric.upper()] = mean_std([r[metric] for r in runs], digits=3)
            ratio = np.mean([r["time"] for r in runs]) / erm_time
            row["fit time / ERM"] = f"{ratio:.1f}"
            table.append(row)
            if key[1] is None:
                continue
            change = {
                m: np.mean([r[key][m] - r[("ERM", None)][m] for r in per_seed])
                for m in ("acc", *METRICS)
            }
            worse = [m for m in METRICS if m != key[1] and change[m] > args.conflict]
            cells = {"method": label(*key),
                     "Δ accuracy (points)": f"{100 * change['acc']:+.1f}"}
            for m in METRICS:
                mark = ""
                if m == key[1]:
                    mark = " (target)"
                elif m in worse:
                    mark = " ▲"
                cells[f"Δ {m.upper()}"] = f"{change[m]:+.3f}{mark}"
            cells["conflicts"] = ", ".join(m.upper() for m in worse) or "none"
            deltas.append(cells)
            verdicts.append((name, key[0], key[1], change, worse))
        section = f"\n## {name} ({args.seeds} seeds)\n\n"
        section += markdown_table(table, list(table[0]))
        section += (
            f"\nChange against ERM (paired by seed). ▲: a gap the method did not "
            f"target grew by more than {args.conflict} on average.\n\n"
        )
        section += markdown_table(deltas, list(deltas[0]))
        print(section, flush=True)
        text += section
    summary = _verdict(verdicts, args)
    Path(args.out).write_text(text + summary)
    print(summary)


def _verdict(verdicts, args):
    lines = ["\n## Summary: conflicts and targeted reductions\n"]
    rows = []
    for method in dict.fromkeys(v[1] for v in verdicts):
        sel = [v for v in verdicts if v[1] == method]
        n_conflicts = sum(len(v[4]) for v in sel)
        reduced = sum(v[3][v[2]] < 0 for v in sel)
        rows.append({
            "method": method,
            "targeted gap reduced (of runs)": f"{reduced} / {len(sel)}",
            "mean targeted change": f"{np.mean([v[3][v[2]] for v in sel]):+.3f}",
            f"non-targeted gaps worse by > {args.conflict}":
                f"{n_conflicts} / {3 * len(sel)}",
            "mean Δ accuracy (points)":
                f"{100 * np.mean([v[3]['acc'] for v in sel]):+.2f}",
        })
    lines.append(markdown_table(rows, list(rows[0])))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
