"""Every public module path and name of the installed dspy resolves under `install_as_dspy()`, or says why not.

The installed dspy (3.4.1, test extra) is walked, so a module DSPy adds fails here until `_dspy_paths` maps it.
The alias side runs in a subprocess: installing the alias replaces `dspy` in `sys.modules` for the process.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
import textwrap
import types
import warnings

import pytest

import dspy_ash
from dspy_ash._dspy_paths import MODULES

pytestmark = pytest.mark.oracle


def _dspy_public_names() -> dict[str, list[str]]:
    """DSPy's non-private modules, each with the names a user imports from it: its `__all__`, the classes and
    functions it defines, and (for a package) what it re-exports from dspy."""
    dspy = pytest.importorskip("dspy")
    found: dict[str, types.ModuleType] = {"dspy": dspy}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for info in pkgutil.walk_packages(dspy.__path__, "dspy."):
            if any(part.startswith("_") for part in info.name.split(".")) or info.name.endswith("_worker"):
                continue  # `*_worker` modules are subprocess entry points that take over stdout when imported
            try:
                found[info.name] = importlib.import_module(info.name)
            except (
                ImportError
            ):  # an optional extra of DSPy's that is not installed: listed in MODULES by hand
                continue
    names: dict[str, list[str]] = {}
    for path, module in found.items():
        exported: set[str] = set(getattr(module, "__all__", None) or ())
        public: set[str] = set()
        for name, value in vars(module).items():
            if name.startswith("_") or isinstance(value, types.ModuleType):
                continue
            origin = getattr(value, "__module__", None)
            defined_here = isinstance(value, type | types.FunctionType) and (
                origin == path or (hasattr(module, "__path__") and str(origin).startswith("dspy"))
            )
            if name in exported or defined_here:
                public.add(name)
        names[path] = sorted(public)
    return names


def test_every_dspy_module_path_is_mapped():
    unmapped = sorted(set(_dspy_public_names()) - set(MODULES))
    assert unmapped == [], f"DSPy module paths missing from dspy_ash._dspy_paths.MODULES: {unmapped}"


CHECK = textwrap.dedent("""
    import importlib, json, sys
    import dspy_ash
    from dspy_ash.errors import UnsupportedFeatureError

    dspy_ash.install_as_dspy()
    names = json.load(sys.stdin)
    wrong, resolved, missing = [], 0, 0
    for path, public in sorted(names.items()):
        try:
            module = importlib.import_module(path)
        except UnsupportedFeatureError as exc:
            missing += 1
            parts = path.split(".")
            if not any(".".join(parts[:i]) in str(exc) for i in range(2, len(parts) + 1)):
                wrong.append(f"{path}: the error does not name the module: {exc}")
            continue
        except Exception as exc:
            wrong.append(f"{path}: {type(exc).__name__}: {exc}")
            continue
        for name in public:
            try:
                value = getattr(module, name)
            except UnsupportedFeatureError as exc:
                missing += 1
                if not isinstance(exc, AttributeError) or name not in str(exc):
                    wrong.append(f"{path}.{name}: {type(exc).__name__}: {exc}")
                continue
            except Exception as exc:
                wrong.append(f"{path}.{name}: {type(exc).__name__}: {exc}")
                continue
            resolved += 1
            origin = getattr(value, "__module__", None) if callable(value) else None
            if origin is not None and not origin.startswith("dspy_ash"):
                wrong.append(f"{path}.{name}: resolves to {value!r}, not a dspy-ash object")
    print(json.dumps({"wrong": wrong, "resolved": resolved, "missing": missing}))
""")


def test_every_dspy_path_and_name_resolves_or_raises_unsupported():
    out = subprocess.run(
        [sys.executable, "-c", CHECK],
        input=json.dumps(_dspy_public_names()),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["wrong"] == [], f"{report['resolved']} resolve, {report['missing']} declared unsupported"


BEHAVIOUR = textwrap.dedent("""
    import dspy_ash
    dspy_ash.install_as_dspy()
    import dspy
    from dspy.utils import DummyLM
    from dspy.clients.lm import LM
    from dspy.predict.predict import Predict
    from dspy.primitives.module import set_attribute_by_name
    from dspy.utils.callback import BaseCallback
    import dspy_ash.testing.dummy, dspy_ash.lm._lm, dspy_ash.modules._predict, dspy_ash.events
    assert DummyLM is dspy_ash.utils._dummies.DummyLM and LM is dspy_ash.lm._lm.LM
    assert Predict is dspy_ash.modules._predict.Predict and BaseCallback is dspy_ash.events.BaseCallback

    # submodules are attributes without an import, and `settings` stays the object, not the module
    assert dspy.teleprompt.bootstrap.BootstrapFewShot is dspy.BootstrapFewShot
    import dspy.dsp.utils.settings
    assert dspy.dsp.utils.settings is dspy.settings

    from dspy.adapters.types import Image
    from dspy.experimental import Citations
    assert Image is dspy_ash.Image and Citations is dspy_ash.experimental.Citations
    try:
        from dspy.experimental import Choice
    except ImportError as exc:
        assert isinstance(exc, dspy_ash.errors.UnsupportedFeatureError) and "Choice" in str(exc), exc
    else:
        raise AssertionError("Choice imported")
    try:
        import dspy.teleprompt.avatar_optimizer
    except ImportError as exc:
        assert isinstance(exc, dspy_ash.errors.UnsupportedFeatureError) and "MIPROv2" in str(exc), exc
    else:
        raise AssertionError("avatar_optimizer imported")
    assert not hasattr(dspy, "AvatarOptimizer")
    assert dspy.adapters.TwoStepAdapter is dspy_ash.adapters.TwoStepAdapter
    assert dspy.predict.RLM is dspy_ash.RLM
    try:
        dspy.predict.ReActV2
    except AttributeError as exc:
        assert isinstance(exc, dspy_ash.errors.MissingFeatureError) and "ReAct" in str(exc), exc

    # assigning through a DSPy path reaches the dspy-ash module that uses the name (monkeypatch does this)
    import dspy.clients.lm as lm_path
    original = dspy_ash.lm._lm.LM
    lm_path.LM = "patched"
    assert dspy_ash.lm._lm.LM == "patched"
    lm_path.LM = original
    print("ok")
""")


def test_alias_behaviour_for_present_and_missing_names():
    out = subprocess.run([sys.executable, "-c", BEHAVIOUR], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_no_module_path_is_refused_while_dspy_ash_provides_its_classes():
    """A DSPy module mapped to an explanatory error must not define a class dspy-ash exports (a merge once
    left `dspy.teleprompt.gepa` refused after `dspy.GEPA` landed)."""
    names = _dspy_public_names()
    provided = set(dspy_ash.__all__)
    # same name, another thing: lm15's typed Reasoning content part, Avatar's own Tool model
    homonyms = {
        "dspy.lm15": {"Reasoning"},
        "dspy.predict.avatar": {"Tool"},
        "dspy.predict.avatar.models": {"Tool"},
    }
    wrong = {
        path: sorted(
            n
            for n in names.get(path, [])
            if n[:1].isupper() and n in provided and n not in homonyms.get(path, set())
        )
        for path, target in MODULES.items()
        if target.startswith("!")
    }
    assert {path: found for path, found in wrong.items() if found} == {}
