"""Run unmodified `import dspy` code on dspy-ash.

`install_as_dspy()` makes `import dspy` (and `dspy.teleprompt`, `dspy.evaluate.metrics`, ...) resolve to
dspy-ash for the rest of the process; `python -m dspy_ash.run script.py` does it before running a script.
Every module path of DSPy resolves (the table in `_dspy_paths`) to a module whose names are looked up in
dspy-ash's own modules; a module or name DSPy has and dspy-ash does not raises an error that says so and
what to use instead (`MissingFeatureError` as an attribute, `UnsupportedImportError` when imported),
instead of a bare AttributeError or ModuleNotFoundError.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence
from typing import Any

from dspy_ash._dspy_paths import MODULES, NAMES
from dspy_ash.errors import MissingFeatureError, UnsupportedImportError

# DSPy 3.4.1's public names that dspy-ash does not provide.
MISSING_IN_DSPY_ASH = frozenset(
    {
        "AvatarOptimizer",
        "Flex",
        "LMCollectionLimitError",
        "LMLockTimeoutError",
        "LMStreamAssemblyError",
        "LMUnsupportedFeatureError",
        "LocalInterpreter",
        "OldField",
        "OldInputField",
        "OldOutputField",
        "Provider",
        "ReActV2",
        "TrainingJob",
        "configure_dspy_loggers",
        "disable_litellm_logging",
        "enable_litellm_logging",
    }
)

# What to use instead, for the names above that have a close dspy-ash counterpart.
_INSTEAD = {
    "ReActV2": "use dspy.ReAct",
    "Flex": (
        "DSPy's experimental Flex runs optimizer-written module source inside the sandbox through a host "
        "bridge, for GEPA to rewrite; dspy-ash has no Flex: write the module as a dspy.Module"
    ),
}


def _missing_message(path: str, name: str) -> str:
    if name in MISSING_IN_DSPY_ASH:
        instead = _INSTEAD.get(name, "see docs/migrating-from-dspy.md for what dspy-ash provides instead")
        return f"{path}.{name} is part of DSPy but not of dspy-ash ({instead})."
    return f"dspy-ash has no {path}.{name}; see docs/migrating-from-dspy.md for DSPy names it leaves out."


class _DSPyModule(types.ModuleType):
    """One DSPy module path, its names looked up in the dspy-ash modules `_dspy_paths.MODULES` lists.

    Assigning a name that the first of them has sets it there, so `monkeypatch.setattr("dspy.x.y.f", ...)`
    reaches the code that uses it, as it would in DSPy.
    """

    def __init__(self, name: str, targets: tuple[str, ...]) -> None:
        super().__init__(name, f"DSPy's {name}, served by dspy-ash")
        self.__dict__["_dspy_targets"] = targets
        # Every path is a package: `import dspy.x.y` then goes through _AliasFinder, and so does
        # `from dspy.x import Missing`, which asks for a module `dspy.x.Missing` before the attribute and so
        # gets UnsupportedImportError's explanation instead of Python's bare "cannot import name".
        self.__dict__["__path__"] = []

    def _targets(self) -> list[types.ModuleType]:
        return [importlib.import_module(t) for t in self.__dict__["_dspy_targets"]]

    def __getattr__(self, name: str) -> Any:
        path = self.__name__
        if name.startswith("__") and name not in ("__all__", "__version__"):
            raise AttributeError(name)
        renamed = NAMES.get(f"{path}.{name}")
        if renamed is not None:
            module, _, attr = renamed.partition(":")
            return getattr(importlib.import_module(module), attr)
        for target in self._targets():
            value = getattr(target, name, _ABSENT)
            if value is not _ABSENT and not isinstance(value, types.ModuleType):
                return value
        if (
            f"{path}.{name}" in MODULES
        ):  # `dspy.teleprompt.bootstrap` works in DSPy without importing it first
            try:
                return importlib.import_module(f"{path}.{name}")
            except UnsupportedImportError as exc:
                raise MissingFeatureError(str(exc)) from None
        if name.startswith("_"):
            raise AttributeError(f"module {path!r} has no attribute {name!r}")
        raise MissingFeatureError(_missing_message(path, name))

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) or name.startswith("__"):
            if not isinstance(getattr(self._targets()[0], name, None), types.ModuleType | None):
                return  # the import system binding `dspy.dsp.utils.settings` must not hide the `settings` object
            self.__dict__[name] = value
            return
        primary = self._targets()[0]
        if hasattr(primary, name):
            # Remember the value it replaces: pytest's monkeypatch reads this module's own __dict__ (where
            # the name is not) and so undoes a patch by deleting the name; `__delattr__` restores it.
            self.__dict__.setdefault("_dspy_replaced", {}).setdefault(name, getattr(primary, name))
            setattr(primary, name, value)
        else:
            self.__dict__[name] = value

    def __delattr__(self, name: str) -> None:
        replaced: dict[str, Any] = self.__dict__.get("_dspy_replaced", {})
        if name in self.__dict__:
            del self.__dict__[name]
        elif name in replaced:
            setattr(self._targets()[0], name, replaced[name])
        else:
            delattr(self._targets()[0], name)

    def __dir__(self) -> list[str]:
        names = {n for t in self._targets() for n in dir(t) if not n.startswith("_")}
        names |= {p.rpartition(".")[2] for p in MODULES if p.rpartition(".")[0] == self.__name__}
        return sorted(names)


_ABSENT = object()


def _import_error(message: str, module: str) -> UnsupportedImportError:
    error = UnsupportedImportError(message)
    error.name = module  # what ImportError.name means: the module that could not be imported
    return error


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> Any:
        if (fullname == "dspy" or fullname.startswith("dspy.")) and fullname not in sys.modules:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        entry = MODULES.get(spec.name)
        if entry is None:  # `from dspy.x import Name` also asks for a module `dspy.x.Name` first
            parent, _, name = spec.name.rpartition(".")
            raise _import_error(_missing_message(parent, name), spec.name)
        if entry.startswith("!"):
            raise _import_error(f"DSPy's module {spec.name} is not part of dspy-ash: {entry[1:]}", spec.name)
        return _DSPyModule(spec.name, tuple(t.strip() for t in entry.split(",")))

    def exec_module(self, module: types.ModuleType) -> None:
        if isinstance(module, _DSPyModule):
            module._targets()[0]


def install_as_dspy() -> None:
    """Make `import dspy` load dspy-ash for the rest of this process."""
    if isinstance(sys.modules.get("dspy"), _DSPyModule):
        return
    for name in [n for n in sys.modules if n == "dspy" or n.startswith("dspy.")]:
        del sys.modules[name]  # a real dspy imported earlier would otherwise keep answering
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())
    importlib.import_module("dspy")
