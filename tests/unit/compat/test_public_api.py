from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest

import dspy_ash


def test_all_is_sorted_and_every_name_resolves():
    assert dspy_ash.__all__ == sorted(dspy_ash.__all__)
    for name in dspy_ash.__all__:
        assert getattr(dspy_ash, name) is not None, name
    assert dspy_ash.settings.__class__.__name__ == "Settings"


def test_every_public_dspy_name_is_provided_or_declared_missing():
    dspy = pytest.importorskip("dspy")
    import types

    from dspy_ash.compat import MISSING_IN_DSPY_ASH

    theirs = {
        n for n in dir(dspy) if not n.startswith("_") and not isinstance(getattr(dspy, n), types.ModuleType)
    }
    ours = set(dspy_ash.__all__) | {"settings", "configure", "context"}
    assert theirs - ours - MISSING_IN_DSPY_ASH == set()


@pytest.mark.parametrize(
    "path",
    [
        "dspy_ash.teleprompt",
        "dspy_ash.evaluate",
        "dspy_ash.evaluate.metrics",
        "dspy_ash.predict",
        "dspy_ash.primitives",
        "dspy_ash.signatures",
        "dspy_ash.adapters",
        "dspy_ash.retrievers",
        "dspy_ash.utils.dummies",
    ],
)
def test_dspy_module_paths_resolve(path):
    assert importlib.import_module(path) is not None


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
        dspy.GEPA
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
    assert "MISSING dspy.GEPA is part of DSPy but not of dspy-ash" in out.stdout


def test_dspy_submodules_are_attributes_under_install_as_dspy(tmp_path):
    script = tmp_path / "sub.py"
    script.write_text(
        "import dspy\nprint(dspy.retrievers.Embeddings.__module__, dspy.streaming.streamify.__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "dspy_ash.run", str(script)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["dspy_ash.retrievers.embeddings", "streamify"]


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
    from dspy_ash.lm.cache import get_cache
    from dspy_ash.testing import FakeOpenAIServer, Fault, Reply

    assert dspy_ash.cache is get_cache()
    assert FakeOpenAIServer.__name__ == "FakeOpenAIServer" and Fault and Reply
