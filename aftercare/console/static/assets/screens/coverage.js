// Coverage: who hears of an alert. Everyone sees who is on call now (GET /v1/program/on-call),
// turns on this browser's notifications, and sees their own away periods (GET /v1/staff/{id}/away)
// with a button to end or cancel each. A counselor marks themself away with a cover chosen among
// their active colleagues (GET /v1/staff/colleagues); supervisors set periods for anyone from the
// staff list (GET /v1/staff) and edit the on-call rota (screens/rota.js).

import { ApiError, problemText } from "../api.js";
import { field, fill, h, showMessage, statusArea } from "../dom.js";
import { exactTime, instantFromLocalInput, localInputValue } from "../format.js";
import { notificationsCard } from "../notifications.js";
import { rotaCard } from "./rota.js";

const REASONS = {
  no_rota: "Nobody is on call: the program has no on-call rota.",
  business_hours: "Nobody is on call now: in business hours each counselor answers for their own caseload.",
};

async function onCallCard(ctx) {
  const { api, store } = ctx;
  const box = h("section", { class: "card", "aria-labelledby": "on-call-title", id: "on-call-now" });
  let answer;
  try {
    answer = await api.get("/v1/program/on-call");
  } catch (error) {
    return fill(box, h("h2", { id: "on-call-title" }, "On call now"), h("p", { class: "message message-error" }, `Not available: ${problemText(error)}.`));
  }
  box.dataset.staffId = answer.staff_id ?? "";
  const mine = answer.staff_id === store.me.user_id;
  const name = store.staffName(answer.staff_id);
  fill(
    box,
    h("h2", { id: "on-call-title" }, "On call now"),
    answer.staff_id
      ? [
          h("p", { class: "on-call-who" }, h("strong", {}, mine ? "You" : name.charAt(0).toUpperCase() + name.slice(1)), mine ? " are" : " is", " on call", answer.until ? ` until ${exactTime(answer.until)}` : "", "."),
          h("p", { class: "subtle" }, answer.source === "override" ? "An override in the rota puts them on call." : "Their shift in the on-call rota."),
        ]
      : h("p", { class: "on-call-who" }, REASONS[answer.reason] ?? "Nobody is on call now."),
  );
  return box;
}

function awayCard(ctx) {
  const { api, store } = ctx;
  const supervisor = api.role === "supervisor";
  const me = store.me.user_id;
  const box = h("section", { class: "card", "aria-labelledby": "away-title" });
  const message = statusArea("alert");
  const list = h("ul", { class: "compact-list away-list", "aria-labelledby": "away-list-title" });
  let person = me;

  const whoControl = h(
    "select",
    { id: "away-person" },
    store.activeStaff().map((member) => h("option", { value: member.id }, member.id === me ? `${member.display_name} (you)` : member.display_name)),
  );
  whoControl.value = me;
  const start = h("input", { type: "datetime-local", required: true, value: localInputValue(new Date().toISOString()) });
  const end = h("input", { type: "datetime-local", required: true });
  const cover = h("select", { required: true });
  const note = h("input", { type: "text", maxlength: "500" });
  const save = h("button", { type: "submit", class: "button-primary" }, "Mark away");

  function fillCovers() {
    fill(cover, h("option", { value: "" }, "Choose a colleague"), store.activeStaff(person).map((member) => h("option", { value: member.id }, member.display_name)));
  }

  async function drawList() {
    let periods;
    try {
      periods = (await api.get(`/v1/staff/${encodeURIComponent(person)}/away`)).items;
    } catch (error) {
      fill(list, h("li", { class: "message message-error" }, `Away periods could not be loaded: ${problemText(error)}.`));
      return;
    }
    const now = Date.now();
    list.dataset.count = String(periods.length);
    fill(
      list,
      periods.length
        ? periods.map((period) => {
            const started = Date.parse(period.from) <= now;
            const action = started ? "End now" : "Cancel";
            const label = `${action}: away ${exactTime(period.from)} to ${exactTime(period.until)}`;
            return h(
              "li",
              { class: "away-item", "data-away-id": period.id, "data-state": started ? "current" : "upcoming" },
              h("span", { class: `tag ${started ? "tag-new" : "tag-quiet"}` }, started ? "Away now" : "Upcoming"),
              h(
                "span",
                { class: "away-when" },
                `${exactTime(period.from)} – ${exactTime(period.until)}`,
              ),
              h("span", { class: "away-cover" }, "Covered by ", h("strong", {}, store.staffName(period.covering_staff_id))),
              period.note ? h("span", { class: "away-note" }, period.note) : null,
              h(
                "button",
                {
                  type: "button",
                  class: "button button-small",
                  "aria-label": label,
                  onclick: async (event) => {
                    event.currentTarget.disabled = true;
                    try {
                      await api.request("DELETE", `/v1/staff/${encodeURIComponent(person)}/away/${encodeURIComponent(period.id)}`);
                      showMessage(message, started ? "The away period has ended: the caseload is back with its counselor." : "The away period is cancelled.", "success");
                      ctx.announce(started ? "Away period ended." : "Away period cancelled.");
                    } catch (error) {
                      showMessage(message, `Not changed: ${problemText(error)}.`, "error");
                    }
                    await drawList();
                  },
                },
                action,
              ),
            );
          })
        : h("li", { class: "subtle" }, person === me ? "You have no away periods now or to come." : "No away periods now or to come."),
    );
  }

  const form = h(
    "form",
    { class: "away-form", novalidate: true, "aria-labelledby": "away-form-title" },
    h("h3", { id: "away-form-title", class: "form-title" }, "Mark away"),
    h(
      "div",
      { class: "form-row" },
      // A counselor may set only their own periods (the API's rule), so only supervisors choose.
      supervisor ? field("Staff member", whoControl) : null,
      field("Away from", start),
      field("Until", end),
      field("Cover", cover, "Gets the caseload's new alerts and can open its graduates for exactly this period."),
    ),
    field("Note for colleagues (optional)", note),
    h("div", { class: "actions" }, save),
  );
  whoControl.addEventListener("change", () => {
    person = whoControl.value;
    fillCovers();
    drawList();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const from = instantFromLocalInput(start.value);
    const until = instantFromLocalInput(end.value);
    if (!from || !until || !cover.value) {
      showMessage(message, "Enter when the away period starts and ends, and choose who covers.", "error");
      (!from ? start : !until ? end : cover).focus();
      return;
    }
    save.disabled = true;
    try {
      const body = { from, until, covering_staff_id: cover.value, ...(note.value.trim() ? { note: note.value.trim() } : {}) };
      await api.request("PUT", `/v1/staff/${encodeURIComponent(person)}/away`, { body });
      const who = person === me ? "you are" : `${store.staffName(person)} is`;
      showMessage(message, `Saved: ${who} away from ${exactTime(from)} until ${exactTime(until)}, covered by ${store.staffName(cover.value)}.`, "success");
      ctx.announce("Away period saved.");
      end.value = "";
      note.value = "";
    } catch (error) {
      const overlap = error instanceof ApiError && error.status === 409;
      showMessage(message, overlap ? "Not saved: this overlaps an away period already set. End or cancel that one first." : `Not saved: ${problemText(error)}.`, "error");
    } finally {
      save.disabled = false;
    }
    await drawList();
  });

  fillCovers();
  fill(
    box,
    h("h2", { id: "away-title" }, supervisor ? "Away periods" : "Your away periods"),
    h("p", { class: "subtle" }, "While someone is away, their cover is told of their caseload's new alerts instead of them."),
    message,
    h("h3", { id: "away-list-title", class: "form-title" }, "Now and to come"),
    list,
    form,
  );
  drawList();
  return box;
}

export async function render(ctx) {
  ctx.setTitle("Coverage");
  const supervisor = ctx.api.role === "supervisor";
  await ctx.store.loadStaff({ fresh: true }); // covers and rota places are chosen among them
  const onCall = h("div", { class: "on-call-slot" }, await onCallCard(ctx));
  if (!ctx.current()) return undefined;
  // A saved rota may put someone else on call at once.
  const refreshOnCall = async () => fill(onCall, await onCallCard(ctx));
  const rota = supervisor ? await rotaCard(ctx, { onSaved: refreshOnCall }) : null;
  if (!ctx.current()) return undefined;
  fill(
    ctx.main,
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Coverage"), h("p", { class: "summary" }, "Who hears of an alert, and when")),
    h("div", { class: "two-columns" }, h("div", { class: "stack" }, onCall, notificationsCard(ctx)), awayCard(ctx)),
    rota,
  );
  return undefined;
}
