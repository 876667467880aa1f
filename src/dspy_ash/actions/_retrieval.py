"""The service's retriever: the passages `retrieve` steps search (`ServiceSettings.corpus`), indexed once.

Executions and runs see it as the engine's `rm`, as a library user's `configure(rm=...)`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dspy_ash.actions._context import Services
from dspy_ash.errors import ConfigurationError

_RETRIEVER = "retrieval.retriever"
SHIPPED = "hotpotqa"  # the HotPotQA sample's paragraphs, shipped with dspy-ash


def service_retriever(services: Services) -> Any | None:
    """The BM25 retriever over the configured corpus, built on first use; None when none is configured."""
    corpus = services.settings.corpus
    if corpus is None:
        return None
    if _RETRIEVER not in services.extras:
        from dspy_ash.retrievers import BM25Retriever

        services.extras[_RETRIEVER] = BM25Retriever(load_corpus(corpus), k=3)
    return services.extras[_RETRIEVER]


def engine_overrides(services: Services) -> dict[str, Any]:
    """Settings an execution or a run runs under, beyond its LM: the retriever, when there is one."""
    retriever = service_retriever(services)
    return {} if retriever is None else {"rm": retriever}


def load_corpus(corpus: str) -> list[str | dict[str, Any]]:
    """`hotpotqa`, a .txt file (a passage a line) or a .jsonl file (an object with `text` a line)."""
    if corpus == SHIPPED:
        from dspy_ash.retrievers import hotpotqa_corpus

        return list(hotpotqa_corpus())
    path = Path(corpus)
    if not path.is_file():
        raise ConfigurationError(f"the corpus {corpus!r} is neither {SHIPPED!r} nor a readable file")
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        raise ConfigurationError(f"{corpus}: no passages")
    if path.suffix != ".jsonl":
        return list(lines)
    passages: list[str | dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{corpus}: line {number} is not JSON ({exc.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise ConfigurationError(f"{corpus}: line {number} has no string `text`")
        passages.append(record)
    return passages
