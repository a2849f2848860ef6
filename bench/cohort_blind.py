"""A blind synthetic cohort: aftercare graduates' daily check-ins, with the truth of what happened.

Written as a hold-out for the warning-sign engine: the population is designed from how people leaving
an intensive outpatient program (IOP) and their daily self-reports are described in the literature,
not from the engine. ``--out`` is the ``aftercare backtest`` input (CONTRACT.md, "Backtest");
``--truth`` says, per graduate and in the same order, which days were reported lapses, when each
lapse's warning signs began and which signs it carried, when a dropout last checked in, and which
days carried a safety concern.

    python bench/cohort_blind.py --graduates 600 --days 120 --seed 7 --out OUT --truth TRUTH

What it draws on (qualitatively; every number below is this file's own choice, not a figure from
these works):

- Relapse as a process: Marlatt & Gordon's relapse-prevention model (high-risk situations, coping,
  the abstinence-violation effect after a lapse: Curry, Marlatt & Gordon 1987); Gorski & Miller,
  *Staying Sober* (1986), on warning signs that build over days to weeks; Melemis (2015, Yale J Biol
  Med) on emotional, then mental, then physical relapse (poor self-care, isolation, skipped meetings
  and poor sleep come before craving and bargaining). Witkiewitz & Marlatt (2004, 2007) on relapse as
  dynamic and sometimes abrupt: small changes can tip a person into a lapse with no visible build-up.
- Timing: relapse curves since Hunt, Barnett & Branch (1971) fall steeply in the first months after
  treatment; McLellan et al. (2000) on addiction as a chronic, relapsing illness. So first lapses
  and dropouts are drawn early-weighted, and a lapse is often followed by more (a "follow-on").
- Daily diaries / EMA: Shiffman, Stone & Hufford (2008) and Trull & Ebner-Priemer (2013) on
  ambulatory assessment; Serre et al. (2015) on craving as the most proximal predictor of use in
  daily life; Shiffman et al. (1996) on first lapses preceded by negative affect and urges but also
  arising from sudden temptation; Sinha (2001) on stress raising craving; Brower (2003) on poor
  sleep and relapse; Kuppens, Allen & Sheeber (2010) on emotional inertia (day-to-day carry-over,
  stronger in depression); Del Boca et al. (2004) on weekly rhythms of drinking; Kleiman et al.
  (2017) on suicidal ideation that comes and goes quickly, sometimes without a mood drop.
- Data quality: Jones et al. (2019, Addiction) on incomplete and declining compliance with EMA in
  people who use substances; Baumgartner & Steenkamp (2001) on response styles (extreme, midpoint,
  acquiescent); heaping of numeric rating scales on 0, 5 and 10; careless "same as yesterday"
  answers (Meade & Craig 2012); incubation of craving, which can rise for weeks into abstinence
  before it falls (Grimm et al. 2001; Parvaz et al. 2016); the "pink cloud" of early recovery
  (a recovery-community term: an early high that settles).

Population (shares are expected values; each graduate's kind is drawn from its own generator):
stable 32%, noisy 20% (wide, heavy-tailed swings, never a lapse), rough_patch 5% (a stretch of
warning signs that the graduate copes with: no lapse), prodromal 21% (first lapse after a build-up),
sudden 9% (first lapse with no build-up), dropout 13% (stop checking in for good; some first
struggle or report a lapse). About 5% of those who never lapse and 9% of those who do report
``safety_concern`` on one or more days, more often in the week after a lapse.

Noise, per graduate: a shared negative-affect factor (AR(1), inertia drawn per person) loading on
mood, stress, craving and sleep with person-specific weights, plus each measure's own AR(1) part;
scale-mixture shocks (heavy tails); craving right-skewed (log-normal around a personal level, many
zeros); last night's sleep feeding today's mood; weekday/weekend rhythm (weekend craving and lie-ins,
weekday stress, Monday dip; shifted for shift workers); some a monthly cycle; slow benign baseline
moves (improving, pink cloud, season by hemisphere, a step such as a new job, incubating craving, a
slow worsening); benign life events, good and bad, lasting days. Answers go through a response style
(plain, extreme, midpoint, favourable for mood; plain, heaping, even numbers, extreme, compressed for
0-10), whole/half/tracker hours for sleep, and now and then a copy of yesterday's answers, growing
with fatigue. Optional questions are skipped by style (never, sometimes, always answered), and
"attended support" is read three ways (only on planned days, "no" on days with nothing planned,
informal support counted as "yes").

Missingness: a two-state chain (a missed day makes the next more likely: runs), lower on weekends,
worse with time (fatigue), a little more on low-mood days (not at random), whole gaps (travel,
illness, a lost phone). Lapse and safety days always have a check-in; a graduate who does not drop
out checks in on the last day. Arrival: at the prompt, spread around it (some before it, some after
midnight), single late syncs the next morning, and offline spells synced together up to four days
later; check-ins are written in arrival order.

Prodromes: 1-6 signals among craving, low mood, stress, poor sleep, missed support, isolating,
triggers met without coping, missed medication and going quiet, chosen only among what the graduate
actually reports (no sleep signal for someone who never gives sleep). Length 2-28 days (short,
medium, long), overall strength weak to strong, each signal with its own onset (emotional and
behavioural signs tend to come first, craving and triggers later, not always) and shape (linear,
accelerating, early plateau, step, waxing and waning). A lapse day itself tends to carry craving and
a trigger; afterwards mood dips, craving and quiet rise for days (the abstinence-violation effect),
and a follow-on lapse may come within two weeks; a later, separate episode is possible.
"""

from __future__ import annotations

import argparse
import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import msgspec

T = TypeVar("T")

ARCHETYPES: tuple[tuple[str, float], ...] = (
    ("stable", 0.32),
    ("noisy", 0.20),
    ("rough_patch", 0.05),
    ("prodromal", 0.21),
    ("sudden", 0.09),
    ("dropout", 0.13),
)

# (IANA zone, weight, crisis line, hemisphere: +1 north, -1 south). Mostly US programs, some abroad.
TIMEZONES: tuple[tuple[str, int, str, int], ...] = (
    ("America/New_York", 20, "988", 1),
    ("America/Chicago", 15, "988", 1),
    ("America/Denver", 7, "988", 1),
    ("America/Phoenix", 5, "988", 1),
    ("America/Los_Angeles", 15, "988", 1),
    ("America/Anchorage", 3, "988", 1),
    ("Pacific/Honolulu", 3, "988", 1),
    ("America/Puerto_Rico", 4, "988", 1),
    ("America/Halifax", 3, "988", 1),
    ("America/St_Johns", 2, "988", 1),
    ("Europe/London", 10, "116 123", 1),
    ("Europe/Berlin", 7, "0800 111 0 111", 1),
    ("Australia/Adelaide", 6, "13 11 14", -1),
)

CHECKIN_TIMES = ("07:30", "08:00", "09:00", "12:00", "17:30", "18:00", "19:00", "20:00", "21:00", "21:30")
CHECKIN_WEIGHTS = (4, 8, 5, 3, 4, 10, 18, 18, 14, 6)

# Warning signs as relapse-prevention work lists them: emotional and behavioural ones tend to come
# first (every sign of SIGNAL_WEIGHT but these), craving and triggers met without coping later.
LATE_SIGNALS = ("craving", "triggers_without_coping")
SIGNAL_WEIGHT = {
    "craving": 5.0,
    "low_mood": 4.0,
    "stress": 4.0,
    "poor_sleep": 3.0,
    "isolating": 3.0,
    "missed_support": 3.0,
    "triggers_without_coping": 3.0,
    "going_quiet": 2.5,
    "missed_medication": 2.5,
}
# What each signal does to the day's latent state: (channel, low, high) at full strength.
SIGNAL_EFFECTS: dict[str, tuple[tuple[str, float, float], ...]] = {
    "craving": (("craving", 2.5, 6.0), ("mood", -0.1, -0.3)),
    "low_mood": (("mood", -0.8, -1.8), ("stress", 0.2, 0.8)),
    "stress": (("stress", 2.0, 5.0), ("mood", -0.1, -0.4)),
    "poor_sleep": (("sleep", -1.0, -3.0),),
    "missed_support": (("miss_support", 0.4, 0.9),),
    "isolating": (("isolate", 0.35, 0.8),),
    "triggers_without_coping": (("trigger", 0.2, 0.5), ("cope_drop", 0.5, 0.95)),
    "missed_medication": (("miss_med", 0.3, 0.8),),
    "going_quiet": (("skip", 0.25, 0.6),),
}
SHAPES = ("linear", "accelerating", "early", "step", "waxing")
SHAPE_WEIGHTS = (4, 3, 2, 2, 2)

COPING_POOL: tuple[tuple[str, str, str, str], ...] = (
    ("urge-surfing", "Urge surfing", "mindfulness", "Notice the urge as a wave; breathe and watch it pass."),
    ("call-sponsor", "Call my sponsor", "connection", "Call before deciding anything."),
    ("halt", "HALT check", "self-care", "Am I hungry, angry, lonely or tired? Fix that first."),
    ("box-breathing", "Box breathing", "relaxation", "In four, hold four, out four, hold four; five rounds."),
    ("walk", "Go for a walk", "activity", "Twenty minutes outside, phone in pocket."),
    ("play-tape", "Play the tape through", "thinking", "Think past the first drink to the next morning."),
    ("extra-meeting", "Go to an extra meeting", "connection", "Any meeting, online counts."),
    ("journal", "Write in my journal", "reflection", "Three lines: what happened, what I felt, what I need."),
    ("grounding", "5-4-3-2-1 grounding", "mindfulness", "Five things I see, four I hear, three I feel."),
    ("text-friend", "Text someone on my list", "connection", "Just say hi; no need to explain."),
    ("gym", "Work out", "activity", "Gym, bike or a run."),
    ("meditate", "Prayer or meditation", "spiritual", "Ten minutes, morning or evening."),
)

# (id, name, category, risk)
TRIGGER_POOL: tuple[tuple[str, str, str, str], ...] = (
    ("old-friends", "Old using friends", "people", "high"),
    ("bar-route", "Driving past my old bar", "places", "high"),
    ("payday", "Payday, cash in hand", "situations", "high"),
    ("parties", "Parties and celebrations", "situations", "high"),
    ("family-conflict", "Arguments with family", "people", "medium"),
    ("loneliness", "Feeling lonely", "emotions", "medium"),
    ("boredom", "Boredom", "emotions", "medium"),
    ("anger", "Anger", "emotions", "medium"),
    ("work-stress", "Pressure at work", "situations", "medium"),
    ("pain", "Back pain", "sensations", "medium"),
    ("game-night", "Watching the game at a bar", "places", "medium"),
    ("exhausted", "Being exhausted", "sensations", "low"),
    ("smell", "Smell of alcohol or smoke", "sensations", "low"),
    ("good-news", "Good news I want to celebrate", "emotions", "low"),
)
RISK_RATE = {"high": 0.6, "medium": 1.0, "low": 1.3}  # risky situations are met less often

MEDICATION_POOL: tuple[tuple[str, str, str], ...] = (
    ("naltrexone", "Naltrexone", "50 mg"),
    ("acamprosate", "Acamprosate", "666 mg"),
    ("bup-nx", "Buprenorphine/naloxone", "8 mg/2 mg"),
    ("sertraline", "Sertraline", "100 mg"),
    ("bupropion", "Bupropion XL", "150 mg"),
    ("gabapentin", "Gabapentin", "300 mg"),
    ("disulfiram", "Disulfiram", "250 mg"),
)
FELLOWSHIPS: tuple[tuple[str, str], ...] = (
    ("AA", "AA home group"),
    ("AA", "AA Big Book study"),
    ("NA", "NA Just for Today"),
    ("SMART", "SMART Recovery online"),
    ("CA", "CA step meeting"),
    ("MHA", "Peer support circle"),
    ("other", "Recovery Dharma"),
)
WARNING_SIGN_TEXTS = (
    "Skipping meetings",
    "Not sleeping",
    "Staying in my room",
    "Thinking about old friends",
    "Snapping at people",
    "Telling myself one won't hurt",
    "Not answering my phone",
)
CONTACTS: tuple[tuple[str, str], ...] = (
    ("Dana", "sponsor"),
    ("Mom", "mother"),
    ("Chris", "brother"),
    ("Sam", "friend"),
    ("Alex", "partner"),
)
DAYS_OF_WEEK = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

NOTES_GOOD = (
    "Good day.",
    "Meeting helped tonight.",
    "Went for a run with my sister.",
    "Quiet day, fine.",
    "Cooked dinner for the kids.",
)
NOTES_BAD = (
    "Rough day at work.",
    "Barely slept.",
    "Fought with my partner.",
    "Money stress again.",
    "Back is killing me.",
    "Just tired of everything.",
)
NOTES_LAPSE = (
    "Slipped last night.",
    "Drank after work. Not proud of it.",
    "Used with an old friend.",
    "Had a few at the party.",
    "Messed up. Starting again tomorrow.",
)

FIRST_START = date(2026, 1, 5)
START_SPREAD_DAYS = 56  # rolling graduations through January and February 2026


# --- small helpers ---------------------------------------------------------------------------------


def clamp(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def pick(rng: random.Random, options: Sequence[T], weights: Sequence[float]) -> T:
    return rng.choices(options, weights)[0]


def shock(rng: random.Random, p: float, scale: float) -> float:
    """A standard normal draw, now and then scaled up: a scale mixture gives heavy tails."""
    z = rng.gauss(0.0, 1.0)
    return z * scale if rng.random() < p else z


def early_weighted(rng: random.Random, lo: int, hi: int) -> int:
    """A day in [lo, hi], more likely early: the hazard of lapse and dropout falls with time."""
    if hi <= lo:
        return lo
    return min(hi, lo + int(rng.betavariate(1.2, 2.0) * (hi - lo + 1)))


def new_uuid(rng: random.Random) -> str:
    # From the graduate's own generator (not uuid4()), so the same arguments give the same file.
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# --- the plan --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Meeting:
    """When a planned support group or therapy session falls, mirroring the RRULE in the plan."""

    weekdays: frozenset[int]
    interval: int = 1
    anchor: date = FIRST_START  # the Monday of the week the schedule starts
    monthday: int = 0  # monthly on this day of the month, when set

    def on(self, day: date) -> bool:
        if self.monthday:
            return day.day == self.monthday
        if day.weekday() not in self.weekdays:
            return False
        return ((day - self.anchor).days // 7) % self.interval == 0


@dataclass(frozen=True, slots=True)
class TriggerRef:
    id: str
    category: str
    risk: str
    coping: tuple[str, ...]


@dataclass(slots=True)
class Plan:
    body: dict[str, object] | None
    meetings: list[Meeting] = field(default_factory=list)
    meds: int = 0
    triggers: list[TriggerRef] = field(default_factory=list)
    coping: list[str] = field(default_factory=list)


def weekly_rule(days: list[int], interval: int = 1) -> str:
    by = ",".join(DAYS_OF_WEEK[d] for d in sorted(days))
    return f"FREQ=WEEKLY;INTERVAL={interval};BYDAY={by}" if interval > 1 else f"FREQ=WEEKLY;BYDAY={by}"


def schedule(rule: str, start: date, at: str, minutes: int | None = None) -> dict[str, object]:
    out: dict[str, object] = {"rrule": rule, "start_local": f"{start.isoformat()}T{at}"}
    if minutes:
        out["duration_minutes"] = minutes
    return out


def support_groups(
    rng: random.Random, start: date, anchor: date
) -> tuple[list[dict[str, object]], list[Meeting]]:
    items: list[dict[str, object]] = []
    meetings: list[Meeting] = []
    n = pick(rng, (0, 1, 2), (25, 55, 20))
    for i, (fellowship, name) in enumerate(rng.sample(FELLOWSHIPS, n)):
        if rng.random() < 0.08:  # "ninety meetings in ninety days" in early recovery
            rule, days = "FREQ=DAILY", list(range(7))
        else:
            days = rng.sample(range(7), pick(rng, (1, 2, 3), (50, 35, 15)))
            rule = weekly_rule(days)
        at = pick(rng, ("07:00", "12:00", "18:30", "19:00", "19:30", "20:00"), (1, 1, 2, 4, 2, 2))
        item: dict[str, object] = {
            "id": f"sg-{i + 1}",
            "name": name,
            "fellowship": fellowship,
            "schedule": schedule(rule, start, at, 60),
            "reminder_minutes_before": [60],
        }
        if fellowship == "SMART":
            item["url"] = "https://meetings.example.org/smart"
        else:
            item["location"] = "Community center"
        items.append(item)
        meetings.append(Meeting(frozenset(days), 1, anchor))
    return items, meetings


def therapy(rng: random.Random, start: date, anchor: date) -> tuple[list[dict[str, object]], list[Meeting]]:
    items: list[dict[str, object]] = []
    meetings: list[Meeting] = []
    if rng.random() < 0.7:  # individual counselling, weekly or every other week
        day = rng.randrange(5)
        interval = pick(rng, (1, 2), (60, 40))
        kind = pick(rng, ("individual", "telehealth"), (70, 30))
        items.append(
            {
                "id": "th-individual",
                "kind": kind,
                "provider": "Counselor",
                "schedule": schedule(weekly_rule([day], interval), start, "16:00", 50),
                "reminder_minutes_before": [1440, 60],
            }
        )
        meetings.append(Meeting(frozenset([day]), interval, anchor))
    if rng.random() < 0.3:  # IOP step-down group
        days = rng.sample(range(5), pick(rng, (1, 2), (60, 40)))
        items.append(
            {
                "id": "th-group",
                "kind": "group",
                "provider": "Continuing care group",
                "schedule": schedule(weekly_rule(days), start, "18:00", 90),
                "reminder_minutes_before": [120],
            }
        )
        meetings.append(Meeting(frozenset(days), 1, anchor))
    if rng.random() < 0.25:  # monthly medication management
        monthday = rng.randint(1, 28)
        items.append(
            {
                "id": "th-psychiatry",
                "kind": "psychiatry",
                "provider": "Psychiatric NP",
                "schedule": schedule(f"FREQ=MONTHLY;BYMONTHDAY={monthday}", start, "10:00", 30),
                "reminder_minutes_before": [1440],
            }
        )
        meetings.append(Meeting(frozenset(), 1, anchor, monthday))
    return items, meetings


def medications(rng: random.Random, start: date) -> list[dict[str, object]]:
    n = pick(rng, (0, 1, 2), (45, 40, 15))
    return [
        {
            "id": f"med-{med_id}",
            "name": name,
            "dose": dose,
            "schedule": schedule("FREQ=DAILY", start, pick(rng, ("08:00", "09:00", "21:00"), (3, 1, 2))),
            "remind": rng.random() < 0.8,
        }
        for med_id, name, dose in rng.sample(MEDICATION_POOL, n)
    ]


def coping_and_triggers(
    rng: random.Random,
) -> tuple[list[dict[str, object]], list[dict[str, object]], list[TriggerRef]]:
    skills = rng.sample(COPING_POOL, rng.randint(3, 7))
    skill_ids = [f"cs-{s[0]}" for s in skills]
    coping: list[dict[str, object]] = [
        {"id": f"cs-{s[0]}", "name": s[1], "category": s[2], "instructions": s[3]} for s in skills
    ]
    triggers: list[dict[str, object]] = []
    refs: list[TriggerRef] = []
    for tid, name, category, risk in rng.sample(TRIGGER_POOL, rng.randint(2, 6)):
        # Some triggers are written down without a plan for them yet.
        linked = [] if rng.random() < 0.12 else rng.sample(skill_ids, rng.randint(1, 2))
        triggers.append(
            {"id": f"tr-{tid}", "name": name, "category": category, "coping_skill_ids": linked, "risk": risk}
        )
        refs.append(TriggerRef(f"tr-{tid}", category, risk, tuple(linked)))
    return coping, triggers, refs


def build_plan(rng: random.Random, start: date, crisis_line: str) -> Plan:
    if rng.random() < 0.05:  # the plan was never filled in
        return Plan(None)
    anchor = start - timedelta(days=start.weekday())
    groups, group_meetings = support_groups(rng, start, anchor)
    sessions, session_meetings = therapy(rng, start, anchor)
    meds = medications(rng, start)
    coping, triggers, refs = coping_and_triggers(rng)
    contacts = [
        {"id": f"sc-{i + 1}", "name": name, "relation": relation, "phone": f"+1 555-01{i:02d}"}
        for i, (name, relation) in enumerate(rng.sample(CONTACTS, rng.randint(1, 3)))
    ]
    body: dict[str, object] = {
        "therapy": sessions,
        "support_groups": groups,
        "coping_skills": coping,
        "triggers": triggers,
        "warning_signs": [
            {"id": f"ws-{i + 1}", "description": text}
            for i, text in enumerate(rng.sample(WARNING_SIGN_TEXTS, rng.randint(1, 3)))
        ],
        "medications": meds,
        "support_contacts": contacts,
        "goals": [{"id": "goal-1", "text": "Stay sober one day at a time"}],
        "crisis_plan": {
            "steps": ["Call my sponsor", "Go somewhere safe and public", f"Call {crisis_line}"],
            "crisis_line": crisis_line,
        },
    }
    return Plan(body, group_meetings + session_meetings, len(meds), refs, [str(c["id"]) for c in coping])


# --- the person ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Traits:
    """Who the graduate is as a reporter: levels, variability, rhythms, styles, engagement."""

    noisy: bool
    mood_base: float
    mood_sd: float
    stress_base: float
    stress_sd: float
    craving_base: float  # typical craving (0-10) before the skew
    craving_spread: float  # log-scale spread: right-skewed craving with spikes
    sleep_base: float
    sleep_sd: float
    inertia: float  # carry-over of the shared negative-affect factor
    idio_inertia: float  # carry-over of each measure's own part
    share_mood: float  # how much of each measure's variance is the shared factor
    share_stress: float
    share_craving: float
    share_sleep: float
    shock_p: float
    shock_scale: float
    sleep_to_mood: float  # a short night lowers the next day's mood
    weekend_craving: float
    weekday_stress: float
    monday_mood: float
    weekend_sleep: float
    week_shift: int  # shift workers: their "weekend" falls elsewhere
    mood_style: str
    scale_style: str
    sleep_style: str
    reports_sleep: float
    copy_p: float
    copy_growth: float
    miss_after_answer: float
    miss_after_miss: float
    weekend_miss: float
    fatigue: float
    mnar: float
    gap_rate: float  # whole gaps (travel, illness, a lost phone) per 120 days
    latency: str
    habit_minutes: int  # when they usually answer, minutes after midnight
    late_p: float
    offline_p: float
    iso_answer_p: float
    iso_base: float
    support_style: str
    attend_p: float
    med_answer_p: float
    adherence: float
    trigger_rate: float
    trigger_report_p: float
    cope_p: float
    practice_p: float
    note_p: float
    life_event_rate: float
    client_ids: bool


def draw_craving_base(rng: random.Random, relapsing: bool, noisy: bool) -> float:
    weights = (40, 40, 20) if relapsing or noisy else (58, 32, 10)
    band = pick(rng, ((0.2, 1.2), (1.2, 3.0), (3.0, 5.0)), weights)
    return rng.uniform(*band)


def draw_traits(rng: random.Random, kind: str, checkin_minutes: int) -> Traits:
    relapsing = kind in ("prodromal", "sudden", "dropout")
    noisy = kind == "noisy" or (kind != "stable" and rng.random() < 0.35)
    depressed = rng.random() < 0.2  # co-occurring depression: lower, stickier mood
    mood_base = clamp(
        rng.gauss(3.6, 0.4) - (0.6 if depressed else 0.0) - (0.15 if relapsing else 0.0), 2.2, 4.6
    )
    compliance = rng.betavariate(5.0, 1.5)
    miss1 = (1.0 - compliance) * rng.uniform(0.5, 0.9)
    latency = pick(rng, ("prompt", "spread"), (45, 55))
    return Traits(
        noisy=noisy,
        mood_base=mood_base,
        mood_sd=rng.uniform(0.75, 1.2) if noisy else rng.uniform(0.3, 0.62),
        stress_base=clamp(rng.gauss(4.0, 1.3), 0.5, 8.0),
        stress_sd=rng.uniform(1.6, 2.8) if noisy else rng.uniform(0.7, 1.5),
        craving_base=draw_craving_base(rng, relapsing, noisy),
        craving_spread=rng.uniform(0.6, 1.0) if noisy else rng.uniform(0.25, 0.6),
        sleep_base=clamp(rng.gauss(6.9, 0.8), 4.5, 9.0),
        sleep_sd=rng.uniform(0.9, 1.8) if noisy else rng.uniform(0.4, 1.0),
        inertia=rng.uniform(0.5, 0.9) if depressed else rng.uniform(0.2, 0.8),
        idio_inertia=rng.uniform(0.0, 0.5),
        share_mood=rng.uniform(0.3, 0.8),
        share_stress=rng.uniform(0.3, 0.8),
        share_craving=rng.uniform(0.1, 0.6),
        share_sleep=rng.uniform(0.0, 0.4),
        shock_p=rng.uniform(0.04, 0.12) if noisy else rng.uniform(0.005, 0.03),
        shock_scale=rng.uniform(2.2, 3.8),
        sleep_to_mood=rng.uniform(0.0, 0.2),
        weekend_craving=rng.uniform(0.0, 2.5 if noisy else 1.2),
        weekday_stress=rng.uniform(0.0, 1.2),
        monday_mood=rng.uniform(0.0, 0.3),
        weekend_sleep=rng.uniform(0.0, 1.0),
        week_shift=0 if rng.random() < 0.9 else rng.randrange(1, 7),
        mood_style=pick(rng, ("plain", "extreme", "midpoint", "favourable"), (55, 12, 15, 18)),
        scale_style=pick(rng, ("plain", "heaping", "even", "extreme", "compressed"), (50, 20, 8, 8, 14)),
        sleep_style=pick(rng, ("half", "whole", "decimal"), (55, 30, 15)),
        reports_sleep=pick(rng, (0.0, rng.uniform(0.3, 0.7), rng.uniform(0.85, 1.0)), (25, 15, 60)),
        copy_p=rng.uniform(0.0, 0.03) if rng.random() < 0.7 else rng.uniform(0.05, 0.2),
        copy_growth=rng.uniform(0.0, 0.1),
        miss_after_answer=miss1,
        miss_after_miss=min(0.75, miss1 + rng.uniform(0.1, 0.4)),
        weekend_miss=rng.uniform(1.0, 1.6),
        fatigue=rng.uniform(0.0, 1.2),
        mnar=rng.uniform(0.0, 0.06),
        gap_rate=rng.uniform(0.0, 1.2),
        latency=latency,
        habit_minutes=checkin_minutes,
        late_p=rng.uniform(0.0, 0.02) if rng.random() < 0.6 else rng.uniform(0.02, 0.08),
        offline_p=0.0 if rng.random() < 0.7 else rng.uniform(0.005, 0.03),
        iso_answer_p=pick(rng, (0.0, rng.uniform(0.3, 0.8), rng.uniform(0.9, 1.0)), (20, 20, 60)),
        iso_base=rng.uniform(0.01, 0.35 if noisy else 0.2),
        support_style=pick(rng, ("planned", "always", "informal", "skipper"), (60, 20, 8, 12)),
        attend_p=rng.uniform(0.6, 0.97),
        med_answer_p=rng.uniform(0.7, 1.0),
        adherence=rng.betavariate(12.0, 1.2),
        trigger_rate=rng.uniform(0.03, 0.12) if noisy else rng.uniform(0.01, 0.08),
        trigger_report_p=rng.uniform(0.0, 0.2) if rng.random() < 0.2 else rng.uniform(0.5, 1.0),
        cope_p=rng.uniform(0.4, 0.95),
        practice_p=rng.uniform(0.0, 0.35),
        note_p=0.0 if rng.random() < 0.6 else rng.uniform(0.01, 0.12),
        life_event_rate=rng.uniform(1.5, 4.0) if noisy else rng.uniform(0.3, 1.5),
        client_ids=rng.random() < 0.75,
    )


# --- what happens to them: per-day shifts ----------------------------------------------------------


@dataclass(slots=True)
class Effects:
    """Per-day shifts of the latent state, filled in before the days are drawn."""

    mood: list[float]
    craving: list[float]
    stress: list[float]
    sleep: list[float]
    skip: list[float]  # extra chance of not checking in
    isolate: list[float]
    miss_support: list[float]
    miss_med: list[float]
    trigger: list[float]  # extra chance of meeting a medium or high-risk trigger
    cope_drop: list[float]
    practice: list[float]

    @classmethod
    def zeros(cls, n: int) -> Effects:
        return cls(*([0.0] * n for _ in range(11)))

    def add(self, channel: str, t: int, value: float) -> None:
        row: list[float] = getattr(self, channel)
        if 0 <= t < len(row):
            row[t] += value


def ramp(shape: str, x: float, step_at: float) -> float:
    """How far along a warning sign is, 0..1, at fraction x of its course to the lapse."""
    if shape == "linear":
        return x
    if shape == "accelerating":
        return x * x
    if shape == "early":
        return math.sqrt(x)
    if shape == "step":
        return 1.0 if x >= step_at else 0.15 * x
    return x * (0.75 + 0.25 * math.cos(4.0 * math.pi * x))  # waxing and waning, full at the end


def apply_signal(
    rng: random.Random, eff: Effects, name: str, onset: int, peak: int, amp: float, fade: int = 0
) -> None:
    """One warning sign from onset to peak (inclusive), then optionally fading out over `fade` days."""
    shape = pick(rng, SHAPES, SHAPE_WEIGHTS)
    step_at = rng.uniform(0.3, 0.8)
    span = peak - onset + 1
    for channel, lo, hi in SIGNAL_EFFECTS[name]:
        size = rng.uniform(lo, hi) * amp
        for t in range(onset, peak + 1):
            eff.add(channel, t, size * ramp(shape, (t - onset + 1) / span, step_at))
        for j in range(1, fade + 1):
            eff.add(channel, peak + j, size * (1.0 - j / (fade + 1)))


def add_shape(eff: Effects, start: int, days: int, sizes: dict[str, float]) -> None:
    """An event: full on its first half, then easing off."""
    half = max(1, (days + 1) // 2)
    for j in range(days):
        f = 1.0 if j < half else 1.0 - (j - half + 1) / (days - half + 1)
        for channel, size in sizes.items():
            eff.add(channel, start + j, size * f)


def add_life_events(rng: random.Random, eff: Effects, tr: Traits, n_days: int) -> None:
    """Benign ups and downs: a sick child, a fight, a funeral, a good week, a holiday."""
    expected = tr.life_event_rate * n_days / 120.0
    for _ in range(n_days):
        if rng.random() >= expected / n_days:
            continue
        start = rng.randrange(n_days)
        length = rng.randint(1, 7)
        s = rng.uniform(0.5, 1.3)
        if rng.random() < 0.3:
            sizes = {"mood": rng.uniform(0.3, 0.8) * s, "stress": -rng.uniform(0.5, 2.0) * s}
        else:
            sizes = {
                "stress": rng.uniform(1.5, 4.0) * s,
                "mood": -rng.uniform(0.3, 1.0) * s,
                "sleep": -rng.uniform(0.0, 1.5) * s,
                "craving": rng.uniform(0.0, 1.5) * s,
                "isolate": rng.uniform(0.0, 0.2) * s,
            }
        add_shape(eff, start, length, sizes)


def add_drift(rng: random.Random, eff: Effects, start: date, n_days: int, hemisphere: int) -> None:
    """A slow, benign move of the baseline."""
    kind = pick(
        rng,
        ("none", "improving", "pink_cloud", "seasonal", "step", "incubation", "worsening"),
        (28, 28, 10, 12, 11, 6, 5),
    )
    if kind == "none":
        return
    if kind == "improving":  # recovery capital builds: mood up, craving and stress down
        g_mood, g_crav, g_stress = rng.uniform(0.2, 0.6), rng.uniform(0.3, 1.5), rng.uniform(0.0, 1.0)
        for t in range(n_days):
            f = t / n_days
            eff.mood[t] += g_mood * f
            eff.craving[t] -= g_crav * f
            eff.stress[t] -= g_stress * f
    elif kind == "pink_cloud":  # an early high that settles
        h, tau = rng.uniform(0.4, 0.9), rng.uniform(10.0, 30.0)
        for t in range(n_days):
            eff.mood[t] += h * math.exp(-t / tau)
            eff.stress[t] -= 1.5 * h * math.exp(-t / tau)
    elif kind == "seasonal":  # toward spring in the north, toward winter in the south
        amp = rng.uniform(0.2, 0.6) * hemisphere
        for t in range(n_days):
            doy = (start + timedelta(days=t)).timetuple().tm_yday
            eff.mood[t] += amp * (doy - 60) / 120.0
            eff.sleep[t] -= 0.4 * amp * (doy - 60) / 120.0
    elif kind == "step":  # a new job, a move, a new baby: stress and sleep settle at a new level
        at = rng.randint(min(15, n_days - 1), max(15, n_days - 15))
        sign = pick(rng, (1, -1), (60, 40))
        d_stress, d_sleep, d_mood = sign * rng.uniform(1.0, 3.0), -sign * rng.uniform(0.3, 1.5), -sign * 0.3
        for t in range(at, n_days):
            f = min(1.0, (t - at + 1) / 4.0)
            eff.stress[t] += d_stress * f
            eff.sleep[t] += d_sleep * f
            eff.mood[t] += d_mood * f
    elif kind == "incubation":  # craving that grows for weeks into abstinence, then eases
        amp, centre, width = rng.uniform(1.0, 3.0), rng.uniform(25.0, 70.0), rng.uniform(12.0, 25.0)
        for t in range(n_days):
            eff.craving[t] += amp * math.exp(-(((t - centre) / width) ** 2))
    else:  # chronic pain, caregiving: a slow benign worsening
        g_mood, g_stress = rng.uniform(0.3, 0.8), rng.uniform(0.5, 2.0)
        for t in range(n_days):
            eff.mood[t] -= g_mood * t / n_days
            eff.stress[t] += g_stress * t / n_days
            eff.sleep[t] -= 0.5 * t / n_days


def add_cycle(rng: random.Random, eff: Effects, tr: Traits, n_days: int) -> None:
    """A roughly monthly rhythm (menstrual cycle, rotating rosters) in a minority."""
    if rng.random() >= (0.3 if tr.noisy else 0.18):
        return
    period, phase = rng.uniform(25.0, 35.0), rng.uniform(0.0, 2.0 * math.pi)
    a_mood, a_crav, a_stress = rng.uniform(0.15, 0.5), rng.uniform(0.3, 1.5), rng.uniform(0.3, 1.0)
    for t in range(n_days):
        c = math.cos(2.0 * math.pi * t / period + phase)
        eff.mood[t] -= a_mood * c
        eff.craving[t] += a_crav * c
        eff.stress[t] += a_stress * c


# --- lapses and their warning signs ----------------------------------------------------------------


@dataclass(slots=True)
class Lapse:
    day: int
    kind: str  # prodromal | sudden | follow_on
    prodrome_start: int | None = None
    signals: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Story:
    """What is planned for one graduate before the days are drawn; also the truth."""

    kind: str
    lapses: list[Lapse] = field(default_factory=list)
    last_day: int | None = None  # dropouts: index of the last check-in
    safety: set[int] = field(default_factory=set)


def available_signals(tr: Traits, plan: Plan) -> list[str]:
    """Only signs the graduate's answers can show: no sleep sign for someone who never gives sleep."""
    out = ["craving", "low_mood", "stress", "going_quiet"]
    if tr.reports_sleep >= 0.4:
        out.append("poor_sleep")
    if tr.iso_answer_p >= 0.4:
        out.append("isolating")
    if plan.meetings and tr.support_style != "skipper":
        out.append("missed_support")
    if plan.meds and tr.med_answer_p >= 0.5:
        out.append("missed_medication")
    if plan.triggers and tr.trigger_report_p >= 0.3:
        out.append("triggers_without_coping")
    return out


def choose_signals(rng: random.Random, available: list[str]) -> list[str]:
    k = min(len(available), pick(rng, (1, 2, 3, 4, 5, 6), (15, 25, 28, 18, 9, 5)))
    pool = list(available)
    chosen: list[str] = []
    for _ in range(k):
        name = rng.choices(pool, [SIGNAL_WEIGHT[s] for s in pool])[0]
        pool.remove(name)
        chosen.append(name)
    return chosen


def prodrome_length(rng: random.Random) -> int:
    band = pick(rng, ((2, 5), (6, 13), (14, 28)), (25, 45, 30))
    return rng.randint(*band)


def strength(rng: random.Random) -> float:
    band = pick(rng, ((0.35, 0.6), (0.6, 0.95), (0.95, 1.35)), (30, 45, 25))
    return rng.uniform(*band)


def signal_onsets(rng: random.Random, names: list[str], start: int, peak: int) -> list[tuple[int, str]]:
    """Each sign's first day; the earliest is the prodrome's start. Emotional signs usually lead."""
    span = max(1, peak - start)
    ordered = rng.random() < 0.7
    onsets: list[tuple[int, str]] = []
    for name in names:
        if not ordered:
            lo, hi = 0.0, 0.85
        elif name in LATE_SIGNALS:
            lo, hi = 0.3, 0.85
        else:
            lo, hi = 0.0, 0.5
        onsets.append((min(peak, start + int(rng.uniform(lo, hi) * span)), name))
    onsets.sort()
    onsets[0] = (start, onsets[0][1])  # the prodrome starts with its first sign
    return onsets


def add_prodrome(
    rng: random.Random, eff: Effects, names: list[str], start: int, peak: int, fade: int = 0
) -> list[str]:
    """Lay the signs over the days from start to peak; return them in the order they set in."""
    s = strength(rng)
    onsets = signal_onsets(rng, names, start, peak)
    for onset, name in onsets:
        apply_signal(rng, eff, name, onset, peak, s * rng.uniform(0.7, 1.2), fade)
    return [name for _, name in onsets]


def add_lapse_day(rng: random.Random, eff: Effects, t: int, sudden: bool) -> None:
    """The day of use: usually an urge and a high-risk situation; mood may drop (guilt) or not."""
    eff.add("craving", t, rng.uniform(2.0, 5.0) if sudden else rng.uniform(1.0, 3.5))
    eff.add("mood", t, rng.gauss(-0.5, 0.6))
    eff.add("stress", t, rng.uniform(0.0, 2.0))
    eff.add("trigger", t, rng.uniform(0.3, 0.7))
    eff.add("cope_drop", t, rng.uniform(0.4, 0.9))


def add_aftermath(rng: random.Random, eff: Effects, t: int) -> None:
    """The abstinence-violation effect: shame, low mood, urges and withdrawal for days after a lapse."""
    length, tau = rng.randint(3, 12), rng.uniform(2.0, 6.0)
    sizes = {
        "mood": -rng.uniform(0.4, 1.2),
        "craving": rng.uniform(1.0, 3.0),
        "stress": rng.uniform(0.3, 1.5),
        "isolate": rng.uniform(0.1, 0.4),
        "skip": rng.uniform(0.1, 0.45),
        "miss_support": rng.uniform(0.1, 0.4),
        "miss_med": rng.uniform(0.05, 0.3),
    }
    for j in range(1, length + 1):
        f = math.exp(-j / tau)
        for channel, size in sizes.items():
            eff.add(channel, t + j, size * f)


def place_prodromal(
    rng: random.Random, eff: Effects, tr: Traits, plan: Plan, lo: int, hi: int, prodrome_lo: int, first: bool
) -> Lapse | None:
    length = prodrome_length(rng)
    if hi - prodrome_lo < 2:
        return None
    length = min(length, hi - prodrome_lo)
    earliest = max(lo, prodrome_lo + length)
    day = early_weighted(rng, earliest, hi) if first else rng.randint(earliest, max(earliest, hi))
    day = min(day, hi)
    start = day - length
    names = choose_signals(rng, available_signals(tr, plan))
    return Lapse(day, "prodromal", start, add_prodrome(rng, eff, names, start, day))


def place_sudden(rng: random.Random, lo: int, hi: int, start: date, first: bool) -> Lapse | None:
    if hi < lo:
        return None
    day = early_weighted(rng, lo, hi) if first else rng.randint(lo, hi)
    # Sudden lapses cluster where temptation does: Friday and Saturday.
    if rng.random() < 0.5:
        for j in range(4):
            if (start + timedelta(days=day + j)).weekday() in (4, 5) and day + j <= hi:
                day += j
                break
    return Lapse(day, "sudden")


def follow_ons(rng: random.Random, eff: Effects, after: int, hi: int) -> list[Lapse]:
    """Lapses within two weeks of the last: more use while the aftermath lasts."""
    out: list[Lapse] = []
    p, day = rng.uniform(0.2, 0.5), after
    while rng.random() < p:
        day += 1 + min(12, int(rng.expovariate(1.0 / 3.5)))
        if day > hi:
            break
        out.append(Lapse(day, "follow_on"))
        add_lapse_day(rng, eff, day, False)
        add_aftermath(rng, eff, day)
        p *= 0.6
    return out


def plan_episodes(
    rng: random.Random,
    eff: Effects,
    tr: Traits,
    plan: Plan,
    kind: str,
    hi: int,
    start: date,
    lo_first: int = 7,
) -> list[Lapse]:
    """The lapses of a relapsing graduate: a first episode of their kind, follow-ons, maybe another."""
    lapses: list[Lapse] = []
    # The first prodrome starts after at least ten ordinary days: a baseline to stand out from.
    episode_kind, lo, prodrome_lo, first = kind, lo_first, 10, True
    while True:
        if episode_kind == "prodromal":
            lapse = place_prodromal(rng, eff, tr, plan, lo, hi, prodrome_lo, first)
        else:
            lapse = place_sudden(rng, lo, hi, start, first)
        if lapse is None:
            break
        add_lapse_day(rng, eff, lapse.day, lapse.kind == "sudden")
        add_aftermath(rng, eff, lapse.day)
        lapses.append(lapse)
        lapses.extend(follow_ons(rng, eff, lapse.day, hi))
        if rng.random() >= 0.25:
            break
        last = lapses[-1].day
        lo, prodrome_lo, first = last + 15, last + 4, False
        if rng.random() >= 0.7:
            episode_kind = "sudden" if episode_kind == "prodromal" else "prodromal"
    return lapses


def plan_rough_patch(rng: random.Random, eff: Effects, tr: Traits, plan: Plan, n_days: int) -> None:
    """Warning signs that build and then ease because the graduate copes: no lapse."""
    length = rng.randint(5, 18)
    peak = rng.randint(min(10 + length, n_days - 4), n_days - 4)
    names = choose_signals(rng, [s for s in available_signals(tr, plan) if s != "going_quiet"])
    add_prodrome(rng, eff, names, peak - length, peak, fade=rng.randint(3, 8))
    for t in range(peak - length // 2, peak + 6):
        eff.add("practice", t, rng.uniform(0.2, 0.5))


def plan_dropout(rng: random.Random, eff: Effects, tr: Traits, plan: Plan, n_days: int, start: date) -> Story:
    """Stop checking in for good: some fade out, some stop at once, some struggle or lapse first."""
    story = Story("dropout")
    hi = max(8, n_days - 8)
    if rng.random() < 0.15:  # a reported lapse, then shame and silence
        story.lapses = plan_episodes(
            rng, eff, tr, plan, pick(rng, ("prodromal", "sudden"), (1, 1)), hi, start
        )
    if story.lapses:
        last = min(hi, max(lapse.day for lapse in story.lapses) + rng.randint(0, 10))
    else:
        last = early_weighted(rng, 6, hi)
    story.last_day = last
    if rng.random() < 0.55:  # engagement fades
        fade = rng.randint(5, 21)
        for j in range(fade):
            eff.add("skip", last - fade + j, 0.15 + 0.55 * j / fade)
    if rng.random() < 0.4:  # struggling without saying so
        length = rng.randint(7, 21)
        for j in range(length):
            f = (j + 1) / length
            eff.add("mood", last - length + j + 1, -0.8 * f)
            eff.add("craving", last - length + j + 1, 2.0 * f)
            eff.add("miss_support", last - length + j + 1, 0.4 * f)
    return story


def plan_safety(rng: random.Random, eff: Effects, story: Story, n_days: int) -> None:
    """Thoughts of self-harm on a few days: more likely after a lapse; not always with low mood."""
    if rng.random() >= (0.09 if story.lapses else 0.05):
        return
    last = story.last_day if story.last_day is not None else n_days - 1
    count = pick(rng, (1, 2, 3, rng.randint(4, 8)), (55, 25, 12, 8))
    chronic = count >= 4
    for _ in range(count):
        if story.lapses and rng.random() < 0.5:
            t = min(last, rng.choice(story.lapses).day + rng.randint(0, 6))
        else:
            t = rng.randint(min(3, last), last)
        story.safety.add(t)
        dip = rng.uniform(0.0, 0.6) if chronic else rng.uniform(0.0, 1.5)
        for j, f in ((-1, 0.5), (0, 1.0), (1, 0.5)):
            eff.add("mood", t + j, -dip * f)
            eff.add("isolate", t + j, 0.3 * f)


def plan_story(
    rng: random.Random, kind: str, eff: Effects, tr: Traits, plan: Plan, n_days: int, start: date
) -> Story:
    if kind == "dropout":
        story = plan_dropout(rng, eff, tr, plan, n_days, start)
    elif kind in ("prodromal", "sudden"):
        story = Story(kind, plan_episodes(rng, eff, tr, plan, kind, n_days - 1, start))
        if not story.lapses:  # too few days for a lapse of this kind
            story.kind = "stable"
    else:
        story = Story(kind)
        if kind == "rough_patch":
            plan_rough_patch(rng, eff, tr, plan, n_days)
    plan_safety(rng, eff, story, n_days)
    return story


# --- answers ---------------------------------------------------------------------------------------


def answer_mood(rng: random.Random, x: float, style: str) -> int:
    if style == "extreme":
        x = 3.0 + (x - 3.0) * 1.6
    elif style == "midpoint":
        x = 3.0 + (x - 3.0) * 0.55
    elif style == "favourable":  # reluctant to admit a bad day
        x = x + 0.45 if x > 1.7 else x
    v = math.floor(x + 0.5 + rng.uniform(-0.3, 0.3))
    if style == "favourable" and x > 1.7:
        v = max(v, 2)
    return 1 if v < 1 else min(v, 5)


def answer_scale(rng: random.Random, x: float, style: str, anchor: float) -> int:
    if style == "extreme":
        x = 5.0 + (x - 5.0) * 1.5
    elif style == "compressed":  # a narrow personal band around their usual answer
        x = anchor + (x - anchor) * 0.5
    v = math.floor(x + 0.5 + rng.uniform(-0.35, 0.35))
    if style == "heaping" and rng.random() < 0.6:
        v = 5 * math.floor(v / 5.0 + 0.5)
    elif style == "even":
        v = 2 * math.floor(v / 2.0 + 0.5)
    return 0 if v < 0 else min(v, 10)


def answer_sleep(rng: random.Random, hours: float, style: str) -> float:
    if rng.random() < 0.004:  # a slip of the thumb or an all-nighter
        return pick(rng, (0.0, 12.0, 14.0, 16.0), (2, 1, 1, 1))
    h = clamp(hours, 0.0, 16.0)
    if style == "whole":
        return float(math.floor(h + 0.5))
    if style == "half":
        return math.floor(h * 2.0 + 0.5) / 2.0
    return round(h, 1)


def support_answer(rng: random.Random, tr: Traits, planned: bool, miss: float) -> bool | None:
    """'Went to a support group or therapy as planned': people read the question differently."""
    if tr.support_style == "skipper" and rng.random() < 0.85:
        return None
    if planned:
        return rng.random() < tr.attend_p * (1.0 - clamp(miss, 0.0, 1.0))
    if tr.support_style == "always":
        return False
    if tr.support_style == "informal" and rng.random() < 0.5:
        return rng.random() >= miss
    return None


def encountered_triggers(
    rng: random.Random, tr: Traits, plan: Plan, weekend: bool, stress: float, mood: float, extra: float
) -> list[TriggerRef]:
    met: list[TriggerRef] = []
    for trig in plan.triggers:
        p = tr.trigger_rate * RISK_RATE[trig.risk]
        if trig.category in ("people", "places") or trig.id in ("tr-parties", "tr-payday"):
            p *= 1.8 if weekend else 0.8
        elif trig.category == "emotions":
            p *= 1.0 + 0.25 * max(0.0, 3.5 - mood)
        elif trig.id == "tr-work-stress":
            p *= 0.3 if weekend else 1.0 + 0.15 * stress
        if trig.risk != "low":
            p += extra / max(1, len(plan.triggers)) * 2.0
        if rng.random() < p:
            met.append(trig)
    return met


def coping_answer(
    rng: random.Random, tr: Traits, plan: Plan, met: list[TriggerRef], drop: float, practice: float
) -> list[str]:
    used: list[str] = []
    cope = tr.cope_p * (1.0 - clamp(drop, 0.0, 1.0))
    for trig in met:
        if trig.coping and rng.random() < cope:
            used.append(rng.choice(trig.coping))
    if plan.coping and rng.random() < (tr.practice_p + practice) * (1.0 - 0.5 * clamp(drop, 0.0, 1.0)):
        used.append(rng.choice(plan.coping))
    return list(dict.fromkeys(used))


# --- the days --------------------------------------------------------------------------------------


@dataclass(slots=True)
class Latent:
    """The carried-over state: a shared negative-affect factor and each measure's own part."""

    shared: float = 0.0
    mood: float = 0.0
    stress: float = 0.0
    craving: float = 0.0
    sleep: float = 0.0

    def step(self, rng: random.Random, tr: Traits) -> None:
        a, b = tr.inertia, tr.idio_inertia
        ka, kb = math.sqrt(1.0 - a * a), math.sqrt(1.0 - b * b)
        self.shared = a * self.shared + ka * shock(rng, tr.shock_p, tr.shock_scale)
        self.mood = b * self.mood + kb * shock(rng, tr.shock_p, tr.shock_scale)
        self.stress = b * self.stress + kb * shock(rng, tr.shock_p, tr.shock_scale)
        self.craving = b * self.craving + kb * shock(rng, tr.shock_p, tr.shock_scale)
        self.sleep = b * self.sleep + kb * rng.gauss(0.0, 1.0)


def mix(share: float, shared: float, own: float) -> float:
    return math.sqrt(share) * shared + math.sqrt(1.0 - share) * own


def gap_days(rng: random.Random, tr: Traits, n_days: int) -> set[int]:
    out: set[int] = set()
    expected = tr.gap_rate * n_days / 120.0
    for _ in range(n_days):
        if rng.random() < expected / n_days:
            t = rng.randrange(n_days)
            out.update(range(t, t + rng.randint(2, 9)))
    return out


@dataclass(slots=True)
class Day:
    t: int
    answers: dict[str, object]


def draw_days(
    rng: random.Random, tr: Traits, plan: Plan, eff: Effects, story: Story, start: date, n_days: int
) -> list[Day]:
    lapse_days = {lapse.day for lapse in story.lapses}
    forced = lapse_days | story.safety
    end = story.last_day if story.last_day is not None else n_days - 1
    forced.add(end)
    gaps = gap_days(rng, tr, n_days) - forced
    state = Latent(rng.gauss(0.0, 1.0), rng.gauss(0.0, 1.0), rng.gauss(0.0, 1.0), rng.gauss(0.0, 1.0))
    present_prev, prev, prev_t = True, None, -9
    days: list[Day] = []
    for t in range(end + 1):
        day = start + timedelta(days=t)
        wd = (day.weekday() + tr.week_shift) % 7
        weekend = wd >= 5
        state.step(rng, tr)
        sleep = (
            tr.sleep_base
            + eff.sleep[t]
            + (tr.weekend_sleep if weekend else 0.0)
            - tr.sleep_sd * mix(tr.share_sleep, state.shared, state.sleep)
        )
        short_night = clamp(sleep - tr.sleep_base, -4.0, 2.0)
        mood = (
            tr.mood_base
            + eff.mood[t]
            - (tr.monday_mood if wd == 0 else 0.0)
            + (0.15 if wd in (4, 5) else 0.0)
            + tr.sleep_to_mood * short_night
            - tr.mood_sd * mix(tr.share_mood, state.shared, state.mood)
        )
        stress = (
            tr.stress_base
            + eff.stress[t]
            + (tr.weekday_stress if wd < 5 else -0.3 * tr.weekday_stress)
            + tr.stress_sd * mix(tr.share_stress, state.shared, state.stress)
        )
        z = tr.craving_spread * mix(tr.share_craving, state.shared, state.craving)
        craving = (
            tr.craving_base * math.exp(z - tr.craving_spread**2 / 2.0)
            + eff.craving[t]
            + (tr.weekend_craving if wd in (4, 5) else 0.0)
            - 0.15 * short_night
        )
        present = t in forced or not missed(
            rng, tr, eff, t, n_days, present_prev, day.weekday() >= 5, mood, gaps
        )
        present_prev = present
        if not present:
            continue
        if (
            prev is not None
            and t - prev_t <= 2
            and t not in lapse_days
            and rng.random() < copy_p(tr, t, n_days)
        ):
            numbers = prev  # "same as yesterday": careless or tired answering
        else:
            numbers = (
                answer_mood(rng, mood, tr.mood_style),
                answer_scale(rng, craving, tr.scale_style, tr.craving_base),
                answer_scale(rng, stress, tr.scale_style, tr.stress_base),
                answer_sleep(rng, sleep, tr.sleep_style),
            )
        prev, prev_t = numbers, t
        answers = day_answers(rng, tr, plan, eff, t, day, numbers, weekend, stress, mood)
        answers["used"] = t in lapse_days
        answers["safety_concern"] = t in story.safety
        add_note(rng, tr, answers, t in lapse_days, mood)
        days.append(Day(t, answers))
    return days


def copy_p(tr: Traits, t: int, n_days: int) -> float:
    return tr.copy_p + tr.copy_growth * t / n_days


def missed(
    rng: random.Random,
    tr: Traits,
    eff: Effects,
    t: int,
    n_days: int,
    present_prev: bool,
    weekend: bool,
    mood: float,
    gaps: set[int],
) -> bool:
    if t in gaps:
        return rng.random() < 0.97
    if present_prev:  # starting a run of missed days: more likely at weekends and as novelty wears off
        p = tr.miss_after_answer * (1.0 + tr.fatigue * t / n_days) * (tr.weekend_miss if weekend else 1.0)
    else:  # a run, once started, tends to go on (a busy week, a low spell)
        p = tr.miss_after_miss
    p += eff.skip[t] + tr.mnar * max(0.0, 2.8 - mood)
    return rng.random() < min(p, 0.97)


def day_answers(
    rng: random.Random,
    tr: Traits,
    plan: Plan,
    eff: Effects,
    t: int,
    day: date,
    numbers: tuple[int, int, int, float],
    weekend: bool,
    stress: float,
    mood: float,
) -> dict[str, object]:
    mood_n, craving_n, stress_n, sleep_h = numbers
    answers: dict[str, object] = {
        "local_date": day.isoformat(),
        "mood": mood_n,
        "craving": craving_n,
        "stress": stress_n,
    }
    if rng.random() < tr.reports_sleep:
        answers["sleep_hours"] = sleep_h
    planned = any(m.on(day) for m in plan.meetings)
    answers["attended_support"] = support_answer(rng, tr, planned, eff.miss_support[t])
    if plan.meds and rng.random() < tr.med_answer_p:
        miss = clamp(eff.miss_med[t] + (0.04 if weekend else 0.0), 0.0, 1.0)
        answers["took_medication"] = rng.random() < tr.adherence * (1.0 - miss)
    else:
        answers["took_medication"] = None
    if rng.random() < tr.iso_answer_p:
        p_iso = tr.iso_base + 0.12 * max(0.0, 3.0 - mood) + eff.isolate[t]
        answers["isolating"] = rng.random() < p_iso
    met = encountered_triggers(rng, tr, plan, weekend, stress, mood, eff.trigger[t])
    reported = [trig for trig in met if rng.random() < tr.trigger_report_p]
    answers["triggers"] = [trig.id for trig in reported]
    answers["coping_used"] = coping_answer(rng, tr, plan, reported, eff.cope_drop[t], eff.practice[t])
    return answers


def add_note(rng: random.Random, tr: Traits, answers: dict[str, object], lapse: bool, mood: float) -> None:
    if lapse and rng.random() < 0.3 + tr.note_p:
        answers["note"] = rng.choice(NOTES_LAPSE)
    elif rng.random() < tr.note_p:
        answers["note"] = rng.choice(NOTES_BAD if mood < 3.0 else NOTES_GOOD)


# --- arrival ---------------------------------------------------------------------------------------


def offline_spells(rng: random.Random, tr: Traits, n_days: int) -> dict[int, int]:
    """Days whose check-ins wait on the phone until a later day (at most four days later)."""
    out: dict[int, int] = {}
    t = 0
    while t < n_days:
        if rng.random() < tr.offline_p:
            length = rng.randint(1, 4)
            sync = t + length
            if sync < n_days:
                for j in range(t, sync):
                    out[j] = sync
            t = sync + 1
        else:
            t += 1
    return out


def to_utc(tz: ZoneInfo, day: date, minutes: int) -> str:
    local = datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=tz)
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def arrival(
    rng: random.Random, tr: Traits, t: int, spells: dict[int, int], n_days: int, has_time: bool
) -> tuple[int, int, bool]:
    """(day index, minutes after local midnight, explicit) of when the check-in reached the server."""
    if t in spells:
        return spells[t], rng.randint(7 * 60, 23 * 60), True
    if t + 1 < n_days and rng.random() < tr.late_p:
        return t + 1, rng.randint(6 * 60 + 30, 10 * 60), True
    if tr.latency == "prompt" and has_time:
        return t, tr.habit_minutes, False
    if rng.random() < 0.2:  # answered before the prompt
        return t, max(6 * 60 + 30, tr.habit_minutes - rng.randint(30, 300)), True
    minutes = tr.habit_minutes + int(rng.lognormvariate(3.3, 0.9))
    if minutes >= 24 * 60:  # after midnight: it counts for the next day's window
        if t + 1 < n_days:
            return t + 1, min(minutes - 24 * 60, 50), True
        minutes = 23 * 60 + 55
    return t, minutes, True


# --- one graduate ----------------------------------------------------------------------------------


def graduate_rng(seed: int, index: int) -> random.Random:
    return random.Random(f"aftercare-blind:{seed}:{index}")


def make_graduate(seed: int, index: int, n_days: int) -> tuple[dict[str, object], dict[str, object]]:
    rng = graduate_rng(seed, index)
    kind = pick(rng, tuple(k for k, _ in ARCHETYPES), tuple(w for _, w in ARCHETYPES))
    zone, _, crisis_line, hemisphere = pick(rng, TIMEZONES, tuple(float(z[1]) for z in TIMEZONES))
    start = FIRST_START + timedelta(days=rng.randrange(START_SPREAD_DAYS))
    checkin_time = None if rng.random() < 0.12 else pick(rng, CHECKIN_TIMES, CHECKIN_WEIGHTS)
    habit = checkin_time or pick(rng, ("08:30", "13:00", "19:30", "22:00"), (1, 1, 2, 1))
    habit_minutes = int(habit[:2]) * 60 + int(habit[3:])
    plan = build_plan(rng, start, crisis_line)
    tr = draw_traits(rng, kind, habit_minutes)
    eff = Effects.zeros(n_days)
    add_drift(rng, eff, start, n_days, hemisphere)
    add_cycle(rng, eff, tr, n_days)
    add_life_events(rng, eff, tr, n_days)
    story = plan_story(rng, kind, eff, tr, plan, n_days, start)
    days = draw_days(rng, tr, plan, eff, story, start, n_days)
    checkins = timed_checkins(rng, tr, days, start, n_days, ZoneInfo(zone), checkin_time is not None)
    gid = f"blind-{seed}-{index:05d}"
    record: dict[str, object] = {"graduate": gid, "timezone": zone}
    if checkin_time is not None:
        record["checkin_time"] = checkin_time
    record["start_date"] = start.isoformat()
    record["end_date"] = (start + timedelta(days=n_days - 1)).isoformat()
    if plan.body is not None:
        record["plan"] = plan.body
    record["checkins"] = checkins
    return record, truth(gid, story, start, days)


def timed_checkins(
    rng: random.Random, tr: Traits, days: list[Day], start: date, n_days: int, tz: ZoneInfo, has_time: bool
) -> list[dict[str, object]]:
    """Stamp arrival and client ids and write the check-ins in the order they reached the server."""
    spells = offline_spells(rng, tr, n_days)
    stamped: list[tuple[int, int, int, dict[str, object]]] = []
    for d in days:
        at_day, minutes, explicit = arrival(rng, tr, d.t, spells, n_days, has_time)
        checkin = d.answers
        if tr.client_ids:
            checkin = {"client_id": new_uuid(rng), **checkin}
        if explicit:
            checkin["received_at"] = to_utc(tz, start + timedelta(days=at_day), minutes)
        stamped.append((at_day, minutes, d.t, checkin))
    stamped.sort(key=lambda s: (s[0], s[1], s[2]))
    return [s[3] for s in stamped]


def truth(gid: str, story: Story, start: date, days: list[Day]) -> dict[str, object]:
    def iso(t: int) -> str:
        return (start + timedelta(days=t)).isoformat()

    lapses = [
        {
            "local_date": iso(lapse.day),
            "kind": lapse.kind,
            "prodrome_start": iso(lapse.prodrome_start) if lapse.prodrome_start is not None else None,
            "signals": lapse.signals,
        }
        for lapse in sorted(story.lapses, key=lambda lapse: lapse.day)
    ]
    last = max(d.t for d in days) if story.kind == "dropout" and days else None
    return {
        "graduate": gid,
        "archetype": story.kind,
        "lapses": lapses,
        "dropout_last_checkin": iso(last) if last is not None else None,
        "safety_days": [iso(t) for t in sorted(story.safety)],
    }


# --- command line ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Blind synthetic aftercare cohort with its truth.")
    parser.add_argument("--graduates", type=int, default=600)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True, help="backtest input, JSON Lines")
    parser.add_argument("--truth", type=Path, required=True, help="what happened, JSON Lines")
    args = parser.parse_args(argv)
    if args.days < 21:
        parser.error("--days must be at least 21 (a baseline, a prodrome and a lapse need room)")
    encoder = msgspec.json.Encoder()
    with args.out.open("wb") as out, args.truth.open("wb") as truth_file:
        for index in range(args.graduates):
            record, what = make_graduate(args.seed, index, args.days)
            out.write(encoder.encode(record) + b"\n")
            truth_file.write(encoder.encode(what) + b"\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
