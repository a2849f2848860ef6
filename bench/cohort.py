"""Synthetic aftercare cohorts in the backtest's input format, with the ground truth kept apart.

Why synthetic: no program can hand its graduates' check-ins to a benchmark, yet the warning-sign
engine must be measured on histories where we *know* when a lapse came and what preceded it. Every
graduate gets a personal baseline (mean and noise of mood, craving, stress, sleep, their own rates of
missed days, meetings attended, triggers met), because the engine is meant to judge a person against
themselves, and a cohort where everyone shares one baseline would reward absolute cut-offs.

Archetypes (drawn per graduate):
- ``stable``: baseline noise only.
- ``noisy``: stable but with wide day-to-day swings (the false-alarm test).
- ``prodromal``: one or two lapses, each preceded over 5-14 days by a personal, random subset of
  warning signs (craving creeping up, mood sinking, stress up, sleep down, missed meetings, isolating,
  triggers without coping, missed medication) at a personal strength, so no single signal carries
  every prodrome.
- ``sudden``: lapses with no prodrome.
- ``dropout``: stops checking in for good at some day.
Any graduate may give an occasional safety answer, miss days at random, or sync late (``received_at``
a day or two after the day it is for).

Each graduate is drawn from its own RNG seeded by ``(seed, index)``, so a graduate's history does not
depend on how many others are generated. Output streams one graduate a line; nothing is held.

    python bench/cohort.py --graduates 1000 --days 120 --seed 7 --out cohort.jsonl --truth truth.jsonl
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import msgspec

# Zones with northern DST, southern DST, no DST, and half/quarter-hour offsets.
TIMEZONES = (
    "America/Chicago",
    "America/New_York",
    "America/Denver",
    "America/Los_Angeles",
    "America/Phoenix",
    "America/St_Johns",
    "America/Anchorage",
    "Pacific/Honolulu",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Asia/Kolkata",
    "Asia/Kathmandu",
)
CHECKIN_TIMES = (None, None, "08:00", "12:30", "18:00", "20:30", "21:00")
ARCHETYPES = (("stable", 0.37), ("noisy", 0.18), ("prodromal", 0.22), ("sudden", 0.08), ("dropout", 0.15))
PRODROME_SIGNALS = ("craving", "mood", "stress", "sleep", "support", "isolation", "triggers", "medication")
FIRST_START = date(2026, 1, 5)

_encoder = msgspec.json.Encoder()


@dataclass
class Baseline:
    """One person's ordinary days: the engine should learn these, not assume them."""

    mood: float
    mood_sd: float
    craving: float
    craving_sd: float
    stress: float
    stress_sd: float
    sleep: float
    sleep_sd: float
    reports_sleep: bool
    reports_isolation: bool
    isolating: float
    attendance: float
    meeting_days: frozenset[int]
    adherence: float
    trigger_rate: float
    coping_rate: float
    missing_rate: float
    late_rate: float


@dataclass
class Episode:
    """A lapse and the prodrome leading to it (``strengths`` empty when it came out of nowhere)."""

    lapse: int
    prodrome_start: int | None
    kind: str
    strengths: dict[str, float] = field(default_factory=dict)
    shape: float = 1.0


def _archetype(rng: random.Random) -> str:
    roll = rng.random()
    for name, weight in ARCHETYPES:
        roll -= weight
        if roll < 0:
            return name
    return ARCHETYPES[-1][0]


def _baseline(rng: random.Random, noisy: bool, meetings: int) -> Baseline:
    wide = 1.7 if noisy else 1.0
    return Baseline(
        mood=rng.uniform(2.8, 4.4),
        mood_sd=rng.uniform(0.35, 0.8) * wide,
        craving=rng.uniform(0.3, 4.0),
        craving_sd=rng.uniform(0.6, 1.4) * wide,
        stress=rng.uniform(1.5, 5.5),
        stress_sd=rng.uniform(0.7, 1.5) * wide,
        sleep=rng.uniform(5.8, 8.2),
        sleep_sd=rng.uniform(0.4, 1.0) * wide,
        reports_sleep=rng.random() < 0.8,
        reports_isolation=rng.random() < 0.85,
        isolating=rng.uniform(0.0, 0.12) * wide,
        attendance=rng.uniform(0.8, 0.98) if not noisy else rng.uniform(0.7, 0.92),
        meeting_days=frozenset(rng.sample(range(7), meetings)),
        adherence=rng.uniform(0.88, 0.995),
        trigger_rate=rng.uniform(0.03, 0.2) * wide,
        coping_rate=rng.uniform(0.6, 0.95),
        missing_rate=rng.uniform(0.01, 0.12) * (1.3 if noisy else 1.0),
        late_rate=rng.uniform(0.0, 0.1),
    )


def _plan(rng: random.Random, start: date, meetings: frozenset[int], medicated: bool) -> dict[str, Any]:
    byday = ",".join(("MO", "TU", "WE", "TH", "FR", "SA", "SU")[d] for d in sorted(meetings))
    skills = [
        {"id": f"cs{i}", "name": name}
        for i, name in enumerate(
            rng.sample(["urge surfing", "call sponsor", "walk", "breathing", "HALT check"], 3)
        )
    ]
    categories = ["people", "places", "emotions", "situations", "sensations"]
    triggers = [
        {
            "id": f"tr{i}",
            "name": f"trigger {i}",
            "category": rng.choice(categories),
            "coping_skill_ids": [s["id"] for s in rng.sample(skills, rng.randint(1, 2))],
            "risk": rng.choice(["low", "medium", "high"]),
        }
        for i in range(rng.randint(2, 4))
    ]
    start_local = f"{start.isoformat()}T{rng.choice(['18:00', '19:30', '12:00'])}"
    plan: dict[str, Any] = {
        "therapy": [],
        "support_groups": [],
        "coping_skills": skills,
        "triggers": triggers,
        "warning_signs": [{"id": "ws0", "description": "skipping meetings"}],
        "medications": [],
        "support_contacts": [{"id": "sc0", "name": "Sponsor", "relation": "sponsor"}],
        "goals": [],
        "crisis_plan": {"steps": ["call sponsor", "call the crisis line"], "crisis_line": "988"},
    }
    if byday:
        plan["support_groups"] = [
            {
                "id": "sg0",
                "name": "Home group",
                "fellowship": rng.choice(["AA", "NA", "SMART"]),
                "schedule": {"rrule": f"FREQ=WEEKLY;BYDAY={byday}", "start_local": start_local},
                "reminder_minutes_before": [60],
            }
        ]
    if medicated:
        plan["medications"] = [
            {
                "id": "med0",
                "name": rng.choice(["naltrexone", "buprenorphine", "acamprosate"]),
                "schedule": {"rrule": "FREQ=DAILY", "start_local": f"{start.isoformat()}T08:00"},
                "remind": True,
            }
        ]
    return plan


def _episodes(rng: random.Random, archetype: str, days: int) -> list[Episode]:
    if archetype not in ("prodromal", "sudden"):
        return []
    count = 1 if days < 80 or rng.random() < 0.6 else 2
    span = days // count
    episodes: list[Episode] = []
    for k in range(count):
        lapse = rng.randint(k * span + min(20, span // 2), (k + 1) * span - 3)
        if archetype == "sudden":
            episodes.append(Episode(lapse=lapse, prodrome_start=None, kind="sudden"))
        else:
            length = rng.randint(5, 14)
            chosen = rng.sample(PRODROME_SIGNALS, rng.randint(2, 5))
            episodes.append(
                Episode(
                    lapse=lapse,
                    prodrome_start=max(1, lapse - length),
                    kind="prodromal",
                    strengths={s: rng.uniform(0.45, 1.0) for s in chosen},
                    shape=rng.uniform(0.7, 2.0),
                )
            )
        # A first lapse is sometimes followed within two weeks by another (no fresh prodrome).
        if rng.random() < 0.2 and lapse + 14 < days:
            episodes.append(Episode(lapse=lapse + rng.randint(2, 13), prodrome_start=None, kind="follow_on"))
    return episodes


def _clip(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def _received_at(rng: random.Random, day: date, tz: ZoneInfo, prompt: time, late: bool) -> str | None:
    if late:
        at = datetime.combine(
            day + timedelta(days=rng.randint(1, 2)), time(rng.randint(7, 22), rng.randint(0, 59))
        )
    elif rng.random() < 0.5:
        return None  # arrived at the prompt time, the contract's default
    else:
        minutes = prompt.hour * 60 + prompt.minute + rng.randint(-90, 150)
        minutes = int(_clip(minutes, 6 * 60, 23 * 60 + 50))
        at = datetime.combine(day, time(minutes // 60, minutes % 60))
    return at.replace(tzinfo=tz).astimezone(UTC).isoformat().replace("+00:00", "Z")


def graduate(seed: int, index: int, days: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """One graduate's history (the backtest's input line) and their ground truth."""
    rng = random.Random(f"{seed}:{index}")
    archetype = _archetype(rng)
    gid = f"g{index:05d}"
    tz_name = rng.choice(TIMEZONES)
    tz = ZoneInfo(tz_name)
    start = FIRST_START + timedelta(days=rng.randint(0, 90))
    end = start + timedelta(days=days - 1)
    checkin_time = rng.choice(CHECKIN_TIMES)
    prompt = time.fromisoformat(checkin_time or "19:00")
    has_plan = rng.random() < 0.8
    meetings = rng.randint(1, 4) if has_plan else 0
    base = _baseline(rng, archetype == "noisy", meetings)
    medicated = has_plan and rng.random() < 0.4
    plan = _plan(rng, start, base.meeting_days, medicated) if has_plan else None
    trigger_ids = [t["id"] for t in plan["triggers"]] if plan else []
    episodes = _episodes(rng, archetype, days)
    lapse_days = {e.lapse for e in episodes}
    dropout_day = rng.randint(20, days - 10) if archetype == "dropout" else None
    active_days = days if dropout_day is None else dropout_day + 1
    safety_days = set(rng.sample(range(active_days), rng.randint(1, 2))) if rng.random() < 0.04 else set()

    checkins: list[dict[str, Any]] = []
    last_checkin: date | None = None
    for offset in range(days):
        day = start + timedelta(days=offset)
        if dropout_day is not None and offset > dropout_day:
            break
        pull = _prodrome_pull(episodes, offset)
        after = _aftermath(episodes, offset)
        lapsed = offset in lapse_days
        safety = offset in safety_days
        # Lapses and safety answers are always reported: they are what the truth measures.
        skip = base.missing_rate + 0.15 * pull.get("isolation", 0.0)
        if not (lapsed or safety or offset == dropout_day) and rng.random() < skip:
            continue
        checkin = _day(rng, base, pull, after, day, trigger_ids, plan, lapsed, safety)
        late = offset != dropout_day and rng.random() < base.late_rate
        received = _received_at(rng, day, tz, prompt, late)
        if received is not None:
            checkin["received_at"] = received
        if rng.random() < 0.7:
            checkin["client_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        checkins.append(checkin)
        last_checkin = day
    rng.shuffle(checkins)  # the contract allows any order; the backtest must sort.

    history: dict[str, Any] = {
        "graduate": gid,
        "timezone": tz_name,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "checkins": checkins,
    }
    if checkin_time is not None:
        history["checkin_time"] = checkin_time
    if plan is not None:
        history["plan"] = plan
    truth = {
        "graduate": gid,
        "archetype": archetype,
        "lapses": [
            {
                "local_date": (start + timedelta(days=e.lapse)).isoformat(),
                "kind": e.kind,
                "prodrome_start": None
                if e.prodrome_start is None
                else (start + timedelta(days=e.prodrome_start)).isoformat(),
                "signals": sorted(e.strengths),
            }
            for e in sorted(episodes, key=lambda e: e.lapse)
        ],
        "dropout_last_checkin": last_checkin.isoformat()
        if dropout_day is not None and last_checkin
        else None,
        "safety_days": sorted((start + timedelta(days=d)).isoformat() for d in safety_days),
    }
    return history, truth


def _prodrome_pull(episodes: list[Episode], offset: int) -> dict[str, float]:
    """How far each warning sign is pulled today, 0 (baseline) to 1 (full strength)."""
    pull: dict[str, float] = {}
    for e in episodes:
        if e.prodrome_start is None or not e.prodrome_start <= offset < e.lapse:
            continue
        ramp = ((offset - e.prodrome_start + 1) / (e.lapse - e.prodrome_start)) ** e.shape
        for signal, strength in e.strengths.items():
            pull[signal] = max(pull.get(signal, 0.0), ramp * strength)
    return pull


def _aftermath(episodes: list[Episode], offset: int) -> float:
    """Distress in the days after a lapse, fading over about a week."""
    worst = 0.0
    for e in episodes:
        if 0 < offset - e.lapse <= 7:
            worst = max(worst, math.exp(-(offset - e.lapse) / 3))
    return worst


def _day(
    rng: random.Random,
    base: Baseline,
    pull: dict[str, float],
    after: float,
    day: date,
    trigger_ids: list[str],
    plan: dict[str, Any] | None,
    lapsed: bool,
    safety: bool,
) -> dict[str, Any]:
    craving_shift = 5.0 * pull.get("craving", 0.0) + 3.0 * after + (4.0 if lapsed else 0.0)
    mood_shift = 2.2 * pull.get("mood", 0.0) + 1.2 * after + (1.5 if lapsed else 0.0)
    checkin: dict[str, Any] = {
        "local_date": day.isoformat(),
        "mood": round(_clip(rng.gauss(base.mood - mood_shift, base.mood_sd), 1, 5)),
        "craving": round(_clip(rng.gauss(base.craving + craving_shift, base.craving_sd), 0, 10)),
        "stress": round(
            _clip(rng.gauss(base.stress + 4.0 * pull.get("stress", 0.0) + 2 * after, base.stress_sd), 0, 10)
        ),
        "used": lapsed,
        "safety_concern": safety,
        "attended_support": None,
        "took_medication": None,
        "triggers": [],
        "coping_used": [],
    }
    if base.reports_sleep:
        sleep = rng.gauss(base.sleep - 2.5 * pull.get("sleep", 0.0) - after, base.sleep_sd)
        checkin["sleep_hours"] = round(_clip(sleep, 0, 24) * 2) / 2
    if base.reports_isolation:
        checkin["isolating"] = rng.random() < base.isolating + 0.75 * pull.get("isolation", 0.0)
    if plan is not None and plan["support_groups"] and day.weekday() in base.meeting_days:
        checkin["attended_support"] = rng.random() < base.attendance * (1 - 0.9 * pull.get("support", 0.0))
    if plan is not None and plan["medications"]:
        checkin["took_medication"] = rng.random() < base.adherence * (1 - 0.8 * pull.get("medication", 0.0))
    if trigger_ids and rng.random() < base.trigger_rate + 0.6 * pull.get("triggers", 0.0) + 0.3 * after:
        met = rng.sample(trigger_ids, rng.randint(1, min(2, len(trigger_ids))))
        checkin["triggers"] = met
        if rng.random() < base.coping_rate * (1 - 0.85 * pull.get("triggers", 0.0)):
            assert plan is not None
            linked = {cs for t in plan["triggers"] if t["id"] in met for cs in t["coping_skill_ids"]}
            checkin["coping_used"] = sorted(linked)[:1]
    if rng.random() < 0.05:
        checkin["note"] = "rough day" if mood_shift > 1 else "ok"
    return checkin


def generate(graduates: int, days: int, seed: int) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for index in range(graduates):
        yield graduate(seed, index, days)


def write_cohort(graduates: int, days: int, seed: int, out: TextIO, truth: TextIO) -> None:
    for history, known in generate(graduates, days, seed):
        out.write(_encoder.encode(history).decode())
        out.write("\n")
        truth.write(_encoder.encode(known).decode())
        truth.write("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--graduates", type=int, default=1000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--truth", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.days < 30:
        parser.error("--days must be at least 30 (room for a prodrome and a dropout)")
    with args.out.open("w", encoding="utf-8") as out, args.truth.open("w", encoding="utf-8") as truth:
        write_cohort(args.graduates, args.days, args.seed, out, truth)
    return 0


if __name__ == "__main__":
    sys.exit(main())
