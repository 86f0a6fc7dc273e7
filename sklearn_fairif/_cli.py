"""The ``fairif`` command line: ``python -m sklearn_fairif demo``."""

import argparse
import sys
import time
import warnings

import numpy as np


def tabular_model(estimator=None):
    """One-hot categorical columns, standardise numeric ones, then ``estimator``.

    Parameters
    ----------
    estimator : classifier, default=None
        The final step; ``LogisticRegression(max_iter=1000)`` when None.

    Returns
    -------
    pipeline : Pipeline
    """
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"),
         make_column_selector(dtype_include=["category", "object"])),
        (StandardScaler(), make_column_selector(dtype_include="number")),
    )
    return make_pipeline(pre, estimator or LogisticRegression(max_iter=1000))


def _load(name):
    from . import datasets

    return getattr(datasets, f"load_{name}")(return_X_y=True)


def demo(args):
    """ERM vs FairIF on a bundled data set, printed side by side."""
    from ._fairif import FairIFClassifier
    from .datasets import train_val_test_split
    from .metrics import fairness_report

    X, y, s = _load(args.dataset)
    X_tr, X_val, X_te, y_tr, y_val, y_te, _, s_val, s_te = train_val_test_split(
        X, y, s, random_state=args.seed
    )
    log = (lambda *a: None) if args.quiet else print
    log(f"{args.dataset}: {len(y_tr)} train / {len(y_val)} validation (with groups) "
        f"/ {len(y_te)} test rows; the training rows carry no group labels.")
    models = {}
    start = time.perf_counter()
    models["ERM"] = tabular_model().fit(X_tr, y_tr)
    t_erm = time.perf_counter() - start
    start = time.perf_counter()
    models["FairIF"] = FairIFClassifier(tabular_model(), random_state=args.seed).fit(
        X_tr, y_tr, X_val=X_val, y_val=y_val, s_val=s_val
    )
    t_fair = time.perf_counter() - start
    rows = {}
    for name, model in models.items():
        report = fairness_report(y_te, model.predict(X_te), sensitive_features=s_te)
        rows[name] = report
        log(f"\n== {name}: per-group test report ==\n{report.to_string()}")
    log(f"\nfit time: ERM {t_erm:.2f}s, FairIF {t_fair:.2f}s "
        f"({t_fair / t_erm:.1f}x)")
    weights = models["FairIF"].sample_weight_
    log(f"FairIF weights: min {weights.min():.2f}, max {weights.max():.2f}, "
        f"mean {weights.mean():.2f}")
    return rows


def main(argv=None):
    """Entry point of ``python -m sklearn_fairif`` and the ``fairif`` script."""
    parser = argparse.ArgumentParser(prog="fairif", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="ERM vs FairIF on a bundled data set")
    p.add_argument("--dataset", choices=["adult", "compas", "german"],
                   default="adult")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", FutureWarning)
    np.set_printoptions(precision=4)
    {"demo": demo}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
