"""Optimizers (DSPy's teleprompters), natively async, with progress events and checkpoints.

Every optimizer takes DSPy's constructor and `compile` arguments and returns the program DSPy would
return for the same LM replies (demos with `augmented: True`, instructions, the same `dump_state`).
`compile(...)` is sync; `await optimizer.acompile(...)` is the native form. Work DSPy does one item
at a time (teacher runs, candidates, proposals, evaluation examples) runs concurrently here, but
outcomes are decided in DSPy's order, so concurrency never changes the result.

Progress: `progress` events (`trial_started`, `trial_finished`, `candidate`, `bootstrap_example`,
`step`) carry the scores, the best score so far and the LM calls and cost spent so far; `compile`
start/end events wrap each run. Subscribe with `dspy_ash.configure(callbacks=[...])`.

Checkpoints: pass `checkpoint=` (a `CheckpointStore`, or a directory path for the default
`DirectoryCheckpointStore`) and optionally `checkpoint_key=` to the constructor or to `compile`
(BootstrapFewShot, BootstrapFewShotWithRandomSearch, MIPROv2, COPRO, BootstrapFewShotWithOptuna, GEPA,
SIMBA, InferRules).
Finished work (each bootstrapped example, each proposal, each scored example of each evaluation) is
written as it completes, in the background and once more on the way out, also when the run fails or
is interrupted; a hard kill (SIGKILL) loses what finished after the last completed write began.
Restarted with the same checkpoint, a run replays its seeded random draws, answers finished work
from the checkpoint and spends LM calls only on the rest, ending with the same program.
Without `checkpoint_key` the key is the optimizer name plus a fingerprint of its parameters (the
metric by what it does: code, constants, defaults, closure values, object attributes), data (values and input keys), student
and teacher (state and signatures) and model name, so different runs never share a checkpoint; with
an explicit key a mismatch raises `CheckpointError`, and so does resuming when a part of the run has
no faithful fingerprint (a value without attributes whose repr is a memory address, such as a lock).
Finished checkpoints are kept (re-running returns at once); delete them with `store.delete(key)`.
"""

# Only public names at module level (no `from __future__ import annotations`, imports under private
# names), as in `dspy_ash/__init__.py`: the public names in `dir()` are exactly the exports.
from typing import TYPE_CHECKING as _TYPE_CHECKING

from dspy_ash._lazy import lazy_getattr as _lazy_getattr

_EXPORTS: dict[str, str] = {
    "BetterTogether": "dspy_ash.optimizers._finetune:BetterTogether",
    "BootstrapFewShot": "dspy_ash.optimizers._bootstrap:BootstrapFewShot",
    "BootstrapFewShotWithOptuna": "dspy_ash.optimizers._optuna_search:BootstrapFewShotWithOptuna",
    "BootstrapFewShotWithRandomSearch": "dspy_ash.optimizers._random_search:BootstrapFewShotWithRandomSearch",
    "BootstrapFinetune": "dspy_ash.optimizers._finetune:BootstrapFinetune",
    "BootstrapRS": "dspy_ash.optimizers._random_search:BootstrapFewShotWithRandomSearch",
    "COPRO": "dspy_ash.optimizers._copro:COPRO",
    "CheckpointStore": "dspy_ash.optimizers.checkpoint:CheckpointStore",
    "DirectoryCheckpointStore": "dspy_ash.optimizers._directory_store:DirectoryCheckpointStore",
    "Ensemble": "dspy_ash.optimizers._ensemble:Ensemble",
    "GEPA": "dspy_ash.optimizers.gepa._gepa:GEPA",
    "InferRules": "dspy_ash.optimizers._infer_rules:InferRules",
    "KNNFewShot": "dspy_ash.optimizers._knn_fewshot:KNNFewShot",
    "LabeledFewShot": "dspy_ash.optimizers._labeled_fewshot:LabeledFewShot",
    "MIPROv2": "dspy_ash.optimizers._mipro:MIPROv2",
    "MemoryCheckpointStore": "dspy_ash.optimizers._directory_store:MemoryCheckpointStore",
    "SIMBA": "dspy_ash.optimizers._simba:SIMBA",
    "Teleprompter": "dspy_ash.optimizers._teleprompter:Teleprompter",
    "bootstrap_trace_data": "dspy_ash.optimizers._bootstrap_trace:bootstrap_trace_data",
}

__all__ = sorted(_EXPORTS)  # pyright: ignore[reportUnsupportedDunderAll]

if _TYPE_CHECKING:  # what type checkers see; tests/unit/core/test_static_api.py keeps it equal to _EXPORTS
    from dspy_ash.optimizers._bootstrap import BootstrapFewShot as BootstrapFewShot
    from dspy_ash.optimizers._bootstrap_trace import bootstrap_trace_data as bootstrap_trace_data
    from dspy_ash.optimizers._copro import COPRO as COPRO
    from dspy_ash.optimizers._directory_store import DirectoryCheckpointStore as DirectoryCheckpointStore
    from dspy_ash.optimizers._directory_store import MemoryCheckpointStore as MemoryCheckpointStore
    from dspy_ash.optimizers._ensemble import Ensemble as Ensemble
    from dspy_ash.optimizers._finetune import BetterTogether as BetterTogether
    from dspy_ash.optimizers._finetune import BootstrapFinetune as BootstrapFinetune
    from dspy_ash.optimizers._infer_rules import InferRules as InferRules
    from dspy_ash.optimizers._knn_fewshot import KNNFewShot as KNNFewShot
    from dspy_ash.optimizers._labeled_fewshot import LabeledFewShot as LabeledFewShot
    from dspy_ash.optimizers._mipro import MIPROv2 as MIPROv2
    from dspy_ash.optimizers._optuna_search import BootstrapFewShotWithOptuna as BootstrapFewShotWithOptuna
    from dspy_ash.optimizers._random_search import (
        BootstrapFewShotWithRandomSearch as BootstrapFewShotWithRandomSearch,
    )
    from dspy_ash.optimizers._simba import SIMBA as SIMBA
    from dspy_ash.optimizers._teleprompter import Teleprompter as Teleprompter
    from dspy_ash.optimizers.checkpoint import CheckpointStore as CheckpointStore
    from dspy_ash.optimizers.gepa._gepa import GEPA as GEPA

    BootstrapRS = BootstrapFewShotWithRandomSearch  # an alias: `import X as Y` would not re-export Y


# Lazy: optimizers that need optuna, numpy or gepa import them only when used.
__getattr__ = _lazy_getattr(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
