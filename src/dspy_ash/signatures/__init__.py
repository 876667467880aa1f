"""Signatures: typed task specifications, as DSPy writes them."""

from dspy_ash.signatures._field import InputField, OutputField
from dspy_ash.signatures._signature import (
    Signature,
    SignatureMeta,
    ensure_signature,
    infer_prefix,
    make_signature,
)

__all__ = [
    "InputField",
    "OutputField",
    "Signature",
    "SignatureMeta",
    "ensure_signature",
    "infer_prefix",
    "make_signature",
]
