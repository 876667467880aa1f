"""DSPy's `dspy.clients.Cache` API over dspy-ash's tiers, compared with the real dspy 3.4.1 where both can run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, cast

import dspy.clients.cache as dspy_cache  # the oracle
import pydantic
import pytest

import dspy_ash
from dspy_ash.errors import ConfigurationError, InvalidInputTypeError, SavedStateError
from dspy_ash.lm import _cache as cache_module
from dspy_ash.lm._cache import Cache, configure_cache, get_cache
from dspy_ash.lm._request_cache import request_cache


@dataclasses.dataclass
class Reply:
    message: str
    usage: dict[str, Any]


@dataclasses.dataclass
class Unlisted:
    value: int


class Model(pydantic.BaseModel):
    name: str
    scores: tuple[int, ...]


REQUESTS: list[dict[str, Any]] = [
    {"prompt": "Hello", "model": "openai/gpt-4o-mini", "temperature": 0.7},
    {"messages": [{"role": "user", "content": "héllo"}], "n": 2, "nested": {"b": 1, "a": [1.5, None, True]}},
    {"data": Model(name="x", scores=(1, 2))},
    {"model_class": Model},
]


def _pair(tmp_path: Path, **options: Any) -> tuple[Cache, Any]:
    ours = Cache(True, True, str(tmp_path / "ash"), 1 << 20, 100, **options)
    theirs = dspy_cache.Cache(True, True, str(tmp_path / "dspy"), 1 << 20, 100, **options)
    return ours, theirs


@pytest.mark.parametrize("request_", REQUESTS)
def test_cache_key_is_dspy_s(request_: dict[str, Any], tmp_path: Path) -> None:
    ours, theirs = _pair(tmp_path)
    assert ours.cache_key(request_) == theirs.cache_key(request_)
    assert ours.cache_key(request_, ["model"]) == theirs.cache_key(request_, ["model"])


def test_values_round_trip_through_disk_like_dspy_s(tmp_path: Path) -> None:
    ours, theirs = _pair(tmp_path)
    values: list[Any] = [
        "text",
        {"k": [1, 2.5, None]},
        (1, "two"),
        {1: "non-string key"},
        b"\x00bytes",
        Model(name="m", scores=(3,)),
        Reply("hi", {"prompt_tokens": 3}),
    ]
    for i, value in enumerate(values):
        for cache in (ours, theirs):
            cache.put({"i": i}, value)
            cache.reset_memory_cache()  # the next get reads the disk tier
        got, expected = ours.get({"i": i}), theirs.get({"i": i})
        assert got == expected and type(got) is type(expected)
    assert ours.get({"i": 6}).usage == {} and ours.get({"i": 6}).cache_hit is True  # a hit spent nothing
    assert ours.cache_key({"i": 6}) in ours.memory_cache  # promoted back to memory by the get


def test_disk_entries_are_json_and_never_pickles(tmp_path: Path) -> None:
    cache = Cache(True, False, str(tmp_path), 1 << 20, 100)
    cache.put({"q": 1}, Reply("hi", {}))
    assert isinstance(cache.backend, cache_module.DiskCacheBackend)
    cache.backend.flush()
    (stored,) = list(tmp_path.glob("*/*.json"))
    record = json.loads(stored.read_text())
    assert record["value"]["dspy_value"]["class"].endswith(":Reply")


def test_restricted_mode_rebuilds_only_safe_types(tmp_path: Path) -> None:
    cache = Cache(True, True, str(tmp_path), 1 << 20, 100, restrict_pickle=True, safe_types=[Reply])
    cache.put({"a": 1}, Reply("ok", {}))
    cache.put({"b": 1}, Unlisted(1))
    assert cache.get({"b": 1}) == Unlisted(1)  # memory holds what this process put
    cache.reset_memory_cache()
    assert cache.get({"a": 1}) == Reply("ok", {})
    assert cache.get({"b": 1}) is None  # not a safe type: dropped, as DSPy's restricted unpickler does
    with pytest.raises(InvalidInputTypeError, match="safe_types entries must be types"):
        Cache(True, False, str(tmp_path), restrict_pickle=True, safe_types=["nope"])  # type: ignore[list-item]


def test_a_stored_class_is_never_imported(tmp_path: Path) -> None:
    cache = Cache(True, False, str(tmp_path), 1 << 20, 100)
    cache.put({"q": 1}, Reply("hi", {}))
    assert isinstance(cache.backend, cache_module.DiskCacheBackend)
    cache.backend.flush()
    (stored,) = list(tmp_path.glob("*/*.json"))
    record = json.loads(stored.read_text())
    record["value"]["dspy_value"]["class"] = "antigravity:Reply"  # importing it would open a browser
    stored.write_text(json.dumps(record))
    fresh = Cache(True, False, str(tmp_path), 1 << 20, 100)
    assert fresh.get({"q": 1}) is None
    import sys

    assert "antigravity" not in sys.modules


def test_constructor_errors_are_dspy_s(tmp_path: Path) -> None:
    for bad, message in ((-1, "must be a positive number, but received -1"), (None, "cannot be None")):
        with pytest.raises(ValueError, match=message) as ours:
            Cache(False, True, "", 0, bad)
        with pytest.raises(ValueError, match=message):
            dspy_cache.Cache(False, True, "", 0, bad)  # pyright: ignore[reportArgumentType] - None on purpose
        assert isinstance(ours.value, ConfigurationError)


def test_memory_file_is_json_and_needs_the_callers_word(tmp_path: Path) -> None:
    cache = Cache(False, True, None, 0, 100)
    cache.put({"q": 1}, "one")
    path = tmp_path / "memory.json"
    cache.save_memory_cache(path)
    json.loads(path.read_text())  # plain JSON
    fresh = Cache(False, True, None, 0, 100)
    with pytest.raises(ValueError, match="allow_pickle=True"):
        fresh.load_memory_cache(path)
    fresh.load_memory_cache(path, allow_pickle=True)
    assert fresh.get({"q": 1}) == "one"
    pickled = tmp_path / "dspy.pkl"
    theirs = dspy_cache.Cache(False, True, None, 0, 100)
    theirs.put({"q": 1}, "one")
    theirs.save_memory_cache(str(pickled))
    with pytest.raises(SavedStateError, match="never loaded"):
        fresh.load_memory_cache(pickled, allow_pickle=True)


def test_request_cache_uses_the_assigned_dspy_cache(tmp_path: Path) -> None:
    mine = Cache(False, True, None, 0, 100)
    calls: list[str] = []

    @request_cache(ignored_args_for_cache_key=["api_key"])
    def answer(prompt: str, api_key: str) -> str:
        calls.append(prompt)
        return prompt.upper()

    root = cast(Any, dspy_ash)
    root.cache = mine  # DSPy code assigns dspy.cache
    try:
        assert get_cache() is mine
        assert answer(prompt="hi", api_key="a") == "HI"
        assert answer(prompt="hi", api_key="b") == "HI"  # the key ignores api_key
        assert calls == ["hi"]
        key_request = {"prompt": "hi", "_fn_identifier": f"{answer.__module__}.{answer.__qualname__}"}
        assert mine.get(key_request) == "HI"
    finally:
        del root.cache
    assert get_cache() is not mine
    configure_cache(enable_disk_cache=False)
    assert get_cache() is not mine


@dataclasses.dataclass
class Fragile:
    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise RuntimeError("refuses negative values")


def test_a_damaged_or_hostile_entry_is_a_miss(tmp_path: Path) -> None:
    cache = Cache(True, False, str(tmp_path), 1 << 20, 100)
    cache.put({"q": 1}, Fragile(1))
    assert isinstance(cache.backend, cache_module.DiskCacheBackend)
    cache.backend.flush()
    (stored,) = list(tmp_path.glob("*/*.json"))
    original = stored.read_text()
    for forged in (
        {"$t": "dataclass", "class": f"{__name__}:Fragile", "fields": {"value": -1}},
        {"$t": "tuple"},
    ):
        record = json.loads(original)
        record["value"]["dspy_value"] = forged
        stored.write_text(json.dumps(record))
        assert Cache(True, False, str(tmp_path), 1 << 20, 100).get({"q": 1}) is None
        assert not stored.exists()  # dropped, as DSPy drops an entry it cannot read
