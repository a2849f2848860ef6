// The check-in history as four small charts over one time axis (craving, stress, mood, sleep), each
// on its own scale, with lapses (▲, solid line) and alerts opened (◆, dashed line) marked on every
// chart. Drawn by uPlot (vendored, vendor/README.txt); the same numbers are in a table below it for
// screen readers and for reading exact values.

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { fill, h } from "../dom.js";
import { addDays, calendarDate, dateFromIso, daysBetween, localDateOf, ruleLabel, shortDay } from "../format.js";

export const METRICS = [
  { key: "craving", label: "Craving", scale: "0 none – 10 severe", range: [0, 10], splits: [0, 5, 10], color: "#a8321f" },
  { key: "stress", label: "Stress", scale: "0 none – 10 severe", range: [0, 10], splits: [0, 5, 10], color: "#8a5300" },
  { key: "mood", label: "Mood", scale: "1 very low – 5 very good", range: [1, 5], splits: [1, 3, 5], color: "#1f5fa8" },
  { key: "sleep_hours", label: "Sleep", scale: "hours", range: [0, 12], splits: [0, 6, 12], color: "#5b3fa3" },
];
const LAPSE_COLOR = "#a8321f";
const ALERT_COLOR = "#4a4f57";
const DAY = 86_400;
const axisDay = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });

function xOf(isoDate) {
  return dateFromIso(isoDate).getTime() / 1000;
}

/** Vertical marks for alerts opened (dashed, ◆ at the top) and lapses (solid, ▲ at the bottom),
 * lapses drawn last so a lapse that opened an alert the same day still shows. */
function markersPlugin(markers) {
  const ordered = [...markers].sort((a, b) => (a.kind === "lapse") - (b.kind === "lapse"));
  return {
    hooks: {
      draw: [
        (u) => {
          const ctx = u.ctx;
          const { top, height } = u.bbox;
          const bottom = top + height;
          const ratio = window.devicePixelRatio || 1;
          const size = 5 * ratio;
          ctx.save();
          for (const marker of ordered) {
            const x = Math.round(u.valToPos(marker.x, "x", true));
            const lapse = marker.kind === "lapse";
            ctx.strokeStyle = lapse ? LAPSE_COLOR : ALERT_COLOR;
            ctx.fillStyle = ctx.strokeStyle;
            ctx.lineWidth = lapse ? 2 * ratio : ratio;
            ctx.setLineDash(lapse ? [] : [4 * ratio, 3 * ratio]);
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, bottom);
            ctx.stroke();
            ctx.setLineDash([]);
            ctx.beginPath();
            if (lapse) {
              ctx.moveTo(x, bottom - size * 1.8);
              ctx.lineTo(x - size * 1.1, bottom);
              ctx.lineTo(x + size * 1.1, bottom);
            } else {
              ctx.moveTo(x, top + size * 2);
              ctx.lineTo(x - size, top + size);
              ctx.lineTo(x, top);
              ctx.lineTo(x + size, top + size);
            }
            ctx.closePath();
            ctx.fill();
          }
          ctx.restore();
        },
      ],
    },
  };
}

/**
 * Draws into `container` the check-ins from `from` to `to` (local dates, inclusive). Returns a
 * cleanup function. `checkins` are the API's check-ins; `alerts` the graduate's alerts (any status).
 */
export function renderCheckinChart(container, { checkins, alerts, from, to, timeZone }) {
  const days = [];
  for (let day = from; day <= to; day = addDays(day, 1)) days.push(day);
  const byDate = new Map(checkins.filter((c) => c.local_date >= from && c.local_date <= to).map((c) => [c.local_date, c]));
  const xs = days.map(xOf);
  const lapseDays = [...byDate.values()].filter((c) => c.used).map((c) => c.local_date);
  const alertMarks = alerts
    .map((alert) => ({ alert, day: localDateOf(alert.opened_at, timeZone) }))
    .filter(({ day }) => day >= from && day <= to);
  const markers = [
    ...lapseDays.map((day) => ({ x: xOf(day), kind: "lapse" })),
    ...alertMarks.map(({ day }) => ({ x: xOf(day), kind: "alert" })),
  ];

  const readout = h("p", { class: "chart-readout", "aria-hidden": "true" }, "Point at a day to read its answers.");
  const plots = h("div", { class: "chart-plots" });
  const legend = h(
    "ul",
    { class: "chart-legend", "aria-label": "Chart marks" },
    h("li", {}, h("span", { class: "mark mark-lapse", "aria-hidden": "true" }, "▲"), "Lapse (reported use)"),
    h("li", {}, h("span", { class: "mark mark-alert", "aria-hidden": "true" }, "◆"), "Alert opened"),
    h("li", {}, h("span", { class: "mark mark-gap", "aria-hidden": "true" }, "┄"), "Gap: no check-in that day"),
  );
  const checkinCount = byDate.size;
  const wrapper = h(
    "div",
    {
      class: "checkin-chart",
      role: "img",
      "aria-label": `Charts of craving, stress, mood and sleep for ${days.length} days: ${checkinCount} check-ins, ${lapseDays.length} lapses, ${alertMarks.length} alerts opened. The table below has the same data.`,
      "data-points": String(checkinCount),
      "data-days": String(days.length),
      "data-lapses": String(lapseDays.length),
      "data-alerts": String(alertMarks.length),
    },
    plots,
  );
  fill(container, wrapper, readout, legend, table(days, byDate, alertMarks));

  const syncKey = `checkins-${Math.random().toString(36).slice(2)}`;
  const charts = [];
  const width = (target) => Math.max(240, target.clientWidth || 600);
  METRICS.forEach((metric, index) => {
    const last = index === METRICS.length - 1;
    const rowLabel = h("div", { class: "chart-row-label" }, h("strong", {}, metric.label), h("span", { class: "subtle" }, metric.scale));
    const target = h("div", { class: "chart-row-plot" });
    plots.append(h("div", { class: "chart-row", "data-metric": metric.key }, rowLabel, target));
    const values = days.map((day) => {
      const value = byDate.get(day)?.[metric.key];
      return value === undefined || value === null ? null : Number(value);
    });
    const options = {
      width: width(target),
      height: last ? 120 : 92,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      legend: { show: false },
      cursor: { sync: { key: syncKey, setSeries: false }, drag: { x: false, y: false }, points: { size: 9 } },
      scales: {
        x: { time: true, range: [xs[0] - DAY / 2, xs[xs.length - 1] + DAY / 2] },
        y: { range: metric.range },
      },
      axes: [
        {
          stroke: "#4a4f57",
          grid: { stroke: "#e3e6ea", width: 1 },
          ticks: { show: last },
          size: last ? 36 : 6,
          values: last ? (u, splits) => splits.map((ts) => axisDay.format(new Date(ts * 1000))) : (u, splits) => splits.map(() => ""),
        },
        {
          stroke: "#4a4f57",
          grid: { stroke: "#eef0f3", width: 1 },
          size: 36,
          splits: () => metric.splits,
          values: (u, splits) => splits.map((value) => String(value)),
        },
      ],
      series: [
        {},
        {
          label: metric.label,
          stroke: metric.color,
          width: 2,
          spanGaps: false,
          points: { show: true, size: days.length > 45 ? 5 : 7, fill: metric.color, stroke: metric.color },
        },
      ],
      plugins: [markersPlugin(markers)],
      hooks: {
        setCursor: [
          (u) => {
            const idx = u.cursor.idx;
            if (idx === null || idx === undefined || index !== 0) return;
            const day = days[idx];
            const checkin = byDate.get(day);
            readout.textContent = checkin ? describe(day, checkin, alertMarks) : `${shortDay(day)}: no check-in`;
          },
        ],
      },
    };
    charts.push({ plot: new uPlot(options, [xs, values], target), target });
  });

  const observer = new ResizeObserver(() => {
    for (const { plot, target } of charts) {
      if (Math.abs(plot.width - width(target)) > 1) plot.setSize({ width: width(target), height: plot.height });
    }
  });
  observer.observe(plots);
  return () => {
    observer.disconnect();
    for (const { plot } of charts) plot.destroy();
  };
}

function describe(day, checkin, alertMarks) {
  const parts = [
    `craving ${checkin.craving}`,
    `stress ${checkin.stress}`,
    `mood ${checkin.mood}`,
    checkin.sleep_hours === null || checkin.sleep_hours === undefined ? "sleep not given" : `sleep ${checkin.sleep_hours} h`,
  ];
  if (checkin.used) parts.push("lapse (reported use)");
  const opened = alertMarks.filter((mark) => mark.day === day).map((mark) => `alert: ${ruleLabel(mark.alert.rule)}`);
  return `${shortDay(day)}: ${[...parts, ...opened].join(", ")}`;
}

function yesNo(value) {
  if (value === null || value === undefined) return "—";
  return value ? "Yes" : "No";
}

function table(days, byDate, alertMarks) {
  const rows = [...days].reverse().filter((day) => byDate.has(day) || alertMarks.some((mark) => mark.day === day));
  return h(
    "details",
    { class: "chart-table" },
    h("summary", {}, "Show these check-ins as a table"),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "data-table" },
        h("caption", { class: "visually-hidden" }, "Check-ins, newest first"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Date", "Craving", "Stress", "Mood", "Sleep (h)", "Used", "Support", "Alerts opened", "Note"].map((label) => h("th", { scope: "col" }, label)),
          ),
        ),
        h(
          "tbody",
          {},
          rows.map((day) => {
            const c = byDate.get(day);
            const opened = alertMarks.filter((mark) => mark.day === day).map((mark) => ruleLabel(mark.alert.rule));
            return h(
              "tr",
              { "data-date": day, class: c?.used ? "row-lapse" : "" },
              h("th", { scope: "row" }, calendarDate(day)),
              h("td", { class: "number" }, c ? String(c.craving) : "—"),
              h("td", { class: "number" }, c ? String(c.stress) : "—"),
              h("td", { class: "number" }, c ? String(c.mood) : "—"),
              h("td", { class: "number" }, c?.sleep_hours ?? "—"),
              h("td", {}, c ? (c.used ? h("strong", {}, "▲ Yes") : "No") : "—"),
              h("td", {}, c ? yesNo(c.attended_support) : "—"),
              h("td", {}, opened.length ? opened.join(", ") : ""),
              h("td", { class: "note" }, c?.note ?? ""),
            );
          }),
        ),
      ),
    ),
  );
}

/** How many days back the range starts, inclusive of today: 30 days is today and the 29 before. */
export function rangeStart(today, days) {
  return addDays(today, -(days - 1));
}

export function span(from, to) {
  return daysBetween(from, to) + 1;
}
