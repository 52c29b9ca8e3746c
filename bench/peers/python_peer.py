"""The Python peer of `deno task consume`: the script a data engineer would write to land a
Kafka topic of sensor readings in two Delta tables with confluent-kafka, orjson, pyarrow and
delta-rs (`deltalake.write_deltalake`).

bronze: every message raw, with its Kafka coordinates. silver: the parsed readings (unit
normalised, timestamps typed); what does not parse or lacks a field is left out of silver.
Both partitioned by building/type, written every 50,000 messages, offsets committed after.
It does not dedup, quarantine with reasons, fsync or commit exactly-once: `consume` does.

Reads the topic until every partition reached the end offset it had at start, then prints one
JSON line (records, rows, seconds). Run by bench/peers_bench.ts:
python_peer.py <brokers> <topic> <out dir> [batch size]
"""
import sys
import time
from datetime import datetime, timezone

import orjson
import pyarrow as pa
from confluent_kafka import Consumer, TopicPartition
from deltalake import write_deltalake

PARTITION_BY = ["building", "type"]
UTC = pa.timestamp("us", tz="UTC")
BRONZE = pa.schema([
    ("topic", pa.string()), ("kafka_partition", pa.int32()), ("kafka_offset", pa.int64()),
    ("kafka_key", pa.string()), ("kafka_timestamp", UTC), ("payload", pa.string()),
    ("ingest_time", UTC), ("building", pa.string()), ("type", pa.string()),
])
SILVER = pa.schema([
    ("timestamp", UTC), ("device_id", pa.string()), ("floor", pa.int32()), ("value", pa.float64()),
    ("unit", pa.string()), ("source", pa.string()), ("ingest_time", UTC),
    ("building", pa.string()), ("type", pa.string()),
])
# Accepted units → (canonical unit, conversion).
UNITS = {
    "C": ("C", None), "°C": ("C", None), "F": ("C", lambda v: (v - 32) * 5 / 9),
    "°F": ("C", lambda v: (v - 32) * 5 / 9), "K": ("C", lambda v: v - 273.15),
    "%": ("%", None), "ppm": ("ppm", None), "kWh": ("kWh", None), "Wh": ("kWh", lambda v: v / 1000),
}


def event_time(ts):
    if isinstance(ts, str):
        return datetime.fromisoformat(ts)
    return datetime.fromtimestamp(ts if ts < 1e11 else ts / 1000, timezone.utc)


def write(out, msgs):
    now = datetime.now(timezone.utc)
    bronze, silver = [], []
    for m in msgs:
        partition, offset, raw = m.partition(), m.offset(), m.value()
        building = kind = None
        try:
            r = orjson.loads(raw)
            building, kind = r["building"], r["type"]
            if not isinstance(r["device_id"], str) or type(r["floor"]) is not int:
                raise TypeError("device_id or floor")
            unit, convert = UNITS[r["unit"]]
            value = float(r["value"]) if convert is None else convert(r["value"])
            silver.append({
                "timestamp": event_time(r["timestamp"]), "device_id": r["device_id"],
                "floor": r["floor"], "value": value, "unit": unit,
                "source": f"kafka:{m.topic()}:{partition}:{offset}", "ingest_time": now,
                "building": building, "type": kind,
            })
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError):
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


def main(brokers, topic, out, batch_size=50_000):
    started = time.monotonic()
    consumer = Consumer({
        "bootstrap.servers": brokers, "group.id": f"python-peer-{time.time_ns()}",
        "auto.offset.reset": "earliest", "enable.auto.commit": False,
    })
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions}
    consumer.subscribe([topic])
    done = {p for p, end in ends.items() if end == 0}
    records = bronze_rows = silver_rows = 0
    batch = []
    while len(done) < len(ends):
        for m in consumer.consume(num_messages=batch_size - len(batch), timeout=1.0):
            if m.error():
                raise RuntimeError(m.error())
            batch.append(m)
            if m.offset() + 1 >= ends[m.partition()]:
                done.add(m.partition())
        if len(batch) >= batch_size or (batch and len(done) == len(ends)):
            b, s = write(out, batch)
            consumer.commit(asynchronous=False)
            records, bronze_rows, silver_rows = records + len(batch), bronze_rows + b, silver_rows + s
            batch = []
    consumer.close()
    seconds = time.monotonic() - started
    print(orjson.dumps({
        "records": records, "rows": {"bronze": bronze_rows, "silver": silver_rows},
        "seconds": seconds, "msgsPerSec": round(records / seconds),
    }).decode())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], *(int(a) for a in sys.argv[4:5]))
