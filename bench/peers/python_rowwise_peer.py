"""The row-wise Python peer of `deno task consume`: the script a data engineer would write to land
a Kafka topic of sensor readings in two Delta tables with confluent-kafka, orjson, pyarrow and
delta-rs (`deltalake.write_deltalake`), one dict a row and `Table.from_pylist`. Its columnar twin,
python_columnar_peer.py, builds one list a column instead; the Kafka loop, schemas and units both
share live in peer_common.py.

bronze: every message raw, with its Kafka coordinates. silver: the parsed readings (unit
normalised, timestamps typed); what does not parse, lacks a field or has a field of the wrong
JSON type (device_id/building/type strings, floor an integer, value a number, timestamp an
ISO-8601 string or an epoch number) is left out of silver: both peers share this notion.
Both partitioned by building/type, written every 50,000 messages, offsets committed after.
It does not dedup, quarantine with reasons, fsync or commit exactly-once: `consume` does.

Run by bench/peers_bench.ts: python_rowwise_peer.py <brokers> <topic> <out dir> [batch size]
"""
from datetime import datetime, timezone

import orjson
import pyarrow as pa
from deltalake import write_deltalake

from peer_common import BRONZE, PARTITION_BY, SILVER, UNITS, run


def event_time(ts):
    if type(ts) is str:
        t = datetime.fromisoformat(ts)
        return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
    if type(ts) not in (int, float):
        raise TypeError("timestamp")
    return datetime.fromtimestamp(ts if ts < 1e11 else ts / 1000, timezone.utc)


def write(out, msgs):
    now = datetime.now(timezone.utc)
    bronze, silver = [], []
    for m in msgs:
        partition, offset, raw = m.partition(), m.offset(), m.value()
        building = kind = None
        try:
            r = orjson.loads(raw)
            building, kind = r.get("building"), r.get("type")
            if (type(r["device_id"]) is not str or type(r["floor"]) is not int
                    or type(building) is not str or type(kind) is not str
                    or type(r["value"]) not in (int, float)):
                raise TypeError("device_id, floor, building, type or value")
            unit, shift, scale = UNITS[r["unit"]]
            silver.append({
                "timestamp": event_time(r["timestamp"]), "device_id": r["device_id"],
                "floor": r["floor"], "value": (r["value"] + shift) * scale, "unit": unit,
                "source": f"kafka:{m.topic()}:{partition}:{offset}", "ingest_time": now,
                "building": building, "type": kind,
            })
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError,
                OverflowError):
            pass
        key = m.key()
        bronze.append({
            "topic": m.topic(), "kafka_partition": partition, "kafka_offset": offset,
            "kafka_key": key.decode() if key else None,
            "kafka_timestamp": datetime.fromtimestamp(m.timestamp()[1] / 1000, timezone.utc),
            "payload": raw.decode("utf-8", "replace"), "ingest_time": now,
            "building": building if isinstance(building, str) else None,
            "type": kind if isinstance(kind, str) else None,
        })
    write_deltalake(f"{out}/bronze", pa.Table.from_pylist(bronze, BRONZE), mode="append",
                    partition_by=PARTITION_BY)
    write_deltalake(f"{out}/silver", pa.Table.from_pylist(silver, SILVER), mode="append",
                    partition_by=PARTITION_BY)
    return len(bronze), len(silver)


if __name__ == "__main__":
    run("python-rowwise-peer", write)
