"""One prepared check of FairIF's torch path on a CUDA device (issue 16).

Run through ``scripts/gpu_check.sh`` on a bare CUDA machine. In order:

1. the gpu tests (``pytest -m gpu`` with ``FAIRIF_REQUIRE_GPU=1``: a skipped
   gpu test fails the check);
2. placement: every tensor the adapter stores is on the device;
3. host reads per CG iteration (counted on the tensor methods that read a
   device value back, and on CUDA with ``torch.cuda.set_sync_debug_mode``);
4. CPU-vs-device agreement of FairIF's influences and weights (r > 0.999);
5. the influence stage in training epochs for the 100k x 50 MLP and the
   coloured-digits CNN, over adapter batch sizes and TF32 on/off, with peak
   device memory;
6. FairIF and IFFair end to end on the device.

Writes ``gpu_check.json`` and ``gpu_check.md`` under ``--out`` (default
benchmarks/results/). Exit status 1 when a check fails. ``--device cpu``
dry-runs everything on the CPU (the gpu tests are then expected to skip and
are not required); ``--quick`` shrinks the problems.

Usage: python benchmarks/gpu_check.py [--device cuda|cpu] [--quick]
       [--out DIR] [--name gpu_check]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _common import group_shift_data, mlp_128_64  # noqa: E402
from colored_digits_cnn import cnn_net, split  # noqa: E402

from sklearn_fairif import FairIFClassifier, IFFairClassifier  # noqa: E402
from sklearn_fairif.adapters import SkorchAdapter, fit_weighted  # noqa: E402
from sklearn_fairif.influence import (  # noqa: E402
    CGSolver,
    FairnessConstraints,
    influence_scores,
)

DAMPING = 0.1


# ------------------------------------------------------------------ data
def aod(y, pred, s):
    """Average odds difference between the two groups (no fairlearn needed)."""
    gaps = []
    for label in (0, 1):
        rates = [np.mean(pred[(s == g) & (y == label)] == 1) for g in (0, 1)]
        gaps.append(abs(rates[0] - rates[1]))
    return float(np.mean(gaps))


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_reset(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def peak_mib(device):
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**20


# ----------------------------------------------------------------- checks
def run_gpu_tests(device):
    """``pytest -m gpu``; on CUDA every gpu test must pass (none skipped)."""
    env = dict(os.environ)
    if device.type == "cuda":
        env["FAIRIF_REQUIRE_GPU"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "tests/adapters", "-m", "gpu", "-q",
             "-p", "no:cacheprovider", f"--junitxml={report}"],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        if report.exists():
            suite = ET.parse(report).getroot()
            suite = suite if suite.tag == "testsuite" else suite[0]
            counts = {k: int(suite.get(k, 0)) for k in counts}
    counts["passed"] = (counts["tests"] - counts["failures"] - counts["errors"]
                        - counts["skipped"])
    counts["returncode"] = proc.returncode
    if device.type == "cuda":
        ok = (proc.returncode == 0 and counts["skipped"] == 0
              and counts["passed"] > 0)
    else:  # dry run: without CUDA every gpu test must skip, none may fail
        ok = counts["failures"] == 0 and counts["errors"] == 0
    counts["ok"] = ok
    counts["tail"] = proc.stdout[-1500:]
    return counts


def stored_tensors(adapter):
    found = []

    def walk(value, name):
        if isinstance(value, torch.Tensor):
            found.append((name, value))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{name}[{k}]")
        elif isinstance(value, (tuple, list)):
            for i, v in enumerate(value):
                walk(v, f"{name}[{i}]")

    for name, value in vars(adapter).items():
        walk(value, name)
    return found


def check_placement(adapter, device):
    wrong = [f"{name} on {t.device}" for name, t in stored_tensors(adapter)
             if t.device.type != device.type]
    return {"tensors": len(stored_tensors(adapter)), "elsewhere": wrong,
            "ok": not wrong}


_READS = ("item", "__bool__", "__float__", "__int__", "tolist", "numpy", "cpu")


def count_cg_syncs(adapter, b, device):
    """Host reads during one CG solve, per iteration."""
    counts = {"n": 0}
    originals = {name: getattr(torch.Tensor, name) for name in _READS}

    def counting(original):
        def wrapper(self, *args, **kwargs):
            counts["n"] += 1
            return original(self, *args, **kwargs)
        return wrapper

    solver = CGSolver(tol=1e-6, max_iter=100)
    cuda_syncs = None
    try:
        for name, original in originals.items():
            setattr(torch.Tensor, name, counting(original))
        if device.type == "cuda":
            sync(device)
            torch.cuda.set_sync_debug_mode("warn")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                solver.solve(adapter, b, damping=DAMPING)
            torch.cuda.set_sync_debug_mode("default")
            cuda_syncs = sum("synchroniz" in str(w.message) for w in caught)
        else:
            solver.solve(adapter, b, damping=DAMPING)
    finally:
        for name, original in originals.items():
            setattr(torch.Tensor, name, original)
    iters = max(solver.n_iter_, 1)
    per_iter = counts["n"] / iters
    return {"iterations": solver.n_iter_, "host reads": counts["n"],
            "host reads per iteration": per_iter,
            "cuda syncs (sync debug mode)": cuda_syncs,
            "ok": counts["n"] <= solver.n_iter_ + 1}


def fairif_fit(net, X, y, X_val, y_val, s_val):
    clf = FairIFClassifier(net, random_state=0)  # damping="auto"
    start = time.perf_counter()
    clf.fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val)
    return clf, time.perf_counter() - start


def check_agreement(device, n, d, epochs):
    """FairIF on the CPU and on the device: influences and weights agree."""
    X, y, _ = group_shift_data(n, d, seed=0)
    X_val, y_val, s_val = group_shift_data(2000, d, seed=1)
    yf = y.astype(np.float32)
    cpu, _ = fairif_fit(mlp_128_64(d, epochs, device="cpu"), X, yf, X_val, y_val,
                        s_val)
    dev, _ = fairif_fit(mlp_128_64(d, epochs, device=device.type), X, yf, X_val, y_val,
                        s_val)
    r_inf = min(np.corrcoef(cpu.influence_[:, c], dev.influence_[:, c])[0, 1]
                for c in range(cpu.influence_.shape[1]))
    r_w = np.corrcoef(cpu.sample_weight_, dev.sample_weight_)[0, 1]
    return {"n": n, "influence r": float(r_inf), "weights r": float(r_w),
            "ok": bool(r_inf > 0.999 and r_w > 0.999)}


def influence_in_epochs(net, X, y, X_val, y_val, s_val, device, batch_sizes,
                        label):
    """Influence stage (adapter, gradients, CG, per-sample scores) / epoch."""
    epoch = float(np.median(net.history[:, "dur"]))
    constraints = FairnessConstraints("equalized_odds", y_val, s_val)
    rows, reference = [], None
    # Warm-up (kernels, torch's one-off scripting of forward-mode rules).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 2 iterations: not converged
        influence_scores(SkorchAdapter(net, X[:512], y[:512], np.ones(512)),
                         constraints, X_val, CGSolver(max_iter=2),
                         damping=DAMPING)
    for tf32 in (False, True):
        for batch in batch_sizes:
            # TF32 on: allowed globally and let through the influence passes
            # (the adapter turns it off there by default).
            torch.backends.cuda.matmul.allow_tf32 = tf32
            torch.backends.cudnn.allow_tf32 = tf32
            SkorchAdapter.exact_float32 = not tf32
            peak_reset(device)
            start = time.perf_counter()
            adapter = SkorchAdapter(net, X, y, np.ones(len(y)), batch_size=batch)
            solver = CGSolver()
            influence, _ = influence_scores(adapter, constraints, X_val, solver,
                                            damping=DAMPING)
            sync(device)
            seconds = time.perf_counter() - start
            if reference is None:
                reference = influence
            corr = min(np.corrcoef(influence[:, c], reference[:, c])[0, 1]
                       for c in range(influence.shape[1]))
            rows.append({
                "model": label, "TF32 in the passes": tf32,
                "adapter batch": "auto" if batch is None else batch,
                "chosen batch": adapter.batch_size,
                "Hessian rows": adapter.hessian_samples or len(y),
                "CG iterations": solver.n_iter_,
                "influence (s)": round(seconds, 3),
                "epoch (s)": round(epoch, 3),
                "influence / epoch": round(seconds / epoch, 3),
                "peak device MiB": peak_mib(device),
                "corr. with first row": round(float(corr), 6),
            })
            print(rows[-1], flush=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = True
    SkorchAdapter.exact_float32 = True
    return rows


def time_mlp(device, n, d, epochs, batch_sizes):
    X, y, _ = group_shift_data(n, d, seed=0)
    X_val, y_val, s_val = group_shift_data(5000, d, seed=1)
    yf = y.astype(np.float32)
    net = fit_weighted(mlp_128_64(d, epochs, device=device.type), X, yf, np.ones(n))
    adapter = SkorchAdapter(net, X, yf, np.ones(n))
    b = adapter.logit_vjp(X_val, np.ones((len(X_val), 2)) / len(X_val))
    placement = check_placement(adapter, device)
    syncs = count_cg_syncs(adapter, b, device)
    rows = influence_in_epochs(net, X, yf, X_val, y_val, s_val, device,
                               batch_sizes, f"MLP {n:,} x {d}")
    return placement, syncs, rows


def time_cnn(device, batch_sizes, epochs):
    (X, y, X_val, y_val, s_val), _ = split(0)
    torch.manual_seed(0)
    net = fit_weighted(cnn_net(epochs=epochs, device=device.type), X,
                           y.astype(np.float32), np.ones(len(y)))
    return influence_in_epochs(net, X, y.astype(np.float32), X_val, y_val, s_val,
                               device, batch_sizes, "coloured-digits CNN")


def end_to_end(device, n, d, epochs):
    X, y, _ = group_shift_data(n, d, seed=0)
    X_val, y_val, s_val = group_shift_data(5000, d, seed=1)
    X_te, y_te, s_te = group_shift_data(20000, d, seed=2)
    yf = y.astype(np.float32)
    out = {}
    clf, seconds = fairif_fit(mlp_128_64(d, epochs, device=device.type), X, yf, X_val,
                              y_val, s_val)
    out["FairIF"] = {
        "total (s)": round(seconds, 2),
        "stage_times_": {k: round(v, 3) for k, v in clf.stage_times_.items()},
        "test AOD before": aod(y_te, clf.initial_estimator_.predict(X_te), s_te),
        "test AOD after": aod(y_te, clf.predict(X_te), s_te),
        "ok": bool(np.isfinite(clf.sample_weight_).all()),
    }
    iff = IFFairClassifier(mlp_128_64(d, epochs, device=device.type), update_every=1,
                           n_updates=2, random_state=0)  # damping="auto"
    start = time.perf_counter()
    iff.fit(X, yf, X_val=X_val, y_val=y_val, s_val=s_val)
    out["IFFair"] = {
        "total (s)": round(time.perf_counter() - start, 2),
        "updates": int(iff.n_updates_),
        "test AOD after": aod(y_te, iff.predict(X_te), s_te),
        "ok": bool(iff.n_updates_ > 0 and np.isfinite(iff.sample_weight_).all()),
    }
    return out


# ----------------------------------------------------------------- report
def environment(device):
    import scipy
    import sklearn
    import skorch

    env = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.system()} {platform.release()}, "
                   f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "versions": f"python {sys.version.split()[0]}, torch {torch.__version__}, "
                    f"skorch {skorch.__version__}, numpy {np.__version__}, "
                    f"scipy {scipy.__version__}, scikit-learn {sklearn.__version__}",
        "device": str(device),
        "command": "python benchmarks/gpu_check.py " + " ".join(sys.argv[1:]),
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["cuda"] = torch.version.cuda
    return env


def markdown(result):
    env = result["environment"]
    title = ("GPU check (CPU dry run: no GPU was used; the GPU run is pending)"
             if env["device"] == "cpu" else "GPU check")
    lines = [f"# {title}", ""]
    lines += [f"- {k}: {v}" if k != "command" else f"- command: `{v}`"
              for k, v in env.items()]
    lines += ["", "## Checks", "", "| check | result | ok |", "|---|---|---|"]
    for name, value in result["checks"].items():
        shown = {k: v for k, v in value.items() if k not in ("ok", "tail")}
        lines.append(f"| {name} | {json.dumps(shown, default=str)} | "
                     f"{'yes' if value['ok'] else '**NO**'} |")
    lines += ["", "## Influence stage in training epochs", ""]
    rows = result["timings"]
    if rows:
        cols = list(rows[0])
        lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    lines += ["", f"Total wall time: {result['seconds']:.0f} s. "
              f"Overall: {'PASS' if result['ok'] else 'FAIL'}.", ""]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--name", default="gpu_check")
    parser.add_argument("--skip-tests", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: CUDA is not available (torch "
              f"{torch.__version__}); use --device cpu for a dry run.",
              file=sys.stderr)
        return 1
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    n, epochs = (5_000, 2) if args.quick else (100_000, 3)
    batches = [1024, None] if args.quick else [1024, 4096, 16384, None]
    checks, timings = {}, []
    if not args.skip_tests:
        checks["gpu tests"] = run_gpu_tests(device)
        print("gpu tests:", {k: v for k, v in checks["gpu tests"].items()
                             if k != "tail"}, flush=True)
    placement, syncs, rows = time_mlp(device, n, 50, epochs, batches)
    checks["placement of stored tensors"] = placement
    checks["host reads per CG iteration"] = syncs
    timings += rows
    timings += time_cnn(device, batches, 3 if args.quick else 15)
    checks["CPU vs device agreement"] = check_agreement(
        device, 3_000 if args.quick else 20_000, 50, epochs)
    for name, value in end_to_end(device, n, 50, epochs).items():
        checks[f"{name} end to end"] = value
    result = {"environment": environment(device), "checks": checks,
              "timings": timings, "seconds": time.perf_counter() - start}
    result["ok"] = all(c["ok"] for c in checks.values())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps(result, indent=2,
                                                      default=str))
    (out / f"{args.name}.md").write_text(markdown(result))
    print(markdown(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
