"""What the two Python peers of `deno task consume` share, so that they differ only in how they
build their tables (python_rowwise_peer.py: one dict a row; python_columnar_peer.py: one list a
column): the two tables' schemas, the unit conversions, and the Kafka loop — read the topic until
every partition reached the end offset it had at start, hand every 50,000 messages to the peer's
`write`, commit the offsets after it, and print one JSON line (records, rows, seconds).

Usage of either peer: <peer>.py <brokers> <topic> <out dir> [batch size]
"""
import sys
import time

import orjson
import pyarrow as pa
from confluent_kafka import Consumer, TopicPartition

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
# Accepted units → (canonical unit, shift, scale): canonical value = (value + shift) * scale.
UNITS = {
    "C": ("C", 0.0, 1.0), "°C": ("C", 0.0, 1.0), "F": ("C", -32.0, 5 / 9),
    "°F": ("C", -32.0, 5 / 9), "K": ("C", -273.15, 1.0),
    "%": ("%", 0.0, 1.0), "ppm": ("ppm", 0.0, 1.0), "kWh": ("kWh", 0.0, 1.0),
    "Wh": ("kWh", 0.0, 1 / 1000),
}


def run(name, write):
    """Runs a peer from sys.argv; `write(out, msgs)` lands a batch and returns (bronze, silver)."""
    brokers, topic, out = sys.argv[1:4]
    batch_size = int(sys.argv[4]) if len(sys.argv) > 4 else 50_000
    started = time.monotonic()
    consumer = Consumer({
        "bootstrap.servers": brokers, "group.id": f"{name}-{time.time_ns()}",
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
