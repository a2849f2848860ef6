// The alert page (/console/alerts/{id}, the link in every staff push): what the alert is and its
// whole story (GET /v1/alerts/{id}), and the counselor's acts: acknowledge, record outreach (a call
// or a text; on an open alert it also acknowledges it), resolve with a note.

import { ApiError } from "../api.js";
import { field, fill, h, showMessage, statusArea } from "../dom.js";
import { exactTime, ruleLabel } from "../format.js";
import { historySection, outreachForm, outreachList, whySection, wordsSection } from "./alert-story.js";
import { responseTarget, severityBadge, statusLine } from "./feed.js";

export async function render(ctx) {
  const { api, store, params } = ctx;
  const url = `/v1/alerts/${encodeURIComponent(params.alertId)}`;
  let detail;
  try {
    detail = await api.get(url);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    ctx.setTitle("Alert not found");
    fill(
      ctx.main,
      h("p", { class: "breadcrumb" }, h("a", { href: "/console/alerts" }, "← Alerts")),
      h("h1", { tabindex: "-1" }, "Alert not found"),
      h("p", {}, "This alert does not exist, or it belongs to a graduate outside your caseload."),
    );
    return undefined;
  }
  if (!ctx.current()) return undefined;
  const graduate = await store.graduate(detail.graduate_id).catch(() => null);
  if (!ctx.current()) return undefined;
  const name = graduate?.display_name ?? "Graduate";
  ctx.setTitle(`${ruleLabel(detail.rule)} · ${name}`);

  const head = h("div");
  const story = h("div", { class: "stack" });
  const actions = h("div", { class: "stack" });
  const outreachLog = h("div");
  const message = statusArea("status");

  function facts() {
    const rows = [
      ["Status", statusLine(detail, store)],
      ["Opened", exactTime(detail.opened_at)],
      ["Latest sign", exactTime(detail.last_seen_at)],
      detail.respond_by ? ["Respond by", exactTime(detail.respond_by)] : null,
      detail.escalation_level > 0 ? ["Escalation", `Level ${detail.escalation_level}, ${exactTime(detail.escalated_at)}`] : null,
      detail.resolution_note ? ["Resolution note", detail.resolution_note] : null,
    ].filter(Boolean);
    return h("dl", { class: "facts" }, rows.map(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]));
  }

  function draw() {
    fill(
      head,
      h("p", { class: "breadcrumb" }, h("a", { href: "/console/alerts" }, "← Alerts")),
      h(
        "div",
        { class: "alert-hero", "data-status": detail.status },
        severityBadge(detail.severity),
        h("h1", { tabindex: "-1" }, ruleLabel(detail.rule)),
        h("p", { class: "alert-hero-graduate" }, "Graduate: ", h("a", { href: `/console/graduates/${detail.graduate_id}` }, name)),
        responseTarget(detail),
      ),
    );
    fill(
      story,
      h("section", { class: "card", "aria-labelledby": "facts-title" }, h("h2", { id: "facts-title" }, "Status"), facts()),
      whySection(detail),
      wordsSection(detail),
      historySection(detail, store),
    );
    fill(outreachLog, outreachList(detail.outreach ?? [], store));
  }

  async function reload() {
    detail = await api.get(url);
    store.applyAlert(detail);
    if (ctx.current()) draw();
  }

  function drawActions() {
    const resolved = detail.status === "resolved";
    const acknowledge =
      detail.status === "open"
        ? h(
            "button",
            {
              type: "button",
              class: "button-primary",
              onclick: async (event) => {
                const button = event.currentTarget;
                button.disabled = true;
                try {
                  await api.post(`${url}/acknowledge`);
                  await reload();
                  button.remove();
                  showMessage(message, "Acknowledged. Escalation has stopped.", "success");
                } catch (error) {
                  button.disabled = false;
                  showMessage(message, error?.detail || "Could not acknowledge the alert.", "error");
                }
              },
            },
            "Acknowledge",
          )
        : null;
    const sections = [
      acknowledge ? h("section", { class: "card" }, h("h2", {}, "Acknowledge"), h("p", { class: "subtle" }, "Tells colleagues you are on it and stops escalation."), acknowledge) : null,
      h(
        "section",
        { class: "card", "aria-labelledby": "outreach-title" },
        h("h2", { id: "outreach-title" }, "Outreach"),
        outreachLog,
        h("h3", { class: "form-title" }, "Record a call, text or visit"),
        outreachForm(api, `${url}/outreach`, {
          onRecorded: async () => {
            await reload();
            if (detail.status !== "open") drawActions();
          },
        }),
      ),
    ];
    if (!resolved) {
      const note = h("textarea", { name: "note", rows: "3", maxlength: "2000", required: true });
      const resolve = h("button", { type: "submit", class: "button" }, "Resolve alert");
      const form = h(
        "form",
        { class: "resolve-form", novalidate: true },
        field("Resolution note", note, "What was done and why the alert can close."),
        resolve,
      );
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (!note.value.trim()) {
          showMessage(message, "Write a note before resolving the alert.", "error");
          note.focus();
          return;
        }
        resolve.disabled = true;
        try {
          await api.post(`${url}/resolve`, { note: note.value.trim() });
          await reload();
          drawActions();
          showMessage(message, "Resolved.", "success");
        } catch (error) {
          resolve.disabled = false;
          const text =
            error instanceof ApiError && error.status === 409 ? "This alert was already resolved by someone else." : error?.detail || "Could not resolve the alert.";
          showMessage(message, text, "error");
        }
      });
      sections.push(h("section", { class: "card", "aria-labelledby": "resolve-title" }, h("h2", { id: "resolve-title" }, "Resolve"), form));
    }
    fill(actions, sections);
  }

  draw();
  drawActions();
  fill(ctx.main, head, message, h("div", { class: "two-columns two-columns-wide" }, story, actions));

  // Someone else acted on it (or it rose): read the story again.
  return store.subscribe((change) => {
    if (change.kind !== "alert" || change.alert.id !== detail.id) return;
    const before = detail.status;
    const changed = change.alert.status !== detail.status || change.alert.severity !== detail.severity || change.alert.escalation_level !== detail.escalation_level;
    if (!changed) return;
    reload()
      .then(() => {
        if (before !== detail.status) drawActions();
      })
      .catch(() => null);
  });
}
