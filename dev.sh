#!/usr/bin/env bash
# Set up the development environment and run the demo or the test suite.
#
#   ./dev.sh demo   create .venv, install the pinned CPU torch and sslts, run `sslts demo`
#   ./dev.sh test   same environment plus the test extras, run the whole test suite
#   ./dev.sh docs   same environment plus the docs extras, build the documentation
#                   (runs the examples; warnings are errors) into docs/_build/html/
#
# Settings (environment variables):
#   PYTHON        interpreter used to create the venv            (default: python3)
#   VENV          where the virtual environment lives            (default: .venv)
#   SSLTS_TORCH   pip arguments that install torch; CPU by default. GPU users pass
#                 the arguments for their CUDA build here instead (default: torch==2.13.0)
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
SSLTS_TORCH=${SSLTS_TORCH:-torch==2.13.0}

setup() {
    local extras=$1
    if [ ! -x "$VENV/bin/python" ]; then
        "$PYTHON" -m venv "$VENV"
    fi
    # torch first, pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip install --quiet $SSLTS_TORCH
    "$VENV/bin/python" -m pip install --quiet -e ".$extras"
}

case "${1:-}" in
    demo)
        setup ""
        shift
        "$VENV/bin/sslts" demo "$@"
        ;;
    test)
        setup "[test]"
        shift
        "$VENV/bin/python" -m pytest "$@"
        ;;
    docs)
        setup "[docs]"
        shift
        # One thread per library: the examples run inside the build.
        OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MPLBACKEND=Agg \
            "$VENV/bin/sphinx-build" -W --keep-going -b html "$@" docs docs/_build/html
        ;;
    *)
        echo "usage: $0 {demo|test|docs} [extra arguments]" >&2
        exit 2
        ;;
esac
