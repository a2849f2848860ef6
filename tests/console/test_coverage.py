"""Coverage in Chromium: away periods with a cover (set, listed, ended, cancelled), who is on call
now, and the on-call rota edited by supervisors with its version (a conflicting save between two
sessions overwrites nothing). Each test makes the staff it changes, so the seeded counselors'
alerts keep reaching them; what the page shows is checked against the API's answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import expect

from tests.console.conftest import (
    TABLET,
    OpenTab,
    Person,
    Site,
    check_accessibility,
    screenshot,
)

ROTA = "/v1/program/on-call-rota"


def local_input(at: datetime) -> str:
    """An instant as a datetime-local value in the browser's zone (the test machine's, UTC)."""
    return at.astimezone().strftime("%Y-%m-%dT%H:%M")


async def no_rota(site: Site) -> None:
    current = await site.call(site.seeded.dana, "GET", ROTA)
    if current.status_code == 200:
        deleted = await site.call(
            site.seeded.dana, "DELETE", ROTA, headers={"If-Match": current.headers["etag"]}
        )
        assert deleted.status_code == 204, deleted.text


async def put_rota(site: Site, body: dict[str, Any]) -> dict[str, Any]:
    current = await site.call(site.seeded.dana, "GET", ROTA)
    version = current.headers["etag"] if current.status_code == 200 else '"0"'
    saved = await site.call(site.seeded.dana, "PUT", ROTA, json=body, headers={"If-Match": version})
    assert saved.status_code == 200, saved.text
    return dict(saved.json())


async def program_today(site: Site) -> str:
    rules = (await site.call(site.seeded.dana, "GET", "/v1/program/rules")).json()
    return datetime.now(ZoneInfo(rules["program"]["timezone"])).date().isoformat()


async def test_a_supervisor_sets_an_away_period_with_a_cover_and_the_counselor_sees_it(
    site: Site, open_tab: OpenTab
) -> None:
    noor, ezra = await site.add_staff("Noor Haddad"), await site.add_staff("Ezra Cole")
    page = (await open_tab("/console/coverage", site.seeded.dana)).page
    await expect(page.get_by_role("heading", name="Coverage", level=1)).to_be_visible()
    start = (datetime.now(UTC) + timedelta(days=1)).replace(second=0, microsecond=0)
    end = start + timedelta(days=3)
    form = page.locator(".away-form")
    await form.get_by_label("Staff member").select_option(label="Noor Haddad")
    await form.get_by_label("Away from").fill(local_input(start))
    await form.get_by_label("Until").fill(local_input(end))
    await form.get_by_label("Cover", exact=True).select_option(label="Ezra Cole")
    await form.get_by_label("Note for colleagues (optional)").fill("Back Thursday <b>morning</b>")
    await form.get_by_role("button", name="Mark away").click()
    await expect(page.get_by_role("alert").filter(has_text="Saved:")).to_contain_text(
        "Noor Haddad is away from"
    )
    item = page.locator("li.away-item")
    await expect(item).to_have_count(1)
    await expect(item).to_have_attribute("data-state", "upcoming")
    await expect(item.locator(".away-cover")).to_have_text("Covered by Ezra Cole")
    await expect(item.locator(".away-note")).to_have_text("Back Thursday <b>morning</b>")  # as text
    await screenshot(site, page, "08-coverage-supervisor")
    await check_accessibility(page)

    stored = (await site.call(site.seeded.dana, "GET", f"/v1/staff/{noor.user_id}/away")).json()["items"]
    assert [(p["covering_staff_id"], p["from"], p["until"]) for p in stored] == [
        (str(ezra.user_id), start.isoformat().replace("+00:00", "Z"), end.isoformat().replace("+00:00", "Z"))
    ]

    # Noor's own session: the period is listed with the cover's name (colleagues' names are every
    # staff member's to see), Noor cancels it before it begins and marks herself away again, choosing
    # the cover herself: a counselor chooses no one but herself.
    mine = (await open_tab("/console/coverage", noor)).page
    listed = mine.locator("li.away-item")
    await expect(mine.get_by_role("heading", name="Your away periods")).to_be_visible()
    await expect(listed).to_have_count(1)
    await expect(listed.locator(".away-cover")).to_have_text("Covered by Ezra Cole")
    await screenshot(site, mine, "09-coverage-counselor")
    await check_accessibility(mine)
    await listed.get_by_role("button", name="Cancel: away").click()
    await expect(mine.get_by_role("alert")).to_have_text("The away period is cancelled.")
    await expect(listed).to_have_count(0)
    assert (await site.call(noor, "GET", f"/v1/staff/{noor.user_id}/away")).json()["items"] == []

    own_form = mine.locator(".away-form")
    await expect(own_form.get_by_label("Staff member")).to_have_count(0)
    await own_form.get_by_label("Away from").fill(local_input(start))
    await own_form.get_by_label("Until").fill(local_input(end))
    await own_form.get_by_label("Cover", exact=True).select_option(label="Ezra Cole")
    await own_form.get_by_role("button", name="Mark away").click()
    await expect(mine.get_by_role("alert").filter(has_text="Saved:")).to_contain_text("you are away from")
    await expect(listed).to_have_count(1)
    await expect(listed.locator(".away-cover")).to_have_text("Covered by Ezra Cole")
    own = (await site.call(noor, "GET", f"/v1/staff/{noor.user_id}/away")).json()["items"]
    assert [p["covering_staff_id"] for p in own] == [str(ezra.user_id)]


async def test_a_counselor_ends_an_away_period_in_progress(site: Site, open_tab: OpenTab) -> None:
    ines, cover = await site.add_staff("Ines Varga"), await site.add_staff("Omar Reyes")
    now = datetime.now(UTC)
    made = await site.call(
        site.seeded.dana,
        "PUT",
        f"/v1/staff/{ines.user_id}/away",
        json={
            "from": (now - timedelta(minutes=5)).isoformat(),
            "until": (now + timedelta(hours=4)).isoformat(),
            "covering_staff_id": str(cover.user_id),
        },
    )
    assert made.status_code == 201, made.text
    page = (await open_tab("/console/coverage", ines)).page
    item = page.locator("li.away-item")
    await expect(item).to_have_attribute("data-state", "current")
    await expect(item.locator(".tag")).to_have_text("Away now")
    await item.get_by_role("button", name="End now: away").click()
    await expect(page.get_by_role("alert")).to_contain_text("The away period has ended")
    await expect(item).to_have_count(0)
    assert (await site.call(ines, "GET", f"/v1/staff/{ines.user_id}/away")).json()["items"] == []


async def on_call_is(page: Any, person: Person, text: str) -> None:
    card = page.locator("#on-call-now")
    await expect(card).to_have_attribute("data-staff-id", str(person.user_id))
    await expect(card.locator(".on-call-who")).to_contain_text(text)


async def test_a_supervisor_makes_and_edits_the_rota_and_everyone_sees_who_is_on_call(
    site: Site, open_tab: OpenTab
) -> None:
    await no_rota(site)
    mina, tariq = await site.add_staff("Mina Ortiz"), await site.add_staff("Tariq Bell")
    page = (await open_tab("/console/coverage", site.seeded.dana)).page
    await expect(page.locator("#on-call-now .on-call-who")).to_have_text(
        "Nobody is on call: the program has no on-call rota."
    )
    rota = page.locator(".rota-card")
    await expect(rota.locator(".rota-version")).to_have_text("No rota yet")
    for name in ("Mina Ortiz", "Tariq Bell"):
        await rota.get_by_label("Add to the rota").select_option(label=name)
        await rota.get_by_role("button", name="Add", exact=True).click()
    await expect(rota.locator("li.rota-participant")).to_have_count(2)
    # A day each from midnight today: Mina's shift holds now.
    await rota.get_by_label("Shift length").select_option("day")
    await rota.get_by_label("Handoff time").fill("00:00")
    await rota.get_by_label("First shift starts on").fill(await program_today(site))
    await rota.get_by_role("button", name="Create rota").click()
    await expect(rota.get_by_role("alert")).to_have_text("Saved. This is version 1 of the rota.")
    await on_call_is(page, mina, "Mina Ortiz is on call until")

    # Tariq first, by keyboard: focus his "Earlier" button and press Enter.
    await rota.get_by_role("button", name="Move Tariq Bell earlier").focus()
    await page.keyboard.press("Enter")
    await expect(rota.locator("li.rota-participant .rota-name")).to_have_text(["Tariq Bell", "Mina Ortiz"])
    await rota.get_by_role("button", name="Save rota").click()
    await expect(rota.get_by_role("alert")).to_have_text("Saved. This is version 2 of the rota.")
    await on_call_is(page, tariq, "Tariq Bell is on call until")
    stored = (await site.call(site.seeded.dana, "GET", ROTA)).json()
    assert stored["participants"] == [str(tariq.user_id), str(mina.user_id)]
    assert (stored["rotation"], stored["handoff"], stored["version"]) == ("day", "00:00", 2)

    # An override (a swap): Mina instead, from an hour ago for three hours, wins over the rota.
    await rota.get_by_role("button", name="Add override").click()
    override = rota.locator(".rota-override")
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    await override.get_by_label("On call instead").select_option(label="Mina Ortiz")
    await override.get_by_label("From").fill(local_input(start))
    await override.get_by_label("Until").fill(local_input(start + timedelta(hours=3)))
    await rota.get_by_role("button", name="Save rota").click()
    await expect(rota.get_by_role("alert")).to_have_text("Saved. This is version 3 of the rota.")
    await on_call_is(page, mina, "Mina Ortiz is on call until")
    await expect(page.locator("#on-call-now")).to_contain_text("An override in the rota puts them on call.")
    overrides = (await site.call(site.seeded.dana, "GET", ROTA)).json()["overrides"]
    assert overrides == [
        {
            "staff_id": str(mina.user_id),
            "from": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "until": (start + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    ]
    await screenshot(site, page, "10-coverage-rota")
    await check_accessibility(page)
    await page.set_viewport_size(TABLET)
    await screenshot(site, page, "10-coverage-rota-tablet", full_page=False)

    # A counselor sees who is on call now too, by name, and no rota to edit.
    counselor = (await open_tab("/console/coverage", site.seeded.chris)).page
    await on_call_is(counselor, mina, "Mina Ortiz is on call until")
    await expect(counselor.locator(".rota-card")).to_have_count(0)


async def test_a_rota_saved_meanwhile_in_another_session_is_not_overwritten(
    site: Site, open_tab: OpenTab
) -> None:
    uma, vic = await site.add_staff("Uma Lind"), await site.add_staff("Vic Moreau")
    sasha = await site.add_staff("Sasha Grey", role="supervisor")
    before = await put_rota(
        site,
        {"participants": [str(uma.user_id), str(vic.user_id)], "starts_on": await program_today(site)},
    )
    first = (await open_tab("/console/coverage", site.seeded.dana)).page
    second = (await open_tab("/console/coverage", sasha)).page
    for page in (first, second):
        await expect(page.locator(".rota-form")).to_have_attribute("data-version", str(before["version"]))

    await first.get_by_label("Handoff time").fill("08:30")
    await first.get_by_role("button", name="Save rota").click()
    await expect(first.locator(".rota-card").get_by_role("alert")).to_have_text(
        f"Saved. This is version {before['version'] + 1} of the rota."
    )

    await second.get_by_label("Hours").select_option("outside_business_hours")
    await second.get_by_role("button", name="Remove Vic Moreau from the rota").click()
    await second.get_by_role("button", name="Save rota").click()
    message = second.locator(".message[data-conflict='true']")
    await expect(message).to_contain_text("Not saved: someone else changed the rota")
    await expect(message).to_contain_text(f"It is now version {before['version'] + 1}.")
    await expect(message).to_contain_text("Nothing was overwritten.")
    await expect(second.get_by_label("Hours")).to_have_value("outside_business_hours")  # edits kept
    await screenshot(site, second, "11-coverage-rota-conflict", full_page=False)
    stored = (await site.call(site.seeded.dana, "GET", ROTA)).json()
    assert stored["version"] == before["version"] + 1
    assert (stored["handoff"], stored["hours"]) == ("08:30", "always")
    assert stored["participants"] == [str(uma.user_id), str(vic.user_id)]

    await second.get_by_role("button", name="Load the current rota (discards your edits)").click()
    await expect(second.locator(".rota-form")).to_have_attribute("data-version", str(stored["version"]))
    await expect(second.get_by_label("Handoff time")).to_have_value("08:30")
    await expect(second.get_by_label("Hours")).to_have_value("always")
    await expect(second.locator("li.rota-participant")).to_have_count(2)

    # Deleting is guarded the same way, and asks once more on the page (no browser dialog).
    await second.get_by_role("button", name="Delete rota…").click()
    await second.get_by_role("button", name="Yes, delete the rota").click()
    await expect(second.locator(".rota-card").get_by_role("alert")).to_have_text(
        "The rota is deleted: nobody is on call until a new one is made."
    )
    await expect(second.locator("#on-call-now .on-call-who")).to_have_text(
        "Nobody is on call: the program has no on-call rota."
    )
    assert (await site.call(site.seeded.dana, "GET", ROTA)).status_code == 404
