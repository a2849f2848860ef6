"""Waiting with a time limit without losing a cancellation.

``asyncio.wait_for`` on Python 3.11 swallows a cancellation that arrives when the awaited thing has
just finished (CPython gh-86296, fixed in 3.12 by building it on ``asyncio.timeout``): the lock is
handed over, or the event set, the task is cancelled before it resumes, and ``wait_for`` returns
normally. A task that was told to stop then goes on. That is how the alert stream's poller hung the
app's shutdown, and the test suite with it, once in a few dozen runs: on SQLite its read waits for
the write gate (``db.engine``), a request's commit handed the gate over in the same turn as the
lifespan cancelled the poller, and the poller went on polling while ``stop()`` awaited its end
(the watchdog in ``tests/watchdog.py`` showed it "cancelling" and waiting again).
``asyncio.timeout`` tells its own cancellation from anyone else's, so these never lose one."""

from __future__ import annotations

import asyncio


async def wait_at_most(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass; whether it is set."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def acquire_within(lock: asyncio.Lock, seconds: float) -> None:
    """Acquire ``lock``, or raise ``TimeoutError`` after ``seconds``. Cancelled as the lock is handed
    over, the task gives it to the next waiter and stops."""
    async with asyncio.timeout(seconds):
        await lock.acquire()
