"""Durable runs: compile and evaluate as jobs that survive a crash, are cancelled, and resume.

`RunWorker` (`_worker.py`) claims queued runs with a lease and runs them; the run functions
(`_work.py`) do the work and persist it as they go. The server runs a worker inside itself
(`ServiceSettings.run_slots`); `dspy-ash worker` runs one on its own.
"""

from dspy_ash.jobs._work import Lease, RunInputError, run_evaluation, run_optimizer
from dspy_ash.jobs._worker import RunWorker

__all__ = ["Lease", "RunInputError", "RunWorker", "run_evaluation", "run_optimizer"]
