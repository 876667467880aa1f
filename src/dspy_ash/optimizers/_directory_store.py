"""`DirectoryCheckpointStore`: the default checkpoint store, one JSON file per key in a directory."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from dspy_ash.errors import CheckpointError
from dspy_ash.optimizers.checkpoint import CheckpointStore

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class DirectoryCheckpointStore(CheckpointStore):
    """Checkpoints as `<directory>/<key>.json`, replaced atomically (temp file, fsync, `os.replace`).

    A crash in the middle of `save` leaves the previous file intact. Keys with characters that are
    not safe in file names are escaped and suffixed with a short hash so two keys never share a file.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def path_for(self, key: str) -> Path:
        name = _UNSAFE.sub("_", key)
        if name != key:
            name = f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"
        return self.directory / f"{name}.json"

    async def load(self, key: str) -> dict[str, Any] | None:
        return await asyncio.to_thread(self._load, key)

    async def save(self, key: str, state: dict[str, Any]) -> None:
        text = json.dumps(state, ensure_ascii=False)  # serialise on the caller's side: the state may change
        await asyncio.to_thread(self._write, key, text)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path_for(key).unlink, True)

    def _load(self, key: str) -> dict[str, Any] | None:
        path = self.path_for(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            state = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"Checkpoint {path} is not valid JSON: {exc}") from exc
        if not isinstance(state, dict):
            raise CheckpointError(f"Checkpoint {path} does not hold a JSON object.")
        return state  # pyright: ignore[reportUnknownVariableType]

    def _write(self, key: str, text: str) -> None:
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class MemoryCheckpointStore(CheckpointStore):
    """Checkpoints in a dict (tests, or resuming within one process). States are copied through JSON."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}

    async def load(self, key: str) -> dict[str, Any] | None:
        text = self.states.get(key)
        return None if text is None else json.loads(text)

    async def save(self, key: str, state: dict[str, Any]) -> None:
        self.states[key] = json.dumps(state, ensure_ascii=False)

    async def delete(self, key: str) -> None:
        self.states.pop(key, None)
