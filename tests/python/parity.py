"""Parity of runlake's shipped pipelines with the seed page's two "Advanced" scripts.

Runs each seed script itself (official `langsmith` SDK, `datetime.now()` pinned) and
`runlake run` with the matching pipeline against the same `runlake emulate`, then compares
rows by run id. Also reports each side's request count.

Usage: parity.py --runlake PATH [--traces N]; prints "N passed, N failed".
"""

import argparse
import datetime as dt
import json
import os
import runpy
import subprocess
import sys
import tempfile
import urllib.request
import warnings

import pandas  # noqa: F401  (imported before datetime is pinned: C extensions check its size)
import pyarrow.parquet as pq
import tqdm.auto  # noqa: F401

warnings.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
END = dt.datetime(2026, 11, 1, 0, 0, 0)
NOW = END + dt.timedelta(minutes=10)  # naive, as the scripts' datetime.now() is


class PinnedDatetime(dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return NOW if tz is None else NOW.replace(tzinfo=dt.timezone.utc).astimezone(tz)


def stats(url):
    return json.load(urllib.request.urlopen(url + "/_stats"))


def requests_total(s):
    return sum(sum(by_status.values()) for by_status in s["requests"].values())


def run_seed(script, url):
    """Runs a seed script as-is; returns its `data` rows and the requests it made."""
    os.environ.update(LANGSMITH_ENDPOINT=url, LANGSMITH_API_KEY="parity-key", LANGSMITH_TRACING="false")
    dt.datetime = PinnedDatetime  # the scripts do `from datetime import datetime`
    before = requests_total(stats(url))
    try:
        namespace = runpy.run_path(os.path.join(HERE, "seed", script), run_name="__seed__")
    finally:
        dt.datetime = PinnedDatetime.__mro__[1]
    return namespace["data"], requests_total(stats(url)) - before


def run_runlake(runlake, pipeline, url, out, api):
    """runlake with `api` (v1, or auto: v2 on the emulator's default deployment)."""
    env = dict(os.environ, LANGSMITH_ENDPOINT=url, LANGSMITH_API_KEY="parity-key", LANGSMITH_PROJECT="my-project")
    result = subprocess.run(
        [runlake, "-q", "run", os.path.join(ROOT, "pipelines", pipeline), "--now", NOW.isoformat() + "Z",
         "--output", out, "--json", "--set", "source.split_windows=false", "--set", f"source.api={api}",
         # A one-off export of the pipeline's own range, as the seed scripts do.
         "--since", "30d"],
        env=env, capture_output=True, text=True, check=True,
    )
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    # The output's own columns; the Hive partition (date=…) is checked separately below.
    rows = pq.read_table(out, partitioning=None).to_pylist() if data_files(out) else []
    return rows, summary


def data_files(root):
    """What a reader globbing **/*.parquet sees: no _ or . bookkeeping."""
    import glob
    return sorted(glob.glob(os.path.join(root, "**", "*.parquet"), recursive=True))


def norm(v):
    """Parquet gives JSON columns as text; the SDK gives Python objects."""
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    if isinstance(v, list):
        return [norm(x) for x in v]
    return v


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runlake", required=True)
    parser.add_argument("--traces", type=int, default=900)
    args = parser.parse_args()
    passed = failed = 0

    def check(name, ok, detail=""):
        nonlocal passed, failed
        print(("ok   " if ok else "FAIL ") + name + (f": {detail}" if detail else ""))
        passed += bool(ok)
        failed += not ok

    with tempfile.TemporaryDirectory() as tmp:
        data_path = os.path.join(tmp, "runs.jsonl")
        subprocess.run([args.runlake, "-q", "generate", "--project", "my-project", "--traces", str(args.traces),
                        "--seed", "11", "--days", "1", "--end", END.isoformat() + "Z", "--out", data_path], check=True)
        runs = [json.loads(l) for l in open(data_path, encoding="utf-8")]
        by_id = {r["id"]: r for r in runs}
        emulator = subprocess.Popen([args.runlake, "-q", "emulate", "--port", "0", "--data", f"my-project={data_path}"],
                                    stdout=subprocess.PIPE, text=True)
        try:
            url = emulator.stdout.readline().strip()

            # tool_usage, on v1 and on v2 (auto picks it: the emulator offers both)
            seed_rows, seed_requests = run_seed("tool_usage.py", url)
            theirs = {str(r["run_id"]): r for r in seed_rows}
            layouts = {}
            for api, lookups, page in [("v1", 1, 100), ("auto", 2, 1000)]:
                out = os.path.join(tmp, f"tool_usage_{api}")
                rows, summary = run_runlake(args.runlake, "tool_usage.toml", url, out, api)
                mine = {r["run_id"]: r for r in rows}
                check(f"tool_usage ({api}): same rows", set(mine) == set(theirs) and len(rows) == len(mine),
                      f"{len(mine)} vs seed {len(theirs)}")
                bad = [k for k in theirs if k in mine and not (
                    mine[k]["run_name"] == theirs[k]["run_name"] and mine[k]["run_type"] == theirs[k]["run_type"]
                    and norm(mine[k]["inputs"]) == theirs[k]["inputs"] and norm(mine[k]["outputs"]) == theirs[k]["outputs"]
                    and sorted(mine[k]["tools_involved"]) == sorted(theirs[k]["tools_involved"]))]
                check(f"tool_usage ({api}): same values", not bad, f"{len(bad)} rows differ, e.g. {bad[:2]}")
                (window,) = summary["windows"]
                tool_runs = window["stages"][0]["items_out"]
                traces = window["stages"][1]["items_out"]
                expected = lookups + -(-tool_runs // page) + -(-traces // page)
                check(f"tool_usage ({api}): requests = lookups + ceil(tool runs/{page}) + ceil(traces/{page})",
                      summary["requests"]["requests"] == expected,
                      f"runlake {summary['requests']['requests']} (expected {expected}); seed script {seed_requests}")
                if api == "auto":
                    check("tool_usage (auto, so v2): at most half the seed script's requests",
                          2 * summary["requests"]["requests"] <= seed_requests,
                          f"runlake {summary['requests']['requests']}, seed script {seed_requests}")
                layouts[api] = sorted(os.path.relpath(os.path.dirname(f), out) for f in data_files(out))
            check("tool_usage: v1 and v2 write the same partitions", layouts["v1"] == layouts["auto"],
                  f"v1 {layouts['v1'][:3]}, v2 {layouts['auto'][:3]}")
            mine = {r["run_id"]: r for r in pq.read_table(os.path.join(tmp, "tool_usage_auto"), partitioning=None).to_pylist()}
            os.rename(os.path.join(tmp, "tool_usage_auto"), os.path.join(tmp, "tool_usage"))

            # Independent readers see exactly the rows, with the declared types.
            import duckdb
            glob = os.path.join(tmp, "tool_usage", "**", "*.parquet")
            con = duckdb.connect()
            scan = f"read_parquet('{glob}', hive_partitioning = true)"
            n = con.execute(f"select count(*) from {scan}").fetchone()[0]
            types = dict(con.execute(f"select column_name, column_type from (describe select * from {scan})").fetchall())
            check("duckdb reads tool_usage with hive_partitioning", n == len(mine) and types.get("tools_involved") == "VARCHAR[]"
                  and types.get("inputs") == "JSON" and types.get("run_id") == "VARCHAR" and types.get("date") == "DATE",
                  f"{n} rows, {types}")
            # Each row sits in the partition of its run's start date.
            wrong = con.execute(f"select count(*) from {scan} s where s.date is null").fetchone()[0]
            check("duckdb: every row has its date partition", wrong == 0, f"{wrong} rows without")
            import pyarrow.dataset as ds
            table = ds.dataset(os.path.join(tmp, "tool_usage"), format="parquet", partitioning="hive").to_table()
            meta = pq.read_metadata(data_files(os.path.join(tmp, "tool_usage"))[0]).metadata
            check("pyarrow dataset reads tool_usage", table.num_rows == len(mine)
                  and str(table.schema.field("tools_involved").type) == "list<item: string>"
                  and "date" in table.schema.names
                  and meta[b"runlake.pipeline"] == b"tool_usage" and b"parity-key" not in b"".join(meta.values()),
                  f"{table.num_rows} rows, {table.schema.names}")
            import polars as pl
            frame = pl.read_parquet(glob, hive_partitioning=True)
            check("polars reads tool_usage with hive partitions", frame.height == len(mine)
                  and frame.schema["tools_involved"] == pl.List(pl.String)
                  and frame.schema["run_id"] == pl.String and frame.schema["date"] == pl.Date,
                  f"{frame.height} rows, {frame.schema}")

            # retriever_io, on v1 and on v2
            seed_rows, seed_requests = run_seed("retriever_io.py", url)
            theirs = {str(r["run_id"]): r for r in seed_rows}
            for api in ["v1", "auto"]:
                rows, summary = run_runlake(args.runlake, "retriever_io.toml", url,
                                            os.path.join(tmp, f"retriever_io_{api}"), api)
                retriever_io_check(check, api, {r["run_id"]: r for r in rows}, theirs, by_id)
                print(f"requests: retriever_io ({api}) runlake {summary['requests']['requests']}, "
                      f"seed script {seed_requests}")
        finally:
            emulator.terminate()
            emulator.wait(timeout=10)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def retriever_io_check(check, api, mine, theirs, by_id):
    """runlake's retriever_io rows against the seed script's: the same cells, plus the feedback
    the script's last batch forgot."""
    check(f"retriever_io ({api}): same rows", set(mine) == set(theirs) and len(theirs) > 50,
          f"{len(mine)} vs seed {len(theirs)}")
    differ, fixed = [], 0
    for k, t in theirs.items():
        m = mine.get(k, {})
        for col, v in t.items():
            if col == "run_id":
                continue
            if norm(m.get(col)) != norm(v):
                differ.append((k, col))
        # The seed's last batch lacks feedback; runlake must have it, and right.
        stats_ = by_id[k]["feedback_stats"] or {}
        for key, s in stats_.items():
            col = f"feedback.{key}"
            if col not in t:
                fixed += 1
            if m.get(col) != s["avg"]:
                differ.append((k, col))
        extra = [c for c, v in m.items() if v is not None and c not in t and not c.startswith("feedback.")]
        differ.extend((k, c) for c in extra)
    check(f"retriever_io ({api}): same values (plus feedback the seed forgot)", not differ,
          f"{len(differ)} cells differ, e.g. {differ[:3]}; {fixed} feedback cells the seed script missed")
    check(f"retriever_io ({api}): the seed's last batch really lacked feedback", fixed > 0, f"{fixed} cells")


if __name__ == "__main__":
    main()
