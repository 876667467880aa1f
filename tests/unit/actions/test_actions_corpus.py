"""The service's corpus (`ServiceSettings.corpus`): the shipped sample, text and JSONL files, and clear
errors for files that cannot be one."""

from __future__ import annotations

from pathlib import Path

import pytest

from dspy_ash.actions._retrieval import load_corpus  # pyright: ignore[reportPrivateUsage]
from dspy_ash.errors import ConfigurationError


def test_the_shipped_sample_and_files(tmp_path: Path) -> None:
    assert len(load_corpus("hotpotqa")) > 500
    text = tmp_path / "p.txt"
    text.write_text("one passage\n\nanother passage\n", encoding="utf-8")
    assert load_corpus(str(text)) == ["one passage", "another passage"]
    lines = tmp_path / "p.jsonl"
    lines.write_text('{"id": "a", "text": "alpha"}\n{"text": "beta", "title": "B"}\n', encoding="utf-8")
    assert [p["text"] for p in load_corpus(str(lines))] == ["alpha", "beta"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("empty.txt", "\n\n", "no passages"),
        ("bad.jsonl", '{"text": "ok"}\nnot json\n', "line 2 is not JSON"),
        ("untexted.jsonl", '{"title": "no text"}\n', "line 1 has no string `text`"),
    ],
)
def test_files_that_are_no_corpus(tmp_path: Path, name: str, content: str, said: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=said):
        load_corpus(str(path))
    with pytest.raises(ConfigurationError, match="neither"):
        load_corpus(str(tmp_path / "missing.txt"))
