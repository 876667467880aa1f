"""DSPy's `dspy.predict` path: the modules live in `dspy_ash.modules`."""

from dspy_ash.modules.aggregation import majority
from dspy_ash.modules.best_of_n import BestOfN
from dspy_ash.modules.chain_of_thought import ChainOfThought
from dspy_ash.modules.code_act import CodeAct
from dspy_ash.modules.multi_chain_comparison import MultiChainComparison
from dspy_ash.modules.parallel import Parallel
from dspy_ash.modules.predict import Predict
from dspy_ash.modules.program_of_thought import ProgramOfThought
from dspy_ash.modules.react import ReAct
from dspy_ash.modules.refine import Refine
from dspy_ash.modules.retrieve import Retrieve

__all__ = [
    "BestOfN",
    "ChainOfThought",
    "CodeAct",
    "MultiChainComparison",
    "Parallel",
    "Predict",
    "ProgramOfThought",
    "ReAct",
    "Refine",
    "Retrieve",
    "majority",
]
