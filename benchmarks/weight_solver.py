"""How fast is the weight solver against n (k = 2 constraints), and is it right?

Writes ``weight_solver.md``: the median solve time, as a ratio to one ``A^T v``
product measured in the same run (the unit the solver's cost is made of), and
the solution's checks (non-negative, mean 1).

Usage: python benchmarks/weight_solver.py --quick|--full [--out DIR]
"""

import os

os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

from dataclasses import dataclass

import numpy as np
from _common import main, median_time, table, write

from sklearn_fairif.influence import solve_weights


@dataclass(frozen=True)
class Config:
    sizes: tuple = (10**3, 10**4, 10**5, 10**6)
    alpha: float = 0.01
    repeat: int = 5


PRESETS = {"quick": Config(sizes=(10**3, 10**4), repeat=3), "full": Config()}


def run(config, out, command):
    rng = np.random.default_rng(0)
    g = np.array([0.12, -0.07])
    rows = []
    for n in config.sizes:
        A = rng.normal(size=(n, 2)) / n
        unit, _ = median_time(lambda A=A, n=n: A.T @ np.ones(n), repeat=config.repeat)
        t, (w, pred) = median_time(lambda A=A: solve_weights(A, g, config.alpha),
                                   repeat=config.repeat)
        rows.append({
            "n": f"{n:,}",
            "solve (s)": f"{t:.4f}",
            "solve / one A^T v product": f"{t / unit:.0f}",
            "min w": f"{w.min():.3f}",
            "abs(mean w − 1)": f"{abs(w.mean() - 1):.1e}",
            "predicted gaps": np.array2string(pred, precision=4),
        })
        print(rows[-1], flush=True)
    body = (f"Random influences `A` (n × 2, scaled by 1/n), gaps {g.tolist()}, "
            f"alpha = {config.alpha}; median of {config.repeat} calls, BLAS on one "
            "thread.\n\n" + table(rows))
    write(out, "weight_solver", "Weight solver: time against n (k = 2)", command,
          body)


if __name__ == "__main__":
    main(__doc__, PRESETS, run)
