"""The default persistent cache: one JSON file per key in a sharded directory, with expiry.

Writes go to a temporary file that is then renamed over the target, so a reader never sees half a
file and a crash leaves at worst a stray temporary file. Cached replies are a few KB: reading or
writing one costs tens of microseconds, less than handing it to a thread would, so small files are
done on the loop and only large ones go to a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dspy_ash.lm.cache_backend import CacheBackend

_INLINE_LIMIT = 256 * 1024


class DiskCacheBackend(CacheBackend):
    """`size_limit` bounds the directory: after every tenth of it written, a worker thread removes the
    least recently written entries until the directory holds at most 90% of the limit."""

    def __init__(self, directory: str | os.PathLike[str], clock: Callable[[], float] = time.time,
                 size_limit: int | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self.size_limit = size_limit
        # the first put checks the directory (it may already be over the limit from an earlier process)
        self._written_since_prune = size_limit // 10 if size_limit else 0

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def _read(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        try:
            record = json.loads(path.read_bytes())
        except (FileNotFoundError, NotADirectoryError):
            return None
        except ValueError:  # a damaged file is a miss, and goes away
            path.unlink(missing_ok=True)
            return None
        expires_at = record.get("expires_at")
        if expires_at is not None and self.clock() >= expires_at:
            path.unlink(missing_ok=True)
            return None
        value = record.get("value")
        return value if isinstance(value, dict) else None

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{id(data)}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    async def get(self, key: str) -> dict[str, Any] | None:
        return self._read(key)

    async def put(self, key: str, value: dict[str, Any], *, ttl: float | None = None,
                  namespace: str | None = None) -> None:
        expires_at = None if ttl is None else self.clock() + ttl
        data = json.dumps({"expires_at": expires_at, "namespace": namespace, "value": value}).encode()
        if len(data) > _INLINE_LIMIT:
            await asyncio.to_thread(self._write, key, data)
        else:
            self._write(key, data)
        if self.size_limit:
            self._written_since_prune += len(data)
            if self._written_since_prune >= self.size_limit // 10:
                self._written_since_prune = 0
                await asyncio.to_thread(self._prune, self.size_limit)

    def _prune(self, limit: int) -> None:
        entries: list[tuple[float, int, Path]] = []
        for path in self.directory.glob("*/*.json"):
            with contextlib.suppress(OSError):
                stat = path.stat()
                entries.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        if total <= limit:
            return
        entries.sort()
        for _, size, path in entries:
            if total <= limit * 0.9:
                break
            path.unlink(missing_ok=True)
            total -= size

    async def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    async def clear(self) -> None:
        def _clear() -> None:
            for child in self.directory.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        child.unlink()

        await asyncio.to_thread(_clear)
