"""Reads a Delta table with delta-rs (the `deltalake` package) and prints its schema and, per
asked column, the non-null count and sum -- to check a table whose schema evolved.

Usage: read_columns_with_deltalake.py <table> <version|latest> [column ...]
Output: {"version", "columns": [schema column names], "rows",
         "stats": {column: {"non_null", "sum"}}} (a column absent from that version: null)
"""
import json
import sys

from deltalake import DeltaTable, QueryBuilder

from quick_exit import exit_after_flush


def main() -> None:
    path, version = sys.argv[1], sys.argv[2]
    wanted = sys.argv[3:]
    dt = DeltaTable(path) if version == "latest" else DeltaTable(path, version=int(version))
    names = [f.name for f in dt.schema().fields]
    qb = QueryBuilder().register("t", dt)
    rows = qb.execute("SELECT count(*) AS n FROM t").read_all().column(0).to_pylist()[0]
    stats = {}
    for c in wanted:
        if c not in names:
            stats[c] = None
            continue
        t = qb.execute(f'SELECT count("{c}") AS n, sum("{c}") AS s FROM t').read_all()
        s = t.column(1).to_pylist()[0]
        stats[c] = {"non_null": int(t.column(0).to_pylist()[0]),
                    "sum": None if s is None else float(s)}
    print(json.dumps({"version": dt.version(), "columns": names, "rows": int(rows),
                      "stats": stats}))


if __name__ == "__main__":
    main()
    exit_after_flush()
