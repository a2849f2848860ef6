// The alert's story, from GET /v1/alerts/{id}: why it fired and on what evidence, the graduate's
// own words (check-in notes, the "help now" message), what happened since (its events and the
// pushes about it) and the outreach log. Notes and messages are shown as text, always.

import { fill, h, showMessage, statusArea, uuid4, field } from "../dom.js";
import { SEVERITY, calendarDate, exactTime, humanize } from "../format.js";

export const OUTREACH_METHODS = {
  call: "Phone call",
  text: "Text message",
  video: "Video call",
  in_person: "In person",
  voicemail: "Voicemail",
  other: "Other",
};
export const OUTREACH_OUTCOMES = {
  reached: "Reached them",
  no_answer: "No answer",
  left_message: "Left a message",
  declined: "They declined to talk",
  referred: "Referred on",
  other: "Other",
};

function formatValue(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "boolean") return value ? "Yes" : "No";
  if (Array.isArray(value)) return value.map(formatValue).join(", ");
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${humanize(k)}: ${formatValue(v)}`).join("; ");
  return String(value);
}

function answers(checkin) {
  const parts = [`craving ${checkin.craving}`, `stress ${checkin.stress}`, `mood ${checkin.mood}`];
  if (checkin.sleep_hours !== null && checkin.sleep_hours !== undefined) parts.push(`sleep ${checkin.sleep_hours} h`);
  if (checkin.used) parts.push("reported use");
  if (checkin.safety_concern) parts.push("safety concern");
  if (checkin.isolating) parts.push("isolating");
  if (checkin.attended_support === false) parts.push("missed support");
  if (checkin.took_medication === false) parts.push("missed medication");
  return parts.join(", ");
}

export function whySection(alert) {
  const values = Object.entries(alert.evidence?.values ?? {});
  return h(
    "section",
    { class: "card", "aria-labelledby": "why-title" },
    h("h2", { id: "why-title" }, "Why this alert"),
    h("ul", { class: "reasons" }, (alert.reasons ?? []).map((reason) => h("li", {}, reason))),
    values.length ? h("dl", { class: "evidence" }, values.map(([name, value]) => [h("dt", {}, humanize(name)), h("dd", {}, formatValue(value))])) : null,
  );
}

export function wordsSection(detail) {
  const checkins = detail.checkins ?? [];
  const helps = detail.help_requests ?? [];
  const items = [
    ...helps.map((help) => ({
      at: help.received_at,
      node: h(
        "li",
        { class: "words-item words-help" },
        h("p", { class: "words-head" }, h("strong", {}, "Asked for help now"), h("span", { class: "subtle" }, ` · ${exactTime(help.received_at)}`)),
        help.message ? h("blockquote", { class: "words-text" }, help.message) : h("p", { class: "subtle" }, "No message."),
      ),
    })),
    ...checkins.map((checkin) => ({
      at: checkin.received_at,
      node: h(
        "li",
        { class: "words-item" },
        h("p", { class: "words-head" }, h("strong", {}, `Check-in for ${calendarDate(checkin.local_date)}`), h("span", { class: "subtle" }, ` · ${answers(checkin)}`)),
        checkin.note ? h("blockquote", { class: "words-text" }, checkin.note) : h("p", { class: "subtle" }, "No note."),
      ),
    })),
  ].sort((a, b) => Date.parse(b.at) - Date.parse(a.at));
  return h(
    "section",
    { class: "card", "aria-labelledby": "words-title" },
    h("h2", { id: "words-title" }, "In their words"),
    items.length ? h("ul", { class: "words" }, items.map((item) => item.node)) : h("p", { class: "subtle" }, "No check-in or message with this alert."),
  );
}

const EVENT_TEXT = {
  opened: () => "Alert opened",
  raised: (e) => `Raised to ${SEVERITY[e.severity]?.label.toLowerCase() ?? e.severity}`,
  refreshed: () => "Another sign of the same kind",
  reopened: () => "Re-opened: needs an answer again",
  escalated: (e) => `Escalated to supervisors (level ${e.escalation_level})`,
  acknowledged: () => "Acknowledged",
  resolved: () => "Resolved",
};

const DELIVERY = {
  pending: "waiting to be sent",
  delivered: "delivered",
  failed: "failed",
  no_subscription: "not sent: no device signed up for notifications",
  skipped_quiet_hours: "held for quiet hours",
  expired: "expired before delivery",
};

export function historySection(detail, store) {
  const rows = [
    ...(detail.events ?? []).map((event) => ({
      at: event.at,
      text: (EVENT_TEXT[event.kind] ?? (() => humanize(event.kind)))(event),
      who: event.actor_id ? `by ${store.staffName(event.actor_id)}` : null,
      kind: `event-${event.kind}`,
    })),
    ...(detail.notifications ?? []).map((note) => ({
      at: note.created_at,
      text: `${note.kind === "escalation" ? "Escalation notice" : "Alert notice"} to ${store.staffName(note.recipient_id)}`,
      who: DELIVERY[note.status] ?? humanize(note.status),
      kind: "notification",
    })),
  ].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  return h(
    "section",
    { class: "card", "aria-labelledby": "history-title" },
    h("h2", { id: "history-title" }, "What happened"),
    h(
      "ol",
      { class: "timeline" },
      rows.map((row) =>
        h(
          "li",
          { class: `timeline-item kind-${row.kind}` },
          h("span", { class: "timeline-when" }, h("time", { datetime: row.at }, exactTime(row.at))),
          h("span", { class: "timeline-what" }, row.text),
          row.who ? h("span", { class: "timeline-detail" }, row.who) : null,
        ),
      ),
    ),
  );
}

export function outreachList(records, store) {
  if (!records.length) return h("p", { class: "subtle", "data-outreach-count": "0" }, "No outreach recorded yet.");
  return h(
    "ul",
    { class: "outreach-list", "data-outreach-count": String(records.length) },
    [...records]
      .sort((a, b) => Date.parse(b.occurred_at) - Date.parse(a.occurred_at))
      .map((record) =>
        h(
          "li",
          { class: "outreach-item" },
          h(
            "p",
            { class: "words-head" },
            h("strong", {}, `${OUTREACH_METHODS[record.method] ?? humanize(record.method)}: ${OUTREACH_OUTCOMES[record.outcome] ?? humanize(record.outcome)}`),
            h("span", { class: "subtle" }, ` · ${exactTime(record.occurred_at)} · by ${store.staffName(record.recorded_by)}`),
          ),
          record.note ? h("p", { class: "outreach-note" }, record.note) : null,
          record.acknowledged_alert ? h("p", { class: "subtle" }, "This acknowledged the alert.") : null,
        ),
      ),
  );
}

/**
 * A form that records one outreach with POST `url`. Its client_id is made when the form is drawn
 * and kept until it succeeds, so a retried submission (a timeout, a double click) is stored once.
 */
export function outreachForm(api, url, { onRecorded, submitLabel = "Record outreach" }) {
  let clientId = uuid4();
  const message = statusArea("alert");
  const method = h("select", {}, Object.entries(OUTREACH_METHODS).map(([value, label]) => h("option", { value }, label)));
  const outcome = h("select", {}, Object.entries(OUTREACH_OUTCOMES).map(([value, label]) => h("option", { value }, label)));
  const when = h("input", { type: "datetime-local" });
  const note = h("textarea", { rows: "3", maxlength: "2000" });
  const submit = h("button", { type: "submit", class: "button-primary" }, submitLabel);
  const form = h(
    "form",
    { class: "outreach-form", novalidate: true },
    h("div", { class: "form-row" }, field("How", method), field("Outcome", outcome)),
    field("When (optional)", when, "Leave empty if it was just now."),
    field("Note (optional)", note, "What was said or agreed. Colleagues read this."),
    message,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { client_id: clientId, method: method.value, outcome: outcome.value };
    if (note.value.trim()) body.note = note.value.trim();
    if (when.value) {
      const at = new Date(when.value);
      if (Number.isNaN(at.getTime())) {
        showMessage(message, "Enter the time as a date and time, or leave it empty.", "error");
        return;
      }
      body.occurred_at = at.toISOString();
    }
    submit.disabled = true;
    showMessage(message, "");
    try {
      const record = await api.post(url, body);
      clientId = uuid4();
      note.value = "";
      when.value = "";
      showMessage(message, record.acknowledged_alert ? "Recorded. It also acknowledged the alert." : "Recorded.", "success");
      await onRecorded(record);
    } catch (error) {
      const detail = error?.errors?.length ? error.errors.map((e) => `${humanize(e.field)}: ${e.message}`).join("; ") : error?.detail;
      showMessage(message, `Not recorded: ${detail || "the server refused it"}.`, "error");
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export function fillOutreach(container, records, store) {
  fill(container, outreachList(records, store));
}
