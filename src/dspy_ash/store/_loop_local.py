"""One Database per event loop, for objects the engine calls from whatever loop it runs on.

Async drivers bind connections to the loop that opened them, and the engine's sync bridge runs
coroutines on a loop per thread, so an LM cache or checkpoint store keeps an engine per loop.
"""

from __future__ import annotations

import asyncio
import threading
import weakref

from dspy_ash.store._db import Database


class LoopLocalDatabase:
    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Database] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def get(self) -> Database:
        loop = asyncio.get_running_loop()
        with self._lock:
            db = self._by_loop.get(loop)
            if db is None:
                db = self._by_loop[loop] = Database(self.url)
            return db

    async def dispose(self) -> None:
        """Dispose the engine of the current loop (others go with their loops)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            db = self._by_loop.pop(loop, None)
        if db is not None:
            await db.dispose()
