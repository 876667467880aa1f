"""Dataset files: JSONL, CSV and JSON in and out, and the HotPotQA and GSM8K shapes.

Records are plain dicts. A record's `split` key (train/dev/test), when present, is its split.
CSV has no types: every cell reads back as a string, and non-string values are written as JSON.
"""

from __future__ import annotations

import csv
import io
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

Format = Literal["jsonl", "csv", "json"]
SPLITS = ("train", "dev", "test")
SPLIT_KEY = "split"

BUILTIN: dict[str, tuple[str, Literal["hotpotqa", "gsm8k"]]] = {
    "hotpotqa": ("hotpotqa_dev_distractor_53.json", "hotpotqa"),
    "gsm8k": ("gsm8k_test.jsonl", "gsm8k"),
    "gsm8k_train": ("gsm8k_train_first1000.jsonl", "gsm8k"),
}


def format_of(path: str | Path) -> Format:
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix in ("jsonl", "ndjson"):
        return "jsonl"
    if suffix in ("csv", "json"):
        return suffix  # type: ignore[return-value]
    raise ValueError(f"cannot tell the format of {path!s}: use .jsonl, .csv or .json, or pass format=")


def parse_records(text: str, fmt: Format) -> list[dict[str, Any]]:
    if fmt == "jsonl":
        # split on "\n" only: splitlines() also breaks on \x85 and \u2028, which JSON strings may hold raw
        return [json.loads(line) for line in text.split("\n") if line.strip()]
    if fmt == "csv":
        return [dict(row) for row in csv.DictReader(io.StringIO(text))]
    data = json.loads(text)
    if isinstance(data, dict) and set(data) <= set(SPLITS):  # {"train": [...], "dev": [...]}
        return [{**record, SPLIT_KEY: split} for split, records in data.items() for record in records]
    if isinstance(data, dict) and isinstance(data.get("examples"), list):
        return list(data["examples"])
    if not isinstance(data, list):
        raise ValueError("a JSON dataset is a list of records, {'examples': [...]}, or {'train': [...], ...}")
    return list(data)


def read_records(path: str | Path, *, fmt: Format | None = None) -> list[dict[str, Any]]:
    return parse_records(Path(path).read_text(encoding="utf-8"), fmt or format_of(path))


def render_records(records: list[dict[str, Any]], fmt: Format) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    columns = list(dict.fromkeys(key for r in records for key in r))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow(
            {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in r.items()}
        )
    return out.getvalue()


def write_records(records: list[dict[str, Any]], path: str | Path, *, fmt: Format | None = None) -> None:
    Path(path).write_text(render_records(records, fmt or format_of(path)), encoding="utf-8")


# -- known shapes --------------------------------------------------------------------------------


def from_hotpotqa(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """HotPotQA records as examples: question, answer, and the gold titles and paragraphs for retrieval."""
    out: list[dict[str, Any]] = []
    for r in raw:
        paragraphs = [f"{title} | {''.join(sentences)}" for title, sentences in r.get("context", [])]
        out.append(
            {
                "id": r.get("_id"),
                "question": r["question"],
                "answer": r["answer"],
                "type": r.get("type"),
                "level": r.get("level"),
                "gold_titles": sorted({title for title, _ in r.get("supporting_facts", [])}),
                "context": paragraphs,
            }
        )
    return out


_GSM8K_FINAL = re.compile(r"####\s*(.+?)\s*$", re.DOTALL)


def from_gsm8k(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GSM8K records as examples: question, reasoning (the worked solution) and answer (the final number)."""
    out: list[dict[str, Any]] = []
    for r in raw:
        solution = str(r["answer"])
        match = _GSM8K_FINAL.search(solution)
        answer = match.group(1).replace(",", "").strip() if match else solution.strip()
        reasoning = solution[: match.start()].strip() if match else ""
        out.append({"question": r["question"], "reasoning": reasoning, "answer": answer})
    return out


def detect_shape(raw: list[dict[str, Any]]) -> Literal["hotpotqa", "gsm8k"] | None:
    if not raw:
        return None
    first = raw[0]
    if "supporting_facts" in first and "context" in first and "question" in first:
        return "hotpotqa"
    if set(first) >= {"question", "answer"} and "####" in str(first["answer"]):
        return "gsm8k"
    return None


def load_file(path: str | Path, *, fmt: Format | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Read a dataset file in one call: records (HotPotQA- and GSM8K-shaped files converted) and input keys."""
    raw = read_records(path, fmt=fmt)
    shape = detect_shape(raw)
    if shape == "hotpotqa":
        return from_hotpotqa(raw), ["question"]
    if shape == "gsm8k":
        return from_gsm8k(raw), ["question"]
    return raw, []


def builtin_path(name: str) -> Path:
    if name not in BUILTIN:
        raise ValueError(f"no built-in dataset {name!r}; there are {sorted(BUILTIN)}")
    return Path(str(resources.files("dspy_ash") / "data" / BUILTIN[name][0]))


def load_builtin(name: str) -> tuple[list[dict[str, Any]], list[str]]:
    """One of the data sets shipped in dspy_ash/data (see its NOTICE.md): records and input keys."""
    return load_file(builtin_path(name))
