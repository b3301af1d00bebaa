"""An independent reader of traces.toml and threads.toml output: DuckDB, pandas (pyarrow) and
polars read the Parquet files with typed columns, and every row is checked against what the
JSONL the emulator served says, computed here from the runs themselves:

- traces: one row per root run that started in the window; its totals are the sums over the
  trace's LLM runs (the runs that incur usage), its first token the earliest of any run;
- threads: one row per thread key (the run's thread_id, else metadata session_id,
  conversation_id or thread_id) over the roots that started in the window, its trace ids in
  turn order, its totals the sums over those traces;
- threads loaded day by day: per thread, the days' rows together hold exactly its turns.

Usage: summaries.py RUNS.jsonl SINCE UNTIL TRACES_DIR THREADS_DIR THREADS_DAILY_DIR
"""

import json
import sys
from collections import defaultdict
from datetime import datetime, timezone

import duckdb
import pandas as pd
import polars as pl
import pyarrow.dataset as ds

from harness import Tally


def ts(s):
    if s is None:
        return None
    t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def num(v):
    return float(v) if v is not None else 0.0


runs_path, since, until, traces_dir, threads_dir, daily_dir = sys.argv[1:7]
since, until = ts(since), ts(until)
runs = [json.loads(line) for line in open(runs_path) if line.strip()]
by_trace = defaultdict(list)
for r in runs:
    by_trace[r["trace_id"]].append(r)
roots = [
    r for r in runs if r.get("parent_run_id") is None and since <= ts(r["start_time"]) <= until
]


def usage(trace_id):
    llm = [r for r in by_trace[trace_id] if r.get("run_type") == "llm"]
    return sum(r.get("total_tokens") or 0 for r in llm), sum(num(r.get("total_cost")) for r in llm)


def first_token(trace_id):
    times = [ts(r["first_token_time"]) for r in by_trace[trace_id] if r.get("first_token_time")]
    return min(times) if times else None


def thread_key(root):
    meta = (root.get("extra") or {}).get("metadata") or {}
    key = root.get("thread_id")
    for k in ("session_id", "conversation_id", "thread_id"):
        key = key or (meta.get(k) if isinstance(meta.get(k), str) else None)
    return key


t = Tally()

# --- traces -------------------------------------------------------------------------------
table = ds.dataset(traces_dir, format="parquet", partitioning="hive").to_table()
types = {f.name: str(f.type) for f in table.schema}
want = {
    "trace_id": "string", "name": "string", "run_type": "string", "status": "string",
    "start_time": "timestamp[us, tz=UTC]", "end_time": "timestamp[us, tz=UTC]",
    "latency": "double", "total_tokens": "int64", "total_cost": "double",
    "first_token_time": "timestamp[us, tz=UTC]", "error": "string", "tags": "list<item: string>",
}
t.check("traces: pyarrow types", all(types.get(c) == w for c, w in want.items()), str(types))
t.check(
    "traces: payloads are JSON-typed",
    all("json" in types[c] or types[c] == "string" for c in ("metadata", "inputs", "outputs")),
    str({c: types[c] for c in ("metadata", "inputs", "outputs")}),
)
rows = table.to_pylist()
ids = [r["trace_id"] for r in rows]
t.check("traces: one row per root in the window", sorted(ids) == sorted(r["id"] for r in roots),
        f"{len(ids)} rows, {len(roots)} roots, {len(set(ids))} distinct")
root_by_id = {r["id"]: r for r in roots}
bad = []
for row in rows:
    root = root_by_id.get(row["trace_id"])
    if root is None:
        bad.append(("unknown", row["trace_id"]))
        continue
    tokens, cost = usage(row["trace_id"])
    checks = {
        "total_tokens": row["total_tokens"] == tokens,
        "total_cost": abs((row["total_cost"] or 0) - cost) <= 2e-5,
        "first_token_time": row["first_token_time"] == first_token(row["trace_id"]),
        "name": row["name"] == root["name"],
        "run_type": row["run_type"] == root["run_type"],
        "status": row["status"] == root.get("status"),
        "start_time": row["start_time"] == ts(root["start_time"]),
        "end_time": row["end_time"] == ts(root.get("end_time")),
        "error": row["error"] == root.get("error"),
        "tags": (row["tags"] or []) == (root.get("tags") or []),
        "inputs": json.loads(row["inputs"]) == root.get("inputs") if row["inputs"] else root.get("inputs") in (None, {}),
        "outputs": json.loads(row["outputs"]) == root.get("outputs") if row["outputs"] else root.get("outputs") in (None, {}),
        "metadata": json.loads(row["metadata"]) == ((root.get("extra") or {}).get("metadata")) if row["metadata"] else not (root.get("extra") or {}).get("metadata"),
    }
    bad.extend((k, row["trace_id"]) for k, ok in checks.items() if not ok)
t.check("traces: every row equals its root and the sums over its runs", not bad, str(bad[:5]))
t.check("traces: some traces used tokens and streamed", sum(1 for r in rows if r["total_tokens"]) > 10
        and sum(1 for r in rows if r["first_token_time"]) > 0)

glob = f"{traces_dir}/**/*.parquet"
d = duckdb.sql(f"select count(*), sum(total_tokens), typeof(any_value(total_tokens)), typeof(any_value(start_time)), "
               f"typeof(any_value(tags)), sum(len(tags)) from read_parquet('{glob}', hive_partitioning = true)").fetchall()[0]
t.check("traces: duckdb", d[0] == len(roots) and d[1] == sum(usage(r["id"])[0] for r in roots)
        and d[2] == "BIGINT" and d[3] == "TIMESTAMP WITH TIME ZONE" and d[4] == "VARCHAR[]", str(d))
p = pd.read_parquet(traces_dir, engine="pyarrow")
t.check("traces: pandas", len(p) == len(roots) and str(p["start_time"].dtype) == "datetime64[us, UTC]"
        and p["total_cost"].dtype == "float64" and int(p["total_tokens"].sum()) == d[1], str(p.dtypes.to_dict()))
q = pl.scan_parquet(glob, hive_partitioning=True).collect()
t.check("traces: polars", q.height == len(roots) and q.schema["total_tokens"] == pl.Int64
        and q.schema["first_token_time"] == pl.Datetime("us", "UTC") and q.schema["tags"] == pl.List(pl.String),
        str(q.schema))

# --- threads ------------------------------------------------------------------------------
threads = defaultdict(list)
for r in roots:
    key = thread_key(r)
    if key:
        threads[key].append(r)
for turns in threads.values():
    turns.sort(key=lambda r: (ts(r["start_time"]), r["id"]))

table = ds.dataset(threads_dir, format="parquet", partitioning="hive").to_table()
types = {f.name: str(f.type) for f in table.schema}
want = {
    "thread_id": "string", "project_id": "string", "first_start_time": "timestamp[us, tz=UTC]",
    "last_start_time": "timestamp[us, tz=UTC]", "turns": "int64", "total_tokens": "int64",
    "total_cost": "double", "error_count": "int64", "trace_ids": "list<item: string>",
}
t.check("threads: pyarrow types", all(types.get(c) == w for c, w in want.items()), str(types))
rows = table.to_pylist()
t.check("threads: one row per thread key", sorted(r["thread_id"] for r in rows) == sorted(threads),
        f"{len(rows)} rows, {len(threads)} threads")
t.check("threads: several turns per thread", sum(1 for v in threads.values() if len(v) > 1) > 5)
bad = []
for row in rows:
    turns = threads.get(row["thread_id"], [])
    if not turns:
        bad.append(("unknown", row["thread_id"]))
        continue
    tokens = sum(usage(r["id"])[0] for r in turns)
    cost = sum(usage(r["id"])[1] for r in turns)
    checks = {
        "trace_ids": row["trace_ids"] == [r["id"] for r in turns],
        "turns": row["turns"] == len(turns),
        "project_id": row["project_id"] == turns[0]["session_id"],
        "first_start_time": row["first_start_time"] == ts(turns[0]["start_time"]),
        "last_start_time": row["last_start_time"] == ts(turns[-1]["start_time"]),
        "total_tokens": row["total_tokens"] == tokens,
        "total_cost": abs(row["total_cost"] - cost) <= 2e-5 * len(turns),
        "error_count": row["error_count"] == sum(1 for r in turns if r.get("error")),
        "first_input": json.loads(row["first_input"]) == turns[0].get("inputs"),
        "last_output": (json.loads(row["last_output"]) if row["last_output"] else None) == turns[-1].get("outputs"),
    }
    bad.extend((k, row["thread_id"]) for k, ok in checks.items() if not ok)
t.check("threads: every row holds exactly the traces sharing its key", not bad, str(bad[:5]))
glob = f"{threads_dir}/**/*.parquet"
d = duckdb.sql(f"select count(*), sum(turns), sum(len(trace_ids)), typeof(any_value(trace_ids)), typeof(any_value(first_start_time)) "
               f"from read_parquet('{glob}', hive_partitioning = true)").fetchall()[0]
in_threads = sum(len(v) for v in threads.values())
t.check("threads: duckdb", d[:3] == (len(threads), in_threads, in_threads) and d[3] == "VARCHAR[]"
        and d[4] == "TIMESTAMP WITH TIME ZONE", str(d))
p = pd.read_parquet(threads_dir, engine="pyarrow")
t.check("threads: pandas", len(p) == len(threads) and p["turns"].dtype == "int64"
        and str(p["last_start_time"].dtype) == "datetime64[us, UTC]", str(p.dtypes.to_dict()))
q = pl.scan_parquet(glob, hive_partitioning=True).collect()
t.check("threads: polars", q.height == len(threads) and q.schema["trace_ids"] == pl.List(pl.String)
        and q.schema["total_cost"] == pl.Float64, str(q.schema))

# --- threads loaded one day at a time -------------------------------------------------------
rows = ds.dataset(daily_dir, format="parquet", partitioning="hive").to_table().to_pylist()
joined = defaultdict(list)
for row in sorted(rows, key=lambda r: r["first_start_time"]):
    joined[row["thread_id"]].append(row)
bad = [k for k, turns in threads.items()
       if sum((r["trace_ids"] for r in joined.get(k, [])), []) != [r["id"] for r in turns]
       or sum(r["turns"] for r in joined.get(k, [])) != len(turns)]
t.check("threads by day: each day's row holds that day's turns, together all of them",
        not bad and set(joined) == set(threads), f"{bad[:3]}; {len(rows)} rows")
t.check("threads by day: a thread spans several days", len(rows) > len(threads))
t.finish()
