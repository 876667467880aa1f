"""The dashboard in headless Chromium against a real server on 127.0.0.1: log in, open the programs, a
program (its chart over time) and a diff, run the playground against a fake LM server on 127.0.0.1, a
run whose progress the page picks up by itself, cancel it, open a dataset, compare two evaluation runs,
open a trace and the audit log. No console error, and every request the pages made went to 127.0.0.1.

Uses the system's Chromium (`apt-get install chromium`; playwright's own browser download cannot work
here). Without it the test is skipped, except under CI, where it fails. DSPY_ASH_SCREENSHOTS=<folder>
writes the main pages there as PNG (docs/screenshots/ is made so).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "integration" / "api"))
sys.path.insert(0, str(Path(__file__).parents[1] / "integration" / "store"))
from api_helpers import make_tenant
from dashboard_helpers import (
    PASSWORD,
    Compared,
    Seeded,
    add_member,
    seed_comparison,
    seed_program,
    seed_recent_traces,
    seed_served,
)
from ops_server import LiveServer, live_server
from store_helpers import fresh_database

from dspy_ash.actions import Services, ServiceSettings
from dspy_ash.api import create_app
from dspy_ash.store import Database, repos
from dspy_ash.store import _migrate as migrate
from dspy_ash.testing import FakeOpenAIServer

CHROMIUM = os.environ.get("DSPY_ASH_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip

if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
    if os.environ.get("CI"):
        raise RuntimeError(f"CI needs Chromium at {CHROMIUM} for the dashboard's browser test")
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

playwright_sync = pytest.importorskip("playwright.sync_api")


@dataclass(frozen=True)
class World:
    server: LiveServer
    url: str  # the database's
    tenant_id: uuid.UUID
    email: str
    seeded: Seeded
    compared: Compared
    served: uuid.UUID  # a program whose provider is the fake LM server
    lm: FakeOpenAIServer


async def _seed(url: str, api_base: str) -> tuple[uuid.UUID, str, Seeded, Compared, uuid.UUID]:
    await migrate.upgrade(url)
    db = Database(url)
    try:
        services = Services(db=db)
        tenant = await make_tenant(services)
        email = await add_member(services, tenant.tenant_id, "admin")
        seeded = await seed_program(services, tenant.tenant_id)
        compared = await seed_comparison(services, tenant.tenant_id, seeded)
        await seed_recent_traces(
            services, tenant.tenant_id, seeded.program_id, hours_ago=(0, 1, 1, 3, 4, 4, 4, 7)
        )
        served = await seed_served(services, tenant.tenant_id, api_base)
        return tenant.tenant_id, email, seeded, compared, served
    finally:
        await db.dispose()


async def _report(url: str, tenant_id: uuid.UUID, run_id: uuid.UUID, progress: float, message: str) -> None:
    db = Database(url)
    try:
        async with db.transaction(tenant_id=tenant_id) as s:
            await repos.runs.report_progress(s, tenant_id=tenant_id, kind="optimizer", run_id=run_id,
                                             progress=progress, message=message)  # fmt: skip
    finally:
        await db.dispose()


def in_thread(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to its end on a loop of its own (playwright's sync API holds this thread's)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result(timeout=30)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with fresh_database("sqlite", tmp_path) as url, FakeOpenAIServer() as lm:
        tenant_id, email, seeded, compared, served = asyncio.run(_seed(url, lm.api_base))
        # no worker: the seeded runs stay where the test puts them
        settings = ServiceSettings(database_url=url, secure_cookies=False, run_slots=0)
        with live_server(create_app(settings)) as server:
            yield World(server, url, tenant_id, email, seeded, compared, served, lm)


def test_a_person_uses_the_dashboard_in_chromium(world: World, tmp_path: Path) -> None:
    shots = Path(os.environ.get("DSPY_ASH_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    base = world.server.base_url
    seeded = world.seeded
    errors: list[str] = []
    requested: list[str] = []
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requested.append(r.url))
            page.on("dialog", lambda d: d.accept())  # the confirmation before a change

            page.goto(f"{base}/dashboard/programs")
            assert urlsplit(page.url).path == "/dashboard/login"
            page.screenshot(path=str(shots / "login.png"))
            page.fill("input[name=email]", world.email)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r"/dashboard/programs$"))
            assert page.locator("header .role").inner_text() == "admin"
            page.screenshot(path=str(shots / "programs.png"), full_page=True)

            page.click("text=multihop-qa")
            page.wait_for_url(re.compile(rf"/dashboard/programs/{seeded.program_id}$"))
            assert page.locator(".serving-badge").count() == 1
            page.wait_for_selector("svg.activity-chart", timeout=10_000)  # loaded by htmx after the page
            assert page.locator(".activity-total").inner_text() == "8"
            page.screenshot(path=str(shots / "program.png"), full_page=True)
            page.click("form.diff-form button")
            page.wait_for_url(re.compile(r"/diff\?"))
            assert page.locator("td.new pre", has_text="Answer in one word").count() == 1
            page.screenshot(path=str(shots / "diff.png"), full_page=True)

            page.goto(f"{base}/dashboard/programs/{world.served}")
            page.fill("textarea[name='input.question']", "Capital of France?")
            page.click(".playground-form button[type=submit]")
            page.wait_for_selector("#playground-result .output", timeout=15_000)
            assert "answer for Capital of France?" in page.locator("#playground-result").inner_text()
            assert page.locator("#playground-result .trace-link").count() == 1
            assert (
                len(world.lm.requests) == 1
                and urlsplit(page.url).path == f"/dashboard/programs/{world.served}"
            )
            page.locator("section.playground").screenshot(path=str(shots / "playground.png"))

            page.goto(f"{base}/dashboard/runs/optimizer/{seeded.optimizer_run_id}")
            assert "trial 4 of 10" in page.locator("#live").inner_text()
            with page.expect_request(re.compile(r"/live$"), timeout=10_000):
                pass  # htmx polls the fragment by itself
            report = (world.url, world.tenant_id, seeded.optimizer_run_id, 0.7, "trial 7 of 10")
            in_thread(_report(*report))  # as a worker would, while the page is open
            page.wait_for_selector("#live >> text=trial 7 of 10", timeout=10_000)
            assert page.locator("svg.chart polyline").count() == 1
            page.screenshot(path=str(shots / "run.png"), full_page=True)
            page.click("#live button.danger")  # Cancel (confirmed)
            page.wait_for_selector("#live .status-cancelled", timeout=10_000)
            assert page.locator("#live button", has_text="Resume").count() == 1

            page.click("header nav >> text=Datasets")
            page.click("text=capitals")
            page.wait_for_url(re.compile(rf"/dashboard/datasets/{world.compared.dataset_id}$"))
            assert page.locator("table.examples tbody tr").count() == 5
            export = page.locator("a.download").get_attribute("href")
            assert export == f"/dashboard/datasets/{world.compared.dataset_id}/export?format=jsonl"
            page.screenshot(path=str(shots / "datasets.png"), full_page=True)

            page.click("header nav >> text=Runs")
            for run_id in world.compared.runs:
                page.check(f"input[name=run_id][value='{run_id}']")
            page.click("form.compare-pick button[type=submit]")
            page.wait_for_url(re.compile(r"/dashboard/runs/compare\?"))
            assert page.locator(".differing-count").inner_text() == "1"
            assert world.compared.differing in page.locator("table.compare tr.differs").inner_text()
            page.screenshot(path=str(shots / "compare.png"), full_page=True)

            page.goto(f"{base}/dashboard/traces")
            page.click(f"table.traces a[href$='/traces/{seeded.trace_id}']")
            page.wait_for_url(re.compile(rf"/dashboard/traces/{seeded.trace_id}$"))
            spans = page.locator("li.span")
            assert spans.count() == 4
            spans.nth(2).locator("summary").click()  # the first LM call: its prompt and reply
            assert "Be brief." in spans.nth(2).inner_text()
            page.screenshot(path=str(shots / "trace.png"), full_page=True)

            page.click("header nav >> text=Audit log")
            page.wait_for_url(re.compile(r"/dashboard/admin/audit"))
            page.screenshot(path=str(shots / "audit.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert requested, "the pages made no request"
    strangers = [u for u in requested if urlsplit(u).hostname != "127.0.0.1"]
    assert strangers == []
