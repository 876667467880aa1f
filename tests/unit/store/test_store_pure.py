"""The store's pure helpers: hashing, JSON conversion and redaction, dataset formats, diffs, percentiles, URLs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dspy_ash.primitives import Example, Prediction
from dspy_ash.store._datasets_io import detect_shape, from_gsm8k, parse_records, render_records
from dspy_ash.store._engine import resolve_url
from dspy_ash.store._hashing import combine, content_hash, state_hash
from dspy_ash.store._jsonable import REDACTED, redact, to_jsonable
from dspy_ash.store.repos.lm_requests import percentile
from dspy_ash.store.repos.runs import TERMINAL, TRANSITIONS
from dspy_ash.store.repos.versions import diff_states

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_content_hash_is_stable_under_key_order(value: object) -> None:
    if isinstance(value, dict):
        reordered = dict(reversed(list(value.items())))
        assert content_hash(value) == content_hash(reordered)
    assert len(content_hash(value)) == 64


def test_combine_depends_on_order_and_state_hash_ignores_metadata() -> None:
    assert combine(["a", "b"]) != combine(["b", "a"])
    base = {"qa.predict": {"demos": []}}
    assert state_hash({**base, "metadata": {"python": "3.11"}}) == state_hash(
        {**base, "metadata": {"python": "3.12"}}
    )
    assert state_hash(base) != state_hash({"qa.predict": {"demos": [{"q": 1}]}})


def test_to_jsonable_handles_engine_values() -> None:
    ident = uuid.uuid4()
    value = {
        "ex": Example(question="q", answer="a").with_inputs("question"),
        "pred": Prediction(answer="Paris"),
        "when": datetime(2026, 1, 1, tzinfo=UTC),
        "id": ident,
        "tuple": (1, 2),
        "obj": object(),
    }
    out = to_jsonable(value)
    assert out["ex"] == {"question": "q", "answer": "a"}
    assert out["pred"] == {"answer": "Paris"}
    assert out["when"] == "2026-01-01T00:00:00+00:00" and out["id"] == str(ident) and out["tuple"] == [1, 2]
    assert out["obj"].startswith("<object object")


def test_redact_hides_secret_looking_keys_at_any_depth() -> None:
    value = {
        "kwargs": {"api_key": "sk-1", "temperature": 0.1, "headers": {"Authorization": "Bearer x"}},
        "messages": [{"role": "user", "content": "hi", "x-api-key": "k"}],
        "client_secret": "s",
        "max_tokens": 5,
    }
    out = redact(value)
    assert out["kwargs"] == {"api_key": REDACTED, "temperature": 0.1, "headers": {"Authorization": REDACTED}}
    assert out["messages"][0] == {"role": "user", "content": "hi", "x-api-key": REDACTED}
    assert out["client_secret"] == REDACTED and out["max_tokens"] == 5


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
@given(
    records=st.lists(st.dictionaries(st.sampled_from(["q", "a", "b"]), json_values, min_size=1), max_size=5)
)
def test_json_formats_round_trip(fmt: str, records: list[dict[str, object]]) -> None:
    assert parse_records(render_records(records, fmt), fmt) == records  # type: ignore[arg-type]


def test_csv_writes_non_strings_as_json_and_reads_text() -> None:
    text = render_records([{"q": 'a, "quoted"', "n": 3, "tags": ["x"]}], "csv")
    assert parse_records(text, "csv") == [{"q": 'a, "quoted"', "n": "3", "tags": '["x"]'}]


def test_json_split_objects_become_records_with_splits() -> None:
    text = '{"train": [{"q": 1}], "test": [{"q": 2}]}'
    assert parse_records(text, "json") == [{"q": 1, "split": "train"}, {"q": 2, "split": "test"}]


def test_gsm8k_shape() -> None:
    raw = [{"question": "How many?", "answer": "3 + 4 = <<3+4=7>>7\n#### 1,007"}]
    assert detect_shape(raw) == "gsm8k"
    assert from_gsm8k(raw) == [{"question": "How many?", "reasoning": "3 + 4 = <<3+4=7>>7", "answer": "1007"}]
    assert detect_shape([{"question": "x", "answer": "y"}]) is None


def test_diff_states_reports_added_and_removed_predictors_and_lm_changes() -> None:
    old = {"a": {"demos": [], "signature": {"instructions": "x"}, "lm": None}, "gone": {"demos": []}}
    new = {
        "a": {"demos": [], "signature": {"instructions": "x"}, "lm": {"model": "m"}},
        "new": {"demos": []},
        "metadata": {},
    }
    assert diff_states(old, new) == {
        "a": {"lm": {"old": None, "new": {"model": "m"}}},
        "gone": {"removed": True},
        "new": {"added": True},
    }


def test_percentile_interpolates_like_percentile_cont() -> None:
    assert percentile([], 0.5) is None
    assert percentile([1.0], 0.99) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([float(i) for i in range(101)], 0.95) == 95.0


def test_state_machine_shape() -> None:
    assert TRANSITIONS["queued"] == {"running", "cancelled"}
    assert TRANSITIONS["running"] == {"succeeded", "failed", "cancelled", "queued"}  # queued: lease lost
    assert TRANSITIONS["succeeded"] == set()  # a result is final
    assert TRANSITIONS["failed"] == TRANSITIONS["cancelled"] == {"queued"}  # resumed
    assert all(TRANSITIONS[s] <= {"queued"} for s in TERMINAL)


def test_database_url_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("DSPY_ASH_HOME", "/srv/ash")
    monkeypatch.delenv("DSPY_ASH_DATABASE_URL", raising=False)
    assert resolve_url() == "sqlite+aiosqlite:////srv/ash/dspy-ash.db"
    monkeypatch.setenv("DSPY_ASH_DATABASE_URL", "postgresql://u:pw@db/ash")
    assert resolve_url() == "postgresql+psycopg://u:pw@db/ash"
    assert resolve_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"


def test_encode_makes_strict_json_of_anything() -> None:
    import json

    from dspy_ash.store._jsonable import encode

    looped: list[object] = []
    looped.append(looped)
    value = {"pred": Prediction(answer="Paris"), "score": float("nan"), "inf": [float("inf")], 1: "int key"}
    assert json.loads(encode(value).text) == {
        "pred": {"answer": "Paris"},
        "score": None,
        "inf": [None],
        "1": "int key",
    }
    assert json.loads(encode({"ünï": "✓"}).text) == {"ünï": "✓"}
    assert json.loads(encode(looped).text)[0][0][0]  # a cycle becomes a bounded nesting, not an error
    assert encode({(1, 2): "tuple key"}).text == '{"(1, 2)": "tuple key"}'


@pytest.mark.parametrize("module_name", ["dspy_ash.store", "dspy_ash.store.models", "dspy_ash.store.repos"])
def test_public_names_resolve(module_name: str) -> None:
    """Order is ruff's business (RUF022); here: every listed name exists, once."""
    import importlib

    module = importlib.import_module(module_name)
    assert len(set(module.__all__)) == len(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)


# -- the provider environment allow-list ---------------------------------------------------------------


def test_provider_env_allow_reads_names_and_prefixes(monkeypatch: pytest.MonkeyPatch) -> None:
    from dspy_ash.settings import provider_env_allow

    monkeypatch.setenv("DSPY_ASH_PROVIDER_ENV_ALLOW", " ACME_KEY, LLM_* ,,")
    assert provider_env_allow() == ("ACME_KEY", "LLM_*")
    monkeypatch.setenv("DSPY_ASH_PROVIDER_ENV_ALLOW", "")
    assert provider_env_allow() == ()  # set but empty: no environment references at all
    monkeypatch.delenv("DSPY_ASH_PROVIDER_ENV_ALLOW")
    assert "OPENAI_API_KEY" in provider_env_allow() and "DSPY_ASH_PROVIDER_KEY_*" in provider_env_allow()


def test_the_default_allow_list_covers_every_registered_provider_key() -> None:
    from dspy_ash.lm._registry import PROVIDERS
    from dspy_ash.settings import DEFAULT_PROVIDER_ENV_ALLOW

    assert {spec.key_env for spec in PROVIDERS.values() if spec.key_env} <= set(DEFAULT_PROVIDER_ENV_ALLOW)


@pytest.mark.parametrize(
    ("allow", "name", "allowed"),
    [
        (["OPENAI_API_KEY"], "OPENAI_API_KEY", True),
        (["OPENAI_API_KEY"], "OPENAI_API_KEY_2", False),
        (["OPENAI_API_KEY"], "openai_api_key", False),
        (["ACME_*"], "ACME_X", True),
        (["ACME_*"], "ACME_", True),
        (["ACME_*"], "XACME_X", False),
        (["*"], "HOME", True),
        ([], "OPENAI_API_KEY", False),
        (["*"], "DSPY_ASH_SECRET_KEY", False),
        (["DSPY_ASH_*"], "DSPY_ASH_DATABASE_URL", False),
        (["DSPY_ASH_SECRET_KEY"], "DSPY_ASH_SECRET_KEY", False),
        (["*"], "Dspy_Ash_Secret_Key", False),  # Windows reads variables case-insensitively
        (["DSPY_ASH_PROVIDER_KEY_*"], "DSPY_ASH_PROVIDER_KEY_OPENAI", True),
        (["*"], "", False),
        (["A B"], "A B", False),  # not a variable name
    ],
)
def test_env_allow_list_matching(allow: list[str], name: str, allowed: bool) -> None:
    from dspy_ash.store._env_allow import EnvAllowList
    from dspy_ash.store._errors import EnvNotAllowedError

    rule = EnvAllowList(allow)
    assert rule.allows(name) is allowed
    if allowed:
        rule.check(name)
    else:
        with pytest.raises(EnvNotAllowedError, match="DSPY_ASH_PROVIDER_ENV_ALLOW"):
            rule.check(name)


# -- metric definitions ---------------------------------------------------------------------------------


def test_builtin_metric_names_are_metrics_dspy_ash_evaluate_has() -> None:
    """The store cannot import the engine's evaluate; this keeps its list of built-in metrics true."""
    import dspy_ash.evaluate as evaluate
    from dspy_ash.store.repos.metrics import BUILTIN_METRICS

    assert BUILTIN_METRICS
    for name, attr in BUILTIN_METRICS.items():
        assert attr in evaluate.__all__ and callable(getattr(evaluate, attr)), name
