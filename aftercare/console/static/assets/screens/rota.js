// The on-call rota, for supervisors (GET/PUT/DELETE /v1/program/on-call-rota): who takes the
// program's shifts in turn, from when, and the overrides (a swap, a sick day). A save sends
// If-Match with the version the form was loaded from; a 412 means someone saved in between: the
// form keeps the edits, says so, and overwrites nothing.

import { ApiError, problemText } from "../api.js";
import { field, fill, h, showMessage, statusArea } from "../dom.js";
import { instantFromLocalInput, localInputValue } from "../format.js";

const PATH = "/v1/program/on-call-rota";
const ROTATIONS = [
  ["week", "A week each"],
  ["day", "A day each"],
];
const HOURS = [
  ["always", "Around the clock"],
  ["outside_business_hours", "Outside business hours only"],
];

function select(options, value) {
  const control = h("select", {}, options.map(([key, label]) => h("option", { value: key }, label)));
  control.value = value;
  return control;
}

/** The form's state from a stored rota (or a new one): overrides as this browser's local times. */
function draftOf(rota) {
  return {
    participants: [...(rota?.participants ?? [])],
    rotation: rota?.rotation ?? "week",
    handoff: rota?.handoff ?? "09:00",
    starts_on: rota?.starts_on ?? new Date().toISOString().slice(0, 10),
    hours: rota?.hours ?? "always",
    overrides: (rota?.overrides ?? []).map((o) => ({ staff_id: o.staff_id, from: localInputValue(o.from), until: localInputValue(o.until) })),
  };
}

/** The PUT body from the form's state. */
function rotaBody(draft) {
  return {
    participants: draft.participants,
    rotation: draft.rotation,
    handoff: draft.handoff,
    starts_on: draft.starts_on,
    hours: draft.hours,
    overrides: draft.overrides.map((o) => ({ staff_id: o.staff_id, from: instantFromLocalInput(o.from), until: instantFromLocalInput(o.until) })),
  };
}

export async function rotaCard(ctx, { onSaved }) {
  const { api, store } = ctx;
  const box = h("section", { class: "card rota-card", "aria-labelledby": "rota-title" });
  const message = statusArea("alert");
  let rota = null; // as stored; null: the program has none
  let zone = "";

  async function load() {
    try {
      rota = (await api.request("GET", PATH)).body;
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
      rota = null;
    }
  }

  const name = (id) => {
    const member = store.staff.get(id);
    return member ? `${member.display_name}${member.active ? "" : " (deactivated)"}` : "Unknown staff member";
  };

  function draw() {
    const draft = draftOf(rota);
    const version = rota?.version ?? 0;
    const participants = h("ol", { class: "rota-participants", "aria-label": "On call in this order" });
    const addChoice = h("select");
    const overrides = h("div", { class: "rota-overrides" });

    function drawParticipants() {
      fill(
        participants,
        draft.participants.length
          ? draft.participants.map((id, index) => {
              const who = name(id);
              const move = (by) => {
                draft.participants.splice(index + by, 0, ...draft.participants.splice(index, 1));
                drawParticipants();
                participants.querySelectorAll("li")[index + by]?.querySelector(`[data-move="${by}"]`)?.focus();
              };
              return h(
                "li",
                { class: "rota-participant", "data-staff-id": id },
                h("span", { class: "rota-name" }, who),
                h("button", { type: "button", class: "button-quiet button-small", "data-move": "-1", disabled: index === 0, "aria-label": `Move ${who} earlier`, onclick: () => move(-1) }, "↑ Earlier"),
                h(
                  "button",
                  { type: "button", class: "button-quiet button-small", "data-move": "1", disabled: index === draft.participants.length - 1, "aria-label": `Move ${who} later`, onclick: () => move(1) },
                  "↓ Later",
                ),
                h(
                  "button",
                  {
                    type: "button",
                    class: "button-quiet button-small",
                    "aria-label": `Remove ${who} from the rota`,
                    onclick: () => {
                      draft.participants.splice(index, 1);
                      drawParticipants();
                    },
                  },
                  "Remove",
                ),
              );
            })
          : h("li", { class: "subtle" }, "Nobody yet: add the staff who take on-call shifts."),
      );
      const free = store.activeStaff().filter((member) => !draft.participants.includes(member.id));
      fill(addChoice, free.length ? free.map((member) => h("option", { value: member.id }, member.display_name)) : h("option", { value: "" }, "Everyone is on the rota"));
      addChoice.disabled = free.length === 0;
    }

    function drawOverrides() {
      fill(
        overrides,
        draft.overrides.map((override, index) => {
          const who = select(
            store.activeStaff().map((member) => [member.id, member.display_name]),
            override.staff_id,
          );
          const from = h("input", { type: "datetime-local", required: true, value: override.from });
          const until = h("input", { type: "datetime-local", required: true, value: override.until });
          who.addEventListener("change", () => {
            override.staff_id = who.value;
          });
          from.addEventListener("input", () => {
            override.from = from.value;
          });
          until.addEventListener("input", () => {
            override.until = until.value;
          });
          return h(
            "fieldset",
            { class: "edit-item rota-override" },
            h("legend", { class: "visually-hidden" }, `Override ${index + 1}`),
            field("On call instead", who),
            field("From", from),
            field("Until", until),
            h(
              "button",
              {
                type: "button",
                class: "button-quiet button-small",
                "aria-label": `Remove override ${index + 1}`,
                onclick: () => {
                  draft.overrides.splice(index, 1);
                  drawOverrides();
                },
              },
              "Remove",
            ),
          );
        }),
      );
    }

    const rotation = select(ROTATIONS, draft.rotation);
    const handoff = h("input", { type: "time", required: true, value: draft.handoff });
    const startsOn = h("input", { type: "date", required: true, value: draft.starts_on });
    const hours = select(HOURS, draft.hours);
    rotation.addEventListener("change", () => {
      draft.rotation = rotation.value;
    });
    handoff.addEventListener("input", () => {
      draft.handoff = handoff.value;
    });
    startsOn.addEventListener("input", () => {
      draft.starts_on = startsOn.value;
    });
    hours.addEventListener("change", () => {
      draft.hours = hours.value;
    });

    const save = h("button", { type: "submit", class: "button-primary" }, rota ? "Save rota" : "Create rota");
    const remove = h("button", { type: "button", class: "button", hidden: !rota }, "Delete rota…");
    const confirmRemove = h("button", { type: "button", class: "button", hidden: true }, "Yes, delete the rota");
    const form = h(
      "form",
      { class: "rota-form", novalidate: true, "aria-labelledby": "rota-title", "data-version": String(version) },
      h("h3", { class: "form-title" }, "Who is on call, in turn"),
      participants,
      h(
        "div",
        { class: "inline-form" },
        field("Add to the rota", addChoice),
        h(
          "button",
          {
            type: "button",
            class: "button",
            onclick: () => {
              if (!addChoice.value) return;
              draft.participants.push(addChoice.value);
              drawParticipants();
              addChoice.focus();
            },
          },
          "Add",
        ),
      ),
      h(
        "div",
        { class: "form-row" },
        field("Shift length", rotation),
        field("Handoff time", handoff, zone ? `In the program's time zone, ${zone.replaceAll("_", " ")}.` : null),
        field("First shift starts on", startsOn, "The first person's first shift begins that day at the handoff."),
        field("Hours", hours),
      ),
      h("h3", { class: "form-title" }, "Overrides"),
      h("p", { class: "hint" }, "Someone else on call for a stretch (a swap, a sick day): wins over the rota, in business hours too. Times are this browser's."),
      overrides,
      h(
        "button",
        {
          type: "button",
          class: "button button-small",
          onclick: () => {
            const start = new Date();
            const end = new Date(start.getTime() + 24 * 3600_000);
            draft.overrides.push({ staff_id: store.activeStaff()[0]?.id ?? "", from: localInputValue(start.toISOString()), until: localInputValue(end.toISOString()) });
            drawOverrides();
            overrides.querySelector("fieldset:last-child select")?.focus();
          },
        },
        "Add override",
      ),
      h("div", { class: "actions" }, save, remove, confirmRemove),
    );

    async function write(method, body) {
      save.disabled = true;
      confirmRemove.disabled = true;
      showMessage(message, "");
      delete message.dataset.conflict;
      try {
        const response = await api.request(method, PATH, { body, headers: { "If-Match": `"${version}"` } });
        rota = method === "DELETE" ? null : response.body;
        draw();
        showMessage(message, rota ? `Saved. This is version ${rota.version} of the rota.` : "The rota is deleted: nobody is on call until a new one is made.", "success");
        ctx.announce(rota ? `Rota saved, version ${rota.version}.` : "Rota deleted.");
        await onSaved();
      } catch (error) {
        save.disabled = false;
        confirmRemove.disabled = false;
        if (error instanceof ApiError && error.status === 412) await conflict(version);
        else showMessage(message, `Not saved: ${problemText(error)}.`, "error");
      }
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!draft.participants.length) {
        showMessage(message, "Not saved: add at least one person to the rota.", "error");
        addChoice.focus();
        return;
      }
      if (draft.overrides.some((o) => !instantFromLocalInput(o.from) || !instantFromLocalInput(o.until))) {
        showMessage(message, "Not saved: give each override a start and an end.", "error");
        return;
      }
      write("PUT", rotaBody(draft));
    });
    remove.addEventListener("click", () => {
      remove.hidden = true;
      confirmRemove.hidden = false;
      confirmRemove.focus();
    });
    confirmRemove.addEventListener("click", () => write("DELETE", undefined));

    drawParticipants();
    drawOverrides();
    fill(
      box,
      h("div", { class: "card-head" }, h("h2", { id: "rota-title" }, "On-call rota"), h("span", { class: "subtle rota-version" }, rota ? `Version ${rota.version}` : "No rota yet")),
      h("p", { class: "subtle" }, "Whoever the rota names is told of an alert at the escalation policy's on-call level."),
      message,
      form,
    );
  }

  async function conflict(startedFrom) {
    let current = null;
    try {
      current = (await api.request("GET", PATH)).body;
    } catch {
      current = null;
    }
    const now = current ? ` It is now version ${current.version}.` : " It has been deleted since.";
    showMessage(
      message,
      `Not saved: someone else changed the rota after you loaded version ${startedFrom}.${now} Nothing was overwritten. Your edits are still in the form below; to keep them, load the current rota and make them again.`,
      "error",
    );
    message.dataset.conflict = "true";
    message.append(
      h(
        "div",
        { class: "actions" },
        h(
          "button",
          {
            type: "button",
            class: "button",
            onclick: async () => {
              await load();
              draw();
              showMessage(message, `Loaded the current rota${rota ? `, version ${rota.version}` : ": there is none"}.`, "info");
            },
          },
          "Load the current rota (discards your edits)",
        ),
      ),
    );
    message.scrollIntoView({ block: "nearest" });
  }

  const [rules] = await Promise.all([api.get("/v1/program/rules").catch(() => null), load()]);
  zone = rules?.program?.timezone ?? "";
  draw();
  return box;
}
