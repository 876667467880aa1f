"""An LRU of encoded responses, bounded by entry count AND total bytes, with optional expiry.

Values are kept as bytes: their size is exact, and every hit decodes a fresh object, so no caller can
mutate what the cache holds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable


class MemoryLRU:
    def __init__(self, max_entries: float, max_bytes: int, clock: Callable[[], float]) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock = clock
        self._data: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()
        self._bytes = 0
        # one LRU serves every thread's loop; the lock is uncontended in the common one-loop case
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def items(self) -> list[tuple[str, bytes, float | None]]:
        """The live entries (key, value, expiry), least recently used first."""
        with self._lock:
            now = self.clock()
            return [(k, v, exp) for k, (v, exp) in self._data.items() if exp is None or now < exp]

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            value, expires_at = item
            if expires_at is not None and self.clock() >= expires_at:
                self._pop(key)
                return None
            self._data.move_to_end(key)
            return value

    def put(self, key: str, value: bytes, expires_at: float | None) -> None:
        """Keep `value` until `expires_at` (the entry's absolute expiry, on this LRU's clock; None: never)."""
        with self._lock:
            if key in self._data:  # first, so that a value too large to keep does not leave the old one
                self._pop(key)
            if len(value) > self.max_bytes or self.max_entries <= 0:
                return
            self._data[key] = (value, expires_at)
            self._bytes += len(value)
            while len(self._data) > self.max_entries or self._bytes > self.max_bytes:
                _, (old, _) = self._data.popitem(last=False)
                self._bytes -= len(old)

    def _pop(self, key: str) -> None:
        value, _ = self._data.pop(key)
        self._bytes -= len(value)

    def delete(self, key: str) -> None:
        with self._lock:
            if key in self._data:
                self._pop(key)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0
