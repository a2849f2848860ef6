// The caseload: every graduate in reach with risk, last check-in, streak and open alerts, in the
// server's order (GET /v1/graduates `sort`), searched by the server (`search`, a name prefix) and a
// page at a time ("Load more" follows `next_cursor`). Supervisors also see each graduate's counselor
// and can list only those whose counselor was deactivated (`needs_reassignment`).
// The controls live in the URL (?sort=name&search=jo&reassign=1) so a reload keeps them.

import { fill, h, showMessage, statusArea } from "../dom.js";
import { RISK, calendarDate, lastCheckinText } from "../format.js";

// Each column the server can order by, with the order it gives (one direction per sort).
const SORTS = {
  name: { label: "Graduate", direction: "ascending", says: "by name, A to Z" },
  risk: { label: "Risk", direction: "descending", says: "by risk, highest first" },
  last_checkin: { label: "Last check-in", direction: "descending", says: "longest since a check-in first" },
  open_alerts: { label: "Open alerts", direction: "descending", says: "most open alerts first" },
};
const COLUMNS = [
  { key: "name" },
  { key: "risk" },
  { key: "last_checkin" },
  { key: "streak", label: "Streak" },
  { key: "open_alerts" },
];
// Wait for a pause in typing before asking the server, so a name is one request, not one a key.
const SEARCH_PAUSE_MS = 250;

export function riskBadge(level) {
  const info = RISK[level] ?? { label: level, shape: "■" };
  return h("span", { class: `risk risk-${level}` }, h("span", { class: "shape", "aria-hidden": "true" }, info.shape), info.label);
}

/** A graduate whose counselor was deactivated: their caseload waits for a supervisor to hand it on. */
function needsReassignment(graduate, staff) {
  return Boolean(graduate.counselor_id) && staff.get(graduate.counselor_id)?.active === false;
}

function reassignBadge() {
  return h("span", { class: "flag flag-reassign" }, h("span", { class: "shape", "aria-hidden": "true" }, "⚑"), "Needs reassignment");
}

function readControls() {
  const query = new URLSearchParams(window.location.search);
  return {
    sort: Object.hasOwn(SORTS, query.get("sort") ?? "") ? query.get("sort") : "risk",
    search: query.get("search") ?? "",
    reassign: query.get("reassign") === "1",
  };
}

function writeControls(state) {
  const query = new URLSearchParams();
  if (state.sort !== "risk") query.set("sort", state.sort);
  if (state.search.trim()) query.set("search", state.search.trim());
  if (state.reassign) query.set("reassign", "1");
  const search = query.toString();
  window.history.replaceState(null, "", `/console/caseload${search ? `?${search}` : ""}`);
}

export async function render(ctx) {
  const { store } = ctx;
  ctx.setTitle("Caseload");
  const supervisor = ctx.api.role === "supervisor";
  const state = readControls();
  if (!supervisor) state.reassign = false;
  let shown = [];
  let nextCursor = null;
  let loading = 0; // the latest request; an older answer arriving late is dropped
  let timer = null;

  const search = h("input", { type: "search", id: "caseload-search", autocomplete: "off", value: state.search, placeholder: "Start of a name", maxlength: "200" });
  const reassign = h("input", { type: "checkbox", id: "caseload-reassign", checked: state.reassign });
  const count = h("p", { class: "summary", id: "caseload-count", "aria-live": "polite" });
  const message = statusArea("alert");
  const more = h("button", { type: "button", class: "button", hidden: true, onclick: () => load({ append: true }) }, "Load more");
  const body = h("tbody");
  const headRow = h("tr");
  const table = h(
    "table",
    { class: "data-table caseload-table", "aria-describedby": "caseload-count" },
    h("caption", { class: "visually-hidden" }, "Graduates in your reach. Column headers with a button sort the table."),
    h("thead", {}, headRow),
    body,
  );

  function drawHead() {
    fill(
      headRow,
      COLUMNS.map((column) => {
        const sort = SORTS[column.key];
        if (!sort) return h("th", { scope: "col" }, column.label);
        const active = state.sort === column.key;
        return h(
          "th",
          { scope: "col", "aria-sort": active ? sort.direction : "none" },
          h(
            "button",
            {
              type: "button",
              class: "sort-button",
              title: `Sort ${sort.says}`,
              onclick: () => {
                if (state.sort === column.key) return;
                state.sort = column.key;
                load();
              },
            },
            sort.label,
            h("span", { class: "sort-mark", "aria-hidden": "true" }, active ? (sort.direction === "ascending" ? " ↑" : " ↓") : " ↕"),
          ),
        );
      }),
      supervisor ? h("th", { scope: "col" }, "Counselor") : null,
      h("th", { scope: "col" }, "Status"),
    );
  }

  function row(graduate) {
    const last = lastCheckinText(graduate.last_checkin_date, graduate.timezone);
    const orphaned = supervisor && needsReassignment(graduate, store.staff);
    return h(
      "tr",
      { "data-graduate-id": graduate.id, "data-needs-reassignment": orphaned ? "true" : null, class: orphaned ? "row-reassign" : null },
      h("th", { scope: "row" }, h("a", { href: `/console/graduates/${graduate.id}` }, graduate.display_name)),
      h("td", {}, riskBadge(graduate.risk_level)),
      h(
        "td",
        { class: last.days >= 2 ? "attention" : "" },
        last.text,
        graduate.last_checkin_date ? h("span", { class: "subtle" }, ` (${calendarDate(graduate.last_checkin_date)})`) : null,
      ),
      h("td", { class: "number" }, `${graduate.streak_days} day${graduate.streak_days === 1 ? "" : "s"}`),
      h("td", { class: "number" }, graduate.open_alerts > 0 ? h("strong", {}, String(graduate.open_alerts)) : "0"),
      supervisor
        ? h(
            "td",
            {},
            graduate.counselor_id ? store.staffName(graduate.counselor_id) : h("em", {}, "None assigned"),
            orphaned ? [h("span", { class: "subtle" }, " (deactivated) "), reassignBadge()] : null,
          )
        : null,
      h("td", {}, graduate.status === "discharged" ? "Discharged" : graduate.enrolled ? "Active" : "Not enrolled yet"),
    );
  }

  function draw() {
    drawHead();
    const filtered = state.search.trim() || state.reassign;
    const total = `${shown.length}${nextCursor ? "+" : ""} graduate${shown.length === 1 && !nextCursor ? "" : "s"}`;
    const what = [
      state.search.trim() ? `named “${state.search.trim()}…”` : null,
      state.reassign ? "needing reassignment" : null,
    ].filter(Boolean);
    fill(count, `${total}${what.length ? ` ${what.join(", ")}` : ""}, ${SORTS[state.sort].says}`);
    fill(
      body,
      shown.length
        ? shown.map(row)
        : h(
            "tr",
            {},
            h(
              "td",
              { colspan: String(COLUMNS.length + (supervisor ? 2 : 1)), class: "empty" },
              filtered ? "No graduate matches this search." : "No graduates in your caseload yet.",
            ),
          ),
    );
    more.hidden = !nextCursor;
  }

  function query() {
    return {
      sort: state.sort,
      search: state.search.trim() || undefined,
      needs_reassignment: state.reassign ? "true" : undefined,
    };
  }

  /** Asks the server for the first page (or, with `append`, the next one) of what the controls say. */
  async function load({ append = false } = {}) {
    const ticket = ++loading;
    if (!append) writeControls(state);
    more.disabled = true;
    table.setAttribute("aria-busy", "true");
    try {
      const page = await store.loadCaseload(query(), { cursor: append ? nextCursor : null });
      if (ticket !== loading || !ctx.current()) return;
      const firstNew = shown.length;
      shown = append ? [...shown, ...page.items] : page.items;
      nextCursor = page.next_cursor;
      showMessage(message, "");
      draw();
      // The button may be gone with the last page: keyboard focus goes on to the first new row.
      if (append && !nextCursor) body.querySelectorAll("tr")[firstNew]?.querySelector("a")?.focus();
    } catch (error) {
      if (ticket !== loading || !ctx.current()) return;
      showMessage(message, `The caseload could not be loaded: ${error?.detail || error?.message || "try again"}.`, "error");
    } finally {
      if (ticket === loading) {
        more.disabled = false;
        table.removeAttribute("aria-busy");
      }
    }
  }

  search.addEventListener("input", () => {
    state.search = search.value;
    clearTimeout(timer);
    timer = setTimeout(load, SEARCH_PAUSE_MS);
  });
  reassign.addEventListener("change", () => {
    state.reassign = reassign.checked;
    clearTimeout(timer); // this load asks with the search as typed so far: no second one after it
    load();
  });

  writeControls(state);
  // Supervisors: who was deactivated since sign-in decides which graduates need reassignment.
  const [page] = await Promise.all([store.loadCaseload(query()), store.loadStaff({ fresh: true })]);
  if (!ctx.current()) return undefined;
  shown = page.items;
  nextCursor = page.next_cursor;
  fill(
    ctx.main,
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Caseload"), count),
    h(
      "div",
      { class: "filters", role: "search" },
      h("div", { class: "filter filter-grow" }, h("label", { for: "caseload-search" }, "Search by name"), search),
      supervisor
        ? h("div", { class: "filter filter-check" }, reassign, h("label", { for: "caseload-reassign" }, "Needs reassignment only"))
        : null,
      h(
        "button",
        {
          type: "button",
          class: "button",
          onclick: () => ctx.navigate(window.location.pathname + window.location.search, { replace: true }),
        },
        "Refresh",
      ),
    ),
    message,
    h("div", { class: "table-wrap" }, table),
    h("div", { class: "actions" }, more),
  );
  draw();
  return () => clearTimeout(timer);
}
