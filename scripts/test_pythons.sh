#!/usr/bin/env bash
# Runs the sync/async bridge's tests (and the other tests around it) on every Python the project supports:
# a throwaway virtualenv per interpreter, `pip install -e .` with the test runner, then pytest.
# Usage: scripts/test_pythons.sh [python ...]   (default: pyenv's 3.11, 3.12 and 3.13 when installed)
# `_sync._drive` turns asyncio loops through private attributes on the versions checked here; a new
# Python release gets added here (and to `_FAST_DRIVE` in src/dspy_ash/_sync.py) once this passes on it.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# the bridge's tests and those around it that need nothing beyond `pip install -e .` (no dspy oracle)
tests=(tests/unit/core tests/unit/primitives
    # these two import every module (extras included) and run pyright: the main suite covers them
    --ignore=tests/unit/core/test_error_tree.py --ignore=tests/unit/core/test_static_api.py)
if [ "$#" -eq 0 ]; then
    set --
    for v in 3.11 3.12 3.13; do
        found="$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python 2>/dev/null | sort -V | tail -1)"
        if [ -n "$found" ]; then set -- "$@" "$found"; else echo "no Python $v found, skipped"; fi
    done
fi
work="$(mktemp -d -t dspy-ash-pythons-XXXXXX)"
trap 'rm -rf "$work"' EXIT
status=0
summary=()
for python in "$@"; do
    version="$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
    venv="$work/py$version"
    echo "== Python $version ($python)"
    "$python" -m venv "$venv" &&
        "$venv/bin/pip" install --quiet --upgrade pip &&
        "$venv/bin/pip" install --quiet -e "$here" "pytest>=8" "pytest-asyncio>=0.24" "pytest-timeout>=2.3" "hypothesis>=6.100"
    if [ $? -ne 0 ]; then
        summary+=("Python $version: install failed"); status=1; continue
    fi
    out="$(cd "$here" && "$venv/bin/python" -m pytest -q -p no:cacheprovider "${tests[@]}" 2>&1)"
    rc=$?
    echo "$out" | tail -20
    summary+=("Python $version: $(echo "$out" | tail -1)")
    [ $rc -eq 0 ] || status=1
done
printf '%s\n' "${summary[@]}"
exit $status
