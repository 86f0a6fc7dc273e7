"""Run several benchmark scripts, each with its quick or full preset.

One script per question, each writing its own file(s) in the results folder:

- ``compare_tabular``: FairIF against the alternatives on Adult, COMPAS, German.
- ``fairif_linear``: what FairIF costs and gains over ERM; the alpha path.
- ``frontier``: accuracy-vs-AOD frontiers (FairIF, direct gap penalties, ExpGrad).
- ``fidelity``: predicted vs refitted change of the validation gaps.
- ``scale``: fit time against the number of rows and of features.
- ``valsize``: the validation set's size.
- ``synthetic``: the three synthetic bias types, logistic regression and MLP.
- ``cnn``: a small CNN on colour-biased digits.
- ``weight_solver``: the weight solver's time against n.
- ``rounds``: ``n_rounds`` > 1 against the residual gap.
- ``iffair``: IFFair against FairIF, one objective at a time.
- ``select_alpha_nets``: ``alpha="auto"`` for a network (every parameter, or
  the last layer).
- ``select_alpha_cg``: ``alpha="auto"`` with conjugate gradients (same choice
  as the exact solve? at what cost?).
- ``influence_jobs``: ``n_jobs`` and the influence pass (threads, processes).

Usage::

    python benchmarks/run.py --quick                  # every script, seconds each
    python benchmarks/run.py --full compare_tabular   # the real run of one
    python benchmarks/compare_tabular.py --full       # the same, on its own
"""

import os

os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

import argparse
import importlib
import sys
import time

from _common import add_mode_arguments, output_dir, quiet_warnings

SCRIPTS = ("compare_tabular", "fairif_linear", "frontier", "fidelity", "scale",
           "valsize", "synthetic", "cnn", "weight_solver", "rounds", "iffair",
           "select_alpha_nets", "select_alpha_cg", "influence_jobs")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_mode_arguments(parser)
    parser.add_argument("names", nargs="*", metavar="name", default=list(SCRIPTS),
                        help=f"scripts to run (default: all): {', '.join(SCRIPTS)}")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in SCRIPTS]
    if unknown:
        parser.error(f"unknown script(s) {unknown}; choose from {list(SCRIPTS)}")
    mode = "quick" if args.quick else "full"
    out = output_dir(args.out, mode)
    command = "python benchmarks/run.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    quiet_warnings()
    for name in args.names:
        module = importlib.import_module(name)
        start = time.perf_counter()
        module.run(module.PRESETS[mode], out, command)
        print(f"[{name}] {time.perf_counter() - start:.1f}s", flush=True)


if __name__ == "__main__":
    main()
