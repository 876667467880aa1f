"""DSPy's `dspy.utils` paths, as thin re-exports."""
