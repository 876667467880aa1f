"""Bounded call history and DSPy's `inspect_history` printout.

Every LM call is recorded, as in DSPy, into one process-wide list (`GLOBAL_HISTORY`, what
`dspy.inspect_history()` prints) unless it runs under `history_scope()`, which records the calls of one
context (a request, a tenant: the code inside the `with` and every task or worker thread it starts) into
a list of its own instead. `disable_global_history()` stops calls outside any scope from being recorded
process-wide, for servers where one caller must never see another's prompts.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

GLOBAL_HISTORY: list[dict[str, Any]] = []

_scope: ContextVar[list[dict[str, Any]] | None] = ContextVar("dspy_ash_history_scope", default=None)
_global_enabled = True


@contextmanager
def history_scope(history: list[dict[str, Any]] | None = None) -> Generator[list[dict[str, Any]]]:
    """Record the LM calls made in this context into `history` (a new list by default, yielded)
    instead of the global history; `dspy.inspect_history()` inside prints this list. Scopes nest."""
    target: list[dict[str, Any]] = [] if history is None else history
    token = _scope.set(target)
    try:
        yield target
    finally:
        _scope.reset(token)


def disable_global_history() -> None:
    """Stop recording calls made outside any `history_scope` into the process-wide history."""
    global _global_enabled
    _global_enabled = False


def enable_global_history() -> None:
    """Record calls made outside any `history_scope` into the process-wide history again (the default)."""
    global _global_enabled
    _global_enabled = True


def current_history() -> list[dict[str, Any]] | None:
    """Where a call made here is recorded: the innermost scope's list, else the global one (None if disabled)."""
    scoped = _scope.get()
    if scoped is not None:
        return scoped
    return GLOBAL_HISTORY if _global_enabled else None


# Up to this limit a history is trimmed to exactly `limit` entries on every append, as DSPy's is (moving
# at most this many pointers costs less than the call); a longer one (the global 10,000) is trimmed in
# batches so that an append stays amortised O(1), and may exceed its limit by a sixteenth until then.
_EXACT_LIMIT = 1024


def append_bounded(history: list[dict[str, Any]], entry: dict[str, Any], limit: int) -> None:
    """Append `entry`, then drop the oldest entries past `limit` (see `_EXACT_LIMIT`)."""
    history.append(entry)
    if limit <= 0:
        history.clear()
    elif len(history) > (limit if limit <= _EXACT_LIMIT else limit + limit // 16):
        del history[: len(history) - limit]


def _paint(code: str, text: str, use_colors: bool, end: str = "\n") -> str:
    """DSPy's colour helpers: the text (left-stripped for green), coloured, followed by `end`."""
    return (f"\x1b[{code}m{text}\x1b[0m" if use_colors else text) + end


def _tool_calls(calls: Any, out: TextIO, colors: bool) -> None:
    if calls:
        print(_paint("31", "Tool calls:", colors), file=out)
    for call in calls or []:
        fn = call.get("function") or {}
        args = fn.get("arguments")
        args = call.get("args", call.get("arguments", {})) if args is None else args
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                pass
        shown = json.dumps(args, ensure_ascii=False) if isinstance(args, dict | list) else str(args)
        name = fn.get("name") or call.get("name", "<unknown>")
        print(_paint("32", f"{name}: {shown}".lstrip(), colors), file=out)


def pretty_print_history(history: list[dict[str, Any]], n: int = 1, file: TextIO | None = None) -> None:
    """Print the last n calls the way DSPy's `inspect_history` does (no colours when writing to `file`)."""
    out = file or sys.stdout
    colors = file is None
    for item in history[-n:]:
        messages = item.get("messages") or [{"role": "user", "content": item.get("prompt")}]
        outputs = item.get("outputs") or [""]
        print("\n\n\n", file=out)
        print(_paint("34", f"[{item.get('timestamp', 'Unknown time')}]", colors), file=out)
        for msg in messages:
            print(_paint("31", f"{str(msg['role']).capitalize()} message:", colors), file=out)
            content = msg.get("content")
            if isinstance(content, str):
                print(content.strip(), file=out)
            elif isinstance(content, list):
                for part in content:
                    if isinstance(part, dict) and part.get("type") == "text":
                        print(str(part.get("text", "")).strip(), file=out)
                    else:
                        kind = part.get("type", "part") if isinstance(part, dict) else "part"
                        print(_paint("34", f"<{kind}>", colors), file=out)
            _tool_calls(msg.get("tool_calls"), out, colors)
            print("\n", file=out)
        first = outputs[0]
        if isinstance(first, dict):
            if first.get("text"):
                print(_paint("31", "Response:", colors), file=out)
                print(_paint("32", str(first["text"]).strip(), colors), file=out)
            _tool_calls(first.get("tool_calls"), out, colors)
        else:
            print(_paint("31", "Response:", colors), file=out)
            print(_paint("32", str(first).strip(), colors), file=out)
        if len(outputs) > 1:
            print(_paint("31", f" \t (and {len(outputs) - 1} other completions)", colors, end=""), file=out)
    print("\n\n\n", file=out)
