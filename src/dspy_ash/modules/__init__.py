"""The module library. Import names from `dspy_ash` (they load lazily)."""
