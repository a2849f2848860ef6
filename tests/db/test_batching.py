"""``db.batching.Batcher`` on its own (no database): what arrives while a batch is written waits for
the next one, each caller gets its own outcome, and no failure leaves a caller waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from aftercare.db.batching import Batcher


class Refused(Exception):
    pass


def make(
    batches: list[list[int]], *, fail_with: Exception | None = None, short: bool = False
) -> Batcher[int, int]:
    async def run(items: list[int]) -> Sequence[int | Exception]:
        batches.append(items)
        await asyncio.sleep(0)  # a commit: others arrive meanwhile
        if fail_with is not None:
            raise fail_with
        outcomes: list[int | Exception] = [Refused(str(i)) if i < 0 else i * 10 for i in items]
        return outcomes[:-1] if short else outcomes

    return Batcher(run, asyncio.get_running_loop(), max_batch=3)


async def test_concurrent_items_share_batches_of_at_most_max_batch() -> None:
    batches: list[list[int]] = []
    batcher = make(batches)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(1, 8)))
    assert results == [10, 20, 30, 40, 50, 60, 70]
    assert batches == [[1, 2, 3], [4, 5, 6], [7]]


async def test_each_caller_gets_its_own_outcome() -> None:
    batcher = make([])
    outcomes = await asyncio.gather(
        batcher.submit(1), batcher.submit(-2), batcher.submit(3), return_exceptions=True
    )
    assert outcomes[0] == 10 and outcomes[2] == 30
    assert isinstance(outcomes[1], Refused)


async def test_a_failing_batch_fails_its_callers_and_the_next_batch_runs() -> None:
    batches: list[list[int]] = []
    failing = make(batches, fail_with=RuntimeError("disk full"))
    outcomes = await asyncio.gather(failing.submit(1), failing.submit(2), return_exceptions=True)
    assert [str(o) for o in outcomes] == ["disk full", "disk full"]
    with pytest.raises(RuntimeError):
        await failing.submit(3)
    assert batches == [[1, 2], [3]]


async def test_a_batch_function_that_loses_an_outcome_fails_the_batch_instead_of_hanging() -> None:
    short = make([], short=True)
    async with asyncio.timeout(2):
        outcomes = await asyncio.gather(short.submit(1), short.submit(2), return_exceptions=True)
    assert all(isinstance(o, RuntimeError) for o in outcomes)


async def test_a_caller_that_goes_away_does_not_cancel_the_batch() -> None:
    batches: list[list[int]] = []
    batcher = make(batches)
    leaving = asyncio.ensure_future(batcher.submit(1))
    staying = asyncio.ensure_future(batcher.submit(2))
    await asyncio.sleep(0)
    leaving.cancel()
    assert await staying == 20
    assert batches == [[1, 2]]
