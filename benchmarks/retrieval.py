"""Retrieval figures: BM25 index build time and queries/s over a synthetic 100,000-passage corpus,
and BM25 recall@k on the shipped HotPotQA sample (gold = the supporting paragraphs' titles).

    .venv/bin/python benchmarks/retrieval.py [--passages 100000] [--queries 2000] [--seed 0]

The synthetic corpus draws words from a Zipf-like distribution over a 50,000-word vocabulary
(passages of 40-120 words), so term statistics look like text rather than uniform noise.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import time

import numpy as np

from dspy_ash.retrievers import BM25Retriever, hotpotqa_corpus, hotpotqa_questions


def synthetic_corpus(
    n: int, rng: np.random.Generator, vocab_size: int = 50_000
) -> tuple[list[str], list[str]]:
    vocab = np.array([f"w{i}" for i in range(vocab_size)])
    weights = 1.0 / np.arange(1, vocab_size + 1) ** 1.07
    weights /= weights.sum()
    lengths = rng.integers(40, 121, size=n)
    words = rng.choice(vocab, size=int(lengths.sum()), p=weights)
    passages, at = [], 0
    for length in lengths:
        passages.append(" ".join(words[at : at + length]))
        at += length
    return passages, list(vocab)


def bench_synthetic(n: int, n_queries: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    passages, vocab = synthetic_corpus(n, rng)
    started = time.perf_counter()
    bm25 = BM25Retriever(passages, k=10, stopwords=None)
    build = time.perf_counter() - started
    # Queries of 3-6 mid-frequency words (rank 100-20,000): the kind a user would type.
    queries = [
        " ".join(rng.choice(vocab[100:20_000], size=int(rng.integers(3, 7)))) for _ in range(n_queries)
    ]
    started = time.perf_counter()
    for q in queries[: n_queries // 2]:
        bm25.retrieve(q)
    single = (n_queries // 2) / (time.perf_counter() - started)
    started = time.perf_counter()
    bm25.retrieve(queries[n_queries // 2 :])
    batched = (n_queries - n_queries // 2) / (time.perf_counter() - started)
    return {"passages": n, "build_s": build, "qps_single": single, "qps_batched": batched}


def bench_hotpotqa(ks: tuple[int, ...] = (1, 2, 5, 10, 20)) -> dict[int, tuple[float, float]]:
    """recall@k (fraction of gold paragraphs found) and all-gold@k (both gold paragraphs found)."""
    bm25 = BM25Retriever(hotpotqa_corpus(), k=max(ks))
    questions = hotpotqa_questions()
    results = asyncio.run(bm25.aretrieve([q["question"] for q in questions], k=max(ks)))
    out: dict[int, tuple[float, float]] = {}
    for k in ks:
        recall = all_gold = 0.0
        for q, hits in zip(questions, results, strict=True):
            gold = set(q["supporting_titles"])
            found = gold & {p.id for p in hits[:k]}
            recall += len(found) / len(gold)
            all_gold += float(found == gold)
        out[k] = (recall / len(questions), all_gold / len(questions))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    syn = bench_synthetic(args.passages, args.queries, args.seed)
    print(f"BM25 synthetic corpus: {syn['passages']:,} passages")
    print(f"  index build: {syn['build_s']:.2f} s (tokenize + index)")
    print(f"  queries/s, one query per call:   {syn['qps_single']:,.0f}")
    print(f"  queries/s, one batched call:     {syn['qps_batched']:,.0f}")
    print("BM25 on HotPotQA sample (521 paragraphs, 53 questions):")
    for k, (recall, all_gold) in bench_hotpotqa().items():
        print(f"  recall@{k:<2} {recall:.3f}   both-gold@{k:<2} {all_gold:.3f}")


if __name__ == "__main__":
    main()
