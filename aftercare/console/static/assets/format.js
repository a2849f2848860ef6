// How the console says things: severities and risks with a shape and a word (never colour alone),
// rules in plain words, times relative to now with the exact time one hover or focus away.

export const SEVERITY = {
  critical: { rank: 3, label: "Critical", shape: "◆" },
  high: { rank: 2, label: "High", shape: "▲" },
  warning: { rank: 1, label: "Warning", shape: "●" },
};

export const RISK = {
  critical: { rank: 4, label: "Critical", shape: "◆" },
  high: { rank: 3, label: "High", shape: "▲" },
  moderate: { rank: 2, label: "Moderate", shape: "●" },
  low: { rank: 1, label: "Low", shape: "○" },
};

export const RULES = {
  lapse: "Reported use (lapse)",
  safety: "Safety concern",
  craving_rising: "Craving rising",
  mood_falling: "Mood falling",
  support_dropoff: "Missing support meetings",
  medication_missed: "Medication missed",
  isolation: "Isolating",
  triggers_without_coping: "Triggers without coping",
  silence: "No check-ins",
  combined: "Several warning signs",
};

export const STATUS = { open: "Open", acknowledged: "Acknowledged", resolved: "Resolved" };

export function ruleLabel(rule) {
  return RULES[rule] ?? humanize(rule);
}

export function humanize(name) {
  const text = String(name ?? "").replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" });
const weekday = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });

export function exactTime(iso) {
  return iso ? dateTime.format(new Date(iso)) : "";
}

export function clockTime(iso) {
  return timeOnly.format(new Date(iso));
}

/** "YYYY-MM-DD" as "Nov 24, 2026" (a calendar date: no time zone shift). */
export function calendarDate(isoDate) {
  return isoDate ? dayOnly.format(dateFromIso(isoDate)) : "";
}

export function shortDay(isoDate) {
  return weekday.format(dateFromIso(isoDate));
}

export function dateFromIso(isoDate) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d));
}

export function isoFromDate(date) {
  return date.toISOString().slice(0, 10);
}

export function addDays(isoDate, days) {
  const date = dateFromIso(isoDate);
  date.setUTCDate(date.getUTCDate() + days);
  return isoFromDate(date);
}

export function daysBetween(fromIso, toIso) {
  return Math.round((dateFromIso(toIso) - dateFromIso(fromIso)) / 86_400_000);
}

/** Today's date where the graduate lives ("YYYY-MM-DD"). */
export function todayIn(timeZone, now = new Date()) {
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(now);
  } catch {
    return isoFromDate(now);
  }
}

/** The local date of an instant in a time zone. */
export function localDateOf(iso, timeZone) {
  return todayIn(timeZone, new Date(iso));
}

/** "3 min", "2 h", "4 days": how long between two instants, in the unit a reader wants. */
export function duration(ms) {
  const minutes = Math.max(0, Math.round(ms / 60_000));
  if (minutes < 1) return "under a minute";
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.round(hours / 24)} days`;
}

export function ago(iso, now = Date.now()) {
  const ms = now - Date.parse(iso);
  return ms < 60_000 ? "just now" : `${duration(ms)} ago`;
}

export function lastCheckinText(lastDate, timeZone) {
  if (!lastDate) return { text: "Never", days: Infinity };
  const days = daysBetween(lastDate, todayIn(timeZone));
  if (days <= 0) return { text: "Today", days: 0 };
  if (days === 1) return { text: "Yesterday", days: 1 };
  return { text: `${days} days ago`, days };
}

/** An instant as the value of an `<input type="datetime-local">`: this browser's wall-clock time. */
export function localInputValue(iso) {
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A `datetime-local` value (this browser's wall-clock time) as an RFC 3339 instant in UTC. */
export function instantFromLocalInput(value) {
  const date = new Date(value); // a date-time without an offset is read as local time
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
