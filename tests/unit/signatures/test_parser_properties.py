"""Property tests: any well-formed field list parses back to the same names, types and order."""

from __future__ import annotations

import keyword

from hypothesis import given
from hypothesis import strategies as st

import dspy_ash as dspy

TYPES = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "list[str]": list[str],
    "dict[str, int]": dict[str, int],
}
names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(lambda n: not keyword.iskeyword(n))


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
