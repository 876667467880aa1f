"""`python -m dspy_ash.run script.py [args...]`: run an unmodified DSPy script on dspy-ash."""

from __future__ import annotations

import runpy
import sys

from dspy_ash._compat import install_as_dspy


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.stderr.write("usage: python -m dspy_ash.run script.py [args...]\n")
        raise SystemExit(2)
    install_as_dspy()
    sys.argv = args
    runpy.run_path(args[0], run_name="__main__")


if __name__ == "__main__":
    main()
