"""A test that hangs ends the run at once, with every thread's and every asyncio task's stack.

Without it a hang is silent: CI's own limit kills the run an hour later, and all it shows is the
dots of the tests that passed. The tests share one event loop (``asyncio_default_test_loop_scope``),
so a hung test cannot be failed alone and the rest run on: a task it left waiting would hold that loop's
locks. So the watchdog writes what is waiting on what, then exits the process with status 3.

``AFTERCARE_TEST_DEADLINE_SECONDS`` sets the limit (default 600 s, several times the slowest test).
"""

from __future__ import annotations

import asyncio
import faulthandler
import os
import sys
import threading
from collections.abc import Iterator

import pytest

DEADLINE_SECONDS = float(os.environ.get("AFTERCARE_TEST_DEADLINE_SECONDS", "600"))
_loops: list[asyncio.AbstractEventLoop] = []


@pytest.fixture(scope="session", autouse=True)
async def _remember_the_loop() -> None:
    """The loop the tests share, read by the watchdog's thread if a test hangs."""
    _loops.append(asyncio.get_running_loop())


def _report_hang(config: pytest.Config, nodeid: str) -> None:
    # pytest captures file descriptor 2 during a test: give it back first, or this goes nowhere.
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.suspend_global_capture(in_=True)
    out = sys.__stderr__
    assert out is not None
    out.write(
        f"\n\nWATCHDOG: {nodeid} has run for {DEADLINE_SECONDS:.0f} s; the stacks follow, then the run ends\n"
    )
    faulthandler.dump_traceback(file=out, all_threads=True)
    for loop in _loops:
        # Read from another thread while the loop may move on: good enough to see what waits.
        for task in list(asyncio.all_tasks(loop)):
            out.write(f"\n-- task {task.get_name()}: {task!r}\n")
            task.print_stack(file=out)
    out.flush()
    os._exit(3)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    timer = threading.Timer(DEADLINE_SECONDS, _report_hang, args=(item.config, item.nodeid))
    timer.daemon = True
    timer.start()
    try:
        return (yield)
    finally:
        timer.cancel()
