"""Time the weight solver against n (k = 2 constraints), and check its KKT residual.

Usage: python benchmarks/bench_weight_solver.py
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import best_time, header, markdown_table  # noqa: E402

from sklearn_fairif._weights import solve_weights  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "weight_solver.md"


def main():
    rng = np.random.default_rng(0)
    rows = []
    for n in (10**3, 10**4, 10**5, 10**6):
        A = rng.normal(size=(n, 2)) / n
        g = np.array([0.12, -0.07])
        # One matrix-vector product with A: the unit the solver's cost is made of.
        unit = best_time(lambda A=A, n=n: A.T @ np.ones(n), repeat=5)
        t = best_time(lambda A=A, g=g: solve_weights(A, g, 0.01), repeat=3)
        w, pred = solve_weights(A, g, 0.01)
        rows.append({
            "n": f"{n:,}",
            "solve (s)": f"{t:.4f}",
            "solve / one A^T v product": f"{t / unit:.0f}",
            "min w": f"{w.min():.3f}",
            "|mean w - 1|": f"{abs(w.mean() - 1):.1e}",
            "predicted gaps": np.array2string(pred, precision=4),
        })
    text = header("Weight solver: time against n (k = 2)",
                  "python benchmarks/bench_weight_solver.py")
    text += markdown_table(rows, list(rows[0]))
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
