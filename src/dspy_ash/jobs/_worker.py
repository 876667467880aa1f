"""`RunWorker`: claims queued runs, keeps their leases alive, and runs them as tasks of this process.

One loop ticks every `poll_seconds` (or a third of the lease, if shorter):

- it claims queued runs while it has free slots (a compare-and-set to `running`, naming this worker
  as the owner for `lease_seconds`), oldest first, of every tenant;
- it renews the lease of each run it works on; a run it no longer holds (cancelled through the API,
  or claimed by another worker after this one stalled) has its task cancelled at once;
- it puts back to `queued` every running run whose lease ran out, whoever held it: a worker killed
  with -9 leaves its runs to the next worker that looks (or to itself, restarted), which resumes them
  from what they persisted.

Stopping the worker (shutdown) cancels its tasks and queues their runs again without waiting for the
lease. A run that raises ends `failed` with the error and its traceback; its finished work is kept for
an explicit resume. With SQLite the server runs one worker inside itself; `dspy-ash worker` runs one
on its own, on any machine that reaches the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import traceback
import uuid
from typing import Any

from dspy_ash.actions import Services
from dspy_ash.jobs._work import RUN_FUNCTIONS, Lease
from dspy_ash.store import IllegalTransitionError, NotFoundError, repos

logger = logging.getLogger("dspy_ash.jobs")


class RunWorker:
    def __init__(
        self,
        services: Services,
        *,
        slots: int = 2,
        lease_seconds: float = 30.0,
        poll_seconds: float = 1.0,
        owner: str | None = None,
    ) -> None:
        self.services = services
        self.slots = slots
        self.lease_seconds = lease_seconds
        self.tick = min(poll_seconds, lease_seconds / 3)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.active: dict[uuid.UUID, tuple[Lease, asyncio.Task[None]]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        """Queue again the runs whose workers died, then work in the background."""
        await self._requeue_expired()
        self._loop_task = asyncio.create_task(self._loop(), name=f"run worker {self.owner}")

    def wake(self) -> None:
        """Look for queued runs now rather than at the next tick."""
        self._wake.set()

    async def stop(self) -> None:
        """Cancel the runs in progress and queue them again (their checkpoints keep what they did)."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for lease, task in list(self.active.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await self._move(lease, "queued", owner=lease.owner)
        self.active.clear()

    async def _loop(self) -> None:
        since_sweep = 0.0
        while True:
            try:
                await self._renew()
                since_sweep += self.tick
                if since_sweep >= self.lease_seconds / 2:
                    since_sweep = 0.0
                    await self._requeue_expired()
                await self._claim()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away for a moment: try again at the next tick
                logger.exception("run worker %s: a tick failed", self.owner)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.tick)
            self._wake.clear()

    async def _claim(self) -> None:
        free = self.slots - len(self.active)
        if free <= 0:
            return
        async with self.services.db.transaction() as session:
            candidates = await repos.runs.claimable(session, limit=free * 2)
        for kind, tenant_id, run_id in candidates:
            if len(self.active) >= self.slots:
                return
            lease = Lease(kind, tenant_id, run_id, self.owner)
            if not await self._move(lease, "running", owner=self.owner, lease_seconds=self.lease_seconds):
                continue  # another worker was first, or the run is gone
            task = asyncio.create_task(self._run(lease), name=f"{kind} run {run_id}")
            self.active[run_id] = (lease, task)

    async def _run(self, lease: Lease) -> None:
        try:
            await RUN_FUNCTIONS[lease.kind](self.services, lease)
        except asyncio.CancelledError:
            raise  # cancelled through the API, lost, or stopping: whoever cancelled set the state
        except Exception as exc:
            logger.warning("%s run %s failed: %s", lease.kind, lease.run_id, exc)
            error = f"{type(exc).__name__}: {exc}"[:4000]
            await self._move(
                lease, "failed", owner=lease.owner, error=error, traceback=traceback.format_exc()
            )
        finally:
            self.active.pop(lease.run_id, None)

    async def _renew(self) -> None:
        for lease, task in list(self.active.values()):
            async with self.services.db.transaction() as session:
                held = await repos.runs.renew_lease(
                    session,
                    kind=lease.kind,
                    run_id=lease.run_id,
                    owner=self.owner,
                    lease_seconds=self.lease_seconds,
                )
            if not held:
                logger.info("%s run %s is no longer this worker's: stopping it", lease.kind, lease.run_id)
                task.cancel()

    async def _requeue_expired(self) -> None:
        async with self.services.db.transaction() as session:
            expired = await repos.runs.expired_leases(session)
        for kind, tenant_id, run_id, owner in expired:
            logger.info("%s run %s: the lease of %s ran out; queued again", kind, run_id, owner)
            await self._move(Lease(kind, tenant_id, run_id, self.owner), "queued", owner=owner)

    async def _move(self, lease: Lease, to: str, *, owner: str | None, **values: Any) -> bool:
        """One transition of the run, made as this worker (`owner`: who claims it, or who must still hold
        it); False when another worker or the API moved the run first, which is no error here."""
        try:
            async with self.services.db.transaction(tenant_id=lease.tenant_id) as session:
                await repos.runs.transition(
                    session, tenant_id=lease.tenant_id, actor=lease.actor, kind=lease.kind,
                    run_id=lease.run_id, to=to, owner=owner, **values,
                )  # fmt: skip
        except (IllegalTransitionError, NotFoundError):
            return False
        return True
