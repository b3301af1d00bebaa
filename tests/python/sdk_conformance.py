"""Conformance of `runlake emulate` with the official LangSmith Python SDK.

Runs every `list_runs` example of the seed page (docs "Export traces") through
`langsmith.Client` against the emulator and compares the returned run ids with an
independent evaluation of the same JSONL data, written here in plain Python (no filter
parser: each example's meaning is spelled out as a predicate).

Usage: sdk_conformance.py --runlake PATH/TO/runlake [--traces N]
Prints one line per case and a closing "N passed, N failed" line; exits 1 on any failure.
"""

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import warnings
from collections import defaultdict

from langsmith import Client

# list_runs is deprecated in favour of runs.query (v2); it is what the seed page uses.
warnings.filterwarnings("ignore", category=DeprecationWarning)

PROJECT = "sdk-conformance"


def parse_ts(s):
    t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


class Data:
    """The JSONL runs, with the relations the predicates need."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.runs = [json.loads(line) for line in f if line.strip()]
        self.by_id = {r["id"]: r for r in self.runs}
        self.traces = defaultdict(list)
        for r in self.runs:
            self.traces[r["trace_id"]].append(r)
        self.latest = max(parse_ts(r["start_time"]) for r in self.runs)

    def ids(self, pred):
        return {r["id"] for r in self.runs if pred(r)}

    def root(self, r):
        return self.by_id.get(r["trace_id"])


def latency(r):
    if not r.get("end_time"):
        return None
    return (parse_ts(r["end_time"]) - parse_ts(r["start_time"])).total_seconds()


def metadata(r):
    return ((r.get("extra") or {}).get("metadata")) or {}


def feedback(r):
    return r.get("feedback") or []


def has_feedback(r, key, score_pred=lambda s: True):
    return any(f["key"] == key and f.get("score") is not None and score_pred(f["score"]) for f in feedback(r))


def has_key_feedback(r, key):
    return any(f["key"] == key for f in feedback(r))


def strings(value):
    """Every string leaf of a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def full_text(r, term):
    term = term.lower()
    texts = [r.get("name") or "", r.get("error") or ""]
    texts += list(strings(r.get("inputs"))) + list(strings(r.get("outputs")))
    texts += r.get("tags") or []
    texts += [v for v in metadata(r).values() if isinstance(v, str)]
    return any(term in t.lower() for t in texts)


def gt_time(r, iso):
    return parse_ts(r["start_time"]) > parse_ts(iso)


def is_error(r):
    return bool(r.get("error"))


def cases(data):
    """(name, list_runs kwargs, expected ids) for every example on the seed page."""
    everything = lambda r: True
    day_ago = data.latest - dt.timedelta(days=1)
    month_ago = data.latest - dt.timedelta(days=30)
    mid = sorted(parse_ts(r["start_time"]) for r in data.runs)[len(data.runs) // 2]
    mid_iso = mid.strftime("%Y-%m-%dT%H:%M:%SZ")
    some_ids = [data.runs[3]["id"], data.runs[len(data.runs) // 2]["id"]]

    # A real thread id from the data, whichever of the three keys carries it.
    thread_keys = ["session_id", "conversation_id", "thread_id"]
    group_key = next(
        metadata(r)[k] for r in data.runs if r["parent_run_id"] is None for k in thread_keys if k in metadata(r)
    )

    yield "all runs in a project", {}, data.ids(everything)
    yield (
        "LLM runs in the last 24 hours",
        {"start_time": day_ago, "run_type": "llm"},
        data.ids(lambda r: r["run_type"] == "llm" and parse_ts(r["start_time"]) >= day_ago),
    )
    yield "root runs", {"is_root": True}, data.ids(lambda r: r["parent_run_id"] is None)
    yield "runs without errors", {"error": False}, data.ids(lambda r: not is_error(r))
    yield "runs by id (ignores other arguments)", {"id": some_ids, "run_type": "parser"}, set(some_ids)
    yield (
        "root runs of a conversational thread",
        {
            "filter": 'and(in(metadata_key, ["session_id","conversation_id","thread_id"]), eq(metadata_value, "%s"))'
            % group_key,
            "is_root": True,
        },
        data.ids(
            lambda r: r["parent_run_id"] is None and any(metadata(r).get(k) == group_key for k in thread_keys)
        ),
    )
    yield (
        "extractor runs whose root has user_score 1",
        {
            "filter": 'eq(name, "extractor")',
            "trace_filter": 'and(eq(feedback_key, "user_score"), eq(feedback_score, 1))',
        },
        data.ids(
            lambda r: r["name"] == "extractor"
            and data.root(r) is not None
            and has_feedback(data.root(r), "user_score", lambda s: s == 1)
        ),
    )
    yield (
        "star_rating greater than 4",
        {"filter": 'and(eq(feedback_key, "star_rating"), gt(feedback_score, 4))'},
        data.ids(lambda r: has_feedback(r, "star_rating", lambda s: s > 4)),
    )
    yield (
        "latency over 5 seconds",
        {"filter": 'gt(latency, "5s")'},
        data.ids(lambda r: (latency(r) or 0) > 5),
    )
    yield (
        "total_tokens over 5000",
        {"filter": "gt(total_tokens, 5000)"},
        data.ids(lambda r: (r.get("total_tokens") or 0) > 5000),
    )
    yield "error not null", {"filter": "neq(error, null)"}, data.ids(is_error)
    yield (
        "start_time after the page's timestamp",
        {"filter": 'gt(start_time, "2023-07-15T12:34:56Z")'},
        data.ids(lambda r: gt_time(r, "2023-07-15T12:34:56Z")),
    )
    yield (
        "start_time after a timestamp inside the data",
        {"filter": 'gt(start_time, "%s")' % mid_iso},
        data.ids(lambda r: gt_time(r, mid_iso)),
    )
    yield 'full text "substring"', {"filter": 'search("substring")'}, data.ids(lambda r: full_text(r, "substring"))
    yield (
        'tagged with git hash "2aa1cf4"',
        {"filter": 'has(tags, "2aa1cf4")'},
        data.ids(lambda r: "2aa1cf4" in (r.get("tags") or [])),
    )
    yield (
        "chains over 10 s with more than 5000 tokens",
        {"filter": 'and(eq(run_type, "chain"), gt(latency, 10), gt(total_tokens, 5000))'},
        data.ids(
            lambda r: r["run_type"] == "chain" and (latency(r) or 0) > 10 and (r.get("total_tokens") or 0) > 5000
        ),
    )
    for when in ["2023-07-15T12:34:56Z", mid_iso]:
        yield (
            "after %s with an error or Correctness 0" % when,
            {
                "filter": 'and(gt(start_time, "%s"), or(neq(error, null), and(eq(feedback_key, "Correctness"), eq(feedback_score, 0.0))))'
                % when
            },
            data.ids(
                lambda r: gt_time(r, when) and (is_error(r) or has_feedback(r, "Correctness", lambda s: s == 0))
            ),
        )
    yield (
        "experimental or beta, latency over 2 s",
        {"filter": 'and(or(has(tags, "experimental"), has(tags, "beta")), gt(latency, 2))'},
        data.ids(
            lambda r: ({"experimental", "beta"} & set(r.get("tags") or [])) and (latency(r) or 0) > 2
        ),
    )
    yield (
        'full text "image classification"',
        {"filter": 'search("image classification")'},
        data.ids(lambda r: full_text(r, "image classification")),
    )
    yield (
        "has user_id metadata",
        {"filter": "eq(metadata_key, 'user_id')"},
        data.ids(lambda r: "user_id" in metadata(r)),
    )
    yield (
        "user_id equals a value",
        {
            "filter": "and(eq(metadata_key, 'user_id'), eq(metadata_value, '4070f233-f61e-44eb-bff1-da3c163895a3'))"
        },
        data.ids(lambda r: metadata(r).get("user_id") == "4070f233-f61e-44eb-bff1-da3c163895a3"),
    )
    yield (
        "environment production",
        {"filter": "and(eq(metadata_key, 'environment'), eq(metadata_value, 'production'))"},
        data.ids(lambda r: metadata(r).get("environment") == "production"),
    )
    yield (
        "conversation id",
        {"filter": "and(eq(metadata_key, 'conversation_id'), eq(metadata_value, 'a1b2c3d4-e5f6-7890'))"},
        data.ids(lambda r: metadata(r).get("conversation_id") == "a1b2c3d4-e5f6-7890"),
    )
    yield (
        "ChatOpenAI in a conversation",
        {
            "filter": "and(eq(name, 'ChatOpenAI'), eq(metadata_key, 'conversation_id'), eq(metadata_value, '69b12c91-b1e2-46ce-91de-794c077e8151'))"
        },
        data.ids(
            lambda r: r["name"] == "ChatOpenAI"
            and metadata(r).get("conversation_id") == "69b12c91-b1e2-46ce-91de-794c077e8151"
        ),
    )
    yield (
        "RetrieveDocs, root user_score 1, ExpandQuery anywhere in the trace",
        {
            "filter": 'eq(name, "RetrieveDocs")',
            "trace_filter": 'and(eq(feedback_key, "user_score"), eq(feedback_score, 1))',
            "tree_filter": 'eq(name, "ExpandQuery")',
        },
        data.ids(
            lambda r: r["name"] == "RetrieveDocs"
            and data.root(r) is not None
            and has_feedback(data.root(r), "user_score", lambda s: s == 1)
            and any(o["name"] == "ExpandQuery" for o in data.traces[r["trace_id"]])
        ),
    )
    # The two "Advanced" scripts' queries.
    yield (
        "advanced: tool runs of the last 30 days, narrow select",
        {"start_time": month_ago, "run_type": "tool", "select": ["trace_id", "name", "run_type"]},
        data.ids(lambda r: r["run_type"] == "tool" and parse_ts(r["start_time"]) >= month_ago),
    )
    yield (
        "advanced: retriever runs of the last day whose root has user_score",
        {
            "start_time": day_ago,
            "run_type": "retriever",
            "select": ["trace_id", "name", "run_type", "inputs", "outputs"],
            "trace_filter": 'eq(feedback_key, "user_score")',
        },
        data.ids(
            lambda r: r["run_type"] == "retriever"
            and parse_ts(r["start_time"]) >= day_ago
            and data.root(r) is not None
            and has_key_feedback(data.root(r), "user_score")
        ),
    )
    roots = sorted({r["trace_id"] for r in data.runs})[:50]
    yield (
        "advanced: root runs fetched by id in a batch of 50",
        {"run_ids": roots, "select": ["name", "inputs", "outputs", "run_type", "feedback_stats"]},
        set(roots),
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runlake", required=True)
    parser.add_argument("--traces", type=int, default=300)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data_path = os.path.join(tmp, "runs.jsonl")
        subprocess.run(
            [args.runlake, "-q", "generate", "--project", PROJECT, "--traces", str(args.traces), "--seed", "5",
             "--out", data_path],
            check=True,
        )
        data = Data(data_path)
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
            passed = failed = 0
            for name, kwargs, expected in cases(data):
                kwargs = dict(kwargs)
                if "id" not in kwargs and "run_ids" not in kwargs:
                    kwargs["project_name"] = PROJECT
                elif "run_ids" in kwargs:
                    kwargs["project_name"] = PROJECT
                runs = list(client.list_runs(**kwargs))
                got = [str(r.id) for r in runs]
                ok = len(got) == len(set(got)) and set(got) == expected
                if "select" in kwargs:
                    # Selected fields arrive; the SDK could build its Run model from the answer.
                    ok = ok and all(getattr(r, f) is not None or f in ("outputs", "feedback_stats") for r in runs for f in ("name", "run_type"))
                trivial = " (matches nothing)" if not expected else (" (matches everything)" if len(expected) == len(data.runs) else "")
                print(f"{'ok  ' if ok else 'FAIL'} {name}: {len(got)} runs, expected {len(expected)}{trivial}")
                if not ok:
                    print(f"     missing {sorted(expected - set(got))[:5]} unexpected {sorted(set(got) - expected)[:5]}")
                passed += ok
                failed += not ok
        finally:
            emulator.terminate()
            emulator.wait(timeout=10)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
