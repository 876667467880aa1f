"""The library examples (the quickstart, SimplifiedBaleen as code, a ReAct agent, GSM8K) run end to end, offline, as a
user would run them.

Each example is run once in this process (so the test can inspect what it built) and the quickstart once
more as a script. The offline model is a stand-in that answers from the prompt alone; these
tests check what the examples do with it (a program compiled, demos chosen, state saved and reloaded,
scores computed by the metric), never what score it reaches.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import dspy_ash as dspy
from dspy_ash.evaluate import answer_exact_match
from dspy_ash.retrievers import BM25Retriever, hotpotqa_corpus
from dspy_ash.testing.standins import STAND_IN_NOTICE, ArithmeticSolver

ROOT = Path(__file__).parents[2]


def _example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _assert_scored_by(metric: Any, result: Any, devset: list[Any]) -> None:
    """Every example of the devset was scored, each score is the metric's, and the total is their mean."""
    assert [example for example, _, _ in result.results] == devset
    recomputed = [bool(metric(example, prediction)) for example, prediction, _ in result.results]
    assert [bool(score) for _, _, score in result.results] == recomputed
    assert result.score == round(100 * sum(recomputed) / len(devset), 2)


def _demo_dicts(predictor: Any) -> list[dict[str, Any]]:
    return [dict(d) for d in predictor.demos]


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    tmp = tmp_path_factory.mktemp("quickstart")
    out = tmp / "program.json"
    return _example("quickstart").run(out=str(out), database_url=f"sqlite+aiosqlite:///{tmp}/store.db"), out


def test_quickstart_compiles_demos_the_uncompiled_program_lacks(quickstart):
    outcome, _ = quickstart
    compiled = _demo_dicts(outcome.compiled.answer.predict)
    assert compiled, "BootstrapFewShot chose no demos"
    assert compiled != _demo_dicts(outcome.uncompiled.answer.predict)
    assert any(d.get("augmented") for d in compiled), "no demo was bootstrapped from a passing trace"
    assert outcome.compiled._compiled and not outcome.uncompiled._compiled


def test_quickstart_saves_and_reloads_the_compiled_state(quickstart):
    outcome, out = quickstart
    assert outcome.reloaded.dump_state() == outcome.compiled.dump_state()
    saved = json.loads(out.read_text())
    assert "dspy_ash_version" in saved.pop("metadata")
    assert saved == json.loads(json.dumps(outcome.compiled.dump_state()))


def test_quickstart_scores_are_the_metric_over_its_predictions(quickstart):
    outcome, _ = quickstart
    _assert_scored_by(answer_exact_match, outcome.before, outcome.devset)
    _assert_scored_by(answer_exact_match, outcome.after, outcome.devset)


def test_quickstart_predictions_come_from_the_retrieved_passages(quickstart):
    """The stand-in is extractive: every answer it gives is a span of a passage the program retrieved."""
    outcome, _ = quickstart
    dspy.configure(rm=BM25Retriever(hotpotqa_corpus(), k=3))
    for example, prediction, _ in outcome.after.results:
        passages = " ".join(outcome.compiled.retrieve(example.question).passages)
        assert prediction.answer in passages or prediction.answer == "yes", (example.question, prediction)


def test_the_quickstart_script_prints_the_evaluation_and_names_the_stand_in(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "quickstart.py"),
            "--out",
            str(tmp_path / "program.json"),
            "--database-url",
            f"sqlite+aiosqlite:///{tmp_path}/store.db",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert STAND_IN_NOTICE in run.stdout
    for label in ("before", "after"):
        match = re.search(
            rf"{label} BootstrapFewShot: (\d+) of (\d+) correct, exact match ([\d.]+)%", run.stdout
        )
        assert match, run.stdout
        correct, total, score = int(match[1]), int(match[2]), float(match[3])
        assert total == 33 and score == round(100 * correct / total, 2)
        section = run.stdout[match.end() :]
        assert len(re.findall(r"gold: .* predicted: .* correct: (True|False)", section)) >= 3
    assert "loaded back into a fresh program" in run.stdout
    assert "the compiled program is version 1" in run.stdout


def test_baleen_hops_twice_and_compiles_demos_for_each_predictor():
    baleen = _example("baleen")
    outcome = baleen.run()
    for result in (outcome["before"], outcome["after"]):
        _assert_scored_by(answer_exact_match, result, outcome["devset"])
    compiled = outcome["compiled"]
    predictors = [*compiled.generate_query, compiled.generate_answer]
    assert all(p.predict.demos for p in predictors)  # BootstrapFewShot traced every hop and the answer
    assert len(compiled.generate_answer.predict.demos) <= 10
    _, prediction, _ = outcome["after"].results[0]
    assert 3 < len(prediction.context) <= 6  # two hops of three passages, each passage once
    assert isinstance(prediction.confidence, float)


def test_react_agent_chooses_a_tool_and_answers_from_what_it_returned():
    agent = _example("react_agent")
    outcome = agent.run()
    _assert_scored_by(answer_exact_match, outcome["result"], outcome["devset"])
    for example, prediction, score in outcome["result"].results:
        trajectory = prediction.trajectory
        assert trajectory["tool_name_1"] == "finish"
        if trajectory["tool_name_0"] == "calculate":  # the calculator computed it, so it is right
            assert trajectory["observation_0"] == agent.calculate(trajectory["tool_args_0"]["expression"])
            assert prediction.answer == example.answer and score
        else:
            assert trajectory["tool_name_0"] == "search"
            passages = trajectory["observation_0"].splitlines()
            assert len(passages) == 3 and passages == agent.search(example.question).splitlines()
            assert any(prediction.answer in p for p in passages)  # read from what the search returned
    tools = [p.trajectory["tool_name_0"] for _, p, _ in outcome["result"].results]
    assert tools.count("calculate") == len(agent.ARITHMETIC) and tools.count("search") == 10


def test_gsm8k_example_compiles_saves_and_scores_with_its_metric(tmp_path):
    gsm8k = _example("gsm8k")
    saved = tmp_path / "gsm8k.json"
    outcome = gsm8k.run(gsm8k.parse_args(["--train", "10", "--dev", "20", "--save", str(saved)]))
    assert len(outcome.devset) == 20
    _assert_scored_by(gsm8k.gsm8k_metric, outcome.before, outcome.devset)
    _assert_scored_by(gsm8k.gsm8k_metric, outcome.after, outcome.devset)
    compiled = _demo_dicts(outcome.compiled.predict)
    assert compiled and compiled != _demo_dicts(outcome.uncompiled.predict)
    assert outcome.reloaded.dump_state() == outcome.compiled.dump_state()
    assert saved.exists()


def test_gsm8k_with_program_of_thought_answers_with_what_its_code_computed():
    gsm8k = _example("gsm8k")
    outcome = gsm8k.run(gsm8k.parse_args(["--module", "pot", "--train", "6", "--dev", "12"]))
    assert isinstance(outcome.compiled, dspy.ProgramOfThought)
    for result in (outcome.before, outcome.after):
        _assert_scored_by(gsm8k.gsm8k_metric, result, outcome.devset)
    # the zero-shot program combines the numbers exactly as the ChainOfThought stand-in does, in code
    solver = ArithmeticSolver()
    for example, prediction, _ in outcome.before.results:
        assert prediction.answer == solver.solve(example.question, [])[1]
