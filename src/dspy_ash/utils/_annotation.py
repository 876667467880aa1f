"""DSPy's `@experimental`: a note at the head of an API's docstring that it may change without warning."""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")


@overload
def experimental(f: T, version: str | None = None) -> T: ...
@overload
def experimental(f: None = None, version: str | None = None) -> Callable[[T], T]: ...
def experimental(f: Any = None, version: str | None = None) -> Any:
    """`@experimental` or `@experimental(version="3.1.0")` on a function, class, method or property."""
    if f is not None:
        return _mark(f, version)
    return lambda api: _mark(api, version)  # pyright: ignore[reportUnknownLambdaType]


def _mark(api: Any, version: str | None) -> Any:
    if inspect.isclass(api):
        kind = "class"
    elif inspect.isfunction(api):
        kind = "function"
    elif isinstance(api, property):
        kind = "property"
    elif isinstance(api, types.MethodType):
        kind = "method"
    else:
        kind = str(type(api))
    doc: str | None = api.__doc__
    since = f" (introduced in v{version})" if version else ""
    notice = (
        _last_line_indent(doc)
        + f"Experimental: This {kind} may change or be removed in a future release without warning{since}."
    )
    if kind == "property":  # a property's first docstring line is its summary: the note goes last
        api.__doc__ = f"{doc}\n\n{notice}" if doc else notice
    else:
        api.__doc__ = f"{notice}\n\n{doc}" if doc else notice
    return api


def _last_line_indent(doc: str | None) -> str:
    """The indent of a docstring's closing line (ruff D209 puts the closing quotes on their own line)."""
    if not doc or "\n" not in doc:
        return ""
    match = re.match(r"^\s*", doc.rsplit("\n", 1)[-1])
    return match.group() if match else ""
