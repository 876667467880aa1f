"""Run unmodified `import dspy` code on dspy-ash.

`install_as_dspy()` makes `import dspy` (and `dspy.teleprompt`, `dspy.evaluate.metrics`, ...) resolve to
dspy-ash for the rest of the process; `python -m dspy_ash.run script.py` does it before running a script.
A name DSPy has and dspy-ash does not raises an error that says so, instead of a bare AttributeError.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence
from typing import Any

from dspy_ash.errors import UnsupportedFeatureError

# DSPy 3.4.1's public names that dspy-ash does not provide.
MISSING_IN_DSPY_ASH = frozenset(
    {
        "Audio",
        "AvatarOptimizer",
        "BAMLAdapter",
        "BetterTogether",
        "BootstrapFinetune",
        "Citations",
        "Code",
        "CodeAct",
        "CodeExecutionError",
        "CodeInterpreter",
        "CodeInterpreterError",
        "ColBERTv2",
        "Document",
        "File",
        "FinalOutput",
        "Flex",
        "GEPA",
        "GRPO",
        "Image",
        "InferRules",
        "LMCollectionLimitError",
        "LMInvalidRequestError",
        "LMLockTimeoutError",
        "LMNotConfiguredError",
        "LMProviderError",
        "LMStreamAssemblyError",
        "LMTransportError",
        "LMUnexpectedError",
        "LMUnsupportedFeatureError",
        "LMUnsupportedModelError",
        "LocalInterpreter",
        "OldField",
        "OldInputField",
        "OldOutputField",
        "Provider",
        "RLM",
        "ReActV2",
        "Reasoning",
        "SIMBA",
        "SandboxSerializable",
        "ToolCallResults",
        "TrainingJob",
        "TwoStepAdapter",
        "Type",
        "XMLAdapter",
        "bootstrap_trace_data",
        "configure_dspy_loggers",
        "disable_litellm_logging",
        "enable_litellm_logging",
        "load_settings",
        "resolve_interpreter_factory",
    }
)

# DSPy submodules whose dspy-ash counterpart lives under another name.
_RENAMED = {
    "dspy.clients": "dspy_ash.lm",
    "dspy.clients.lm": "dspy_ash.lm.lm",
    "dspy.clients.base_lm": "dspy_ash.lm.base",
    "dspy.streaming": "dspy_ash.modules.streaming",
}
_SUBMODULES = {
    "adapters",
    "evaluate",
    "predict",
    "primitives",
    "retrievers",
    "signatures",
    "streaming",
    "teleprompt",
    "utils",
    "clients",
}


class MissingFeatureError(UnsupportedFeatureError, AttributeError):
    """`dspy.X` exists in DSPy but not in dspy-ash."""


class _DSPyFacade(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        import dspy_ash

        try:
            return getattr(dspy_ash, name)  # includes `dspy.cache`, built on first use
        except AttributeError:
            if name in _SUBMODULES:  # `dspy.retrievers.X` works in DSPy without importing the submodule first
                return importlib.import_module(_RENAMED.get(f"dspy.{name}", f"dspy_ash.{name}"))
            if name in MISSING_IN_DSPY_ASH:
                raise MissingFeatureError(
                    f"dspy.{name} is part of DSPy but not of dspy-ash; this program uses it through "
                    "dspy_ash.install_as_dspy()."
                ) from None
            raise

    def __dir__(self) -> list[str]:
        import dspy_ash

        return dir(dspy_ash)


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> Any:
        if fullname.startswith("dspy.") and fullname not in sys.modules:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        target = _RENAMED.get(spec.name, "dspy_ash" + spec.name[len("dspy") :])
        try:
            return importlib.import_module(target)
        except ModuleNotFoundError as exc:
            if exc.name and (exc.name == target or target.startswith(exc.name + ".")):
                raise ModuleNotFoundError(
                    f"DSPy's module {spec.name!r} has no counterpart in dspy-ash.", name=spec.name
                ) from None
            raise

    def exec_module(self, module: types.ModuleType) -> None:
        return None  # the target module is already executed


def install_as_dspy() -> None:
    """Make `import dspy` load dspy-ash for the rest of this process."""
    if isinstance(sys.modules.get("dspy"), _DSPyFacade):
        return
    for name in [n for n in sys.modules if n == "dspy" or n.startswith("dspy.")]:
        del sys.modules[name]  # a real dspy imported earlier would otherwise keep answering
    facade = _DSPyFacade("dspy", "DSPy's names, served by dspy-ash")
    facade.__path__ = []  # a package, so `import dspy.teleprompt` is looked up through the finder
    sys.modules["dspy"] = facade
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())
