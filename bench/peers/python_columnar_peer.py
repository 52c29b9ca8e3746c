"""The columnar Python peer of `deno task consume`: the script a data engineer would write to land
a Kafka topic of sensor readings in two Delta tables fast — confluent-kafka + orjson, one list a
column filled with cheap type checks per row, one pyarrow array a column, unit conversion and
timestamp parsing vectorised in pyarrow.compute, `deltalake.write_deltalake`. Same tables, units
and notion of a valid reading as the row-wise peer (python_rowwise_peer.py, whose docstring says
what silver keeps); the Kafka loop both share lives in peer_common.py.

It does not dedup, quarantine with reasons, fsync or commit exactly-once: `consume` does.

Run by bench/peers_bench.ts: python_columnar_peer.py <brokers> <topic> <out dir> [batch size]
"""
from datetime import datetime, timezone

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import write_deltalake

from peer_common import BRONZE, PARTITION_BY, SILVER, UNITS, UTC, run

UNIT_NAMES = pa.array(list(UNITS))
CANONICAL = pa.array([u[0] for u in UNITS.values()])
SHIFT = pa.array([u[1] for u in UNITS.values()])
SCALE = pa.array([u[2] for u in UNITS.values()])
NUMBER = (int, float)


def iso_times(strings):
    """ISO-8601 strings → UTC timestamps, vectorised; row by row (a bad one → null) if that fails."""
    try:
        return pa.array(strings, pa.string()).cast(UTC)
    except (pa.ArrowInvalid, ValueError):
        def one(s):
            try:
                t = datetime.fromisoformat(s)
                return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
            except (TypeError, ValueError):
                return None
        return pa.array([None if s is None else one(s) for s in strings], UTC)


def utf8(payloads):
    """Payload bytes → strings, vectorised; row by row with replacement characters if not UTF-8."""
    try:
        return pa.array(payloads, pa.binary()).cast(pa.string())
    except pa.ArrowInvalid:
        return pa.array([p.decode("utf-8", "replace") for p in payloads], pa.string())


def write(out, msgs):
    topic = msgs[0].topic()
    now = pa.scalar(datetime.now(timezone.utc), UTC)
    parts, offsets, keys, stamps, payloads, b_building, b_type = ([] for _ in range(7))
    ts_iso, ts_num, devices, floors, values, units = ([] for _ in range(6))
    s_parts, s_offsets, s_building, s_type = ([] for _ in range(4))
    for m in msgs:
        raw = m.value()
        parts.append(m.partition())
        offsets.append(m.offset())
        keys.append(m.key())
        stamps.append(m.timestamp()[1])
        payloads.append(raw)
        try:
            r = orjson.loads(raw)
        except (orjson.JSONDecodeError, TypeError):
            r = None
        if type(r) is not dict:
            b_building.append(None)
            b_type.append(None)
            continue
        building, kind, ts = r.get("building"), r.get("type"), r.get("timestamp")
        b_building.append(building if type(building) is str else None)
        b_type.append(kind if type(kind) is str else None)
        device, floor, value = r.get("device_id"), r.get("floor"), r.get("value")
        if (type(building) is not str or type(kind) is not str or type(device) is not str
                or type(floor) is not int or type(value) not in NUMBER
                or r.get("unit") not in UNITS or not (type(ts) is str or type(ts) in NUMBER)):
            continue
        ts_iso.append(ts if type(ts) is str else None)
        ts_num.append(None if type(ts) is str else (ts if ts < 1e11 else ts / 1000) * 1e6)
        devices.append(device)
        floors.append(floor)
        values.append(value)
        units.append(r["unit"])
        s_parts.append(m.partition())
        s_offsets.append(m.offset())
        s_building.append(building)
        s_type.append(kind)
    n = len(msgs)
    bronze = pa.table([
        pa.repeat(pa.scalar(topic), n), pa.array(parts, pa.int32()), pa.array(offsets, pa.int64()),
        pa.array(keys, pa.binary()).cast(pa.string()),
        pa.array(stamps, pa.int64()).cast(pa.timestamp("ms", tz="UTC")).cast(UTC),
        utf8(payloads), pa.repeat(now, n),
        pa.array(b_building, pa.string()), pa.array(b_type, pa.string()),
    ], schema=BRONZE)
    unit = pc.index_in(pa.array(units, pa.string()), value_set=UNIT_NAMES)
    numeric = pc.cast(pc.round(pa.array(ts_num, pa.float64())), pa.int64()).cast(UTC)
    timestamp = pc.coalesce(iso_times(ts_iso), numeric)
    k = len(devices)
    silver = pa.table([
        timestamp, pa.array(devices, pa.string()), pa.array(floors, pa.int32()),
        pc.multiply(pc.add(pa.array(values, pa.float64()), SHIFT.take(unit)), SCALE.take(unit)),
        CANONICAL.take(unit),
        pc.binary_join_element_wise(
            pa.scalar(f"kafka:{topic}"), pa.array(s_parts, pa.int32()).cast(pa.string()),
            pa.array(s_offsets, pa.int64()).cast(pa.string()), ":"),
        pa.repeat(now, k), pa.array(s_building, pa.string()), pa.array(s_type, pa.string()),
    ], schema=SILVER)
    # A timestamp that did not parse (null) leaves the reading out of silver, as row-wise.
    silver = silver.filter(pc.is_valid(timestamp))
    write_deltalake(f"{out}/bronze", bronze, mode="append", partition_by=PARTITION_BY)
    write_deltalake(f"{out}/silver", silver, mode="append", partition_by=PARTITION_BY)
    return bronze.num_rows, silver.num_rows


if __name__ == "__main__":
    run("python-columnar-peer", write)
