"""The alert stream's poll on SQLite while write transactions queue for the write gate.

    .venv/bin/python bench/stream_read_bench.py [--writers 30] [--hold-ms 2] [--rounds 15]

A fresh SQLite file. Each round starts ``--writers`` write transactions at once, each holding the
write lock ``--hold-ms`` (a check-in's transaction is a few milliseconds), and times one
``read_events`` (the poller's read) started while they queue; the baseline is the same read with no
writer, in the same run. A read that took the write gate waited for every writer queued before it;
a read-only transaction reads beside them (WAL). ``--writers`` stays within the pool (32 + 8): past
it, the read waits for a connection instead, which this does not measure.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aftercare.alerts.stream import read_events
from aftercare.config import Settings
from aftercare.db.engine import make_engine, make_session_factory
from aftercare.db.migrate import migrate


async def timed_poll(factory: async_sessionmaker[AsyncSession]) -> float:
    started = time.perf_counter()
    await read_events(factory, 0, now=datetime.now(UTC))
    return (time.perf_counter() - started) * 1000


async def run(writers: int, hold_ms: float, rounds: int) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="stream-read-bench-"))
    engine = make_engine(Settings(data_dir=data_dir), url=f"sqlite+aiosqlite:///{data_dir / 'bench.db'}")
    await migrate(engine)
    factory = make_session_factory(engine)

    async def write() -> None:
        async with factory() as session, session.begin():
            await session.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the gate and the write lock
            await asyncio.sleep(hold_ms / 1000)

    alone, beside = [], []
    for _ in range(rounds):
        alone.append(await timed_poll(factory))
        queued = [asyncio.create_task(write()) for _ in range(writers)]
        await asyncio.sleep(0.01)  # let them reach the gate
        beside.append(await timed_poll(factory))
        await asyncio.gather(*queued)
    await engine.dispose()
    alone_ms, beside_ms = statistics.median(alone), statistics.median(beside)
    print(f"poll alone: median {alone_ms:.1f} ms")
    print(
        f"poll beside {writers} queued writers holding {hold_ms:g} ms each: median {beside_ms:.1f} ms, max {max(beside):.1f} ms"
    )
    print(f"ratio: {beside_ms / alone_ms:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=30)
    parser.add_argument("--hold-ms", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    asyncio.run(run(args.writers, args.hold_ms, args.rounds))


if __name__ == "__main__":
    main()
