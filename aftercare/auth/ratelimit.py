"""Failed sign-ins and enrollments, counted so an attacker is slowed and the owner is not locked out.

The policy (docs/RELIABILITY.md), CAPTCHA-free:

Sign-in, per account and per client address:
  * **an address that has not failed for an account is never held back by that account's other
    failures**: the owner, signing in from their own phone while someone elsewhere guesses their
    password, is answered at once, and a success resets the account's count;
  * **an address that has failed for an account waits before each further try**, once the account
    has ``free_failures`` failures in the window: 1 s, then 2, 4, ... doubling with each failure
    of the account, at most ``max_delay_seconds``, counted from that address's last failure;
  * **a hard limit per address**: ``per_address`` failures in the window (any accounts) and every
    sign-in from it waits for the window to end.
  So nobody can aim a lockout at an account from elsewhere: the worst an attacker can do to an
  owner who shares no address with them is nothing, and one who shares it (the same café) makes
  them wait at most ``max_delay_seconds`` between tries. A guesser gets ``per_address`` tries per
  window per address, and after the free ones at most one per ``max_delay_seconds`` per account.

Enrollment, whose codes carry about 49 random bits (guessing one blindly is hopeless, so limits
are about partial knowledge and noise, never about a whole clinic):
  * per code prefix (its first group of five characters): ``per_prefix`` failures in the window
    and codes starting so are refused from everywhere, so someone who saw half a code on a card
    cannot try the rest; codes with other prefixes are untouched;
  * per address, a generous hard limit (``per_address``): a clinic's shared Wi-Fi enrolling a
    group, typos included, stays far below it, while a guessing script hits it in minutes.
  Enrollment and sign-in failures are counted apart: one never uses up the other's budget.

Counters live in Redis when ``AFTERCARE_REDIS_URL`` is set (every process shares them), else in
this process's memory. Each key holds a failure count and the time of the last failure, and expires
a window after its first failure. Times come from the app's clock, so tests move them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from aftercare.i18n import _


class Failures(NamedTuple):
    number: int
    last_at: float  # when the last one happened, seconds since the epoch (the app's clock)
    expires_in: int  # seconds until the key's window ends


NONE = Failures(0, 0.0, 0)


class FailureStore(Protocol):
    async def read(self, keys: Sequence[str], *, now: float) -> list[Failures]:
        """The failures under each key (``NONE`` for a key without any), in one round trip."""
        ...

    async def add(self, keys: Sequence[str], *, now: float, window_seconds: int) -> None:
        """One more failure under each key, at ``now``; a key's window starts at its first."""
        ...

    async def clear(self, keys: Sequence[str]) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class SignInPolicy:
    free_failures: int = 5
    max_delay_seconds: int = 60
    per_address: int = 30
    window_seconds: int = 900


@dataclass(frozen=True)
class EnrollPolicy:
    per_prefix: int = 5
    per_address: int = 100
    window_seconds: int = 900


def sign_in_wait(
    policy: SignInPolicy, *, account: Failures, address: Failures, pair: Failures, now: float
) -> tuple[int, str]:
    """Seconds this sign-in must wait before its password is even checked (0: check it now), and
    why. ``pair`` is this address's failures for this account."""
    if address.number >= policy.per_address:
        return max(address.expires_in, 1), _("too many failed sign-ins from this address")
    if pair.number == 0 or account.number < policy.free_failures:
        return 0, ""
    delay = min(2 ** (account.number - policy.free_failures), policy.max_delay_seconds)
    remaining = pair.last_at + delay - now
    if remaining <= 0:
        return 0, ""
    return math.ceil(remaining), _("too many failed sign-ins for this account from this address")


def enroll_wait(policy: EnrollPolicy, *, prefix: Failures, address: Failures) -> tuple[int, str]:
    if address.number >= policy.per_address:
        return max(address.expires_in, 1), _("too many failed enrollments from this address")
    if prefix.number >= policy.per_prefix:
        return (
            max(prefix.expires_in, 1),
            _("too many failed attempts with codes like this one; ask for a new code or try later"),
        )
    return 0, ""


class MemoryFailureStore:
    """Per-process counters. Bounded: past ``max_keys`` keys, expired ones go, then the oldest
    (an attacker choosing emails must not grow the process without end)."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._keys: dict[str, tuple[int, float, float]] = {}  # number, last_at, expires_at
        self._max_keys = max_keys

    async def read(self, keys: Sequence[str], *, now: float) -> list[Failures]:
        found = []
        for key in keys:
            entry = self._keys.get(key)
            if entry is None or entry[2] <= now:
                self._keys.pop(key, None)
                found.append(NONE)
            else:
                found.append(Failures(entry[0], entry[1], math.ceil(entry[2] - now)))
        return found

    async def add(self, keys: Sequence[str], *, now: float, window_seconds: int) -> None:
        for key in keys:
            entry = self._keys.get(key)
            if entry is None or entry[2] <= now:
                self._keys[key] = (1, now, now + window_seconds)
            else:
                self._keys[key] = (entry[0] + 1, now, entry[2])
        if len(self._keys) > self._max_keys:
            self._keys = {k: v for k, v in self._keys.items() if v[2] > now}
            while len(self._keys) > self._max_keys:
                del self._keys[next(iter(self._keys))]

    async def clear(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._keys.pop(key, None)

    async def close(self) -> None:
        self._keys.clear()


class RedisFailureStore:
    """Counters in Redis hashes (``n``: count, ``at``: last failure), one round trip per call."""

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    async def read(self, keys: Sequence[str], *, now: float) -> list[Failures]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(key, "n", "at")
                pipe.ttl(key)
            replies = await pipe.execute()
        found = []
        for (number, last_at), ttl in zip(replies[::2], replies[1::2], strict=True):
            if number is None:
                found.append(NONE)
            else:
                found.append(Failures(int(number), float(last_at or 0.0), max(int(ttl), 1)))
        return found

    async def add(self, keys: Sequence[str], *, now: float, window_seconds: int) -> None:
        # EXPIRE NX: the window starts at the first failure and is not extended by more.
        async with self._redis.pipeline() as pipe:
            for key in keys:
                pipe.hincrby(key, "n", 1)
                pipe.hset(key, "at", repr(now))
                pipe.expire(key, window_seconds, nx=True)
            await pipe.execute()

    async def clear(self, keys: Sequence[str]) -> None:
        if keys:
            await self._redis.delete(*keys)

    async def close(self) -> None:
        await self._redis.aclose()


def make_failure_store(redis_url: str | None) -> FailureStore:
    return RedisFailureStore(redis_url) if redis_url else MemoryFailureStore()
