"""Time from `make run` to the first answer on screen, in a real browser.

    .venv/bin/python benchmarks/first_answer.py [--cold]

Starts `make run` on a free localhost port (with --cold, on a copy of the
corpus with no index, so it is built first), opens the page in Debian's
chromium, asks one question and prints the seconds until the cited answer is
visible. Needs /usr/bin/chromium and the playwright package.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Which databases should I learn?"
EXPECT = "MySQL, Microsoft SQL Server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="start with no index (the app builds it)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {**os.environ, "COACH_AUDIT_DB": str(Path(tempfile.mkdtemp()) / "audit.sqlite3")}
    if args.cold:
        tmp = Path(tempfile.mkdtemp())
        shutil.copytree(ROOT / "corpus", tmp / "corpus")
        env.update(COACH_CORPUS=str(tmp / "corpus"), COACH_INDEX=str(tmp / "index"))
    started = time.perf_counter()
    # `make run` builds a missing index (python -m coach build-index --if-needed),
    # then starts the app.
    cmd = ["make", "-s", "run", f"PORT={port}"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
            )
            page = browser.new_page()
            for _ in range(600):
                try:
                    page.goto(f"http://127.0.0.1:{port}", timeout=2000)
                    break
                except Exception:  # server not up yet
                    time.sleep(0.2)
            box = page.get_by_placeholder("Ask about the career guide")
            box.wait_for(timeout=300_000)
            ready = time.perf_counter() - started
            box.fill(QUESTION)
            box.press("Enter")
            page.get_by_text(EXPECT).first.wait_for(timeout=120_000)
            answered = time.perf_counter() - started
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    kind = "cold index (built by make run first)" if args.cold else "built index"
    print(f"{kind}: chat ready after {ready:.1f} s, first answer visible after {answered:.1f} s")


if __name__ == "__main__":
    main()
