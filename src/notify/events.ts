/**
 * Incident events: what changed between two versions of gold/incidents, as the JSON a webhook
 * receives (or Slack's incoming-webhook shape).
 *
 * Events are derived, never stored: the notifier walks gold/incidents one table version at a
 * time, and the events of version v+1 are a pure function of versions v and v+1. A restart
 * that walks the same versions again therefore sends the same events with the same ids, which
 * is what makes the `Idempotency-Key` header (the event id) enough to drop duplicates.
 *
 * Per incident (ids are stable, see sql/alarms/_incidents.sql):
 * - `opened`    it is new (an incident that is already over by then also gets `cleared`);
 * - `escalated` its severity rose (warning → critical);
 * - `cleared`   it was open and now has an ended_at;
 * - `reopened`  it had ended and is open again (late data; rare: an incident clears only once
 *               the data is gap_s past it).
 * An incident that disappears (late data merged it into one that starts earlier, with a new
 * id) gets no event of its own; the incident it joined does.
 */
import { sha256Hex } from "../hash.ts";

/** One gold/incidents row, times as epoch ms. */
export interface IncidentRow {
  incident_id: string;
  severity: string;
  device_id: string | null;
  building: string | null;
  floor: number | null;
  type: string | null;
  /** Sorted, comma-separated. */
  rules: string;
  episodes: number;
  started_at: number;
  ended_at: number | null;
  peak_value: number | null;
  peak_unit: string | null;
  threshold: number | null;
  threshold_unit: string | null;
  threshold_rule: string | null;
}

/** What happened to an incident. */
export type IncidentEventKind = "opened" | "escalated" | "cleared" | "reopened";

/** The JSON body of a generic notification (schema `smarttech.incident_event/1`). */
export interface IncidentEvent {
  schema: "smarttech.incident_event/1";
  /** Unique per (incident, kind, state): also sent as the Idempotency-Key header. */
  event_id: string;
  event: IncidentEventKind;
  incident_id: string;
  device_id: string | null;
  building: string | null;
  floor: number | null;
  type: string | null;
  rules: string[];
  episodes: number;
  severity: string;
  /** `escalated`: the severity before. */
  previous_severity?: string;
  /** ISO 8601 UTC, event time (data time, not wall clock). */
  started_at: string;
  ended_at: string | null;
  peak: { value: number | null; unit: string | null };
  threshold: { value: number | null; unit: string | null; rule: string | null };
  /** The dashboard, on the incident's building and device. */
  link: string;
  /** The gold/incidents version the event was derived at. */
  incidents_version: number;
}

const RANK: Record<string, number> = { warning: 1, critical: 2 };

/** Deterministic event id: SHA-256 of (incident, kind, the state it is about), 32 hex digits. */
export function eventId(incidentId: string, kind: string, state: string): Promise<string> {
  return sha256Hex(`${incidentId}|${kind}|${state}`, 16);
}

/** The dashboard link of an incident: `<base>/?building=…&device=…`. */
export function dashboardLink(base: string, row: IncidentRow): string {
  const url = new URL(base);
  if (row.building !== null) url.searchParams.set("building", row.building);
  if (row.device_id !== null) url.searchParams.set("device", row.device_id);
  return url.toString();
}

const iso = (ms: number | null) => ms === null ? null : new Date(ms).toISOString();

async function event(
  kind: IncidentEventKind,
  row: IncidentRow,
  state: string,
  ctx: { dashboardUrl: string; version: number },
  previous?: string,
): Promise<IncidentEvent> {
  return {
    schema: "smarttech.incident_event/1",
    event_id: await eventId(row.incident_id, kind, state),
    event: kind,
    incident_id: row.incident_id,
    device_id: row.device_id,
    building: row.building,
    floor: row.floor,
    type: row.type,
    rules: row.rules.split(",").filter(Boolean),
    episodes: row.episodes,
    severity: row.severity,
    ...(previous ? { previous_severity: previous } : {}),
    started_at: iso(row.started_at)!,
    ended_at: iso(row.ended_at),
    peak: { value: row.peak_value, unit: row.peak_unit },
    threshold: { value: row.threshold, unit: row.threshold_unit, rule: row.threshold_rule },
    link: dashboardLink(ctx.dashboardUrl, row),
    incidents_version: ctx.version,
  };
}

/**
 * The events that take gold/incidents from `before` to `after` (version `version`), in
 * started_at order, per incident opened/reopened → escalated → cleared.
 *
 * @example
 * ```ts
 * const events = await diffIncidents(new Map(), rows, { dashboardUrl: "http://127.0.0.1:8080", version: 3 });
 * ```
 */
export async function diffIncidents(
  before: ReadonlyMap<string, IncidentRow>,
  after: Iterable<IncidentRow>,
  ctx: { dashboardUrl: string; version: number },
): Promise<IncidentEvent[]> {
  const rows = [...after].sort((a, b) =>
    a.started_at - b.started_at || a.incident_id.localeCompare(b.incident_id)
  );
  const out: IncidentEvent[] = [];
  for (const row of rows) {
    const old = before.get(row.incident_id);
    if (!old) {
      out.push(await event("opened", row, "", ctx));
      if (row.ended_at !== null) out.push(await event("cleared", row, String(row.ended_at), ctx));
      continue;
    }
    if (old.ended_at !== null && row.ended_at === null) {
      out.push(await event("reopened", row, String(old.ended_at), ctx));
    }
    if ((RANK[row.severity] ?? 0) > (RANK[old.severity] ?? 0)) {
      out.push(await event("escalated", row, row.severity, ctx, old.severity));
    }
    if (old.ended_at === null && row.ended_at !== null) {
      out.push(await event("cleared", row, String(row.ended_at), ctx));
    }
  }
  return out;
}

/** Slack incoming-webhook body for an event: one line of text, the link as Slack markup. */
export function slackBody(e: IncidentEvent): { text: string } {
  const where = [
    e.device_id ?? "(building)",
    e.building,
    e.floor === null ? null : `floor ${e.floor}`,
  ]
    .filter((x) => x !== null).join(", ");
  const figure = (v: number | null, unit: string | null) =>
    v === null ? "?" : `${Number(v.toPrecision(6))}${unit ? ` ${unit}` : ""}`;
  const what = e.event === "escalated"
    ? `escalated to ${e.severity}`
    : `${e.event} (${e.severity})`;
  const when = e.event === "cleared" ? `${e.started_at} to ${e.ended_at}` : `since ${e.started_at}`;
  const icon = e.event === "cleared"
    ? ":white_check_mark:"
    : e.severity === "critical"
    ? ":rotating_light:"
    : ":warning:";
  return {
    text: `${icon} ${e.type ?? ""} incident ` +
      `${what} on ${where}: ${e.rules.join(", ")}; peak ${figure(e.peak.value, e.peak.unit)}, ` +
      `limit ${figure(e.threshold.value, e.threshold.unit)} (${e.threshold.rule}), ${when} ` +
      `<${e.link}|dashboard>`,
  };
}
