"""DSPy's logging switches: dspy-ash logs under the `dspy_ash` logger."""

from __future__ import annotations

import logging

_logger = logging.getLogger("dspy_ash")


def enable_logging() -> None:
    _logger.disabled = False


def disable_logging() -> None:
    _logger.disabled = True
