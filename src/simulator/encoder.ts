/**
 * Readings as the JSON a sensor sends, written by hand from pre-built pieces: the part of a
 * message between `timestamp` and `value` never changes for a device, so it is built once and a
 * message is three string concatenations (the producer's hot path). Values carry the decimals
 * real firmware reports; timestamps are ISO-8601 UTC as in the brief's example, or one of the
 * other encodings the pipeline must accept.
 *
 * @module
 */
import type { SensorType } from "../reading/reading.ts";
import type { Device } from "./topology.ts";
import type { DataFaultKind } from "./faults.ts";

/** One message to produce: Kafka key, value (JSON, or garbage for malformed faults). */
export interface SimMessage {
  /** The device id: keeps each device's readings in one partition. */
  key: string;
  value: string;
  /** Event time of the reading, epoch ms (what `timestamp` in the value says). */
  eventTime: number;
  /** The data fault applied to this message, if any. */
  fault?: DataFaultKind;
}

/** Decimal places each built-in type is reported with (like real sensor firmware). */
const DECIMALS: Record<SensorType, number> = {
  temperature: 2,
  humidity: 1,
  co2: 0,
  energy: 6,
};

/** Decimal places of a type's readings: the built-in firmware's, else 2. */
export function decimalsOf(type: SensorType): number {
  return DECIMALS[type] ?? 2;
}

export function roundTo(x: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(x * f) / f;
}

/** ISO-8601 UTC without `.000` when the millisecond part is zero (as in the seed example). */
export function isoOf(t: number): string {
  const s = new Date(t).toISOString();
  return t % 1000 === 0 ? s.slice(0, 19) + "Z" : s;
}

/** ISO-8601 with a `±hh:mm` offset (a valid but different encoding of the same instant). */
export function isoWithOffset(t: number, offsetMin: number): string {
  const local = new Date(t + offsetMin * 60_000).toISOString().slice(0, 19);
  const sign = offsetMin < 0 ? "-" : "+";
  const a = Math.abs(offsetMin);
  return `${local}${sign}${String(Math.floor(a / 60)).padStart(2, "0")}:${
    String(a % 60).padStart(2, "0")
  }`;
}

/** A device's fixed message pieces. */
export interface EncodedDevice {
  /** `,"device_id":…,"value":` — everything between timestamp and value. */
  mid: string;
  /** `,"unit":"C"}` */
  suffix: string;
}

/** A device's message pieces; `unit` is its type's canonical unit. */
export function encodedDevice(dev: Device, unit: string): EncodedDevice {
  return {
    mid: `,"device_id":"${dev.deviceId}","building":"${dev.building}","floor":${dev.floor},` +
      `"type":"${dev.type}","value":`,
    suffix: `,"unit":"${unit}"}`,
  };
}

/** `{"timestamp":"<iso>"` of a tick, shared by all its messages. */
export function messageHead(t: number): string {
  return `{"timestamp":"${isoOf(t)}"`;
}

/** The whole message: a tick's head, the device's pieces, the value (a unit to override). */
export function encodeReading(
  head: string,
  d: EncodedDevice,
  value: number | string,
  unit?: string,
): string {
  return head + d.mid + value + (unit === undefined ? d.suffix : `,"unit":"${unit}"}`);
}

/** The head with the timestamp as raw JSON (epoch numbers, an offset ISO string). */
export function headWithTimestamp(rawJson: string): string {
  return `{"timestamp":${rawJson}`;
}
