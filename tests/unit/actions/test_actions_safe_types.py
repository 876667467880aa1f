"""Signature text from callers: only whitelisted types, never a lookup, and the engine's reading of it."""

from __future__ import annotations

import builtins
import typing
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dspy_ash import Signature
from dspy_ash.actions._safe_types import UnsafeTypeError, parse_fields, resolve_type

_LEAF = st.sampled_from(["str", "int", "float", "bool", "Any"])


def _types(depth: int = 3) -> st.SearchStrategy[str]:
    if depth == 0:
        return _LEAF
    inner = _types(depth - 1)
    return st.one_of(
        _LEAF,
        inner.map(lambda t: f"list[{t}]"),
        inner.map(lambda t: f"Optional[{t}]"),
        st.tuples(_LEAF, inner).map(lambda kv: f"dict[{kv[0]}, {kv[1]}]"),
        st.tuples(inner, inner).map(lambda ab: f"{ab[0]} | {ab[1]}"),
        st.lists(st.sampled_from(["'a'", "1", "-2", "True", "None"]), min_size=1, max_size=3).map(
            lambda vs: f"Literal[{', '.join(vs)}]"
        ),
    )


_NAMES = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True).filter(
    lambda n: n not in {"if", "in", "is", "or", "as"}
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_NAMES, _types()), min_size=2, max_size=5, unique_by=lambda f: f[0]))
def test_whitelisted_signatures_read_as_the_engine_reads_them(fields: list[tuple[str, str]]) -> None:
    text = f"{', '.join(f'{n}: {t}' for n, t in fields[:-1])} -> {fields[-1][0]}: {fields[-1][1]}"
    inputs, outputs = parse_fields(text)
    assert [*inputs, *outputs] == fields
    engine = Signature(text)
    mine = [resolve_type(t) for _, t in fields]
    assert [f.annotation for f in engine.fields.values()] == mine


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_is_read_or_refused_cleanly(text: str) -> None:
    try:
        inputs, outputs = parse_fields(text)
    except UnsafeTypeError:
        return
    assert inputs and outputs


@pytest.mark.parametrize(
    "annotation",
    ["__import__('os')", "os.path", "typing.Any", "type", "object", "list['int']", "Annotated[int, 1]",
     "Callable[[], int]", "Literal[str]", "dict[str]", "list[int, int]", "[int]", "int()", "print"],
)  # fmt: skip
def test_refused_types(annotation: str) -> None:
    with pytest.raises(UnsafeTypeError):
        resolve_type(annotation)


def test_no_name_is_looked_up_or_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    imported: list[str] = []
    real = builtins.__import__

    def spy(name: str, *args: Any, **kwargs: Any) -> Any:
        imported.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", spy)
    for text in ["a: __import__('never_imported_module') -> b", "a: never_imported_module.X -> b"]:
        with pytest.raises(UnsafeTypeError):
            parse_fields(text)
    assert "never_imported_module" not in imported


def test_accepted_forms() -> None:
    assert resolve_type("Optional[list[int]]") == typing.Optional[list[int]]  # noqa: UP045
    assert resolve_type("tuple[int, ...]") == tuple[int, ...]
    assert resolve_type("Literal['a', -1, None]") == typing.Literal["a", -1, None]
    assert resolve_type("int | None") == typing.Optional[int]  # noqa: UP045
    with pytest.raises(UnsafeTypeError, match="nest"):
        resolve_type("list[" * 12 + "int" + "]" * 12)


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "-" * 990 + "1 -> b",
        "a: " + "-" * 4990 + "1 -> b",
        "a: x" + ".x" * 490 + " -> b",
        "a: " + "+".join(["1"] * 490) + " -> b",
        "a: " + "f(" * 300 + ")" * 300 + " -> b",
        "a: " + "(" * 2400 + " -> b",
    ],
)
def test_hostile_nesting_is_refused_not_crashed_on(text: str) -> None:
    with pytest.raises(UnsafeTypeError):
        parse_fields(text)
