"""Make the shared helpers in `opt_fixtures.py` importable from this directory's tests."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
