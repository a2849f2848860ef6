"""One keyset codec for every list: a cursor it issued pages on without losing or repeating an item,
ties in the sort value included; any other cursor is a 400 problem naming ``cursor``, never a 500.

The codec's own tests are pure; the list tests go through the app on every backend, each list with
the same catalogue of refused cursors built from one of its real cursors."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import msgspec
import pytest

from aftercare.errors import InvalidCursor
from aftercare.pagination import Instant, Keyset
from aftercare.push import service as push
from aftercare.timeline.service import SOURCES as TIMELINE_SOURCES
from tests.checkins.conftest import PLAN, checkin_body
from tests.conftest import Account, Program

TODAY = date(2026, 11, 24)  # T0 in America/Chicago
PROBLEM = "application/problem+json"
ID = uuid.UUID("01936f5e-1c2a-7b3c-8d4e-5f6a7b8c9d0e")


def b64(value: Any) -> str:
    """A cursor-shaped string: base64url, unpadded, of raw bytes or of compact JSON."""
    raw = value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# -- the codec ----------------------------------------------------------------------------------

Version = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
KEYSETS: list[tuple[Any, Any]] = [
    (Keyset[datetime](Instant), datetime(2026, 11, 24, 18, 0, 0, 123456, tzinfo=UTC)),
    (Keyset[date](date), TODAY),
    (Keyset[int](Version), 7),
    (Keyset[tuple[datetime, int]](tuple[Instant, int]), (datetime(2026, 11, 24, 18, tzinfo=UTC), 3)),
    (Keyset[None](None), None),
]


@pytest.mark.parametrize(("keyset", "sort_value"), KEYSETS)
def test_a_cursor_decodes_to_the_typed_key_it_was_made_from(keyset: Keyset[Any], sort_value: Any) -> None:
    key = keyset.decode(keyset.encode(sort_value, ID))
    assert key is not None and key == (sort_value, ID) and type(key.sort_value) is type(sort_value)
    assert keyset.decode(None) is None and keyset.decode("") is None  # the first page


@pytest.mark.parametrize(
    "cursor",
    [
        "!!",
        "é",
        b64(b'["2026-11-24T18:00:00Z","01936f5e-1c2a-7b3c-8d4e-5f6a7b8c9d0e"]junk'),
        b64(["2026-11-24T18:00:00+00:00", str(ID)]),  # a second spelling of the same instant
        b64(["2026-11-24T18:00:00Z", ID.hex]),  # and of the same id
        b64(["2026-11-24T18:00:00Z", str(ID)]) + "==",  # padded
        b64(["1899-12-31T23:59:59Z", str(ID)]),
        b64(["9001-01-01T00:00:00Z", str(ID)]),
    ],
)
def test_the_decoder_takes_back_only_what_the_encoder_makes(cursor: str) -> None:
    with pytest.raises(InvalidCursor) as refused:
        Keyset[datetime](Instant).decode(cursor)
    problem = refused.value.problem()
    assert (problem["status"], problem["type"]) == (400, "/problems/invalid-cursor")
    assert [e["field"] for e in problem["errors"]] == ["cursor"]


def test_the_codec_accepts_its_own_spelling() -> None:
    assert Keyset[datetime](Instant).decode(b64(["2026-11-24T18:00:00Z", str(ID)])) == (
        datetime(2026, 11, 24, 18, tzinfo=UTC),
        ID,
    )


# -- every list, through the app ----------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    path: str  # ``{gid}``: the first graduate's id
    key: str = "id"  # the field that identifies an item
    tied: str | None = None  # the field the list sorts by, where the world below makes ties
    as_supervisor: bool = False  # else as the counselor
    params: tuple[tuple[str, str], ...] = ()  # the list's own query (the caseload's sort)


LISTINGS = {
    "alerts": Listing("/v1/alerts", tied="opened_at"),
    "checkins": Listing("/v1/graduates/{gid}/checkins"),
    # The world's graduates all raised a safety alert today and are all called "Grad": each sort ties.
    "caseload": Listing("/v1/graduates", tied="risk_level"),
    "caseload_by_last_checkin": Listing(
        "/v1/graduates", tied="last_checkin_date", params=(("sort", "last_checkin"),)
    ),
    "caseload_by_open_alerts": Listing(
        "/v1/graduates", tied="open_alerts", params=(("sort", "open_alerts"),)
    ),
    "caseload_by_name": Listing("/v1/graduates", tied="display_name", params=(("sort", "name"),)),
    "staff": Listing("/v1/staff", as_supervisor=True),
    "colleagues": Listing("/v1/staff/colleagues"),
    "plan_versions": Listing("/v1/graduates/{gid}/plan/versions", key="version"),
    "timeline": Listing("/v1/graduates/{gid}/timeline", tied="at"),
    "notifications": Listing("/v1/me/notifications", tied="created_at"),
    "outreach": Listing("/v1/graduates/{gid}/outreach", tied="occurred_at"),
}


@dataclass
class World:
    program: Program
    supervisor: Account
    counselor: Account
    gid: uuid.UUID


@pytest.fixture
async def world(program: Program) -> World:
    """A counselor with three graduates whose check-ins (and the first one's outreach) all come at
    T0: the clock never moves, so the alerts, the inbox, the outreach log and the timeline tie on
    their instants across page boundaries."""
    client = program.client
    supervisor = await program.supervisor()
    counselor = await program.staff(supervisor)
    graduates = [await program.graduate(counselor) for _ in range(3)]
    for graduate in graduates:
        url = f"/v1/graduates/{graduate.graduate_id}"
        response = await client.put(f"{url}/plan", headers=counselor.headers, json=PLAN)
        assert response.status_code == 201, response.text
        for days_ago in (2, 1, 0):  # today's raises a safety alert
            body = checkin_body(TODAY - timedelta(days=days_ago), safety_concern=days_ago == 0)
            response = await client.post(f"{url}/checkins", headers=graduate.headers, json=body)
            assert response.status_code == 201, response.text
    first = graduates[0]
    assert first.graduate_id is not None
    for version in (1, 2):
        plan = {**PLAN, "crisis_plan": {"steps": [f"Call Sam, take {version}"], "crisis_line": "988"}}
        headers = {**counselor.headers, "If-Match": f'"{version}"'}
        response = await client.put(f"/v1/graduates/{first.graduate_id}/plan", headers=headers, json=plan)
        assert response.status_code == 200, response.text
    for _ in range(3):
        outreach = {"client_id": str(uuid.uuid4()), "method": "call", "outcome": "no_answer"}
        url = f"/v1/graduates/{first.graduate_id}/outreach"
        response = await client.post(url, headers=counselor.headers, json=outreach)
        assert response.status_code == 201, response.text
    now = program.clock.now()
    async with program.app.state.session_factory() as session, session.begin():
        await push.enqueue_notifications(
            session, [_notification(counselor, n, now) for n in range(3)], now=now
        )
    return World(program, supervisor, counselor, first.graduate_id)


def _notification(to: Account, n: int, now: datetime) -> push.NotificationSpec:
    return push.NotificationSpec(
        user_id=to.user_id,
        kind="alert",
        title=f"Alert {n}",
        body="Open the console to review it",
        url=None,
        tag=None,
        ref_id=None,
        urgency="normal",
        expires_at=now + timedelta(days=1),
        topic=None,
    )


async def _pages(world: World, listing: Listing, limit: int) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await _get(world, listing, params)
        assert response.status_code == 200, response.text
        pages.append(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages


async def _get(world: World, listing: Listing, params: dict[str, Any]) -> Any:
    account = world.supervisor if listing.as_supervisor else world.counselor
    path = listing.path.format(gid=world.gid)
    return await world.program.client.get(
        path, headers=account.headers, params={**dict(listing.params), **params}
    )


@pytest.mark.parametrize("name", LISTINGS)
async def test_a_cursor_pages_on_without_losing_or_repeating(world: World, name: str) -> None:
    listing = LISTINGS[name]
    whole = [item[listing.key] for page in await _pages(world, listing, 200) for item in page]
    assert len(whole) >= 3 and len(set(whole)) == len(whole)
    if listing.tied:
        items = [item for page in await _pages(world, listing, 200) for item in page]
        assert len({item[listing.tied] for item in items}) < len(items), "the world should make ties"
    # Every page boundary of a short list (so one falls inside each tie); two pages of a long one
    # (the staff list holds every test's staff).
    for limit in range(1, len(whole)) if len(whole) <= 12 else [min(199, (len(whole) + 1) // 2)]:
        pages = await _pages(world, listing, limit)
        assert len(pages) >= 2
        assert [item[listing.key] for page in pages for item in page] == whole, limit


OFF_CALENDAR_INSTANTS = [
    "0001-01-01T00:00:00+05:00",  # before datetime.min once in UTC
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-05:00",  # after datetime.max once in UTC
    "9999-12-31T23:59:59Z",
]
NOT_VALUES: list[Any] = ["yesterday", "", 3.5, True, [], {}]


def _wrong_sort_values(sort_value: Any) -> list[Any]:
    """Values of the wrong type, or of the right type but no list's key, for a sort value like this."""
    if sort_value is None:  # staff sorts by id alone
        return [*NOT_VALUES, 0, "2026-11-24T18:00:00Z"]
    if sort_value == "name" or (isinstance(sort_value, list) and sort_value[0] in CASELOAD_SORT_VALUES):
        # The caseload's: a sort's name, then its values. Another sort's cursor is no cursor of this one.
        others = [
            value for name, value in CASELOAD_SORT_VALUES.items() if name not in (sort_value, sort_value[0])
        ]
        if sort_value == "name":
            return [*NOT_VALUES, *others, "Name", ["name"], ["name", "Grad"]]
        tag, *values = sort_value
        return [
            *NOT_VALUES,
            *others,
            tag,
            [tag],
            values,
            [*sort_value, 0],
            ["name", *values],
            *([tag, *wrong] for wrong in _wrong_caseload_values(values)),
        ]
    if isinstance(sort_value, int):  # a plan version
        return [*NOT_VALUES, 0, -1, 2**31, 2**63, 2**64, str(sort_value)]
    if isinstance(sort_value, list):  # the timeline's (instant, rank)
        at, rank = sort_value
        return [
            *NOT_VALUES,
            at,
            [at],
            [at, rank, 0],
            *([wrong, rank] for wrong in _wrong_sort_values(at)),
            *([at, wrong] for wrong in (-1, len(TIMELINE_SOURCES), 2**64, "0", None)),
        ]
    if "T" in sort_value:  # an instant
        naive, day = sort_value.removesuffix("Z"), sort_value[:10]
        return [*NOT_VALUES, *OFF_CALENDAR_INSTANTS, naive, day, naive + "+00:00", 1764007200]
    return [*NOT_VALUES, "0001-01-01", "9999-12-31", "2026-02-30", "20261124", sort_value + "T00:00:00Z"]


CASELOAD_SORT_VALUES: dict[str, Any] = {
    "risk": ["risk", 0, "2026-11-25"],
    "last_checkin": ["last_checkin", "2026-11-25"],
    "open_alerts": ["open_alerts", 1],
    "name": "name",
}


def _wrong_caseload_values(values: list[Any]) -> list[list[Any]]:
    wrong: list[list[Any]] = []
    for n, value in enumerate(values):
        if isinstance(value, int):  # a risk order 0-3, or a count of open alerts
            replacements: list[Any] = [-1, 2**63, 2**64, str(value), None, 1.5, True]
            if len(values) == 2:
                replacements.append(4)
        else:  # a local day
            replacements = [
                None,
                0,
                "0001-01-01",
                "9999-12-31",
                "2026-02-30",
                "20261125",
                value + "T00:00:00Z",
            ]
        wrong += [[*values[:n], replacement, *values[n + 1 :]] for replacement in replacements]
    return wrong


def refused_cursors(valid: str) -> list[str]:
    """Everything but ``valid`` and the cursors its list issues: tampered, truncated, well-formed but
    wrong, each built from a real cursor of the list."""
    sort_value, item_id = json.loads(base64.urlsafe_b64decode(valid + "=" * (-len(valid) % 4)))
    flipped = "B" if valid[5] == "A" else "A"
    cursors = [
        "!!not-base64!!",
        "%%%",
        "é",
        "A",
        valid[:-1],
        valid[:-2],
        valid[:-3],
        valid[1:],
        valid[: len(valid) // 2],
        valid[:5] + flipped + valid[6:],
        valid + "=",
        valid + "AAAA",
        b64(b"not json"),
        b64(json.dumps([sort_value, item_id]).encode()),  # the same key, spaced
        b64([sort_value, item_id, item_id]),
        b64([sort_value]),
        b64([]),
        b64({"sort_value": sort_value, "id": item_id}),
        b64(None),
        b64([sort_value, "not-a-uuid"]),
        b64([sort_value, 5]),
        b64([sort_value, None]),
        b64([sort_value, uuid.UUID(item_id).hex]),
        *(b64([wrong, item_id]) for wrong in _wrong_sort_values(sort_value)),
    ]
    if isinstance(sort_value, int) and not isinstance(sort_value, bool):  # a plan version: another plan's
        cursors.append(b64([sort_value, str(uuid.uuid4())]))
    if sort_value == "name":  # the caseload by name reads the name of a graduate in the caller's reach
        cursors.append(b64([sort_value, str(uuid.uuid4())]))
    if isinstance(sort_value, list) and len(sort_value) == 2 and "T" in str(sort_value[0]):
        # the timeline: keys its integer-keyed sources cannot hold
        at = sort_value[0]
        for rank, wrapped in ((3, 2**63), (4, 2**31), (5, 0), (5, date.max.toordinal() + 1), (5, 2**127)):
            cursors.append(b64([[at, rank], str(uuid.UUID(int=wrapped))]))
    return cursors


@pytest.mark.parametrize("name", LISTINGS)
async def test_any_other_cursor_is_a_400_naming_cursor(world: World, name: str) -> None:
    listing = LISTINGS[name]
    first = await _get(world, listing, {"limit": 1})
    valid = first.json()["next_cursor"]
    assert first.status_code == 200 and valid
    assert (await _get(world, listing, {"limit": 1, "cursor": valid})).status_code == 200
    wrong = []
    for cursor in refused_cursors(valid):
        assert len(cursor) <= 200, cursor  # under the parameter's max_length: the decoder judges it
        response = await _get(world, listing, {"cursor": cursor})
        problem = response.json() if response.headers["content-type"].startswith(PROBLEM) else {}
        if (response.status_code, problem.get("type"), [e["field"] for e in problem.get("errors", [])]) != (
            400,
            "/problems/invalid-cursor",
            ["cursor"],
        ):
            wrong.append((cursor, response.status_code, response.text[:200]))
    assert not wrong, wrong
