#!/usr/bin/env bash
# One entry point for the two set-up commands of the README:
#   ./dev.sh demo   create .venv, install the package, run the demo on bundled data
#   ./dev.sh test   create .venv, install the package with test extras, run the tests
# Extra arguments are passed on (to pytest for `test`, to the demo for `demo`).
set -euo pipefail
cd "$(dirname "$0")"
VENV=${FAIRIF_VENV:-.venv}
PY=${PYTHON:-python3}

ensure_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        "$PY" -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
    fi
    # Re-installing is a no-op when nothing changed, so this stays cheap.
    "$VENV/bin/python" -m pip install --quiet -c constraints.txt -e ".[torch,test,report]"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
    demo)
        ensure_venv
        exec "$VENV/bin/python" -m sklearn_fairif demo "$@"
        ;;
    test)
        ensure_venv
        set +e
        "$VENV/bin/python" -m pytest "$@"
        rc=$?
        set -e
        # pytest exits 5 when it collected nothing (e.g. a -k that matches nothing).
        if [ "$rc" -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi
        exit "$rc"
        ;;
    *)
        echo "usage: ./dev.sh {demo|test} [args...]" >&2
        exit 2
        ;;
esac
