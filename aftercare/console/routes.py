"""Serving the console: one page for every console path, its assets, and ``/`` sent there.

``/console`` and every ``/console/...`` path that is not an asset answer with ``index.html``: the
console routes on the client (``/console/alerts/{id}``, the link in every staff push, is a page of
its own after a reload too). Assets live under ``/console/assets/`` and are read from the package
once; an asset that is not there is a 404 like any unknown path. ``/console/sw.js`` is the service
worker that shows staff push notifications, with ``Service-Worker-Allowed: /console/``.

Every answer carries a strict Content-Security-Policy: scripts, styles and connections from this
origin only, no inline script or style, no ``eval``, and Trusted Types with one policy, so a string
can never be written into the page as HTML (names and notes are always set as text). That policy,
``WORKER_POLICY``, makes exactly one script URL: the service worker's (``notifications.js``), since
registering a worker is a script-URL sink too.
"""

from __future__ import annotations

import hashlib
import mimetypes
from functools import cache
from pathlib import Path

from litestar import Controller, Request, Response, get
from litestar.response import Redirect

from aftercare.auth.access import Access
from aftercare.errors import NotFound

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = "assets"
# The service worker (browser push for staff) lives at the console's root, not under assets/: a
# worker's scope is at most the folder it is served from, and it must cover every /console page.
WORKER = "sw.js"
WORKER_HEADERS = {"Service-Worker-Allowed": "/console/"}
WORKER_POLICY = "aftercare-worker"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        f"trusted-types {WORKER_POLICY}",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}


class Asset:
    """A file of the console, read once: its bytes, media type and a strong ETag of its content."""

    def __init__(self, path: Path) -> None:
        self.body = path.read_bytes()
        self.media_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "text/plain"
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'


@cache
def _files() -> dict[str, Asset]:
    """Every file under ``static/`` by its path there, read on first use. A request can only name
    one of these: nothing it sends is ever joined to a file-system path."""
    return {
        path.relative_to(STATIC).as_posix(): Asset(path)
        for path in sorted(STATIC.rglob("*"))
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(STATIC).parts)
    }


def _answer(request: Request, asset: Asset, extra: dict[str, str] | None = None) -> Response[bytes]:
    # no-cache: revalidate every time (the ETag makes that a 304), so an upgrade is seen at once
    # without versioned file names (the browser also checks a worker for updates this way).
    headers = {**SECURITY_HEADERS, **(extra or {}), "ETag": asset.etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(b"", status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


def _page(request: Request) -> Response[bytes]:
    page = _files().get("index.html")
    if page is None:  # a broken install: say so plainly rather than serve nothing
        raise NotFound("the console is not installed with this package")
    return _answer(request, page)


class ConsoleController(Controller):
    """Public: the files hold no data; everything they show comes from the API with a token."""

    path = "/"
    opt = {"access": Access.PUBLIC}
    include_in_schema = False

    @get("/", operation_id="consoleRedirect")
    async def root(self) -> Redirect:
        return Redirect(path="/console", status_code=302)

    @get("/console", operation_id="consolePage")
    async def page(self, request: Request) -> Response[bytes]:
        return _page(request)

    @get("/console/{path:path}", operation_id="consolePath")
    async def page_or_asset(self, request: Request, path: str) -> Response[bytes]:
        relative = path.strip("/")
        if relative == WORKER:
            worker = _files().get(WORKER)
            if worker is None:
                raise NotFound("the console is not installed with this package")
            return _answer(request, worker, WORKER_HEADERS)
        if relative == ASSETS or relative.startswith(f"{ASSETS}/"):
            asset = _files().get(relative)
            if asset is None:
                raise NotFound("no such console file")
            return _answer(request, asset)
        return _page(request)
