"""Settings are one frozen, typed `Config`: configure() replaces it, context() overlays it, and DSPy's
ways of reading settings keep working."""

from __future__ import annotations

import dataclasses
import typing

import pytest

import dspy_ash as dspy
from dspy_ash.errors import UnknownSettingError
from dspy_ash.settings import SETTING_NAMES, Config


def test_configure_replaces_the_frozen_model_and_leaves_earlier_snapshots_alone() -> None:
    before = dspy.settings.values
    dspy.configure(num_threads=3, lm="an-lm")
    after = dspy.settings.values
    assert after is not before and (before.num_threads, before.lm) == (8, None)
    assert (after.num_threads, after.lm) == (3, "an-lm")
    with pytest.raises(dataclasses.FrozenInstanceError):
        after.num_threads = 4  # type: ignore[misc]


def test_every_setting_is_a_typed_field() -> None:
    hints = typing.get_type_hints(Config)
    assert set(hints) == set(SETTING_NAMES)
    assert hints["num_threads"] is int and hints["disable_history"] is bool
    assert hints["cache_namespace"] == (str | None)


def test_dspy_ways_of_reading_settings() -> None:
    dspy.configure(num_threads=5)
    with dspy.context(lm="ctx-lm"):
        s = dspy.settings
        assert (s.lm, s["lm"], s.get("lm"), s.config["lm"]) == ("ctx-lm",) * 4
        assert (s.num_threads, s["num_threads"], s.get("num_threads")) == (5, 5, 5)
        assert s.get("no_such_setting", "fallback") == "fallback"
        assert "lm" in s and "no_such_setting" not in s
        assert set(s.config) == set(SETTING_NAMES) and s.copy() == s.config
        with pytest.raises(AttributeError):
            _ = s.no_such_setting
        with pytest.raises(KeyError):
            _ = s["no_such_setting"]
    assert dspy.settings.lm is None


def test_a_context_overlay_sees_later_defaults_for_names_it_does_not_override() -> None:
    with dspy.context(lm="ctx-lm"):
        dspy.configure(num_threads=7)
        assert (dspy.settings.num_threads, dspy.settings.lm) == (7, "ctx-lm")


def test_attribute_assignment_configures_and_unknown_names_still_raise() -> None:
    dspy.settings.num_threads = 2
    assert dspy.settings.values.num_threads == 2
    with pytest.raises(UnknownSettingError, match="Did you mean 'num_threads'"):
        dspy.configure(num_thread=2)
    with pytest.raises(UnknownSettingError):
        dspy.settings.num_thread = 2
