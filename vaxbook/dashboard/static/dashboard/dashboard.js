// The officials' live dashboard of one campaign. The page comes with every number in plain
// tables; this script draws the charts (uPlot, vendored in static/vendor/uplot) and, while
// booking is not closed, fetches the figures' JSON every few seconds and refreshes the charts,
// the tables and the headline numbers. It has no words of its own: labels come from the page's
// data-* attributes and from the JSON (translated by the server).
(function () {
  "use strict";

  const root = document.querySelector(".dashboard[data-url]");
  if (!root || typeof uPlot === "undefined") return;

  const lang = document.documentElement.lang || "ko";
  const KST = "Asia/Seoul";
  const momentFormat = new Intl.DateTimeFormat(lang, {
    timeZone: KST, dateStyle: "medium", timeStyle: "short",
  });
  const minuteFormat = new Intl.DateTimeFormat(lang, {
    timeZone: KST, hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  const dayFormat = new Intl.DateTimeFormat(lang, { timeZone: "UTC", dateStyle: "medium" });
  const number = new Intl.NumberFormat(lang);

  const fmt = {
    moment: (v) => (v ? momentFormat.format(new Date(v)) : "–"),
    minute: (v) => minuteFormat.format(new Date(v)),
    day: (v) => dayFormat.format(new Date(v + "T00:00:00Z")),
    duration: (v) => {
      if (v === null || v === undefined) return "–";
      const h = Math.floor(v / 3600);
      const m = Math.floor((v % 3600) / 60);
      const s = v % 60;
      return `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
    },
    percent: (v) => `${number.format(v)}%`,
    number: (v) => (v === null || v === undefined ? "–" : number.format(v)),
    text: (v) => (v === null || v === undefined || v === "" ? "–" : String(v)),
  };

  function at(data, path) {
    return path.split(".").reduce((value, key) => (value == null ? value : value[key]), data);
  }

  // Headline numbers and single values: every element with data-field.
  function fillFields(data) {
    root.querySelectorAll("[data-field]").forEach((el) => {
      const value = at(data, el.dataset.field);
      const format = el.dataset.format;
      if (format === "yesno") el.textContent = value ? el.dataset.yes : el.dataset.no;
      else if (format === "duration") el.textContent = fmt.duration(value);
      else if (format === "moment") {
        el.textContent = fmt.moment(value);
        if (el.tagName === "TIME") el.dateTime = value;
      } else el.textContent = typeof value === "number" ? fmt.number(value) : fmt.text(value);
    });
    root.dataset.state = data.campaign.state;
    document.getElementById("campaign-state").dataset.state = data.campaign.state;
  }

  // A table's body from rows: each row a list of [value, format]; the first cell is a row head.
  function fillTable(id, rows, attributes) {
    const body = document.querySelector(`#${id} tbody`);
    if (!body) return;
    const fresh = document.createElement("tbody");
    rows.forEach((cells, index) => {
      const tr = document.createElement("tr");
      Object.entries(attributes ? attributes(index) : {}).forEach(([k, v]) => tr.setAttribute(k, v));
      cells.forEach(([value, format], column) => {
        const cell = document.createElement(column === 0 ? "th" : "td");
        if (column === 0) cell.scope = "row";
        cell.textContent = fmt[format || "number"](value);
        tr.appendChild(cell);
      });
      fresh.appendChild(tr);
    });
    body.replaceWith(fresh);
  }

  function yesNo(table, value) {
    const el = document.getElementById(table);
    return value ? el.dataset.yes : el.dataset.no;
  }

  function fillTables(data) {
    const s = data.series;
    const recent = s.minutes.map((m, i) => i).reverse().slice(0, 15);
    fillTable(
      "table-minutes",
      recent.map((i) => [[s.minutes[i], "minute"], [s.confirmed[i]], [s.rejected[i]], [s.admission_rate[i]]]),
      (row) => ({ "data-minute": s.minutes[recent[row]] }),
    );
    fillTable(
      "table-rejections",
      data.rejections.map((r) => [[r.label, "text"], [r.count]]),
      (row) => ({ "data-reason": data.rejections[row].reason }),
    );
    const fillRow = (r) => [[r.booked], [r.offered], [r.free], [r.fill_percent, "percent"]];
    fillTable(
      "table-regions",
      data.fill.by_region.map((r) => [[r.region, "text"], ...fillRow(r)]),
      (row) => ({ "data-region": data.fill.by_region[row].region }),
    );
    fillTable(
      "table-days",
      data.fill.by_day.map((r) => [[r.date, "day"], ...fillRow(r)]),
      (row) => ({ "data-date": data.fill.by_day[row].date }),
    );
    fillTable(
      "table-running-out",
      data.fill.running_out.map((r) => [[r.region, "text"], [r.date, "day"], ...fillRow(r)]),
      (row) => ({
        "data-region": data.fill.running_out[row].region,
        "data-date": data.fill.running_out[row].date,
      }),
    );
    const w = data.waiting_room;
    fillTable("table-rates", w.rates.map((r) => [[r.from, "moment"], [r.per_minute]]));
    fillTable(
      "table-lines",
      w.lines.map((r) => [
        [r.opening, "moment"], [r.in_line], [r.admitted], [r.waiting], [r.last_wait_seconds, "duration"],
      ]),
      (row) => ({ "data-opening": w.lines[row].opening }),
    );
    fillTable(
      "table-draws",
      w.draws.map((r) => [[r.opening, "moment"], [yesNo("table-draws", r.done), "text"], [r.tickets]]),
      (row) => ({ "data-opening": w.draws[row].opening }),
    );
    fillTable(
      "table-windows",
      data.windows.map((r) => [
        [r.label, "text"], [r.covers, "text"], [r.opens_at, "moment"], [r.closes_at, "moment"],
        [r.state_name, "text"], [r.confirmed], [r.pending],
      ]),
      (row) => ({ "data-opens": data.windows[row].opens_at }),
    );
  }

  // Charts. Colours with enough contrast on white; the tables carry the same numbers.
  const BLUE = "#1f5fa8";
  const RED = "#b3261e";
  const GREEN = "#2e6b30";
  const charts = {};

  function width(el) {
    return Math.max(Math.min(el.clientWidth || 600, 1100), 280);
  }

  function tzDate(ts) {
    return uPlot.tzDate(new Date(ts * 1e3), KST);
  }

  function lineChart(id, series, columns) {
    const el = document.getElementById(id);
    if (!el) return;
    if (charts[id]) {
      charts[id].setData(columns);
      return;
    }
    charts[id] = new uPlot(
      {
        width: width(el),
        height: 240,
        tzDate,
        series: [{ label: el.dataset.xLabel }, ...series],
        axes: [{}, { size: 50 }],
        scales: { y: { range: (u, min, max) => [0, Math.max(max, 1)] } },
      },
      columns,
      el,
    );
  }

  function barChart(el, data) {
    const rows = at(data, el.dataset.block) || [];
    const labels = rows.map((r) => (el.dataset.label === "date" ? fmt.day(r.date) : String(r[el.dataset.label])));
    const columns = [rows.map((r, i) => i), rows.map((r) => r[el.dataset.value])];
    const id = el.id;
    if (charts[id] && charts[id].labels.length === labels.length) {
      charts[id].labels.splice(0, labels.length, ...labels);
      charts[id].plot.setData(columns);
      return;
    }
    if (charts[id]) {
      charts[id].plot.destroy();
    }
    const holder = { labels };
    holder.plot = new uPlot(
      {
        width: width(el),
        height: 200,
        series: [
          { label: el.dataset.xLabel, value: (u, v) => (v == null ? "–" : holder.labels[v] ?? "–") },
          {
            label: el.dataset.series,
            stroke: BLUE,
            fill: "rgba(31, 95, 168, 0.55)",
            paths: uPlot.paths.bars({ size: [0.6, 60] }),
            points: { show: false },
          },
        ],
        scales: {
          x: { time: false, range: (u) => [-0.5, Math.max(holder.labels.length, 1) - 0.5] },
          y: { range: (u, min, max) => [0, Math.max(max, 1)] },
        },
        axes: [
          {
            values: (u, splits) => splits.map((v) => (Number.isInteger(v) ? holder.labels[v] ?? "" : "")),
            splits: () => holder.labels.map((l, i) => i),
          },
          { size: 50 },
        ],
        legend: { show: true },
      },
      columns,
      el,
    );
    charts[id] = holder;
  }

  function drawCharts(data) {
    const s = data.series;
    const times = s.minutes.map((m) => Date.parse(m) / 1000);
    const minutes = document.getElementById("chart-minutes");
    lineChart(
      "chart-minutes",
      [
        { label: minutes.dataset.seriesConfirmed, stroke: BLUE, width: 2 },
        { label: minutes.dataset.seriesRejected, stroke: RED, width: 2 },
      ],
      [times, s.confirmed, s.rejected],
    );
    const rate = document.getElementById("chart-rate");
    lineChart(
      "chart-rate",
      [{ label: rate.dataset.seriesRate, stroke: GREEN, width: 2 }],
      [times, s.admission_rate],
    );
    root.querySelectorAll(".chart-bars").forEach((el) => barChart(el, data));
    root.dataset.drawn = data.generated_at;
  }

  const failed = document.getElementById("refresh-failed");
  let timer = null;

  async function refresh() {
    try {
      const response = await fetch(root.dataset.url, {
        // not the official's activity: the staff session's idle limit still runs
        headers: { Accept: "application/json", "X-Vaxbook-Refresh": "1" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(String(response.status));
      const data = await response.json();
      fillFields(data);
      fillTables(data);
      drawCharts(data);
      failed.hidden = true;
      if (data.campaign.state === "closed" && timer) {
        clearInterval(timer);
        timer = null;
      }
    } catch (error) {
      failed.hidden = false;
    }
  }

  refresh();
  if (root.dataset.state !== "closed") {
    // Not while the tab is hidden (no load for a page nobody reads); at once when it is back.
    const tick = () => {
      if (!document.hidden) refresh();
    };
    timer = setInterval(tick, Math.max(Number(root.dataset.refresh) || 5, 2) * 1000);
    document.addEventListener("visibilitychange", tick);
  }
})();
