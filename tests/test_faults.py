"""The fault-injection script of issue 10 (benchmarks/faults.py) passes at small settings."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def test_fault_injection_script_passes_every_target_quickly(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    env.pop("COACH_AUDIT_URL", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "faults.py"), "--quick"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASS ") == 6 and "FAIL" not in done.stdout, done.stdout
