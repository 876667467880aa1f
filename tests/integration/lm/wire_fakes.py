"""Shared values for the LM wire tests."""

from __future__ import annotations

API_KEY = "sk-test-SECRET-4f9c2a"


class Sleeps:
    """Backoff sleep that returns at once and records what it was asked to wait."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
