"""`CheckpointedTeleprompter`: the skeleton every checkpointed optimizer run follows, written once.

A run fingerprints what it depends on, opens (or resumes) its checkpoint under that fingerprint,
does its work writing finished results into the session, and flushes the state on the way out,
also when the run fails or is interrupted, so finished work is kept. Subclasses name their `kind`
and wrap their `acompile` body in `async with self.checkpoint_session(...) as session:`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from dspy_ash.optimizers._teleprompter import Teleprompter
from dspy_ash.optimizers.checkpoint import Checkpoint
from dspy_ash.optimizers.checkpoint._fingerprint import fingerprint, program_fingerprint
from dspy_ash.optimizers.checkpoint._session import CheckpointSession


class CheckpointedTeleprompter(Teleprompter):
    kind: ClassVar[str]  # the run's name in the checkpoint and in its default key

    def __init__(self, checkpoint: Checkpoint = None, checkpoint_key: str | None = None) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.checkpoint_key = checkpoint_key

    @asynccontextmanager
    async def checkpoint_session(
        self, checkpoint: Checkpoint, checkpoint_key: str | None, *parts: Any
    ) -> AsyncGenerator[CheckpointSession]:
        """The run's session: `compile`'s `checkpoint` / `checkpoint_key` win over the constructor's;
        `parts` (parameters, data, programs) make the fingerprint the checkpoint must match."""
        session = await CheckpointSession.open(
            checkpoint or self.checkpoint,
            checkpoint_key or self.checkpoint_key,
            self.kind,
            fingerprint(self.kind, *parts),
        )
        try:
            yield session
        finally:
            await session.flush()


def programs_fingerprint(student: Any, teacher: Any) -> tuple[Any, Any]:
    """The student's and the (optional) teacher's fingerprints, the last parts of most runs'."""
    return program_fingerprint(student), program_fingerprint(teacher) if teacher is not None else None
