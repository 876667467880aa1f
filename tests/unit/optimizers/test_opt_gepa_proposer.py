"""GEPA's InstructionProposer sends DSPy's reflection prompts byte for byte and validates as DSPy does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import dspy_ash as ash
from dspy_ash.optimizers.gepa import InstructionProposer
from dspy_ash.testing import DummyLM

DATASET: dict[str, list[dict[str, Any]]] = {
    "predict": [
        {
            "Inputs": {"question": "What is <q001>?"},
            "Generated Outputs": {"answer": "wrong"},
            "Feedback": "Expected a1.",
        },
        {
            "Inputs": {"question": "What is <q002>?"},
            "Generated Outputs": {"answer": "a2"},
            "Feedback": "Correct.",
        },
    ]
}


def _propose(
    module: Any, proposer_cls: Any, replies: list[dict[str, str]], **options: Any
) -> tuple[Any, Any]:
    lm = (DummyLM if module is ash else _their_dummy())(replies, adapter=module.JSONAdapter())
    proposer = proposer_cls(**options)
    with module.context(lm=lm):
        texts = proposer({"predict": "Answer the question."}, DATASET, ["predict", "missing"])
    return texts, [h["messages"] for h in lm.history]


def _their_dummy() -> Any:
    from dspy.utils.dummies import DummyLM as RealDummyLM

    return RealDummyLM


@pytest.mark.oracle
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"additional_instructions": "Write in imperative voice.", "base_instructions": "Improve the prompt."},
        {
            "skills": ["---\nname: tone\ndescription: How to sound\n---\nBe brief.\nNo jargon."],
            "max_chars": 40,
        },
    ],
)
def test_same_prompts_and_instructions_as_dspy(options: dict[str, Any]) -> None:
    from dspy.teleprompt.gepa import InstructionProposer as TheirProposer

    replies = [
        {"new_instruction": "Answer every trivia question with the exact code word, nothing else at all."},
        {"shortened_instruction": "Answer with the exact code word."},
    ]
    import dspy

    ours = _propose(ash, InstructionProposer, replies, **options)
    theirs = _propose(dspy, TheirProposer, replies, **options)
    assert ours == theirs
    assert "predict" in ours[0] and "missing" not in ours[0]


def test_skill_files_and_validation(tmp_path: Path) -> None:
    skill = tmp_path / "tone"
    skill.mkdir()
    (skill / "SKILL.md").write_text("---\nname: tone\n---\nBe brief.\n")
    proposer = InstructionProposer(skills=skill)
    assert [(s.name, s.content) for s in proposer.skills] == [("tone", "Be brief.")]
    with pytest.raises(FileNotFoundError, match="looks like a path"):
        InstructionProposer(skills="./no/such/skill.md")
    with pytest.raises(ValueError, match="max_chars must be a positive int"):
        InstructionProposer(max_chars=0)
    with pytest.raises(TypeError, match=r"adapter must be a dspy\.Adapter"):
        InstructionProposer(adapter="json")  # pyright: ignore[reportArgumentType]
    too_long = [{"new_instruction": "x" * 50}, {"shortened_instruction": "y" * 50}]
    with pytest.raises(ValueError, match="at most 10 characters"):
        _propose(ash, InstructionProposer, too_long, max_chars=10)
