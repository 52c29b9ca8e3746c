"""Reads a Delta table with delta-rs (the `deltalake` package) and prints a JSON summary.

Usage: read_with_deltalake.py <table> [version | @epoch_ms | latest] [appId ...]
(`@epoch_ms`: time travel by timestamp, the version delta-rs picks for that instant)
Output: {"version", "files", "partitions": {json([partition values]): {"rows", "sum"}},
         "txns": {appId: version}} -- the same reduction the Deno tests compute, so the
         comparison is independent of both DuckDB and the layer's own reader.
"""
import json
from datetime import datetime, timezone
import sys

from deltalake import DeltaTable, QueryBuilder

from quick_exit import exit_after_flush


def main() -> None:
    path = sys.argv[1]
    spec = sys.argv[2] if len(sys.argv) > 2 else "latest"
    app_ids = sys.argv[3:]
    if spec.startswith("@"):
        dt = DeltaTable(path)
        dt.load_as_version(datetime.fromtimestamp(int(spec[1:]) / 1000, tz=timezone.utc))
    elif spec != "latest":
        dt = DeltaTable(path, version=int(spec))
    else:
        dt = DeltaTable(path)
    parts = dt.metadata().partition_columns
    cols = ", ".join(f'"{c}"' for c in parts)
    # Tables without a `value` column (bronze, quarantine) are summarised by their counts.
    names = {f.name for f in dt.schema().fields}
    total = "coalesce(sum(value), 0)" if "value" in names else "0.0"
    select = f"{cols + ', ' if cols else ''}count(*) AS n, {total} AS s"
    group = f" GROUP BY {cols}" if cols else ""
    table = QueryBuilder().register("t", dt).execute(f"SELECT {select} FROM t{group}").read_all()
    columns = [c.to_pylist() for c in table.columns]
    partitions = {}
    for i in range(len(columns[0]) if columns else 0):
        key = json.dumps([columns[j][i] for j in range(len(parts))], ensure_ascii=False,
                         separators=(",", ":"))
        n = int(columns[len(parts)][i])
        if n:
            partitions[key] = {"rows": n, "sum": float(columns[len(parts) + 1][i])}
    print(json.dumps({
        "version": dt.version(),
        "files": len(dt.file_uris()),
        "partitions": partitions,
        "txns": {a: dt.transaction_version(a) for a in app_ids},
    }))


if __name__ == "__main__":
    main()
    exit_after_flush()
