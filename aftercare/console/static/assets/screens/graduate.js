// The graduate page: who they are and how they are doing (risk, last check-in, streak, open alerts),
// the check-in history as charts over 30 or 90 days, the aftercare plan, upcoming reminders and
// the timeline of everything that happened.

import { fill, h, uid } from "../dom.js";
import { SEVERITY, ago, calendarDate, exactTime, humanize, lastCheckinText, ruleLabel, shortDay, todayIn } from "../format.js";
import { riskBadge } from "./caseload.js";
import { renderCheckinChart, rangeStart } from "./checkin-chart.js";
import { severityBadge, statusLine } from "./feed.js";
import { outreachForm, outreachList } from "./alert-story.js";
import { renderPlan } from "./plan.js";

const RANGES = [30, 90];
const TIMELINE_PAGE = 25;

export async function render(ctx) {
  const { api, store, params } = ctx;
  const id = params.graduateId;
  const graduate = await store.graduate(id, { fresh: true });
  if (!ctx.current()) return undefined;
  ctx.setTitle(graduate.display_name);
  const path = `/v1/graduates/${encodeURIComponent(id)}`;
  const today = todayIn(graduate.timezone);
  const cleanups = [];

  const alertsBox = h("section", { class: "card", "aria-labelledby": "grad-alerts-title" });
  const chartBox = h("section", { class: "card", "aria-labelledby": "chart-title" });
  const planBox = h("section", { class: "card plan-card", "aria-labelledby": "plan-title" });
  const remindersBox = h("section", { class: "card", "aria-labelledby": "reminders-title" });
  const outreachBox = h("section", { class: "card", "aria-labelledby": "grad-outreach-title" });
  const timelineBox = h("section", { class: "card", "aria-labelledby": "timeline-title" });
  const last = lastCheckinText(graduate.last_checkin_date, graduate.timezone);

  fill(
    ctx.main,
    h("p", { class: "breadcrumb" }, h("a", { href: "/console/caseload" }, "← Caseload")),
    h(
      "div",
      { class: "graduate-head" },
      h("div", { class: "graduate-title" }, h("h1", { tabindex: "-1" }, graduate.display_name), riskBadge(graduate.risk_level)),
      h(
        "dl",
        { class: "facts facts-row" },
        h("div", {}, h("dt", {}, "Last check-in"), h("dd", {}, last.text, graduate.last_checkin_date ? ` (${calendarDate(graduate.last_checkin_date)})` : "")),
        h("div", {}, h("dt", {}, "Streak"), h("dd", {}, `${graduate.streak_days} day${graduate.streak_days === 1 ? "" : "s"}`)),
        h("div", {}, h("dt", {}, "Open alerts"), h("dd", {}, String(graduate.open_alerts))),
        h("div", {}, h("dt", {}, "Daily check-in"), h("dd", {}, `${graduate.checkin_time}, ${graduate.timezone.replaceAll("_", " ")}`)),
        h(
          "div",
          {},
          h("dt", {}, "Status"),
          h("dd", {}, graduate.status === "discharged" ? "Discharged" : graduate.enrolled ? "Active" : "Not enrolled yet"),
        ),
      ),
    ),
    alertsBox,
    chartBox,
    h("div", { class: "two-columns two-columns-wide" }, planBox, h("div", { class: "stack" }, outreachBox, remindersBox)),
    timelineBox,
  );

  // Each section loads on its own: one that fails says so and the others still show.
  const failed = (box, title, titleId) => (error) => {
    fill(box, h("h2", { id: titleId }, title), h("p", { class: "message message-error", role: "alert" }, `Could not load: ${error?.detail || error?.message || error}`));
  };

  const alertsLoaded = api.all("/v1/alerts", { graduate_id: id });
  alertsLoaded.then((alerts) => drawAlerts(alertsBox, alerts, store)).catch(failed(alertsBox, "Open alerts", "grad-alerts-title"));
  drawChartSection(chartBox, { api, path, graduate, today, alertsLoaded, cleanups }).catch(failed(chartBox, "Check-ins", "chart-title"));
  renderPlan(planBox, { api, graduateId: id, announce: ctx.announce, store }).catch(failed(planBox, "Aftercare plan", "plan-title"));
  drawReminders(remindersBox, api, path).catch(failed(remindersBox, "Upcoming reminders", "reminders-title"));
  drawOutreach(outreachBox, api, path, store).catch(failed(outreachBox, "Outreach", "grad-outreach-title"));
  drawTimeline(timelineBox, api, path, store).catch(failed(timelineBox, "Timeline", "timeline-title"));

  return () => {
    for (const cleanup of cleanups) cleanup();
  };
}

function drawAlerts(box, alerts, store) {
  const active = alerts.filter((alert) => alert.status !== "resolved");
  fill(
    box,
    h("h2", { id: "grad-alerts-title" }, "Open alerts"),
    active.length
      ? h(
          "ul",
          { class: "compact-list" },
          active.map((alert) =>
            h(
              "li",
              {},
              severityBadge(alert.severity),
              " ",
              h("a", { href: `/console/alerts/${alert.id}` }, ruleLabel(alert.rule)),
              h("span", { class: "subtle" }, ` · opened ${ago(alert.opened_at)} · ${statusLine(alert, store)}`),
            ),
          ),
        )
      : h("p", { class: "subtle" }, "None. Resolved alerts are in the timeline below."),
  );
}

async function drawChartSection(box, { api, path, graduate, today, alertsLoaded, cleanups }) {
  const longest = Math.max(...RANGES);
  const from = rangeStart(today, longest);
  const [page, alerts] = await Promise.all([api.get(`${path}/checkins`, { from, to: today, limit: 200 }), alertsLoaded.catch(() => [])]);
  const checkins = page.items;
  const target = h("div", { class: "chart-area" });
  const summary = h("p", { class: "summary", "aria-live": "polite" });
  let cleanup = null;
  const name = uid("range");

  function show(days) {
    cleanup?.();
    const start = rangeStart(today, days);
    const inRange = checkins.filter((c) => c.local_date >= start);
    const lapses = inRange.filter((c) => c.used).length;
    const cravings = inRange.map((c) => c.craving);
    const average = cravings.length ? (cravings.reduce((a, b) => a + b, 0) / cravings.length).toFixed(1) : null;
    fill(
      summary,
      `${inRange.length} check-in${inRange.length === 1 ? "" : "s"} in the last ${days} days`,
      ` · ${lapses} lapse${lapses === 1 ? "" : "s"}`,
      average === null ? "" : ` · average craving ${average}`,
    );
    cleanup = renderCheckinChart(target, { checkins, alerts, from: start, to: today, timeZone: graduate.timezone });
    target.dataset.range = String(days);
  }

  const choices = RANGES.map((days) => {
    const input = h("input", { type: "radio", name, value: String(days), id: `${name}-${days}`, checked: days === RANGES[0] });
    input.addEventListener("change", () => show(days));
    return h("span", { class: "segment" }, input, h("label", { for: input.id }, `${days} days`));
  });
  fill(
    box,
    h(
      "div",
      { class: "card-head" },
      h("h2", { id: "chart-title" }, "Check-ins"),
      h("fieldset", { class: "segmented" }, h("legend", { class: "visually-hidden" }, "Period"), choices),
    ),
    summary,
    target,
  );
  show(RANGES[0]);
  cleanups.push(() => cleanup?.());
}

/** The outreach log (GET .../outreach, newest first) and a form for outreach outside any alert. */
async function drawOutreach(box, api, path, store) {
  const log = h("div");
  const load = async () => {
    const { items } = await api.get(`${path}/outreach`, { limit: 10 });
    fill(log, outreachList(items, store));
  };
  const form = outreachForm(api, `${path}/outreach`, { onRecorded: load, submitLabel: "Record outreach" });
  const toggle = h("details", { class: "outreach-new" }, h("summary", {}, "Record a call, text or visit"), form);
  fill(box, h("h2", { id: "grad-outreach-title" }, "Outreach"), log, toggle);
  await load();
}

const REMINDER_KINDS = {
  checkin_prompt: "Check-in prompt",
  checkin_nudge: "Check-in nudge",
  therapy_reminder: "Therapy",
  support_group_reminder: "Support group",
  medication_reminder: "Medication",
};

async function drawReminders(box, api, path) {
  const { items } = await api.get(`${path}/reminders`);
  const upcoming = items.slice(0, 8);
  fill(
    box,
    h("h2", { id: "reminders-title" }, "Upcoming reminders"),
    h("p", { class: "subtle" }, "The next 7 days, in the graduate's local time."),
    upcoming.length
      ? h(
          "ul",
          { class: "compact-list reminders" },
          upcoming.map((item) =>
            h(
              "li",
              {},
              h("span", { class: "reminder-when" }, `${shortDay(item.local_time.slice(0, 10))} ${item.local_time.slice(11, 16)}`),
              h("span", { class: "reminder-what" }, REMINDER_KINDS[item.kind] ?? humanize(item.kind)),
              h(
                "span",
                { class: "reminder-detail" },
                [item.title, item.status !== "planned" ? humanize(item.status) : null].filter(Boolean).join(" · "),
              ),
            ),
          ),
        )
      : h("p", {}, "Nothing planned."),
    items.length > upcoming.length ? h("p", { class: "subtle" }, `and ${items.length - upcoming.length} more`) : null,
  );
}

const ALERT_EVENTS = {
  opened: "opened",
  raised: "raised",
  refreshed: "updated",
  reopened: "re-opened",
  escalated: "escalated to supervisors",
  acknowledged: "acknowledged",
  resolved: "resolved",
};

function answersText(answers) {
  if (!answers) return "";
  const parts = [];
  if (answers.craving !== undefined) parts.push(`craving ${answers.craving}`);
  if (answers.stress !== undefined) parts.push(`stress ${answers.stress}`);
  if (answers.mood !== undefined) parts.push(`mood ${answers.mood}`);
  if (answers.sleep_hours !== undefined && answers.sleep_hours !== null) parts.push(`sleep ${answers.sleep_hours} h`);
  if (answers.used) parts.push("reported use");
  if (answers.safety_concern) parts.push("safety concern");
  return parts.join(", ");
}

function timelineEntry(item, store) {
  const when = h("time", { datetime: item.at, title: exactTime(item.at) }, exactTime(item.at));
  let title;
  let detail = null;
  let kindClass = item.kind;
  if (item.kind === "checkin") {
    title = `Check-in for ${calendarDate(item.local_date)}`;
    detail = answersText(item.checkin?.answers);
    if (item.checkin?.answers?.used) kindClass += " lapse";
  } else if (item.kind === "amendment") {
    title = `Check-in for ${calendarDate(item.local_date)} amended`;
    detail = item.amendment?.changed_fields?.length ? `Changed: ${item.amendment.changed_fields.map(humanize).join(", ")}` : null;
  } else if (item.kind === "help_request") {
    title = "Asked for help now";
  } else if (item.kind === "alert") {
    const alert = item.alert ?? {};
    const sev = SEVERITY[alert.severity]?.label ?? alert.severity;
    title = `Alert ${ALERT_EVENTS[alert.event] ?? alert.event}: ${ruleLabel(alert.rule)} (${sev})`;
    detail = alert.actor_id ? `By ${store.staffName(alert.actor_id)}` : null;
  } else if (item.kind === "plan_change") {
    const change = item.plan_change ?? {};
    title = `Plan changed (version ${change.version})`;
    detail = [change.author_role ? `by the ${change.author_role}` : null, change.changed_sections?.length ? change.changed_sections.map(humanize).join(", ") : null]
      .filter(Boolean)
      .join(": ");
  } else if (item.kind === "missed_day") {
    title = `No check-in for ${calendarDate(item.local_date)}`;
  } else if (item.kind === "timezone_change") {
    title = `Time zone now ${item.timezone_change?.timezone ?? "changed"}`;
  } else if (item.kind === "dose") {
    const dose = item.dose ?? {};
    title = `Dose ${dose.status === "skipped" ? "skipped" : "taken"} for ${calendarDate(item.local_date)}`;
    detail = dose.medication_id ? `Medication ${dose.medication_id}, due ${exactTime(dose.scheduled_for)}` : null;
  } else {
    title = humanize(item.kind);
  }
  return h("li", { class: `timeline-item kind-${kindClass}` }, h("span", { class: "timeline-when" }, when), h("span", { class: "timeline-what" }, title), detail ? h("span", { class: "timeline-detail" }, detail) : null);
}

async function drawTimeline(box, api, path, store) {
  const list = h("ol", { class: "timeline" });
  const more = h("button", { type: "button", class: "button", hidden: true }, "Show earlier");
  let cursor = null;

  async function page() {
    more.disabled = true;
    const body = await api.get(`${path}/timeline`, { limit: TIMELINE_PAGE, ...(cursor ? { cursor } : {}) });
    for (const item of body.items) list.append(timelineEntry(item, store));
    cursor = body.next_cursor;
    more.hidden = !cursor;
    more.disabled = false;
    if (!list.children.length) list.append(h("li", { class: "subtle" }, "Nothing has happened yet."));
  }
  more.addEventListener("click", () => page().catch(() => (more.disabled = false)));
  fill(box, h("h2", { id: "timeline-title" }, "Timeline"), h("p", { class: "subtle" }, "Newest first."), list, more);
  await page();
}
