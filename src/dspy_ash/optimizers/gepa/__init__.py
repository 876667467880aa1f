"""GEPA (DSPy's `dspy.teleprompt.gepa`): reflective prompt evolution on the `gepa` engine.

`gepa` (the `gepa` extra) is imported only when a run starts, so these names import without it.
"""

from dspy_ash.optimizers.gepa._gepa import GEPA, DspyGEPAResult
from dspy_ash.optimizers.gepa._instruction_proposal import InstructionProposer

__all__ = ["GEPA", "DspyGEPAResult", "InstructionProposer"]
