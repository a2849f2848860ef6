"""``waiting``: time-limited waits that never lose a cancellation. Python 3.11's ``asyncio.wait_for``
does, when the lock is handed over or the event set in the same turn as the cancel; each race test
here fails with it (checked by swapping it in)."""

from __future__ import annotations

import asyncio

import pytest

from aftercare.waiting import acquire_within, wait_at_most


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
    waiter.cancel()  # before the waiter resumes
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def test_a_lock_not_handed_over_in_time_is_a_timeout() -> None:
    lock = asyncio.Lock()
    await lock.acquire()
    with pytest.raises(TimeoutError):
        await acquire_within(lock, 0.01)
    lock.release()
    await acquire_within(lock, 60)
    assert lock.locked()


async def test_a_cancellation_that_arrives_as_the_lock_is_handed_over_is_not_lost() -> None:
    """The SQLite write gate's race (``db.engine``): a commit hands the gate to a waiting task in
    the same turn as that task is cancelled. It must stop, and give the lock to the next waiter."""
    lock = asyncio.Lock()
    await lock.acquire()
    cancelled = asyncio.create_task(acquire_within(lock, 60))
    after = asyncio.create_task(acquire_within(lock, 60))
    await asyncio.sleep(0)  # both are waiting, in that order
    lock.release()  # hands the lock to the first
    cancelled.cancel()  # before it resumes
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await asyncio.wait_for(after, 5)  # here wait_for only bounds the test
    assert lock.locked()


async def test_a_poll_loop_stopped_at_a_wake_up_ends() -> None:
    """The shape of the alert stream's poller (``AlertEventHub._run``), stopped as its ``stop``
    does: cancel, then await the end."""
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
