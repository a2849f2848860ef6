"""Browser push for staff in Chromium: "Turn on notifications" registers the console's service
worker; subscribing cannot succeed here (a Playwright context is like a private window, where
Chromium has no Push API, and no push service is reachable), so the page says so plainly and
registers nothing with the server. A push is then delivered to the worker through the
DevTools protocol, as a push service would: the notification shown has the generic title and body
of the server's own payload, no graduate's name, and leads to the alert's page."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from playwright.async_api import expect

from aftercare.alerts.routing import notification_for
from aftercare.push.service import payload_for
from tests.console.conftest import OpenTab, Site, check_accessibility, screenshot, sign_in

NOTIFICATIONS = """async () => {
  const registration = await navigator.serviceWorker.getRegistration("/console/");
  const shown = registration ? await registration.getNotifications() : [];
  return shown.map((n) => ({title: n.title, body: n.body, tag: n.tag, data: n.data}));
}"""


async def worker_registration_id(cdp: Any) -> str:
    """The id DevTools knows the console's worker registration by (the ServiceWorker domain stays
    enabled on this session, as delivering a push needs)."""
    found: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def seen(event: dict[str, Any]) -> None:
        for registration in event["registrations"]:
            ours = registration["scopeURL"].endswith("/console/") and not registration["isDeleted"]
            if ours and not found.done():
                found.set_result(registration["registrationId"])

    cdp.on("ServiceWorker.workerRegistrationUpdated", seen)
    await cdp.send("ServiceWorker.enable")
    return await asyncio.wait_for(found, timeout=10)


async def test_notifications_blocked_by_the_browser_say_how_to_allow_them(
    site: Site, open_tab: OpenTab
) -> None:
    page = (await open_tab("/console/coverage", site.seeded.chris, service_workers=True)).page
    await page.context.clear_permissions()  # a headless browser then refuses the permission prompt
    card = page.locator(".notifications-card")
    await card.get_by_role("button", name="Turn on notifications").click()
    await expect(card.get_by_role("alert")).to_have_text(
        "Notifications are blocked for this site. Allow them in the browser's site settings, then try again."
    )
    await expect(card).to_have_attribute("data-state", "off")


async def test_turning_on_notifications_and_a_push_shown_without_names(site: Site, open_tab: OpenTab) -> None:
    tab = await open_tab("/console", service_workers=True)
    page = tab.page
    await page.context.grant_permissions(["notifications"])
    subscriptions: list[str] = []
    page.on(
        "request",
        lambda request: (
            subscriptions.append(request.url) if request.url.endswith("/v1/push/subscriptions") else None
        ),
    )
    await sign_in(page, site.seeded.chris)
    await page.get_by_role("link", name="Coverage").click()
    card = page.locator(".notifications-card")
    await card.get_by_role("button", name="Turn on notifications").click()

    # Subscribing fails here (Chromium refuses the Push API in a Playwright context, which is like a
    # private window, and no push service is reachable from this machine): the page says so plainly.
    await expect(card.get_by_role("alert")).to_contain_text(
        "Notifications could not be turned on: this browser could not subscribe with its push service",
        timeout=30_000,
    )
    await expect(card).to_have_attribute("data-state", "off")
    # The worker registered before that, with the console's scope, as a module from /console/sw.js.
    registration = await page.evaluate(
        """async () => {
          const r = await navigator.serviceWorker.getRegistration("/console/");
          return r && {scope: r.scope, script: r.active && r.active.scriptURL};
        }"""
    )
    assert registration == {"scope": f"{site.base}/console/", "script": f"{site.base}/console/sw.js"}
    assert subscriptions == []  # nothing half-made reached the server
    await screenshot(site, page, "12-coverage-notifications-failed")
    await check_accessibility(page)

    # A push as the server would send it for Priya's alert, delivered as a push service would.
    priya = site.graduate("priya")
    alert = await site.open_alert(priya)
    spec = notification_for(
        uuid.UUID(alert["id"]),
        alert["severity"],
        first_level=True,
        user_id=site.seeded.chris.user_id,
        channels=("push",),
        now=datetime.now(UTC),
    )
    payload = payload_for(
        kind=spec.kind,
        title=spec.title,
        body=spec.body,
        url=spec.url,
        tag=spec.tag,
        notification_id=uuid.uuid4(),
    ).decode()
    cdp = await page.context.new_cdp_session(page)
    await cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": site.base, "registrationId": await worker_registration_id(cdp), "data": payload},
    )
    shown: list[dict[str, Any]] = []
    # Up to 30 s, as the page's own waits above: on a loaded CI machine the worker once took longer
    # than the 5 s this loop allowed (a fresh-clone run on 2026-12-07), and nothing else was wrong.
    for _ in range(300):
        shown = await page.evaluate(NOTIFICATIONS)
        if shown:
            break
        await asyncio.sleep(0.1)
    assert len(shown) == 1, shown
    notification = shown[0]
    assert notification["title"] == "New alert in Aftercare"
    assert notification["body"] == f"Severity: {alert['severity']}. Open the console to review."
    assert notification["tag"] == f"alert-{alert['id']}"
    assert priya.name not in str(notification) and "Priya" not in str(notification)
    # A click leads to the alert's page (the worker's click handler asks the same function).
    target = await page.evaluate(
        """async (data) => (await import("/console/assets/push.js")).targetOf(data, location.origin)""",
        notification["data"],
    )
    assert target == f"{site.base}/console/alerts/{alert['id']}"
    # With the console open, the worker's click handler posts {type: "open", url} to it (a click
    # itself cannot be made from here): the console shows the alert in place, still signed in.
    await page.evaluate("() => { window.sameDocument = true; }")
    await page.evaluate(
        """(url) => navigator.serviceWorker.dispatchEvent(new MessageEvent("message", {data: {type: "open", url}}))""",
        target,
    )
    await expect(page).to_have_url(target)
    await expect(page.get_by_role("heading", name="Safety concern", level=1)).to_be_visible()
    await expect(page.locator(".alert-hero-graduate")).to_contain_text(
        priya.name
    )  # signed in: the API answers
    # In place: no reload, which would have forgotten the sign-in.
    assert await page.evaluate("() => window.sameDocument === true")


async def test_a_notification_click_never_leaves_the_console(site: Site, open_tab: OpenTab) -> None:
    page = (await open_tab("/console")).page
    targets = await page.evaluate(
        """async () => {
          const {targetOf, notificationOf} = await import("/console/assets/push.js");
          const origin = location.origin;
          return {
            alert: targetOf({url: "/console/alerts/0190f5a2-7c1e-7000-8000-000000000001"}, origin),
            other_origin: targetOf({url: "https://example.org/console/alerts/1"}, origin),
            script: targetOf({url: "javascript:alert(1)"}, origin),
            not_console: targetOf({url: "/v1/alerts"}, origin),
            missing: targetOf(null, origin),
            unreadable: notificationOf(null),
          };
        }"""
    )
    feed = f"{site.base}/console/alerts"
    assert targets["alert"] == f"{site.base}/console/alerts/0190f5a2-7c1e-7000-8000-000000000001"
    assert (
        targets["other_origin"] == targets["script"] == targets["not_console"] == targets["missing"] == feed
    )
    assert targets["unreadable"]["title"] == "Aftercare"
    assert targets["unreadable"]["options"]["body"] == "Open the console to review."
