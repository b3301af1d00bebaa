//! Every filter on the seed page ("Export traces": `filter=`, `trace_filter=`, `tree_filter=`)
//! parsed, printed, and evaluated over a hand-written fixture in which each one selects a
//! specific subset, next to near misses that must stay out.

use std::collections::{BTreeMap, BTreeSet};

use runlake::filter::{self, Expr, RunFacts};
use runlake::model::Run;
use serde_json::{Value, json};

const THREAD_FILTER: &str = r#"and(in(metadata_key, ["session_id","conversation_id","thread_id"]), eq(metadata_value, "thread-42"))"#;
const USER_SCORE_1: &str = r#"and(eq(feedback_key, "user_score"), eq(feedback_score, 1))"#;
const CORRECTNESS: &str = r#"and(gt(start_time, "2023-07-15T12:34:56Z"), or(neq(error, null), and(eq(feedback_key, "Correctness"), eq(feedback_score, 0.0))))"#;
const CHAT_CONVERSATION: &str = "and(eq(name, 'ChatOpenAI'), eq(metadata_key, 'conversation_id'), eq(metadata_value, '69b12c91-b1e2-46ce-91de-794c077e8151'))";
const USER_ID: &str = "4070f233-f61e-44eb-bff1-da3c163895a3";
const CONVERSATION: &str = "69b12c91-b1e2-46ce-91de-794c077e8151";

/// Every filter string on the seed page (the thread filter with `{group_key}` = "thread-42").
const SEED_FILTERS: &[&str] = &[
    THREAD_FILTER,
    r#"eq(name, "extractor")"#,
    USER_SCORE_1,
    r#"and(eq(feedback_key, "star_rating"), gt(feedback_score, 4))"#,
    r#"gt(latency, "5s")"#,
    r#"gt(total_tokens, 5000)"#,
    r#"neq(error, null)"#,
    r#"gt(start_time, "2023-07-15T12:34:56Z")"#,
    r#"search("substring")"#,
    r#"has(tags, "2aa1cf4")"#,
    r#"and(eq(run_type, "chain"), gt(latency, 10), gt(total_tokens, 5000))"#,
    CORRECTNESS,
    r#"and(or(has(tags, "experimental"), has(tags, "beta")), gt(latency, 2))"#,
    r#"search("image classification")"#,
    "eq(metadata_key, 'user_id')",
    "and(eq(metadata_key, 'user_id'), eq(metadata_value, '4070f233-f61e-44eb-bff1-da3c163895a3'))",
    "and(eq(metadata_key, 'environment'), eq(metadata_value, 'production'))",
    "and(eq(metadata_key, 'conversation_id'), eq(metadata_value, 'a1b2c3d4-e5f6-7890'))",
    CHAT_CONVERSATION,
    r#"eq(name, "RetrieveDocs")"#,
    r#"eq(name, "ExpandQuery")"#,
    r#"eq(feedback_key, "user_score")"#,
];

#[test]
fn every_seed_filter_parses_and_round_trips() {
    for src in SEED_FILTERS {
        let expr = filter::parse(src).unwrap_or_else(|e| panic!("{}", e.render(src)));
        let printed = expr.to_string();
        let again = filter::parse(&printed).unwrap_or_else(|e| panic!("{}", e.render(&printed)));
        assert_eq!(again, expr, "{src} → {printed}");
        assert_eq!(
            again.to_string(),
            printed,
            "the canonical form is a fixed point"
        );
    }
}

#[test]
fn canonical_forms_of_seed_filters() {
    let canon = |s: &str| filter::parse(s).unwrap().to_string();
    assert_eq!(
        canon(THREAD_FILTER),
        r#"and(in(metadata_key, ["session_id", "conversation_id", "thread_id"]), eq(metadata_value, "thread-42"))"#
    );
    assert_eq!(canon(r#"gt(latency, "5s")"#), "gt(latency, 5)");
    assert_eq!(
        canon(CORRECTNESS),
        r#"and(gt(start_time, "2023-07-15T12:34:56Z"), or(neq(error, null), and(eq(feedback_key, "Correctness"), eq(feedback_score, 0))))"#
    );
    assert_eq!(
        canon(CHAT_CONVERSATION),
        r#"and(eq(name, "ChatOpenAI"), eq(metadata_key, "conversation_id"), eq(metadata_value, "69b12c91-b1e2-46ce-91de-794c077e8151"))"#
    );
    assert_eq!(
        canon(r#"search("image classification")"#),
        r#"search("image classification")"#
    );
    let e = filter::parse(CORRECTNESS).unwrap();
    assert!(!e.uses_search());
    assert_eq!(
        e.fields(),
        [
            filter::Field::StartTime,
            filter::Field::Error,
            filter::Field::FeedbackKey,
            filter::Field::FeedbackScore
        ]
    );
    assert!(
        filter::parse(r#"search("substring")"#)
            .unwrap()
            .uses_search()
    );
}

// ---- the fixture ----

const START: &str = "2024-03-01T10:00:00Z";

/// One run as JSON text. `spec` overrides the defaults; three shorthands: `latency` (seconds
/// after `start_time`, or null for a run still pending) becomes `end_time`, `md` becomes
/// `extra.metadata`, and `root` makes a trace root (default: a child of `trace`).
fn run_json(id: &str, trace: &str, parent: Option<&str>, spec: Value) -> String {
    let mut obj = json!({
        "id": id,
        "trace_id": trace,
        "parent_run_id": parent,
        "name": "step",
        "run_type": "chain",
        "status": "success",
        "start_time": START,
        "error": null,
        "tags": [],
        "inputs": {},
        "outputs": {},
        "extra": {"metadata": {}},
    });
    let map = obj.as_object_mut().unwrap();
    let mut latency = json!(1.0);
    for (k, v) in spec.as_object().expect("spec is an object") {
        match k.as_str() {
            "latency" => latency = v.clone(),
            "md" => {
                map.insert("extra".into(), json!({ "metadata": v }));
            }
            _ => {
                map.insert(k.clone(), v.clone());
            }
        }
    }
    let start = chrono::DateTime::parse_from_rfc3339(map["start_time"].as_str().unwrap()).unwrap();
    let end = latency.as_f64().map(|s| {
        (start + chrono::Duration::microseconds((s * 1e6).round() as i64))
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    });
    map.insert("end_time".into(), json!(end));
    obj.to_string()
}

struct Fixture {
    runs: Vec<RunFacts>,
    /// trace id → indices of its runs.
    traces: BTreeMap<String, Vec<usize>>,
}

impl Fixture {
    fn build() -> Fixture {
        let mut texts: Vec<String> = Vec::new();
        let mut root = |id: &str, spec: Value| texts.push(run_json(id, id, None, spec));
        // Standalone roots, one per trace, grouped by the filter they exercise.

        // gt(latency, "5s"): 5.1 s in; 4.9 s, exactly 5 s and a pending run out.
        root("lat-5.1", json!({"latency": 5.1}));
        root("lat-4.9", json!({"latency": 4.9}));
        root("lat-5.0", json!({"latency": 5.0}));
        root("lat-pending", json!({"latency": null, "status": "pending"}));

        // The chain/latency/tokens conjunction.
        root("chain-big", json!({"latency": 15, "total_tokens": 7000}));
        root(
            "llm-big",
            json!({"run_type": "llm", "latency": 20, "total_tokens": 8000}),
        );
        root(
            "chain-slow-light",
            json!({"latency": 30, "total_tokens": 100}),
        );

        // neq(error, null): an empty error string is still an error; null and absent are not.
        root(
            "err-1",
            json!({"error": "ValueError: boom", "status": "error"}),
        );
        root("err-empty", json!({"error": ""}));
        root("err-null", json!({"error": null}));

        // Start time: exactly the bound is not after it.
        root(
            "old-1",
            json!({"start_time": "2023-07-01T00:00:00Z", "error": "old failure",
                             "feedback": [{"key": "Correctness", "score": 0}]}),
        );
        root("old-eq", json!({"start_time": "2023-07-15T12:34:56Z"}));
        root("old-next", json!({"start_time": "2023-07-15T12:34:57Z"}));

        // Correctness: score 0 in; score 1, or 0 under another key, out.
        root(
            "corr-0",
            json!({"feedback": [{"key": "Correctness", "score": 0}]}),
        );
        root(
            "corr-1",
            json!({"feedback": [{"key": "Correctness", "score": 1}]}),
        );
        root(
            "corr-mixed",
            json!({"feedback": [{"key": "Correctness", "score": 1},
                                               {"key": "helpfulness", "score": 0}]}),
        );

        // star_rating > 4.
        root(
            "fb-5",
            json!({"feedback": [{"key": "star_rating", "score": 5}]}),
        );
        root(
            "fb-4",
            json!({"feedback": [{"key": "star_rating", "score": 4}]}),
        );
        root(
            "fb-stats",
            json!({"feedback_stats": {"star_rating": {"n": 3, "avg": 4.67}}}),
        );
        root(
            "fb-mixed",
            json!({"feedback": [{"key": "user_score", "score": 5},
                                             {"key": "star_rating", "score": 3}]}),
        );

        // Tags.
        root("git-1", json!({"tags": ["2aa1cf4", "prod"]}));
        root("git-x", json!({"tags": ["2aa1cf4x"]}));
        root("git-prefix", json!({"tags": ["2aa1cf"]}));
        root("git-meta", json!({"md": {"git_sha": "2aa1cf4"}}));
        root("tag-beta-3s", json!({"tags": ["beta"], "latency": 3}));
        root("tag-beta-fast", json!({"tags": ["beta"], "latency": 1}));
        root("tag-betamax", json!({"tags": ["betamax"], "latency": 3}));
        root(
            "tag-exp-2s",
            json!({"tags": ["experimental"], "latency": 2}),
        );

        // Full-text search.
        root(
            "search-in",
            json!({"inputs": {"question": "Find the SUBSTRING here"}}),
        );
        root(
            "search-out",
            json!({"outputs": {"answer": ["no", {"text": "a substring!"}]}}),
        );
        root("search-name", json!({"name": "Substring-Finder"}));
        root(
            "search-meta",
            json!({"md": {"note": "substring in metadata"}}),
        );
        root("search-key", json!({"inputs": {"substring": "value"}}));
        root("search-split", json!({"inputs": {"q": "sub string"}}));
        root(
            "img-1",
            json!({"inputs": {"messages": [{"role": "user", "content": "Run Image Classification on this"}]}}),
        );
        root("img-tag", json!({"tags": ["image classification"]}));
        root(
            "img-split",
            json!({"inputs": {"a": "image", "b": "classification"}}),
        );
        root("img-joined", json!({"name": "ImageClassification"}));

        // Metadata presence and pairs.
        root("md-user", json!({"md": {"user_id": USER_ID}}));
        root("md-user-other", json!({"md": {"user_id": "someone-else"}}));
        root("md-user-null", json!({"md": {"user_id": null}}));
        root(
            "md-user-v2",
            json!({"extra": {}, "metadata": {"user_id": USER_ID}}),
        );
        root("md-owner", json!({"md": {"owner": USER_ID}}));
        root("env-prod", json!({"md": {"environment": "production"}}));
        root(
            "env-staging",
            json!({"md": {"environment": "staging", "tier": "production"}}),
        );
        root("env-cased", json!({"md": {"environment": "Production"}}));
        root(
            "conv-1",
            json!({"md": {"conversation_id": "a1b2c3d4-e5f6-7890"}}),
        );
        root(
            "conv-thread-key",
            json!({"md": {"thread_id": "a1b2c3d4-e5f6-7890"}}),
        );
        root(
            "conv-longer",
            json!({"md": {"conversation_id": "a1b2c3d4-e5f6-7890-0"}}),
        );
        root(
            "chat-1",
            json!({"name": "ChatOpenAI", "run_type": "llm",
                              "md": {"conversation_id": CONVERSATION, "ls_provider": "openai"}}),
        );
        root(
            "chat-other-key",
            json!({"name": "ChatOpenAI", "run_type": "llm",
                                      "md": {"conversation_id": "other", "session_id": CONVERSATION}}),
        );
        root(
            "chat-anthropic",
            json!({"name": "ChatAnthropic", "md": {"conversation_id": CONVERSATION}}),
        );
        root(
            "chat-cased",
            json!({"name": "chatopenai", "md": {"conversation_id": CONVERSATION}}),
        );

        // Threads: any of three keys; a child run of the thread; near misses.
        root("th-session", json!({"md": {"session_id": "thread-42"}}));
        root("th-conv", json!({"md": {"conversation_id": "thread-42"}}));
        root("th-other-key", json!({"md": {"user_id": "thread-42"}}));
        root("th-other-value", json!({"md": {"thread_id": "thread-43"}}));
        root(
            "th-mixed",
            json!({"md": {"session_id": "x", "topic": "thread-42"}}),
        );
        root(
            "ex-root",
            json!({"name": "extractor", "feedback": [{"key": "user_score", "score": 1}]}),
        );

        let mut child = |id: &str, trace: &str, parent: &str, spec: Value| {
            texts.push(run_json(id, trace, Some(parent), spec))
        };
        child(
            "th-conv-child",
            "th-conv",
            "th-conv",
            json!({"md": {"thread_id": "thread-42"}}),
        );
        // A run whose root is not in the data set: trace_filter can never hold.
        child(
            "ex-orphan",
            "missing-root",
            "missing-root",
            json!({"name": "extractor"}),
        );

        // Traces for trace_filter / tree_filter (the RetrieveDocs example).
        // t1: root user_score 1, has ExpandQuery.
        let mut trace = |root_spec: Value, trace: &str, children: &[(&str, &str, Value)]| {
            texts.push(run_json(trace, trace, None, root_spec));
            for (id, parent, spec) in children {
                let parent = if parent.is_empty() { trace } else { parent };
                texts.push(run_json(id, trace, Some(parent), spec.clone()));
            }
        };
        let retrieve = || json!({"name": "RetrieveDocs", "run_type": "retriever", "latency": 0.4});
        let expand = || json!({"name": "ExpandQuery", "run_type": "llm"});
        let extract = || json!({"name": "extractor", "run_type": "tool"});
        trace(
            json!({"name": "agent", "latency": 12, "total_tokens": 6000, "tags": ["experimental"],
                   "feedback": [{"key": "user_score", "score": 1}]}),
            "t1",
            &[
                ("t1-expand", "", expand()),
                ("t1-retrieve", "", retrieve()),
                ("t1-extract", "", extract()),
            ],
        );
        // t2: root user_score 1, no ExpandQuery; exactly 10 s.
        trace(
            json!({"name": "agent", "latency": 10, "total_tokens": 9000,
                   "feedback": [{"key": "user_score", "score": 1}]}),
            "t2",
            &[
                ("t2-retrieve", "", retrieve()),
                ("t2-extract", "", extract()),
            ],
        );
        // t3: root user_score 0 next to star_rating 1 (an unbound match would see a 1);
        // 5000 tokens exactly.
        trace(
            json!({"name": "agent", "latency": 11, "total_tokens": 5000,
                   "feedback": [{"key": "user_score", "score": 0}, {"key": "star_rating", "score": 1}]}),
            "t3",
            &[
                ("t3-expand", "", expand()),
                ("t3-retrieve", "", retrieve()),
                ("t3-extract", "", extract()),
            ],
        );
        // t4: no feedback at all.
        trace(
            json!({"name": "agent"}),
            "t4",
            &[("t4-retrieve", "", retrieve()), ("t4-expand", "", expand())],
        );
        // t5: user_score only in feedback_stats; ExpandQuery is a grandchild under another
        // branch.
        trace(
            json!({"name": "agent", "feedback_stats": {"user_score": {"n": 2, "avg": 1.0}}}),
            "t5",
            &[
                ("t5-retrieve", "", retrieve()),
                ("t5-sub", "", json!({"name": "subchain"})),
                ("t5-expand", "t5-sub", expand()),
            ],
        );

        let runs: Vec<RunFacts> = texts
            .iter()
            .map(|t| RunFacts::from_run(&Run::from_json(t).unwrap_or_else(|e| panic!("{t}: {e}"))))
            .collect();
        let mut traces: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, r) in runs.iter().enumerate() {
            traces
                .entry(r.trace_id.clone().unwrap())
                .or_default()
                .push(i);
        }
        let ids: BTreeSet<&str> = runs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), runs.len(), "ids are unique");
        Fixture { runs, traces }
    }

    fn all(&self) -> BTreeSet<String> {
        self.runs.iter().map(|r| r.id.clone()).collect()
    }

    /// The ids `list_runs(filter, trace_filter, tree_filter)` returns: the three ANDed.
    fn select(
        &self,
        filter: &str,
        trace_filter: Option<&str>,
        tree_filter: Option<&str>,
    ) -> BTreeSet<String> {
        let parse = |s: &str| filter::parse(s).unwrap_or_else(|e| panic!("{}", e.render(s)));
        let f: Expr = parse(filter);
        let trace_f = trace_filter.map(parse);
        let tree_f = tree_filter.map(parse);
        self.runs
            .iter()
            .filter(|r| f.matches(r))
            .filter(|r| {
                let members = &self.traces[r.trace_id.as_deref().unwrap()];
                let root = members
                    .iter()
                    .map(|&i| &self.runs[i])
                    .find(|m| m.is_root == Some(true));
                trace_f
                    .as_ref()
                    .is_none_or(|e| filter::trace_filter_matches(e, root))
                    && tree_f.as_ref().is_none_or(|e| {
                        filter::tree_filter_matches(e, members.iter().map(|&i| &self.runs[i]))
                    })
            })
            .map(|r| r.id.clone())
            .collect()
    }
}

fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn all_but(fx: &Fixture, out: &[&str]) -> BTreeSet<String> {
    let mut all = fx.all();
    for id in out {
        assert!(all.remove(*id), "{id} is in the fixture");
    }
    all
}

#[track_caller]
fn assert_selects(fx: &Fixture, filter: &str, want: &[&str]) {
    assert_eq!(fx.select(filter, None, None), ids(want), "filter={filter}");
}

#[test]
fn thread_filter_matches_any_of_the_three_keys() {
    let fx = Fixture::build();
    assert_selects(
        &fx,
        THREAD_FILTER,
        &["th-session", "th-conv", "th-conv-child"],
    );
    // The seed passes is_root=True alongside it.
    let roots = format!("and({THREAD_FILTER}, eq(is_root, true))");
    assert_selects(&fx, &roots, &["th-session", "th-conv"]);
}

#[test]
fn extractor_runs_whose_root_has_user_score_1() {
    let fx = Fixture::build();
    assert_selects(
        &fx,
        r#"eq(name, "extractor")"#,
        &[
            "t1-extract",
            "t2-extract",
            "t3-extract",
            "ex-root",
            "ex-orphan",
        ],
    );
    assert_eq!(
        fx.select(r#"eq(name, "extractor")"#, Some(USER_SCORE_1), None),
        ids(&["t1-extract", "t2-extract", "ex-root"]),
        "t3's root has user_score 0 (its 1 is a star_rating); ex-orphan's root is unknown"
    );
}

#[test]
fn feedback_filters_bind_key_and_score() {
    let fx = Fixture::build();
    assert_selects(
        &fx,
        r#"and(eq(feedback_key, "star_rating"), gt(feedback_score, 4))"#,
        &["fb-5", "fb-stats"],
    );
    assert_selects(&fx, USER_SCORE_1, &["t1", "t2", "t5", "ex-root"]);
    assert_selects(
        &fx,
        r#"eq(feedback_key, "user_score")"#,
        &["t1", "t2", "t3", "t5", "ex-root", "fb-mixed"],
    );
}

#[test]
fn latency_tokens_errors_and_start_time() {
    let fx = Fixture::build();
    assert_selects(
        &fx,
        r#"gt(latency, "5s")"#,
        &[
            "lat-5.1",
            "chain-big",
            "llm-big",
            "chain-slow-light",
            "t1",
            "t2",
            "t3",
        ],
    );
    assert_selects(
        &fx,
        r#"gt(total_tokens, 5000)"#,
        &["chain-big", "llm-big", "t1", "t2"],
    );
    assert_selects(&fx, r#"neq(error, null)"#, &["err-1", "err-empty", "old-1"]);
    assert_eq!(
        fx.select(r#"gt(start_time, "2023-07-15T12:34:56Z")"#, None, None),
        all_but(&fx, &["old-1", "old-eq"])
    );
    assert_selects(
        &fx,
        r#"and(eq(run_type, "chain"), gt(latency, 10), gt(total_tokens, 5000))"#,
        &["chain-big", "t1"],
    );
    assert_selects(&fx, CORRECTNESS, &["err-1", "err-empty", "corr-0"]);
}

#[test]
fn tags() {
    let fx = Fixture::build();
    assert_selects(&fx, r#"has(tags, "2aa1cf4")"#, &["git-1"]);
    assert_selects(
        &fx,
        r#"and(or(has(tags, "experimental"), has(tags, "beta")), gt(latency, 2))"#,
        &["tag-beta-3s", "t1"],
    );
}

#[test]
fn full_text_search() {
    let fx = Fixture::build();
    assert_selects(
        &fx,
        r#"search("substring")"#,
        &["search-in", "search-out", "search-name", "search-meta"],
    );
    assert_selects(
        &fx,
        r#"search("image classification")"#,
        &["img-1", "img-tag"],
    );
}

#[test]
fn metadata_presence_and_pairs() {
    let fx = Fixture::build();
    assert_selects(
        &fx,
        "eq(metadata_key, 'user_id')",
        &[
            "md-user",
            "md-user-other",
            "md-user-null",
            "md-user-v2",
            "th-other-key",
        ],
    );
    assert_selects(
        &fx,
        "and(eq(metadata_key, 'user_id'), eq(metadata_value, '4070f233-f61e-44eb-bff1-da3c163895a3'))",
        &["md-user", "md-user-v2"],
    );
    assert_selects(
        &fx,
        "and(eq(metadata_key, 'environment'), eq(metadata_value, 'production'))",
        &["env-prod"],
    );
    assert_selects(
        &fx,
        "and(eq(metadata_key, 'conversation_id'), eq(metadata_value, 'a1b2c3d4-e5f6-7890'))",
        &["conv-1"],
    );
    assert_selects(&fx, CHAT_CONVERSATION, &["chat-1"]);
    // The value alone is found under any key; binding is what excludes the near misses.
    assert_selects(
        &fx,
        &format!("eq(metadata_value, '{CONVERSATION}')"),
        &["chat-1", "chat-other-key", "chat-anthropic", "chat-cased"],
    );
}

#[test]
fn retrieve_docs_with_trace_and_tree_filters() {
    let fx = Fixture::build();
    let retrieve = r#"eq(name, "RetrieveDocs")"#;
    let expand = r#"eq(name, "ExpandQuery")"#;
    assert_selects(
        &fx,
        retrieve,
        &[
            "t1-retrieve",
            "t2-retrieve",
            "t3-retrieve",
            "t4-retrieve",
            "t5-retrieve",
        ],
    );
    assert_eq!(
        fx.select(retrieve, Some(USER_SCORE_1), Some(expand)),
        ids(&["t1-retrieve", "t5-retrieve"]),
        "t2 has no ExpandQuery, t3's root scores 0, t4's root has no feedback"
    );
    assert_eq!(
        fx.select(retrieve, None, Some(expand)),
        ids(&["t1-retrieve", "t3-retrieve", "t4-retrieve", "t5-retrieve"]),
        "a sibling, or a grandchild under another branch, satisfies tree_filter"
    );
    assert_eq!(
        fx.select(expand, None, Some(expand)),
        ids(&["t1-expand", "t3-expand", "t4-expand", "t5-expand"]),
        "the candidate itself counts for tree_filter"
    );
    assert_eq!(
        fx.select(retrieve, None, Some(r#"eq(feedback_key, "user_score")"#)),
        ids(&["t1-retrieve", "t2-retrieve", "t3-retrieve", "t5-retrieve"]),
        "the root counts for tree_filter"
    );
    // The retriever-IO example: run_type="retriever", trace_filter=eq(feedback_key, "user_score").
    assert_eq!(
        fx.select(
            r#"eq(run_type, "retriever")"#,
            Some(r#"eq(feedback_key, "user_score")"#),
            None
        ),
        ids(&["t1-retrieve", "t2-retrieve", "t3-retrieve", "t5-retrieve"])
    );
}
