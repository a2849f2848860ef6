"""Serving the console: one page for every console path, its assets from the package, ``/`` sent
to it, and the security headers on every answer. In process; the browser tests are beside this."""

from __future__ import annotations

import httpx
import pytest

from aftercare.console.routes import STATIC

CONSOLE_PATHS = [
    "/console",
    "/console/",
    "/console/alerts",
    "/console/alerts/0190f5a2-7c1e-7000-8000-000000000001",
    "/console/graduates/0190f5a2-7c1e-7000-8000-000000000002",
    "/console/caseload",
    "/console/anything/else",
]


async def test_root_redirects_to_the_console(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 302
    assert response.headers["location"] == "/console"


@pytest.mark.parametrize("path", CONSOLE_PATHS)
async def test_every_console_path_is_the_page_with_a_strict_policy(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == (STATIC / "index.html").read_text()
    policy = response.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"  # no inline script, no eval, no other origin
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["require-trusted-types-for"] == "'script'"
    # One policy, for the service worker's URL; no duplicates, so no second policy by that name.
    assert directives["trusted-types"] == "aftercare-worker"
    assert "unsafe" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-cache"


async def test_the_page_has_no_inline_script_or_style(client: httpx.AsyncClient) -> None:
    page = (await client.get("/console")).text
    assert '<script type="module" src="/console/assets/app.js"></script>' in page
    assert "<script>" not in page and "<style" not in page and "style=" not in page
    assert "http://" not in page and "https://" not in page  # nothing from another origin


async def test_assets_are_served_with_their_types(client: httpx.AsyncClient) -> None:
    for path, media_type in [
        ("/console/assets/app.js", "text/javascript"),
        ("/console/assets/console.css", "text/css"),
        ("/console/assets/vendor/uplot/uPlot.esm.js", "text/javascript"),
        ("/console/assets/vendor/uplot/LICENSE.txt", "text/plain"),
        ("/console/assets/icon.svg", "image/svg+xml"),
    ]:
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith(media_type), (
            path,
            response.headers["content-type"],
        )
        assert "content-security-policy" in response.headers
        etag = response.headers["etag"]
        again = await client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""


async def test_the_service_worker_is_served_for_the_whole_console(client: httpx.AsyncClient) -> None:
    response = await client.get("/console/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["service-worker-allowed"] == "/console/"  # its scope covers every page
    assert response.content == (STATIC / "sw.js").read_bytes()
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe" not in policy  # the worker runs under it too
    assert (
        await client.get("/console/sw.js", headers={"If-None-Match": response.headers["etag"]})
    ).status_code == 304


@pytest.mark.parametrize("path", ["/console/assets/missing.js", "/console/assets/", "/console/assets/vendor"])
async def test_an_asset_that_is_not_there_is_a_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "path",
    [
        "/console/assets/../routes.py",
        "/console/assets/..%2F..%2F__init__.py",
        "/console/assets/%2e%2e/%2e%2e/routes.py",
        "/console/assets/..%2Froutes.py",
        "/console/assets/vendor/../../routes.py",
    ],
)
async def test_no_path_reaches_a_file_outside_the_static_folder(client: httpx.AsyncClient, path: str) -> None:
    """Only the files found under static/ at start can be named; the rest is the page or a 404."""
    response = await client.get(path)
    assert response.status_code in (200, 404), path
    assert "ConsoleController" not in response.text and "Asset" not in response.text
    if response.status_code == 200:
        assert response.text == (STATIC / "index.html").read_text()


async def test_the_console_needs_no_token_and_is_not_in_the_api_document(client: httpx.AsyncClient) -> None:
    assert (await client.get("/console/alerts")).status_code == 200
    document = (await client.get("/schema/openapi.json")).json()
    assert not [path for path in document["paths"] if path == "/" or path.startswith("/console")]


def test_every_vendored_file_ships_with_its_licence() -> None:
    vendor = STATIC / "assets" / "vendor"
    for package in (p for p in vendor.iterdir() if p.is_dir()):
        assert (package / "LICENSE.txt").is_file(), package.name
        assert package.name in (vendor / "README.txt").read_text()
