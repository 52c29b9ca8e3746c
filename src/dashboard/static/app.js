// The dashboard page: renders what the server pushes over Server-Sent Events.
// No inline script (the CSP forbids it) and no innerHTML with data: every value from the
// lakehouse goes through textContent, so a device id can never become markup.
"use strict";

(() => {
  const TYPES = ["temperature", "humidity", "co2", "energy"];
  const TYPE_LABEL = {
    temperature: "Temperature",
    humidity: "Humidity",
    co2: "CO₂",
    energy: "Energy",
  };
  const UNIT = { temperature: "°C", humidity: "%", co2: "ppm", energy: "kWh" };
  const FLOOR_COLOURS = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
  ];

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  };

  let serverOffsetMs = 0;
  const selection = { building: null, range: "hour" };
  let source = null;
  let charts = [];
  let chartsKey = "";
  let firstState = false;

  // ---- formatting -------------------------------------------------------------------------

  const pad = (n) => String(n).padStart(2, "0");
  const utc = (ms) => {
    const d = new Date(ms);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
      `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
  };
  const duration = (ms) => {
    if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min`;
    const h = Math.floor(m / 60);
    if (h < 48) return `${h} h ${m % 60} min`;
    return `${Math.floor(h / 24)} d ${h % 24} h`;
  };
  const num = (v, digits = 1) =>
    v === null || v === undefined ? "–" : Number(v).toLocaleString("en", {
      maximumFractionDigits: digits,
      minimumFractionDigits: 0,
    });
  const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(2)} %`);
  const where = (r) => `${r.building}${r.floor === null ? "" : ` · F${r.floor}`}`;

  function fillTable(table, rows, cells, emptyText) {
    const body = table.tBodies[0];
    body.replaceChildren();
    if (rows.length === 0) {
      const tr = el("tr", "empty-row");
      const td = el("td", "muted", emptyText);
      td.colSpan = table.tHead.rows[0].cells.length;
      tr.append(td);
      body.append(tr);
      return;
    }
    for (const r of rows) {
      const tr = el("tr");
      for (const c of cells(r)) tr.append(c instanceof Node ? wrapTd(c) : el("td", null, c));
      if (r.alarm_id) tr.dataset.alarmId = r.alarm_id;
      body.append(tr);
    }
  }
  const wrapTd = (node) => {
    if (node.tagName === "TD") return node;
    const td = el("td");
    td.append(node);
    return td;
  };
  const severity = (s) => el("span", `sev sev-${s === "critical" ? "critical" : "warning"}`, s);

  // ---- state ------------------------------------------------------------------------------

  function renderState(payload) {
    serverOffsetMs = payload.serverTimeMs - Date.now();
    const s = payload.state;
    $("now").textContent = s.nowMs === null ? "no data" : utc(s.nowMs);
    $("empty").hidden = !s.empty;
    $("empty-hint").textContent = s.hint ?? "";
    $("lakehouse").textContent = s.lakehouse;
    document.querySelector("main").classList.toggle("dim", s.empty);

    $("errors").hidden = s.errors.length === 0;
    $("error-list").replaceChildren(...s.errors.map((e) => el("li", null, e)));

    renderBuildings(s.buildings);
    renderOverview(s.overview);
    renderAlarms(s);
    renderHealth(s.health);
    tickAges();
    if (!firstState) {
      firstState = true;
      document.documentElement.dataset.stateAt = String(Math.round(performance.now()));
    }
  }

  function renderBuildings(buildings) {
    const select = $("building");
    const current = [...select.options].map((o) => o.value).join("|");
    if (current !== buildings.join("|")) {
      select.replaceChildren(...buildings.map((b) => el("option", null, b)));
      for (const o of select.options) o.value = o.textContent;
    }
    if (selection.building && buildings.includes(selection.building)) {
      select.value = selection.building;
    }
  }

  function renderOverview(rows) {
    const byBuilding = new Map();
    for (const r of rows) {
      if (!byBuilding.has(r.building)) byBuilding.set(r.building, new Map());
      const floors = byBuilding.get(r.building);
      if (!floors.has(r.floor)) floors.set(r.floor, {});
      floors.get(r.floor)[r.type] = r;
    }
    const cards = [];
    for (const [building, floors] of byBuilding) {
      const card = el("article", "building");
      card.dataset.building = building;
      card.append(el("h3", null, `Building ${building}`));
      const table = el("table", "floors");
      const head = el("tr");
      head.append(el("th", null, "Floor"));
      for (const t of TYPES) head.append(el("th", null, `${TYPE_LABEL[t]} (${UNIT[t]})`));
      const thead = el("thead");
      thead.append(head);
      table.append(thead);
      const body = el("tbody");
      for (const floor of [...floors.keys()].sort((a, b) => b - a)) {
        const tr = el("tr");
        tr.append(el("th", null, `F${floor}`));
        for (const t of TYPES) {
          const r = floors.get(floor)[t];
          const td = el("td", `cell band-${r ? r.band : "missing"}`, r ? num(r.value) : "–");
          if (r) {
            td.title = `${r.devices} device(s), newest reading ${utc(r.last_seen_ms)}`;
          }
          tr.append(td);
        }
        body.append(tr);
      }
      table.append(body);
      card.append(table);
      cards.push(card);
    }
    $("overview").replaceChildren(...cards);
  }

  function renderAlarms(s) {
    const a = s.alarms;
    $("open-count").textContent = a.openTruncated ? `${a.open.length}+` : String(a.open.length);
    $("open-count").classList.toggle("hot", a.open.length > 0);
    fillTable(
      $("alarms-open"),
      a.open,
      (r) => [
        severity(r.severity),
        el("code", null, r.device_id ?? "(building)"),
        r.rule,
        `${where(r)} · ${r.type}`,
        duration(r.age_ms),
        `${num(r.peak_value, 2)} / ${num(r.threshold, 2)}`,
      ],
      a.available ? "No open alarm." : "gold/alarms does not exist yet.",
    );
    $("alarms-note").textContent = a.available
      ? "Age is measured in data time (from the start of the episode to “now”)."
      : "Alarms come from gold/alarms: run `deno task gold` to build it.";
    fillTable(
      $("alarms-cleared"),
      a.cleared,
      (r) => [
        severity(r.severity),
        el("code", null, r.device_id ?? "(building)"),
        r.rule,
        `${where(r)} · ${r.type}`,
        `${duration(s.nowMs - r.ended_ms)} ago`,
        duration(r.duration_ms),
      ],
      "Nothing cleared in the last 24 h.",
    );
    $("silent-count").textContent = String(s.silent.rows.length);
    $("silent-count").classList.toggle("hot", s.silent.rows.length > 0);
    fillTable(
      $("silent"),
      s.silent.rows,
      (r) => [el("code", null, r.device_id), where(r), r.type, duration(r.silent_ms)],
      "Every device is reporting.",
    );
    $("silent-note").textContent = s.silent.source === "gold"
      ? "From gold/device_health."
      : s.silent.source === "silver"
      ? "gold/device_health not built yet: devices with no reading in the last 5 min of data."
      : "";
  }

  function renderHealth(h) {
    $("ingest-rate").textContent = `${num(h.ingestRowsPerMin1, 0)} rows/min`;
    $("ingest-rate5").textContent = `${num(h.ingestRowsPerMin5, 0)} rows/min over 5 min`;
    $("q-rate").textContent = h.quarantineRate5 === null ? "–" : pct(h.quarantineRate5);
    $("q-rate-all").textContent = `all time ${pct(h.quarantineRateAll)}`;
    $("lag").textContent = h.consumerLag ? `${num(h.consumerLag.total, 0)} msgs` : "n/a";
    $("lag-note").textContent = h.consumerLag
      ? `topic ${h.consumerLag.topic}, across ${h.consumerLag.partitions.length} partitions`
      : h.consumerLagNote ?? "";
    const silver = h.tables.find((t) => t.name === "silver");
    fillTable(
      $("tables"),
      h.tables,
      (t) => {
        const age = el("td", "age");
        age.dataset.commitMs = String(t.commitMs);
        const name = el("td");
        name.append(el("code", null, t.name));
        if (t.silverVersion !== undefined && silver) {
          const behind = silver.version - t.silverVersion;
          name.append(
            el("span", `muted small${behind > 0 ? " behind" : ""}`, ` silver v${t.silverVersion}`),
          );
        }
        return [name, String(t.version), age, num(t.rows, 0), num(t.rowsPerMin5, 0)];
      },
      "No table yet.",
    );
    fillTable(
      $("reasons"),
      h.quarantineReasons,
      (r) => [el("code", null, r.reason), num(r.rows, 0)],
      "Nothing quarantined in the last hour.",
    );
    fillTable(
      $("offsets"),
      h.watermarks,
      (w) => [el("code", null, w.appId), num(w.version, 0)],
      "No source stream committed yet.",
    );
  }

  /** Commit ages are wall-clock: recomputed every second against the server's clock. */
  function tickAges() {
    const now = Date.now() + serverOffsetMs;
    for (const td of document.querySelectorAll("td.age")) {
      const ms = Number(td.dataset.commitMs);
      td.textContent = ms > 0 ? `${duration(now - ms)} ago` : "–";
      td.classList.toggle("stale", now - ms > 10 * 60_000);
    }
  }

  // ---- charts -----------------------------------------------------------------------------

  function renderSeries(s) {
    if (selection.building !== s.building) {
      selection.building = s.building;
      $("building").value = s.building;
    }
    const container = $("charts");
    const key = `${s.building}|${s.range}|` + s.charts.map((c) => c.floors.join(",")).join(";");
    const width = Math.max(260, Math.floor((container.clientWidth - 16) / 2));
    if (key !== chartsKey) {
      for (const c of charts) c.destroy();
      charts = [];
      container.replaceChildren();
      chartsKey = key;
      for (const c of s.charts) {
        const box = el("div", "chart");
        box.dataset.type = c.type;
        box.append(el("h3", null, `${TYPE_LABEL[c.type]} (${c.unit})`));
        container.append(box);
        if (c.t.length === 0) {
          box.append(el("p", "muted small", "No readings in this window."));
          charts.push({ destroy() {}, setData() {}, setSize() {} });
          continue;
        }
        const opts = {
          width,
          height: 180,
          tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
          legend: { live: false },
          cursor: { drag: { x: false, y: false } },
          scales: { x: { time: true } },
          axes: [{ stroke: "#555" }, { stroke: "#555", size: 56 }],
          series: [
            {},
            ...c.floors.map((f, i) => ({
              label: `F${f}`,
              stroke: FLOOR_COLOURS[i % FLOOR_COLOURS.length],
              width: 1.5,
              spanGaps: false,
              points: { show: false },
            })),
          ],
        };
        charts.push(new uPlot(opts, chartData(c), box));
      }
    } else {
      s.charts.forEach((c, i) => c.t.length && charts[i].setData(chartData(c)));
    }
    if (!document.documentElement.dataset.chartsAt) {
      document.documentElement.dataset.chartsAt = String(Math.round(performance.now()));
    }
  }

  const chartData = (c) => [c.t.map((t) => t / 1000), ...c.values];

  globalThis.addEventListener("resize", () => {
    const width = Math.max(260, Math.floor(($("charts").clientWidth - 16) / 2));
    for (const c of charts) c.setSize({ width, height: 180 });
  });

  // ---- connection -------------------------------------------------------------------------

  function connect() {
    if (source) source.close();
    const params = new URLSearchParams({ range: selection.range });
    if (selection.building) params.set("building", selection.building);
    const es = new EventSource(`/events?${params}`);
    source = es;
    es.addEventListener("open", () => setConn("live", "conn-live"));
    es.addEventListener("state", (e) => renderState(JSON.parse(e.data)));
    es.addEventListener("series", (e) => renderSeries(JSON.parse(e.data)));
    es.addEventListener("error", () => {
      if (es.readyState === EventSource.CLOSED) {
        // Refused (e.g. a building that no longer exists): start over without a choice.
        setConn("reconnecting…", "conn-wait");
        selection.building = null;
        setTimeout(() => source === es && connect(), 2000);
      } else {
        setConn("reconnecting…", "conn-wait");
      }
    });
  }

  function setConn(text, cls) {
    const c = $("conn");
    c.textContent = text;
    c.className = `conn ${cls}`;
  }

  $("building").addEventListener("change", (e) => {
    selection.building = e.target.value;
    chartsKey = "";
    connect();
  });
  for (const b of document.querySelectorAll("#range button")) {
    b.addEventListener("click", () => {
      if (selection.range === b.dataset.range) return;
      selection.range = b.dataset.range;
      for (const o of document.querySelectorAll("#range button")) {
        o.classList.toggle("on", o === b);
      }
      chartsKey = "";
      connect();
    });
  }
  setInterval(tickAges, 1000);
  connect();
})();
