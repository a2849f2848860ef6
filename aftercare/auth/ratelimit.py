"""Failed-login limits per account and per client address.

Counters live in Redis when ``AFTERCARE_REDIS_URL`` is set (several processes share them), else in
this process's memory. Only failures count: a correct password is never slowed down by the limit of
an address shared by a whole clinic, unless that address has already failed too often.
"""

from __future__ import annotations

import math
import time
from typing import Protocol


class FailureCounter(Protocol):
    async def failures(self, key: str) -> tuple[int, int]:
        """(failures in the current window, seconds until the window ends)."""
        ...

    async def add_failure(self, key: str, window_seconds: int) -> None: ...

    async def clear(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryFailureCounter:
    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, float]] = {}

    async def failures(self, key: str) -> tuple[int, int]:
        count, until = self._windows.get(key, (0, 0.0))
        remaining = until - time.monotonic()
        if remaining <= 0:
            self._windows.pop(key, None)
            return 0, 0
        return count, math.ceil(remaining)

    async def add_failure(self, key: str, window_seconds: int) -> None:
        count, remaining = await self.failures(key)
        until = time.monotonic() + (remaining if count else window_seconds)
        self._windows[key] = (count + 1, until)

    async def clear(self, key: str) -> None:
        self._windows.pop(key, None)

    async def close(self) -> None:
        self._windows.clear()


class RedisFailureCounter:
    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    async def failures(self, key: str) -> tuple[int, int]:
        async with self._redis.pipeline() as pipe:
            pipe.get(key)
            pipe.ttl(key)
            count, ttl = await pipe.execute()
        if count is None:
            return 0, 0
        return int(count), max(int(ttl), 1)

    async def add_failure(self, key: str, window_seconds: int) -> None:
        # INCR then EXPIRE NX: the window starts at the first failure and is not extended by more.
        async with self._redis.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, window_seconds, nx=True)
            await pipe.execute()

    async def clear(self, key: str) -> None:
        await self._redis.delete(key)

    async def close(self) -> None:
        await self._redis.aclose()


def make_failure_counter(redis_url: str | None) -> FailureCounter:
    return RedisFailureCounter(redis_url) if redis_url else MemoryFailureCounter()
