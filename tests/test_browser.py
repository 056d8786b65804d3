"""A real browser against the running app: ask a question, see a cited answer."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from coach.audit import AuditStore
from coach.evaluate import Conversation
from coach.review import record_conversation
from coach.staffauth import hash_password
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"
STAFF_PASSWORD = "browser-staff-pass-1"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(real_settings, real_coach, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "COACH_CORPUS": str(real_settings.corpus_dir),
        "COACH_INDEX": str(real_settings.index_dir),
        "COACH_AUDIT_DB": str(tmp_path / "audit.sqlite3"),
        "COACH_STAFF_PASSWORD_HASH": hash_password(STAFF_PASSWORD),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed (apt-get install chromium)")
def test_ask_in_a_real_browser(server):
    pytest.importorskip("playwright")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "chat-answer.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        page.goto(server, timeout=120_000)
        box = page.get_by_placeholder("Ask about the career guide")
        box.wait_for(timeout=180_000)
        box.fill("Which databases should I learn?")
        box.press("Enter")
        page.get_by_text("MySQL, Microsoft SQL Server").first.wait_for(timeout=120_000)
        page.get_by_text("Technical Skills").first.wait_for(timeout=30_000)  # the citation names its section
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
    assert shutil.which("chromium")


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed (apt-get install chromium)")
def test_staff_verdict_export_and_replay_in_a_real_browser(server, real_coach, tmp_path):
    pytest.importorskip("playwright")
    from playwright.sync_api import sync_playwright

    store = AuditStore(tmp_path / "audit.sqlite3")
    question = "Which databases should I learn?"
    [turn_id] = record_conversation(real_coach, store, Conversation(id="b", turns=[{"q": question}]))[1]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 1600}, accept_downloads=True)
        page.goto(server + "/staff", timeout=120_000)
        page.get_by_role("textbox", name="Your name").fill("Ana", timeout=180_000)
        page.get_by_role("textbox", name="Staff password").fill(STAFF_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_text("One turn in detail").wait_for(timeout=120_000)
        page.get_by_role("button", name="Save verdict").click()  # "Correct" is the first choice
        page.get_by_text("Verdict:").first.wait_for(timeout=60_000)
        page.get_by_text("Should have said “not covered”").first.click()
        page.get_by_role("button", name="Save verdict").click()
        page.get_by_text("changed 1×").first.wait_for(timeout=60_000)
        with page.expect_download(timeout=60_000) as download:
            page.get_by_role("button", name="Export CSV").click()
        exported = download.value.path().read_text(encoding="utf-8")
        page.get_by_role("tab", name="Replay").click()
        page.get_by_role("button", name="Replay reviewed turns").click()
        page.get_by_text("unchanged").first.wait_for(timeout=120_000)
        page.screenshot(path=str(ARTIFACTS / "staff-review.png"), full_page=True)
        browser.close()
    assert [v.verdict for v in store.verdict_history(turn_id)] == ["correct", "should-abstain"]
    assert exported.startswith("id,created_at") and question in exported and "should-abstain" in exported
