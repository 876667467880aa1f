"""`python -m dspy_ash.cli`: the `dspy-ash` command without its console script."""

from dspy_ash.cli import main

main()
