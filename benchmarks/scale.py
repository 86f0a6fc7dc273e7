"""How does the fit time grow with the number of rows and of features?

ERM, FairIF (default alpha; a 7-value alpha list, serial and with n_jobs=2),
Li & Liu (one reduction target) and ExpGrad on
synthetic data (``make_biased_classification``), StandardScaler +
LogisticRegression. Every time is the median of ``repeat`` fits, reported as a
ratio to ERM's at the same size, measured in the same run (round-robin).

Then a wide, census-shaped one-hot problem (``_common.make_census_like``: 40
categorical columns, 491 one-hot features, CSR) up to 10^6 rows: time and peak
extra memory of ERM, FairIF (default alpha, alpha=0.3, the 7-value list serial
and with n_jobs=2) and ExpGrad, and issue 14's targets at the largest size.
Each size runs in its own process: every method's peak memory is measured in a
fork of it, the times afterwards in the process itself (see the results file
for how the VM's first-touch cost of fresh memory is kept out of them).

Writes ``comparison_scale.md``, ``scaling.png`` and the wide problem's raw
measurements, ``comparison_scale_wide.json``.

Usage: python benchmarks/scale.py --quick|--full [--out DIR]
"""

import os

os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

import ctypes
import gc
import json
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import (
    COLORS,
    MARKERS,
    TRAIN_GROUPS,
    census_onehot,
    main,
    pyplot,
    round_robin,
    table,
    wall_time,
    write,
)
from baselines import ERM, ExpGrad, FairIF, LiLiu
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_fairif.datasets import make_biased_classification

N_VAL = 2000


@dataclass(frozen=True)
class Config:
    sizes: tuple = (1000, 3000, 10000, 30000, 100000, 300000, 1000000)
    features: tuple = (10, 30, 100, 300, 1000)
    feature_n: int = 20000
    repeat: int = 3
    # Largest n each method is run at (the others: every size).
    caps: tuple = (("Li & Liu", 1000000), ("ExpGrad (EqualizedOdds)", 1000000))
    # The wide one-hot problem: sizes, repeats; per method the largest n it is
    # timed at, the n from which it is timed once (not in the round-robin), and
    # the largest n its memory is measured at (the others: every size).
    wide_sizes: tuple = (25000, 50000, 100000, 250000, 500000, 1000000)
    wide_repeat: int = 3
    wide_caps: tuple = (("ExpGrad (EqualizedOdds)", 100000),)
    wide_once_from: tuple = (("ExpGrad (EqualizedOdds)", 50000),)
    wide_memory_caps: tuple = (("ExpGrad (EqualizedOdds)", 50000),)
    # A spot check past the caps: (n, methods), each timed once, in one process
    # (ExpGrad at 10^6 rows: ten minutes). () for none.
    wide_spot: tuple = (1000000, ("ERM", "FairIF (default alpha)",
                                  "FairIF (alpha=0.3)", "ExpGrad (EqualizedOdds)"))
    # Heap touched once before the in-process sweeps (bytes): more than any
    # method's peak there, so that no timed fit pays the VM's first touch.
    sweep_pretouch: int = 3 * 2**30


PRESETS = {
    "quick": Config(sizes=(1000, 10000), features=(10, 50), feature_n=5000,
                    repeat=1, caps=(("Li & Liu", 10000),
                                    ("ExpGrad (EqualizedOdds)", 10000)),
                    # ExpGrad's 50 fits take seconds even on 1000 rows.
                    wide_sizes=(2000,), wide_repeat=1,
                    wide_caps=(("ExpGrad (EqualizedOdds)", 0),),
                    wide_once_from=(("ExpGrad (EqualizedOdds)", 0),),
                    wide_memory_caps=(("ExpGrad (EqualizedOdds)", 0),),
                    wide_spot=(), sweep_pretouch=2**26),
    "full": Config(),
}


def _linear():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


# The 7-value alpha list that issue 14's targets are stated for.
SEVEN = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
METHODS = {
    "ERM": lambda: ERM(_linear()),
    "FairIF (default alpha)": lambda: FairIF(_linear()),
    "FairIF (7 alphas)": lambda: FairIF(_linear(), alpha=SEVEN),
    "FairIF (7 alphas, n_jobs=2)": lambda: FairIF(_linear(), alpha=SEVEN, n_jobs=2),
    "Li & Liu": lambda: LiLiu(_linear(), lams=(0.5,)),
    "ExpGrad (EqualizedOdds)": lambda: ExpGrad(_linear()),
}


def synthetic(n, d, seed):
    """``n`` training and ``N_VAL`` validation rows, ``d`` features."""
    X, y, s = make_biased_classification(n + N_VAL, bias="group_size",
                                         n_features=d, random_state=seed)
    return X[:n], y[:n], s[:n], X[n:], y[n:], s[n:]


def point(config, data, n):
    """``{method: median seconds}`` at one size (round-robin over repeats)."""
    caps = dict(config.caps)
    methods = [m for m in METHODS if n <= caps.get(m, np.inf)]
    times, _ = round_robin({m: (lambda m=m: METHODS[m]().fit(*data))
                            for m in methods}, config.repeat)
    return {m: float(np.median(t)) for m, t in times.items()}


def slope(curve, lo=1e4):
    c = np.asarray([p for p in curve if p[0] >= lo])
    if len(c) < 2:
        return "n/a (fewer than 2 points)"
    return f"{np.polyfit(np.log(c[:, 0]), np.log(c[:, 1]), 1)[0]:.2f}"


def sweep(config, values, make_data, label):
    """Rows of ratio-to-ERM times over ``values``, and the absolute curves."""
    rows, curves = [], {}
    for v in values:
        t = point(config, make_data(v), v if label == "n" else config.feature_n)
        row = {label: f"{v:.0e}" if label == "n" else str(v),
               "ERM (s)": f"{t['ERM']:.3f}"}
        for m in METHODS:
            if m != "ERM":
                row[f"{m} / ERM"] = f"{t[m] / t['ERM']:.2f}" if m in t else "—"
            if m in t:
                curves.setdefault(m, []).append((v, t[m]))
        rows.append(row)
        print(row, flush=True)
    return rows, curves


def plot(curves, fcurves, feature_n, path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for ax, cs, xl in ((axes[0], curves, "training rows n"),
                       (axes[1], fcurves, "features d")):
        for m, c in cs.items():
            c = np.asarray(c)
            ax.loglog(c[:, 0], c[:, 1], "-" + MARKERS[m], color=COLORS[m],
                      label=m + (" [train groups]" if m in TRAIN_GROUPS else ""))
        ax.set_xlabel(xl)
        ax.set_ylabel("fit time (s, median)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    axes[0].set_title("fit time vs n (10 features)", fontsize=10)
    axes[1].set_title(f"fit time vs features (n = {feature_n})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ------------------------------------------------------------ wide one-hot data
WIDE_VAL = 2000
# Rows of the small fit that warms every method up (imports, first calls).
WIDE_WARM = 2000


def _wide_model():
    return LogisticRegression(max_iter=1000)


WIDE_METHODS = {
    "ERM": lambda: ERM(_wide_model()),
    "FairIF (default alpha)": lambda: FairIF(_wide_model()),
    "FairIF (alpha=0.3)": lambda: FairIF(_wide_model(), alpha=0.3,
                                         name="FairIF (alpha=0.3)"),
    "FairIF (7 alphas)": lambda: FairIF(_wide_model(), alpha=SEVEN,
                                        name="FairIF (7 alphas)"),
    "FairIF (7 alphas, n_jobs=2)": lambda: FairIF(
        _wide_model(), alpha=SEVEN, n_jobs=2, name="FairIF (7 alphas, n_jobs=2)"),
    "ExpGrad (EqualizedOdds)": lambda: ExpGrad(_wide_model()),
}
PARALLEL = frozenset({"FairIF (7 alphas, n_jobs=2)"})
FAIRIF = [m for m in WIDE_METHODS if m.startswith("FairIF")]
EXPGRAD = "ExpGrad (EqualizedOdds)"


def _csr_bytes(X):
    return int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes)


def _status_bytes(key):
    """``VmRSS`` / ``VmHWM`` of this process, in bytes (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def _reset_peak_rss():
    """Reset this process' peak RSS (VmHWM) to its current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


class _WorkersPss(threading.Thread):
    """Peak total PSS of this process' descendants, sampled every 20 ms.

    PSS splits a shared page between the processes that map it, so the
    workers' shared memory-mapped copy of X counts once.
    """

    def __init__(self):
        super().__init__(daemon=True)
        self.done, self.peak = threading.Event(), 0

    @staticmethod
    def total():
        import psutil

        pss = 0
        for child in psutil.Process().children(recursive=True):
            try:
                pss += child.memory_full_info().pss
            except psutil.Error:
                pass
        return pss

    def run(self):
        while not self.done.is_set():
            self.peak = max(self.peak, self.total())
            self.done.wait(0.02)

    def stop(self):
        self.done.set()
        self.join()
        self.peak = max(self.peak, self.total())
        return self.peak


def _in_fork(fn):
    """``fn()``'s JSON-able result, computed in a forked child of this process.

    The child starts with this process' memory (shared, copy-on-write), so its
    peak RSS above its starting RSS is what ``fn`` allocated.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    read, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        try:
            out = json.dumps({"ok": fn()})
        except BaseException as exc:  # reported to the parent
            out = json.dumps({"error": repr(exc)})
        with os.fdopen(write_end, "w") as f:
            f.write(out)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read) as f:
        text = f.read()
    os.waitpid(pid, 0)
    result = json.loads(text)
    if "error" in result:
        raise RuntimeError(f"forked measurement failed: {result['error']}")
    return result["ok"]


def _peak_extra(method, data, warm):
    """Peak extra memory (bytes) of one fit: this process, and its workers."""
    parallel = method in PARALLEL
    if parallel:  # start the joblib workers, as the timed fits find them
        WIDE_METHODS[method]().fit(*warm)
    sampler = _WorkersPss()
    idle = sampler.total()
    if parallel:
        sampler.start()
    gc.collect()
    # Free heap pages go back to the kernel first: reused by the fit, they
    # would not show in its RSS.
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    _reset_peak_rss()
    before = _status_bytes("VmRSS")
    WIDE_METHODS[method]().fit(*data)
    main_extra = _status_bytes("VmHWM") - before
    workers = sampler.stop() if parallel else idle
    if parallel:  # stop the workers and delete their memory-mapped data
        from joblib.externals.loky import reusable_executor

        executor = reusable_executor._executor
        if executor is not None:
            executor.terminate(kill_workers=True)
    return {"main": main_extra, "workers": max(0, workers - idle),
            "workers_idle": idle}


def _retain_freed_memory():
    """Keep freed memory in this process' heap (glibc) instead of unmapping it.

    On this benchmark's VM a page the guest has not touched recently costs
    3-20 s per GiB on first touch (the host backs guest memory lazily and
    reclaims freed pages), ten to a hundred times a bare-metal page fault, and
    that would be charged to whichever method allocates most. With no mmap'd
    blocks and no trimming, memory freed by one fit is reused by the next.
    Later joblib workers read the same settings from the environment.
    """
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-4, 0)   # M_MMAP_MAX: never mmap a block
    libc.mallopt(-1, -1)  # M_TRIM_THRESHOLD: never give the heap back
    os.environ.update(MALLOC_MMAP_MAX_="0", MALLOC_TRIM_THRESHOLD_=str(2**62))


def _pretouch(nbytes):
    """Touch and free ``nbytes`` of heap, so the timed fits find it backed."""
    if nbytes > 0:
        block = np.ones(int(nbytes) // 8)
        del block


def _stage_seconds(fitted):
    return {k: float(v) for k, v in fitted.clf_.stage_times_.items()}


def wide_point(spec):
    """One size of the wide problem, in this process (see :func:`_helper`).

    ``spec``: ``n``, ``repeat``, ``methods`` (timed), ``once`` (timed once, in
    the first round only), ``memory`` (peak memory measured, each in a fork)
    and ``estimates`` (extra memory per method as a fraction of X, for the
    methods timed but not measured here: sizes the pre-touched heap only).
    """
    n = spec["n"]
    X, y, s, X_val, y_val, s_val, encode = census_onehot(n, WIDE_VAL, 0)
    data = (X, y, s, X_val, y_val, s_val)
    warm = (X[:WIDE_WARM], y[:WIDE_WARM], s[:WIDE_WARM], X_val, y_val, s_val)
    x_bytes = _csr_bytes(X)
    for m in spec["methods"]:
        if m not in PARALLEL:  # workers start in the forks, then below
            WIDE_METHODS[m]().fit(*warm)
    gc.collect()
    gc.freeze()  # the forks then copy no pages for the collector's bookkeeping
    memory = {}
    for m in spec["memory"]:
        memory[m] = _in_fork(lambda m=m: _peak_extra(m, data, warm))
        print(f"  n={n:,} {m}: peak extra {memory[m]['main'] / x_bytes:.2f} X"
              f" + workers {memory[m]['workers'] / x_bytes:.2f} X",
              file=sys.stderr, flush=True)
    gc.unfreeze()

    _retain_freed_memory()
    need = [v["main"] for v in memory.values()]
    need += [f * x_bytes for m, f in spec["estimates"].items()]
    _pretouch(1.25 * max(need, default=0) + 2**26)
    for m in spec["methods"]:
        if m in PARALLEL:
            WIDE_METHODS[m]().fit(*warm)
    times = {m: [] for m in spec["methods"]}
    stages, chosen, gaps = {}, {}, {}
    for r in range(spec["repeat"]):
        for m in spec["methods"]:
            if r and m in spec["once"]:
                continue
            fitted = WIDE_METHODS[m]()
            times[m].append(wall_time(lambda f=fitted: f.fit(*data)))
            if m in FAIRIF:
                stages.setdefault(m, []).append(_stage_seconds(fitted))
                chosen[m] = float(fitted.clf_.alpha_)
                g = fitted.clf_.validation_gaps_
                gaps[m] = [float(np.mean(np.abs(g["hard_before"]))),
                           float(np.mean(np.abs(g["hard_after"])))]
            del fitted
        print(f"  n={n:,} round {r + 1}: " + ", ".join(
            f"{m} {t[-1]:.2f}s" for m, t in times.items() if len(t) > r),
            file=sys.stderr, flush=True)
    median_stages = {m: {k: float(np.median([st.get(k, 0.0) for st in v]))
                         for k in v[0]} for m, v in stages.items()}
    return {"n": n, "d": int(X.shape[1]), "nnz_per_row": X.nnz / n,
            "x_bytes": x_bytes, "encode_s": encode,
            "times": {m: float(np.median(t)) for m, t in times.items()},
            "runs": {m: len(t) for m, t in times.items()},
            "memory": memory, "stages": median_stages, "alpha": chosen,
            "gaps": gaps}


def _helper(spec_json):
    """Entry point of the per-size process: print :func:`wide_point`'s JSON."""
    from _common import quiet_warnings

    quiet_warnings()
    print(json.dumps(wide_point(json.loads(spec_json))), flush=True)


def _run_point(spec):
    """:func:`wide_point` in a fresh Python process (whose memory is its own)."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import scale; "
            "scale._helper(sys.argv[2])")
    proc = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).resolve().parent),
         json.dumps(spec)], stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"the n={spec['n']} process failed "
                           f"(exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def wide_sweep(config):
    """Every size of the wide problem, each in its own process.

    Returns ``{"points": [...], "spot": point or None}``.
    """
    caps, once_from = dict(config.wide_caps), dict(config.wide_once_from)
    memory_caps = dict(config.wide_memory_caps)
    points, fractions = [], {}
    for n in config.wide_sizes:
        methods = [m for m in WIDE_METHODS if n <= caps.get(m, np.inf)]
        memory = [m for m in methods if n <= memory_caps.get(m, np.inf)]
        spec = {"n": n, "repeat": config.wide_repeat, "methods": methods,
                "once": [m for m in methods if n >= once_from.get(m, np.inf)],
                "memory": memory,
                "estimates": {m: fractions[m] for m in methods
                              if m not in memory and m in fractions}}
        point = _run_point(spec)
        for m, v in point["memory"].items():
            fractions[m] = v["main"] / point["x_bytes"]
        points.append(point)
        print({"n": f"{n:,}", **{m: round(t, 3)
                                   for m, t in point["times"].items()}},
              flush=True)
    spot = None
    if config.wide_spot:
        n, methods = config.wide_spot
        # Heap pre-touched from the largest measured sizes' fractions.
        spot = _run_point({"n": n, "repeat": 1, "methods": list(methods),
                           "once": [], "memory": [],
                           "estimates": {m: fractions[m] for m in methods
                                         if m in fractions}})
        print({"spot n": f"{n:,}", **spot["times"]}, flush=True)
    return {"points": points, "spot": spot}


def _fit_slope(xs, ts):
    return float(np.polyfit(np.log(xs), np.log(ts), 1)[0])


def _ratio(point, m):
    t = point["times"]
    if m not in t:
        return "—"
    mark = "¹" if point["runs"][m] == 1 and point["runs"]["ERM"] > 1 else ""
    return f"{t[m] / t['ERM']:.2f}{mark}"


def _memory_cell(point, m):
    v = point["memory"].get(m)
    if v is None:
        return "—"
    cell = f"{v['main'] / point['x_bytes']:.2f}"
    if m in PARALLEL:
        cell += f" + {v['workers'] / point['x_bytes']:.2f}"
    return cell


def _verdict(ok):
    return "**met**" if ok else "**missed**"


def wide_report(config, sweep):
    """The wide problem's section of the results file (``sweep``: wide_sweep's)."""
    points, spot = sweep["points"], sweep["spot"]
    caps, once_from = dict(config.wide_caps), dict(config.wide_once_from)
    memory_caps = dict(config.wide_memory_caps)
    last = points[-1]
    lines = [
        f"\n## Wide one-hot data (census-shaped), n up to {last['n']:,}\n",
        "`_common.make_census_like`: 40 categorical columns (8 binary, 11 of 5 "
        "levels, 10 of 10, 6 of 20, 5 of 40; skewed level frequencies), a 30% "
        "minority group that shifts the level frequencies of 10 columns, labels "
        "from a sparse logistic model with a group-dependent bias (lower "
        "intercept and three effects of opposite sign in the minority). "
        f"One-hot encoded by scikit-learn's `OneHotEncoder` (CSR, float64, "
        f"{last['d']} features, {last['nnz_per_row']:.0f} non-zeros a row) "
        "**once per size, before any timing**: the encoder took "
        f"{last['encode_s']:.1f} s at n = {last['n']:,} (column 'encode'), "
        f"{last['encode_s'] / last['times']['ERM']:.1f}x ERM's whole fit, so "
        "inside a Pipeline it would blur the ratios; every method fits "
        "`LogisticRegression(max_iter=1000)` on the same CSR matrix. "
        f"{WIDE_VAL} validation rows. FairIF reads validation groups only; "
        "ExpGrad (fairlearn, `EqualizedOdds`) reads training groups and needs "
        "dense input (its wrapper densifies X, part of its time and memory).\n",
        "How it is measured. Each size runs in a fresh Python process that "
        "builds the data. *Memory*: each method is fitted once in a fork of "
        "that process; its peak RSS (`VmHWM`, reset through "
        "`/proc/self/clear_refs` just before the fit) minus its RSS before the "
        "fit is the peak extra memory, given as a fraction of the training "
        "matrix's bytes (CSR data + indices + indptr, column 'X'). For n_jobs=2 "
        "the second number is the joblib workers' peak total PSS above their "
        "idle PSS (sampled every 20 ms; it includes their memory-mapped copy "
        "of X); idle, the two workers hold "
        + (f"{last['memory'][next(iter(PARALLEL))]['workers_idle'] / 2**20:.0f} MB"
           if next(iter(PARALLEL)) in last["memory"] else "(not measured)")
        + " more. *Time*: afterwards, in the process itself, round-robin over "
        f"the methods, median of {config.wide_repeat} fits, as a ratio to ERM's "
        "median at the same size; BLAS on one thread. This VM charges 3-20 s "
        "per GiB the first time fresh memory is touched (the host backs guest "
        "pages lazily and takes freed ones back): a cost of the VM, not of the "
        "methods, and ten to a hundred times a bare-metal page fault. So "
        "before the timed fits the process keeps freed memory in its heap "
        "(glibc `mallopt`: no mmap'd blocks, no trimming; the workers through "
        "`MALLOC_*` variables) and touches 1.25x the largest measured peak "
        "once; the fits then reuse backed pages, as on a machine without that "
        "cost (whose own page faults, ~0.2 s/GiB, this leaves out).\n",
    ]
    rows = []
    for p in points:
        row = {"n": f"{p['n']:,}", "X (MB)": f"{p['x_bytes'] / 2**20:.0f}",
               "encode (s, once)": f"{p['encode_s']:.2f}",
               "ERM (s)": f"{p['times']['ERM']:.3f}"}
        for m in WIDE_METHODS:
            if m != "ERM":
                row[f"{m} / ERM"] = _ratio(p, m)
        rows.append(row)
    lines += ["### Fit time, ratio to ERM\n", table(rows)]
    eg_cap, eg_once = caps.get(EXPGRAD, np.inf), once_from.get(EXPGRAD, np.inf)
    if not any(EXPGRAD in p["times"] for p in points):
        lines.append("ExpGrad: not run in this preset.\n")
    elif eg_cap < last["n"]:
        lines.append(
            f"¹ one fit, not a median (ExpGrad from n = {eg_once:,}). "
            f"ExpGrad is timed up to n = {eg_cap:,} only ('—' above: not "
            "run; its fits take minutes each and its dense copy of X grows "
            "to gigabytes).\n")
    rows = []
    for p in points:
        row = {"n": f"{p['n']:,}", "X (MB)": f"{p['x_bytes'] / 2**20:.0f}"}
        for m in WIDE_METHODS:
            row[m] = _memory_cell(p, m)
        rows.append(row)
    note = "n_jobs=2: main process + workers."
    if memory_caps.get(EXPGRAD, np.inf) < last["n"]:
        note += (" ExpGrad's memory is measured up to n = "
                 f"{memory_caps[EXPGRAD]:,} (each measurement is one more "
                 "of its slow fits).")
    lines += ["### Peak extra memory, fraction of X\n", table(rows), note + "\n"]

    slopes = {}
    rows = []
    for m in WIDE_METHODS:
        c = [(p["n"], p["times"][m]) for p in points if m in p["times"]]
        if len(c) >= 2:
            slopes[m] = _fit_slope(*zip(*c, strict=True))
        rows.append({"method": m, "sizes": f"{len(c)} ({c[0][0]:,} to "
                     f"{c[-1][0]:,})" if c else "0",
                     "log-log slope of time vs n":
                         f"{slopes[m]:.2f}" if m in slopes else "n/a"})
    lines += ["### Slope of time vs n (least squares over the sizes)\n",
              table(rows)]

    rows = []
    erm = last["times"]["ERM"]
    for m in FAIRIF:
        if m not in last["stages"]:
            continue
        st = last["stages"][m]
        row = {"method": m, "alpha_": f"{last['alpha'][m]:g}",
               "val |gap| before → after":
                   "{:.3f} → {:.3f}".format(*last["gaps"][m])}
        for k, v in st.items():
            row[f"{k} (s)"] = f"{v:.2f} ({v / erm:.2f}x)"
        rows.append(row)
    lines += [f"### Where FairIF's time goes at n = {last['n']:,}\n",
              "`stage_times_` of the fitted `FairIFClassifier` (median over the "
              "timed fits), seconds and multiple of ERM's fit; 'val |gap|' is "
              "the mean absolute hard equalized-odds gap on the validation set "
              "before and after reweighting.\n",
              table(rows).replace("nan", "—")]
    lines += _targets(points, slopes, spot)
    lines += _why(last)
    return "\n".join(lines)


def _why(last):
    """What the stage times and the memory say about the missed targets."""
    st, erm = last["stages"], last["times"]["ERM"]
    out = []
    m = "FairIF (alpha=0.3)"
    if m in st:
        x = {k: v / erm for k, v in st[m].items()}
        out.append(
            f"Why FairIF costs more than 2x ERM here ({m}, in multiples of "
            f"ERM's fit): stage 1 {x.get('stage 1 (unweighted fit)', 0):.2f}, "
            f"influence {x.get('influence', 0):.2f}, weights "
            f"{x.get('weights', 0):.2f}, weighted refit "
            f"{x.get('stage 2 (weighted refit)', 0):.2f}. With "
            f"{last['d'] + 1} parameters (≤ 2000) the iHVP is the exact "
            "Cholesky solve, and building the dense Hessian from sparse rows "
            f"costs about n × (non-zeros per row)² = "
            f"{last['n'] * last['nnz_per_row'] ** 2:.1e} multiply-adds: about one "
            "ERM fit, which makes a few dozen L-BFGS passes over the "
            f"{last['n'] * last['nnz_per_row']:.1e} non-zeros. The refit starts "
            "from the stage-1 solution moved by the predicted parameter shift, "
            "so it costs a fraction of a fit; stage 1 and the Hessian remain, "
            "and neither is a copy of X or an extra pass that could be dropped: "
            "a 2x target leaves no room for an exact Hessian that costs more "
            "than one fit.")
        mem, erm_mem = last["memory"].get(m), last["memory"].get("ERM")
        if mem is not None and erm_mem is not None:
            x_bytes = last["x_bytes"]
            out.append(
                f"{m}'s peak extra memory, {mem['main'] / x_bytes:.3f}x X, "
                f"against ERM's own {erm_mem['main'] / x_bytes:.3f}x "
                "(L-BFGS's length-n temporaries).")
    m = "FairIF (default alpha)"
    if m in st and m in last["memory"]:
        x = {k: v / erm for k, v in st[m].items()}
        mem = last["memory"][m]["main"] / last["x_bytes"]
        out.append(
            f"{m} (alpha='auto'): influence {x.get('influence', 0):.2f}x and "
            f"alpha selection {x.get('alpha selection', 0):.2f}x ERM, peak "
            f"{mem:.2f}x X. Its influence pass has 22 columns (the 2 "
            "constraints and 20 fold cells: an n × 22 float64 matrix, "
            f"{22 * 8 * last['n'] / last['x_bytes']:.2f}x X here). The "
            "selection keeps each fold's weight change in low-rank form "
            "(w - 1 = -B x + c: B = [n A, 1] of 3 columns, c on the rows clipped "
            "at 0), so its length-n arrays are per fold, not per candidate: B "
            "and its row order, the rows that can clip at the candidates being "
            "solved, and one n × 3 basis pass for the held-out margins; every "
            "candidate costs O(k²) per dual evaluation plus those rows, and one "
            "sparse pass per 4 candidates over the clipped rows.")
    return ["\n".join(f"- {line}" for line in out) + "\n"] if out else []


def _targets(points, slopes, spot=None):
    """Issue 14's four targets at the largest size, measured."""
    last = points[-1]
    n, t, x = last["n"], last["times"], last["x_bytes"]
    out = [f"### Issue 14's targets at n = {n:,}\n"]
    rows = []
    for m in FAIRIF:
        if m not in t:
            continue
        mem = last["memory"].get(m)
        total = None if mem is None else (mem["main"] + mem["workers"]) / x
        rows.append({
            "method": m,
            "time / ERM (≤ 2)": f"{t[m] / t['ERM']:.2f} "
                                f"{_verdict(t[m] / t['ERM'] <= 2)}",
            "peak extra memory / X (≤ 0.25)":
                "—" if total is None else f"{total:.3f} {_verdict(total <= 0.25)}",
            "slope vs n (≤ 1.05)": f"{slopes[m]:.2f} "
                                   f"{_verdict(slopes[m] <= 1.05)}"
                                   if m in slopes else "n/a",
        })
    out.append(table(rows))
    measured = [p for p in points if EXPGRAD in p["times"]]
    if measured:
        top = measured[-1]
        speed = {m: top["times"][EXPGRAD] / top["times"][m] for m in FAIRIF
                 if m in top["times"]}
        text = (f"ExpGrad vs FairIF (≥ 20x faster): measured at n = "
                f"{top['n']:,}, the largest size ExpGrad ran at "
                f"({top['times'][EXPGRAD]:.0f} s): " + ", ".join(
                    f"{m} {v:.0f}x {_verdict(v >= 20)}" for m, v in speed.items()))
        if top["n"] < n and EXPGRAD in slopes:
            k = slopes[EXPGRAD]
            guess = top["times"][EXPGRAD] * (n / top["n"]) ** k
            text += (f". Not measured at n = {n:,}: *extrapolated* with "
                     f"ExpGrad's own slope {k:.2f}, {guess:.0f} s, i.e. " + ", ".join(
                         f"{m} {guess / t[m]:.0f}x" for m in FAIRIF if m in t)
                     + " (an extrapolation, not a measurement)")
        out.append(text + ".\n")
    if spot is not None and EXPGRAD in spot["times"]:
        st = spot["times"]
        out.append(
            f"Spot check at n = {spot['n']:,}, past ExpGrad's cap: one fit of "
            "each method, in one process (heap pre-touched as above): "
            f"ExpGrad {st[EXPGRAD]:.0f} s = {st[EXPGRAD] / st['ERM']:.0f}x ERM "
            f"({st['ERM']:.2f} s); ExpGrad / FairIF: " + ", ".join(
                f"{m} {st[EXPGRAD] / st[m]:.1f}x {_verdict(st[EXPGRAD] / st[m] >= 20)}"
                f" ({st[m]:.1f} s)" for m in FAIRIF if m in st)
            + ". Single fits, not medians" + (
                "; the sweep's medians at this n: " + ", ".join(
                    f"{m} {t[m]:.1f} s" for m in ("ERM", *FAIRIF)
                    if m in st and m in t)
                if spot["n"] == n else "")
            + (f" ({spot['note']})" if spot.get("note") else "") + ".\n")
    return out


def run(config, out, command):
    caps = dict(config.caps)
    body = (
        "Synthetic data (`make_biased_classification`, bias='group_size'), "
        f"StandardScaler + LogisticRegression, {N_VAL} validation rows. Each "
        f"time is the median of {config.repeat} fits (methods round-robin, BLAS "
        "on one thread), given as a ratio to ERM's at the same size; ERM's "
        "own median in seconds for scale. Li & Liu with a single reduction "
        "target (lam=0.5: one LP + one refit, its cheapest setting); FairIF at "
        f"its default alpha and with the alpha list {SEVEN} (its refits serial or "
        "in 2 joblib workers). ExpGrad is run up to n = "
        f"{caps['ExpGrad (EqualizedOdds)']:.0e} and Li & Liu up to n = "
        f"{caps['Li & Liu']:.0e}. Slopes: least-squares fit of log t on log n "
        "(or log d) over the points with n ≥ 10⁴ (smaller ones are dominated "
        "by fixed overheads). Freed memory stays in the process' heap, and "
        f"{config.sweep_pretouch / 2**30:.3g} GiB of it is touched once before "
        "the sweeps (see the wide problem's section: this VM's first touch of "
        "fresh memory is slow; without it, at 10⁵ rows, the selection of "
        "alpha='auto' took 0.22, 0.12 and 0.09 s in three fits in a row).\n"
    )
    # First the wide problem, each size in its own process, while this one
    # is still small; then the in-process sweeps.
    measured = wide_sweep(config)
    (out / "comparison_scale_wide.json").write_text(json.dumps(measured, indent=1))
    wide = wide_report(config, measured)
    _retain_freed_memory()  # the VM's first-touch cost, see wide_report
    _pretouch(config.sweep_pretouch)
    warm = synthetic(1000, 10, 1)
    for make in METHODS.values():  # first-call overheads out of the first point
        make().fit(*warm)
    rows, curves = sweep(config, config.sizes, lambda n: synthetic(n, 10, 0), "n")
    body += "\n## Fit time vs n (10 features)\n\n" + table(rows)
    body += "\n" + table([{"method": m, "log-log slope vs n": slope(c)}
                          for m, c in curves.items()])
    frows, fcurves = sweep(config, config.features,
                           lambda d: synthetic(config.feature_n, d, 0), "features")
    body += f"\n## Fit time vs features (n = {config.feature_n})\n\n" + table(frows)
    body += "\n" + table([{"method": m, "log-log slope vs features": slope(c, lo=0)}
                          for m, c in fcurves.items()])
    body += "\n![scaling](scaling.png)\n" + wide
    plot(curves, fcurves, config.feature_n, out / "scaling.png")
    write(out, "comparison_scale",
          "Fit time vs n and vs features; wide one-hot data", command, body)


if __name__ == "__main__":
    main(__doc__, PRESETS, run)
