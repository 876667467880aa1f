"""Kill-and-resume fixtures: an LM that dies after N calls, and the QA task shared with the unit tests."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "unit" / "optimizers"))
