"""Bounded call history and DSPy's `inspect_history` printout."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

GLOBAL_HISTORY: list[dict[str, Any]] = []


def append_bounded(history: list[dict[str, Any]], entry: dict[str, Any], limit: int) -> None:
    """Append, then trim the oldest entries in batches (amortised O(1)) so the list never exceeds `limit` by much."""
    history.append(entry)
    if len(history) > limit + max(16, limit // 16):
        del history[: len(history) - limit]
    elif limit <= 0:
        history.clear()


def _paint(code: str, text: str, use_colors: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if use_colors else text


def pretty_print_history(history: list[dict[str, Any]], n: int = 1, file: TextIO | None = None) -> None:
    out = file or sys.stdout
    colors = file is None
    for item in history[-n:]:
        messages = item.get("messages") or [{"role": "user", "content": item.get("prompt")}]
        print("\n\n\n", file=out)
        print(_paint("34", f"[{item.get('timestamp', 'Unknown time')}]", colors) + "\n", file=out)
        for msg in messages:
            print(_paint("31", f"{str(msg['role']).capitalize()} message:", colors) + "\n", file=out)
            content = msg.get("content")
            if isinstance(content, str):
                print(content.strip(), file=out)
            elif isinstance(content, list):
                for part in content:
                    if isinstance(part, dict) and part.get("type") == "text":
                        print(str(part.get("text", "")).strip(), file=out)
                    else:
                        print(
                            _paint(
                                "34",
                                f"<{part.get('type', 'part') if isinstance(part, dict) else 'part'}>",
                                colors,
                            ),
                            file=out,
                        )
            print("\n", file=out)
        print(_paint("31", "Response:", colors) + "\n", file=out)
        for i, output in enumerate(item.get("outputs") or []):
            text = output.get("text") if isinstance(output, dict) else output
            if i:
                print(
                    _paint("31", f"\n\n(and {len(item['outputs']) - 1} other completions)", colors), file=out
                )
                break
            print(_paint("32", str(text or "").lstrip(), colors), file=out)
            if isinstance(output, dict) and output.get("tool_calls"):
                print(_paint("31", "Tool calls:", colors), file=out)
                for call in output["tool_calls"]:
                    fn = call.get("function") or {}
                    args = fn.get("arguments", call.get("args"))
                    shown = (
                        json.dumps(args, ensure_ascii=False) if isinstance(args, dict | list) else str(args)
                    )
                    print(_paint("32", f"{fn.get('name') or call.get('name')}: {shown}", colors), file=out)
        print("\n\n\n", file=out)
