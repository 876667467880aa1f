"""The README's main job and the GSM8K example run end to end, offline, as a user would run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_quickstart_runs_offline_and_stores_the_compiled_version(tmp_path):
    out_file = tmp_path / "program.json"
    db = f"sqlite+aiosqlite:///{tmp_path}/store.db"
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "quickstart.py"),
            "--out",
            str(out_file),
            "--database-url",
            db,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "exact match on dev:" in run.stdout
    assert "loaded back into a fresh program" in run.stdout
    assert "the compiled program is version 1" in run.stdout
    assert out_file.exists() and '"answer.predict"' in out_file.read_text()


def test_gsm8k_example_runs_offline(tmp_path):
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "gsm8k.py"), "--train", "10", "--dev", "20"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "zero-shot ChainOfThought: 60.0%" in run.stdout
    assert "score change:" in run.stdout
