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
