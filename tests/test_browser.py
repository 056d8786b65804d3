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

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"


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
@pytest.mark.xfail(reason='issue 8 open: answer wording changed with the fitted model; selector to update', strict=False)
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
        page.get_by_text("[1] Technical Skills").first.wait_for(timeout=30_000)
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
    assert shutil.which("chromium")
