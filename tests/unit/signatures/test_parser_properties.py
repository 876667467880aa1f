"""Property tests: well-formed field lists parse back to the same names, types and order; any other text\nraises the typed error."""

from __future__ import annotations

import keyword
import sys
import types

from hypothesis import given, settings
from hypothesis import strategies as st

import dspy_ash as dspy
from dspy_ash.errors import SignatureError

TYPES = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "list[str]": list[str],
    "dict[str, int]": dict[str, int],
}
names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(lambda n: not keyword.iskeyword(n))


@settings(deadline=None)  # a loaded machine is slow; this is not a timing test
@given(
    st.lists(
        st.tuples(names, st.sampled_from(sorted(TYPES))), min_size=2, max_size=8, unique_by=lambda t: t[0]
    ),
    st.integers(min_value=1),
)
def test_generated_signatures_round_trip(fields, split_seed):
    split = 1 + split_seed % (len(fields) - 1)
    inputs, outputs = fields[:split], fields[split:]
    text = ", ".join(f"{n}: {t}" for n, t in inputs) + " -> " + ", ".join(f"{n}: {t}" for n, t in outputs)
    sig = dspy.Signature(text)
    assert list(sig.input_fields) == [n for n, _ in inputs]
    assert list(sig.output_fields) == [n for n, _ in outputs]
    for n, t in fields:
        assert sig.fields[n].annotation == TYPES[t]
    rebuilt = dspy.Signature.from_json(sig.to_json())
    assert rebuilt.equals(sig)
    assert [f.annotation for f in rebuilt.fields.values()] == [f.annotation for f in sig.fields.values()]


# Arbitrary text: the parser either builds a signature whose annotations are all types, or raises the
# typed error; it never crashes otherwise and never imports anything.
TOKENS = [
    "a",
    "b",
    "q",
    "int",
    "str",
    "None",
    "list",
    "dict",
    "tuple",
    "Optional",
    "Union",
    "Literal",
    "Annotated",
    "Callable",
    "typing",
    "typing.List",
    "os",
    "os.path",
    "Any",
    "Field(gt=0)",
    "Field(x)",
    "...",
    "5",
    "-1",
    "'x'",
    "'int'",
    '"a"',
    "b'x'",
    "True",
    "[",
    "]",
    "(",
    ")",
    ",",
    ":",
    "->",
    "|",
    ".",
    "=",
    "*",
    "**",
    "/",
    " ",
    "\n",
    "#",
    ";",
    "lambda",
    "pass",
    "def",
    "__import__('os')",
    "):",
    "1x",
]
token_strings = st.lists(st.sampled_from(TOKENS), max_size=24).map("".join)


def _is_type_form(annotation) -> bool:
    return isinstance(annotation, type | types.UnionType) or hasattr(annotation, "__origin__")


def _parse_or_typed_error(text: str) -> None:
    before = set(sys.modules)
    try:
        sig = dspy.Signature(text)
    except SignatureError:
        pass
    else:
        for name, field in sig.fields.items():
            assert _is_type_form(field.annotation), (name, field.annotation)
    assert set(sys.modules) == before


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_builds_or_raises_the_typed_error(text):
    _parse_or_typed_error(text)


@settings(max_examples=600, deadline=None)
@given(token_strings)
def test_token_soup_builds_or_raises_the_typed_error(text):
    _parse_or_typed_error(text)


@settings(max_examples=300, deadline=None)
@given(token_strings, token_strings)
def test_any_annotation_text_builds_a_type_or_raises_the_typed_error(annotation, name_side):
    _parse_or_typed_error(f"q -> answer: {annotation}")
    _parse_or_typed_error(f"{name_side} -> answer")
