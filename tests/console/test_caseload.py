"""The caseload in Chromium, on the server's terms: the search, the sort and the needs-reassignment
filter are query parameters of GET /v1/graduates (asserted on the requests the page sends) and
the rows are what the server answered; "Load more" follows the server's cursor."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import expect

from tests.console.conftest import TABLET, OpenTab, Site, check_accessibility, screenshot, sign_in


class CaseloadRequests:
    """The query of every GET /v1/graduates the page sends, in order."""

    def __init__(self, page: Any) -> None:
        self.queries: list[dict[str, list[str]]] = []
        page.on("request", self._seen)

    def _seen(self, request: Any) -> None:
        url = urlsplit(request.url)
        if request.method == "GET" and url.path == "/v1/graduates":
            self.queries.append(parse_qs(url.query))

    def last(self) -> dict[str, list[str]]:
        assert self.queries, "the page asked the server for nothing"
        return self.queries[-1]


async def test_the_caseload_is_searched_and_sorted_by_the_server(site: Site, open_tab: OpenTab) -> None:
    tab = await open_tab("/console")
    page = tab.page
    requests = CaseloadRequests(page)
    await sign_in(page, site.seeded.chris)
    await page.get_by_role("link", name="Caseload").click()
    rows = page.locator("table.caseload-table tbody tr")
    mine = [g for g in site.seeded.graduates.values() if g.name != "Morgan Lee"]
    await expect(rows).to_have_count(len(mine))
    assert requests.last()["sort"] == ["risk"]
    # The server's risk order: critical first (Priya asked for help).
    await expect(rows.first.locator("th a")).to_have_text("Priya Kaur")
    await expect(page.locator("th[aria-sort='descending']")).to_have_text("Risk ↓")
    await screenshot(site, page, "05-caseload")
    await check_accessibility(page)

    search = page.get_by_label("Search by name")
    await search.fill("jor")
    await expect(rows).to_have_count(1)
    await expect(rows.first.locator("th a")).to_have_text("Jordan Miles")
    assert requests.last()["search"] == ["jor"]
    await expect(page).to_have_url("/console/caseload?search=jor")
    await search.fill("ri")  # a prefix of the whole name, as the server reads it: not Sam Rivera
    await expect(rows).to_have_count(1)
    await expect(rows.first.locator("th a")).to_have_text("Riley Adams")
    assert requests.last()["search"] == ["ri"]
    await search.fill("zz")
    await expect(page.get_by_text("No graduate matches this search.")).to_be_visible()
    await search.fill("")
    await expect(rows).to_have_count(len(mine))
    assert "search" not in requests.last()

    await page.get_by_role("button", name="Graduate").click()  # the server's name order, A to Z
    await expect(page.locator("th[aria-sort='ascending']")).to_have_text("Graduate ↑")
    await expect(rows).to_have_count(len(mine))
    assert requests.last()["sort"] == ["name"]
    names = await rows.locator("th a").all_inner_texts()
    assert names == sorted(names, key=str.lower)
    await page.get_by_role("button", name="Open alerts").click()
    await expect(page.locator("th[aria-sort='descending']")).to_have_text("Open alerts ↓")
    assert requests.last()["sort"] == ["open_alerts"]
    await expect(page).to_have_url("/console/caseload?sort=open_alerts")
    counts = [int(text) for text in await rows.locator("td.number:nth-of-type(4)").all_inner_texts()]
    assert counts == sorted(counts, reverse=True) and counts[0] > 0, counts
    await rows.locator("th a", has_text="Jordan Miles").click()
    await expect(page.get_by_role("heading", name="Jordan Miles", level=1)).to_be_visible()


async def test_a_supervisor_finds_graduates_needing_reassignment_and_loads_more(
    site: Site, open_tab: OpenTab
) -> None:
    # Lee leaves the program with two graduates; Kim has a caseload longer than one page.
    lee = await site.add_staff("Lee Park")
    orphans = {"Avery Stone", "Blair Quist"}
    for name in orphans:
        await site.add_graduate(name, lee)
    deactivated = await site.call(
        site.seeded.dana, "PATCH", f"/v1/staff/{lee.user_id}", json={"active": False}
    )
    assert deactivated.status_code == 200, deactivated.text
    kim = await site.add_staff("Kim Adler")
    for number in range(55):
        await site.add_graduate(f"Zed Kim {number:02d}", kim)

    tab = await open_tab("/console/caseload")
    page = tab.page
    requests = CaseloadRequests(page)
    await sign_in(page, site.seeded.dana)
    rows = page.locator("table.caseload-table tbody tr")
    await expect(rows.first).to_be_visible()
    # The supervisor sees Lee's graduates marked, in words and with a flag, wherever they are.
    await page.get_by_label("Search by name").fill("Avery")
    await expect(rows).to_have_count(1)
    marked = rows.first
    await expect(marked).to_have_attribute("data-needs-reassignment", "true")
    await expect(marked.locator(".flag-reassign")).to_have_text("⚑Needs reassignment")
    await expect(marked).to_contain_text("Lee Park (deactivated)")
    await page.get_by_label("Search by name").fill("")

    await page.get_by_label("Needs reassignment only").check()
    await expect(rows).to_have_count(len(orphans))
    assert requests.last()["needs_reassignment"] == ["true"]
    assert set(await rows.locator("th a").all_inner_texts()) == orphans
    await expect(page.locator("tr[data-needs-reassignment='true']")).to_have_count(len(orphans))
    await expect(page).to_have_url("/console/caseload?reassign=1")
    await screenshot(site, page, "05-caseload-needs-reassignment")
    await check_accessibility(page)
    count = page.locator("#caseload-count")
    await expect(count).to_contain_text("needing reassignment")
    await page.get_by_label("Needs reassignment only").uncheck()
    await expect(count).not_to_contain_text("needing reassignment")
    assert "needs_reassignment" not in requests.last()

    # One page at a time: Kim's 55 are more than a page of 50.
    await page.get_by_label("Search by name").fill("Zed Kim")
    await expect(count).to_contain_text("named “Zed Kim…”")  # drawn from the server's answer
    await expect(rows).to_have_count(50)
    first_page = requests.last()
    assert (
        first_page["search"] == ["Zed Kim"] and first_page["limit"] == ["50"] and "cursor" not in first_page
    )
    await page.get_by_role("button", name="Load more").click()
    await expect(rows).to_have_count(55)
    assert requests.last()["cursor"], requests.last()
    assert requests.last()["search"] == ["Zed Kim"]
    await expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    await expect(rows.nth(50).locator("th a")).to_be_focused()  # the keyboard goes on where it was
    names = await rows.locator("th a").all_inner_texts()
    assert len(set(names)) == 55  # nothing repeated across the pages

    await page.set_viewport_size(TABLET)
    await screenshot(site, page, "05-caseload-tablet", full_page=False)
