"""The one bridge between sync and async code.

The async path is the implementation. Async code calls user sync code through `call_sync(fn)`; sync
code reaches the async path through `run_sync(coro)`, which does one of three things:

- Inside `call_sync(fn)`: `fn` (a user's sync `forward`, a sync metric, tool or embedding function)
  runs on a worker thread, so code that blocks (a `requests` retriever, a database client,
  `time.sleep`) blocks only that thread, as in DSPy. Each `run_sync` made there submits its
  coroutine to the event loop that called `call_sync` and waits for it, so the LM calls of all
  those threads are still multiplexed on that one loop. The thread runs in a copy of the caller's
  context (settings, usage tracker, trace parent ids). Cancelling the awaiting task (a timeout,
  `max_errors` stopping the rest) cancels the coroutine the thread waits on and makes its later
  `run_sync` calls raise `CancelledError`; code that is blocked runs on until it returns, as any
  thread must. Threads are made on demand and reused, so there are as many as there are sync calls
  in flight (bounded by the caller: `num_threads`); one left idle for a minute ends.
- With no running loop in this thread: the coroutine runs on a loop kept per thread, so pooled HTTP
  sessions survive between calls and no loop is built per call.
- Called from plain sync code inside a running loop (a notebook cell, an async handler calling the
  sync API): the coroutine runs on a worker thread's own loop while the caller waits, so that
  loop's other tasks wait too, as they do in DSPy; calls finish in the order their work does, not
  nested inside each other. `await module.acall(...)` is the call that keeps the loop going.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextvars
import queue
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


# `_drive` turns an idle loop itself, through private asyncio attributes, which saves a loop iteration
# per call over `run_until_complete` (benchmarks/RESULTS.md, "Sync bridge"). Only on the versions whose
# asyncio it was checked against (`make test-pythons`); elsewhere the public call.
_FAST_DRIVE = (3, 11) <= sys.version_info[:2] <= (3, 13)
_IDLE_SECONDS = 60.0


class _ThreadState(threading.local):
    """Per thread: the `call_sync` call a worker thread is serving, and the thread's own loop."""

    call: _Call | None = None
    holder: _ThreadLoop | None = None


_local = _ThreadState()


class _Workers:
    """Threads made on demand and reused; a thread that waits `_IDLE_SECONDS` for work ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._idle = 0  # threads waiting for a job that no submitter has claimed yet

    def submit(self, job: Callable[[], None]) -> None:
        """Run `job` (which must not raise) on an idle thread, or on a new one when none is idle."""
        with self._lock:
            if self._idle:
                self._idle -= 1
                self._jobs.put(job)
                return
        threading.Thread(target=self._work, args=(job,), name="dspy-ash-sync", daemon=True).start()

    def _work(self, job: Callable[[], None] | None) -> None:
        while job is not None:
            job()
            job = None  # drop the finished job's references while idle
            with self._lock:
                self._idle += 1
            while job is None:
                try:
                    job = self._jobs.get(timeout=_IDLE_SECONDS)
                except queue.Empty:
                    with self._lock:
                        if self._jobs.empty():  # else a submitter counted on this thread: take its job
                            self._idle -= 1
                            return


_workers = _Workers()


class _Call:
    """One `call_sync` on a worker thread, on behalf of a task on `loop`."""

    __slots__ = ("cancelled", "ctx", "future", "job", "loop", "waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop, job: Callable[[], Any]) -> None:
        self.loop = loop
        self.job = job
        self.ctx = contextvars.copy_context()
        self.future: asyncio.Future[Any] = loop.create_future()
        self.waiting: concurrent.futures.Future[Any] | None = None
        self.cancelled = False

    def run(self) -> None:
        """On the worker thread: run the sync code and hand its outcome to the loop."""
        if self.cancelled:  # cancelled before a thread picked it up: nobody wants it run
            return
        _local.call = self
        try:
            result = self.ctx.run(self.job)
        except BaseException as exc:
            self._settle(_set_exception, exc)
        else:
            self._settle(_set_result, result)
        finally:
            _local.call = None

    def _settle(self, setter: Callable[[asyncio.Future[Any], Any], None], value: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(setter, self.future, value)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    def await_on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """On the worker thread: run `coro` on the caller's loop and wait for it."""
        if self.cancelled:
            coro.close()
            raise asyncio.CancelledError
        waiting = asyncio.run_coroutine_threadsafe(coro, self.loop)
        self.waiting = waiting
        if self.cancelled:  # cancel() ran between the check above and this thread's assignment
            waiting.cancel()
        try:
            return waiting.result()
        except concurrent.futures.CancelledError:
            raise asyncio.CancelledError from None
        finally:
            self.waiting = None

    def cancel(self) -> None:
        """On the loop: the awaiting task was cancelled."""
        self.cancelled = True
        waiting = self.waiting
        if waiting is not None:
            waiting.cancel()


def _set_result(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


async def call_sync(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run sync `fn` on a worker thread; its `run_sync` calls await on this loop (module docstring)."""
    call = _Call(asyncio.get_running_loop(), lambda: fn(*args, **kwargs))
    _workers.submit(call.run)
    try:
        return await call.future
    except asyncio.CancelledError:
        call.cancel()
        raise


class _LoopParts:
    """This thread's loop and what `_drive` sets on every call, looked up once (bound methods are new
    objects per lookup). Frames and tracebacks hold this, never the `_ThreadLoop` that closes the loop,
    so the loop is closed on its own thread when the thread ends, not wherever a collection happens."""

    __slots__ = ("asyncgen_hooks", "loop", "run_once", "thread_id")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.run_once: Callable[[], None] | None = getattr(loop, "_run_once", None)
        self.asyncgen_hooks: tuple[Any, Any] = (
            getattr(loop, "_asyncgen_firstiter_hook", None),
            getattr(loop, "_asyncgen_finalizer_hook", None),
        )
        self.thread_id = threading.get_ident()


class _ThreadLoop:
    """This thread's loop; closed when the thread ends and its thread-local storage is dropped."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.parts = _LoopParts(self.loop)
        if threading.current_thread() is threading.main_thread():
            # the main thread's storage outlives the interpreter's orderly shutdown: close it at exit instead
            atexit.register(self.close)

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        loop = self.loop
        if not loop.is_closed() and not loop.is_running():
            try:  # lets pooled HTTP sessions bound to this loop close cleanly, as asyncio.run does
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()


def _thread_loop() -> _LoopParts:
    holder = _local.holder
    if holder is None or holder.loop.is_closed():
        holder = _ThreadLoop()
        _local.holder = holder
    return holder.parts


def _public_running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


# The running loop or None, without raising and catching an exception on every sync call where none runs.
_running_loop: Callable[[], asyncio.AbstractEventLoop | None] = (
    asyncio.events._get_running_loop if _FAST_DRIVE else _public_running_loop
)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code (see the module docstring for the three cases)."""
    if _running_loop() is not None:
        return _run_on_worker(coro)
    call = _local.call
    if call is not None:
        return call.await_on_loop(coro)
    return _drive(_thread_loop(), coro)


# Loops whose thread is blocked in `_run_on_worker` (by how many such calls): their tasks cannot step
# until it returns, so nothing may wait for them from the worker (the LM cache's single flight asks).
_held: dict[asyncio.AbstractEventLoop, int] = {}
_held_lock = threading.Lock()


def loop_is_held(loop: asyncio.AbstractEventLoop) -> bool:
    """True while sync code running on `loop` waits for a worker thread (see `_run_on_worker`)."""
    return loop in _held


def _run_on_worker(coro: Coroutine[Any, Any, T]) -> T:
    """Block this thread (and its running loop) while a worker thread runs `coro` on its own loop."""
    held = asyncio.get_running_loop()
    with _held_lock:
        _held[held] = _held.get(held, 0) + 1
    try:
        return _wait_on_worker(coro)
    finally:
        with _held_lock:
            if _held[held] == 1:
                del _held[held]
            else:
                _held[held] -= 1


def _wait_on_worker(coro: Coroutine[Any, Any, T]) -> T:
    ctx = contextvars.copy_context()
    done: concurrent.futures.Future[T] = concurrent.futures.Future()

    def job() -> None:
        try:
            done.set_result(ctx.run(_drive, _thread_loop(), coro))
        except BaseException as exc:
            done.set_exception(exc)

    _workers.submit(job)
    return done.result()


async def _cancel_pending(loop: asyncio.AbstractEventLoop) -> None:
    """Ctrl-C (or SystemExit) was raised into this thread's loop: cancel every task the interrupted call
    left on it and wait for them, as DSPy's executor cancels its jobs on SIGINT, so no half-finished
    evaluation or compile resumes during this thread's next call. Sync code already running on a worker
    thread finishes on its own; its result is dropped."""
    current = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks(loop) if t is not current]
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


def _drive(parts: _LoopParts, coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on this thread's idle loop: what `run_until_complete` does, minus its stop-callback round
    trip (an extra loop iteration and selector poll per call, measurable on a zero-latency LM)."""
    loop = parts.loop
    run_once = parts.run_once if _FAST_DRIVE else None
    if run_once is None:
        try:
            return loop.run_until_complete(coro)
        except (KeyboardInterrupt, SystemExit):
            loop.run_until_complete(_cancel_pending(loop))
            raise
    task = loop.create_task(coro)
    base: Any = loop
    old_hooks = sys.get_asyncgen_hooks()
    base._thread_id = parts.thread_id  # is_running() is true while we turn it, as under run_forever
    sys.set_asyncgen_hooks(*parts.asyncgen_hooks)
    asyncio.events._set_running_loop(loop)
    try:
        while not task.done():
            run_once()
    except (KeyboardInterrupt, SystemExit):
        cleanup = loop.create_task(_cancel_pending(loop))
        while not cleanup.done():
            run_once()
        raise
    finally:
        asyncio.events._set_running_loop(None)
        base._thread_id = None
        sys.set_asyncgen_hooks(*old_hooks)
    return task.result()
