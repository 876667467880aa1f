#!/usr/bin/env bash
# Builds the separate virtualenv in which the benchmarks run DSPy 3.4.1 (the comparison side).
# Usage: benchmarks/setup_dspy_venv.sh [venv-dir]   (default: bench-venvs/dspy, gitignored)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-$here/bench-venvs/dspy}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/pip" install --quiet "dspy[optuna]==3.4.1" fastapi uvicorn  # optuna: MIPROv2; fastapi + uvicorn: benchmarks/service.py
"$venv/bin/python" -c "import dspy; print('dspy', dspy.__version__, 'in', '$venv')"
