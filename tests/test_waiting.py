"""``waiting.wait_at_most``: a time-limited wait that never loses a cancellation (Python 3.11's
``asyncio.wait_for`` does, and a loop around it then cannot be stopped)."""

from __future__ import annotations

import asyncio

import pytest

from aftercare.waiting import wait_at_most


async def test_it_says_whether_the_event_was_set() -> None:
    event = asyncio.Event()
    assert await wait_at_most(event, 0.01) is False
    event.set()
    assert await wait_at_most(event, 60) is True


async def test_a_cancellation_that_arrives_as_the_event_is_set_is_not_lost() -> None:
    event = asyncio.Event()
    waiter = asyncio.create_task(wait_at_most(event, 60))
    await asyncio.sleep(0)  # the waiter is waiting
    event.set()
    waiter.cancel()  # before the waiter resumes: asyncio.wait_for on 3.11 returns True here
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def test_a_poll_loop_stopped_at_a_wake_up_ends() -> None:
    """The shape of the alert stream's poller (``AlertEventHub._run``), stopped as its ``stop``
    does: cancel, then await the end. Once, the app's shutdown waited for ever here."""
    wake = asyncio.Event()
    rounds = 0

    async def poll() -> None:
        nonlocal rounds
        while True:
            rounds += 1
            await wait_at_most(wake, 60)
            wake.clear()

    poller = asyncio.create_task(poll())
    await asyncio.sleep(0)
    wake.set()
    poller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(poller, 5)  # here wait_for only bounds the test
    assert rounds == 1
