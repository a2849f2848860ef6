"""Waiting for an asyncio event with a time limit, without losing a cancellation.

``asyncio.wait_for`` on Python 3.11 swallows a cancellation that arrives while the awaited thing has
just finished (CPython gh-86296, fixed in 3.12 by building it on ``asyncio.timeout``): the event is
set, the task is cancelled before it resumes, and ``wait_for`` returns normally. A loop around it
then goes on for ever, and whoever cancelled it and awaits its end waits for ever too. That is how
the alert stream's poller once hung the app's shutdown, and the test suite with it (the watchdog in
``tests/watchdog.py`` caught it: the poller "cancelling" inside ``wait_for``)."""

from __future__ import annotations

import asyncio


async def wait_at_most(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass; whether it is set. A cancellation always
    propagates."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
