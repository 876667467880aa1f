"""Garbage-collector pacing under load (opt-in).

With hundreds of LM calls in flight, every in-flight call keeps its coroutine frames, messages and HTTP
objects alive, so they pile up in CPython's middle GC generation, which is rescanned every ~7,000
allocations: at 1,024 in flight that costs more CPU per call than the framework itself. With pacing on,
while many calls are in flight the young-generation threshold is raised (collections still happen, 70x
less often), and it is restored once the load falls back.

It changes the thresholds of the whole process, which a library must not do behind its user's back, so
it is off unless asked for: `dspy_ash.settings.enable_gc_pacing()`, imported with
`from dspy_ash.settings import enable_gc_pacing` (any thread, process-wide), the environment
variable DSPY_ASH_GC_PACING=1, or `configure(relax_gc=True)`; `context(relax_gc=...)` decides per block.
The servers and workers of this project turn it on.
"""

from __future__ import annotations

import gc
import threading

from dspy_ash.settings import read

RELAX_AT = 64  # calls in flight at which collections are spaced out
RESTORE_AT = 16  # ... and below which the previous thresholds come back (hysteresis: no flapping)
RELAXED_THRESHOLD = 50_000

_lock = threading.Lock()
_in_flight = 0
_saved: tuple[int, int, int] | None = None


def call_started() -> None:
    global _in_flight, _saved
    with _lock:
        _in_flight += 1
        if _in_flight == RELAX_AT and _saved is None and read("relax_gc"):
            _saved = gc.get_threshold()
            gc.set_threshold(max(_saved[0], RELAXED_THRESHOLD), _saved[1], _saved[2])


def call_finished() -> None:
    global _in_flight, _saved
    with _lock:
        _in_flight -= 1
        if _in_flight < RESTORE_AT and _saved is not None:
            gc.set_threshold(*_saved)
            _saved = None


def in_flight() -> int:
    return _in_flight
