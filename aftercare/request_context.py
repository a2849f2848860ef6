"""The id of the request being served, for whatever records it (audit rows, log lines).

Set per request by the request-id middleware (``http.RequestContextMiddleware``); a context variable so
that services need not thread it through every call, and so that work done for a request in another
task (a check-in batch) can carry it over explicitly.
"""

from __future__ import annotations

from contextvars import ContextVar

current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)
