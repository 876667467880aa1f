"""`python -m dspy_ash.cli`: the `dspy-ash` command without its console script."""

from dspy_ash.cli import main

if __name__ == "__main__":  # not when a tool walks the package and imports this module
    main()
