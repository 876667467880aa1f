"""DSPy's lifecycle notices on its types: the one `@experimental` puts at the head of a class's docstring,
and the warning its deprecated media factories give.

Citations and Document carry the experimental notice, and a class's docstring is the `description` of its
JSON schema, which the prompt shows for an output field of that type: the notice keeps those prompts DSPy's,
byte for byte.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T", bound=type)


def experimental(version: str) -> Callable[[T], T]:
    def mark(cls: T) -> T:
        doc = cls.__doc__ or ""
        # DSPy indents the notice like the docstring's closing line.
        last_line = doc.rsplit("\n", 1)[-1] if "\n" in doc else ""
        indent = last_line[: len(last_line) - len(last_line.lstrip())]
        notice = (
            f"{indent}Experimental: This class may change or be removed in a future release without warning "
            f"(introduced in v{version})."
        )
        cls.__doc__ = f"{notice}\n\n{doc}" if doc else notice
        return cls

    return mark


def warn_removed_in_3_4(old: str, new: str) -> None:
    """DSPy's DeprecationWarning for `old`, an alias it removes in 3.4, pointing at the caller of `old`."""
    warnings.warn(
        f"{old} is deprecated and will be removed in 3.4; use {new} instead.",
        DeprecationWarning,
        stacklevel=3,
    )
