"""Conformance of `runlake emulate` with the official LangSmith Python SDK's v2 traces and
threads resources (`client.traces.query`, `client.traces.list_runs`, `client.threads.query`,
`client.threads.list_traces`, `client.threads.stats`, `client.threads.aggregate_stats`).

Every answer the SDK parses is compared with an independent reading of the same JSONL data,
written here in plain Python: a trace's usage is the sum over its LLM calls (the runs that
incur it), a thread is the root runs sharing a thread key (the run's `thread_id`, else
metadata `session_id`, `conversation_id` or `thread_id`).

Usage: sdk_conformance_traces.py --runlake PATH/TO/runlake [--traces N]
Prints one line per case and a closing "N passed, N failed" line; exits 1 on any failure.
"""

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections import defaultdict

from langsmith import Client

# The emulator reports an older backend version; the SDK only warns about it.
logging.getLogger("langsmith").setLevel(logging.ERROR)

PROJECT = "sdk-conformance-traces"
THREAD_KEYS = ["session_id", "conversation_id", "thread_id"]


def parse_ts(s):
    if s is None:
        return None
    if isinstance(s, dt.datetime):
        t = s
    else:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def num(v):
    return float(v) if v is not None else 0.0


class Data:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.runs = [json.loads(line) for line in f if line.strip()]
        self.traces = defaultdict(list)
        for r in self.runs:
            self.traces[r["trace_id"]].append(r)
        self.roots = [r for r in self.runs if r["parent_run_id"] is None]
        starts = [parse_ts(r["start_time"]) for r in self.runs]
        self.min = min(starts) - dt.timedelta(seconds=1)
        self.max = max(starts) + dt.timedelta(seconds=1)
        self.threads = defaultdict(list)
        for r in self.roots:
            meta = (r.get("extra") or {}).get("metadata") or {}
            key = r.get("thread_id") or next(
                (meta[k] for k in THREAD_KEYS if isinstance(meta.get(k), str)), None
            )
            if key is not None:
                self.threads[key].append(r)
        for roots in self.threads.values():
            roots.sort(key=lambda r: (parse_ts(r["start_time"]), r["id"]))

    def tokens(self, trace_id):
        return sum(r.get("total_tokens") or 0 for r in self.traces[trace_id] if r["run_type"] == "llm")

    def cost(self, trace_id):
        return sum(num(r.get("total_cost")) for r in self.traces[trace_id] if r["run_type"] == "llm")

    def first_token(self, trace_id):
        times = [parse_ts(r["first_token_time"]) for r in self.traces[trace_id] if r.get("first_token_time")]
        return min(times) if times else None


def cost_close(a, b):
    # Each run's cost is rounded to 6 decimals in the data, roll-ups included.
    return a is not None and abs(a - b) <= 2e-5


async def collect(paginator):
    """Every item, and the size of every page, of an SDK paginator."""
    first = await paginator
    items, sizes = [], []
    async for page in first.iter_pages():
        sizes.append(len(page.items))
        items.extend(page.items)
    return items, sizes


async def cases(client, data, project_id):
    """(name, ok, detail) per check."""
    window = {"min_start_time": data.min, "max_start_time": data.max, "project_id": project_id}
    root_ids = {r["id"] for r in data.roots}
    by_id = {r["id"]: r for r in data.runs}

    # traces.query: every root once, newest first, pages of at most 7, aggregates as sums.
    items, sizes = await collect(
        client.traces.query(
            **window,
            page_size=7,
            selects=["ID", "NAME", "START_TIME", "TOTAL_TOKENS", "TOTAL_COST", "FIRST_TOKEN_TIME"],
        )
    )
    ids = [t.root_run.id for t in items]
    starts = [t.root_run.start_time for t in items]
    yield "traces: every root once, in pages of <= 7", (
        len(ids) == len(set(ids)) and set(ids) == root_ids and max(sizes) <= 7 and len(sizes) > 1
    ), f"{len(ids)} of {len(root_ids)}, pages {sizes[:5]}…"
    yield "traces: newest first", all(a >= b for a, b in zip(starts, starts[1:])), ""
    yield "traces: root run fields", all(t.root_run.name == by_id[t.root_run.id]["name"] for t in items), ""
    bad = [
        t.root_run.id
        for t in items
        if t.trace_aggregates is None
        or t.trace_aggregates.total_tokens != data.tokens(t.root_run.id)
        or not cost_close(t.trace_aggregates.total_cost, data.cost(t.root_run.id))
        or parse_ts(t.trace_aggregates.first_token_time) != data.first_token(t.root_run.id)
    ]
    nonzero = sum(1 for t in items if data.tokens(t.root_run.id) > 0)
    yield "traces: aggregates = sums over the trace's LLM calls", not bad and nonzero > 10, f"bad {bad[:3]}"
    # Aggregates stay off the root run; no selects gives only the id.
    plain, _ = await collect(client.traces.query(**window, page_size=100))
    yield "traces: no selects = root id only", all(
        t.trace_aggregates is None and t.root_run.id and t.root_run.name is None for t in plain
    ) and {t.root_run.id for t in plain} == root_ids, ""

    errored = {r["id"] for r in data.roots if r["status"] == "error"}
    got, _ = await collect(client.traces.query(**window, page_size=100, trace_filter='eq(status, "error")'))
    yield "traces: trace_filter on the root", errored and {t.root_run.id for t in got} == errored, f"{len(got)} vs {len(errored)}"
    with_retriever = {i for i in root_ids if any(r["run_type"] == "retriever" for r in data.traces[i])}
    got, _ = await collect(client.traces.query(**window, page_size=100, tree_filter='eq(run_type, "retriever")'))
    yield "traces: tree_filter on any run", {t.root_run.id for t in got} == with_retriever and 0 < len(
        with_retriever
    ) < len(root_ids), f"{len(got)} vs {len(with_retriever)}"
    some = sorted(root_ids)[:6]
    got, _ = await collect(client.traces.query(**window, trace_ids=some))
    yield "traces: trace_ids", {t.root_run.id for t in got} == set(some), ""
    got, _ = await collect(client.traces.query(project_id=project_id))
    data_is_old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1) > data.max
    yield "traces: default window is the last day (this data is older)", got == [] or not data_is_old, f"{len(got)}"
    try:
        await client.traces.query(**window, page_size=101)
        yield "traces: page_size 101 refused", False, "accepted"
    except Exception as e:  # the SDK's UnprocessableEntityError
        yield "traces: page_size 101 refused", getattr(e, "status_code", None) == 422, repr(e)[:120]

    # traces.list_runs: the trace's runs in start order, optionally filtered.
    trace_id = max(data.traces, key=lambda t: len(data.traces[t]))
    answer = await client.traces.list_runs(trace_id, project_id=project_id, selects=["ID", "NAME", "RUN_TYPE"])
    want = [r["id"] for r in sorted(data.traces[trace_id], key=lambda r: (parse_ts(r["start_time"]), r["id"]))]
    yield "trace runs: all, in start order", [r.id for r in answer.items] == want, f"{len(answer.items)} vs {len(want)}"
    answer = await client.traces.list_runs(trace_id, project_id=project_id, filter='eq(run_type, "llm")')
    yield "trace runs: filter", {r.id for r in answer.items} == {
        r["id"] for r in data.traces[trace_id] if r["run_type"] == "llm"
    }, ""

    # threads.query: every thread once, newest activity first, with its counts and sums.
    threads, sizes = await collect(client.threads.query(**window, page_size=4))
    got = {t.thread_id: t for t in threads}
    yield "threads: every thread once, pages of <= 4", len(got) == len(threads) == len(data.threads) and set(
        got
    ) == set(data.threads) and max(sizes) <= 4, f"{len(threads)} vs {len(data.threads)}"
    last = [t.max_start_time for t in threads]
    yield "threads: newest activity first", all(a >= b for a, b in zip(last, last[1:])), ""
    bad = []
    for key, roots in data.threads.items():
        t = got.get(key)
        if (
            t is None
            or t.count != len(roots)
            or t.first_trace_id != roots[0]["id"]
            or t.last_trace_id != roots[-1]["id"]
            or t.total_tokens != sum(data.tokens(r["id"]) for r in roots)
            or not cost_close(t.total_cost, sum(data.cost(r["id"]) for r in roots))
            or t.num_errored_turns != sum(r["status"] == "error" for r in roots)
            or parse_ts(t.min_start_time) != parse_ts(roots[0]["start_time"])
        ):
            bad.append(key)
    yield "threads: counts, first/last traces, sums", not bad and any(
        len(r) > 1 for r in data.threads.values()
    ), f"bad {bad[:3]}"
    # `filter` narrows the traces that count; `trace_filter` keeps whole threads.
    narrowed, _ = await collect(client.threads.query(**window, page_size=100, filter='eq(status, "error")'))
    want = {k: sum(r["status"] == "error" for r in v) for k, v in data.threads.items()}
    want = {k: n for k, n in want.items() if n}
    yield "threads: filter narrows the traces", {t.thread_id: t.count for t in narrowed} == want and want, ""
    kept, _ = await collect(client.threads.query(**window, page_size=100, trace_filter='eq(status, "error")'))
    yield "threads: trace_filter keeps whole threads", {t.thread_id: t.count for t in kept} == {
        k: len(data.threads[k]) for k in want
    }, ""

    # threads.list_traces: one thread's traces in turn order, two a page.
    key, roots = max(data.threads.items(), key=lambda kv: len(kv[1]))
    traces, sizes = await collect(
        client.threads.list_traces(key, project_id=project_id, page_size=2, selects=["TURN_NUMBER", "NAME"])
    )
    yield "thread traces: turn order and numbers", [t.trace_id for t in traces] == [r["id"] for r in roots] and [
        t.turn_number for t in traces
    ] == list(range(1, len(roots) + 1)) and max(sizes) <= 2 and len(roots) > 1, f"{len(traces)} vs {len(roots)}"
    yield "thread traces: selected fields only", all(t.name and t.latency is None for t in traces), ""

    # threads.stats and threads.aggregate_stats.
    stats = await client.threads.stats(
        key, session_id=project_id, selects=["TURNS", "TOTAL_TOKENS", "FIRST_START_TIME", "LAST_START_TIME"]
    )
    yield "thread stats", stats.turns == len(roots) and stats.total_tokens == sum(
        data.tokens(r["id"]) for r in roots
    ) and parse_ts(stats.first_start_time) == parse_ts(roots[0]["start_time"]) and parse_ts(
        stats.last_start_time
    ) == parse_ts(roots[-1]["start_time"]) and stats.total_cost is None, str(stats)[:160]
    agg = await client.threads.aggregate_stats(
        project_id=project_id,
        min_start_time=data.min,
        max_start_time=data.max,
        select=["THREAD_COUNT", "TRACE_COUNT", "TOTAL_TOKENS"],
    )
    in_threads = [r for roots in data.threads.values() for r in roots]
    yield "threads aggregate stats", agg.thread_count == len(data.threads) and agg.trace_count == len(
        in_threads
    ) and agg.total_tokens == sum(data.tokens(r["id"]) for r in in_threads), str(agg)[:160]


async def run_all(client, data, project_id):
    passed = failed = 0
    async for name, ok, detail in cases(client, data, project_id):
        ok = bool(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {name}" + ("" if ok or not detail else f": {detail}"))
        passed += ok
        failed += not ok
    return passed, failed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runlake", required=True)
    parser.add_argument("--traces", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data_path = os.path.join(tmp, "runs.jsonl")
        subprocess.run(
            [args.runlake, "-q", "generate", "--project", PROJECT, "--traces", str(args.traces), "--seed", "5",
             "--end", "2026-11-01T00:00:00Z", "--out", data_path],
            check=True,
        )
        data = Data(data_path)
        project_id = data.runs[0]["session_id"]
        emulator = subprocess.Popen(
            [args.runlake, "-q", "emulate", "--port", "0", "--api-key", "conformance-key",
             "--data", f"{PROJECT}={data_path}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            url = emulator.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:"), url
            client = Client(api_url=url, api_key="conformance-key")
            passed, failed = asyncio.run(run_all(client, data, project_id))
        finally:
            emulator.terminate()
            emulator.wait(timeout=10)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
