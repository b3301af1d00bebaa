"""runlake's default plan and pacing against the seed page's tool_usage script, on one generated
project served by `runlake emulate` as three deployments:

- saas: v1 and v2, with LangSmith Cloud's rate-limit tiers (windows sped up SPEEDUP times);
- v1-only: v1 alone, same tiers;
- unlimited: v1 and v2 without limits.

runlake runs with its defaults (api = auto); against the tiered deployments it is told it talks
to LangSmith Cloud (pacing = published, in the sped-up window). Checks, as issue 12 asks: the
same rows as the seed script everywhere; on saas at most half its requests and at least 5x
faster; on v1-only at least 3x faster and not one 429; without limits at least 3x faster.
Both sides run as a user runs them, each in a fresh process. The seed script only ever uses
v1, so one run of it under the tiers is the baseline for both tiered deployments. The figures for the README come from bench/api_bench.sh in real time.

Usage: pacing.py --runlake PATH [--traces N] [--speedup S]; prints "N passed, N failed".
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from parity import NOW, END, HERE, ROOT, stats, requests_total

import pyarrow.parquet as pq


def throttled(s):
    return sum(by_status.get("429", 0) for by_status in s["requests"].values())


def emulate(runlake, data_path, *flags):
    proc = subprocess.Popen([runlake, "-q", "emulate", "--port", "0", "--data", f"my-project={data_path}", *flags],
                            stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def timed(fn, url):
    """fn()'s result, its wall time, and the requests and 429s the emulator answered meanwhile."""
    before = stats(url)
    start = time.monotonic()
    result = fn()
    wall = time.monotonic() - start
    after = stats(url)
    return result, wall, requests_total(after) - requests_total(before), throttled(after) - throttled(before)


# The seed script as a user runs it: a fresh interpreter, datetime.now() pinned to the data's end.
SEED_RUNNER = """
import datetime as dt, json, runpy, sys, warnings
import pandas, tqdm.auto  # C extensions first, then pin datetime.now()
warnings.filterwarnings("ignore")
class Pinned(dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return dt.datetime.fromisoformat(sys.argv[2])
dt.datetime = Pinned
rows = runpy.run_path(sys.argv[1], run_name="__seed__")["data"]
print(json.dumps([[str(r["run_id"]), r["run_name"], sorted(r["tools_involved"])] for r in rows]))
"""


def seed_rows(url):
    env = dict(os.environ, LANGSMITH_ENDPOINT=url, LANGSMITH_API_KEY="pacing-key", LANGSMITH_TRACING="false")
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", SEED_RUNNER, os.path.join(HERE, "seed", "tool_usage.py"),
         NOW.isoformat()],
        env=env, capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"the seed script failed: {result.stderr}")
    return {run_id: (name, tools) for run_id, name, tools in json.loads(result.stdout.strip().splitlines()[-1])}


def runlake_rows(runlake, url, out, extra):
    env = dict(os.environ, LANGSMITH_ENDPOINT=url, LANGSMITH_API_KEY="pacing-key", LANGSMITH_PROJECT="my-project")
    result = subprocess.run(
        [runlake, "-q", "run", os.path.join(ROOT, "pipelines", "tool_usage.toml"), "--now", NOW.isoformat() + "Z",
         "--output", out, "--json", *extra],
        env=env, capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"runlake failed: {result.stderr}")
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    rows = pq.read_table(out, partitioning=None).to_pylist()
    return {r["run_id"]: (r["run_name"], sorted(r["tools_involved"])) for r in rows}, summary


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runlake", required=True)
    parser.add_argument("--traces", type=int, default=1000)
    parser.add_argument("--speedup", type=float, default=4.0)
    args = parser.parse_args()
    passed = failed = 0

    def check(name, ok, detail=""):
        nonlocal passed, failed
        print(("ok   " if ok else "FAIL ") + name + (f": {detail}" if detail else ""))
        passed += bool(ok)
        failed += not ok

    window = 10.0 / args.speedup
    tiered = ["--rate-limits", "--rate-limit-speedup", str(args.speedup)]
    cloud = ["--set", "source.pacing=published", "--set", f"source.rate_window={int(window * 1000)}ms"]
    with tempfile.TemporaryDirectory() as tmp:
        data_path = os.path.join(tmp, "runs.jsonl")
        subprocess.run([args.runlake, "-q", "generate", "--project", "my-project", "--traces", str(args.traces),
                        "--seed", "3", "--days", "30", "--end", END.isoformat() + "Z", "--out", data_path], check=True)
        seed_under_tiers = None
        for deployment, flags, extra, speed, fewer in [
            ("saas", ["--deployment", "saas", *tiered], cloud, 5, True),
            ("v1-only", ["--deployment", "v1-only", *tiered], cloud, 3, False),
            ("unlimited", ["--deployment", "saas"], [], 3, False),
        ]:
            proc, url = emulate(args.runlake, data_path, *flags)
            try:
                if deployment == "unlimited" or seed_under_tiers is None:
                    time.sleep(window)  # a fresh rate window for each side
                    seed = timed(lambda: seed_rows(url), url)
                    if deployment != "unlimited":
                        seed_under_tiers = seed
                else:
                    seed = seed_under_tiers
                theirs, seed_wall, seed_requests, seed_429 = seed
                time.sleep(window)
                out = os.path.join(tmp, deployment)
                (rows, summary), wall, requests, n429 = timed(lambda: runlake_rows(args.runlake, url, out, extra), url)
            finally:
                proc.terminate()
                proc.wait(timeout=10)
            print(f"{deployment}: seed script {seed_wall:.2f}s, {seed_requests} requests, {seed_429} x 429; "
                  f"runlake {wall:.2f}s, {requests} requests, {n429} x 429 ({summary['requests']['requests']} sent)")
            check(f"{deployment}: the seed script's rows exactly", rows == theirs and len(rows) > 100,
                  f"{len(rows)} rows vs {len(theirs)}")
            check(f"{deployment}: at least {speed}x faster", seed_wall >= speed * wall,
                  f"{seed_wall / wall:.1f}x")
            if fewer:
                check(f"{deployment}: at most half the seed script's requests", 2 * requests <= seed_requests,
                      f"{requests} vs {seed_requests}")
            if deployment != "unlimited":
                check(f"{deployment}: paced without a single 429", n429 == 0, f"{n429} x 429")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
