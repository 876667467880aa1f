"""dspy-ash: the DSPy programming model, native and async, with durable resources.

`import dspy_ash as dspy` runs common DSPy code. Names load lazily, so importing the package is cheap
and optional extras (retrieval, optimizers, the store) load only when used.
"""

# Only public names at module level (no `from __future__ import annotations`, imports under private
# names): `dir(dspy_ash)` is what DSPy code sees as `dir(dspy)`.
import importlib as _importlib
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
    "BaseModule": "dspy_ash.primitives:Module",
    "Completions": "dspy_ash.primitives:Completions",
    "Example": "dspy_ash.primitives:Example",
    "Module": "dspy_ash.primitives:Module",
    "Prediction": "dspy_ash.primitives:Prediction",
    "load": "dspy_ash.primitives.saving:load",
    # settings, events, errors
    "BaseCallback": "dspy_ash.events:BaseCallback",
    "configure": "dspy_ash.settings:configure",
    "context": "dspy_ash.settings:context",
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
    "disable_logging": "dspy_ash.logs:disable_logging",
    "enable_logging": "dspy_ash.logs:enable_logging",
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
    "ChatAdapter": "dspy_ash.adapters:ChatAdapter",
    "History": "dspy_ash.adapters:History",
    "JSONAdapter": "dspy_ash.adapters:JSONAdapter",
    # LM layer
    "BaseLM": "dspy_ash.lm.base:BaseLM",
    "LM": "dspy_ash.lm.lm:LM",
    "configure_cache": "dspy_ash.lm.cache:configure_cache",
    "inspect_history": "dspy_ash.lm.base:inspect_history",
    "track_usage": "dspy_ash.lm.usage:track_usage",
    # modules
    "BestOfN": "dspy_ash.modules.best_of_n:BestOfN",
    "ChainOfThought": "dspy_ash.modules.chain_of_thought:ChainOfThought",
    "MultiChainComparison": "dspy_ash.modules.multi_chain_comparison:MultiChainComparison",
    "Parallel": "dspy_ash.modules.parallel:Parallel",
    "Predict": "dspy_ash.modules.predict:Predict",
    "ProgramOfThought": "dspy_ash.modules.program_of_thought:ProgramOfThought",
    "PythonInterpreter": "dspy_ash.modules.interpreter:PythonInterpreter",
    "ReAct": "dspy_ash.modules.react:ReAct",
    "Refine": "dspy_ash.modules.refine:Refine",
    "Retrieve": "dspy_ash.modules.retrieve:Retrieve",
    "Tool": "dspy_ash.adapters.types.tool:Tool",
    "ToolCalls": "dspy_ash.adapters.types.tool:ToolCalls",
    "majority": "dspy_ash.modules.aggregation:majority",
    "streamify": "dspy_ash.modules.streaming:streamify",
    "asyncify": "dspy_ash.utils.asyncify:asyncify",
    "syncify": "dspy_ash.utils.asyncify:syncify",
    # retrieval
    "Embedder": "dspy_ash.retrievers.embedder:Embedder",
    "Embeddings": "dspy_ash.retrievers.embeddings:Embeddings",
    "EmbeddingsWithScores": "dspy_ash.retrievers.embeddings:EmbeddingsWithScores",
    # evaluation
    "Evaluate": "dspy_ash.evaluate:Evaluate",
    # optimizers
    "BootstrapFewShot": "dspy_ash.optimizers:BootstrapFewShot",
    "BootstrapFewShotWithOptuna": "dspy_ash.optimizers:BootstrapFewShotWithOptuna",
    "BootstrapFewShotWithRandomSearch": "dspy_ash.optimizers:BootstrapFewShotWithRandomSearch",
    "BootstrapRS": "dspy_ash.optimizers:BootstrapFewShotWithRandomSearch",
    "COPRO": "dspy_ash.optimizers:COPRO",
    "Ensemble": "dspy_ash.optimizers:Ensemble",
    "KNN": "dspy_ash.optimizers.knn_fewshot:KNN",
    "KNNFewShot": "dspy_ash.optimizers:KNNFewShot",
    "LabeledFewShot": "dspy_ash.optimizers:LabeledFewShot",
    "MIPROv2": "dspy_ash.optimizers:MIPROv2",
    # DSPy compatibility
    "install_as_dspy": "dspy_ash.compat:install_as_dspy",
}

__all__ = sorted(_EXPORTS)  # pyright: ignore[reportUnsupportedDunderAll]

from dspy_ash._lazy import lazy_getattr as _lazy_getattr  # noqa: E402

# Bound eagerly: importing the `dspy_ash.settings` submodule would otherwise shadow DSPy's `dspy.settings` object.
from dspy_ash.settings import configure as configure  # noqa: E402
from dspy_ash.settings import context as context  # noqa: E402
from dspy_ash.settings import settings as settings  # noqa: E402

# Subpackages DSPy code reaches as attributes (`dspy.evaluate.answer_exact_match`) without importing them.
_SUBPACKAGES = frozenset(
    {
        "adapters",
        "evaluate",
        "lm",
        "modules",
        "optimizers",
        "predict",
        "primitives",
        "retrievers",
        "signatures",
        "teleprompt",
        "testing",
        "utils",
    }
)


_exported = _lazy_getattr(__name__, _EXPORTS)


def __getattr__(name: str) -> _Any:
    if name == "cache":  # DSPy's `dspy.cache`: the process's LM cache, built on first use (never stored here)
        return _importlib.import_module("dspy_ash.lm.cache").get_cache()
    if name in _SUBPACKAGES:
        return _importlib.import_module(f"dspy_ash.{name}")
    return _exported(name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
