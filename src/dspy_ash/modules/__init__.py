"""The module library: Predict and the modules built on it. Names load lazily."""

# Only public names at module level, as in `dspy_ash/__init__.py`.
from typing import TYPE_CHECKING as _TYPE_CHECKING

from dspy_ash._lazy import lazy_getattr as _lazy_getattr

_EXPORTS: dict[str, str] = {
    "BestOfN": "dspy_ash.modules._best_of_n:BestOfN",
    "ChainOfThought": "dspy_ash.modules._chain_of_thought:ChainOfThought",
    "CodeAct": "dspy_ash.modules._code_act:CodeAct",
    "MultiChainComparison": "dspy_ash.modules._multi_chain_comparison:MultiChainComparison",
    "Parallel": "dspy_ash.modules._parallel:Parallel",
    "Predict": "dspy_ash.modules._predict:Predict",
    "ProgramOfThought": "dspy_ash.modules._program_of_thought:ProgramOfThought",
    "PythonInterpreter": "dspy_ash.modules._interpreter:PythonInterpreter",
    "RLM": "dspy_ash.modules._rlm:RLM",
    "ReAct": "dspy_ash.modules._react:ReAct",
    "Refine": "dspy_ash.modules._refine:Refine",
    "Retrieve": "dspy_ash.modules._retrieve:Retrieve",
    "StatusMessage": "dspy_ash.modules._stream_messages:StatusMessage",
    "StatusMessageProvider": "dspy_ash.modules._stream_messages:StatusMessageProvider",
    "StreamListener": "dspy_ash.modules._stream_listener:StreamListener",
    "StreamResponse": "dspy_ash.modules._stream_messages:StreamResponse",
    "apply_sync_streaming": "dspy_ash.modules._streaming:apply_sync_streaming",
    "majority": "dspy_ash.modules._aggregation:majority",
    "streamify": "dspy_ash.modules._streaming:streamify",
    "streaming_response": "dspy_ash.modules._streaming:streaming_response",
}

__all__ = sorted(_EXPORTS)  # pyright: ignore[reportUnsupportedDunderAll]

if _TYPE_CHECKING:  # what type checkers see; tests/unit/core/test_static_api.py keeps it equal to _EXPORTS
    from dspy_ash.modules._aggregation import majority as majority
    from dspy_ash.modules._best_of_n import BestOfN as BestOfN
    from dspy_ash.modules._chain_of_thought import ChainOfThought as ChainOfThought
    from dspy_ash.modules._code_act import CodeAct as CodeAct
    from dspy_ash.modules._interpreter import PythonInterpreter as PythonInterpreter
    from dspy_ash.modules._multi_chain_comparison import MultiChainComparison as MultiChainComparison
    from dspy_ash.modules._parallel import Parallel as Parallel
    from dspy_ash.modules._predict import Predict as Predict
    from dspy_ash.modules._program_of_thought import ProgramOfThought as ProgramOfThought
    from dspy_ash.modules._react import ReAct as ReAct
    from dspy_ash.modules._refine import Refine as Refine
    from dspy_ash.modules._retrieve import Retrieve as Retrieve
    from dspy_ash.modules._rlm import RLM as RLM
    from dspy_ash.modules._stream_listener import StreamListener as StreamListener
    from dspy_ash.modules._stream_messages import StatusMessage as StatusMessage
    from dspy_ash.modules._stream_messages import StatusMessageProvider as StatusMessageProvider
    from dspy_ash.modules._stream_messages import StreamResponse as StreamResponse
    from dspy_ash.modules._streaming import apply_sync_streaming as apply_sync_streaming
    from dspy_ash.modules._streaming import streamify as streamify
    from dspy_ash.modules._streaming import streaming_response as streaming_response


__getattr__ = _lazy_getattr(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
