"""dspy-ash: the DSPy programming model, native and async, with durable resources.

`import dspy_ash as dspy` runs common DSPy code. Names load lazily, so importing the package is cheap
and optional extras (retrieval, optimizers, the store) load only when used.
"""

# Only public names at module level (no `from __future__ import annotations`, imports under private
# names): `dir(dspy_ash)` is what DSPy code sees as `dir(dspy)`.
import importlib as _importlib
import sys as _sys
import types as _types
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

__version__ = "0.1.0"

# public name -> "module:attribute"
_EXPORTS: dict[str, str] = {
    # signatures
    "InputField": "dspy_ash.signatures:InputField",
    "OutputField": "dspy_ash.signatures:OutputField",
    "Signature": "dspy_ash.signatures:Signature",
    "ensure_signature": "dspy_ash.signatures:ensure_signature",
    "infer_prefix": "dspy_ash.signatures:infer_prefix",
    "make_signature": "dspy_ash.signatures:make_signature",
    # primitives
    "BaseModule": "dspy_ash.primitives:BaseModule",
    "Completions": "dspy_ash.primitives:Completions",
    "Example": "dspy_ash.primitives:Example",
    "Module": "dspy_ash.primitives:Module",
    "Prediction": "dspy_ash.primitives:Prediction",
    "load": "dspy_ash.primitives._saving:load",
    # settings, events, errors
    "BaseCallback": "dspy_ash.events:BaseCallback",
    "configure": "dspy_ash.settings:configure",
    "context": "dspy_ash.settings:context",
    "load_settings": "dspy_ash.settings:load_settings",
    "settings": "dspy_ash.settings:settings",
    "AdapterParseError": "dspy_ash.errors:AdapterParseError",
    "ContextWindowExceededError": "dspy_ash.errors:ContextWindowExceededError",
    "DSPyError": "dspy_ash.errors:DSPyError",
    "DspyAshError": "dspy_ash.errors:DspyAshError",
    "LMAuthError": "dspy_ash.errors:LMAuthError",
    "LMBillingError": "dspy_ash.errors:LMBillingError",
    "LMConfigurationError": "dspy_ash.errors:LMConfigurationError",
    "LMServerError": "dspy_ash.errors:LMServerError",
    "SignatureMeta": "dspy_ash.signatures:SignatureMeta",
    "disable_logging": "dspy_ash._logs:disable_logging",
    "enable_logging": "dspy_ash._logs:enable_logging",
    "LMError": "dspy_ash.errors:LMError",
    "LMInvalidRequestError": "dspy_ash.errors:LMInvalidRequestError",
    "LMNotConfiguredError": "dspy_ash.errors:LMNotConfiguredError",
    "LMProviderError": "dspy_ash.errors:LMProviderError",
    "LMTransportError": "dspy_ash.errors:LMTransportError",
    "LMUnexpectedError": "dspy_ash.errors:LMUnexpectedError",
    "LMUnsupportedModelError": "dspy_ash.errors:LMUnsupportedModelError",
    "LMRateLimitError": "dspy_ash.errors:LMRateLimitError",
    "LMTimeoutError": "dspy_ash.errors:LMTimeoutError",
    "is_retryable_lm_error": "dspy_ash.errors:is_retryable_lm_error",
    # adapters
    "Adapter": "dspy_ash.adapters:Adapter",
    "Audio": "dspy_ash.adapters.types:Audio",
    "ChatAdapter": "dspy_ash.adapters:ChatAdapter",
    "Code": "dspy_ash.adapters.types:Code",
    "File": "dspy_ash.adapters.types:File",
    "History": "dspy_ash.adapters:History",
    "Image": "dspy_ash.adapters.types:Image",
    "JSONAdapter": "dspy_ash.adapters:JSONAdapter",
    "Reasoning": "dspy_ash.adapters.types:Reasoning",
    "Type": "dspy_ash.adapters.types:Type",
    "TwoStepAdapter": "dspy_ash.adapters:TwoStepAdapter",
    "XMLAdapter": "dspy_ash.adapters:XMLAdapter",
    # LM layer
    "BaseLM": "dspy_ash.lm:BaseLM",
    "LM": "dspy_ash.lm:LM",
    "configure_cache": "dspy_ash.lm:configure_cache",
    "inspect_history": "dspy_ash.lm:inspect_history",
    "track_usage": "dspy_ash.lm:track_usage",
    # modules
    "BestOfN": "dspy_ash.modules:BestOfN",
    "ChainOfThought": "dspy_ash.modules:ChainOfThought",
    "CodeAct": "dspy_ash.modules:CodeAct",
    "CodeExecutionError": "dspy_ash.modules._interpreter:CodeExecutionError",
    "CodeInterpreter": "dspy_ash.modules._code_interpreter:CodeInterpreter",
    "CodeInterpreterError": "dspy_ash.modules._interpreter:CodeInterpreterError",
    "FinalOutput": "dspy_ash.modules._interpreter:FinalOutput",
    "MultiChainComparison": "dspy_ash.modules:MultiChainComparison",
    "Parallel": "dspy_ash.modules:Parallel",
    "Predict": "dspy_ash.modules:Predict",
    "ProgramOfThought": "dspy_ash.modules:ProgramOfThought",
    "PythonInterpreter": "dspy_ash.modules:PythonInterpreter",
    "RLM": "dspy_ash.modules:RLM",
    "ReAct": "dspy_ash.modules:ReAct",
    "Refine": "dspy_ash.modules:Refine",
    "Retrieve": "dspy_ash.modules:Retrieve",
    "SandboxSerializable": "dspy_ash.modules._sandbox_serializable:SandboxSerializable",
    "Tool": "dspy_ash.adapters.types._tool:Tool",
    "ToolCallResults": "dspy_ash.adapters.types._tool:ToolCallResults",
    "ToolCalls": "dspy_ash.adapters.types._tool:ToolCalls",
    "majority": "dspy_ash.modules:majority",
    "resolve_interpreter_factory": "dspy_ash.modules._code_interpreter:resolve_interpreter_factory",
    "streamify": "dspy_ash.modules:streamify",
    "asyncify": "dspy_ash.utils:asyncify",
    "syncify": "dspy_ash.utils:syncify",
    # retrieval
    "Embedder": "dspy_ash.retrievers:Embedder",
    "ColBERTv2": "dspy_ash.retrievers:ColBERTv2",
    "Embeddings": "dspy_ash.retrievers:Embeddings",
    "EmbeddingsWithScores": "dspy_ash.retrievers:EmbeddingsWithScores",
    # evaluation
    "Evaluate": "dspy_ash.evaluate:Evaluate",
    # optimizers
    "BetterTogether": "dspy_ash.optimizers:BetterTogether",
    "BootstrapFewShot": "dspy_ash.optimizers:BootstrapFewShot",
    "BootstrapFewShotWithOptuna": "dspy_ash.optimizers:BootstrapFewShotWithOptuna",
    "BootstrapFewShotWithRandomSearch": "dspy_ash.optimizers:BootstrapFewShotWithRandomSearch",
    "BootstrapFinetune": "dspy_ash.optimizers:BootstrapFinetune",
    "BootstrapRS": "dspy_ash.optimizers:BootstrapFewShotWithRandomSearch",
    "COPRO": "dspy_ash.optimizers:COPRO",
    "Ensemble": "dspy_ash.optimizers:Ensemble",
    "GEPA": "dspy_ash.optimizers.gepa:GEPA",
    "InferRules": "dspy_ash.optimizers:InferRules",
    "KNN": "dspy_ash.optimizers._knn_fewshot:KNN",
    "KNNFewShot": "dspy_ash.optimizers:KNNFewShot",
    "LabeledFewShot": "dspy_ash.optimizers:LabeledFewShot",
    "MIPROv2": "dspy_ash.optimizers:MIPROv2",
    "SIMBA": "dspy_ash.optimizers:SIMBA",
    "bootstrap_trace_data": "dspy_ash.optimizers:bootstrap_trace_data",
    # DSPy compatibility
    "install_as_dspy": "dspy_ash._compat:install_as_dspy",
}

__all__ = sorted(_EXPORTS)  # pyright: ignore[reportUnsupportedDunderAll]

# What type checkers and IDEs see: each exported name from the module `_EXPORTS` names, never run
# (tests/unit/core/test_static_api.py keeps the two lists identical). At run time names load lazily below.
if _TYPE_CHECKING:
    from dspy_ash._logs import disable_logging as disable_logging
    from dspy_ash._logs import enable_logging as enable_logging
    from dspy_ash.adapters import Adapter as Adapter
    from dspy_ash.adapters import ChatAdapter as ChatAdapter
    from dspy_ash.adapters import History as History
    from dspy_ash.adapters import JSONAdapter as JSONAdapter
    from dspy_ash.adapters import TwoStepAdapter as TwoStepAdapter
    from dspy_ash.adapters import XMLAdapter as XMLAdapter
    from dspy_ash.adapters.types import Audio as Audio
    from dspy_ash.adapters.types import Code as Code
    from dspy_ash.adapters.types import File as File
    from dspy_ash.adapters.types import Image as Image
    from dspy_ash.adapters.types import Reasoning as Reasoning
    from dspy_ash.adapters.types import Type as Type
    from dspy_ash.adapters.types._tool import Tool as Tool
    from dspy_ash.adapters.types._tool import ToolCallResults as ToolCallResults
    from dspy_ash.adapters.types._tool import ToolCalls as ToolCalls
    from dspy_ash.errors import AdapterParseError as AdapterParseError
    from dspy_ash.errors import ContextWindowExceededError as ContextWindowExceededError
    from dspy_ash.errors import DspyAshError as DspyAshError
    from dspy_ash.errors import DSPyError as DSPyError
    from dspy_ash.errors import LMAuthError as LMAuthError
    from dspy_ash.errors import LMBillingError as LMBillingError
    from dspy_ash.errors import LMConfigurationError as LMConfigurationError
    from dspy_ash.errors import LMError as LMError
    from dspy_ash.errors import LMInvalidRequestError as LMInvalidRequestError
    from dspy_ash.errors import LMNotConfiguredError as LMNotConfiguredError
    from dspy_ash.errors import LMProviderError as LMProviderError
    from dspy_ash.errors import LMRateLimitError as LMRateLimitError
    from dspy_ash.errors import LMServerError as LMServerError
    from dspy_ash.errors import LMTimeoutError as LMTimeoutError
    from dspy_ash.errors import LMTransportError as LMTransportError
    from dspy_ash.errors import LMUnexpectedError as LMUnexpectedError
    from dspy_ash.errors import LMUnsupportedModelError as LMUnsupportedModelError
    from dspy_ash.errors import is_retryable_lm_error as is_retryable_lm_error
    from dspy_ash.evaluate import Evaluate as Evaluate
    from dspy_ash.events import BaseCallback as BaseCallback
    from dspy_ash.lm import LM as LM
    from dspy_ash.lm import BaseLM as BaseLM
    from dspy_ash.lm import configure_cache as configure_cache
    from dspy_ash.lm import inspect_history as inspect_history
    from dspy_ash.lm import track_usage as track_usage
    from dspy_ash.modules import RLM as RLM
    from dspy_ash.modules import BestOfN as BestOfN
    from dspy_ash.modules import ChainOfThought as ChainOfThought
    from dspy_ash.modules import CodeAct as CodeAct
    from dspy_ash.modules import MultiChainComparison as MultiChainComparison
    from dspy_ash.modules import Parallel as Parallel
    from dspy_ash.modules import Predict as Predict
    from dspy_ash.modules import ProgramOfThought as ProgramOfThought
    from dspy_ash.modules import PythonInterpreter as PythonInterpreter
    from dspy_ash.modules import ReAct as ReAct
    from dspy_ash.modules import Refine as Refine
    from dspy_ash.modules import Retrieve as Retrieve
    from dspy_ash.modules import majority as majority
    from dspy_ash.modules import streamify as streamify
    from dspy_ash.modules._code_interpreter import CodeInterpreter as CodeInterpreter
    from dspy_ash.modules._code_interpreter import resolve_interpreter_factory as resolve_interpreter_factory
    from dspy_ash.modules._interpreter import CodeExecutionError as CodeExecutionError
    from dspy_ash.modules._interpreter import CodeInterpreterError as CodeInterpreterError
    from dspy_ash.modules._interpreter import FinalOutput as FinalOutput
    from dspy_ash.modules._sandbox_serializable import SandboxSerializable as SandboxSerializable
    from dspy_ash.optimizers import COPRO as COPRO
    from dspy_ash.optimizers import SIMBA as SIMBA
    from dspy_ash.optimizers import BetterTogether as BetterTogether
    from dspy_ash.optimizers import BootstrapFewShot as BootstrapFewShot
    from dspy_ash.optimizers import BootstrapFewShotWithOptuna as BootstrapFewShotWithOptuna
    from dspy_ash.optimizers import BootstrapFewShotWithRandomSearch as BootstrapFewShotWithRandomSearch
    from dspy_ash.optimizers import BootstrapFinetune as BootstrapFinetune
    from dspy_ash.optimizers import Ensemble as Ensemble
    from dspy_ash.optimizers import InferRules as InferRules
    from dspy_ash.optimizers import KNNFewShot as KNNFewShot
    from dspy_ash.optimizers import LabeledFewShot as LabeledFewShot
    from dspy_ash.optimizers import MIPROv2 as MIPROv2
    from dspy_ash.optimizers import bootstrap_trace_data as bootstrap_trace_data
    from dspy_ash.optimizers._knn_fewshot import KNN as KNN
    from dspy_ash.optimizers.gepa import GEPA as GEPA
    from dspy_ash.primitives import BaseModule as BaseModule
    from dspy_ash.primitives import Completions as Completions
    from dspy_ash.primitives import Example as Example
    from dspy_ash.primitives import Module as Module
    from dspy_ash.primitives import Prediction as Prediction
    from dspy_ash.primitives._saving import load as load
    from dspy_ash.retrievers import ColBERTv2 as ColBERTv2
    from dspy_ash.retrievers import Embedder as Embedder
    from dspy_ash.retrievers import Embeddings as Embeddings
    from dspy_ash.retrievers import EmbeddingsWithScores as EmbeddingsWithScores
    from dspy_ash.signatures import InputField as InputField
    from dspy_ash.signatures import OutputField as OutputField
    from dspy_ash.signatures import Signature as Signature
    from dspy_ash.signatures import SignatureMeta as SignatureMeta
    from dspy_ash.signatures import ensure_signature as ensure_signature
    from dspy_ash.signatures import infer_prefix as infer_prefix
    from dspy_ash.signatures import make_signature as make_signature
    from dspy_ash.utils import asyncify as asyncify
    from dspy_ash.utils import syncify as syncify

    BootstrapRS = BootstrapFewShotWithRandomSearch  # an alias: `import X as Y` would not re-export Y
    from dspy_ash._compat import install_as_dspy as install_as_dspy

from dspy_ash._lazy import lazy_getattr as _lazy_getattr  # noqa: E402

# Bound eagerly: importing the `dspy_ash.settings` submodule would otherwise shadow DSPy's `dspy.settings` object.
from dspy_ash.settings import configure as configure  # noqa: E402
from dspy_ash.settings import context as context  # noqa: E402
from dspy_ash.settings import load_settings as load_settings  # noqa: E402
from dspy_ash.settings import settings as settings  # noqa: E402

# Subpackages DSPy code reaches as attributes (`dspy.evaluate.answer_exact_match`) without importing them.
_SUBPACKAGES = frozenset(
    {
        "adapters",
        "evaluate",
        "experimental",
        "lm",
        "modules",
        "optimizers",
        "primitives",
        "retrievers",
        "signatures",
        "testing",
        "utils",
    }
)


# DSPy's subpackages that are not packages of dspy-ash, as attributes (`dspy.teleprompt.BootstrapFewShot`);
# `import dspy.teleprompt` goes through the alias (`install_as_dspy`, dspy_ash/_dspy_paths.py).
_DSPY_PATHS = {
    "predict": "dspy_ash.modules",
    "streaming": "dspy_ash.modules._streaming",
    "teleprompt": "dspy_ash.optimizers",
}

_exported = _lazy_getattr(__name__, _EXPORTS)


def __getattr__(name: str) -> _Any:
    if name == "cache":  # DSPy's `dspy.cache`: the process's LM cache, built on first use (never stored here)
        return _importlib.import_module("dspy_ash.lm._cache").get_cache()
    if name in _SUBPACKAGES:
        return _importlib.import_module(f"dspy_ash.{name}")
    if name in _DSPY_PATHS:
        return _importlib.import_module(_DSPY_PATHS[name])
    return _exported(name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


class _Root(_types.ModuleType):
    """`dspy.cache = X` and `del dspy.cache` (DSPy code and `mock.patch("dspy.cache", ...)` do both) reach the
    LM layer, so every LM call uses the assigned cache, as in DSPy."""

    def __setattr__(self, name: str, value: _Any) -> None:
        if name == "cache":
            _importlib.import_module("dspy_ash.lm._cache").assign_cache(value)
        else:
            super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if name == "cache":
            _importlib.import_module("dspy_ash.lm._cache").assign_cache(None)
        else:
            super().__delattr__(name)


_sys.modules[__name__].__class__ = _Root
