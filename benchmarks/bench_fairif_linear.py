"""ERM vs FairIF with logistic regression on Adult, COMPAS and German.

60/20/20 splits stratified on label x group, 5 seeds; test accuracy, AD, AOD, EOD
(mean ± std); FairIF's fit time as a ratio to the ERM fit measured in the same run,
and the influence + weight stage as a fraction of one ERM fit. Also records the
validation alpha path used to pick FairIFClassifier's default alpha.

Usage: python benchmarks/bench_fairif_linear.py [--seeds 5] [--quick]
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import clone

sys.path.insert(0, str(Path(__file__).parent))
from _common import (  # noqa: E402
    header,
    loaders,
    markdown_table,
    mean_std,
    scores,
    timed_fit,
)

from sklearn_fairif import FairIFClassifier  # noqa: E402
from sklearn_fairif._cli import tabular_model  # noqa: E402
from sklearn_fairif.datasets import train_val_test_split  # noqa: E402

RESULTS = Path(__file__).parent / "results"
LOADERS = loaders()
ALPHAS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]


def run_seed(name, seed):
    X, y, s = LOADERS[name](return_X_y=True)
    (X_tr, X_val, X_te, y_tr, y_val, y_te, s_tr, s_val, s_te) = train_val_test_split(
        X, y, s, random_state=seed
    )
    val = {"X_val": X_val, "y_val": y_val, "s_val": s_val}
    erm = tabular_model()
    # Warm caches (imports, first-call overheads) so ERM and FairIF are timed alike.
    clone(erm).fit(X_tr, y_tr)
    t_erm = timed_fit(erm, X_tr, y_tr)
    default = FairIFClassifier(tabular_model())
    t_default = timed_fit(default, X_tr, y_tr, **val)
    tuned = FairIFClassifier(tabular_model(), alpha=ALPHAS)
    t_tuned = timed_fit(tuned, X_tr, y_tr, **val)
    stage = default.stage_times_
    rows = {
        "ERM": scores(y_te, erm.predict(X_te), s_te),
        "FairIF (default alpha)": scores(y_te, default.predict(X_te), s_te),
        "FairIF (alpha from list)": scores(y_te, tuned.predict(X_te), s_te),
    }
    times = {
        "erm": t_erm, "default": t_default, "tuned": t_tuned,
        "influence+weights": stage["influence"] + stage["weights"],
    }
    path = dict(tuned.cv_results_)
    # The unweighted model's validation accuracy and gap, as the path's origin.
    path["erm_accuracy"] = float(np.mean(tuned.initial_estimator_.predict(X_val)
                                         == y_val))
    path["erm_gap"] = float(np.mean(np.abs(tuned.validation_gaps_["hard_before"])))
    return rows, times, path, tuned.alpha_


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--datasets", nargs="+", default=list(LOADERS))
    parser.add_argument("--out", default=str(RESULTS / "fairif_linear.md"))
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)

    text = header(
        "ERM vs FairIF, logistic regression (60/20/20, stratified on label x group)",
        "python benchmarks/bench_fairif_linear.py " + " ".join(sys.argv[1:] or [""]),
    )
    path_rows = []
    for name in args.datasets:
        results, times, chosen = {}, {}, []
        for seed in range(args.seeds):
            rows, t, path, alpha_ = run_seed(name, seed)
            chosen.append(alpha_)
            for method, sc in rows.items():
                for metric, v in sc.items():
                    results.setdefault(method, {}).setdefault(metric, []).append(v)
            for key, v in t.items():
                times.setdefault(key, []).append(v)
            for a, acc, gap in zip(path["alpha"], path["val_accuracy"],
                                   path["val_gap"], strict=True):
                path_rows.append((name, seed, a, acc - path["erm_accuracy"],
                                  gap / path["erm_gap"]))
        erm = np.asarray(times["erm"])
        ratio = {
            "ERM": erm / erm,
            "FairIF (default alpha)": np.asarray(times["default"]) / erm,
            "FairIF (alpha from list)": np.asarray(times["tuned"]) / erm,
        }
        table = []
        for method, sc in results.items():
            table.append({
                "method": method,
                **{m.upper(): mean_std(v) for m, v in sc.items()},
                "fit time / ERM": f"{ratio[method].mean():.2f}",
            })
        base = np.mean(results["ERM"]["aod"])
        fair = np.mean(results["FairIF (default alpha)"]["aod"])
        acc_drop = 100 * (np.mean(results["ERM"]["acc"])
                          - np.mean(results["FairIF (default alpha)"]["acc"]))
        infl = np.asarray(times["influence+weights"]) / erm
        text += f"\n## {name} ({args.seeds} seeds)\n\n"
        text += markdown_table(table, list(table[0]))
        text += (
            f"\n- ERM fit: {erm.mean():.3f} s (mean); influence + weight stage: "
            f"{infl.mean():.1%} of one ERM fit\n"
            f"- default FairIF: mean test AOD {base:.4f} -> {fair:.4f} "
            f"({(base - fair) / base:+.0%} reduction), accuracy "
            f"{-acc_drop:+.2f} points\n"
            f"- alpha chosen from {ALPHAS}: {chosen}\n"
        )
        print(text, flush=True)
    text += (
        "\n## Validation alpha path (mean over seeds)\n\nMeasured on the "
        "validation split only (the test split plays no part in choosing the "
        "default alpha).\n\n"
    )
    text += _path_table(path_rows)
    Path(args.out).write_text(text)
    print(text)


def _path_table(path_rows):
    rows = []
    for name in dict.fromkeys(r[0] for r in path_rows):
        for a in ALPHAS:
            sel = [r for r in path_rows if r[0] == name and r[2] == a]
            acc_change = 100 * np.mean([r[3] for r in sel])
            rows.append({
                "dataset": name, "alpha": a,
                "val accuracy - ERM (points)": f"{acc_change:+.2f}",
                "val AOD / ERM val AOD": f"{np.mean([r[4] for r in sel]):.2f}",
            })
    return markdown_table(rows, list(rows[0]))


if __name__ == "__main__":
    main()
