"""The shipped HotPotQA sample: 53 dev questions and the 521 distinct Wikipedia paragraphs around them.

HotPotQA (Yang et al., 2018), CC BY-SA 4.0; see dspy_ash/data/NOTICE.md.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

_FILE = "hotpotqa_dev_distractor_53.json"


@cache
def _records() -> tuple[dict[str, Any], ...]:
    text = resources.files("dspy_ash").joinpath("data", _FILE).read_text(encoding="utf-8")
    return tuple(json.loads(text))


def hotpotqa_corpus() -> list[dict[str, Any]]:
    """Each distinct paragraph once: `{"id": title, "title", "text": "<title> | <sentences>"}`.

    The title leads the text, as in DSPy's ColBERT Wikipedia abstracts, so a title match counts.
    """
    seen: dict[str, dict[str, Any]] = {}
    for record in _records():
        for title, sentences in record["context"]:
            if title not in seen:
                seen[title] = {"id": title, "title": title, "text": f"{title} | {''.join(sentences)}"}
    return list(seen.values())


def hotpotqa_questions() -> list[dict[str, Any]]:
    """`{"id", "question", "answer", "type", "supporting_titles": [...]}` for each question."""
    out: list[dict[str, Any]] = []
    for r in _records():
        titles = list(dict.fromkeys(t for t, _ in r["supporting_facts"]))
        out.append(
            {
                "id": r["_id"],
                "question": r["question"],
                "answer": r["answer"],
                "type": r.get("type"),
                "supporting_titles": titles,
            }
        )
    return out
