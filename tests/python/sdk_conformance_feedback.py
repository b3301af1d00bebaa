"""Conformance of `runlake emulate`'s feedback list with the official LangSmith Python SDK.

`Client.list_feedback` (and `read_feedback`) against the emulator, with filters and offset
pagination, compared with the entries read independently from the JSONL runs (their
`feedback` lists, some given a source and a creation time here), and every run's
`feedback_stats` (through `list_runs`) compared with the entries the SDK lists.

Usage: sdk_conformance_feedback.py --runlake PATH/TO/runlake [--traces N]
Prints one line per case and a closing "N passed, N failed" line; exits 1 on any failure.
"""

import argparse
import datetime as dt
import json
import os
import tempfile
import warnings
from collections import Counter, defaultdict

from langsmith import Client
from langsmith.schemas import FeedbackSourceType
from langsmith.utils import LangSmithError

from harness import Tally, emulate, generate

warnings.filterwarnings("ignore", category=DeprecationWarning)

PROJECT = "sdk-feedback"
UTC = dt.timezone.utc


def parse_ts(s):
    t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def enrich(runs):
    """Gives the data variety the generator leaves out: sources and explicit times."""
    for r in runs:
        for i, f in enumerate(r.get("feedback") or []):
            if f["key"] == "Correctness":
                f["feedback_source"] = {"type": "model", "metadata": {"evaluator": "judge"}}
            elif f["key"] == "star_rating" and i % 2 == 0:
                f["feedback_source_type"] = "app"
            if f["key"] == "intent":
                f["created_at"] = "2026-11-20T12:00:00Z"


class Expected:
    """The entries as the JSONL says them, with the emulator's documented defaults."""

    def __init__(self, runs):
        self.runs = runs
        self.entries = []
        for r in runs:
            done = parse_ts(r["end_time"] or r["start_time"])
            for i, f in enumerate(r.get("feedback") or []):
                source = (f.get("feedback_source") or {}).get("type") or f.get("feedback_source_type") or "api"
                created = parse_ts(f["created_at"]) if "created_at" in f else done + dt.timedelta(seconds=i + 1)
                self.entries.append({
                    "run_id": r["id"], "trace_id": r["trace_id"], "key": f["key"],
                    "score": f.get("score"), "value": f.get("value"), "comment": f.get("comment"),
                    "source": source, "created_at": created,
                })

    def select(self, pred):
        return Counter(sig(e) for e in self.entries if pred(e))


def sig(e):
    """What identifies an entry without its (derived) id."""
    return (e["run_id"], e["key"], e["score"], e["value"], e["comment"], e["source"])


def sdk_sig(f):
    return (str(f.run_id), f.key, f.score, f.value, f.comment, f.feedback_source.type)


def cases(exp, project_id):
    with_feedback = sorted({e["run_id"] for e in exp.entries})
    some_runs = with_feedback[::4][:40] + [r["id"] for r in exp.runs if not r.get("feedback")][:5]
    cut = sorted(e["created_at"] for e in exp.entries)[len(exp.entries) // 2]
    yield "everything in the project", {"session": [project_id]}, exp.select(lambda e: True)
    yield "no filter at all", {}, exp.select(lambda e: True)
    yield (
        f"{len(some_runs)} run ids",
        {"run_ids": some_runs},
        exp.select(lambda e: e["run_id"] in set(some_runs)),
    )
    yield "key user_score", {"feedback_key": ["user_score"]}, exp.select(lambda e: e["key"] == "user_score")
    yield (
        "keys star_rating or intent",
        {"feedback_key": ["star_rating", "intent"]},
        exp.select(lambda e: e["key"] in ("star_rating", "intent")),
    )
    yield "source model", {"feedback_source_type": ["model"]}, exp.select(lambda e: e["source"] == "model")
    yield (
        "sources api or app",
        {"feedback_source_type": ["api", "app"]},
        exp.select(lambda e: e["source"] in ("api", "app")),
    )
    yield "has_comment", {"has_comment": True}, exp.select(lambda e: bool(e["comment"]))
    yield "has_comment false", {"has_comment": False}, exp.select(lambda e: not e["comment"])
    yield "has_score false (labels)", {"has_score": False}, exp.select(lambda e: e["score"] is None)
    yield (
        "created at or after the median (a datetime, as users pass it)",
        {"min_created_at": cut},
        exp.select(lambda e: e["created_at"] >= cut),
    )
    yield (
        "created at or before the median",
        {"max_created_at": cut.isoformat()},
        exp.select(lambda e: e["created_at"] <= cut),
    )
    yield (
        "run ids and key and score",
        {"run_ids": some_runs, "feedback_key": ["user_score", "Correctness"], "has_score": True},
        exp.select(
            lambda e: e["run_id"] in set(some_runs)
            and e["key"] in ("user_score", "Correctness")
            and e["score"] is not None
        ),
    )


def stats_disagreements(client, every):
    """Where a run's feedback_stats does not summarise the entries the SDK lists."""
    groups = defaultdict(lambda: defaultdict(list))
    for f in every:
        groups[str(f.run_id)][f.key].append(f)
    wrong = []
    for run in client.list_runs(project_name=PROJECT, select=["id", "feedback_stats"]):
        stats = run.feedback_stats or {}
        mine = groups.get(str(run.id), {})
        if set(stats) != set(mine):
            wrong.append(f"run {run.id}: stats keys {sorted(stats)} entries {sorted(mine)}")
            continue
        for key, entries in mine.items():
            scores = [f.score for f in entries if f.score is not None]
            labels = Counter(f.value for f in entries if f.score is None and isinstance(f.value, str))
            s = stats[key]
            avg_ok = (s["avg"] is None) if not scores else abs(s["avg"] - sum(scores) / len(scores)) < 1e-9
            if s["n"] != len(scores) or not avg_ok or Counter(s.get("values") or {}) != labels:
                wrong.append(f"run {run.id} {key}: {s} vs {len(scores)} scores, labels {dict(labels)}")
    return wrong, len(groups)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runlake", required=True)
    parser.add_argument("--traces", type=int, default=240)
    args = parser.parse_args()
    tally = Tally()
    check = tally.check

    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.jsonl")
        generate(args.runlake, PROJECT, args.traces, 9, raw)
        with open(raw, encoding="utf-8") as f:
            runs = [json.loads(line) for line in f if line.strip()]
        enrich(runs)
        data = os.path.join(tmp, "runs.jsonl")
        with open(data, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in runs)
        exp = Expected(runs)
        project_id = runs[0]["session_id"]
        with emulate(args.runlake, "fb-key", f"{PROJECT}={data}") as url:
            client = Client(api_url=url, api_key="fb-key")
            assert len(exp.entries) > 150, "several pages of 100"
            for name, kwargs, expected in cases(exp, project_id):
                got = list(client.list_feedback(**kwargs))
                counted = Counter(sdk_sig(f) for f in got)
                ok = counted == expected and len({f.id for f in got}) == len(got)
                detail = f"{len(got)} entries, expected {sum(expected.values())}"
                if not ok:
                    detail += f"; missing {list((expected - counted).items())[:3]} extra {list((counted - expected).items())[:3]}"
                check(name, ok and bool(expected), detail)

            every = list(client.list_feedback())
            check("newest first", all(a.created_at >= b.created_at for a, b in zip(every, every[1:])))
            by_run = {e["run_id"]: e["trace_id"] for e in exp.entries}
            check(
                "entries name their run's trace, project and times",
                all(str(f.trace_id) == by_run[str(f.run_id)] and str(f.session_id) == project_id
                    and f.modified_at == f.created_at and f.start_time is not None for f in every),
            )
            first = list(client.list_feedback(limit=7))
            check("limit 7 is the first 7", [f.id for f in first] == [f.id for f in every[:7]])
            capped = list(client.list_feedback(limit=130))
            check("limit 130 pages past 100 and stops", [f.id for f in capped] == [f.id for f in every[:130]])
            skipped = list(client.list_feedback(offset=100))
            check("offset 100 starts at the 101st", [f.id for f in skipped] == [f.id for f in every[100:]])
            check("read_feedback", client.read_feedback(every[3].id) == every[3])

            refused = "the SDK's enum (sent as 'FeedbackSourceType.MODEL') is refused"
            try:
                list(client.list_feedback(feedback_source_type=[FeedbackSourceType.MODEL]))
                check(refused, False)
            except LangSmithError as e:
                check(refused, "422" in str(e))

            wrong, runs_with_feedback = stats_disagreements(client, every)
            for line in wrong[:10]:
                print(f"     {line}")
            check("feedback_stats agree with the listed entries", not wrong and runs_with_feedback > 50)
    tally.finish()


if __name__ == "__main__":
    main()
