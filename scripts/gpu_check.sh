#!/usr/bin/env bash
# One command for the GPU check of issue 16 on a bare CUDA machine.
#
# The machine has torch (with CUDA), numpy, scipy, scikit-learn, pandas, joblib,
# tqdm, matplotlib and pytest, but no skorch or fairlearn and no package index.
# Carry their wheels in the ignored folder .whl/ of this checkout. Prepare it
# on a machine with an index (same Python version as the GPU machine):
#
#     echo /.whl/ >> "$(git rev-parse --git-common-dir)/info/exclude"
#     pip download --no-deps --only-binary=:all: -d .whl \
#         skorch==1.4.0 tabulate==0.10.0 fairlearn==0.15.0 narwhals==2.29.0
#
# (skorch needs tabulate, fairlearn needs narwhals; the other dependencies are
# on the machine already.) Then, on the GPU machine, from the repository root:
#
#     scripts/gpu_check.sh              # the check, about 5 minutes on an H200
#     scripts/gpu_check.sh --device cpu --quick --name gpu_check_cpu_dryrun
#                                       # the dry run on a CPU
#
# The wheels and this package are installed into /tmp/fairif-site with
# `pip install --no-index --no-deps --target` and put on PYTHONPATH; nothing
# is installed into the machine's Python. Fails (exit 1) when CUDA is not
# available, when any gpu test is skipped or fails, or when a check fails.
# Results: benchmarks/results/gpu_check.{json,md} (or --name).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
SITE=${FAIRIF_SITE:-/tmp/fairif-site}

need_install=0
for mod in skorch fairlearn; do
    "$PY" -c "import $mod" 2>/dev/null || need_install=1
done
if [ "$need_install" = 1 ]; then
    if ! ls .whl/*.whl >/dev/null 2>&1; then
        echo "gpu_check: skorch/fairlearn missing and no wheels in .whl/ (see the header of $0)" >&2
        exit 1
    fi
    "$PY" -m pip install --quiet --no-index --no-deps --target "$SITE" .whl/*.whl
fi
export PYTHONPATH="$PWD:$SITE${PYTHONPATH:+:$PYTHONPATH}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

device=cuda
for arg in "$@"; do [ "$arg" = cpu ] && device=cpu; done
if [ "$device" = cuda ]; then
    "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" || {
        echo "gpu_check: torch.cuda.is_available() is False" >&2; exit 1; }
    export FAIRIF_REQUIRE_GPU=1
fi
exec timeout 600 "$PY" benchmarks/gpu_check.py "$@"
