"""Group commit: the work of concurrent requests done together, in one transaction per batch.

A durable commit costs a round trip or an fsync, and every statement costs its own trip through
SQLAlchemy and the driver; many requests' rows written by one statement and committed by one COMMIT
cost little more than one request's. The ``Batcher`` collects what concurrent callers submit: the
first submission starts a flush, what arrives while a batch is being written waits for the next
one, which takes all of it (up to ``max_batch``). There is no timer: under light load an item is
written at once, alone; under heavy load the batches grow by themselves.

A caller's ``submit`` returns only after its batch has been committed, so nothing is answered that
is not stored. The batch function returns one outcome per item (a result, or an exception that is
that item's alone); if it raises, every item of the batch gets the error.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

Item = TypeVar("Item")
Result = TypeVar("Result")
BatchFunction = Callable[[list[Item]], Awaitable[Sequence[Result | Exception]]]


class Batcher(Generic[Item, Result]):
    """One per engine and event loop (see ``batcher_for``): the batches of one kind of work."""

    def __init__(
        self, run_batch: BatchFunction[Item, Result], loop: asyncio.AbstractEventLoop, *, max_batch: int
    ) -> None:
        self.loop = loop
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        done: asyncio.Future[Result] = self.loop.create_future()
        self._pending.append((item, done))
        if self._flusher is None:
            self._flusher = self.loop.create_task(self._flush())
        # Shielded: a client that disconnects must not cancel a batch other requests wait for.
        return await asyncio.shield(done)

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    outcomes = await self._run_batch([item for item, _ in batch])
                except Exception as error:
                    _settle_all(batch, error)
                    continue
                except BaseException:
                    _settle_all(batch, RuntimeError("the batch was cancelled before it was committed"))
                    raise
                if len(outcomes) != len(batch):  # a batch function's bug must not leave callers waiting
                    _settle_all(batch, RuntimeError(f"{len(outcomes)} outcomes for {len(batch)} items"))
                    continue
                for (_, done), outcome in zip(batch, outcomes, strict=True):
                    if done.done():
                        continue
                    if isinstance(outcome, Exception):
                        done.set_exception(outcome)
                    else:
                        done.set_result(outcome)
        finally:
            self._flusher = None
            if self._pending:  # cancelled (shutdown) with items waiting: fail them, never leave them
                _settle_all(self._pending, RuntimeError("the writer stopped before committing"))
                self._pending = []


def _settle_all(batch: Sequence[tuple[object, asyncio.Future[Result]]], error: Exception) -> None:
    for _, done in batch:
        if not done.done():
            done.set_exception(error)


_batchers: weakref.WeakKeyDictionary[Engine, dict[str, Batcher[object, object]]] = weakref.WeakKeyDictionary()


def batcher_for(
    engine: AsyncEngine, kind: str, make: Callable[[asyncio.AbstractEventLoop], Batcher[Item, Result]]
) -> Batcher[Item, Result]:
    """The ``kind`` batcher of ``engine`` on the running loop, made by ``make`` on first use (an
    engine's connections belong to one loop; tests and CLI runs start new ones)."""
    loop = asyncio.get_running_loop()
    by_kind = _batchers.setdefault(engine.sync_engine, {})
    batcher = by_kind.get(kind)
    if batcher is None or batcher.loop is not loop:
        batcher = by_kind[kind] = make(loop)  # type: ignore[assignment]
    return batcher  # type: ignore[return-value]
