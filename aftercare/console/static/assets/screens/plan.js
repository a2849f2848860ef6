// The aftercare plan on the graduate page: read every section; edit the sections written in words
// (goals, warning signs, coping skills, support contacts, crisis plan) with the ETag rules. The save
// sends If-Match with the version the edit started from; a 412 means someone saved in between, and
// the console says so and keeps the form as it is: it never retries with "*", so nothing is overwritten.

import { ApiError } from "../api.js";
import { field, fill, h, showMessage, statusArea, uid, uuid4 } from "../dom.js";
import { ago, calendarDate, exactTime, humanize } from "../format.js";

export const SECTIONS = [
  "therapy",
  "support_groups",
  "coping_skills",
  "triggers",
  "warning_signs",
  "medications",
  "support_contacts",
  "goals",
  "crisis_plan",
];

const WEEKDAYS = { MO: "Mon", TU: "Tue", WE: "Wed", TH: "Thu", FR: "Fri", SA: "Sat", SU: "Sun" };

/** "Every week on Tue and Thu at 19:00": the common RRULEs in words, the rest as written. */
export function describeSchedule(schedule) {
  if (!schedule) return "";
  const parts = Object.fromEntries(
    schedule.rrule
      .split(";")
      .map((pair) => pair.split("="))
      .filter((pair) => pair.length === 2),
  );
  const time = schedule.start_local?.slice(11, 16) ?? "";
  const interval = Number(parts.INTERVAL ?? 1);
  const every = { DAILY: "day", WEEKLY: "week", MONTHLY: "month" }[parts.FREQ];
  if (!every) return schedule.rrule;
  let text = interval > 1 ? `Every ${interval} ${every}s` : `Every ${every}`;
  if (parts.BYDAY) {
    const names = parts.BYDAY.split(",").map((day) => WEEKDAYS[day.slice(-2)] ?? day);
    text += ` on ${names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names.at(-1)}` : names[0]}`;
  }
  if (parts.BYMONTHDAY) text += ` on day ${parts.BYMONTHDAY}`;
  if (time) text += ` at ${time}`;
  if (schedule.duration_minutes) text += ` for ${schedule.duration_minutes} min`;
  return text;
}

function itemList(items, describe, empty = "None written yet.") {
  if (!items?.length) return h("p", { class: "subtle" }, empty);
  return h("ul", { class: "plan-items" }, items.map((item) => h("li", {}, describe(item))));
}

function line(main, ...details) {
  return [h("span", { class: "plan-item-main" }, main), ...details.filter(Boolean).map((detail) => h("span", { class: "plan-item-detail" }, detail))];
}

function readView(plan) {
  const skills = new Map((plan.coping_skills ?? []).map((skill) => [skill.id, skill.name]));
  const section = (title, body) => h("section", { class: "plan-section" }, h("h3", {}, title), body);
  return [
    section("Goals", itemList(plan.goals, (goal) => line(goal.text, goal.target_date ? `By ${calendarDate(goal.target_date)}` : null))),
    section("Warning signs, in their words", itemList(plan.warning_signs, (sign) => line(sign.description))),
    section(
      "Triggers",
      itemList(plan.triggers, (trigger) =>
        line(
          trigger.name,
          `${humanize(trigger.category)}, ${trigger.risk} risk`,
          trigger.coping_skill_ids?.length ? `Coping: ${trigger.coping_skill_ids.map((id) => skills.get(id) ?? id).join(", ")}` : null,
        ),
      ),
    ),
    section("Coping skills", itemList(plan.coping_skills, (skill) => line(skill.name, skill.category, skill.instructions))),
    section("Support contacts", itemList(plan.support_contacts, (contact) => line(contact.name, contact.relation, contact.phone))),
    section(
      "Therapy",
      itemList(plan.therapy, (item) => line(`${humanize(item.kind)} with ${item.provider}`, describeSchedule(item.schedule), item.location ?? item.url)),
    ),
    section(
      "Support groups",
      itemList(plan.support_groups, (group) => line(`${group.name} (${group.fellowship})`, describeSchedule(group.schedule), group.location ?? group.url)),
    ),
    section(
      "Medications",
      itemList(plan.medications, (med) =>
        line([med.name, med.dose].filter(Boolean).join(" "), describeSchedule(med.schedule), med.remind ? "Reminders on" : "No reminders"),
      ),
    ),
    section(
      "Crisis plan",
      plan.crisis_plan
        ? h(
            "div",
            {},
            plan.crisis_plan.steps?.length ? h("ol", { class: "plan-items" }, plan.crisis_plan.steps.map((step) => h("li", {}, step))) : null,
            h("p", {}, "Crisis line: ", h("strong", {}, plan.crisis_plan.crisis_line)),
          )
        : h("p", { class: "subtle" }, "None written yet."),
    ),
  ];
}

// The sections edited here, each item's fields: [name, label, required, kind].
const EDITABLE = [
  { key: "goals", title: "Goals", noun: "goal", prefix: "goal", fields: [["text", "Goal", true], ["target_date", "Target date", false, "date"]] },
  { key: "warning_signs", title: "Warning signs", noun: "warning sign", prefix: "ws", fields: [["description", "Warning sign", true]] },
  {
    key: "coping_skills",
    title: "Coping skills",
    noun: "coping skill",
    prefix: "cs",
    fields: [["name", "Skill", true], ["instructions", "How to use it", false, "textarea"]],
  },
  {
    key: "support_contacts",
    title: "Support contacts",
    noun: "support contact",
    prefix: "sc",
    fields: [["name", "Name", true], ["relation", "Relation", true], ["phone", "Phone", false, "tel"]],
  },
];

function newId(prefix) {
  return `${prefix}-${uuid4().slice(0, 8)}`;
}

/** The PUT body: every section of the plan as loaded, with the edited ones from the draft. */
export function bodyOf(plan) {
  const body = {};
  for (const name of SECTIONS) if (plan[name] !== undefined) body[name] = plan[name];
  return body;
}

function cleanItem(item, fields) {
  const out = { ...item };
  for (const [name] of fields) {
    if (typeof out[name] === "string") out[name] = out[name].trim();
    if (out[name] === "" || out[name] === null) delete out[name];
  }
  return out;
}

function editForm(draft, onChange) {
  const blocks = EDITABLE.map((section) => {
    const list = h("div", { class: "edit-items" });
    const drawItems = () => {
      fill(
        list,
        draft[section.key].map((item, index) => {
          const controls = section.fields.map(([name, label, required, kind]) => {
            const control =
              kind === "textarea"
                ? h("textarea", { rows: "2", maxlength: "2000" })
                : h("input", { type: kind === "date" ? "date" : kind === "tel" ? "tel" : "text", maxlength: "200", required });
            control.value = item[name] ?? "";
            control.dataset.field = `${section.key}[${index}].${name}`;
            control.addEventListener("input", () => {
              item[name] = control.value;
              onChange();
            });
            return field(`${label}${required ? "" : " (optional)"}`, control);
          });
          return h(
            "fieldset",
            { class: "edit-item" },
            h("legend", { class: "visually-hidden" }, `${humanize(section.noun)} ${index + 1}`),
            controls,
            h(
              "button",
              {
                type: "button",
                class: "button-quiet button-small",
                "aria-label": `Remove ${section.noun} ${index + 1}`,
                onclick: () => {
                  draft[section.key].splice(index, 1);
                  drawItems();
                  onChange();
                },
              },
              "Remove",
            ),
          );
        }),
      );
    };
    drawItems();
    return h(
      "fieldset",
      { class: "edit-section" },
      h("legend", {}, section.title),
      list,
      h(
        "button",
        {
          type: "button",
          class: "button button-small",
          onclick: () => {
            draft[section.key].push({ id: newId(section.prefix) });
            drawItems();
            onChange();
            list.querySelector(".edit-item:last-child input, .edit-item:last-child textarea")?.focus();
          },
        },
        `Add ${section.noun}`,
      ),
    );
  });
  const crisis = draft.crisis_plan ?? { steps: [], crisis_line: "988" };
  draft.crisis_plan = crisis;
  const steps = h("textarea", { rows: "4" });
  steps.value = (crisis.steps ?? []).join("\n");
  steps.dataset.field = "crisis_plan.steps";
  steps.addEventListener("input", () => {
    crisis.steps = steps.value.split("\n").map((step) => step.trim()).filter(Boolean);
    onChange();
  });
  const lineInput = h("input", { type: "text", maxlength: "64", required: true });
  lineInput.value = crisis.crisis_line ?? "";
  lineInput.dataset.field = "crisis_plan.crisis_line";
  lineInput.addEventListener("input", () => {
    crisis.crisis_line = lineInput.value.trim();
    onChange();
  });
  blocks.push(
    h(
      "fieldset",
      { class: "edit-section" },
      h("legend", {}, "Crisis plan"),
      field("Steps, one per line", steps),
      field("Crisis line", lineInput),
    ),
  );
  return blocks;
}

/** Renders the plan section into `container` for graduate `graduateId`. */
export async function renderPlan(container, { api, graduateId, announce, store }) {
  const message = statusArea("alert");
  const base = `/v1/graduates/${encodeURIComponent(graduateId)}/plan`;
  let plan = null;

  async function load() {
    try {
      plan = await api.get(base);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) plan = null;
      else throw error;
    }
  }

  function byline() {
    const who = plan.updated_by ? store.staffName(plan.updated_by) : "the program";
    const by = plan.updated_by && who === "a colleague" ? "" : ` by ${who}`;
    return h("p", { class: "subtle", id: "plan-version" }, `Version ${plan.version}, saved ${ago(plan.updated_at)}${by}`, h("span", { class: "visually-hidden" }, ` (${exactTime(plan.updated_at)})`));
  }

  function showRead() {
    if (!plan) return showEmpty();
    fill(
      container,
      h(
        "div",
        { class: "card-head" },
        h("h2", { id: "plan-title" }, "Aftercare plan"),
        h("button", { type: "button", class: "button", onclick: showEdit }, "Edit plan"),
      ),
      byline(),
      message,
      h("div", { class: "plan-read" }, readView(plan)),
    );
    return undefined;
  }

  async function showEmpty() {
    const templates = await api.get("/v1/plan-templates").catch(() => ({ items: [] }));
    const select = h("select", { id: uid("template") }, templates.items.map((t) => h("option", { value: t.id }, t.name)));
    const start = h(
      "button",
      {
        type: "button",
        class: "button-primary",
        disabled: !templates.items.length,
        onclick: async () => {
          start.disabled = true;
          try {
            plan = await api.post(base, { template_id: select.value });
            announce("Plan started from the template.");
            showRead();
          } catch (error) {
            start.disabled = false;
            showMessage(message, error?.detail || "Could not start the plan.", "error");
          }
        },
      },
      "Start the plan",
    );
    fill(
      container,
      h("div", { class: "card-head" }, h("h2", { id: "plan-title" }, "Aftercare plan")),
      h("p", {}, "No plan yet. Start from one of the program's templates, then make it theirs."),
      message,
      templates.items.length ? h("div", { class: "inline-form" }, field("Template", select), start) : null,
    );
  }

  function showEdit() {
    const startedFrom = plan;
    const draft = structuredClone(plan);
    for (const section of EDITABLE) draft[section.key] = draft[section.key] ?? [];
    let dirty = false;
    const save = h("button", { type: "submit", class: "button-primary" }, "Save plan");
    const cancel = h(
      "button",
      {
        type: "button",
        class: "button-quiet",
        onclick: () => {
          if (dirty && !window.confirm("Discard your changes to the plan?")) return;
          showRead();
        },
      },
      "Cancel",
    );
    const form = h(
      "form",
      { class: "plan-edit", novalidate: true, "aria-labelledby": "plan-title" },
      h(
        "p",
        { class: "hint" },
        "Therapy, support groups, medications and triggers are kept as they are; this form edits the sections below.",
      ),
      editForm(draft, () => {
        dirty = true;
      }),
      h("div", { class: "actions" }, save, cancel),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = bodyOf(draft);
      for (const section of EDITABLE) body[section.key] = draft[section.key].map((item) => cleanItem(item, section.fields));
      save.disabled = true;
      fill(save, "Saving…");
      showMessage(message, "");
      try {
        const response = await api.request("PUT", base, { body, headers: { "If-Match": `"${startedFrom.version}"` } });
        plan = response.body;
        showRead();
        showMessage(message, `Saved. This is version ${plan.version} of the plan.`, "success");
        announce(`Plan saved, version ${plan.version}.`);
      } catch (error) {
        save.disabled = false;
        fill(save, "Save plan");
        if (error instanceof ApiError && error.status === 412) {
          await conflict(startedFrom);
        } else if (error instanceof ApiError && error.status === 422) {
          showMessage(
            message,
            `Not saved: ${error.errors.length ? error.errors.map((e) => `${e.field.replaceAll("_", " ")}: ${e.message}`).join("; ") : error.detail}`,
            "error",
          );
        } else {
          showMessage(message, `Not saved: ${error?.detail || error?.message || "the server refused the change"}.`, "error");
        }
      }
    });
    fill(
      container,
      h("div", { class: "card-head" }, h("h2", { id: "plan-title" }, "Edit aftercare plan")),
      h("p", { class: "subtle" }, `Editing version ${plan.version}.`),
      message,
      form,
    );
    form.querySelector("input, textarea")?.focus();
  }

  async function conflict(startedFrom) {
    let current = null;
    try {
      current = await api.get(base);
    } catch {
      current = null;
    }
    const when = current ? ` It is now version ${current.version}, saved ${ago(current.updated_at)}.` : "";
    showMessage(
      message,
      `Not saved: someone else changed this plan after you started editing version ${startedFrom.version}.${when} Nothing was overwritten. Your edits are still in the form below; to keep them, load the current plan and make them again.`,
      "error",
    );
    message.dataset.conflict = "true";
    const reload = h(
      "button",
      {
        type: "button",
        class: "button",
        onclick: async () => {
          await load();
          showRead();
        },
      },
      "Load the current plan (discards your edits)",
    );
    message.append(h("div", { class: "actions" }, reload));
    message.scrollIntoView({ block: "nearest" });
  }

  await load();
  if (plan) showRead();
  else await showEmpty();
}
