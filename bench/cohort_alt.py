"""A second synthetic cohort, designed apart from ``cohort.py``, to catch an engine fitted to one generator.

The warning-sign engine was tuned while looking at ``cohort.py``'s figures, so those figures are no
longer out-of-sample. This generator shares only the output format (the backtest's JSON Lines input,
and the same ground-truth lines) and deliberately differs in everything the engine might have
learned:

- **Noise**: heavy-tailed day-to-day noise (Student t, 3 degrees of freedom), a weekday/weekend
  rhythm (weekend craving and sleep up, weekday stress up), and slow drift of the baseline over the
  months (recovery getting easier, or harder).
- **People**: baselines from skewed distributions, including chronically high-craving or low-mood
  graduates who never lapse (they must not flood the counselor) and people who answer the optional
  fields (sleep, isolation) only on some days.
- **Prodromes**: gradual (logistic) or stepwise (a jump to a plateau), 3 to 21 days long, carrying
  a single signal (only sleep, only isolation, only craving...) or several, at a strength measured
  in the person's own spread; relapse may come after a long stable stretch.
- **Silence and sync**: missed days come in bursts (a weekend away), phones go offline and sync
  several days at once, and dropouts either stop at once or fade out over a week or two.

Each graduate is drawn from its own RNG seeded by ``("alt", seed, index)``. Ground truth goes to a
separate file in ``cohort.py``'s truth format, so ``bench/engine_cohort.py`` scores both alike.

    python bench/cohort_alt.py --graduates 1000 --days 120 --seed 7 --out alt.jsonl --truth alt-truth.jsonl
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import msgspec

TIMEZONES = (
    "America/Chicago", "America/New_York", "America/Los_Angeles", "America/Sao_Paulo",
    "Europe/Dublin", "Europe/Helsinki", "Africa/Johannesburg", "Asia/Tokyo", "Australia/Adelaide",
    "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Tehran", "America/Havana",
)  # fmt: skip
PROMPTS = ("07:30", "09:00", "13:00", "17:00", "19:00", "22:00")
ARCHETYPES = (
    ("stable", 0.28),
    ("noisy", 0.12),
    ("chronic", 0.08),  # high craving or low mood as their ordinary, never lapses
    ("prodromal", 0.26),
    ("sudden", 0.08),
    ("dropout", 0.12),
    ("fading", 0.06),  # a dropout that thins out before it stops
)
SIGNALS = ("craving", "mood", "stress", "sleep", "support", "isolation", "triggers", "medication")
FIRST_START = date(2026, 2, 2)
_encoder = msgspec.json.Encoder()


@dataclass
class Person:
    mood: float
    craving: float
    stress: float
    sleep: float
    spread: float  # scale of the t-distributed noise (the person's own volatility)
    drift: float  # baseline change per 30 days (negative: getting better), in craving points
    weekend: float  # weekend craving lift
    sleep_answer_rate: float
    isolation_answer_rate: float
    isolating: float
    attendance: float
    meeting_days: tuple[int, ...]
    adherence: float | None
    trigger_rate: float
    coping_rate: float
    burst_rate: float  # chance a day starts a run of missed days
    offline_rate: float  # chance a day starts an offline stretch (check-ins sync later)


@dataclass
class Episode:
    lapse: int
    kind: str
    start: int | None = None
    shape: str = "gradual"
    effects: dict[str, float] = field(default_factory=dict)


def _student_t(rng: random.Random, df: int = 3) -> float:
    # Scaled to unit variance: t(3) has variance 3.
    chi = sum(rng.gauss(0, 1) ** 2 for _ in range(df))
    return rng.gauss(0, 1) / math.sqrt(chi / df) / math.sqrt(df / (df - 2))


def _pick(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    roll = rng.random() * sum(w for _, w in table)
    for name, weight in table:
        roll -= weight
        if roll < 0:
            return name
    return table[-1][0]


def _person(rng: random.Random, archetype: str) -> Person:
    chronic = archetype == "chronic"
    noisy = archetype == "noisy"
    meetings = rng.choice((0, 1, 1, 2, 3, 5))
    return Person(
        mood=5 - rng.betavariate(2, 4) * 3.5 - (1.0 if chronic and rng.random() < 0.5 else 0.0),
        craving=rng.lognormvariate(0.6, 0.6) + (4.0 if chronic else 0.0),
        stress=rng.betavariate(2, 3) * 8,
        sleep=rng.gauss(7.0, 0.9),
        spread=rng.uniform(0.5, 1.1) * (1.8 if noisy else 1.0),
        drift=rng.choice((-0.6, -0.3, 0.0, 0.0, 0.2, 0.4)),
        weekend=rng.uniform(0.0, 1.5),
        sleep_answer_rate=rng.choice((0.0, 0.5, 0.8, 1.0, 1.0)),
        isolation_answer_rate=rng.choice((0.3, 0.7, 1.0, 1.0)),
        isolating=rng.betavariate(1, 8) * (2.5 if chronic else 1.0),
        attendance=rng.uniform(0.65, 0.97),
        meeting_days=tuple(sorted(rng.sample(range(7), meetings))),
        adherence=rng.uniform(0.8, 1.0) if rng.random() < 0.35 else None,
        trigger_rate=rng.uniform(0.02, 0.3) * (1.5 if chronic else 1.0),
        coping_rate=rng.uniform(0.4, 0.95),
        burst_rate=rng.uniform(0.0, 0.04),
        offline_rate=rng.uniform(0.0, 0.03),
    )


def _episodes(rng: random.Random, archetype: str, days: int) -> list[Episode]:
    if archetype not in ("prodromal", "sudden"):
        return []
    # A relapse may come early, or after a long stable stretch.
    lapse = rng.randint(25, days - 2) if rng.random() < 0.6 else rng.randint(max(25, days * 2 // 3), days - 2)
    if archetype == "sudden":
        episodes = [Episode(lapse, "sudden")]
    else:
        length = rng.choice((3, 4, 5, 7, 10, 14, 21))
        kinds = rng.random()
        # A third carry one signal only; the others two to four.
        chosen = rng.sample(SIGNALS, 1 if kinds < 0.33 else rng.randint(2, 4))
        effects = {s: rng.uniform(1.2, 3.0) for s in chosen}  # in the person's own spreads
        episodes = [
            Episode(lapse, "prodromal", max(1, lapse - length), rng.choice(("gradual", "step")), effects)
        ]
    if rng.random() < 0.15 and lapse + 5 < days:
        episodes.append(Episode(lapse + rng.randint(1, min(10, days - lapse - 1)), "follow_on"))
    return episodes


def _pull(episodes: list[Episode], offset: int) -> dict[str, float]:
    """Each signal's shift today, in the person's spreads."""
    pull: dict[str, float] = {}
    for e in episodes:
        if e.start is None or not e.start <= offset < e.lapse:
            continue
        progress = (offset - e.start + 1) / (e.lapse - e.start)
        if e.shape == "step":
            level = 0.25 if progress < 0.4 else 1.0
        else:
            level = 1 / (1 + math.exp(-8 * (progress - 0.5)))
        for signal, effect in e.effects.items():
            pull[signal] = max(pull.get(signal, 0.0), level * effect)
    return pull


def _plan(rng: random.Random, start: date, person: Person) -> dict[str, Any]:
    skills = [{"id": f"k{i}", "name": f"skill {i}"} for i in range(rng.randint(2, 5))]
    triggers = [
        {
            "id": f"t{i}",
            "name": f"trigger {i}",
            "category": rng.choice(["people", "places", "emotions", "situations", "sensations"]),
            "coping_skill_ids": [s["id"] for s in rng.sample(skills, rng.randint(1, len(skills)))],
            "risk": rng.choice(["low", "medium", "high"]),
        }
        for i in range(rng.randint(1, 5))
    ]
    plan: dict[str, Any] = {"coping_skills": skills, "triggers": triggers}
    if person.meeting_days:
        byday = ",".join(("MO", "TU", "WE", "TH", "FR", "SA", "SU")[d] for d in person.meeting_days)
        plan["support_groups"] = [
            {
                "id": "g1",
                "name": "Group",
                "fellowship": "SMART",
                "schedule": {
                    "rrule": f"FREQ=WEEKLY;BYDAY={byday}",
                    "start_local": f"{start.isoformat()}T18:30",
                },
            }
        ]
    if person.adherence is not None:
        plan["medications"] = [
            {
                "id": "m1",
                "name": "naltrexone",
                "schedule": {"rrule": "FREQ=DAILY", "start_local": f"{start.isoformat()}T09:00"},
            }
        ]
    return plan


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def graduate(seed: int, index: int, days: int) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = random.Random(f"alt:{seed}:{index}")
    archetype = _pick(rng, ARCHETYPES)
    person = _person(rng, archetype)
    tz_name = rng.choice(TIMEZONES)
    tz = ZoneInfo(tz_name)
    start = FIRST_START + timedelta(days=rng.randint(0, 120))
    prompt = rng.choice(PROMPTS)
    prompt_time = time.fromisoformat(prompt)
    plan = _plan(rng, start, person) if rng.random() < 0.85 else None
    triggers = plan["triggers"] if plan else []
    episodes = _episodes(rng, archetype, days)
    lapses = {e.lapse for e in episodes}
    stop = rng.randint(20, days - 8) if archetype in ("dropout", "fading") else None
    safety = set(rng.sample(range(stop or days), rng.randint(1, 3))) if rng.random() < 0.05 else set()

    checkins: list[dict[str, Any]] = []
    missed_until = -1
    offline_until = -1
    last: date | None = None
    for offset in range(days if stop is None else stop + 1):
        day = start + timedelta(days=offset)
        pull = _pull(episodes, offset)
        required = offset in lapses or offset in safety or offset == stop
        if offset > missed_until and rng.random() < person.burst_rate:
            missed_until = offset + rng.randint(1, 4)
        if offset > offline_until and rng.random() < person.offline_rate:
            offline_until = offset + rng.randint(1, 4)
        fade = archetype == "fading" and stop is not None and offset > stop - 12
        skip = offset <= missed_until or (fade and rng.random() < 0.5) or rng.random() < 0.03
        skip = skip or rng.random() < 0.12 * min(1.0, pull.get("isolation", 0.0) / 2)
        if skip and not required:
            continue
        checkins.append(_answers(rng, person, pull, episodes, offset, day, triggers, plan, safety))
        if offset <= offline_until and offset != stop:
            # Synced when the phone is back online, at most a few days later.
            back = day + timedelta(days=offline_until - offset + 1)
            checkins[-1]["received_at"] = _iso(datetime.combine(back, time(rng.randint(7, 21)), tz))
        elif rng.random() < 0.6:
            minutes = rng.randint(-30, 180)
            at = datetime.combine(day, prompt_time, tz) + timedelta(minutes=minutes)
            if at.astimezone(tz).date() == day:
                checkins[-1]["received_at"] = _iso(at)
        checkins[-1]["client_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        last = day
    rng.shuffle(checkins)
    history: dict[str, Any] = {
        "graduate": f"a{index:05d}",
        "timezone": tz_name,
        "checkin_time": prompt,
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=days - 1)).isoformat(),
        "checkins": checkins,
    }
    if plan is not None:
        history["plan"] = plan
    truth = {
        "graduate": history["graduate"],
        "archetype": archetype,
        "lapses": [
            {
                "local_date": (start + timedelta(days=e.lapse)).isoformat(),
                "kind": e.kind,
                "prodrome_start": None if e.start is None else (start + timedelta(days=e.start)).isoformat(),
                "signals": sorted(e.effects),
                "shape": e.shape if e.start is not None else None,
                "effects": {k: round(v, 2) for k, v in e.effects.items()},
            }
            for e in sorted(episodes, key=lambda e: e.lapse)
        ],
        "dropout_last_checkin": last.isoformat() if stop is not None and last else None,
        "safety_days": sorted((start + timedelta(days=d)).isoformat() for d in safety),
    }
    return history, truth


def _answers(
    rng: random.Random,
    p: Person,
    pull: dict[str, float],
    episodes: list[Episode],
    offset: int,
    day: date,
    triggers: list[dict[str, Any]],
    plan: dict[str, Any] | None,
    safety: set[int],
) -> dict[str, Any]:
    weekend = day.weekday() >= 5
    months = offset / 30
    lapsed = any(e.lapse == offset for e in episodes)
    after = max(
        (math.exp(-(offset - e.lapse) / 4) for e in episodes if 0 < offset - e.lapse <= 10), default=0.0
    )
    s = p.spread

    def noisy(centre: float, scale: float, low: float, high: float) -> int:
        return round(min(high, max(low, centre + scale * _student_t(rng))))

    craving = p.craving + p.drift * months + (p.weekend if weekend else 0) + 1.4 * s * pull.get("craving", 0)
    craving += 3.5 * lapsed + 2.5 * after
    mood = p.mood - 0.15 * p.drift * months - 0.6 * s * pull.get("mood", 0) - 1.2 * lapsed - 0.8 * after
    stress = p.stress + (0.0 if weekend else 0.8) + 1.4 * s * pull.get("stress", 0) + 2 * after
    answers: dict[str, Any] = {
        "local_date": day.isoformat(),
        "mood": noisy(mood, 0.6 * s, 1, 5),
        "craving": noisy(craving, 1.3 * s, 0, 10),
        "stress": noisy(stress, 1.3 * s, 0, 10),
        "used": lapsed,
        "safety_concern": offset in safety,
    }
    if rng.random() < p.sleep_answer_rate:
        sleep = p.sleep + (0.7 if weekend else 0) - 0.8 * s * pull.get("sleep", 0) - after
        answers["sleep_hours"] = round(min(14.0, max(0.0, sleep + 0.8 * s * _student_t(rng))) * 4) / 4
    if rng.random() < p.isolation_answer_rate:
        answers["isolating"] = rng.random() < min(0.95, p.isolating + 0.2 * pull.get("isolation", 0))
    if p.meeting_days and day.weekday() in p.meeting_days and plan is not None:
        answers["attended_support"] = rng.random() < p.attendance * (1 - 0.3 * pull.get("support", 0))
    if p.adherence is not None and plan is not None:
        answers["took_medication"] = rng.random() < p.adherence * (1 - 0.3 * pull.get("medication", 0))
    if triggers and rng.random() < min(0.9, p.trigger_rate + 0.15 * pull.get("triggers", 0) + 0.3 * after):
        met = rng.sample(triggers, rng.randint(1, min(3, len(triggers))))
        answers["triggers"] = [t["id"] for t in met]
        if rng.random() < p.coping_rate * (1 - 0.3 * pull.get("triggers", 0)):
            answers["coping_used"] = sorted({rng.choice(t["coping_skill_ids"]) for t in met})
    return answers


def write_cohort(graduates: int, days: int, seed: int, out: TextIO, truth: TextIO) -> None:
    for index in range(graduates):
        history, known = graduate(seed, index, days)
        out.write(_encoder.encode(history).decode() + "\n")
        truth.write(_encoder.encode(known).decode() + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--graduates", type=int, default=1000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--truth", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.days < 40:
        parser.error("--days must be at least 40 (room for a relapse after a stable stretch)")
    with args.out.open("w", encoding="utf-8") as out, args.truth.open("w", encoding="utf-8") as truth:
        write_cohort(args.graduates, args.days, args.seed, out, truth)
    return 0


if __name__ == "__main__":
    sys.exit(main())
