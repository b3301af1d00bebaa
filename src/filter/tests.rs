use super::*;
use crate::model::Run;

const SEED_FILTERS: &[&str] = &[
    r#"and(in(metadata_key, ["session_id","conversation_id","thread_id"]), eq(metadata_value, "<your_thread_id>"))"#,
    r#"eq(name, "extractor")"#,
    r#"and(eq(feedback_key, "user_score"), eq(feedback_score, 1))"#,
    r#"and(eq(feedback_key, "star_rating"), gt(feedback_score, 4))"#,
    r#"gt(latency, "5s")"#,
    r#"gt(total_tokens, 5000)"#,
    r#"neq(error, null)"#,
    r#"gt(start_time, "2023-07-15T12:34:56Z")"#,
    r#"search("substring")"#,
    r#"has(tags, "2aa1cf4")"#,
    r#"and(eq(run_type, "chain"), gt(latency, 10), gt(total_tokens, 5000))"#,
    r#"and(gt(start_time, "2023-07-15T12:34:56Z"), or(neq(error, null), and(eq(feedback_key, "Correctness"), eq(feedback_score, 0.0))))"#,
    r#"and(or(has(tags, "experimental"), has(tags, "beta")), gt(latency, 2))"#,
    r#"search("image classification")"#,
    "eq(metadata_key, 'user_id')",
    "and(eq(metadata_key, 'user_id'), eq(metadata_value, '4070f233-f61e-44eb-bff1-da3c163895a3'))",
    "and(eq(metadata_key, 'environment'), eq(metadata_value, 'production'))",
    "and(eq(metadata_key, 'conversation_id'), eq(metadata_value, 'a1b2c3d4-e5f6-7890'))",
    "and(eq(name, 'ChatOpenAI'), eq(metadata_key, 'conversation_id'), eq(metadata_value, '69b12c91-b1e2-46ce-91de-794c077e8151'))",
    r#"eq(name, "RetrieveDocs")"#,
    r#"eq(name, "ExpandQuery")"#,
    r#"eq(feedback_key, "user_score")"#,
];

#[test]
fn every_seed_filter_parses_and_round_trips() {
    for src in SEED_FILTERS {
        let expr = parse(src).unwrap_or_else(|e| panic!("{src}: {}", e.render(src)));
        let printed = expr.to_string();
        assert_eq!(parse(&printed).unwrap(), expr, "{src} → {printed}");
        assert_eq!(
            parse(&printed).unwrap().to_string(),
            printed,
            "canonical form is a fixed point"
        );
    }
}

#[test]
fn canonical_form() {
    let p = |s: &str| parse(s).unwrap().to_string();
    assert_eq!(
        p("AND(eq(name,'extractor'),GT(latency,\"5s\"))"),
        r#"and(eq(name, "extractor"), gt(latency, 5))"#
    );
    assert_eq!(p(r#"gt(latency, "500ms")"#), "gt(latency, 0.5)");
    assert_eq!(
        p(r#"in(metadata_key, ["a",'b'])"#),
        r#"in(metadata_key, ["a", "b"])"#
    );
    assert_eq!(
        p(r#"gt(start_time, "2023-07-15T12:34:56Z")"#),
        r#"gt(start_time, "2023-07-15T12:34:56Z")"#
    );
    assert_eq!(
        p(r#"eq(name, 'say \"hi\" \u00e9')"#),
        r#"eq(name, "say \"hi\" é")"#
    );
    assert_eq!(p(r#"search(name, "x")"#), r#"search(name, "x")"#);
    assert_eq!(p("not(eq(is_root, true))"), "not(eq(is_root, true))");
}

fn err(src: &str) -> ParseError {
    parse(src).expect_err(src)
}

#[test]
fn errors_point_at_the_character() {
    let e = err(r#"and(eq(name, "x")"#);
    assert_eq!(e.column, 4, "{e}");
    assert!(e.message.contains("never closed"), "{e}");

    let e = err(r#"eq(name, "x"))"#);
    assert_eq!(e.column, 14, "{e}");
    assert!(e.message.contains("unbalanced"), "{e}");

    let e = err(r#"eqq(name, "x")"#);
    assert_eq!(e.column, 1);
    assert!(
        e.message.contains("unknown comparator \"eqq\"") && e.message.contains("expected one of"),
        "{e}"
    );

    let e = err(r#"eq(nme, "x")"#);
    assert_eq!(e.column, 4);
    assert!(e.message.contains("unknown field \"nme\""), "{e}");

    let e = err(r#"eq(name, "x)"#);
    assert_eq!(e.column, 10);
    assert!(e.message.contains("unterminated string"), "{e}");

    let e = err("gt(total_tokens, 1.2.3)");
    assert_eq!(e.column, 18);
    assert!(e.message.contains("not a number"), "{e}");

    let e = err(r#"gt(latency, "5 parsecs")"#);
    assert_eq!(e.column, 13);
    assert!(e.message.contains("duration"), "{e}");

    let e = err(r#"gt(start_time, "last tuesday")"#);
    assert_eq!(e.column, 16);
    assert!(e.message.contains("timestamp"), "{e}");

    let e = err(r#"eq(name)"#);
    assert!(e.message.contains("takes a field and a value"), "{e}");
    let e = err(r#"eq(name, "x") eq(name, "y")"#);
    assert_eq!(e.column, 15);
    let e = err(r#"in(name, "x")"#);
    assert!(e.message.contains("list"), "{e}");
    let e = err("");
    assert!(e.message.contains("empty"), "{e}");
}

#[test]
fn render_puts_the_caret_under_non_ascii_text() {
    let src = r#"and(eq(name, "café ☕"), eq(nmae, "x"))"#;
    let e = err(src);
    assert_eq!(e.column, 28);
    let rendered = e.render(src);
    let lines: Vec<&str> = rendered.lines().collect();
    assert_eq!(lines[2].chars().count(), 2 + 27 + 1);
    let caret_at = lines[2].chars().count() - 1;
    assert_eq!(lines[1].chars().nth(caret_at), Some('n'), "{rendered}");
}

fn facts(json: &str) -> RunFacts {
    RunFacts::from_run(&Run::from_json(json).unwrap())
}

fn run(extra: &str) -> RunFacts {
    facts(&format!(
        r#"{{"id":"r","name":"n","run_type":"llm","status":"success","start_time":"2026-01-01T00:00:00","end_time":"2026-01-01T00:00:05.5","error":null,"trace_id":"r","parent_run_id":null{}{extra}}}"#,
        if extra.is_empty() { "" } else { "," }
    ))
}

fn m(filter: &str, run: &RunFacts) -> bool {
    parse(filter).unwrap().matches(run)
}

#[test]
fn feedback_key_and_score_bind_to_one_entry() {
    let r = run(r#""feedback":[{"key":"user_score","score":0},{"key":"star_rating","score":5}]"#);
    assert!(!m(
        r#"and(eq(feedback_key, "user_score"), eq(feedback_score, 5))"#,
        &r
    ));
    assert!(m(
        r#"and(eq(feedback_key, "star_rating"), eq(feedback_score, 5))"#,
        &r
    ));
    assert!(m(
        r#"and(eq(feedback_key, "user_score"), lt(feedback_score, 1))"#,
        &r
    ));
    assert!(m(r#"eq(feedback_key, "user_score")"#, &r));
    assert!(m(r#"neq(feedback_key, "Correctness")"#, &r));
    assert!(!m(r#"neq(feedback_key, "user_score")"#, &r));
    // Without the extension list, feedback_stats averages stand in.
    let s = run(r#""feedback_stats":{"star_rating":{"n":2,"avg":4.5}}"#);
    assert!(m(
        r#"and(eq(feedback_key, "star_rating"), gt(feedback_score, 4))"#,
        &s
    ));
    assert!(!m(
        r#"and(eq(feedback_key, "user_score"), gt(feedback_score, 4))"#,
        &s
    ));
}

#[test]
fn metadata_pairs_follow_the_documented_cases() {
    let r =
        run(r#""extra":{"metadata":{"conversation_id":"c1","user_id":"u1","other":"v","n":5}}"#);
    let yes = |f: &str| assert!(m(f, &r), "{f} should match");
    let no = |f: &str| assert!(!m(f, &r), "{f} should not match");
    yes("eq(metadata_key, 'user_id')");
    no("eq(metadata_key, 'thread_id')");
    yes("and(eq(metadata_key, 'user_id'), eq(metadata_value, 'u1'))");
    no("and(eq(metadata_key, 'user_id'), eq(metadata_value, 'c1'))"); // value under another key
    yes("and(neq(metadata_key, 'thread_id'))");
    no("and(neq(metadata_key, 'user_id'))");
    yes("and(eq(metadata_key, 'user_id'), neq(metadata_value, 'u2'))");
    no("and(eq(metadata_key, 'user_id'), neq(metadata_value, 'u1'))");
    yes("and(neq(metadata_key, 'thread_id'), neq(metadata_value, 'nowhere'))");
    no("and(neq(metadata_key, 'thread_id'), neq(metadata_value, 'v'))");
    yes("and(neq(metadata_key, 'thread_id'), eq(metadata_value, 'v'))"); // under some other key
    no("and(neq(metadata_key, 'other'), eq(metadata_value, 'v'))");
    yes(
        r#"and(in(metadata_key, ["session_id","conversation_id","thread_id"]), eq(metadata_value, "c1"))"#,
    );
    no(r#"and(in(metadata_key, ["session_id","thread_id"]), eq(metadata_value, "c1"))"#);
    yes("and(eq(metadata_key, 'n'), eq(metadata_value, 5))");
    yes("and(eq(metadata_key, 'n'), eq(metadata_value, '5'))");
    yes("and(eq(metadata_key, 'n'), gt(metadata_value, 4))");
    yes(r#"has(metadata, '{"user_id": "u1"}')"#);
    no(r#"has(metadata, '{"user_id": "u2"}')"#);
    yes("eq(thread_id, 'c1')");
}

#[test]
fn input_and_output_keys_are_dotted_paths() {
    let r = run(
        r#""inputs":{"messages":[{"content":"hello world","role":"user"}],"k":3},"outputs":{"answer":{"text":"done"}}"#,
    );
    assert!(m(
        r#"and(eq(input_key, "messages.content"), like(input_value, "%world"))"#,
        &r
    ));
    assert!(!m(
        r#"and(eq(input_key, "messages.role"), like(input_value, "%world"))"#,
        &r
    ));
    assert!(m(
        r#"and(eq(output_key, "answer.text"), eq(output_value, "done"))"#,
        &r
    ));
    assert!(m(r#"search(inputs, "HELLO")"#, &r));
    assert!(!m(r#"search(outputs, "hello")"#, &r));
}

#[test]
fn latency_numbers_and_durations() {
    let r = run(""); // 5.5 s
    assert!(m(r#"gt(latency, "5s")"#, &r));
    assert!(m("gt(latency, 5)", &r));
    assert!(!m(r#"gt(latency, "5500ms")"#, &r));
    assert!(m(r#"gte(latency, "5500ms")"#, &r));
    assert!(m(r#"lt(latency, "1m")"#, &r));
    let pending = facts(r#"{"id":"p","start_time":"2026-01-01T00:00:00","end_time":null}"#);
    assert!(
        !m("gt(latency, 0)", &pending),
        "no latency until the run ends"
    );
    assert!(!m("lt(latency, 100)", &pending));
}

#[test]
fn nulls_errors_tags_and_case() {
    let ok = run("");
    assert!(!m("neq(error, null)", &ok) && m("eq(error, null)", &ok));
    let bad = facts(
        r#"{"id":"b","error":"ValueError: boom","tags":["beta","2aa1cf4"],"name":"X","run_type":"LLM"}"#,
    );
    assert!(m("neq(error, null)", &bad));
    assert!(m(r#"has(tags, "2aa1cf4")"#, &bad) && !m(r#"has(tags, "2aa1cf")"#, &bad));
    assert!(m(r#"in(tags, ["x", "beta"])"#, &bad));
    assert!(
        m(r#"eq(run_type, "llm")"#, &bad),
        "run_type compares case-insensitively"
    );
    assert!(!m(r#"eq(name, "x")"#, &bad), "names compare exactly");
    assert!(m(r#"search("VALUEERROR")"#, &bad));
    assert!(m(r#"not(eq(name, "y"))"#, &bad));
    assert!(m("eq(is_root, true)", &ok));
}

#[test]
fn trace_and_tree_scopes() {
    let root = facts(
        r#"{"id":"t","trace_id":"t","parent_run_id":null,"name":"agent","feedback":[{"key":"user_score","score":1}]}"#,
    );
    let child = facts(r#"{"id":"c","trace_id":"t","parent_run_id":"t","name":"RetrieveDocs"}"#);
    let sibling = facts(r#"{"id":"s","trace_id":"t","parent_run_id":"t","name":"ExpandQuery"}"#);
    let trace_filter =
        parse(r#"and(eq(feedback_key, "user_score"), eq(feedback_score, 1))"#).unwrap();
    assert!(trace_filter_matches(&trace_filter, Some(&root)));
    assert!(!trace_filter_matches(&trace_filter, Some(&child)));
    assert!(!trace_filter_matches(&trace_filter, None));
    let tree = parse(r#"eq(name, "ExpandQuery")"#).unwrap();
    assert!(
        tree_filter_matches(&tree, [&root, &child, &sibling]),
        "a sibling satisfies it"
    );
    assert!(!tree_filter_matches(&tree, [&root, &child]));
}

#[test]
fn like_patterns() {
    assert!(like("messages.content", "%content"));
    assert!(like("abc", "a_c"));
    assert!(!like("abc", "a_"));
    assert!(like("", "%"));
    assert!(like("a%b", "a%b"));
    assert!(!like("ABC", "abc"));
}

#[test]
fn fields_and_search_detection() {
    let e = parse(r#"and(eq(name, "x"), or(gt(latency, 1), search("y")), eq(name, "z"))"#).unwrap();
    assert_eq!(e.fields(), vec![Field::Name, Field::Latency]);
    assert!(e.uses_search());
    assert!(!parse("gt(total_tokens, 1)").unwrap().uses_search());
}
