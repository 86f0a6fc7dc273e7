"""What every benchmark script shares: command line, statistics, tables, files.

Each script in this folder answers one question. It defines a frozen ``Config``
dataclass with a ``quick`` and a ``full`` preset (``PRESETS``), a
``run(config, out, command)`` that writes its results file(s) into ``out``, and
ends with ``main(__doc__, PRESETS, run)``. Run one on its own with
``python benchmarks/<script>.py --quick|--full`` or several through
``python benchmarks/run.py``; Python puts this folder on ``sys.path`` for the
script it runs, which is how the scripts import this module and ``baselines``.

Statistics, the same everywhere: BLAS pinned to one thread (each entry point
sets the environment before NumPy is imported); every timing is the median of
``repeat`` (≥ 3) runs and is reported as a ratio to a baseline measured in the
same run; every mean over seeds comes with its standard error.
"""

import argparse
import datetime
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

# Methods that read the group labels of the *training* rows.
TRAIN_GROUPS = frozenset({"Kamiran & Calders", "ExpGrad (EqualizedOdds)"})
# The alpha list of "FairIF (alpha on val)": the old grid plus 0.12, 0.15, 0.2,
# where the accuracy budget is crossed on COMPAS (0.1 -> 0.3 jumped across it).
ALPHAS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.12, 0.15, 0.2, 0.3, 1.0, 3.0, 10.0)
COLORS = {
    "ERM": "black", "FairIF (default alpha)": "tab:red",
    "FairIF (alpha on val)": "tab:red", "FairIF (alpha=0.3)": "tab:red",
    "FairIF (7 alphas)": "tab:pink",
    "FairIF (7 alphas, n_jobs=2)": "tab:brown", "Li & Liu": "tab:blue",
    "JTT": "tab:green",
    "Kamiran & Calders": "tab:purple", "ExpGrad (EqualizedOdds)": "tab:orange",
}
MARKERS = {
    "ERM": "o", "FairIF (default alpha)": "*", "FairIF (alpha on val)": "P",
    "FairIF (alpha=0.3)": "p",
    "FairIF (7 alphas)": "P", "FairIF (7 alphas, n_jobs=2)": "X",
    "Li & Liu": "s", "JTT": "^", "Kamiran & Calders": "D",
    "ExpGrad (EqualizedOdds)": "v",
}


# ------------------------------------------------------------ command line
def main(doc, presets, run, argv=None):
    """Parse ``--quick|--full [--out DIR]`` and ``run`` the chosen preset."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    add_mode_arguments(parser)
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    out = output_dir(args.out, mode)
    script = Path(sys.argv[0]).name if argv is None else "<script>.py"
    command = " ".join(["python", f"benchmarks/{script}", f"--{mode}",
                        *(["--out", args.out] if args.out else [])])
    quiet_warnings()
    run(presets[mode], out, command)


def add_mode_arguments(parser):
    """``--quick`` / ``--full`` (one required) and ``--out``."""
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--quick", action="store_true",
                      help="CI smoke run: one seed, small subsets (seconds)")
    mode.add_argument("--full", action="store_true", help="the real run")
    parser.add_argument("--out", default=None,
                        help="results folder (Markdown + PNG); default "
                        "benchmarks/results, or benchmarks/results/quick")


def output_dir(out, mode):
    """The results folder, created: ``out`` or the default of ``mode``."""
    path = Path(out) if out else RESULTS / ("quick" if mode == "quick" else "")
    path.mkdir(parents=True, exist_ok=True)
    return path


def quiet_warnings():
    """Benchmarks fit hundreds of models; their convergence chatter is noise."""
    warnings.filterwarnings("ignore")


# ------------------------------------------------------------ statistics
def median_time(fn, repeat=3):
    """``(median wall time of repeat calls, last return value)``."""
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}.")
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), value


def round_robin(fns, rounds):
    """Time each of ``fns`` (name -> callable) once per round, in turn.

    Returns ``(times, values)``: every name's wall times, one per round, and
    the value its last call returned. In turn rather than each method's
    repeats in a row, so that a slow spell of a shared machine falls on all
    the methods of a round: compare them with :func:`round_ratio`.
    """
    times, values = {name: [] for name in fns}, {}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            values[name] = fn()
            times[name].append(time.perf_counter() - start)
    return times, values


def round_ratio(times, name, base):
    """Median over rounds of ``times[name] / times[base]`` (the same round's)."""
    return float(np.median(np.asarray(times[name]) / np.asarray(times[base])))


def wall_time(fn):
    """Wall time of one call of ``fn``, in seconds."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def standard_error(values):
    """Standard error of the mean (0 for fewer than two values)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return 0.0
    return float(values.std(ddof=1) / np.sqrt(len(values)))


def mean_se(values, digits=4, scale=1.0):
    """``"mean ± standard error"`` of ``scale * values`` (``± —`` for one value)."""
    values = scale * np.asarray(values, dtype=float)
    mean = f"{values.mean():.{digits}f}"
    if len(values) < 2:
        return mean + " ± —"
    return f"{mean} ± {standard_error(values):.{digits}f}"


def seeds_label(n):
    return f"{n} seed{'s' * (n != 1)}"


# ------------------------------------------------------------ data and scores
def loaders():
    """The bundled data sets by name."""
    from sklearn_fairif.datasets import load_adult, load_compas, load_german

    return {"adult": load_adult, "compas": load_compas, "german": load_german}


def load_split(name, seed, max_rows=None):
    """60/20/20 split of a bundled data set, stratified on label x group.

    ``max_rows`` first subsamples the data set (stratified), for quick runs.
    Returns ``train_val_test_split``'s nine arrays, with ``s`` as ndarrays.
    """
    from sklearn.model_selection import train_test_split

    from sklearn_fairif.datasets import train_val_test_split

    X, y, s = loaders()[name](return_X_y=True)
    if max_rows is not None and len(y) > max_rows:
        strata = np.asarray(y).astype(str) + "_" + np.asarray(s).astype(str)
        keep, _ = train_test_split(np.arange(len(y)), train_size=max_rows,
                                   stratify=strata, random_state=seed)
        X, y, s = X.iloc[keep], np.asarray(y)[keep], np.asarray(s)[keep]
    X_tr, X_val, X_te, y_tr, y_val, y_te, s_tr, s_val, s_te = train_val_test_split(
        X, y, s, random_state=seed)
    return (X_tr, X_val, X_te, y_tr, y_val, y_te,
            np.asarray(s_tr), np.asarray(s_val), np.asarray(s_te))


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
    y, y_pred = np.asarray(y), np.asarray(y_pred)
    out = {"acc": float(np.mean(y == y_pred))}
    for name in metrics:
        out[name] = float(gaps[name](y, y_pred, sensitive_features=s))
    return out


# ------------------------------------------------------------ results files
def table(rows):
    """A list of dicts (one per row, same keys) as a Markdown table."""
    import pandas as pd

    return pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True) + "\n"


def markdown_table(rows, columns):
    """:func:`table` of ``rows`` restricted to ``columns`` (the older helper's call).

    Kept for the scripts owned elsewhere (``bench_torch_influence.py``,
    ``select_alpha.py``) that still call it.
    """
    return table([{c: row[c] for c in columns} for row in rows])


def header(title, command):
    """Markdown header: date, machine, versions, command."""
    import fairlearn
    import scipy
    import sklearn

    import sklearn_fairif

    cpu = platform.processor() or platform.machine()
    threads = ", ".join(f"{v}={os.environ.get(v, 'unset')}"
                        for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"))
    return "\n".join([
        f"# {title}",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {platform.system()} {platform.release()}, {cpu}, "
        f"{os.cpu_count()} CPU cores ({threads})",
        f"- versions: python {sys.version.split()[0]}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, scikit-learn {sklearn.__version__}, "
        f"fairlearn {fairlearn.__version__}, sklearn-fairif "
        f"{sklearn_fairif.__version__} (commit {_commit()})",
        f"- command: `{command}`",
        "",
    ])


def _commit():
    """The short git commit of the checkout that holds the package, or '?'."""
    import subprocess

    import sklearn_fairif

    try:
        return subprocess.run(
            ["git", "-C", str(Path(sklearn_fairif.__file__).parent), "rev-parse",
             "--short", "HEAD"], capture_output=True, text=True, timeout=10,
        ).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def write(out, name, title, command, body):
    """Write ``out/<name>.md``: the header, then ``body``."""
    path = Path(out) / f"{name}.md"
    path.write_text(header(title, command) + "\n" + body)
    print(f"wrote {path}", flush=True)
    return path


# ------------------------------------------------------------ plots
def pyplot():
    """matplotlib's pyplot on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_accuracy_aod(fig, ax, title, path, legend_loc="best"):
    """Label an accuracy-vs-AOD plot and save it to ``path``."""
    ax.set_xlabel("test AOD (average odds difference, lower is fairer)")
    ax.set_ylabel("test accuracy")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc=legend_loc)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    pyplot().close(fig)


# ------------------------------------------------------------ models
def mlp_net(n_features, *, epochs, seed):
    """The command line's small ReLU network (64-32, Adam) as a skorch classifier.

    Built from a module *instance* created under ``torch.manual_seed(seed)``, so
    every fit (ERM, each refit) starts from the same initial weights.
    """
    import torch
    from skorch import NeuralNetBinaryClassifier

    torch.manual_seed(seed)
    module = torch.nn.Sequential(
        torch.nn.Linear(n_features, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 32), torch.nn.ReLU(),
        torch.nn.Linear(32, 1),
    )
    return NeuralNetBinaryClassifier(
        module, max_epochs=epochs, batch_size=256, lr=1e-3,
        optimizer=torch.optim.Adam, optimizer__weight_decay=1e-4,
        train_split=None, verbose=0,
    )


def group_shift_data(n, d, seed):
    """Rows whose minority group (30%) follows a different boundary.

    The data of the network benchmarks (torch influence, GPU check).
    """
    rng = np.random.default_rng(seed)
    s = (rng.random(n) < 0.3).astype(int)
    X = rng.normal(size=(n, d)).astype(np.float32)
    X[:, 0] += s
    logit = X[:, 1:6].sum(axis=1) - 1.5 * s * X[:, 1] + 0.5 * s
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y, s


def mlp_128_64(d, epochs, **params):
    """The network benchmarks' d -> 128 -> 64 -> 1 ReLU MLP (Adam, batch 256).

    ``params`` (``device``, ``iterator_valid__batch_size``...) go to the net.
    """
    import torch
    from skorch import NeuralNetBinaryClassifier

    torch.manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.Linear(d, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64),
        torch.nn.ReLU(), torch.nn.Linear(64, 1))
    return NeuralNetBinaryClassifier(
        module, max_epochs=epochs, batch_size=256, train_split=None, verbose=0,
        optimizer=torch.optim.Adam, optimizer__lr=1e-3,
        optimizer__weight_decay=1e-4, **params,
    )


# ------------------------------------------------------------ wide one-hot data
# Census-shaped categorical columns: 8 binary, 11 of 5 levels, 10 of 10, 6 of
# 20 and 5 of 40 (40 columns, 491 one-hot features).
CENSUS_CARDINALITIES = (2,) * 8 + (5,) * 11 + (10,) * 10 + (20,) * 6 + (40,) * 5


def make_census_like(n, random_state=0):
    """Census-shaped categorical data: ``(codes, y, s)``.

    ``codes`` (n, 40) int8: one category per column of
    :data:`CENSUS_CARDINALITIES`, drawn from skewed (Dirichlet(0.7)) level
    frequencies, as a census' occupations and regions are. ``s``: a binary
    group (a 30% minority, 1) whose level frequencies differ from the
    majority's in 10 of the columns (the proxies a model without ``s`` sees).
    ``y``: a sparse logistic model: 14 columns carry effects (a third of their
    levels each, at least one), plus a group-dependent bias: in the minority
    the intercept is 0.8 lower and three of the effect columns act with the
    opposite sign, a boundary that a model shared by both groups fits for the
    majority, so its error rates differ by group (about 30% positives).

    The structure (level frequencies, proxies, effects) depends on
    ``random_state`` only, never on ``n``: the sizes of a sweep sample the
    same problem.
    """
    structure = np.random.default_rng([random_state, 0])
    rng = np.random.default_rng([random_state, 1])
    cards = CENSUS_CARDINALITIES
    proxies = set(structure.choice(len(cards), size=10, replace=False).tolist())
    active = structure.choice(len(cards), size=14, replace=False).tolist()
    flipped = set(active[:3])
    columns = []
    for j, k in enumerate(cards):
        freq = structure.dirichlet(np.full(k, 0.7))
        freq_minority = structure.dirichlet(np.full(k, 0.7)) if j in proxies else freq
        effect = np.zeros(k)
        if j in active:
            on = structure.choice(k, size=max(1, k // 3), replace=False)
            effect[on] = structure.normal(0.0, 1.2, size=len(on))
        columns.append((np.cumsum(freq), np.cumsum(freq_minority), effect))

    s = (rng.random(n) < 0.3).astype(np.int64)
    codes = np.empty((n, len(cards)), dtype=np.int8)
    logit = np.full(n, -2.9) - 0.8 * s
    for j, (cum, cum_minority, effect) in enumerate(columns):
        u = rng.random(n) * cum[-1] * (1 - 1e-12)
        col = np.where(s == 1, np.searchsorted(cum_minority, u, side="right"),
                       np.searchsorted(cum, u, side="right"))
        codes[:, j] = col
        if j in flipped:
            logit += np.where(s == 1, -effect[col], effect[col])
        else:
            logit += effect[col]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    return codes, y, s


def census_onehot(n, n_val, random_state=0):
    """:func:`make_census_like` one-hot encoded, the encoder fitted on the train rows.

    Returns ``(X, y, s, X_val, y_val, s_val, seconds)``: ``X`` and ``X_val``
    CSR float64 (scikit-learn's ``OneHotEncoder``, unseen levels ignored) and
    the encoder's fit + transform time.
    """
    from sklearn.preprocessing import OneHotEncoder

    codes, y, s = make_census_like(n + n_val, random_state)
    start = time.perf_counter()
    encoder = OneHotEncoder(handle_unknown="ignore", dtype=np.float64)
    X = encoder.fit_transform(codes[:n]).tocsr()
    X_val = encoder.transform(codes[n:]).tocsr()
    seconds = time.perf_counter() - start
    return X, y[:n], s[:n], X_val, y[n:], s[n:], seconds
