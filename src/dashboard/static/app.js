// The dashboard page: renders what the server pushes over Server-Sent Events.
// No inline script (the CSP forbids it) and no innerHTML with data: every value from the
// lakehouse goes through textContent, so a device id can never become markup.
"use strict";

(() => {
  // The types, their order and units come from the sensor catalogue (state.types); these are
  // only nicer names for the brief's four (any other type shows as its name).
  const TYPE_LABEL = {
    temperature: "Temperature",
    humidity: "Humidity",
    co2: "CO₂",
    energy: "Energy",
  };
  const label = (type) => TYPE_LABEL[type] ?? type;
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
  // A notification's link opens the page on its building and marks its device's incidents.
  const linked = new URLSearchParams(location.search);
  const selection = { building: linked.get("building"), range: "hour" };
  const focusDevice = linked.get("device");
  // Stale after this long without a commit to bronze or silver (?stale=SECONDS changes it).
  const STALE_MS = (Number(linked.get("stale")) > 0 ? Number(linked.get("stale")) : 600) * 1000;
  let source = null;
  let connected = false;
  let lastState = null;
  let lastSeries = null;
  // The device opened for drill-down: {device_id, building, floor, type}.
  let drill = null;
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
  const hhmm = (ms) => {
    const d = new Date(ms);
    return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  };
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
      if (r.incident_id) tr.dataset.incidentId = r.incident_id;
      if (focusDevice && r.device_id === focusDevice) tr.classList.add("focus");
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
  /** A device id that opens its drill-down (its floor's series, its incidents). */
  const deviceLink = (r) => {
    if (!r.device_id) return el("code", null, "(building)");
    const b = el("button", "device-link", r.device_id);
    b.type = "button";
    b.title = "Show this device's series and incidents";
    b.addEventListener(
      "click",
      () =>
        openDevice({ device_id: r.device_id, building: r.building, floor: r.floor, type: r.type }),
    );
    return b;
  };

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
    renderOverview(s.overview, s.types);
    renderAlarms(s);
    renderHealth(s.health);
    lastState = s;
    if (focusDevice && !drill) {
      const r = [...s.alarms.open, ...s.alarms.cleared, ...s.silent.rows].find((x) =>
        x.device_id === focusDevice
      );
      if (r) {
        openDevice({ device_id: r.device_id, building: r.building, floor: r.floor, type: r.type });
      }
    }
    renderDevice();
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

  function renderOverview(rows, types) {
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
      for (const t of types) head.append(el("th", null, `${label(t.type)} (${t.unit})`));
      const thead = el("thead");
      thead.append(head);
      table.append(thead);
      const body = el("tbody");
      for (const floor of [...floors.keys()].sort((a, b) => b - a)) {
        const tr = el("tr");
        tr.append(el("th", null, `F${floor}`));
        for (const { type: t } of types) {
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

  // Incident figures carry their units; "C" is the canonical unit of temperature.
  const unit = (u) => (u ? ` ${u.replace(/^C\b/, "°C")}` : "");
  const figure = (v, u) => `${num(v, 2)}${unit(u)}`;
  // Peak and limit side by side only where they share a unit. A z-score limit is not a value
  // of the reading: the peak reading is shown with its unit and the limit as the condition.
  const limitText = (rule, peak, peakUnit, threshold, thresholdUnit) =>
    rule === "zscore"
      ? `${figure(peak, peakUnit)} · z > ${num(threshold, 1)}`
      : `${figure(peak, peakUnit)} / ${figure(threshold, thresholdUnit)}`;
  const limit = (r) => {
    const span = el(
      "span",
      null,
      limitText(r.threshold_rule, r.peak_value, r.peak_unit, r.threshold, r.threshold_unit),
    );
    span.title = r.threshold_rule === "zscore"
      ? "peak reading; flagged because it lies more than z robust deviations (1.4826 × MAD) " +
        "from its trailing-hour median"
      : `peak and limit of the ${r.threshold_rule} rule`;
    return span;
  };

  // The incident's rules; opens to its alarm episodes (one per rule episode).
  function rulesCell(r) {
    const details = el("details", "rules");
    details.append(el("summary", null, String(r.rules ?? "").split(",").join(", ")));
    const list = el("ul", "episodes");
    let episodes = [];
    try {
      episodes = JSON.parse(r.episodes_json ?? "[]") ?? [];
    } catch {
      episodes = [];
    }
    const hm = (ms) => utc(ms).slice(11, 16);
    for (const e of episodes) {
      const span = `${hm(e.started_ms)}–${e.ended_ms === null ? "open" : hm(e.ended_ms)} UTC`;
      const li = el(
        "li",
        null,
        `${e.rule} · ${e.severity} · ${span} · peak ${
          e.rule === "zscore"
            ? `${num(e.peak_value, 2)}${unit(r.peak_unit)} · z > ${num(e.threshold, 1)}`
            : `${num(e.peak_value, 2)} / ${num(e.threshold, 2)}`
        }`,
      );
      li.title = `from ${utc(e.started_ms)}`;
      list.append(li);
    }
    details.append(list);
    // Re-rendered on every push: keep an opened row open.
    details.open = openedIncidents.has(r.incident_id);
    details.addEventListener("toggle", () => {
      if (details.open) openedIncidents.add(r.incident_id);
      else openedIncidents.delete(r.incident_id);
    });
    return details;
  }
  const openedIncidents = new Set();

  function renderAlarms(s) {
    const a = s.alarms;
    $("open-count").textContent = a.openTruncated ? `${a.open.length}+` : String(a.open.length);
    $("open-count").classList.toggle("hot", a.open.length > 0);
    fillTable(
      $("alarms-open"),
      a.open,
      (r) => [
        severity(r.severity),
        deviceLink(r),
        rulesCell(r),
        `${where(r)} · ${r.type}`,
        duration(r.age_ms),
        limit(r),
      ],
      a.available ? "No open incident." : "gold/incidents does not exist yet.",
    );
    $("alarms-note").textContent = a.available
      ? "One incident per device and type: overlapping or adjacent alarm episodes of all rules " +
        "(open a row's rules for its episodes). Age is in data time."
      : "Incidents come from gold/incidents: run `deno task gold` to build it.";
    fillTable(
      $("alarms-cleared"),
      a.cleared,
      (r) => [
        severity(r.severity),
        deviceLink(r),
        rulesCell(r),
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
      (r) => [deviceLink(r), where(r), r.type, duration(r.silent_ms)],
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
    $("lag-note").title = h.consumerLagDetail ?? "";
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
      (w) => [
        el("code", null, w.source),
        num(w.streams, 0),
        w.source === "files"
          ? `newest: ${w.detail.join(", ")}${w.streams > w.detail.length ? ", …" : ""}`
          : w.detail.map((d) => d.replace(/ (\d+)$/, (_, n) => ` ${num(Number(n), 0)}`)).join(
            " · ",
          ),
      ],
      "No source committed yet.",
    );
  }

  /** Commit ages are wall-clock: recomputed every second against the server's clock. */
  function tickAges() {
    const now = Date.now() + serverOffsetMs;
    for (const td of document.querySelectorAll("td.age")) {
      const ms = Number(td.dataset.commitMs);
      td.textContent = ms > 0 ? `${duration(now - ms)} ago` : "–";
      td.classList.toggle("stale", now - ms > STALE_MS);
    }
    renderFreshness(now);
  }

  /**
   * LIVE only while data keeps arriving: the connection is up and bronze or silver committed
   * within STALE_MS (wall clock). Otherwise the badge says how old the newest commit is.
   */
  function renderFreshness(now) {
    if (!connected) return;
    const commits = (lastState?.health.tables ?? [])
      .filter((t) => t.name === "bronze" || t.name === "silver")
      .map((t) => t.commitMs);
    const newest = commits.length ? Math.max(...commits) : null;
    if (newest !== null && now - newest > STALE_MS) {
      setConn(`stale · last commit ${duration(now - newest)} ago`, "conn-stale");
    } else {
      setConn("live", "conn-live");
    }
  }

  // ---- charts -----------------------------------------------------------------------------

  function renderSeries(s) {
    if (selection.building !== s.building) {
      selection.building = s.building;
      $("building").value = s.building;
    }
    const container = $("charts");
    // Rebuilt when the floors change, or once the thresholds (for the bands) are known.
    const key = `${s.building}|${s.range}|${lastState ? "t" : ""}|` +
      s.charts.map((c) => c.floors.join(",")).join(";");
    const width = Math.max(260, Math.floor((container.clientWidth - 16) / 2));
    if (key !== chartsKey) {
      for (const c of charts) c.destroy();
      charts = [];
      container.replaceChildren();
      chartsKey = key;
      for (const c of s.charts) {
        const box = el("div", "chart");
        box.dataset.type = c.type;
        const title = el("h3", null, `${label(c.type)} (${c.unit})`);
        const csv = el("button", "csv", "CSV");
        csv.type = "button";
        csv.title = "Download what this chart shows as CSV (UTC times)";
        title.append(csv);
        box.append(title);
        const th = lastState?.thresholds?.[c.type];
        const bands = bandText(th, c.unit);
        if (bands) {
          box.dataset.bands = bands;
          box.append(el("p", "bands muted small", bands));
        }
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
          // Drag across to zoom in on a time range; double-click zooms back out.
          cursor: { drag: { x: true, y: false } },
          scales: {
            x: { time: true },
            y: { range: (_u, min, max) => yRange(min, max, th) },
          },
          axes: [
            {
              stroke: "#555",
              label: "UTC",
              labelSize: 16,
              // 24-hour UTC; the date where a tick falls on midnight.
              values: (_u, ticks) =>
                ticks.map((t) => {
                  const ms = t * 1000;
                  return ms % 86_400_000 === 0 ? utc(ms).slice(5, 10) : hhmm(ms);
                }),
            },
            { stroke: "#555", size: 56, label: c.unit, labelSize: 16 },
          ],
          plugins: th ? [bandsPlugin(th, box)] : [],
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
        const u = new uPlot(opts, chartData(c), box);
        csv.addEventListener("click", () => downloadCsv(u, c, s));
        charts.push(u);
      }
    } else {
      // A zoomed chart keeps its time range while new data arrives.
      s.charts.forEach((c, i) => {
        if (!c.t.length) return;
        const u = charts[i];
        const zoomed = u.scales?.x && u.data?.[0]?.length &&
          (u.scales.x.min > u.data[0][0] || u.scales.x.max < u.data[0][u.data[0].length - 1]);
        if (zoomed) {
          const { min, max } = u.scales.x;
          u.setData(chartData(c), false);
          u.setScale("x", { min, max });
        } else {
          u.setData(chartData(c));
        }
      });
    }
    lastSeries = s;
    applyDrill();
    // New data for the charts: the drilled device's line moves with them.
    if (drill && drill.building === s.building) loadDeviceSeries();
    if (!document.documentElement.dataset.chartsAt) {
      document.documentElement.dataset.chartsAt = String(Math.round(performance.now()));
    }
  }

  const chartData = (c) => [c.t.map((t) => t / 1000), ...c.values];

  /** "band 18–28 °C · critical outside 15–32 °C" from a type's thresholds, or "". */
  function bandText(th, u) {
    if (!th) return "";
    const range = (lo, hi) =>
      lo === null && hi === null
        ? null
        : lo === null
        ? `≤ ${num(hi, 1)}`
        : hi === null
        ? `≥ ${num(lo, 1)}`
        : `${num(lo, 1)}–${num(hi, 1)}`;
    const warn = range(th.warnLow, th.warnHigh);
    const crit = range(th.critLow, th.critHigh);
    if (!warn && !crit) return "";
    return [warn && `comfort band ${warn} ${u}`, crit && `critical outside ${crit} ${u}`]
      .filter(Boolean).join(" · ");
  }

  /** The y range: the data's, widened to show the comfort band's limits, with 5 % padding. */
  function yRange(min, max, th) {
    let lo = min, hi = max;
    if (th) {
      for (const v of [th.warnLow, th.warnHigh]) {
        if (v !== null) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
    }
    if (lo === null || hi === null || !Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
    const padY = (hi - lo) * 0.05 || 1;
    return [lo - padY, hi + padY];
  }

  /** Shades the comfort band (green) and what lies beyond the critical limits (red). */
  function bandsPlugin(th, box) {
    return {
      hooks: {
        drawAxes: [(u) => {
          const { ctx } = u;
          const { left, top, width, height } = u.bbox;
          const y = (v) => Math.min(top + height, Math.max(top, u.valToPos(v, "y", true)));
          const shade = (lo, hi, colour) => {
            const y0 = hi === null ? top : y(hi);
            const y1 = lo === null ? top + height : y(lo);
            if (y1 > y0) {
              ctx.fillStyle = colour;
              ctx.fillRect(left, y0, width, y1 - y0);
            }
          };
          ctx.save();
          if (th.warnLow !== null || th.warnHigh !== null) {
            shade(th.warnLow, th.warnHigh, "rgba(29, 107, 44, 0.10)");
          }
          if (th.critHigh !== null) shade(th.critHigh, null, "rgba(161, 38, 27, 0.12)");
          if (th.critLow !== null) shade(null, th.critLow, "rgba(161, 38, 27, 0.12)");
          ctx.restore();
          box.dataset.bandsDrawn = "1";
        }],
      },
    };
  }

  /** Downloads the chart's rows inside its current (possibly zoomed) time range as CSV. */
  function downloadCsv(u, c, s) {
    const [xs, ...ys] = u.data;
    const min = u.scales.x.min ?? -Infinity, max = u.scales.x.max ?? Infinity;
    const lines = [["time_utc", ...c.floors.map((f) => `F${f}_${c.unit}`)].join(",")];
    xs.forEach((x, j) => {
      if (x < min || x > max) return;
      const t = new Date(x * 1000).toISOString().replace(".000Z", "Z");
      lines.push([t, ...ys.map((col) => (col[j] === null ? "" : String(col[j])))].join(","));
    });
    const blob = new Blob([lines.join("\n") + "\n"], { type: "text/csv" });
    const a = el("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${s.building}-${c.type}-${s.range}.csv`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }

  // ---- device drill-down ------------------------------------------------------------------

  let deviceChart = null;
  let deviceFetch = 0;

  /** Fetches the drilled device's own line for the current range and draws it. */
  async function loadDeviceSeries() {
    if (!drill || !drill.building) return;
    const ticket = ++deviceFetch;
    const params = new URLSearchParams({
      building: drill.building,
      device: drill.device_id,
      range: selection.range,
    });
    let d;
    try {
      const res = await fetch(`/api/device?${params}`);
      if (!res.ok) return;
      d = await res.json();
    } catch {
      return;
    }
    if (ticket !== deviceFetch || !drill || d.device !== drill.device_id) return;
    const box = $("device-chart");
    if (deviceChart) deviceChart.destroy();
    deviceChart = null;
    box.replaceChildren();
    box.dataset.points = String(d.t.length);
    if (d.t.length === 0) {
      box.append(el("p", "muted small", "No readings of this device in this window."));
      return;
    }
    const th = lastState?.thresholds?.[d.type];
    const bands = bandText(th, d.unit);
    box.append(
      el(
        "p",
        "bands muted small",
        `${label(d.type)} (${d.unit})${bands ? ` · ${bands}` : ""}`,
      ),
    );
    deviceChart = new uPlot(
      {
        width: Math.max(260, Math.min(900, $("charts").clientWidth - 32)),
        height: 160,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
        legend: { live: false },
        cursor: { drag: { x: true, y: false } },
        scales: { x: { time: true }, y: { range: (_u, min, max) => yRange(min, max, th) } },
        axes: [
          {
            stroke: "#555",
            label: "UTC",
            labelSize: 16,
            values: (_u, ticks) => ticks.map((t) => hhmm(t * 1000)),
          },
          { stroke: "#555", size: 56, label: d.unit, labelSize: 16 },
        ],
        plugins: th ? [bandsPlugin(th, box)] : [],
        series: [{}, { label: d.device, stroke: "#1f4e79", width: 1.5, points: { show: false } }],
      },
      [d.t.map((t) => t / 1000), d.values],
      box,
    );
  }

  function openDevice(d) {
    drill = d;
    loadDeviceSeries();
    if (d.building && d.building !== selection.building) {
      selection.building = d.building;
      chartsKey = "";
      connect();
    }
    renderDevice();
    applyDrill();
    $("device-panel").scrollIntoView({ block: "nearest" });
  }

  /** The device's incidents (open and cleared) and whether it is silent, from the last state. */
  function renderDevice() {
    const panel = $("device-panel");
    panel.hidden = drill === null;
    if (!drill || !lastState) return;
    $("device-id").textContent = drill.device_id;
    $("device-where").textContent = `${where(drill)} · ${drill.type}`;
    const a = lastState.alarms;
    const mine = [
      ...a.open.map((r) => ({ ...r, state: "open" })),
      ...a.cleared.map((r) => ({ ...r, state: "cleared" })),
    ].filter((r) => r.device_id === drill.device_id);
    const silent = lastState.silent.rows.find((r) => r.device_id === drill.device_id);
    $("device-note").textContent =
      `${
        silent ? `Silent for ${duration(silent.silent_ms)}. ` : ""
      }Its own readings below; in the ${label(drill.type)} chart only its ` +
      `floor (F${drill.floor}) is shown.`;
    fillTable(
      $("device-incidents"),
      mine,
      (r) => [
        severity(r.severity),
        String(r.rules ?? "").split(",").join(", "),
        r.state,
        utc(r.started_ms),
        limit(r),
      ],
      "No incident of this device in the last 24 h.",
    );
  }

  /** Shows only the drilled device's floor in its type's chart; every floor otherwise. */
  function applyDrill() {
    if (!lastSeries) return;
    lastSeries.charts.forEach((c, i) => {
      const u = charts[i];
      if (!u || !u.series) return;
      c.floors.forEach((f, k) => {
        const show = !drill || drill.building !== lastSeries.building || drill.type !== c.type ||
          drill.floor === f;
        if (u.series[k + 1].show !== show) u.setSeries(k + 1, { show });
      });
    });
  }

  $("device-close").addEventListener("click", () => {
    drill = null;
    if (deviceChart) deviceChart.destroy();
    deviceChart = null;
    $("device-chart").replaceChildren();
    renderDevice();
    applyDrill();
  });

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
    es.addEventListener("open", () => {
      connected = true;
      renderFreshness(Date.now() + serverOffsetMs);
    });
    es.addEventListener("state", (e) => renderState(JSON.parse(e.data)));
    es.addEventListener("series", (e) => renderSeries(JSON.parse(e.data)));
    es.addEventListener("error", () => {
      connected = false;
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
    // The title's badge: LIVE only while data keeps arriving.
    const badge = $("title-state");
    badge.textContent = cls === "conn-live" ? "live" : cls === "conn-stale" ? "stale" : "offline";
    badge.className = `sub ${cls}`;
    document.title = `SmartTech Lakehouse · ${badge.textContent}`;
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
