"""How ``aftercare serve`` runs the app under uvicorn, and the one thing uvicorn does not do for it:
bound the time a client may take to send its request.

uvicorn closes a connection idle *between* requests (``timeout_keep_alive``), but not one that opened
and sent nothing, nor one that sends its headers a byte at a time, nor a body that never finishes:
each holds a connection and its memory for as long as the client likes (slowloris). Behind a proxy
that buffers requests this never happens; the service must not depend on one. ``ReadTimeout``
gives every request ``read_timeout`` seconds from its first byte (or from the connection's opening)
until its body is complete. A request still without its headers then gets ``408`` problem+json; one
whose body stopped arriving is cut off, which the app sees as the client going away. Responses,
streams included, are not limited: the clock stops once the request is read.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from aftercare.config import Settings

_TIMED_OUT = json.dumps(
    {
        "type": "/problems/request-timeout",
        "title": "Request timeout",
        "status": 408,
        "detail": "the request was not sent in time",
    }
).encode()
TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: application/problem+json\r\n"
    b"content-length: " + str(len(_TIMED_OUT)).encode() + b"\r\n"
    b"connection: close\r\n\r\n" + _TIMED_OUT
)


class ReadTimeout(AutoHTTPProtocol):  # type: ignore[misc,valid-type]
    """uvicorn's HTTP protocol (httptools, or h11 without it) with a deadline for reading a request.

    It watches the two things both implementations keep: ``cycle``, made when a request's headers are
    complete, and ``cycle.more_body``, true until its body is. ``read_timeout`` is set per server by
    ``uvicorn_config``."""

    read_timeout: float = 15.0

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._read_deadline: asyncio.TimerHandle | None = None
        self._arm()  # a connection that never sends a byte is held no longer than a slow one

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        super().data_received(data)
        if self.transport.is_closing():
            self._disarm()
            return
        cycle = self.cycle
        if cycle is None or (cycle is before and cycle.response_complete):
            self._arm()  # the first bytes of a request whose headers are not complete yet
        elif cycle.more_body:
            self._arm()  # headers read, the body still coming: the same deadline runs on
        else:
            self._disarm()  # the whole request is read; the app has it

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._read_deadline is None:
            self._read_deadline = self.loop.call_later(self.read_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _timed_out(self) -> None:
        self._read_deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or (cycle.response_complete and not cycle.more_body):
            self.transport.write(TIMEOUT_RESPONSE)  # no request under way: nothing else will answer
        self.transport.close()


def uvicorn_config(app: Any, settings: Settings) -> uvicorn.Config:
    """The server ``aftercare serve`` runs: ``settings``' address, our JSON logs (uvicorn's own access
    log off), a bounded graceful shutdown (open alert streams would block it forever), no proxy
    headers (``AFTERCARE_TRUSTED_PROXIES`` decides whom to believe), and the read deadline."""
    protocol = type("ReadTimeout", (ReadTimeout,), {"read_timeout": settings.request_read_timeout_seconds})
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=5,
        proxy_headers=False,
        http=protocol,
    )
