"""Saving and loading program state in DSPy's JSON shape. Code is never pickled or unpickled."""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from dspy_ash.errors import SavedStateError, UnsupportedFeatureError

logger = logging.getLogger("dspy_ash.saving")

# The DSPy release whose JSON format these files follow; DSPy's loader compares it with its own.
DSPY_FORMAT_VERSION = "3.4.1"


def metadata() -> dict[str, Any]:
    from dspy_ash import __version__

    # DSPy's loader reads exactly these dependency keys (an unknown key there breaks it), so ours stands beside.
    return {
        "dependency_versions": {
            "python": f"{sys.version_info.major}.{sys.version_info.minor}",
            "dspy": DSPY_FORMAT_VERSION,
        },
        "dspy_ash_version": __version__,
    }


def save_state(module: Any, path: Path, *, save_program: bool = False) -> None:
    if save_program:
        raise UnsupportedFeatureError(
            "save_program=True pickles code; dspy-ash never does. Save the state with module.save('x.json') "
            "and rebuild the program from its class (or store it as a declarative program)."
        )
    if path.suffix == ".pkl":
        raise UnsupportedFeatureError("Saving to .pkl pickles objects; use a .json path.")
    if path.suffix != ".json":
        raise SavedStateError(f"`path` must end with `.json`, but received: {path}")
    state = module.dump_state(json_mode=True)
    state["metadata"] = metadata()
    text = json.dumps(state, indent=2, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)  # a crash mid-save leaves the previous file intact


def read_state(path: Path, *, allow_pickle: bool = False) -> dict[str, Any]:
    if path.suffix == ".pkl":
        raise UnsupportedFeatureError(
            "dspy-ash does not load pickles (they can run arbitrary code). Load the .json state instead."
        )
    if path.suffix != ".json":
        raise SavedStateError(f"`path` must end with `.json`, but received: {path}")
    state = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(state, dict):
        raise SavedStateError(f"{path} does not hold a saved program state (a JSON object).")
    saved = (state.get("metadata") or {}).get("dependency_versions") or {}
    if saved.get("python") and saved["python"] != f"{sys.version_info.major}.{sys.version_info.minor}":
        logger.warning(
            "The program was saved with Python %s; this is Python %d.%d.",
            saved["python"],
            sys.version_info.major,
            sys.version_info.minor,
        )
    return state


def load(path: str, allow_pickle: bool = False) -> Any:
    raise UnsupportedFeatureError(
        f"dspy.load({path!r}) unpickles a whole program; dspy-ash never unpickles code. Build the program's "
        "class and call program.load('state.json'), or keep it as a declarative program in the store."
    )
