"""The watchdog (``tests/watchdog.py``) ends a hung run with the stacks of what waits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

HANGING = """
import asyncio


async def test_waits_for_an_event_nobody_sets() -> None:
    async def stuck_on_purpose() -> None:
        await asyncio.Event().wait()

    await asyncio.gather(stuck_on_purpose())
"""


def test_a_hung_test_ends_the_run_with_its_task_stacks(tmp_path: Path) -> None:
    (tmp_path / "test_hanging.py").write_text(HANGING)
    env = {**os.environ, "AFTERCARE_TEST_DEADLINE_SECONDS": "2", "PYTHONPATH": str(REPO)}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.watchdog",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=auto",
            # As pyproject.toml sets them: every test and fixture on one loop.
            "-o",
            "asyncio_default_fixture_loop_scope=session",
            "-o",
            "asyncio_default_test_loop_scope=session",
            "--rootdir",
            str(tmp_path),
            str(tmp_path / "test_hanging.py"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 3, run.stdout + run.stderr
    assert "WATCHDOG: test_hanging.py::test_waits_for_an_event_nobody_sets has run for 2 s" in run.stderr
    assert "in stuck_on_purpose" in run.stderr, run.stderr  # the asyncio task that waits, not only the loop
