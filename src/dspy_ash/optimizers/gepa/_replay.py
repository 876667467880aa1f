"""GEPA's checkpoint: every evaluation, reflective dataset and proposal of a run, by its place in the run.

gepa's loop is sequential and seeded: given the same evaluation results and proposals, it makes the same
calls in the same order. So a run records each adapter call under its sequence number (the n-th
evaluation, the n-th reflective dataset) and a restarted run replays gepa from the start, answering
what was recorded and paying only for the rest.

What is kept: each finished example of each evaluation (score, objective scores, output), the
adapter's random state after each reflective dataset, and each proposal (or its error). Traces are not
kept (they hold live predictor objects): a replayed example's trajectory is a `ReplayedTrace`, and a
reflective dataset that must be built again from replayed traces (the run was killed after the
reflection minibatch but before its proposal finished) re-runs those minibatch examples first.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dspy_ash._sync import run_sync
from dspy_ash.errors import CheckpointError
from dspy_ash.optimizers.checkpoint._session import CheckpointSession


@dataclass(frozen=True)
class ReplayedTrace:
    """The trajectory of an example answered from the checkpoint (its trace was not kept)."""

    example_ind: int
    example: Any


class ReflectiveDataset(dict[str, list[Any]]):
    """A reflective dataset that knows its place in the run, so its proposal can be found again."""

    def __init__(self, seq: int, data: Mapping[str, list[Any]]) -> None:
        super().__init__(data)
        self.seq = seq


def candidate_digest(candidate: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(candidate, sort_keys=True).encode()).hexdigest()[:16]


class GEPAReplay:
    """One GEPA run's record in a `CheckpointSession` (works without a store too: then it only counts)."""

    def __init__(self, session: CheckpointSession) -> None:
        # Made here, on the event loop: gepa's thread only reads them, and its writes go through the loop
        # (`_store`), so the checkpoint writer never serialises a dict another thread is changing.
        self._reflections_record = session.section("reflections")
        self._proposals_record = session.section("proposals")
        self.session = session
        self._evaluations = 0
        self._reflections = 0
        self._attempts: dict[int, int] = {}

    # -- evaluations (called on the event loop) ---------------------------------------------------------
    def evaluation(self, candidate: dict[str, str], size: int, capture_traces: bool) -> dict[str, Any]:
        """The record of the next evaluation: `examples` maps a finished example's index to its result."""
        seq = self._evaluations
        self._evaluations += 1
        record = self.session.section("evaluations", str(seq))
        identity = {"candidate": candidate_digest(candidate), "size": size, "traces": capture_traces}
        if record.setdefault("identity", identity) != identity:
            raise CheckpointError(
                f"GEPA checkpoint: evaluation {seq} does not match this run (the LM replies or the program "
                "changed since it was saved). Delete the checkpoint to start over."
            )
        record.setdefault("examples", {})
        return record

    # -- reflective datasets and proposals (called from gepa's thread) ----------------------------------
    def next_reflection(self) -> tuple[int, dict[str, Any] | None]:
        seq = self._reflections
        self._reflections += 1
        return seq, self._reflections_record.get(str(seq))

    def record_reflection(self, seq: int, rng: random.Random, error: str | None) -> None:
        self._store(self._reflections_record, str(seq), {"rng": _rng_to_json(rng), "error": error})

    def has_proposal(self, seq: int) -> bool:
        return f"{seq}:0" in self._proposals_record

    def next_proposal(self, seq: int) -> tuple[str, dict[str, Any] | None]:
        attempt = self._attempts.get(seq, 0)
        self._attempts[seq] = attempt + 1
        key = f"{seq}:{attempt}"
        return key, self._proposals_record.get(key)

    def record_proposal(self, key: str, texts: dict[str, str] | None, error: str | None) -> None:
        self._store(self._proposals_record, key, {"texts": texts, "error": error})

    def _store(self, record: dict[str, Any], key: str, value: dict[str, Any]) -> None:
        async def store() -> None:
            record[key] = value
            await self.session.save()

        run_sync(store())


def restore_rng(rng: random.Random, data: list[Any]) -> None:
    version, internal, gauss = data
    rng.setstate((version, tuple(internal), gauss))


def _rng_to_json(rng: random.Random) -> list[Any]:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]
