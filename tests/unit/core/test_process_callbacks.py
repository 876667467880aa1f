"""Process-wide subscribers: a server's metrics and exporters, added from whichever thread starts it."""

from __future__ import annotations

import threading
from typing import Any

import dspy_ash
from dspy_ash.settings import add_process_callback, remove_process_callback, settings


def test_added_from_another_thread_without_owning_configure() -> None:
    seen: list[Any] = []
    dspy_ash.configure(track_usage=False)  # this thread owns configure() now

    def start_up() -> None:
        add_process_callback(seen.append)

    thread = threading.Thread(target=start_up)
    thread.start()
    thread.join()
    assert any(c == seen.append for c in settings.callbacks)
    dspy_ash.configure(track_usage=True)  # the owner still may, and keeps the subscriber
    assert len(settings.callbacks) == 1


def test_adding_twice_subscribes_once_and_removing_keeps_the_others() -> None:
    def first(event: Any) -> None: ...
    def second(event: Any) -> None: ...

    dspy_ash.configure(callbacks=[first])
    add_process_callback(second)
    add_process_callback(second)
    assert settings.callbacks == [first, second]
    remove_process_callback(second)
    remove_process_callback(second)  # not subscribed any more: nothing happens
    assert settings.callbacks == [first]


def test_a_context_override_of_callbacks_replaces_them_for_its_block() -> None:
    def process(event: Any) -> None: ...

    add_process_callback(process)
    with dspy_ash.context(callbacks=[]):
        assert settings.callbacks == []  # a block that sets its own callbacks does not see the process's
    assert settings.callbacks == [process]
