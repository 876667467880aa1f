"""`settings.save(path)` / `load_settings(path)`: the JSON settings file, what it refuses, and the
configure() ownership rule after loading."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

import dspy_ash as dspy
from dspy_ash.errors import ConfigureOwnershipError, SavedStateError, UnknownSettingError
from dspy_ash.settings import SETTING_NAMES, settings


def test_saved_settings_load_back_and_configure_the_same_values(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    dspy.configure(num_threads=3, max_errors=None, track_usage=True, cache_namespace="tenant-a")
    with dspy.context(provide_traceback=True):  # the effective settings are saved, as in DSPy
        dspy.settings.save(path)
        saved = dspy.settings.config

    loaded = dspy.load_settings(path)

    assert set(loaded) == set(SETTING_NAMES)
    assert loaded == saved
    assert loaded["caller_modules"] == () and isinstance(loaded["caller_modules"], tuple)  # not JSON's list
    settings.reset()
    dspy.configure(**loaded)
    assert dspy.settings.config == saved
    assert (dspy.settings.num_threads, dspy.settings.provide_traceback) == (3, True)


def test_exclude_keys_leaves_settings_out_and_a_misspelt_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    dspy.configure(lm=object(), num_threads=5)
    dspy.settings.save(path, exclude_keys=["lm"])
    loaded = dspy.load_settings(path)
    assert "lm" not in loaded and loaded["num_threads"] == 5
    with pytest.raises(UnknownSettingError, match=r"'lmm'.*Did you mean 'lm'"):
        dspy.settings.save(path, exclude_keys=["lmm"])


def test_a_setting_that_needs_pickling_is_refused_by_name_and_the_old_file_survives(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    dspy.settings.save(path)
    before = path.read_bytes()
    dspy.configure(lm=object(), callbacks=[object()], num_threads=2)

    with pytest.raises(SavedStateError) as caught:
        dspy.settings.save(path)

    message = str(caught.value)
    assert "callbacks (list), lm (object)" in message
    assert "exclude_keys=['callbacks', 'lm']" in message
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]  # no partial file left behind


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x80\x05\x95 a pickle", "is a pickle"),
        (b"{not json", "not JSON"),
        (b'{"num_threads": 4}', "not a settings file written by settings.save"),
        (b'{"format": "dspy-ash settings", "version": 99, "settings": {}}', "unknown version 99"),
    ],
)
def test_a_file_that_is_not_a_settings_file_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "s.pkl"
    path.write_bytes(content)
    with pytest.raises(SavedStateError, match=message):
        dspy.load_settings(path, allow_pickle=True)


def test_a_file_naming_an_unknown_setting_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    document = {"format": "dspy-ash settings", "version": 1, "settings": {"num_thread": 4}}
    path.write_text(json.dumps(document))
    with pytest.raises(UnknownSettingError, match="num_thread"):
        dspy.load_settings(path)


def test_loading_configures_nothing_and_configure_keeps_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    dspy.configure(num_threads=7)  # this thread owns the settings now
    dspy.settings.save(path)
    dspy.configure(num_threads=1)
    outcome: dict[str, Any] = {}

    def other_thread() -> None:
        loaded = dspy.load_settings(path)  # reading is fine from any thread
        outcome["loaded"] = loaded["num_threads"]
        with dspy.context(**loaded):
            outcome["in_context"] = dspy.settings.num_threads
        try:
            dspy.configure(**loaded)
        except ConfigureOwnershipError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()

    assert outcome["loaded"] == 7 and outcome["in_context"] == 7
    assert isinstance(outcome["error"], RuntimeError)
    assert dspy.settings.num_threads == 1  # neither the load nor the refused configure changed anything


@pytest.mark.oracle
def test_dspys_pickle_is_refused_and_our_file_has_every_setting_dspy_saves(tmp_path: Path) -> None:
    real = pytest.importorskip("dspy")
    cloudpickle = pytest.importorskip("cloudpickle")
    theirs = tmp_path / "dspy.pkl"
    real.settings.save(str(theirs))

    with pytest.raises(SavedStateError, match="never unpickles"):
        dspy.load_settings(theirs, allow_pickle=True)

    ours = tmp_path / "ours.json"
    dspy.settings.save(ours)
    dspy_keys = set(cloudpickle.loads(theirs.read_bytes()))  # DSPy's own file, written just above
    assert dspy_keys <= set(dspy.load_settings(ours))
    assert real.load_settings(str(theirs), allow_pickle=True).keys() == dspy_keys
