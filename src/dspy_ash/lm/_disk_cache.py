"""The default persistent cache: one JSON file per key in a sharded directory, with expiry.

Writes go to a temporary file that is then renamed over the target, so a reader never sees half a
file and a crash leaves at worst a stray temporary file.

Writing is behind: `put` hands the encoded entry to one writer thread and returns. Creating a file
costs ~90 µs of mostly kernel time here, and several times that when the disk is busy; on the loop
that would cap throughput, in a thread it overlaps with the network. Entries not yet on disk are
served from the writer's queue, so a read after a write always sees it. Reads of a few KB stay on the
loop (~25 µs, cheaper than a thread hop). `flush()` waits for the queue; it is also drained at exit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import shutil
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dspy_ash.lm._cache_backend import CacheBackend, CacheEntry


class DiskCacheBackend(CacheBackend):
    """`size_limit` bounds the directory: after every tenth of it written, the writer thread removes the
    least recently written entries until the directory holds at most 90% of the limit."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        clock: Callable[[], float] = time.time,
        size_limit: int | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self.size_limit = size_limit
        # the first write checks the directory (it may already be over the limit from an earlier process)
        self._written_since_prune = size_limit // 10 if size_limit else 0
        self._pending: dict[str, bytes] = {}  # key -> encoded record, until it is on disk
        self._busy = False
        self._cond = threading.Condition()
        self._writer: threading.Thread | None = None
        self._root = str(self.directory)
        self._shards: set[str] = set()  # shard directories known to exist (saves a mkdir per write)
        self._tmp_suffix = f".{os.getpid()}.{id(self)}.tmp"
        for other in list(_live):  # another cache of this process on the same directory: see what it accepted
            if other._root == self._root:
                other.flush(timeout=10)

    def _path(self, key: str) -> Path:
        return Path(self._file(key))

    def _file(self, key: str) -> str:
        # plain strings, not Path objects: this runs for every read and write
        return f"{self._root}/{key[:2]}/{key}.json"

    # -- reading ----------------------------------------------------------------------------------
    def _decode(self, key: str, raw: bytes) -> CacheEntry | None:
        try:
            record = json.loads(raw)
        except ValueError:
            record = None
        expires_at = record.get("expires_at") if isinstance(record, dict) else None
        value = record.get("value") if isinstance(record, dict) else None
        if not isinstance(value, dict) or not isinstance(expires_at, int | float | None):
            self._forget(key, seen=raw)  # a damaged file is a miss, and goes away
            return None
        if expires_at is not None and self.clock() >= expires_at:
            self._forget(key, seen=raw)
            return None
        return CacheEntry(value, expires_at)

    def _read(self, key: str) -> CacheEntry | None:
        with self._cond:
            raw = self._pending.get(key)
        if raw is None:
            raw = _read_file(self._file(key))
            if raw is None:
                return None
        return self._decode(key, raw)

    def _forget(self, key: str, seen: bytes | None = None) -> None:
        """Remove the entry. With `seen` (the record a reader found expired or damaged), only while that
        record is still the current one: a write made meanwhile by another thread stays.

        The writer drops an entry from `_pending` only once its file is in place, so under the lock a
        newer record is either still pending or already in the file: comparing both with `seen` finds it.
        """
        path = self._file(key)
        with self._cond:
            if seen is not None:
                current = self._pending.get(key)
                if (current if current is not None else _read_file(path)) != seen:
                    return
            self._pending.pop(key, None)
            with contextlib.suppress(OSError):
                os.unlink(path)

    # -- writing (the writer thread) --------------------------------------------------------------
    def _enqueue(self, key: str, data: bytes) -> None:
        with self._cond:
            self._pending[key] = data
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._write_loop, name="dspy-ash-cache-writer", daemon=True
                )
                self._writer.start()
                _drain_at_exit(self)
            self._cond.notify_all()

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._busy = False
                    self._cond.notify_all()
                    self._cond.wait()
                self._busy = True
                batch = list(self._pending.items())
            for key, data in batch:
                self._write_one(key, data)
            if self.size_limit and self._written_since_prune >= self.size_limit // 10:
                self._written_since_prune = 0
                self._prune(self.size_limit)

    def _write_one(self, key: str, data: bytes) -> None:
        path = self._file(key)
        tmp = path + self._tmp_suffix
        try:
            if key[:2] not in self._shards:
                os.makedirs(f"{self._root}/{key[:2]}", exist_ok=True)
                self._shards.add(key[:2])
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except (
            OSError
        ):  # a full or read-only disk (or a shard removed under us) loses this copy, not the call
            self._shards.discard(key[:2])
        self._written_since_prune += len(data)
        with self._cond:
            current = self._pending.get(key)
            if current is data:
                del self._pending[key]
            elif current is None:  # deleted (or cleared) while being written: undo
                with contextlib.suppress(OSError):
                    os.unlink(path)

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

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every accepted write is on disk (or `timeout`); True when drained."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    # -- the CacheBackend interface ---------------------------------------------------------------
    async def get(self, key: str) -> CacheEntry | None:
        return self._read(key)

    def get_now(self, key: str) -> CacheEntry | None:
        return self._read(key)

    async def put(
        self,
        key: str,
        value: dict[str, Any],
        *,
        expires_at: float | None = None,
        namespace: str | None = None,
    ) -> None:
        self.put_now(key, value, expires_at=expires_at, namespace=namespace)

    def put_now(
        self,
        key: str,
        value: dict[str, Any],
        *,
        expires_at: float | None = None,
        namespace: str | None = None,
    ) -> None:
        self._enqueue(
            key, json.dumps({"expires_at": expires_at, "namespace": namespace, "value": value}).encode()
        )

    async def delete(self, key: str) -> None:
        self._forget(key)

    async def clear(self) -> None:
        with self._cond:
            self._pending.clear()
        await asyncio.to_thread(self.flush)  # the writer finishes (and undoes) what it had in hand
        self._shards.clear()

        def _clear() -> None:
            for child in self.directory.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        child.unlink()

        await asyncio.to_thread(_clear)

    async def close(self) -> None:
        await asyncio.to_thread(self.flush)


def _read_file(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


_live: weakref.WeakSet[DiskCacheBackend] = weakref.WeakSet()
_exit_hook: list[bool] = []


def _drain_at_exit(backend: DiskCacheBackend) -> None:
    if not _exit_hook:
        atexit.register(_drain_all)
        _exit_hook.append(True)
    _live.add(backend)


def _drain_all() -> None:
    for backend in list(_live):
        backend.flush(timeout=10)
