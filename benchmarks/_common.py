"""Shared helpers of the benchmark scripts: timing and the results-file header."""

import datetime
import os
import platform
import sys
import time

import numpy as np


def best_time(fn, repeat=3):
    """Best wall time of ``repeat`` calls (the least disturbed by other load)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def header(title, command):
    """Markdown header: date, machine, versions, command."""
    import fairlearn
    import scipy
    import sklearn

    import sklearn_fairif

    cpu = platform.processor() or platform.machine()
    return "\n".join([
        f"# {title}",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {platform.system()} {platform.release()}, {cpu}, "
        f"{os.cpu_count()} CPU cores",
        f"- versions: python {sys.version.split()[0]}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, scikit-learn {sklearn.__version__}, "
        f"fairlearn {fairlearn.__version__}, sklearn-fairif "
        f"{sklearn_fairif.__version__}",
        f"- command: `{command}`",
        "",
    ])


def markdown_table(rows, columns):
    """Render a list of dicts as a Markdown table."""
    lines = ["| " + " | ".join(columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(row[c]) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def loaders():
    """The bundled data sets by name (imported on call: _common stays light)."""
    from sklearn_fairif.datasets import load_adult, load_compas, load_german

    return {"adult": load_adult, "compas": load_compas, "german": load_german}


def scores(y, y_pred, s, metrics=("ad", "aod", "eod")):
    """Test accuracy and the named fairness gaps (keys ``acc`` and ``metrics``)."""
    from sklearn_fairif.metrics import (
        accuracy_difference,
        average_odds_difference,
        demographic_parity_difference,
        equal_opportunity_difference,
    )

    gaps = {"ad": accuracy_difference, "aod": average_odds_difference,
            "eod": equal_opportunity_difference,
            "dp": demographic_parity_difference}
    out = {"acc": float(np.mean(np.asarray(y) == np.asarray(y_pred)))}
    for name in metrics:
        out[name] = gaps[name](y, y_pred, sensitive_features=s)
    return out


def timed_fit(estimator, *args, **kwargs):
    """Fit and return the wall time in seconds."""
    start = time.perf_counter()
    estimator.fit(*args, **kwargs)
    return time.perf_counter() - start


def mean_std(values, digits=4, scale=1.0):
    """``"mean ± std"`` of ``scale * values``."""
    values = scale * np.asarray(values, dtype=float)
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"
