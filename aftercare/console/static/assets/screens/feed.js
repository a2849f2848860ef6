// The alert feed: open and acknowledged alerts, most severe first, then most overdue, kept current
// by the stream. Filters live in the URL (?mine=1&severity=high&status=open&overdue=1) so a reload or
// the back button keeps them.

import { ApiError } from "../api.js";
import { fill, h, showMessage, statusArea } from "../dom.js";
import { SEVERITY, STATUS, ago, clockTime, duration, exactTime, ruleLabel } from "../format.js";

const STATUS_RANK = { open: 0, acknowledged: 1, resolved: 2 };
const AGE_REFRESH_MS = 30_000;

/**
 * Open and past its response target, now. The API's `overdue` is true "at the moment of the
 * answer"; an alert becomes overdue while the feed is open, so it is worked out again from
 * `respond_by` whenever the feed is drawn.
 */
export function isOverdue(alert, now = Date.now()) {
  if (alert.status !== "open") return false;
  if (alert.respond_by) return Date.parse(alert.respond_by) <= now;
  return alert.overdue === true;
}

/**
 * Most severe first; within a severity, overdue first, then open before acknowledged, then the
 * earliest response target (`respond_by`) or, without one, the longest waiting (`opened_at`).
 */
export function compareAlerts(a, b, now = Date.now()) {
  return (
    (SEVERITY[b.severity]?.rank ?? 0) - (SEVERITY[a.severity]?.rank ?? 0) ||
    Number(isOverdue(b, now)) - Number(isOverdue(a, now)) ||
    (STATUS_RANK[a.status] ?? 9) - (STATUS_RANK[b.status] ?? 9) ||
    Date.parse(a.respond_by ?? a.opened_at) - Date.parse(b.respond_by ?? b.opened_at) ||
    Date.parse(a.opened_at) - Date.parse(b.opened_at) ||
    String(a.id).localeCompare(String(b.id))
  );
}

function readFilters() {
  const query = new URLSearchParams(window.location.search);
  return {
    mine: query.get("mine") === "1",
    severity: ["high", "critical"].includes(query.get("severity")) ? query.get("severity") : "all",
    status: ["open", "acknowledged"].includes(query.get("status")) ? query.get("status") : "all",
    overdue: query.get("overdue") === "1",
  };
}

function writeFilters(filters) {
  const query = new URLSearchParams();
  if (filters.mine) query.set("mine", "1");
  if (filters.severity !== "all") query.set("severity", filters.severity);
  if (filters.status !== "all") query.set("status", filters.status);
  if (filters.overdue) query.set("overdue", "1");
  const search = query.toString();
  window.history.replaceState(null, "", `/console/alerts${search ? `?${search}` : ""}`);
}

function passes(alert, filters, me) {
  if (filters.mine && alert.counselor_id !== me.user_id) return false;
  if (filters.severity !== "all" && (SEVERITY[alert.severity]?.rank ?? 0) < SEVERITY[filters.severity].rank) return false;
  if (filters.status !== "all" && alert.status !== filters.status) return false;
  if (filters.overdue && !isOverdue(alert)) return false;
  return true;
}

export function severityBadge(severity) {
  const info = SEVERITY[severity] ?? { label: severity, shape: "■" };
  return h("span", { class: `severity severity-${severity}` }, h("span", { class: "shape", "aria-hidden": "true" }, info.shape), info.label);
}

/** "Respond by 14:30 (in 40 min)" or "Overdue by 25 min", for an open alert with a target. */
export function responseTarget(alert, now = Date.now()) {
  if (!alert.respond_by || alert.status !== "open") return null;
  const due = Date.parse(alert.respond_by);
  if (isOverdue(alert, now)) {
    return h(
      "span",
      { class: "target target-overdue", title: `Respond by ${exactTime(alert.respond_by)}` },
      h("span", { class: "shape", "aria-hidden": "true" }, "⚑"),
      `Overdue by ${duration(now - due)}`,
    );
  }
  const when = sameLocalDay(due, now) ? clockTime(alert.respond_by) : exactTime(alert.respond_by);
  return h("span", { class: "target" }, `Respond by ${when} (in ${duration(due - now)})`);
}

function sameLocalDay(a, b) {
  return new Date(a).toDateString() === new Date(b).toDateString();
}

export function statusLine(alert, store) {
  if (alert.status === "acknowledged") {
    return `Acknowledged by ${store.staffName(alert.acknowledged_by)}${alert.acknowledged_at ? `, ${ago(alert.acknowledged_at)}` : ""}`;
  }
  if (alert.status === "resolved") return `Resolved by ${store.staffName(alert.resolved_by)}${alert.resolved_at ? `, ${ago(alert.resolved_at)}` : ""}`;
  return STATUS[alert.status] ?? alert.status;
}

function timeNode(iso, text) {
  return h("time", { datetime: iso, title: exactTime(iso) }, text);
}

export function render(ctx) {
  const { store, api } = ctx;
  ctx.setTitle("Alerts");
  const filters = readFilters();
  const fresh = new Set(); // ids that arrived live while this screen is open
  const cards = new Map(); // id -> {alert, element}
  const list = h("ol", { class: "alert-list", "aria-label": "Alerts, most severe first" });
  const empty = h("p", { class: "empty", hidden: true });
  const summary = h("p", { class: "summary", "aria-live": "polite" });
  const problem = statusArea("alert");

  function card(alert) {
    const name = store.graduateName(alert.graduate_id);
    const actionMessage = statusArea("alert");
    const acknowledge =
      alert.status === "open"
        ? h(
            "button",
            {
              type: "button",
              class: "button-primary",
              "aria-label": `Acknowledge alert for ${name ?? "this graduate"}`,
              onclick: async (event) => {
                const button = event.currentTarget;
                button.disabled = true;
                fill(button, "Acknowledging…");
                try {
                  store.applyAlert(await api.post(`/v1/alerts/${alert.id}/acknowledge`));
                  ctx.announce(`Acknowledged the alert for ${name ?? "the graduate"}.`);
                } catch (error) {
                  button.disabled = false;
                  fill(button, "Acknowledge");
                  showMessage(actionMessage, error instanceof ApiError ? error.detail || "Could not acknowledge." : String(error), "error");
                }
              },
            },
            "Acknowledge",
          )
        : null;
    const meta = [
      ["Opened ", timeNode(alert.opened_at, ago(alert.opened_at))],
      alert.last_seen_at && alert.last_seen_at !== alert.opened_at ? ["Latest sign ", timeNode(alert.last_seen_at, ago(alert.last_seen_at))] : null,
      alert.escalation_level > 0 ? [`Escalated to supervisors (level ${alert.escalation_level})`] : null,
    ].filter(Boolean);
    const target = responseTarget(alert);
    return h(
      "li",
      {
        class: `alert-card card-sev-${alert.severity} status-${alert.status}${fresh.has(alert.id) ? " is-new" : ""}`,
        "data-alert-id": alert.id,
        "data-status": alert.status,
        "data-severity": alert.severity,
        "data-overdue": String(isOverdue(alert)),
      },
      h("div", { class: "alert-card-severity" }, severityBadge(alert.severity), fresh.has(alert.id) ? h("span", { class: "tag tag-new" }, "New") : null),
      h(
        "div",
        { class: "alert-card-body" },
        h(
          "h2",
          { class: "alert-card-title" },
          h("a", { href: `/console/graduates/${alert.graduate_id}`, class: "graduate-name" }, name ?? "Loading name…"),
          h("span", { class: "rule" }, ruleLabel(alert.rule)),
        ),
        h("p", { class: "alert-card-reason" }, alert.reasons?.[0] ?? ""),
        h("p", { class: "alert-card-meta" }, meta.map((parts, index) => [index ? " · " : "", ...parts]), target ? [" · ", target] : null),
      ),
      h(
        "div",
        { class: "alert-card-side" },
        h("p", { class: `alert-card-status status-text-${alert.status}` }, statusLine(alert, store)),
        h("div", { class: "actions" }, acknowledge, h("a", { class: "button", href: `/console/alerts/${alert.id}` }, "View alert")),
        actionMessage,
      ),
    );
  }

  function draw() {
    if (!ctx.current()) return;
    const me = store.me;
    const all = [...store.feed.values()];
    const now = Date.now();
    const shown = all.filter((alert) => passes(alert, filters, me)).sort((a, b) => compareAlerts(a, b, now));
    const open = all.filter((alert) => alert.status === "open").length;
    const acknowledged = all.length - open;
    fill(summary, store.feedState === "ready" ? `${open} open · ${acknowledged} acknowledged${shown.length !== all.length ? ` · ${shown.length} shown` : ""}` : "");
    if (store.feedState === "failed") {
      showMessage(problem, `The alerts could not be loaded: ${store.feedError?.detail || store.feedError?.message || "unknown error"}`, "error");
    } else {
      showMessage(problem, "");
    }
    const loading = store.feedState === "idle" || store.feedState === "loading";
    empty.hidden = loading || shown.length > 0;
    fill(empty, all.length ? "No alerts match these filters." : "No alerts need attention. New ones appear here as they happen.");
    list.setAttribute("aria-busy", String(loading));
    const wanted = new Set(shown.map((alert) => alert.id));
    for (const [id, entry] of cards) {
      if (!wanted.has(id)) {
        entry.element.remove();
        cards.delete(id);
      }
    }
    shown.forEach((alert, index) => {
      let entry = cards.get(alert.id);
      if (!entry || entry.alert !== alert || entry.fresh !== fresh.has(alert.id) || entry.name !== store.graduateName(alert.graduate_id)) {
        const element = card(alert);
        if (entry) entry.element.replaceWith(element);
        entry = { alert, element, fresh: fresh.has(alert.id), name: store.graduateName(alert.graduate_id) };
        cards.set(alert.id, entry);
      }
      // Move only what is out of place: moving the focused card would drop keyboard focus.
      if (list.children[index] !== entry.element) list.insertBefore(entry.element, list.children[index] ?? null);
    });
  }

  const mineControl = h("input", { type: "checkbox", id: "filter-mine", checked: filters.mine });
  const severityControl = h(
    "select",
    { id: "filter-severity" },
    h("option", { value: "all" }, "All severities"),
    h("option", { value: "high" }, "High and critical"),
    h("option", { value: "critical" }, "Critical only"),
  );
  severityControl.value = filters.severity;
  const statusControl = h(
    "select",
    { id: "filter-status" },
    h("option", { value: "all" }, "Open and acknowledged"),
    h("option", { value: "open" }, "Open only"),
    h("option", { value: "acknowledged" }, "Acknowledged only"),
  );
  statusControl.value = filters.status;
  const overdueControl = h("input", { type: "checkbox", id: "filter-overdue", checked: filters.overdue });
  const overdueField = h("div", { class: "filter filter-check", hidden: true }, overdueControl, h("label", { for: "filter-overdue" }, "Overdue only"));

  function changed() {
    filters.mine = mineControl.checked;
    filters.severity = severityControl.value;
    filters.status = statusControl.value;
    filters.overdue = overdueControl.checked;
    writeFilters(filters);
    draw();
  }
  for (const control of [mineControl, severityControl, statusControl, overdueControl]) control.addEventListener("change", changed);

  const filterBar = h(
    "div",
    { class: "filters", role: "group", "aria-label": "Filter alerts" },
    h("div", { class: "filter filter-check", hidden: api.role !== "supervisor" }, mineControl, h("label", { for: "filter-mine" }, "Only my caseload")),
    h("div", { class: "filter" }, h("label", { for: "filter-severity" }, "Severity"), severityControl),
    h("div", { class: "filter" }, h("label", { for: "filter-status" }, "Status"), statusControl),
    overdueField,
  );

  fill(
    ctx.main,
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Alerts"), summary),
    filterBar,
    problem,
    list,
    empty,
  );

  const unsubscribe = store.subscribe((change) => {
    if (change.kind === "alert" && change.isNew) fresh.add(change.alert.id);
    // Offered when alerts carry response targets (servers before them sent none).
    overdueField.hidden = ![...store.feed.values()].some((alert) => "respond_by" in alert);
    draw();
  });
  overdueField.hidden = ![...store.feed.values()].some((alert) => "respond_by" in alert);
  draw();
  // Ages and response targets move with the clock: rebuild the cards now and then, except the one
  // that holds keyboard focus.
  const ages = window.setInterval(() => {
    for (const [id, entry] of cards) {
      if (!entry.element.contains(document.activeElement)) cards.set(id, { ...entry, alert: null });
    }
    draw();
  }, AGE_REFRESH_MS);
  return () => {
    unsubscribe();
    window.clearInterval(ages);
  };
}
