"""A fifth synthetic cohort for the Aftercare warning-sign engine, written blind: its author read the
contract's check-in, plan and backtest sections and the backtest's input records, and nothing of the
engine, its rules or the other generators. Stdlib only.

    python bench/cohort_blind2.py [--graduates 600] [--days 120] [--seed 7] --out OUT.jsonl --truth TRUTH.jsonl

Each graduate is made by ``make_graduate(seed, index, days)`` from ``random.Random(f"{seed}:{index}")``
alone, so a graduate never depends on the size of the cohort and the output is byte-for-byte
deterministic. The design deliberately comes at the data from angles other than "a shared
negative-affect factor with autocorrelated noise"; each mechanism names where it comes from.

Latent day-to-day state
  * Good-day / bad-day *regime switching* (a two-state Markov chain per person, with independent daily
    noise on top) instead of autoregressive noise: daily-diary studies of people in early recovery
    describe discrete "bad days" that cluster briefly and end (after daily-process studies such as
    Armeli et al. 2000 on daily stress and drinking).
  * Discrete life events with their own time courses (interpersonal conflict 1-3 days, work-pressure
    episodes of a week or two with a plateau, bereavement, illness) and *positive* life events (a new
    job, reconnection with family) that lift mood for weeks (Witkiewitz & Marlatt 2004: distal and
    proximal stressors and protective factors).
  * Calendar: winter-holiday, Thanksgiving, St Patrick's, Carnival, Oktoberfest, Diwali... windows per
    region (alcohol sales and use peak around holidays), seasonal low mood in the person's own
    hemisphere's winter for a seasonally sensitive minority (Rosenthal et al. 1984, SAD), paydays
    (monthly on the 1st or fortnightly Fridays) raising money cues (Dobkin & Puller 2007, the
    "check effect" on drug-related admissions), a personal anniversary (of a loss, or of using), and
    lost sleep the night after a spring-forward DST change (Barnes & Wagner 2009).
  * A short post-acute phase in the first weeks after discharge (worse sleep, slightly lower mood)
    that fades: post-acute withdrawal as described in Gorski & Miller 1986.
  * Shift workers whose sleep alternates between short work-day sleep and long recovery sleep on a
    rotating roster (Akerstedt 2003, shift work and disturbed sleep).

Lapses (Witkiewitz & Marlatt 2004, "Relapse prevention ... that was Zen, this is Tao", and Witkiewitz &
van der Maas 2005 on the cusp-catastrophe model of relapse)
  * A *prodromal* lapse is a distal risk that builds for 3-21 days and a proximal cue that tips it.
    Prodrome shapes: ``cusp`` (slow build, then an abrupt jump in the last 1-2 days: the fold of the
    cusp), ``linear``, ``plateau`` (rises early then holds), ``late_surge``.
  * What the prodrome changes follows Gorski's relapse warning signs (Gorski & Miller 1986; the AWARE
    scale, Miller & Harris 2000) and Melemis 2015's stages (emotional relapse -> mental relapse ->
    use): in ``behavioural`` prodromes the 0-10 scales barely move (craving is under-reported; Miller &
    Harris note denial among the signs) while meetings and therapy are skipped, medication is missed,
    the person isolates, meets triggers without coping and checks in less often; in ``scales``
    prodromes craving and stress rise and mood falls over days (Shiffman et al. 1996 and Shiffman &
    Waters 2004, EMA of first lapses: craving and negative affect build before a lapse, mostly over
    hours, so the daily signal is modest); ``mixed`` has both at smaller size; ``complacency``
    (Gorski's overconfidence; Marlatt's "apparently irrelevant decisions") has mood *up*, coping and
    meetings dropping and high-risk situations sought out; ``subtle`` is any of these at half size.
    Effect sizes are kept realistic: a prodrome moves craving by about 1-2.5 points at its peak, often
    less.
  * A *sudden* lapse has no prodrome: a proximal cue on the day (a fight, a party, payday, an
    anniversary, an unexpected cue, or a celebration in *positive* affect: Marlatt & Gordon 1985's
    "enhancement of positive emotional states", and Mohr et al. 2001 on drinking after positive
    social days).
  * After a lapse comes the abstinence-violation effect (Marlatt & Gordon 1985; Curry, Marlatt &
    Gordon 1987): mood crashes, craving and shame rise, the person hides (isolates, skips check-ins)
    and a *follow-on* lapse within two weeks is likely (lapse -> relapse, with hysteresis in the cusp
    model); suicidal thoughts are more likely in that window (suicide risk is raised in substance-use
    disorders, above all around relapse; the size used here is a guess, not a published rate).

Answers (how the latent state becomes a check-in)
  * Individual response styles: full-range, narrow-band, extreme and midpoint responders
    (Baumgartner & Steenkamp 2001), and craving "minimisers" who answer 0 until an urge is strong.
  * Response shift: a one-off recalibration of a person's internal standard part-way through
    (Sprangers & Schwartz 1999), a benign step in the answers with no change underneath.
  * Engagement decays roughly as a power law of time since discharge (Eysenbach 2005, "The law of
    attrition"), with reactivation bursts; dropouts either fade out or stop abruptly.
  * Phones offline for days, then a batch of check-ins synced late. Either they were answered in real
    time (accurate) or filled in retrospectively at the sync, when the answers regress towards the
    person's typical values and towards today's state and discrete events are forgotten (Stone &
    Shiffman 1994 and Shiffman, Stone & Hufford 2008 on recall bias versus EMA).
  * People who answer at very different times of day: prompted, scattered over the day, late at
    night, or "next-morning fillers" who answer for yesterday.
  * Some respondents answer ``attended_support: false`` on days with nothing scheduled (a benign
    misreading), and many leave optional questions out.

Truth: ``archetype`` in stable | noisy | prodromal | sudden | dropout, with a ``subtype``; lapses with
their kind, prodrome start, the ``signals`` the prodrome changed (craving, stress, mood, sleep,
attendance, medication, isolation, triggers, uncoped_triggers, coping, checkin_gaps) and a ``shape``;
``dropout_last_checkin``; ``safety_days``; and ``benign`` (the benign events and features that might
look like risk).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# --------------------------------------------------------------------------------------------------
# Static pools

# (zone, hemisphere, region, weight)
ZONES: list[tuple[str, str, str, int]] = [
    ("America/New_York", "N", "us", 9),
    ("America/Chicago", "N", "us", 7),
    ("America/Denver", "N", "us", 4),
    ("America/Phoenix", "N", "us", 3),
    ("America/Los_Angeles", "N", "us", 7),
    ("America/Anchorage", "N", "us", 1),
    ("Pacific/Honolulu", "N", "us", 1),
    ("America/Toronto", "N", "ca", 3),
    ("America/St_Johns", "N", "ca", 1),
    ("Europe/London", "N", "uk", 4),
    ("Europe/Dublin", "N", "uk", 2),
    ("Europe/Berlin", "N", "eu", 3),
    ("Australia/Sydney", "S", "au", 3),
    ("Australia/Adelaide", "S", "au", 1),
    ("Australia/Perth", "S", "au", 1),
    ("Pacific/Auckland", "S", "nz", 2),
    ("America/Santiago", "S", "latam", 1),
    ("America/Sao_Paulo", "S", "latam", 1),
    ("Africa/Johannesburg", "S", "za", 1),
    ("Asia/Kolkata", "N", "in", 1),
]

# Holiday windows (month, day, length in days) per region; "all" applies everywhere but India.
HOLIDAYS: dict[str, list[tuple[int, int, int]]] = {
    "all": [(12, 20, 13)],
    "us": [(7, 3, 3), (3, 17, 1), (9, 1, 1), (5, 25, 1)],
    "ca": [(7, 1, 2), (3, 17, 1)],
    "uk": [(3, 17, 1), (8, 25, 2)],
    "eu": [(9, 20, 14), (2, 12, 5)],
    "au": [(1, 26, 1), (4, 25, 1)],
    "nz": [(2, 6, 1), (4, 25, 1)],
    "latam": [(2, 14, 5), (9, 17, 3)],
    "za": [(9, 24, 1), (4, 27, 1)],
    "in": [(3, 3, 2), (10, 19, 5), (11, 7, 5)],
}

# (id, name, category, tags)
TRIGGERS: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("trg-old-friends", "Running into old using friends", "people", ("social", "unexpected")),
    ("trg-bar", "Walking past the bar or the liquor store", "places", ("place", "unexpected")),
    ("trg-anger", "Arguments and anger", "emotions", ("conflict",)),
    ("trg-lonely", "Feeling lonely in the evening", "emotions", ("lonely",)),
    ("trg-payday", "Payday, having cash on me", "situations", ("money",)),
    ("trg-parties", "Parties and celebrations", "situations", ("social", "celebration")),
    ("trg-boredom", "Boredom on days off", "emotions", ("idle",)),
    ("trg-pain", "Back pain flaring up", "sensations", ("pain",)),
    ("trg-family", "Family gatherings", "people", ("family", "holiday")),
    ("trg-work", "Pressure at work", "situations", ("work",)),
    ("trg-anniversary", "The anniversary of my loss", "emotions", ("anniversary",)),
    ("trg-tired", "Exhaustion after night shifts", "sensations", ("tired",)),
    ("trg-old-block", "Driving through the old neighbourhood", "places", ("place",)),
    ("trg-ex", "Contact with my ex", "people", ("conflict", "lonely")),
    ("trg-win", "Good news I want to celebrate", "emotions", ("celebration",)),
]

COPING: list[tuple[str, str, str]] = [
    ("cs-call-sponsor", "Call my sponsor", "connection"),
    ("cs-urge-surf", "Urge surfing", "mindfulness"),
    ("cs-walk", "Go for a walk", "activity"),
    ("cs-play-tape", "Play the tape forward", "cognitive"),
    ("cs-halt", "HALT check", "self-care"),
    ("cs-extra-meeting", "Go to an extra meeting", "connection"),
    ("cs-breathing", "Box breathing", "mindfulness"),
    ("cs-leave", "Leave the situation", "avoidance"),
    ("cs-journal", "Write in my journal", "reflection"),
    ("cs-gym", "Go to the gym", "activity"),
]

WARNING_SIGNS = [
    "I stop answering my sponsor's calls",
    "I start skipping meetings because I'm 'too busy'",
    "I can't sleep and stay up on my phone",
    "I tell myself one won't hurt",
    "I stop taking my meds",
    "I get irritable with everyone at home",
    "I feel like I've got this beaten",
    "I drive the long way past the old places",
]

NOTES = {
    "low": [
        "rough day",
        "argued with my sister",
        "tired of everything",
        "work was brutal",
        "bad sleep again",
    ],
    "high": ["good day!", "got the job", "walked by the lake", "family dinner went well", "feeling strong"],
    "mid": ["ok", "same old", "busy day", "meeting tonight", "kids at school event"],
    "lapse": ["I slipped", "had a few, not proud", "used last night", "messed up, telling my sponsor"],
}

ARCHETYPES = [("stable", 40), ("noisy", 19), ("prodromal", 15), ("sudden", 10), ("dropout", 16)]


# --------------------------------------------------------------------------------------------------
# Small helpers


def _pick_weighted(rng: random.Random, items: list[tuple[Any, int]]) -> Any:
    return rng.choices([i for i, _ in items], weights=[w for _, w in items])[0]


def _clamp(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def _instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock ``at`` on local ``day``; never on another local day."""
    local = datetime.combine(day, at, tzinfo=tz)
    utc = local.astimezone(UTC)
    if utc.astimezone(tz).date() != day:  # a gap or overlap pushed it over midnight: use midday
        utc = datetime.combine(day, time(12, 0), tzinfo=tz).astimezone(UTC)
    return utc


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _minutes(m: int) -> time:
    m = int(_clamp(m, 0, 24 * 60 - 1))
    return time(m // 60, m % 60)


def _bump(arr: list[float], start: int, profile: list[float], scale: float) -> None:
    for k, v in enumerate(profile):
        t = start + k
        if 0 <= t < len(arr):
            arr[t] += scale * v


def _decay(length: int, tau: float) -> list[float]:
    return [math.exp(-k / tau) for k in range(length)]


# --------------------------------------------------------------------------------------------------
# The plan


def _rrule_days(rng: random.Random, n: int) -> list[int]:
    return sorted(rng.sample(range(7), n))


DAY_CODES = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def _make_plan(rng: random.Random, start: date, substance: str, shift_worker: bool) -> tuple[dict, list]:
    """The plan, and the session calendar: (kind, weekdays, interval, anchor Monday, monthday)."""
    sessions: list[tuple[str, set[int], int, date, int]] = []
    anchor_day = start - timedelta(days=rng.randint(3, 30))
    anchor_monday = anchor_day - timedelta(days=anchor_day.weekday())

    def weekly(days: list[int], at: str, interval: int = 1) -> dict:
        rule = "FREQ=WEEKLY;" + (f"INTERVAL={interval};" if interval > 1 else "")
        rule += "BYDAY=" + ",".join(DAY_CODES[d] for d in days)
        sessions.append(("weekly", set(days), interval, anchor_monday, 0))
        return {"rrule": rule, "start_local": f"{anchor_day.isoformat()}T{at}"}

    support: list[dict] = []
    n_groups = _pick_weighted(rng, [(0, 14), (1, 55), (2, 31)])
    fellowships = {"alcohol": ["AA", "SMART"], "opioids": ["NA", "SMART"], "stimulants": ["CA", "NA"]}[
        substance
    ]
    for g in range(n_groups):
        fellowship = rng.choice(fellowships)
        at = rng.choice(["07:00", "12:00", "18:30", "19:00", "19:30", "20:00"])
        support.append(
            {
                "id": f"sg-{g + 1}",
                "name": f"{fellowship} {rng.choice(['Home group', 'Lunchtime', 'Step study', 'Newcomers'])}",
                "fellowship": fellowship,
                "schedule": weekly(_rrule_days(rng, rng.choice([1, 1, 2, 3])), at),
                "location": rng.choice(["Community centre", "St. Mark's hall", "Library room 2"]),
                "reminder_minutes_before": [60],
            }
        )
    therapy: list[dict] = []
    n_therapy = _pick_weighted(rng, [(0, 12), (1, 60), (2, 28)])
    kinds = ["individual", "group", "telehealth", "psychiatry", "family"]
    for k in range(n_therapy):
        kind = kinds[k] if k == 0 else rng.choice(kinds[1:])
        at = rng.choice(["09:00", "10:30", "14:00", "16:00", "17:30"])
        if kind == "psychiatry":
            monthday = rng.randint(3, 27)
            sessions.append(("monthly", set(), 1, anchor_monday, monthday))
            schedule = {
                "rrule": f"FREQ=MONTHLY;BYMONTHDAY={monthday}",
                "start_local": f"{anchor_day.isoformat()}T{at}",
            }
        else:
            schedule = weekly(_rrule_days(rng, 1), at, interval=rng.choice([1, 1, 2]))
        therapy.append(
            {
                "id": f"th-{k + 1}",
                "kind": kind,
                "provider": rng.choice(["Dr. Okafor", "J. Lindqvist, LCSW", "Clinic team", "M. Reyes, LPC"]),
                "schedule": schedule,
                "reminder_minutes_before": [1440, 60],
            }
        )
    meds: list[dict] = []
    if rng.random() < 0.68:
        options = {
            "alcohol": [("Naltrexone", "50 mg"), ("Acamprosate", "666 mg"), ("Disulfiram", "250 mg")],
            "opioids": [
                ("Buprenorphine/naloxone", "16/4 mg"),
                ("Methadone", "80 mg"),
                ("Naltrexone", "50 mg"),
            ],
            "stimulants": [("Sertraline", "50 mg"), ("Mirtazapine", "15 mg")],
        }[substance]
        name, dose = rng.choice(options)
        at = "21:00" if shift_worker and rng.random() < 0.5 else rng.choice(["08:00", "09:00", "21:00"])
        meds.append(
            {
                "id": "med-1",
                "name": name,
                "dose": dose,
                "schedule": {"rrule": "FREQ=DAILY", "start_local": f"{anchor_day.isoformat()}T{at}"},
                "remind": rng.random() < 0.8,
            }
        )
        if rng.random() < 0.25:
            meds.append(
                {
                    "id": "med-2",
                    "name": rng.choice(["Sertraline", "Gabapentin", "Trazodone"]),
                    "schedule": {"rrule": "FREQ=DAILY", "start_local": f"{anchor_day.isoformat()}T08:00"},
                    "remind": False,
                }
            )
    coping = rng.sample(COPING, rng.randint(4, 7))
    coping_ids = [c[0] for c in coping]
    trig = rng.sample(TRIGGERS, rng.randint(4, 8))
    triggers = []
    for tid, name, category, _tags in trig:
        triggers.append(
            {
                "id": tid,
                "name": name,
                "category": category,
                "coping_skill_ids": rng.sample(coping_ids, rng.randint(1, 2)),
                "risk": rng.choice(["low", "medium", "medium", "high"]),
            }
        )
    plan = {
        "therapy": therapy,
        "support_groups": support,
        "coping_skills": [{"id": c[0], "name": c[1], "category": c[2]} for c in coping],
        "triggers": triggers,
        "warning_signs": [
            {"id": f"ws-{i + 1}", "description": d} for i, d in enumerate(rng.sample(WARNING_SIGNS, 2))
        ],
        "medications": meds,
        "support_contacts": [
            {"id": "sc-1", "name": rng.choice(["Dana", "Luis", "Priya", "Tom"]), "relation": "sponsor"},
            {"id": "sc-2", "name": rng.choice(["Mum", "Sam", "Aunt Rose"]), "relation": "family"},
        ],
        "goals": [{"id": "g-1", "text": rng.choice(["90 meetings in 90 days", "Back to work", "Run a 5k"])}],
        "crisis_plan": {
            "steps": ["Call my sponsor", "Go to a meeting", "Call the crisis line"],
            "crisis_line": "988",
        },
    }
    return plan, sessions


def _scheduled(sessions: list, d: date) -> bool:
    for kind, days, interval, anchor_monday, monthday in sessions:
        if kind == "monthly":
            if d.day == monthday:
                return True
        elif d.weekday() in days:
            week = (d - timedelta(days=d.weekday()) - anchor_monday).days // 7
            if week % interval == 0:
                return True
    return False


# --------------------------------------------------------------------------------------------------
# The graduate


def make_graduate(seed: int, index: int, days: int) -> tuple[dict, dict]:
    rng = random.Random(f"{seed}:{index}")
    gid = f"blind2-{seed}-{index:05d}"
    days = max(days, 14)
    archetype = _pick_weighted(rng, ARCHETYPES)
    noisy = archetype == "noisy"

    zone, hemisphere, region, _ = rng.choices(ZONES, weights=[z[3] for z in ZONES])[0]
    tz = ZoneInfo(zone)
    start = date(2025, 8, 1) + timedelta(days=rng.randrange(0, 400))
    dates = [start + timedelta(days=t) for t in range(days)]
    substance = _pick_weighted(rng, [("alcohol", 50), ("opioids", 30), ("stimulants", 20)])
    shift_worker = rng.random() < (0.22 if noisy else 0.10)
    plan, sessions = _make_plan(rng, start, substance, shift_worker)
    trig_tags = {t[0]: t[3] for t in TRIGGERS}
    plan_triggers = plan["triggers"]
    has_meds = bool(plan["medications"])
    has_sessions = bool(sessions)
    benign: list[str] = []

    # When they answer.
    checkin_choice = rng.choice(
        [None, None, "07:30", "08:00", "09:00", "12:30", "18:00", "20:00", "21:30", "22:30"]
    )
    if shift_worker:
        checkin_choice = rng.choice(["06:30", "14:00", "15:30"])
    timing = _pick_weighted(
        rng, [("prompted", 52), ("scattered", 24 + 12 * noisy), ("late_night", 10), ("next_morning", 14)]
    )
    if timing != "prompted":
        benign.append(f"timing:{timing}")

    # Response styles.
    style = _pick_weighted(
        rng, [("full", 40), ("narrow", 25), ("extreme", 15 + 25 * noisy), ("midpoint", 20)]
    )
    gains = {"full": 1.0, "narrow": 0.45, "extreme": 1.5, "midpoint": 0.6}[style]
    mood_anchor = rng.uniform(3.0, 4.2) if style != "midpoint" else 3.0
    stress_anchor = rng.uniform(2.0, 5.5) if style != "midpoint" else 5.0
    crave_anchor = rng.uniform(0.3, 3.0)
    craving_minimiser = rng.random() < 0.2
    mood_gain = gains * rng.uniform(0.55, 0.9)
    stress_gain = gains * rng.uniform(1.2, 2.0)
    crave_gain = gains * rng.uniform(1.0, 1.8)
    answers_sleep = rng.random() < 0.78
    sleep_step = rng.choice([1.0, 0.5, 0.5, 0.25])
    answers_isolating = rng.random() < 0.8
    answers_support = rng.random() < 0.9
    misreads_support = rng.random() < (0.25 if noisy else 0.08)
    journaler = rng.random() < 0.15
    uses_ids = rng.random() < 0.5

    # Latent state: good/bad-day regimes plus independent noise (no autoregression).
    sigma = rng.uniform(0.9, 1.3) if noisy else rng.uniform(0.35, 0.6)
    p_bad = rng.uniform(0.18, 0.32) if noisy else rng.uniform(0.04, 0.12)
    p_stay = rng.uniform(0.3, 0.55)
    bad_size = rng.uniform(0.9, 1.6) if noisy else rng.uniform(0.5, 1.0)
    mood = [0.0] * days
    stress = [0.0] * days
    crave = [0.0] * days
    sleep = [0.0] * days
    iso = [rng.uniform(0.1, 0.3) if noisy else rng.uniform(0.02, 0.12)] * days
    attend = [rng.uniform(0.6, 0.85) if noisy else rng.uniform(0.8, 0.97)] * days
    med = [rng.uniform(0.75, 0.95) if noisy else rng.uniform(0.86, 0.99)] * days
    cope = [rng.uniform(0.45, 0.9)] * days
    trig_mult = [rng.uniform(1.2, 2.0) if noisy else 1.0] * days
    tag_boost: list[dict[str, float]] = [{} for _ in range(days)]
    respond_mod = [0.0] * days
    iso, attend, med, cope, trig_mult = list(iso), list(attend), list(med), list(cope), list(trig_mult)

    bad = False
    for t in range(days):
        bad = rng.random() < (p_stay if bad else p_bad)
        z = bad_size if bad else 0.0
        mood[t] += -z + rng.gauss(0, sigma)
        stress[t] += 0.8 * z + rng.gauss(0, sigma)
        crave[t] += 0.35 * z + rng.gauss(0, sigma * 0.8)
        iso[t] += 0.15 * bad

    # Sleep: a personal baseline; shift workers on a rotating roster.
    sleep_base = rng.uniform(6.0, 8.3)
    sleep_sd = rng.uniform(0.4, 0.9) * (1.5 if noisy else 1.0)
    roster_on, roster_off = rng.choice([(4, 4), (5, 2), (3, 3), (2, 2)])
    roster_phase = rng.randrange(roster_on + roster_off)
    for t in range(days):
        s = sleep_base + rng.gauss(0, sleep_sd)
        if shift_worker:
            s += -1.8 if (t + roster_phase) % (roster_on + roster_off) < roster_on else 1.4
        sleep[t] = s
    if shift_worker:
        benign.append("shift_worker")
        trig_mult = [m * 1.1 for m in trig_mult]

    # Post-acute phase: fades over the first weeks.
    paws = rng.uniform(0.2, 0.6)
    _bump(mood, 0, _decay(28, 8.0), -paws)
    _bump(sleep, 0, _decay(28, 8.0), -paws * 1.5)

    # DST: the night after a spring-forward change is short.
    for t in range(1, days):
        before = datetime.combine(dates[t - 1], time(12), tzinfo=tz).utcoffset()
        after = datetime.combine(dates[t], time(12), tzinfo=tz).utcoffset()
        if before is not None and after is not None and after > before:
            sleep[t] -= rng.uniform(0.3, 0.9)
            benign.append(f"dst:{dates[t].isoformat()}")

    # Seasons and holidays.
    seasonal = rng.uniform(0.25, 0.6) if rng.random() < 0.25 else 0.0
    winter = {11, 12, 1, 2} if hemisphere == "N" else {5, 6, 7, 8}
    holiday_mood = rng.choice([0.3, 0.0, -0.4])  # some love the holidays, some are lonely in them
    windows = ([] if region == "in" else HOLIDAYS["all"]) + HOLIDAYS[region]
    holiday_days: list[int] = []
    for t, d in enumerate(dates):
        if seasonal and d.month in winter:
            mood[t] -= seasonal
            sleep[t] += 0.4
        for month, day0, length in windows:
            first = date(d.year, month, day0)
            for base in (first, date(d.year - 1, month, day0)):
                if base <= d < base + timedelta(days=length):
                    holiday_days.append(t)
                    stress[t] += 0.35
                    crave[t] += 0.3
                    mood[t] += holiday_mood
                    tag_boost[t].update({"social": 3.0, "family": 4.0, "holiday": 4.0, "celebration": 2.5})
                    break
        if region == "us" and d.month == 11 and d.weekday() == 3 and 22 <= d.day <= 28:
            holiday_days.append(t)
            stress[t] += 0.4
            tag_boost[t].update({"family": 4.0, "holiday": 4.0})
    holiday_days = sorted(set(holiday_days))
    if holiday_days:
        benign.append("holidays")
    if seasonal:
        benign.append("seasonal_mood")

    # Paydays.
    payday_kind = _pick_weighted(rng, [("monthly", 40), ("fortnightly", 40), ("none", 20)])
    fortnight_phase = rng.randrange(2)
    paydays = [
        t
        for t, d in enumerate(dates)
        if (payday_kind == "monthly" and d.day == 1)
        or (payday_kind == "fortnightly" and d.weekday() == 4 and (d.toordinal() // 7) % 2 == fortnight_phase)
    ]
    for t in paydays:
        tag_boost[t]["money"] = 5.0
        crave[t] += 0.15

    # Anniversary (of a loss, or of using) for some.
    anniversary = rng.randrange(days) if rng.random() < 0.25 else None
    if anniversary is not None:
        _bump(mood, anniversary - 1, [0.4, 1.0, 0.5], -0.9)
        _bump(stress, anniversary - 1, [0.4, 1.0, 0.5], 0.7)
        for t in range(max(0, anniversary - 1), min(days, anniversary + 2)):
            tag_boost[t]["anniversary"] = 8.0
        benign.append("anniversary")

    # Life events.
    n_events = rng.choice([0, 1, 1, 2, 2, 3]) + (1 if noisy else 0)
    for _ in range(n_events):
        # The noisy change nothing for long: only short events.
        kind = _pick_weighted(
            rng,
            [
                ("conflict", 30),
                ("work_pressure", 0 if noisy else 22),
                ("positive", 25),
                ("illness", 13),
                ("bereavement", 0 if noisy else 5),
                ("vacation", 5),
            ],
        )
        t0 = rng.randrange(days)
        if kind == "conflict":
            prof = _decay(4, 1.2)
            _bump(stress, t0, prof, rng.uniform(1.0, 2.0))
            _bump(mood, t0, prof, -rng.uniform(0.8, 1.5))
            _bump(crave, t0, prof, rng.uniform(0.2, 0.7))
            for t in range(t0, min(days, t0 + 2)):
                tag_boost[t]["conflict"] = 5.0
        elif kind == "work_pressure":
            length = rng.randint(5, 14)
            _bump(stress, t0, [1.0] * length + [0.5, 0.2], rng.uniform(0.8, 1.6))
            _bump(sleep, t0, [1.0] * length, -rng.uniform(0.4, 1.0))
            for t in range(t0, min(days, t0 + length)):
                tag_boost[t]["work"] = 3.0
        elif kind == "positive":
            _bump(mood, t0, _decay(30, 12.0), rng.uniform(0.4, 1.0))
            _bump(stress, t0, _decay(10, 4.0), rng.uniform(-0.3, 0.8))
            tag_boost[t0]["celebration"] = 4.0
        elif kind == "illness":
            _bump(mood, t0, [1.0] * rng.randint(3, 6), -0.6)
            _bump(sleep, t0, [1.0] * 4, rng.choice([-1.2, 1.5]))
            for t in range(t0, min(days, t0 + 4)):
                attend[t] *= 0.4
                tag_boost[t]["pain"] = 3.0
        elif kind == "bereavement":
            _bump(mood, t0, _decay(25, 9.0), -rng.uniform(1.0, 1.8))
            _bump(stress, t0, _decay(20, 8.0), rng.uniform(0.6, 1.2))
            _bump(iso, t0, _decay(14, 5.0), 0.25)
            _bump(crave, t0, _decay(14, 6.0), rng.uniform(0.3, 0.8))
        else:  # vacation: off-routine, meetings missed, then back
            length = rng.randint(4, 9)
            for t in range(t0, min(days, t0 + length)):
                attend[t] *= 0.3
                respond_mod[t] -= 0.35
        benign.append(f"{kind}:{dates[min(t0, days - 1)].isoformat()}")

    # Response shift: one recalibration of the internal standard.
    shift_day = rng.randrange(20, days) if rng.random() < 0.3 and days > 25 else None
    shift_mood = shift_stress = 0.0
    if shift_day is not None:
        shift_mood = rng.choice([-0.6, 0.6])
        shift_stress = rng.choice([-1.2, 1.0])
        benign.append(f"response_shift:{dates[shift_day].isoformat()}")

    # ----------------------------------------------------------------------------------------------
    # Lapses.
    lapses: list[dict] = []
    subtype = archetype
    sudden_shapes = [
        ("conflict", 25),
        ("social_pressure", 20),
        ("payday", 12),
        ("celebration", 15),
        ("anniversary", 6),
        ("unexpected_cue", 22),
    ]
    signal_channels = {
        "attendance": has_sessions and answers_support,
        "medication": has_meds,
        "isolation": answers_isolating,
        "sleep": answers_sleep,
    }

    def add_prodrome(lapse_t: int, length: int, kind: str, shape: str, size: float) -> list[str]:
        signals: list[str] = []
        p0 = lapse_t - length

        def ramp(k: int) -> float:
            u = (k + 1) / length
            if shape == "cusp":
                return 0.45 * u**1.5 + (0.55 if k >= length - 2 else 0.0)
            if shape == "plateau":
                return min(1.0, 2.2 * u)
            if shape == "late_surge":
                return u**3
            return u

        scales = kind in ("scales", "mixed")
        behaviour = kind in ("behavioural", "mixed", "complacency")
        m = 0.6 if kind == "mixed" else 1.0
        crave_peak = rng.uniform(0.7, 1.4) * size * m
        stress_peak = rng.uniform(0.4, 1.1) * size * m
        mood_peak = rng.uniform(0.3, 0.8) * size * m
        for k in range(length):
            t = p0 + k
            r = ramp(k)
            emotional = 1.0 if k < length * 0.66 else 0.6  # Melemis: emotional stage first
            mental = r
            if scales:
                crave[t] += crave_peak * mental
                stress[t] += stress_peak * r
                mood[t] -= mood_peak * r
                if answers_sleep:
                    sleep[t] -= 0.5 * size * r
            if kind == "behavioural":
                crave[t] += 0.2 * size * mental  # barely visible: under-reported
            if kind == "complacency":
                mood[t] += 0.4 * size * min(1.0, 2 * r)
                stress[t] -= 0.3 * size * r
            if behaviour:
                b = size * m * min(1.0, r * 1.4) * emotional
                attend[t] *= 1 - 0.6 * b
                med[t] *= 1 - 0.35 * b
                iso[t] += 0.4 * b if kind != "complacency" else 0.1 * b
                cope[t] *= 1 - 0.65 * b
                trig_mult[t] *= 1 + 1.5 * b
                if kind == "behavioural" and r > 0.5:
                    respond_mod[t] -= 0.25 * size
                if answers_sleep and kind == "behavioural":
                    sleep[t] -= 0.6 * b
        if scales:
            signals += ["craving", "stress", "mood"]
            if answers_sleep:
                signals.append("sleep")
        if kind == "complacency":
            signals.append("mood_up")
        if kind == "behavioural" and answers_sleep:
            signals.append("sleep")
        if behaviour:
            signals += [c for c in ("attendance", "medication", "isolation") if signal_channels[c]]
            signals += ["triggers", "uncoped_triggers", "coping"]
            if kind == "behavioural":
                signals.append("checkin_gaps")
        return sorted(set(signals))

    def lapse_day_state(t: int, shape: str) -> None:
        crave[t] += rng.uniform(0.8, 2.0)
        cope[t] *= 0.3
        tagmap = {
            "conflict": "conflict",
            "social_pressure": "social",
            "payday": "money",
            "celebration": "celebration",
            "anniversary": "anniversary",
            "unexpected_cue": "unexpected",
        }
        if shape in tagmap:
            tag_boost[t][tagmap[shape]] = 30.0
        if shape == "celebration":
            mood[t] += rng.uniform(0.8, 1.5)
            stress[t] -= 0.5
        elif shape == "conflict":
            mood[t] -= rng.uniform(1.0, 2.0)
            stress[t] += rng.uniform(1.5, 2.5)
        else:
            mood[t] -= rng.uniform(0.0, 1.0)

    def abstinence_violation(t: int) -> None:
        size = rng.uniform(0.8, 1.6)
        prof = _decay(8, 2.5)
        _bump(mood, t + 1, prof, -size)
        _bump(crave, t + 1, prof, 0.7 * size)
        _bump(stress, t + 1, prof, 0.5 * size)
        _bump(iso, t + 1, prof, 0.3)
        _bump(respond_mod, t + 1, _decay(6, 2.0), -0.3)
        for k in range(1, 6):
            if t + k < days:
                attend[t + k] *= 0.6

    def sudden_day(lo: int, hi: int, shape: str) -> int:
        if hi < lo:
            return -1
        pool = list(range(lo, hi + 1))
        wanted = {
            "payday": [t for t in paydays if lo <= t <= hi],
            "celebration": [t for t in holiday_days if lo <= t <= hi],
            "social_pressure": [t for t in holiday_days if lo <= t <= hi],
            "anniversary": [anniversary] if anniversary is not None and lo <= anniversary <= hi else [],
        }.get(shape, [])
        if wanted and rng.random() < 0.8:
            return rng.choice(wanted)
        return rng.choice(pool)

    def episode(lo: int, hi: int, kind: str) -> int:
        """One lapse episode (a first lapse, perhaps follow-ons) in [lo, hi]; returns its last day."""
        if kind == "prodromal":
            length = _pick_weighted(
                rng, [(rng.randint(3, 6), 25), (rng.randint(7, 13), 45), (rng.randint(14, 21), 30)]
            )
            length = min(length, max(3, hi - lo - 1))
            first = lo + length
            if first > hi:
                return -1
            lapse_t = rng.randint(first, hi)
            pkind = _pick_weighted(
                rng, [("scales", 26), ("behavioural", 26), ("mixed", 22), ("complacency", 10), ("subtle", 16)]
            )
            size = 1.0
            if pkind == "subtle":
                pkind, size = rng.choice(["scales", "behavioural", "mixed"]), 0.5
            shape = _pick_weighted(rng, [("cusp", 35), ("linear", 30), ("plateau", 20), ("late_surge", 15)])
            signals = add_prodrome(lapse_t, length, pkind, shape, size)
            cue = rng.choice(["conflict", "social_pressure", "unexpected_cue", "payday"])
            lapse_day_state(lapse_t, cue)
            lapses.append(
                {
                    "local_date": dates[lapse_t].isoformat(),
                    "kind": "prodromal",
                    "prodrome_start": dates[lapse_t - length].isoformat(),
                    "signals": signals,
                    "shape": shape,
                    "prodrome": pkind if size == 1.0 else f"subtle_{pkind}",
                    "cue": cue,
                }
            )
        else:
            shape = _pick_weighted(rng, sudden_shapes)
            lapse_t = sudden_day(lo, hi, shape)
            if lapse_t < 0:
                return -1
            lapse_day_state(lapse_t, shape)
            lapses.append(
                {
                    "local_date": dates[lapse_t].isoformat(),
                    "kind": "sudden",
                    "prodrome_start": None,
                    "signals": [],
                    "shape": shape,
                }
            )
        abstinence_violation(lapse_t)
        last = lapse_t
        p_follow = 0.4
        while last + 1 < days and rng.random() < p_follow:
            gap = min(13, 1 + int(rng.expovariate(1 / 3.0)))
            nxt = last + gap
            if nxt >= days:
                break
            lapse_day_state(nxt, rng.choice(["unexpected_cue", "social_pressure", "conflict"]))
            abstinence_violation(nxt)
            lapses.append(
                {
                    "local_date": dates[nxt].isoformat(),
                    "kind": "follow_on",
                    "prodrome_start": None,
                    "signals": [],
                    "shape": "binge" if gap == 1 else "abstinence_violation",
                    "after": dates[last].isoformat(),
                }
            )
            last = nxt
            p_follow = 0.25
        return last

    dropout_t: int | None = None
    late_margin = 3
    if archetype == "prodromal":
        last = episode(max(5, days // 8), days - late_margin - 2, "prodromal")
        subtype = lapses[0]["prodrome"] if lapses else "prodromal"
        if last >= 0 and last + 30 < days - late_margin and rng.random() < 0.3:
            episode(last + 21, days - late_margin - 1, rng.choice(["prodromal", "sudden"]))
    elif archetype == "sudden":
        last = episode(7, days - late_margin - 1, "sudden")
        subtype = lapses[0]["shape"] if lapses else "sudden"
        if last >= 0 and last + 25 < days - late_margin and rng.random() < 0.3:
            episode(last + 21, days - late_margin - 1, "sudden")
    elif archetype == "dropout":
        latest = days - 8
        if rng.random() < 0.45 and latest > 20:
            last = episode(max(5, days // 10), max(6, latest - 8), rng.choice(["prodromal", "sudden"]))
            # No lapse may come after the dropout: trim follow-ons that ran past the latest day.
            while lapses and lapses[-1]["local_date"] > dates[latest].isoformat():
                lapses.pop()
            last_lapse = (date.fromisoformat(lapses[-1]["local_date"]) - start).days if lapses else 10
            dropout_t = min(latest, last_lapse + rng.randint(0, 8))
            subtype = "lapse_then_silence" if lapses else "abrupt"
        else:
            # Early attrition is commonest (Eysenbach 2005): a skewed draw over the period.
            dropout_t = 5 + int((latest - 5) * rng.random() ** 1.6)
            subtype = _pick_weighted(rng, [("fade", 60), ("abrupt", 40)])
            if subtype == "fade":
                length = rng.randint(7, 21)
                for k in range(length):
                    t = dropout_t - length + k
                    if t >= 0:
                        respond_mod[t] -= 0.55 * (k + 1) / length
        dropout_t = max(3, min(dropout_t, latest))
    lapse_days = [(date.fromisoformat(x["local_date"]) - start).days for x in lapses]

    # Safety concerns: a few percent, likelier after a lapse.
    safety: list[int] = []
    p_safety = 0.02 + (0.02 if noisy else 0.0) + (0.07 if lapses else 0.0)
    if rng.random() < p_safety:
        horizon = dropout_t if dropout_t is not None else days - 1
        for _ in range(rng.choice([1, 1, 1, 2])):
            if lapse_days and rng.random() < 0.6:
                t = rng.choice(lapse_days) + rng.randint(1, 4)
            else:
                t = rng.randint(1, horizon)
            t = min(t, horizon)
            if t not in safety:
                safety.append(t)
                mood[t] -= 2.5
                stress[t] += 1.0
                iso[t] += 0.5
        safety.sort()

    # ----------------------------------------------------------------------------------------------
    # Engagement: which days get a check-in, and when each arrives.
    end = dropout_t if dropout_t is not None else days - 1
    p0 = rng.uniform(0.86, 0.99)
    alpha = rng.uniform(0.12, 0.35) if noisy else rng.uniform(0.02, 0.22)
    tau = rng.uniform(8.0, 30.0)
    base_resp = [p0 * (1 + t / tau) ** (-alpha) for t in range(days)]
    for _ in range(days // 30):
        if rng.random() < 0.35:  # a reactivation burst (a counsellor's call, a new streak)
            b0 = rng.randrange(days)
            for t in range(b0, min(days, b0 + rng.randint(5, 10))):
                base_resp[t] = max(base_resp[t], p0)
    forced = set(lapse_days) | set(safety) | {0, end}
    if dropout_t is None:
        forced.add(rng.randint(days - late_margin, days - 1))
    present: dict[int, str] = {}  # day -> "live" | "offline" | "backfill"
    for t in range(end + 1):
        p = _clamp(base_resp[t] + respond_mod[t], 0.03, 0.995)
        if t in forced or rng.random() < p:
            present[t] = "live"
    arrival: dict[int, datetime | None] = {}

    # Offline phones, then a batch at the sync.
    episodes = rng.choice([0, 0, 0, 1, 1, 2]) if rng.random() < 0.45 else 0
    for _ in range(episodes):
        s = rng.randrange(1, max(2, end - 3))
        k = rng.randint(2, 6)
        sync = s + k
        if sync >= end or (dropout_t is not None and sync >= end - 1):
            continue
        mode = rng.choice(["offline", "backfill"])
        sync_at = _instant(dates[sync], _minutes(rng.randint(7 * 60, 22 * 60)), tz)
        for t in range(s, sync):
            if mode == "offline":
                if t in present:
                    present[t] = "offline"
            else:
                if t in forced or rng.random() < 0.65:
                    present[t] = "backfill"
                else:
                    present.pop(t, None)
            if t in present:
                arrival[t] = sync_at
        present[sync] = "live"
        benign.append(f"{mode}_sync:{dates[sync].isoformat()}")

    # Arrival times of everything else.
    for t in present:
        if t in arrival:
            continue
        at: datetime | None = None
        if timing == "scattered" and rng.random() < 0.8:
            at = _instant(dates[t], _minutes(int(rng.triangular(6 * 60, 23 * 60 + 50, 18 * 60))), tz)
        elif timing == "late_night" and rng.random() < 0.7:
            minute = rng.randint(22 * 60 + 15, 24 * 60 + 90)
            if minute >= 24 * 60 and t + 1 < end and t + 1 not in forced:
                at = _instant(dates[t + 1], _minutes(minute - 24 * 60), tz)
            else:
                at = _instant(dates[t], _minutes(min(minute, 24 * 60 - 5)), tz)
        elif timing == "next_morning" and rng.random() < 0.3 and t + 1 < end and t not in forced:
            at = _instant(dates[t + 1], _minutes(rng.randint(6 * 60 + 30, 10 * 60)), tz)
        arrival[t] = at
    # Some lapses are disclosed a day or two late (concealment, then telling).
    for t in lapse_days:
        if t in present and arrival.get(t) is None and rng.random() < 0.15 and t + 2 < end:
            arrival[t] = _instant(dates[t + rng.randint(1, 2)], _minutes(rng.randint(8 * 60, 21 * 60)), tz)
    if dropout_t is not None:
        arrival[dropout_t] = None  # the last one arrives at its prompt, on its own day
        present[dropout_t] = "live"

    # ----------------------------------------------------------------------------------------------
    # Answers.
    typical_mood = mood_anchor
    typical_stress = stress_anchor
    typical_crave = crave_anchor

    def scale(x: float, lo: int, hi: int) -> int:
        return int(_clamp(round(x), lo, hi))

    def push(x: float, mid: float) -> float:
        return mid + (x - mid) * 1.35 if style == "extreme" else x

    checkins: list[dict] = []
    for t in sorted(present):
        mode = present[t]
        d = dates[t]
        m, s, c = mood[t], stress[t], crave[t]
        if mode == "backfill":
            # Recall regresses to the typical and is coloured by the state at the sync.
            w = rng.uniform(0.3, 0.6)
            sync_t = (arrival[t].astimezone(tz).date() - start).days if arrival[t] else t
            sync_t = min(sync_t, days - 1)
            m = w * m + (1 - w) * 0.5 * mood[sync_t]
            s = w * s + (1 - w) * 0.5 * stress[sync_t]
            c = w * c + (1 - w) * 0.5 * crave[sync_t]
        ma = mood_anchor + (shift_mood if shift_day is not None and t >= shift_day else 0.0)
        sa = stress_anchor + (shift_stress if shift_day is not None and t >= shift_day else 0.0)
        mood_v = scale(push(ma + mood_gain * m + rng.gauss(0, 0.2), 3.0), 1, 5)
        stress_v = scale(push(sa + stress_gain * s + rng.gauss(0, 0.3), 5.0), 0, 10)
        craw = crave_anchor + crave_gain * c + rng.gauss(0, 0.3)
        if craving_minimiser and craw < crave_anchor + 2.0:
            craw = 0.0
        crave_v = scale(push(craw, 5.0) if style == "extreme" else craw, 0, 10)
        used = t in lapse_days
        safe = t in safety
        if safe:
            mood_v = min(mood_v, rng.choice([1, 1, 2]))
        record: dict[str, Any] = {
            "local_date": d.isoformat(),
            "mood": mood_v,
            "craving": crave_v,
            "stress": stress_v,
        }
        if answers_sleep and (mode != "backfill" or rng.random() < 0.5):
            hours = sleep[t] if mode != "backfill" else 0.5 * sleep[t] + 0.5 * sleep_base
            record["sleep_hours"] = _clamp(round(hours / sleep_step) * sleep_step, 0.0, 16.0)
        record["used"] = used
        record["safety_concern"] = safe
        if answers_isolating:
            record["isolating"] = rng.random() < _clamp(iso[t], 0.0, 0.95)
        if has_sessions and answers_support:
            if _scheduled(sessions, d):
                if mode == "backfill" and rng.random() < 0.5:
                    record["attended_support"] = True  # recalled as planned
                else:
                    record["attended_support"] = rng.random() < _clamp(attend[t], 0.02, 0.99)
            elif misreads_support and rng.random() < 0.5:
                record["attended_support"] = False
            else:
                record["attended_support"] = None
        if has_meds:
            if mode == "backfill" and rng.random() < 0.4:
                record["took_medication"] = None
            else:
                record["took_medication"] = rng.random() < _clamp(med[t], 0.02, 0.995)
        met: list[str] = []
        coped: list[str] = []
        for trig in plan_triggers:
            rate = {"low": 0.04, "medium": 0.07, "high": 0.05}[trig["risk"]] * trig_mult[t]
            for tag in trig_tags[trig["id"]]:
                rate *= tag_boost[t].get(tag, 1.0)
            if shift_worker and trig["id"] == "trg-tired":
                rate *= 3
            if mode == "backfill":
                rate *= 0.4  # discrete events are forgotten
            if rng.random() < _clamp(rate, 0.0, 0.95):
                met.append(trig["id"])
                if rng.random() < _clamp(cope[t], 0.0, 0.98):
                    coped.append(rng.choice(trig["coping_skill_ids"]))
        if rng.random() < 0.12 * cope[t]:
            coped.append(rng.choice(plan["coping_skills"])["id"])
        record["triggers"] = met
        record["coping_used"] = sorted(set(coped))
        if journaler and rng.random() < 0.3:
            key = "lapse" if used else "low" if mood_v <= 2 else "high" if mood_v >= 4 else "mid"
            record["note"] = rng.choice(NOTES[key])
        if uses_ids:
            record["client_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        at = arrival.get(t)
        if at is not None:
            record["received_at"] = _iso(at)
        checkins.append(record)

    history: dict[str, Any] = {
        "graduate": gid,
        "timezone": zone,
    }
    if checkin_choice:
        history["checkin_time"] = checkin_choice
    history.update(
        {
            "start_date": start.isoformat(),
            "end_date": dates[-1].isoformat(),
            "plan": plan,
            "checkins": checkins,
        }
    )
    missed = sum(1 for t in range(days) if t not in present)
    truth = {
        "graduate": gid,
        "archetype": archetype,
        "subtype": subtype,
        "lapses": lapses,
        "dropout_last_checkin": dates[dropout_t].isoformat() if dropout_t is not None else None,
        "safety_days": [dates[t].isoformat() for t in safety],
        "timezone": zone,
        "style": style,
        "missed_days": missed,
        "late_checkins": sum(
            1
            for r in checkins
            if "received_at" in r
            and datetime.fromisoformat(r["received_at"]).astimezone(tz).date().isoformat() > r["local_date"]
        ),
        "typical": {
            "mood": round(typical_mood, 2),
            "stress": round(typical_stress, 2),
            "craving": round(typical_crave, 2),
        },
        "benign": benign,
    }
    return history, truth


# --------------------------------------------------------------------------------------------------
# CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--graduates", type=int, default=600)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--truth", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.days < 14:
        parser.error("--days must be at least 14")
    with args.out.open("w", encoding="utf-8") as out, args.truth.open("w", encoding="utf-8") as truth_out:
        for i in range(args.graduates):
            history, truth = make_graduate(args.seed, i, args.days)
            out.write(json.dumps(history, separators=(",", ":")) + "\n")
            truth_out.write(json.dumps(truth, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
