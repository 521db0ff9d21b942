"""The guardrails of issue 17: ``ruff check dispatch_sim`` and ``mypy dispatch_sim`` pass (their settings are in
pyproject.toml). Each runs as its own process from the repository root and prints its findings on failure."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_passes():
    res = _run("ruff", "check", "--no-cache", "dispatch_sim")
    assert res.returncode == 0, f"ruff check dispatch_sim:\n{res.stdout}\n{res.stderr}"


def test_mypy_passes(tmp_path):
    # a fresh cache: every run checks from scratch (about 20 s), and no cache is left in the checkout
    res = _run("mypy", "--cache-dir", str(tmp_path / "mypy_cache"), "dispatch_sim")
    assert res.returncode == 0, f"mypy dispatch_sim:\n{res.stdout}\n{res.stderr}"
