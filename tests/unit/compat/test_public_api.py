from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
import types

import dspy as real_dspy
import pytest

import dspy_ash

# Names DSPy 3.4.1 has at top level and dspy-ash does not provide yet. The list must only shrink: the test
# fails when a name here is provided (drop it from the list) and when DSPy has a name missing from both.
KNOWN_GAPS = frozenset(
    {
        "AvatarOptimizer", "Flex", "LMCollectionLimitError",
        "LMLockTimeoutError", "LMStreamAssemblyError", "LMUnsupportedFeatureError",
        "LocalInterpreter", "OldField", "OldInputField", "OldOutputField",
        "Provider", "ReActV2",
        "TrainingJob",
        "configure_dspy_loggers", "disable_litellm_logging", "enable_litellm_logging",
    }
)  # fmt: skip
# dspy-ash's own additions to the namespace (DSPy keeps BaseCallback in dspy.utils.callback).
ADDITIONS = frozenset({"BaseCallback", "DspyAshError", "install_as_dspy"})


def _public(module: types.ModuleType) -> set[str]:
    """The module's public, non-module attributes as `dir()` lists them."""
    return {
        n
        for n in dir(module)
        if not n.startswith("_") and not isinstance(getattr(module, n), types.ModuleType)
    }


def test_all_is_sorted_and_lists_every_public_attribute():
    assert dspy_ash.__all__ == sorted(dspy_ash.__all__)
    assert len(set(dspy_ash.__all__)) == len(dspy_ash.__all__)
    assert _public(dspy_ash) == set(dspy_ash.__all__)


def test_every_name_in_all_resolves_to_the_object_it_names():
    from dspy_ash import _EXPORTS

    assert set(_EXPORTS) == set(dspy_ash.__all__)
    for name, target in _EXPORTS.items():
        module, _, attribute = target.partition(":")
        assert getattr(dspy_ash, name) is getattr(importlib.import_module(module), attribute), name
    assert type(dspy_ash.settings).__name__ == "Settings"


def test_public_names_match_dspy_but_for_the_known_gaps():
    assert real_dspy.__version__ == "3.4.1" and not hasattr(real_dspy, "install_as_dspy")  # the oracle itself
    # `dspy.cache` is built on first use (by any oracle test that caches) and then shows in DSPy's dir();
    # dspy-ash answers `dspy_ash.cache` the same lazy way, outside __all__.
    theirs = _public(real_dspy) - {"cache"}
    ours = set(dspy_ash.__all__)
    assert theirs >= KNOWN_GAPS, f"not DSPy 3.4.1 names: {sorted(KNOWN_GAPS - theirs)}"
    assert sorted(theirs - ours - KNOWN_GAPS) == [], "DSPy names dspy-ash lacks (implement or list them)"
    assert sorted(KNOWN_GAPS & ours) == [], "provided now: remove them from KNOWN_GAPS"
    assert ours - theirs == ADDITIONS


def test_shared_names_are_the_same_kind_of_object_as_dspys():
    """A class where DSPy has a class, a function where it has a function, an instance where it has one."""

    def kind(value: object) -> str:
        return "class" if isinstance(value, type) else "callable" if callable(value) else "value"

    for name in sorted(_public(real_dspy) & set(dspy_ash.__all__)):
        assert kind(getattr(dspy_ash, name)) == kind(getattr(real_dspy, name)), name


def test_every_known_gap_is_absent_and_declared_missing_for_the_compat_error():
    from dspy_ash._compat import MISSING_IN_DSPY_ASH

    assert sorted(KNOWN_GAPS - MISSING_IN_DSPY_ASH) == []
    for name in KNOWN_GAPS:
        with pytest.raises(AttributeError):
            getattr(dspy_ash, name)


# Each package exports its public names (its modules are private, httpx's rule), the same objects the
# root exports; DSPy's module paths resolve through the alias (test_dspy_paths.py).
_PACKAGE_EXPORTS = {
    "dspy_ash.optimizers": {
        "BootstrapFewShot": "dspy_ash.optimizers._bootstrap",
        "MIPROv2": "dspy_ash.optimizers._mipro",
    },
    "dspy_ash.evaluate": {
        "Evaluate": "dspy_ash.evaluate._evaluate",
        "answer_exact_match": "dspy_ash.evaluate._metrics",
    },
    "dspy_ash.modules": {
        "Predict": "dspy_ash.modules._predict",
        "ChainOfThought": "dspy_ash.modules._chain_of_thought",
        "CodeAct": "dspy_ash.modules._code_act",
    },
    "dspy_ash.lm": {
        "LM": "dspy_ash.lm._lm",
        "BaseLM": "dspy_ash.lm._base",
        "track_usage": "dspy_ash.lm._usage",
    },
    "dspy_ash.lm.providers": {"OpenAICompatLM": "dspy_ash.lm.providers._openai_compat"},
    "dspy_ash.primitives": {
        "Example": "dspy_ash.primitives._example",
        "Module": "dspy_ash.primitives._module",
    },
    "dspy_ash.signatures": {
        "Signature": "dspy_ash.signatures._signature",
        "InputField": "dspy_ash.signatures._field",
    },
    "dspy_ash.adapters": {
        "ChatAdapter": "dspy_ash.adapters._chat",
        "JSONAdapter": "dspy_ash.adapters._json_adapter",
    },
    "dspy_ash.retrievers": {"Embeddings": "dspy_ash.retrievers._embeddings"},
    "dspy_ash.utils": {
        "asyncify": "dspy_ash.utils._asyncify",
        "ParallelExecutor": "dspy_ash.utils._parallelizer",
    },
}


@pytest.mark.parametrize("path", sorted(_PACKAGE_EXPORTS))
def test_packages_export_their_names_from_private_modules(path: str) -> None:
    package = importlib.import_module(path)
    for name, home in _PACKAGE_EXPORTS[path].items():
        assert home.rsplit(".", 1)[1].startswith("_"), home
        obj = getattr(package, name)
        assert obj is getattr(importlib.import_module(home), name), (path, name)
        assert name in package.__all__, (path, name)
        if hasattr(dspy_ash, name):
            assert getattr(dspy_ash, name) is obj, name


SCRIPT = textwrap.dedent('''
    import dspy
    from dspy.utils.dummies import DummyLM
    from dspy.teleprompt import LabeledFewShot
    from dspy.evaluate import Evaluate

    class QA(dspy.Signature):
        """Answer."""
        question: str = dspy.InputField()
        answer: str = dspy.OutputField()

    lm = DummyLM([{"reasoning": "r", "answer": "Paris"}] * 10)
    dspy.configure(lm=lm)
    trainset = [dspy.Example(question="Capital of France?", answer="Paris").with_inputs("question")]
    prog = LabeledFewShot(k=1).compile(dspy.ChainOfThought(QA), trainset=trainset)
    print("ANSWER", prog(question="Capital of France?").answer)
    print("MODULE", type(dspy.Predict).__module__.split(".")[0])
    try:
        dspy.AvatarOptimizer
    except AttributeError as exc:
        print("MISSING", exc)
''')


def test_unmodified_dspy_script_runs_via_dspy_ash_run(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(SCRIPT)
    out = subprocess.run(
        [sys.executable, "-m", "dspy_ash.run", str(script)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "ANSWER Paris" in out.stdout
    assert "MODULE dspy_ash" in out.stdout
    assert "MISSING dspy.AvatarOptimizer is part of DSPy but not of dspy-ash" in out.stdout


def test_dspy_submodules_are_attributes_under_install_as_dspy(tmp_path):
    script = tmp_path / "sub.py"
    script.write_text(
        "import dspy\nprint(dspy.retrievers.Embeddings.__module__, dspy.streaming.streamify.__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "dspy_ash.run", str(script)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["dspy_ash.retrievers._embeddings", "streamify"]


def test_errors_from_the_sync_api_carry_no_event_loop_noise():
    import dspy_ash as dspy

    try:
        dspy.Predict("a -> b")(a="x")
    except ValueError as exc:
        assert exc.__context__ is None or "event loop" not in str(exc.__context__)
    else:
        raise AssertionError("expected a missing-LM error")


def test_subpackages_resolve_as_attributes_without_importing_them():
    code = (
        "import dspy_ash as dspy; print(dspy.evaluate.answer_exact_match.__name__, "
        "dspy.teleprompt.BootstrapFewShot.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["answer_exact_match", "BootstrapFewShot"]


def test_dspy_cache_and_testing_exports():
    import dspy_ash.testing
    from dspy_ash.lm._cache import get_cache
    from dspy_ash.testing import dummy, fake_servers

    assert dspy_ash.cache is get_cache()
    assert sorted(dspy_ash.testing.__all__) == [
        "DummyLM",
        "FakeAnthropicServer",
        "FakeCohereServer",
        "FakeOpenAIServer",
        "Fault",
        "Reply",
    ]
    assert dspy_ash.testing.DummyLM is dummy.DummyLM
    for name in ("FakeAnthropicServer", "FakeCohereServer", "FakeOpenAIServer", "Fault", "Reply"):
        assert getattr(dspy_ash.testing, name) is getattr(fake_servers, name), name
