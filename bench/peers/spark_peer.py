"""The Spark peer of `deno task consume`: Spark 3.5 Structured Streaming with delta-spark, the job a
data engineer would write to land the sensor topic in the same two Delta tables as the Python peer
(bronze raw with its Kafka coordinates, silver parsed with units normalised, both partitioned by
building/type), run once over the backlog (`availableNow`) on `local[2]`.

The Kafka source comes from Maven Central (spark-sql-kafka, resolved by Spark on first use).
Prints one JSON line (records, rows, seconds; the time includes JVM start, as the other peers'
include their process start), with the JVM's own peak RSS and CPU: it is not a process that
/usr/bin/time around this script sees. Run by bench/peers_bench.ts:
spark_peer.py <brokers> <topic> <out dir>
"""
import json
import os
import re
import sys
import time

started = time.monotonic()

from delta import configure_spark_with_delta_pip  # noqa: E402
from pyspark.sql import SparkSession, functions as F, types as T  # noqa: E402

KAFKA_PACKAGE = "org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.3"
# Maven artifacts go to the project's cache, not ~/.ivy2.
IVY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../.cache/ivy")
READING = T.StructType([
    T.StructField("timestamp", T.StringType()), T.StructField("device_id", T.StringType()),
    T.StructField("building", T.StringType()), T.StructField("floor", T.IntegerType()),
    T.StructField("type", T.StringType()), T.StructField("value", T.DoubleType()),
    T.StructField("unit", T.StringType()),
])


def jvm_usage(spark):
    """The JVM's peak RSS (VmHWM) and user + system CPU so far, from /proc."""
    pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    with open(f"/proc/{pid}/status") as f:
        hwm_kb = int(re.search(r"VmHWM:\s+(\d+)", f.read())[1])
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return {"peakRssBytes": hwm_kb * 1024, "cpuSeconds": ticks / os.sysconf("SC_CLK_TCK")}


def main(brokers, topic, out):
    builder = (
        SparkSession.builder.master("local[2]").appName("smarttech-spark-peer")
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog",
                "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.jars.ivy", IVY)
    )
    spark = configure_spark_with_delta_pip(builder, extra_packages=[KAFKA_PACKAGE]).getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    raw = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", brokers)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .load()
    )

    def write(df, _epoch):
        df = df.withColumn("payload", F.col("value").cast("string")) \
            .withColumn("r", F.from_json("payload", READING))
        df.persist()
        df.select(
            "topic", F.col("partition").alias("kafka_partition"),
            F.col("offset").alias("kafka_offset"), F.col("key").cast("string").alias("kafka_key"),
            F.col("timestamp").alias("kafka_timestamp"), "payload",
            F.current_timestamp().alias("ingest_time"), F.col("r.building").alias("building"),
            F.col("r.type").alias("type"),
        ).write.format("delta").mode("append").partitionBy("building", "type").save(f"{out}/bronze")
        unit = F.col("r.unit")
        value = (
            F.when(unit.isin("F", "°F"), (F.col("r.value") - 32) * 5 / 9)
            .when(unit == "K", F.col("r.value") - 273.15)
            .when(unit == "Wh", F.col("r.value") / 1000)
            .otherwise(F.col("r.value"))
        )
        canonical = (
            F.when(unit.isin("F", "°F", "K", "°C"), "C").when(unit == "Wh", "kWh").otherwise(unit)
        )
        df.where(F.col("r.device_id").isNotNull() & F.col("r.value").isNotNull()
                 & F.col("r.building").isNotNull() & F.col("r.type").isNotNull()) \
            .select(
                F.to_timestamp("r.timestamp").alias("timestamp"), "r.device_id", "r.floor",
                value.alias("value"), canonical.alias("unit"),
                F.concat_ws(":", F.lit("kafka"), "topic", "partition", "offset").alias("source"),
                F.current_timestamp().alias("ingest_time"), "r.building", "r.type",
            ).write.format("delta").mode("append").partitionBy("building", "type") \
            .save(f"{out}/silver")
        df.unpersist()

    query = (
        raw.writeStream.foreachBatch(write)
        .option("checkpointLocation", f"{out}/_checkpoint")
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    seconds = time.monotonic() - started
    jvm = jvm_usage(spark)
    bronze = spark.read.format("delta").load(f"{out}/bronze").count()
    silver = spark.read.format("delta").load(f"{out}/silver").count()
    print(json.dumps({
        "records": bronze, "rows": {"bronze": bronze, "silver": silver},
        "seconds": seconds, "msgsPerSec": round(bronze / seconds), "jvm": jvm,
    }))
    spark.stop()


if __name__ == "__main__":
    main(*sys.argv[1:4])
