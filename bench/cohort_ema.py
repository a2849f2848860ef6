"""A third synthetic cohort, written from published descriptions of daily-diary (EMA) and lapse data.

``cohort.py`` and ``cohort_alt.py`` were written by the people who wrote the engine, and the engine
was tuned while looking at them. This one is written from how daily self-reports and lapses are
described in the literature, not from the engine's rules, and it was written before the engine
changes of issue 20 and then left alone: it is the held-out cohort. It shares only the output
format (the backtest's JSON Lines input, and ``cohort.py``'s ground-truth lines).

What it draws on (qualitative descriptions; the numbers below are our own choices within them):

- **Inertia.** Daily affect and craving carry over from one day to the next ("emotional inertia",
  Kuppens, Allen & Sheeber 2010; day-to-day autocorrelation in diary studies is typically moderate,
  here a person's lag-1 coefficient is drawn from 0.1-0.75). Each graduate has two latent daily states,
  negative affect and craving, as correlated AR(1) processes; every answer is read off them.
- **Heavy tails and life events.** Daily innovations are Student-t (3-8 degrees of freedom) and now
  and then a life event (a row, a bad day at work) kicks the affect state by several spreads; its
  effect then decays with the person's inertia.
- **Weekly rhythm.** Drinking and craving are described as peaking at weekends, work stress on
  weekdays; the size of the rhythm is personal (zero for some).
- **Slow benign drift.** Craving is described as declining with time abstinent and mood as improving
  in early recovery; some graduates drift the other way for ordinary reasons (a new job's stress).
- **Response styles.** People use rating scales differently: some answer coarsely (a few scale
  points), some sit in the middle, some report sleep or isolation only when they think of it.
- **Compliance.** EMA studies in substance use report roughly three quarters of prompts answered on
  average, with wide personal variation; here a person misses days at random at a personal rate (2-
  25%), sometimes for a few days (a weekend away), and a phone may stay offline and sync days later.
- **Lapses.** Relapse-prevention models (Marlatt & Gordon) describe lapses after high-risk
  situations, often negative affect or interpersonal conflict, sometimes preceded over days to weeks
  by rising craving, low mood, withdrawal from support and from others (Gorski's "warning signs");
  EMA studies of smoking lapses (Shiffman and colleagues) also find many lapses with no build-up in
  the days before, set off by an acute situation. So: *prodromal* lapses follow a slide of the latent
  states over 3-21 days (gradual, sudden-then-flat, or a slow climb with widening swings, as in work
  on "critical slowing down" before mood transitions, van de Leemput et al. 2014), with behaviour
  (meetings, isolation, coping, medication, missed check-ins) following the states rather than drawn
  per sign; *sudden* lapses come on a day the person's states look ordinary, more often at weekends.
  After a lapse the abstinence violation effect (guilt, low mood) lifts affect for days, and a second
  lapse often follows within two weeks.
- **Leaving.** Some graduates stop checking in, at once or fading out over one to two weeks.

Kinds of graduate (``archetype`` in the truth): ``stable``, ``noisy`` (wide, heavy-tailed swings,
still steady), ``drifting`` (a slow benign trend), ``rhythmic`` (a strong weekly rhythm) — these four
never lapse —, ``prodromal``, ``sudden``, ``dropout``.

Each graduate is drawn from its own RNG seeded by ``("ema", seed, index)``.

    python bench/cohort_ema.py --graduates 1000 --days 120 --seed 7 --out ema.jsonl --truth ema-truth.jsonl
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
    "America/Toronto", "America/Mexico_City", "America/Bogota", "America/Halifax", "Europe/Madrid",
    "Europe/Warsaw", "Europe/Istanbul", "Africa/Nairobi", "Asia/Dhaka", "Asia/Singapore",
    "Australia/Perth", "Australia/Brisbane", "Pacific/Tongatapu",
)  # fmt: skip
PROMPTS = (None, "08:30", "12:00", "18:30", "20:00", "21:30")
KINDS = (
    ("stable", 0.30),
    ("noisy", 0.15),
    ("drifting", 0.07),
    ("rhythmic", 0.06),
    ("prodromal", 0.22),
    ("sudden", 0.08),
    ("dropout", 0.12),
)
FIRST_START = date(2026, 1, 12)
_encoder = msgspec.json.Encoder()


@dataclass
class Person:
    inertia: float  # lag-1 coefficient of both latent states
    coupling: float  # how much of craving's innovation is shared with affect's
    df: int  # degrees of freedom of the daily innovations
    spread: float  # scale of the innovations (the latent states' own units)
    events: float  # chance a day brings a life event
    weekend_craving: float  # latent lift on Friday evening to Sunday
    weekday_stress: float
    drift_affect: float  # latent change over 120 days (negative: getting better)
    drift_craving: float
    mood0: float
    craving0: float
    stress0: float
    sleep0: float
    mood_gain: float
    craving_gain: float
    stress_gain: float
    coarse: bool  # answers on a few scale points
    sleep_answers: float
    isolation_answers: float
    isolation0: float
    trigger0: float
    coping0: float
    attendance0: float
    adherence0: float | None
    meeting_days: tuple[int, ...]
    missing: float
    away: float  # chance a day starts a few days away
    offline: float  # chance a day starts an offline stretch
    missing_when_low: float  # extra chance of missing a day per spread of negative affect


@dataclass
class Episode:
    lapse: int
    kind: str
    start: int | None = None
    shape: str = ""
    affect: float = 0.0
    craving: float = 0.0
    withdrawal: float = 0.0
    widening: bool = False


@dataclass
class State:
    affect: float = 0.0
    craving: float = 0.0
    after: float = 0.0  # abstinence violation effect, decaying
    extra: dict[str, float] = field(default_factory=dict)


def _pick(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    roll = rng.random() * sum(w for _, w in table)
    for name, weight in table:
        roll -= weight
        if roll < 0:
            return name
    return table[-1][0]


def _t(rng: random.Random, df: int) -> float:
    """A Student-t draw scaled to unit variance."""
    chi = sum(rng.gauss(0, 1) ** 2 for _ in range(df))
    return rng.gauss(0, 1) / math.sqrt(chi / df) * math.sqrt((df - 2) / df)


def _person(rng: random.Random, kind: str) -> Person:
    noisy = kind == "noisy"
    meetings = rng.choice((0, 1, 1, 2, 2, 3, 4))
    return Person(
        inertia=rng.uniform(0.1, 0.75),
        coupling=rng.uniform(0.2, 0.7),
        df=rng.choice((3, 4, 5, 8)) if not noisy else rng.choice((3, 3, 4)),
        spread=rng.uniform(0.7, 1.1) * (rng.uniform(1.5, 2.2) if noisy else 1.0),
        events=rng.uniform(0.0, 0.04),
        weekend_craving=rng.uniform(1.0, 2.0) if kind == "rhythmic" else rng.uniform(0.0, 0.6),
        weekday_stress=rng.uniform(0.8, 1.5) if kind == "rhythmic" else rng.uniform(0.0, 0.5),
        drift_affect=rng.uniform(-1.5, 1.0) if kind == "drifting" else rng.uniform(-0.4, 0.2),
        drift_craving=rng.uniform(-2.0, 1.0) if kind == "drifting" else rng.uniform(-0.6, 0.2),
        mood0=rng.uniform(3.0, 4.3),
        craving0=rng.uniform(0.5, 4.5),
        stress0=rng.uniform(1.5, 6.0),
        sleep0=rng.uniform(5.5, 8.5),
        mood_gain=rng.uniform(0.35, 0.7),
        craving_gain=rng.uniform(0.7, 1.5),
        stress_gain=rng.uniform(0.6, 1.4),
        coarse=rng.random() < 0.2,
        sleep_answers=rng.choice((0.0, 0.6, 0.9, 1.0, 1.0)),
        isolation_answers=rng.choice((0.4, 0.8, 1.0, 1.0)),
        isolation0=rng.uniform(-3.5, -1.5),
        trigger0=rng.uniform(-3.5, -1.0),
        coping0=rng.uniform(0.5, 2.5),
        attendance0=rng.uniform(1.0, 3.0),
        adherence0=rng.uniform(1.5, 4.0) if rng.random() < 0.4 else None,
        meeting_days=tuple(sorted(rng.sample(range(7), meetings))),
        missing=rng.uniform(0.02, 0.25),
        away=rng.uniform(0.0, 0.02),
        offline=rng.uniform(0.0, 0.02),
        missing_when_low=rng.uniform(0.0, 0.15),
    )


def _episodes(rng: random.Random, kind: str, days: int, start: date) -> list[Episode]:
    if kind not in ("prodromal", "sudden"):
        return []
    lapse = rng.randint(21, days - 8)
    if kind == "sudden":
        if rng.random() < 0.5:
            # Half of them moved to the weekend after (the situational lapse of the smoking studies).
            weekday = (start + timedelta(days=lapse)).weekday()
            lapse += max(0, 5 - weekday)
        episodes = [Episode(lapse, "sudden")]
    else:
        length = rng.randint(3, 21)
        shape = rng.choice(("ramp", "ramp", "step", "widening"))
        affect = rng.uniform(0.8, 2.5) if rng.random() < 0.8 else 0.0
        craving = rng.uniform(0.8, 2.5) if rng.random() < 0.7 or affect == 0.0 else 0.0
        episodes = [
            Episode(
                lapse,
                "prodromal",
                start=max(1, lapse - length),
                shape=shape,
                affect=affect,
                craving=craving,
                withdrawal=rng.uniform(0.5, 2.0) if rng.random() < 0.5 else 0.0,
                widening=shape == "widening",
            )
        ]
    if rng.random() < 0.35 and lapse + 4 < days:
        episodes.append(Episode(lapse + rng.randint(2, min(13, days - lapse - 1)), "follow_on"))
    return episodes


def _level(e: Episode, offset: int) -> float:
    """How far into its slide a prodrome is today, 0 to 1."""
    assert e.start is not None
    progress = (offset - e.start + 1) / (e.lapse - e.start)
    if e.shape == "step":
        return 1.0 if progress > 0.3 else 0.3
    if e.shape == "widening":
        return progress**2
    return progress


def _plan(rng: random.Random, start: date, p: Person) -> dict[str, Any]:
    skills = [{"id": f"s{i}", "name": f"skill {i}"} for i in range(rng.randint(2, 4))]
    plan: dict[str, Any] = {
        "coping_skills": skills,
        "triggers": [
            {
                "id": f"tr{i}",
                "name": f"trigger {i}",
                "category": rng.choice(["people", "places", "emotions", "situations"]),
                "coping_skill_ids": [s["id"] for s in rng.sample(skills, rng.randint(1, len(skills)))],
                "risk": rng.choice(["low", "medium", "high"]),
            }
            for i in range(rng.randint(1, 4))
        ],
    }
    if p.meeting_days:
        byday = ",".join(("MO", "TU", "WE", "TH", "FR", "SA", "SU")[d] for d in p.meeting_days)
        plan["support_groups"] = [
            {
                "id": "grp",
                "name": "Group",
                "fellowship": rng.choice(["AA", "NA", "SMART", "other"]),
                "schedule": {"rrule": f"FREQ=WEEKLY;BYDAY={byday}", "start_local": f"{start}T19:00"},
            }
        ]
    if p.adherence0 is not None:
        plan["medications"] = [
            {
                "id": "med",
                "name": "acamprosate",
                "schedule": {"rrule": "FREQ=DAILY", "start_local": f"{start}T08:00"},
            }
        ]
    return plan


def _logistic(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def graduate(seed: int, index: int, days: int) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = random.Random(f"ema:{seed}:{index}")
    kind = _pick(rng, KINDS)
    p = _person(rng, kind)
    tz_name = rng.choice(TIMEZONES)
    tz = ZoneInfo(tz_name)
    start = FIRST_START + timedelta(days=rng.randint(0, 100))
    prompt = rng.choice(PROMPTS)
    prompt_time = time.fromisoformat(prompt or "19:00")
    plan = _plan(rng, start, p) if rng.random() < 0.85 else None
    episodes = _episodes(rng, kind, days, start)
    lapses = {e.lapse for e in episodes}
    stop = rng.randint(25, days - 8) if kind == "dropout" else None
    # Half the dropouts fade out over their last one to two weeks.
    fade_from = stop - rng.randint(7, 14) if stop is not None and rng.random() < 0.5 else None
    state = State()
    checkins: list[dict[str, Any]] = []
    safety_days: list[int] = []
    away_until = offline_until = -1
    last: date | None = None
    for offset in range(days if stop is None else stop + 1):
        day = start + timedelta(days=offset)
        weekend = day.weekday() >= 4  # Friday evening to Sunday
        months = offset / 120
        # A slide is measured in the person's own spread of the state (its stationary spread).
        own = p.spread / math.sqrt(1 - p.inertia**2)
        shift_affect = shift_craving = withdrawal = widen = 0.0
        for e in episodes:
            if e.start is not None and e.start <= offset < e.lapse:
                level = _level(e, offset)
                shift_affect = max(shift_affect, level * e.affect * own)
                shift_craving = max(shift_craving, level * e.craving * own)
                withdrawal = max(withdrawal, level * e.withdrawal)
                widen = max(widen, level if e.widening else 0.0)
        # The latent states: correlated AR(1) with heavy-tailed innovations, life events, a slide.
        shared = _t(rng, p.df)
        scale = p.spread * (1 + 0.8 * widen)
        inertia = min(0.95, p.inertia + 0.25 * widen)
        affect_kick = rng.uniform(1.5, 3.5) if rng.random() < p.events else 0.0
        state.affect = inertia * state.affect + scale * shared + affect_kick
        state.craving = inertia * state.craving + scale * (
            p.coupling * shared + math.sqrt(1 - p.coupling**2) * _t(rng, p.df)
        )
        state.after *= 0.7
        if offset in lapses:
            state.after = max(state.after, rng.uniform(1.0, 2.5))
        affect = state.affect + shift_affect + p.drift_affect * months + state.after
        craving = (
            state.craving
            + shift_craving
            + p.drift_craving * months
            + (p.weekend_craving if weekend else 0.0)
            + 0.6 * state.after
        )
        lapsed = offset in lapses
        safety = not lapsed and rng.random() < 0.0003 * (1 + max(0.0, affect))
        if safety:
            safety_days.append(offset)
        required = lapsed or safety or offset == stop
        if offset > away_until and rng.random() < p.away:
            away_until = offset + rng.randint(1, 3)
        if offset > offline_until and rng.random() < p.offline:
            offline_until = offset + rng.randint(1, 3)
        miss = p.missing + p.missing_when_low * max(0.0, affect) + 0.1 * withdrawal
        if fade_from is not None and offset > fade_from:
            miss += 0.4
        if not required and (offset <= away_until or rng.random() < miss):
            continue
        answers = _answers(rng, p, plan, day, affect, craving, withdrawal, weekend, lapsed, safety)
        if offset <= offline_until and offset != stop:
            back = day + timedelta(days=offline_until - offset + 1)
            answers["received_at"] = _iso(datetime.combine(back, time(rng.randint(7, 22)), tz))
        elif rng.random() < 0.5:
            at = datetime.combine(day, prompt_time, tz) + timedelta(minutes=rng.randint(-60, 200))
            if at.astimezone(tz).date() == day:
                answers["received_at"] = _iso(at)
        if rng.random() < 0.8:
            answers["client_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        checkins.append(answers)
        last = day
    rng.shuffle(checkins)
    history: dict[str, Any] = {
        "graduate": f"e{index:05d}",
        "timezone": tz_name,
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=days - 1)).isoformat(),
        "checkins": checkins,
    }
    if prompt is not None:
        history["checkin_time"] = prompt
    if plan is not None:
        history["plan"] = plan
    truth = {
        "graduate": history["graduate"],
        "archetype": kind,
        "lapses": [
            {
                "local_date": (start + timedelta(days=e.lapse)).isoformat(),
                "kind": e.kind,
                "prodrome_start": None if e.start is None else (start + timedelta(days=e.start)).isoformat(),
                "signals": sorted(
                    name
                    for name, size in (
                        ("affect", e.affect),
                        ("craving", e.craving),
                        ("withdrawal", e.withdrawal),
                    )
                    if size > 0
                ),
                "shape": e.shape or None,
            }
            for e in sorted(episodes, key=lambda e: e.lapse)
        ],
        "dropout_last_checkin": last.isoformat() if stop is not None and last else None,
        "safety_days": sorted((start + timedelta(days=d)).isoformat() for d in safety_days),
    }
    return history, truth


def _answers(
    rng: random.Random,
    p: Person,
    plan: dict[str, Any] | None,
    day: date,
    affect: float,
    craving: float,
    withdrawal: float,
    weekend: bool,
    lapsed: bool,
    safety: bool,
) -> dict[str, Any]:
    def scale(value: float, low: int, high: int) -> int:
        value = min(high, max(low, value))
        return int(2 * round(value / 2)) if p.coarse and high == 10 else round(value)

    stress = (
        p.stress0
        + p.stress_gain * (0.8 * affect + 0.4 * _t(rng, p.df))
        + (0.0 if weekend else p.weekday_stress)
    )
    answers: dict[str, Any] = {
        "local_date": day.isoformat(),
        "mood": scale(p.mood0 - p.mood_gain * (affect + 0.3 * rng.gauss(0, 1)), 1, 5),
        "craving": scale(p.craving0 + p.craving_gain * craving + (3.0 if lapsed else 0.0), 0, 10),
        "stress": scale(stress, 0, 10),
        "used": lapsed,
        "safety_concern": safety,
    }
    if rng.random() < p.sleep_answers:
        sleep = p.sleep0 - 0.45 * affect + 0.6 * _t(rng, p.df) + (0.6 if weekend else 0.0)
        answers["sleep_hours"] = round(min(14.0, max(2.0, sleep)) * 2) / 2
    if rng.random() < p.isolation_answers:
        answers["isolating"] = rng.random() < _logistic(p.isolation0 + 0.7 * affect + 1.2 * withdrawal)
    if plan is None:
        return answers
    if p.meeting_days and day.weekday() in p.meeting_days:
        answers["attended_support"] = rng.random() < _logistic(
            p.attendance0 - 0.4 * affect - 1.5 * withdrawal
        )
    if p.adherence0 is not None:
        answers["took_medication"] = rng.random() < _logistic(p.adherence0 - 0.3 * affect - 1.0 * withdrawal)
    if rng.random() < _logistic(p.trigger0 + 0.5 * craving + 0.3 * affect):
        met = rng.sample(plan["triggers"], rng.randint(1, min(2, len(plan["triggers"]))))
        answers["triggers"] = [t["id"] for t in met]
        if rng.random() < _logistic(p.coping0 - 0.5 * affect - 1.0 * withdrawal):
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
        parser.error("--days must be at least 40 (room for a slide of three weeks after three)")
    with args.out.open("w", encoding="utf-8") as out, args.truth.open("w", encoding="utf-8") as truth:
        write_cohort(args.graduates, args.days, args.seed, out, truth)
    return 0


if __name__ == "__main__":
    sys.exit(main())
