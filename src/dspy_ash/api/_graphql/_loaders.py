"""DataLoaders: the related rows a page of parents needs, fetched by ONE batch action per relation.

A loader collects the keys its fields ask for in one tick of the event loop and calls its batch action
once for them (at most `MAX_BATCH` keys a call, as one page holds at most that many parents), so a query
for 50 programs with their versions costs the same statements as one for 5. To add a relation: a batch
action in actions/_batches.py (no http, the relation's read scope) and a loader here calling it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from itertools import groupby
from typing import Any

from strawberry.dataloader import DataLoader

from dspy_ash.actions._batches import MAX_BATCH, VersionGroup, VersionGroups
from dspy_ash.actions._programs import ProgramPublic

Call = Callable[[str, dict[str, Any]], Awaitable[Any]]
VersionsKey = tuple[uuid.UUID, int, int | None]  # (program, first, after number)


class Loaders:
    """One request's loaders; each caches what it loaded for the rest of the request."""

    def __init__(self, call: Call) -> None:
        self._call = call
        self.versions = DataLoader[VersionsKey, VersionGroup](self._versions, max_batch_size=MAX_BATCH)
        self.programs = DataLoader[uuid.UUID, ProgramPublic | None](self._programs, max_batch_size=MAX_BATCH)

    async def _versions(self, keys: Sequence[VersionsKey]) -> list[VersionGroup]:
        """Keys asking for the same page size and offset share one call (in a page they all do)."""
        found: dict[VersionsKey, VersionGroup] = {}
        for (first, after), same in groupby(sorted(keys, key=_order), key=_page_of):
            ids = [key[0] for key in same]
            payload = {"program_ids": ids, "first": first, "after_number": after}
            batch: VersionGroups = await self._call("versions.by_programs", payload)
            for group in batch.groups:
                found[(group.program_id, first, after)] = group
        return [found[key] for key in keys]

    async def _programs(self, keys: Sequence[uuid.UUID]) -> list[ProgramPublic | None]:
        batch = await self._call("programs.by_ids", {"program_ids": list(keys)})
        by_id: dict[uuid.UUID, ProgramPublic] = {program.id: program for program in batch.items}
        return [by_id.get(key) for key in keys]


def _page_of(key: VersionsKey) -> tuple[int, int | None]:
    return key[1], key[2]


def _order(key: VersionsKey) -> tuple[int, int]:
    return key[1], -1 if key[2] is None else key[2]
