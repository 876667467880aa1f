"""`dspy-ash demo` as a new user runs it: a separate process on a fresh directory, no LM configured, so
the offline stand-in; the printed key answers `POST /answer`; the runs it queued finish and the compiled
version serves; every response and log line says the LM is a stand-in; run again, nothing loads twice."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

import dspy_ash
from dspy_ash.testing.standins import STAND_IN_NOTICE

SRC = Path(dspy_ash.__file__).parents[1]
KEY = re.compile(r"dak_[A-Za-z0-9_-]{20,}")
BASE = re.compile(r"server\s+(http://127\.0\.0\.1:\d+)")
QUESTION = {"question": "Which magazine was started first, Arthur's Magazine or First for Women?"}


class Demo:
    """The demo process, its stdout read line by line on a thread."""

    def __init__(self, data_dir: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
        for name in ("DSPY_ASH_DEMO_MODEL", "DSPY_ASH_DEMO_API_BASE", "DSPY_ASH_DATABASE_URL"):
            env.pop(name, None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dspy_ash.cli", "demo", "--data-dir", str(data_dir), "--port", "0",
             "--log-level", "info"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        self.out: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, pattern: re.Pattern[str] | str, timeout: float) -> re.Match[str]:
        compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.out:
                if found := compiled.search(line):
                    return found
            try:
                self.out.append(self.lines.get(timeout=0.5))
            except queue.Empty:
                assert self.process.poll() is None, f"the demo exited: {''.join(self.out)}"
        raise AssertionError(f"{compiled.pattern!r} not printed in {timeout} s: {''.join(self.out)}")

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGINT)
        _, stderr = self.process.communicate(timeout=60)
        return self.process.returncode, stderr


def _get(base: str, path: str, key: str, **params: Any) -> Any:
    response = httpx.get(f"{base}/api/v1{path}", params=params, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return response.json()


def test_the_demo_serves_the_worked_example_from_nothing(tmp_path: Path) -> None:
    demo = Demo(tmp_path / "demo")
    try:
        key = demo.wait_for(KEY, 120).group(0)
        base = demo.wait_for(BASE, 5).group(1)
        auth = {"Authorization": f"Bearer {key}"}
        assert any("No LM configured" in line for line in demo.out)

        assert httpx.post(f"{base}/answer", json=QUESTION).status_code == 401
        first = httpx.post(f"{base}/answer", json=QUESTION, headers=auth, timeout=60)
        assert first.status_code == 200, first.text
        assert first.headers["x-lm-stand-in"] == STAND_IN_NOTICE
        body = first.json()
        assert body["answer"] and body["reasoning"] and body["lm_notice"] == STAND_IN_NOTICE
        assert 0.0 <= body["confidence"] <= 1.0

        demo.wait_for(r"evaluation after BootstrapFewShot: \d+ of 33 correct", 240)
        (compiled,) = _get(base, "/optimizer-runs", key)["items"]
        assert compiled["status"] == "succeeded" and compiled["result_version_id"]
        evaluations = _get(base, "/evaluation-runs", key)["items"]
        assert [e["status"] for e in evaluations] == ["succeeded", "succeeded"]
        assert {e["version_id"] for e in evaluations} == {None, compiled["result_version_id"]}
        after = httpx.post(f"{base}/answer", json=QUESTION, headers=auth, timeout=60).json()
        assert after["version_number"] == 1  # the compiled version serves now
        trace = httpx.get(f"{base}/api/v1/traces/{after['trace_id']}", headers=auth)
        for _ in range(100):  # the recorder writes traces in the background, soon after the answer
            if trace.status_code != 404:
                break
            time.sleep(0.1)
            trace = httpx.get(f"{base}/api/v1/traces/{after['trace_id']}", headers=auth)
        assert trace.status_code == 200, trace.text
        assert trace.json()["id"] == after["trace_id"]

        remote = {**os.environ, "PYTHONPATH": str(SRC), "DSPY_ASH_API_KEY": key, "COLUMNS": "200"}
        listed = subprocess.run(
            [sys.executable, "-m", "dspy_ash.cli", "programs", "versions", after["program_id"], "--server", base,
             "--json"],
            env=remote, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert listed.returncode == 0, listed.stderr
        assert [v["number"] for v in json.loads(listed.stdout)["items"]] == [1]
        shown = subprocess.run(
            [sys.executable, "-m", "dspy_ash.cli", "traces", "show", after["trace_id"], "--server", base],
            env=remote, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert shown.returncode == 0 and "[ok] DeclarativeProgram" in shown.stdout
        assert shown.stdout.count("lm  ") == 3  # two search queries and the answer
    finally:
        code, stderr = demo.stop()
    assert code == 0, stderr
    logged = [line for line in stderr.splitlines() if line.strip()]
    assert logged and all(STAND_IN_NOTICE in line for line in logged if re.match(r"\d{4}-", line))
    assert key not in stderr

    again = Demo(tmp_path / "demo")
    try:
        second_key = again.wait_for(KEY, 120).group(0)
        base = again.wait_for(BASE, 5).group(1)
        assert second_key != key  # a new key each run; only its hash is stored
        assert any("loaded already" in line for line in again.out)
        programs = _get(base, "/programs", second_key)["items"]
        assert [p["name"] for p in programs] == ["simplified-baleen"]
        assert len(_get(base, "/datasets", second_key)["items"]) == 1
        assert len(_get(base, "/optimizer-runs", second_key)["items"]) == 1
    finally:
        code, _ = again.stop()
    assert code == 0
