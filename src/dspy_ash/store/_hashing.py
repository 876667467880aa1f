"""Content hashes: sha256 over canonical JSON, so equal content hashes equally on every machine."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def combine(hashes: Iterable[str]) -> str:
    """One hash for an ordered list of hashes (a dataset from its examples)."""
    digest = hashlib.sha256()
    for h in hashes:
        digest.update(h.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def state_hash(state: dict[str, Any]) -> str:
    """The hash of a saved program state, ignoring `metadata` (library versions say nothing about the program)."""
    return content_hash({k: v for k, v in state.items() if k != "metadata"})
