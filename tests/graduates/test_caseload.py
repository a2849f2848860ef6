"""A current caseload: risk follows the active alerts in the transaction that changes them (and the
latest assessment without any), streaks break on a missed day, days since the last check-in count in
the graduate's own zone; the list sorts, filters, searches and pages, and refuses what it does not
know with a 422 naming the parameter."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from aftercare.flows.sweep import close_day
from aftercare.program.service import current_rules
from tests.checkins.conftest import PLAN, Cast, checkin_body
from tests.conftest import Account, Program

TODAY = date(2026, 11, 24)  # T0 (18:00 UTC) in America/Chicago
LATER = TODAY + timedelta(days=5)


async def _profile(cast: Cast, by: Account | None = None) -> dict[str, Any]:
    response = await cast.program.client.get(
        f"/v1/graduates/{cast.gid}", headers=(by or cast.counselor).headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _close(cast: Cast, day: date) -> None:
    """The sweep's close of ``day`` for the cast's graduate (missed day, silence rule)."""
    async with cast.program.app.state.session_factory() as session, session.begin():
        rules = await current_rules(session)
        await close_day(
            session, graduate_id=cast.gid, local_date=day, rules=rules, now=cast.program.clock.now()
        )


async def _caseload(program: Program, by: Account, **params: Any) -> list[dict[str, Any]]:
    """Every page of ``GET /v1/graduates`` with ``params``, two items a page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await program.client.get("/v1/graduates", headers=by.headers, params=query)
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return items


async def test_risk_rises_on_a_silence_alert_and_falls_when_it_resolves(cast: Cast) -> None:
    clock, client = cast.program.clock, cast.program.client
    assert (await cast.submit(TODAY)).status_code == 201
    profile = await _profile(cast)
    assert (profile["risk_level"], profile["open_alerts"], profile["days_since_checkin"]) == ("low", 0, 0)
    for offset in (1, 2):  # two days without a check-in: silence, a warning
        clock.advance(days=1)
        await _close(cast, TODAY + timedelta(days=offset))
    profile = await _profile(cast)
    assert (profile["risk_level"], profile["open_alerts"]) == ("moderate", 1)
    assert (profile["days_since_checkin"], profile["streak_days"]) == (2, 0)
    (silence,) = [a for a in await cast.alerts() if a["rule"] == "silence"]

    # Acknowledged is still active: the risk stays until the alert is resolved.
    acknowledged = await client.post(
        f"/v1/alerts/{silence['id']}/acknowledge", headers=cast.counselor.headers
    )
    assert acknowledged.status_code == 200
    assert (await _profile(cast))["risk_level"] == "moderate"
    resolved = await client.post(
        f"/v1/alerts/{silence['id']}/resolve",
        headers=cast.counselor.headers,
        json={"note": "Reached; travelling."},
    )
    assert resolved.status_code == 200
    profile = await _profile(cast)
    assert (profile["risk_level"], profile["open_alerts"]) == ("low", 0)  # the last assessment's level


async def test_risk_is_the_worst_active_alert_then_the_latest_assessment(cast: Cast) -> None:
    client = cast.program.client
    assert (await cast.submit(TODAY - timedelta(days=1), used=True)).status_code == 201  # a lapse: high
    assert (await _profile(cast))["risk_level"] == "high"
    # Today's calm check-in is assessed low, but the lapse alert is still active.
    calm = await cast.submit(TODAY)
    assert calm.status_code == 201 and calm.json()["assessment"]["risk_level"] == "low"
    assert (await _profile(cast))["risk_level"] == "high"
    help_now = await client.post(
        f"/v1/graduates/{cast.gid}/help", headers=cast.graduate.headers, json={"client_id": str(uuid.uuid4())}
    )
    assert help_now.status_code == 201
    profile = await _profile(cast)
    assert (profile["risk_level"], profile["open_alerts"]) == ("critical", 2)
    for alert in await cast.alerts():
        note = {"note": "Seen in clinic."}
        response = await client.post(
            f"/v1/alerts/{alert['id']}/resolve", headers=cast.counselor.headers, json=note
        )
        assert response.status_code == 200
        expected = "high" if alert["rule"] == "safety" else "low"  # the lapse's, then the latest day's
        assert (await _profile(cast))["risk_level"] == expected, alert["rule"]


async def test_streak_is_zero_after_a_missed_day(cast: Cast) -> None:
    clock = cast.program.clock
    for offset in (2, 1, 0):
        assert (await cast.submit(TODAY - timedelta(days=offset))).status_code == 201
    assert ((await _profile(cast))["streak_days"], (await _profile(cast))["days_since_checkin"]) == (3, 0)
    clock.advance(days=1)  # the next evening: today is still open, the streak holds
    profile = await _profile(cast)
    assert (profile["streak_days"], profile["days_since_checkin"]) == (3, 1)
    clock.advance(days=1)  # a whole day went by without a check-in
    await _close(cast, TODAY + timedelta(days=1))
    profile = await _profile(cast)
    assert (profile["streak_days"], profile["days_since_checkin"]) == (0, 2)
    assert (await cast.submit(TODAY + timedelta(days=2))).status_code == 201
    assert (await _profile(cast))["streak_days"] == 1


async def test_days_since_checkin_counts_in_the_graduates_own_zone(program: Program) -> None:
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    # T0 is 18:00 UTC: already the 25th in Auckland, still the 24th in Chicago.
    auckland = await program.graduate(counselor, timezone="Pacific/Auckland")
    body = checkin_body(date(2026, 11, 25))
    response = await program.client.post(
        f"/v1/graduates/{auckland.graduate_id}/checkins", headers=auckland.headers, json=body
    )
    assert response.status_code == 201, response.text
    program.clock.advance(hours=18)  # 12:00 UTC on the 25th: already the 26th in Auckland
    profile = (
        await program.client.get(f"/v1/graduates/{auckland.graduate_id}", headers=counselor.headers)
    ).json()
    assert (profile["last_checkin_date"], profile["days_since_checkin"]) == ("2026-11-25", 1)


@pytest.fixture
async def caseload(program: Program) -> dict[str, Any]:
    """A counselor's five graduates, enrolled on the 24th, each sorting differently on the 29th, and
    one of another counselor's:

    ========  =========================  =========  ============  ============
    name      alerts                     risk       last check-in silent since
    ========  =========================  =========  ============  ============
    Ana       safety (critical)          critical   29th          30th
    Émile     lapse (high)               high       28th          29th
    bob       none, a calm day           low        26th          27th
    Zoë       lapse, help (critical)     critical   26th          27th
    Carl      none, never checked in     low        none          24th
    ========  =========================  =========  ============  ============
    """
    supervisor = await program.supervisor()
    counselor, other = await program.staff(supervisor), await program.staff(supervisor)
    made: dict[str, Account] = {}
    for name in ("Ana", "Émile", "bob", "Zoë", "Carl"):
        made[name] = await program.graduate(counselor, display_name=name)
        response = await program.client.put(
            f"/v1/graduates/{made[name].graduate_id}/plan", headers=counselor.headers, json=PLAN
        )
        assert response.status_code == 201

    async def submit(name: str, day: date, **answers: Any) -> None:
        account = made[name]
        url = f"/v1/graduates/{account.graduate_id}/checkins"
        response = await program.client.post(url, headers=account.headers, json=checkin_body(day, **answers))
        assert response.status_code == 201, response.text

    program.clock.advance(days=5)
    await submit("Ana", LATER, safety_concern=True)
    await submit("Émile", LATER - timedelta(days=1), used=True)
    await submit("bob", LATER - timedelta(days=3))
    await submit("Zoë", LATER - timedelta(days=3), used=True)
    help_now = await program.client.post(
        f"/v1/graduates/{made['Zoë'].graduate_id}/help",
        headers=made["Zoë"].headers,
        json={"client_id": str(uuid.uuid4())},
    )
    assert help_now.status_code == 201
    stranger = await program.graduate(other, display_name="Anabel")
    ids = {name: str(account.graduate_id) for name, account in made.items()}
    return {
        "counselor": counselor,
        "other": other,
        "supervisor": supervisor,
        "ids": ids,
        "stranger": stranger,
    }


def _names(items: list[dict[str, Any]], ids: dict[str, str]) -> list[str]:
    by_id = {graduate_id: name for name, graduate_id in ids.items()}
    return [by_id[item["id"]] for item in items if item["id"] in by_id]


async def test_each_sort_orders_and_pages(program: Program, caseload: dict[str, Any]) -> None:
    counselor, ids = caseload["counselor"], caseload["ids"]
    # Risk: critical first, the longer silence first within a level; ties by enrollment.
    expected = {
        "risk": ["Zoë", "Ana", "Émile", "Carl", "bob"],
        "last_checkin": ["Carl", "bob", "Zoë", "Émile", "Ana"],
        "open_alerts": ["Zoë", "Émile", "Ana", "Carl", "bob"],  # ties: the newest first
        "name": ["Ana", "bob", "Carl", "Émile", "Zoë"],
    }
    assert _names(await _caseload(program, counselor), ids) == expected["risk"]  # the default
    for sort, names in expected.items():
        items = await _caseload(program, counselor, sort=sort)
        assert _names(items, ids) == names, sort
        assert len(items) == 5, sort  # the other counselor's graduate is out of reach
    everyone = await _caseload(program, caseload["supervisor"], sort="name")
    assert str(caseload["stranger"].graduate_id) in {item["id"] for item in everyone}
    by_name = {
        name: item for name, item in zip(expected["risk"], await _caseload(program, counselor), strict=True)
    }
    assert by_name["Carl"]["days_since_checkin"] is None and by_name["bob"]["days_since_checkin"] == 3
    assert (by_name["Zoë"]["risk_level"], by_name["Zoë"]["open_alerts"]) == ("critical", 2)


async def test_filters_and_search(program: Program, caseload: dict[str, Any]) -> None:
    counselor, ids = caseload["counselor"], caseload["ids"]

    async def names(**params: Any) -> list[str]:
        return _names(await _caseload(program, counselor, **params), ids)

    assert await names(risk_level="critical") == ["Zoë", "Ana"]
    assert await names(risk_level=["low", "high"], sort="name") == ["bob", "Carl", "Émile"]
    assert await names(has_open_alerts="true") == ["Zoë", "Ana", "Émile"]
    assert await names(has_open_alerts="false") == ["Carl", "bob"]
    assert await names(status="active", sort="name") == ["Ana", "bob", "Carl", "Émile", "Zoë"]
    assert await names(status="discharged") == []
    # A prefix, whatever the case and accents, on either side.
    assert await names(search="e") == ["Émile"]
    assert await names(search="ÉM") == ["Émile"]
    assert await names(search="zoe") == ["Zoë"]
    assert await names(search="B", sort="name") == ["bob"]
    assert await names(search="mile") == []
    assert await names(search="an", risk_level="critical") == ["Ana"]
    # Search stays within reach: the other counselor's Anabel is not found by this counselor.
    found = await _caseload(program, counselor, search="Anab")
    assert found == []
    assert len(await _caseload(program, caseload["other"], search="anab")) == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "urgency"}, "sort"),
        ({"sort": ""}, "sort"),
        ({"risk_level": "severe"}, "risk_level"),
        ({"risk_level": ["high", "severe"]}, "risk_level"),
        ({"status": "paused"}, "status"),
        ({"has_open_alerts": "maybe"}, "has_open_alerts"),
        ({"search": ""}, "search"),
        ({"search": "x" * 201}, "search"),
        ({"search": "  "}, "search"),
        ({"search": "\u0301"}, "search"),  # a combining accent alone
        ({"search": "a\x00"}, "search"),  # PostgreSQL refuses NUL in text: never a 500
        ({"search": "\t"}, "search"),
        ({"limit": 0}, "limit"),
    ],
)
async def test_an_unknown_value_is_a_422_naming_the_parameter(
    program: Program, params: dict[str, Any], field: str
) -> None:
    supervisor = await program.supervisor()
    response = await program.client.get("/v1/graduates", headers=supervisor.headers, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_one_sorts_cursor_is_not_anothers(program: Program, caseload: dict[str, Any]) -> None:
    counselor = caseload["counselor"]
    first = await program.client.get(
        "/v1/graduates", headers=counselor.headers, params={"limit": 1, "sort": "name"}
    )
    cursor = first.json()["next_cursor"]
    for sort in ("risk", "last_checkin", "open_alerts"):
        response = await program.client.get(
            "/v1/graduates", headers=counselor.headers, params={"cursor": cursor, "sort": sort}
        )
        assert response.status_code == 400 and response.json()["type"] == "/problems/invalid-cursor", sort
    # A name never travels in a cursor: the name sort's holds the last graduate's id only.
    decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    assert decoded == ["name", first.json()["items"][0]["id"]]


async def test_a_cursor_taken_under_another_filter_still_pages_in_order(
    program: Program, caseload: dict[str, Any]
) -> None:
    """A filter that pins the sort's first value (one risk level; no open alerts) pages on that value
    alone: a cursor from before or after it gives all of it or none, never a wrong slice."""
    counselor, ids = caseload["counselor"], caseload["ids"]

    async def page(**params: Any) -> Any:
        response = await program.client.get("/v1/graduates", headers=counselor.headers, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    at_critical = (await page(limit=1))["next_cursor"]  # after Zoë: critical
    assert _names((await page(cursor=at_critical, risk_level="low"))["items"], ids) == ["Carl", "bob"]
    assert _names((await page(cursor=at_critical, risk_level="critical"))["items"], ids) == ["Ana"]
    at_low = (await page(limit=4))["next_cursor"]  # after Carl: low
    assert (await page(cursor=at_low, risk_level="critical"))["items"] == []
    at_two_alerts = (await page(limit=1, sort="open_alerts"))["next_cursor"]  # after Zoë: 2 open
    none_open = await page(cursor=at_two_alerts, sort="open_alerts", has_open_alerts="false")
    assert _names(none_open["items"], ids) == ["Carl", "bob"]
    by_name = (await page(limit=1, sort="name", search="zz"))["items"]
    assert by_name == []
    after_ana = (await page(limit=1, sort="name"))["next_cursor"]
    assert _names((await page(cursor=after_ana, sort="name", search="e"))["items"], ids) == ["Émile"]
