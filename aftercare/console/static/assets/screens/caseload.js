// The caseload: every graduate in reach with risk, last check-in, streak and open alerts. Sorting
// and the search box work in the browser over the whole list for now (see the PLUG-IN POINT in
// store.js::loadCaseload for the server's sort, filters and search).

import { fill, h } from "../dom.js";
import { RISK, calendarDate, lastCheckinText } from "../format.js";

const COLUMNS = [
  { key: "name", label: "Graduate", value: (g) => g.display_name.toLocaleLowerCase(), first: "ascending" },
  { key: "risk", label: "Risk", value: (g) => RISK[g.risk_level]?.rank ?? 0, first: "descending" },
  { key: "last_checkin", label: "Last check-in", value: (g) => daysSince(g), first: "descending" },
  { key: "streak", label: "Streak", value: (g) => g.streak_days, first: "descending" },
  { key: "open_alerts", label: "Open alerts", value: (g) => g.open_alerts, first: "descending" },
];

function daysSince(graduate) {
  // PLUG-IN POINT: the caseload will carry days_since_checkin; until then it is computed here, in
  // the graduate's own time zone.
  if (typeof graduate.days_since_checkin === "number") return graduate.days_since_checkin;
  return lastCheckinText(graduate.last_checkin_date, graduate.timezone).days;
}

export function riskBadge(level) {
  const info = RISK[level] ?? { label: level, shape: "■" };
  return h("span", { class: `risk risk-${level}` }, h("span", { class: "shape", "aria-hidden": "true" }, info.shape), info.label);
}

/** Matches the start of any word of the name: "jo" finds "Jordan M." and "Mary Jones". */
export function matches(graduate, query) {
  const wanted = query.trim().toLocaleLowerCase();
  if (!wanted) return true;
  const name = graduate.display_name.toLocaleLowerCase();
  return name.startsWith(wanted) || name.split(/\s+/).some((word) => word.startsWith(wanted));
}

export async function render(ctx) {
  const { store } = ctx;
  ctx.setTitle("Caseload");
  const graduates = await store.loadCaseload();
  if (!ctx.current()) return undefined;
  const showCounselor = ctx.api.role === "supervisor";
  const state = { sort: "risk", direction: "descending", query: new URLSearchParams(window.location.search).get("q") ?? "" };

  const search = h("input", { type: "search", id: "caseload-search", autocomplete: "off", value: state.query, placeholder: "Start of a name" });
  const count = h("p", { class: "summary", id: "caseload-count", "aria-live": "polite" });
  const body = h("tbody");
  const headRow = h("tr");
  const table = h(
    "table",
    { class: "data-table caseload-table", "aria-describedby": "caseload-count" },
    h("caption", { class: "visually-hidden" }, "Graduates in your reach. Column headers sort the table."),
    h("thead", {}, headRow),
    body,
  );

  function drawHead() {
    fill(
      headRow,
      COLUMNS.map((column) => {
        const active = state.sort === column.key;
        return h(
          "th",
          { scope: "col", "aria-sort": active ? state.direction : "none" },
          h(
            "button",
            {
              type: "button",
              class: "sort-button",
              onclick: () => {
                if (state.sort === column.key) state.direction = state.direction === "ascending" ? "descending" : "ascending";
                else {
                  state.sort = column.key;
                  state.direction = column.first;
                }
                draw();
              },
            },
            column.label,
            h("span", { class: "sort-mark", "aria-hidden": "true" }, active ? (state.direction === "ascending" ? " ↑" : " ↓") : " ↕"),
          ),
        );
      }),
      showCounselor ? h("th", { scope: "col" }, "Counselor") : null,
      h("th", { scope: "col" }, "Status"),
    );
  }

  function draw() {
    drawHead();
    const column = COLUMNS.find((candidate) => candidate.key === state.sort);
    const sign = state.direction === "ascending" ? 1 : -1;
    const shown = graduates
      .filter((graduate) => matches(graduate, state.query))
      .sort((a, b) => {
        const x = column.value(a);
        const y = column.value(b);
        // Ties: more open alerts first, then by name.
        return (x < y ? -1 : x > y ? 1 : 0) * sign || b.open_alerts - a.open_alerts || a.display_name.localeCompare(b.display_name);
      });
    fill(
      count,
      state.query.trim()
        ? `${shown.length} of ${graduates.length} graduates match “${state.query.trim()}”`
        : `${graduates.length} graduate${graduates.length === 1 ? "" : "s"}`,
    );
    fill(
      body,
      shown.length
        ? shown.map((graduate) => {
            const last = lastCheckinText(graduate.last_checkin_date, graduate.timezone);
            return h(
              "tr",
              { "data-graduate-id": graduate.id },
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
              showCounselor ? h("td", {}, graduate.counselor_id ? store.staffName(graduate.counselor_id) : h("em", {}, "None assigned")) : null,
              h("td", {}, graduate.status === "discharged" ? "Discharged" : graduate.enrolled ? "Active" : "Not enrolled yet"),
            );
          })
        : h("tr", {}, h("td", { colspan: String(COLUMNS.length + (showCounselor ? 2 : 1)), class: "empty" }, "No graduate matches this search.")),
    );
  }

  search.addEventListener("input", () => {
    state.query = search.value;
    const query = state.query.trim() ? `?q=${encodeURIComponent(state.query.trim())}` : "";
    window.history.replaceState(null, "", `/console/caseload${query}`);
    draw();
  });

  fill(
    ctx.main,
    h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Caseload"), count),
    h(
      "div",
      { class: "filters", role: "search" },
      h("div", { class: "filter filter-grow" }, h("label", { for: "caseload-search" }, "Search by name"), search),
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
    h("div", { class: "table-wrap" }, table),
  );
  draw();
  return undefined;
}
