from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from dspy_ash.retrievers import BM25Retriever, Passage, hotpotqa_corpus, hotpotqa_questions

CORPUS = [
    {"id": "cats", "text": "Cats are small furry animals that purr.", "title": "Cat"},
    {"id": "dogs", "text": "Dogs are loyal animals that bark.", "title": "Dog"},
    {"id": "python", "text": "Python is a programming language.", "title": "Python"},
]


def test_single_and_batched_queries_return_scored_passages_best_first() -> None:
    bm25 = BM25Retriever(CORPUS, k=2)
    hits = bm25("which animals purr")
    assert isinstance(hits[0], Passage)
    assert hits[0].id == "cats" and hits[0].metadata == {"title": "Cat"}
    assert hits[0].long_text == CORPUS[0]["text"]
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    batch = bm25.retrieve(["programming language", "bark"], k=1)
    assert [[p.id for p in row] for row in batch] == [["python"], ["dogs"]]


def test_no_match_gives_no_passages_and_k_is_capped() -> None:
    bm25 = BM25Retriever(["alpha beta", "gamma delta"])
    assert bm25("zeta") == []
    assert len(bm25("alpha gamma", k=50)) == 2


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    bm25 = BM25Retriever(CORPUS, k=1)
    before = bm25("loyal dogs")
    bm25.save(tmp_path / "index")
    loaded = BM25Retriever.load(tmp_path / "index")
    assert loaded.k == 1
    assert loaded("loyal dogs") == before


def test_from_jsonl_and_text_files(tmp_path: Path) -> None:
    jsonl = tmp_path / "corpus.jsonl"
    jsonl.write_text("\n".join(json.dumps(d) for d in CORPUS))
    assert BM25Retriever.from_file(jsonl)("purr")[0].id == "cats"
    text = tmp_path / "corpus.txt"
    text.write_text("first line about rivers\nsecond line about mountains\n")
    hit = BM25Retriever.from_file(text)("mountains")[0]
    assert hit.id == "1" and hit.text == "second line about mountains"


def test_hotpotqa_corpus_has_521_paragraphs_and_bm25_finds_supporting_ones() -> None:
    corpus = hotpotqa_corpus()
    questions = hotpotqa_questions()
    assert len(corpus) == 521 and len({d["id"] for d in corpus}) == 521
    assert len(questions) == 53 and all(q["supporting_titles"] for q in questions)
    bm25 = BM25Retriever(corpus, k=10)
    results = bm25.retrieve([q["question"] for q in questions])
    recall = sum(
        len(set(q["supporting_titles"]) & {p.id for p in hits}) / len(q["supporting_titles"])
        for q, hits in zip(questions, results, strict=True)
    ) / len(questions)
    assert recall > 0.8


async def test_async_interface() -> None:
    bm25 = BM25Retriever(CORPUS)
    assert (await bm25.acall("purr"))[0].id == "cats"
    with pytest.raises(TypeError):
        await bm25.aretrieve(42)  # type: ignore[arg-type]


def test_numpy_scoring_matches_bm25s_own_retrieve() -> None:
    import bm25s

    corpus = [d["text"] for d in hotpotqa_corpus()]
    ours = BM25Retriever(corpus, k=5)
    reference = bm25s.BM25()
    reference.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False), show_progress=False)
    for q in hotpotqa_questions()[:20]:
        docs, scores = reference.retrieve(
            bm25s.tokenize([q["question"]], stopwords="en", show_progress=False), k=5, show_progress=False
        )
        mine = ours(q["question"])
        assert [p.score for p in mine] == pytest.approx([float(s) for s in scores[0]], rel=1e-5)
        assert {p.id for p in mine} == {str(int(i)) for i in docs[0]} or len({p.score for p in mine}) < 5
