"""Every exception class dspy-ash defines is under `DspyAshError`, and stays catchable as DSPy's built-in."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import dspy_ash
from dspy_ash import errors
from dspy_ash.errors import DspyAshError

# Private control-flow signals that never leave their module (each is caught where it is raised).
INTERNAL = {
    "dspy_ash.modules._interpreter._ForgedReply",  # a reply whose MAC does not match: dropped
    "dspy_ash.api._dashboard._playground._BadInputs",  # a playground form's inputs: shown in the page
}
# Run as a script in the sandbox's subprocess, never imported into the engine (its `_Final` is how
# SUBMIT() unwinds the sandboxed code, a BaseException that never leaves the subprocess).
NOT_IMPORTED = {"dspy_ash.modules._sandbox_worker"}


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(dspy_ash.__path__, "dspy_ash."):
        if info.name in NOT_IMPORTED:
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            # warnings are not errors
            if not issubclass(obj, BaseException) or issubclass(obj, Warning):
                continue
            if obj.__module__ == module.__name__:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def test_every_exception_class_of_the_package_is_under_the_root() -> None:
    classes = _exception_classes()
    assert len(classes) > 40  # the walk reached the subpackages (store, optimizers, lm, ...)
    outside = sorted(name for name, cls in classes.items() if not issubclass(cls, DspyAshError))
    assert outside == sorted(INTERNAL)


def test_the_docstring_tree_names_every_public_error() -> None:
    tree = errors.__doc__ or ""
    public = {cls.__name__ for name, cls in _exception_classes().items() if name not in INTERNAL}
    drawn = {name for name in public if f"── {name} " in tree or f"── {name}\n" in tree} | {"DspyAshError"}
    # the store's and the actions' own trees are drawn in their _errors.py; here only their roots
    own_tree = {
        cls.__name__
        for name, cls in _exception_classes().items()
        if name.startswith(("dspy_ash.store.", "dspy_ash.actions."))
    }
    assert public - own_tree - drawn == set()


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        ("ConfigurationError", ValueError),
        ("NoLMConfiguredError", ValueError),
        ("InvalidInputError", ValueError),
        ("InvalidInputTypeError", TypeError),
        ("DatasetError", ValueError),
        ("SavedStateError", ValueError),
        ("NoCandidateError", ValueError),
        ("LMConfigurationError", ValueError),
    ],
)
def test_typed_errors_stay_catchable_as_the_builtin_dspy_raises(cls: str, builtin: type[Exception]) -> None:
    assert issubclass(getattr(errors, cls), builtin) and issubclass(getattr(errors, cls), DspyAshError)


def test_domain_conditions_raise_typed_errors() -> None:
    from dspy_ash.optimizers._bootstrap import BootstrapError
    from dspy_ash.primitives._concurrency import TooManyErrors

    with dspy_ash.context(lm=None), pytest.raises(errors.NoLMConfiguredError, match="No LM is loaded"):
        dspy_ash.Predict("question -> answer")(question="q")
    with pytest.raises(errors.InvalidInputError, match="Inputs have not been set"):
        dspy_ash.Example(a=1).inputs()
    with pytest.raises(errors.InvalidInputTypeError):
        dspy_ash.Example(42)  # type: ignore[arg-type]
    with pytest.raises(errors.ConfigurationError, match="Breadth"):
        dspy_ash.COPRO(metric=lambda *a: 1.0, breadth=1)
    with pytest.raises(errors.UnknownSettingError):
        dspy_ash.configure_cache(no_such_option=True)
    assert issubclass(BootstrapError, errors.OptimizerError) and issubclass(BootstrapError, RuntimeError)
    assert issubclass(TooManyErrors, DspyAshError) and issubclass(TooManyErrors, RuntimeError)
