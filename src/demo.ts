/**
 * The end-to-end demo: simulate a site with faults → Kafka → bronze/silver/quarantine → gold
 * → a short report. Every stage is the product's own code, in process, so the demo is what a
 * user gets from the separate tasks, just wired together.
 *
 * The broker is left as found: a broker the demo had to start is stopped, and the demo's topic
 * (unique per run) is deleted afterwards.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { join } from "node:path";
import { isS3, resolveLocation } from "./storage/location.ts";
import { createKafka } from "./kafka/client.ts";
import { type RunningConsumer, startConsumer } from "./pipeline/sources/kafka.ts";
import { useOrStartBroker } from "./kafka/local_broker.ts";
import { Ingestor } from "./pipeline/ingestor.ts";
import { openDuckDB } from "./duckdb/engine.ts";
import { ensureDeltaExtension } from "./duckdb/extension.ts";
import { formatResult, toResultTable } from "./query/format.ts";
import { refreshGold } from "./gold/refresh.ts";
import {
  countByType,
  detectionReport,
  readAlarms,
  readIncidents,
  readTruth,
  scoreAlarms,
  scoreIncidents,
} from "./simulator/scoring.ts";
import { readSqlFile } from "./query/sql_files.ts";
import { createLakehouseViews } from "./query/views.ts";
import { runSimulation } from "./simulator/run.ts";
import { simulatedTypes } from "./simulator/sim_types.ts";
import { builtinCatalogue } from "./reading/catalogue_file.ts";
import { type SensorCatalogue, typeNames } from "./reading/catalogue.ts";

export interface DemoOptions {
  brokers: string[];
  lakehouse: string;
  /** Simulated hours of readings (default 3). */
  hours: number;
  buildings: number;
  floors: number;
  /** Seconds between two readings of one device (default 10). */
  intervalSeconds: number;
  seed: number;
  /** Fault profile of the simulator (default chaos: data faults and anomaly episodes). */
  faults: string;
  /**
   * The sensor catalogue every stage uses: the simulated types, decoding, alarm limits (the
   * demo's task defaults to examples/sensors_demo.yaml: the brief's four types and pm25).
   */
  catalogue: SensorCatalogue;
  log: (line: string) => void;
}

export interface DemoReport {
  text: string;
  seconds: number;
  messages: number;
  /** Injected episodes some alarm episode found. */
  detectionRate: number;
  falseAlarmRate: number;
  /** Injected episodes some incident found, and incidents no episode explains. */
  incidentRecall: number;
  falseIncidentRate: number;
}

async function withBroker<T>(
  brokers: string[],
  log: (l: string) => void,
  fn: () => Promise<T>,
): Promise<T> {
  const broker = await useOrStartBroker(brokers, { stateDir: ".cache/kafka/demo", log });
  if (broker.started) log(`started a local Kafka broker for the demo (pid ${broker.started.pid})`);
  try {
    return await fn();
  } finally {
    if (broker.started) {
      await broker.stop();
      log("stopped the demo's Kafka broker");
    }
  }
}

async function runQuery(conn: DuckDBConnection, file: string): Promise<string> {
  const reader = await conn.runAndReadAll(await readSqlFile(file));
  return formatResult(toResultTable(reader), "table");
}

/** Runs the whole demo; returns the report text (also useful to tests). */
export async function runDemo(o: DemoOptions): Promise<DemoReport> {
  const t0 = performance.now();
  await ensureDeltaExtension(o.log);
  return await withBroker(o.brokers, o.log, async () => {
    const kafka = createKafka({ brokers: o.brokers, clientId: "smarttech-demo" });
    const topic = `smarttech-demo-${Date.now()}`;
    // The simulator's truth is a local file: beside the tables, or in a temp dir for s3://.
    const remote = isS3(resolveLocation(o.lakehouse));
    const truthDir = remote ? await Deno.makeTempDir({ prefix: "demo-truth-" }) : o.lakehouse;
    const truthPath = join(truthDir, "_demo_truth.ndjson");
    await Deno.mkdir(truthDir, { recursive: true });
    const durationSeconds = o.hours * 3600;
    const interval = o.intervalSeconds * 1000;
    const start = Math.floor((Date.now() - durationSeconds * 1000) / interval) * interval;

    const types = simulatedTypes(o.catalogue);
    o.log(
      `1/4 simulating ${o.hours} h of ${o.buildings} buildings × ${o.floors} floors × ${
        types.map((t) => t.name).join("/")
      } (faults: ${o.faults}) → Kafka topic ${topic}`,
    );
    const sim = await runSimulation({
      sim: {
        seed: o.seed,
        start,
        intervalSeconds: o.intervalSeconds,
        durationSeconds,
        topology: { buildings: o.buildings, floors: o.floors, devicesPerFloor: 1 },
        faults: o.faults,
        types,
      },
      sink: { kind: "kafka", kafka, topic, partitions: 3 },
      rate: 0,
      truthPath,
      progressIntervalMs: 5000,
      onProgress: o.log,
    });

    const admin = kafka.admin();
    await admin.connect();
    try {
      o.log(`2/4 consuming ${sim.sent} messages into ${o.lakehouse} (bronze, silver, quarantine)`);
      const ingestor = await Ingestor.open({
        lakehouse: o.lakehouse,
        queryId: "demo",
        catalogue: o.catalogue,
      });
      let running: RunningConsumer;
      try {
        running = await startConsumer(kafka, ingestor, {
          topic,
          groupId: `${topic}-group`,
          appName: "smarttech",
          untilCaughtUp: true,
          progressIntervalMs: 5000,
          log: o.log,
        });
        await running.done;
        await ingestor.close();
      } catch (err) {
        ingestor.abort();
        throw err;
      }

      o.log("3/4 building gold tables and alarms");
      await refreshGold(o.lakehouse, { log: o.log, catalogue: o.catalogue });

      o.log("4/4 report");
      const truth = await readTruth(truthPath);
      const score = scoreAlarms(await readAlarms(o.lakehouse), truth);
      const found = await readIncidents(o.lakehouse);
      const incidents = scoreIncidents(found, truth);
      const db = await openDuckDB();
      try {
        const views = await createLakehouseViews(db.conn, o.lakehouse);
        const rows: string[] = [];
        for (const v of views) {
          const n = v.snapshot.files.reduce(
            (s, f) => s + (f.stats ? JSON.parse(f.stats).numRecords ?? 0 : 0),
            0,
          );
          rows.push(`  ${v.view.padEnd(24)} ${String(n).padStart(9)} rows   version ${v.version}`);
        }
        const seconds = (performance.now() - t0) / 1000;
        // The tasks that show types take the demo's catalogue too (unless it is the built-in).
        const sensors = o.catalogue.source === builtinCatalogue().source
          ? ""
          : ` --sensors ${o.catalogue.source}`;
        const text = [
          "",
          `SmartTech demo — ${sim.sent} messages, ${seconds.toFixed(1)} s end to end`,
          "",
          "Tables:",
          ...rows,
          "",
          "Alarms by building and rule:",
          await runQuery(db.conn, "report/alarms_by_building_rule.sql"),
          "",
          "Worst rooms (alarm minutes):",
          await runQuery(db.conn, "report/worst_rooms.sql"),
          "",
          "Readings and alarms by sensor type (the catalogue's types):",
          await runQuery(db.conn, "report/by_type.sql"),
          "",
          detectionReport(incidents, score, countByType(found, typeNames(o.catalogue))),
          "",
          "Next:",
          `  deno task dashboard --lakehouse ${o.lakehouse}${sensors}     # open http://127.0.0.1:8080`,
          `  deno task query --lakehouse ${o.lakehouse}         # tables, versions, row counts`,
          `  deno task score --lakehouse ${o.lakehouse} --truth ${truthPath}${sensors}`,
          `  deno task query --lakehouse ${o.lakehouse} "SELECT * FROM gold_incidents WHERE ended_at IS NULL"`,
          "",
        ].join("\n");
        return {
          text,
          seconds,
          messages: sim.sent,
          detectionRate: score.detectionRate,
          falseAlarmRate: score.falseAlarmRate,
          incidentRecall: incidents.recall,
          falseIncidentRate: incidents.falseIncidentRate,
        };
      } finally {
        db.close();
      }
    } finally {
      await admin.deleteGroups([`${topic}-group`]).catch(() => {});
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect().catch(() => {});
    }
  });
}
