//! Evaluation over [`RunFacts`], with LangSmith's binding of key/value predicates (§5.5).

use std::cmp::Ordering;

use serde_json::Value;

use super::ast::{Comparison, Expr, Field, Literal, Op, Pair, Side};
use super::facts::{RunFacts, SEP, Section};

impl Expr {
    /// Whether one run matches (the `filter` scope).
    pub fn matches(&self, run: &RunFacts) -> bool {
        match self {
            Expr::And(items) => and(items, run),
            Expr::Or(items) => items.iter().any(|e| e.matches(run)),
            Expr::Not(e) => !e.matches(run),
            Expr::Cmp(c) => match c.field.pair() {
                Some((pair, _)) => pair_group(run.entries(pair), std::iter::once(c)),
                None => compare_field(c, run),
            },
            Expr::Search { field, text } => search(*field, text, run),
        }
    }
}

/// `trace_filter`: the trace's root run matches. No root known → no match.
pub fn trace_filter_matches(expr: &Expr, root: Option<&RunFacts>) -> bool {
    root.is_some_and(|r| expr.matches(r))
}

/// `tree_filter`: some run of the trace matches — the root, the candidate itself, siblings and
/// children all count. Pass every run of the candidate's trace.
pub fn tree_filter_matches<'a>(
    expr: &Expr,
    trace_runs: impl IntoIterator<Item = &'a RunFacts>,
) -> bool {
    trace_runs.into_iter().any(|r| expr.matches(r))
}

/// `and(...)`: comparisons of one key/value family directly inside it bind to one entry (see
/// [`pair_group`]); everything else must hold on its own.
fn and(items: &[Expr], run: &RunFacts) -> bool {
    let mut families = [false; Pair::ALL.len()];
    for item in items {
        match item {
            Expr::Cmp(c) if c.field.pair().is_some() => {
                families[c.field.pair().expect("checked").0 as usize] = true;
            }
            other => {
                if !other.matches(run) {
                    return false;
                }
            }
        }
    }
    Pair::ALL
        .into_iter()
        .filter(|p| families[*p as usize])
        .all(|pair| {
            let group = items.iter().filter_map(move |e| match e {
                Expr::Cmp(c) if c.field.pair().map(|(p, _)| p) == Some(pair) => Some(c),
                _ => None,
            });
            pair_group(run.entries(pair), group)
        })
}

/// The §5.5 rule for the comparisons of one key/value family inside one `and()` (a lone
/// comparison is a group of one):
///
/// * every `neq(key, k)`: no entry has key `k`;
/// * with a positive key predicate (`eq`/`in`/`like` on the key): some single entry satisfies
///   every key predicate and every value predicate (`neq(value, v)` ⇒ that entry's value ≠ v);
/// * without one: each positive value predicate holds on some entry, and each
///   `neq(value, v)` means no entry has value `v`.
fn pair_group<'a>(
    entries: &[(String, Value)],
    group: impl Iterator<Item = &'a Comparison> + Clone,
) -> bool {
    let side = |c: &Comparison| c.field.pair().expect("pair field").1;
    let absent = group
        .clone()
        .filter(|c| side(c) == Side::Key && c.op == Op::Neq)
        .all(|c| {
            !entries
                .iter()
                .any(|(k, _)| key_matches(Op::Eq, k, &c.value))
        });
    if !absent {
        return false;
    }
    let positive_key = group
        .clone()
        .any(|c| side(c) == Side::Key && c.op != Op::Neq);
    if positive_key {
        entries.iter().any(|(k, v)| {
            group.clone().all(|c| match side(c) {
                Side::Key => c.op == Op::Neq || key_matches(c.op, k, &c.value),
                Side::Value => value_matches(c.op, v, &c.value),
            })
        })
    } else {
        group
            .filter(|c| side(c) == Side::Value)
            .all(|c| match c.op {
                Op::Neq => !entries
                    .iter()
                    .any(|(_, v)| value_matches(Op::Eq, v, &c.value)),
                op => entries.iter().any(|(_, v)| value_matches(op, v, &c.value)),
            })
    }
}

fn key_matches(op: Op, key: &str, lit: &Literal) -> bool {
    match (op, lit) {
        (Op::Eq, Literal::Str(s)) => key == s,
        (Op::Neq, Literal::Str(s)) => key != s,
        (Op::In, Literal::List(items)) => items.iter().any(|i| key_matches(Op::Eq, key, i)),
        (Op::Like, Literal::Str(p)) => like(key, p),
        _ => false,
    }
}

/// An entry's JSON value against a literal; JSON null is a missing value.
fn value_matches(op: Op, v: &Value, lit: &Literal) -> bool {
    let present = (!v.is_null()).then_some(v);
    compare(op, present, lit, &json_order, &|v, p| match v {
        Value::String(s) => like(s, p),
        other => like(&scalar_text(other), p),
    })
}

/// Values compare by JSON type: strings with strings, numbers numerically, booleans with
/// booleans. A string literal against a number matches the number's text (`'5'` = 5) and
/// orders numerically when it is numeric; a number literal against a numeric string compares
/// numerically; a boolean against a string compares `"true"`/`"false"`.
fn json_order(v: &Value, lit: &Literal) -> Option<Ordering> {
    match (v, lit) {
        (Value::String(s), Literal::Str(l)) => Some(s.as_str().cmp(l)),
        (Value::String(s), Literal::Num(n)) => s.trim().parse::<f64>().ok()?.partial_cmp(n),
        (Value::String(s), Literal::Bool(b)) => Some(s.as_str().cmp(bool_text(*b))),
        (Value::Number(x), Literal::Num(n)) => x.as_f64()?.partial_cmp(n),
        (Value::Number(x), Literal::Str(l)) => {
            let text = x.to_string();
            if text == *l {
                Some(Ordering::Equal)
            } else if let Ok(n) = l.trim().parse::<f64>() {
                x.as_f64()?.partial_cmp(&n)
            } else {
                Some(text.as_str().cmp(l))
            }
        }
        (Value::Bool(b), Literal::Bool(l)) => Some(b.cmp(l)),
        (Value::Bool(b), Literal::Str(l)) => Some(bool_text(*b).cmp(l)),
        (Value::Array(_) | Value::Object(_), Literal::Str(l)) => {
            Some(v.to_string().as_str().cmp(l))
        }
        _ => None,
    }
}

fn bool_text(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The comparison skeleton shared by every field:
///
/// * `in(f, [...])`: `eq` against some item;
/// * against `null`: `eq` ⇔ missing, `neq` ⇔ present, anything else false;
/// * a missing value (absent or null) satisfies only `neq` with a non-null literal;
/// * `like` matches text; the rest use `order` (no order between mismatched types: only
///   `neq` holds).
fn compare<T: ?Sized>(
    op: Op,
    value: Option<&T>,
    lit: &Literal,
    order: &dyn Fn(&T, &Literal) -> Option<Ordering>,
    text_like: &dyn Fn(&T, &str) -> bool,
) -> bool {
    match (op, lit) {
        (Op::In, Literal::List(items)) => items
            .iter()
            .any(|i| compare(Op::Eq, value, i, order, text_like)),
        (_, Literal::Null) => match op {
            Op::Eq => value.is_none(),
            Op::Neq => value.is_some(),
            _ => false,
        },
        _ => match value {
            None => op == Op::Neq,
            Some(v) => match (op, lit) {
                (Op::Like, Literal::Str(p)) => text_like(v, p),
                (Op::Like, _) => false,
                _ => ordered(op, order(v, lit)),
            },
        },
    }
}

fn ordered(op: Op, ord: Option<Ordering>) -> bool {
    match (op, ord) {
        (Op::Neq, None) => true,
        (_, None) => false,
        (Op::Eq, Some(o)) => o == Ordering::Equal,
        (Op::Neq, Some(o)) => o != Ordering::Equal,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Gte, Some(o)) => o != Ordering::Less,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Lte, Some(o)) => o != Ordering::Greater,
        (Op::Has | Op::In | Op::Like, _) => false,
    }
}

fn text(op: Op, value: Option<&str>, lit: &Literal) -> bool {
    compare(
        op,
        value,
        lit,
        &|v, l| match l {
            Literal::Str(s) => Some(v.cmp(s.as_str())),
            _ => None,
        },
        &|v, p| like(v, p),
    )
}

fn number(op: Op, value: Option<f64>, lit: &Literal) -> bool {
    compare(
        op,
        value.as_ref(),
        lit,
        &|v, l| match l {
            Literal::Num(n) => v.partial_cmp(n),
            _ => None,
        },
        &|_, _| false,
    )
}

fn time(op: Op, value: Option<i64>, lit: &Literal) -> bool {
    compare(
        op,
        value.as_ref(),
        lit,
        &|v, l| match l {
            Literal::Time(t) => Some(v.cmp(t)),
            _ => None,
        },
        &|_, _| false,
    )
}

fn compare_field(c: &Comparison, run: &RunFacts) -> bool {
    let (op, lit) = (c.op, &c.value);
    let s = |v: &Option<String>| text(op, v.as_deref(), lit);
    match c.field {
        Field::Id => text(op, Some(&run.id), lit),
        Field::Name => s(&run.name),
        // Both sides are lower-case already (the parser lowers the literal).
        Field::RunType => s(&run.run_type),
        Field::Status => s(&run.status),
        Field::Error => s(&run.error),
        Field::ThreadId => s(&run.thread_id),
        Field::TraceId => s(&run.trace_id),
        Field::ParentRunId => s(&run.parent_run_id),
        Field::SessionId => s(&run.session_id),
        Field::ReferenceExampleId => s(&run.reference_example_id),
        Field::StartTime => time(op, run.start_us, lit),
        Field::EndTime => time(op, run.end_us, lit),
        Field::FirstTokenTime => time(op, run.first_token_us, lit),
        Field::Latency => number(op, run.latency, lit),
        Field::TotalTokens => number(op, run.total_tokens, lit),
        Field::PromptTokens => number(op, run.prompt_tokens, lit),
        Field::CompletionTokens => number(op, run.completion_tokens, lit),
        Field::TotalCost => number(op, run.total_cost, lit),
        Field::PromptCost => number(op, run.prompt_cost, lit),
        Field::CompletionCost => number(op, run.completion_cost, lit),
        Field::ExecutionOrder => number(op, run.execution_order, lit),
        Field::IsRoot => compare(
            op,
            run.is_root.as_ref(),
            lit,
            &|v, l| match l {
                Literal::Bool(b) => Some(v.cmp(b)),
                _ => None,
            },
            &|_, _| false,
        ),
        Field::Tags => {
            let has =
                |lit: &Literal| matches!(lit, Literal::Str(s) if run.tags.iter().any(|t| t == s));
            match (op, lit) {
                (Op::Has | Op::Eq, lit) => has(lit),
                (Op::Neq, lit) => !has(lit),
                (Op::In, Literal::List(items)) => items.iter().any(has),
                (Op::Like, Literal::Str(p)) => run.tags.iter().any(|t| like(t, p)),
                _ => false,
            }
        }
        Field::Metadata => match (op, lit) {
            (Op::Has, Literal::Json(Value::Object(want))) => want.iter().all(|(k, wv)| {
                run.metadata
                    .iter()
                    .any(|(mk, mv)| mk == k && contains(mv, wv))
            }),
            _ => false,
        },
        // The parser only lets these into search(); pair fields are evaluated in groups.
        Field::Inputs | Field::Outputs => false,
        Field::FeedbackKey
        | Field::FeedbackScore
        | Field::MetadataKey
        | Field::MetadataValue
        | Field::InputKey
        | Field::InputValue
        | Field::OutputKey
        | Field::OutputValue => pair_group(
            run.entries(c.field.pair().expect("pair field").0),
            std::iter::once(c),
        ),
    }
}

/// Case-insensitive substring search; `needle` is lower-case (the parser lowers it).
fn search(field: Option<Field>, needle: &str, run: &RunFacts) -> bool {
    let lower_contains = |s: Option<&str>| s.is_some_and(|s| s.to_lowercase().contains(needle));
    let keys = |pair: Pair| {
        run.entries(pair)
            .iter()
            .any(|(k, _)| k.to_lowercase().contains(needle))
    };
    let section = |s: Section| run.text(s).contains(needle);
    if needle.contains(SEP) {
        return false; // the separator of the search text; no string holds it
    }
    match field {
        None => run.all_text().contains(needle),
        Some(f) => match f {
            Field::Name => section(Section::Name),
            Field::Error => section(Section::Error),
            Field::Inputs | Field::InputValue => section(Section::Inputs),
            Field::Outputs | Field::OutputValue => section(Section::Outputs),
            Field::Tags => section(Section::Tags),
            Field::Metadata | Field::MetadataValue => section(Section::Metadata),
            Field::MetadataKey => keys(Pair::Metadata),
            Field::InputKey => keys(Pair::Input),
            Field::OutputKey => keys(Pair::Output),
            Field::FeedbackKey => keys(Pair::Feedback),
            Field::Id => lower_contains(Some(&run.id)),
            Field::RunType => lower_contains(run.run_type.as_deref()),
            Field::Status => lower_contains(run.status.as_deref()),
            Field::ThreadId => lower_contains(run.thread_id.as_deref()),
            Field::TraceId => lower_contains(run.trace_id.as_deref()),
            Field::ParentRunId => lower_contains(run.parent_run_id.as_deref()),
            Field::SessionId => lower_contains(run.session_id.as_deref()),
            Field::ReferenceExampleId => lower_contains(run.reference_example_id.as_deref()),
            // Not searchable; the parser rejects them.
            _ => false,
        },
    }
}

/// Does `have` contain `want`: objects by subset, arrays by membership, scalars by equality
/// (numbers numerically).
fn contains(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => w
            .iter()
            .all(|(k, wv)| h.get(k).is_some_and(|hv| contains(hv, wv))),
        (Value::Array(h), Value::Array(w)) => {
            w.iter().all(|wv| h.iter().any(|hv| contains(hv, wv)))
        }
        (Value::Array(h), w) => h.iter().any(|hv| contains(hv, w)),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (h, w) => h == w,
    }
}

/// SQL LIKE, case-sensitive: `%` matches any run of characters, `_` exactly one, and a
/// backslash makes the next character literal (`\%`, `\_`, `\\`).
pub fn like(text: &str, pattern: &str) -> bool {
    enum P {
        Any,
        One,
        Lit(char),
    }
    /// The pattern token at byte `i` and its length in bytes.
    fn token(p: &str, i: usize) -> (P, usize) {
        let mut chars = p[i..].chars();
        match chars.next().expect("in bounds") {
            '%' => (P::Any, 1),
            '_' => (P::One, 1),
            '\\' => match chars.next() {
                Some(c) => (P::Lit(c), 1 + c.len_utf8()),
                None => (P::Lit('\\'), 1),
            },
            c => (P::Lit(c), c.len_utf8()),
        }
    }
    let next_char_len = |i: usize| text[i..].chars().next().map_or(0, char::len_utf8);
    let (mut ti, mut pi) = (0, 0);
    // After a `%`: where the pattern resumes and where in the text that attempt started.
    let mut backtrack: Option<(usize, usize)> = None;
    loop {
        if pi < pattern.len() {
            let (tok, len) = token(pattern, pi);
            let step = match tok {
                P::Any => {
                    backtrack = Some((pi + len, ti));
                    pi += len;
                    continue;
                }
                P::One if ti < text.len() => Some(next_char_len(ti)),
                P::Lit(c) if text[ti..].starts_with(c) => Some(c.len_utf8()),
                _ => None,
            };
            if let Some(n) = step {
                ti += n;
                pi += len;
                continue;
            }
        } else if ti == text.len() {
            return true;
        }
        // Mismatch: let the last `%` swallow one more character, or fail.
        match backtrack {
            Some((p, t)) if t < text.len() => {
                let t = t + next_char_len(t);
                backtrack = Some((p, t));
                pi = p;
                ti = t;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse, trace_filter_matches, tree_filter_matches};
    use super::*;
    use crate::model::Run;

    fn facts(json: &str) -> RunFacts {
        RunFacts::from_run(&Run::from_json(json).unwrap())
    }

    /// A finished root run (5.5 s) with `extra` fields spliced in.
    fn run(extra: &str) -> RunFacts {
        facts(&format!(
            r#"{{"id":"r","name":"n","run_type":"llm","status":"success","start_time":"2026-01-01T00:00:00",
                "end_time":"2026-01-01T00:00:05.5","error":null,"trace_id":"r","parent_run_id":null{}{extra}}}"#,
            if extra.is_empty() { "" } else { "," }
        ))
    }

    fn m(filter: &str, run: &RunFacts) -> bool {
        parse(filter)
            .unwrap_or_else(|e| panic!("{}", e.render(filter)))
            .matches(run)
    }

    fn expect(run: &RunFacts, cases: &[(&str, bool)]) {
        for (filter, want) in cases {
            assert_eq!(m(filter, run), *want, "{filter} should be {want}");
        }
    }

    #[test]
    fn feedback_key_and_score_bind_to_one_entry() {
        let r = run(
            r#""feedback":[{"key":"user_score","score":0},{"key":"star_rating","score":5},{"key":"tone","value":"x"}]"#,
        );
        expect(
            &r,
            &[
                (
                    r#"and(eq(feedback_key, "user_score"), eq(feedback_score, 5))"#,
                    false,
                ),
                (
                    r#"and(eq(feedback_key, "star_rating"), eq(feedback_score, 5))"#,
                    true,
                ),
                (
                    r#"and(eq(feedback_key, "user_score"), lt(feedback_score, 1))"#,
                    true,
                ),
                (
                    r#"and(eq(feedback_key, "star_rating"), gt(feedback_score, 4))"#,
                    true,
                ),
                (
                    r#"and(eq(feedback_key, "star_rating"), gt(feedback_score, 5))"#,
                    false,
                ),
                (
                    r#"and(eq(feedback_key, "tone"), eq(feedback_score, null))"#,
                    true,
                ),
                (
                    r#"and(eq(feedback_key, "tone"), gt(feedback_score, 0))"#,
                    false,
                ),
                (
                    r#"and(in(feedback_key, ["a", "user_score"]), eq(feedback_score, 0))"#,
                    true,
                ),
                (r#"eq(feedback_key, "user_score")"#, true),
                (r#"eq(feedback_key, "Correctness")"#, false),
                (r#"neq(feedback_key, "Correctness")"#, true),
                (r#"neq(feedback_key, "user_score")"#, false),
                // A lone score predicate: some entry scores so.
                ("gt(feedback_score, 4)", true),
                ("gt(feedback_score, 5)", false),
                ("neq(feedback_score, 5)", false),
                // In an or(), each comparison stands alone.
                (
                    r#"or(eq(feedback_key, "user_score"), eq(feedback_score, 99))"#,
                    true,
                ),
                // Nested and() binds separately from the outer one.
                (
                    r#"and(eq(feedback_key, "user_score"), and(eq(feedback_score, 5)))"#,
                    true,
                ),
            ],
        );
        // Without the extension list, feedback_stats averages stand in.
        let s = run(
            r#""feedback_stats":{"star_rating":{"n":2,"avg":4.5},"user_score":{"n":1,"avg":1}}"#,
        );
        expect(
            &s,
            &[
                (
                    r#"and(eq(feedback_key, "star_rating"), gt(feedback_score, 4))"#,
                    true,
                ),
                (
                    r#"and(eq(feedback_key, "user_score"), gt(feedback_score, 4))"#,
                    false,
                ),
                (
                    r#"and(eq(feedback_key, "user_score"), eq(feedback_score, 1))"#,
                    true,
                ),
            ],
        );
        assert!(!m(r#"eq(feedback_key, "user_score")"#, &run("")));
    }

    #[test]
    fn metadata_pairs_follow_the_documented_cases() {
        let r = run(
            r#""extra":{"metadata":{"conversation_id":"c1","user_id":"u1","other":"v","n":5,"flag":true,"gone":null}}"#,
        );
        expect(
            &r,
            &[
                // Presence.
                ("eq(metadata_key, 'user_id')", true),
                ("eq(metadata_key, 'thread_id')", false),
                // Bound pair.
                (
                    "and(eq(metadata_key, 'user_id'), eq(metadata_value, 'u1'))",
                    true,
                ),
                (
                    "and(eq(metadata_key, 'user_id'), eq(metadata_value, 'c1'))",
                    false,
                ), // value under another key
                // Absence, not "some other key exists".
                ("and(neq(metadata_key, 'thread_id'))", true),
                ("and(neq(metadata_key, 'user_id'))", false),
                ("neq(metadata_key, 'user_id')", false),
                // Key present with a different value.
                (
                    "and(eq(metadata_key, 'user_id'), neq(metadata_value, 'u2'))",
                    true,
                ),
                (
                    "and(eq(metadata_key, 'user_id'), neq(metadata_value, 'u1'))",
                    false,
                ),
                (
                    "and(eq(metadata_key, 'thread_id'), neq(metadata_value, 'u1'))",
                    false,
                ),
                // No key k and value v nowhere.
                (
                    "and(neq(metadata_key, 'thread_id'), neq(metadata_value, 'nowhere'))",
                    true,
                ),
                (
                    "and(neq(metadata_key, 'thread_id'), neq(metadata_value, 'v'))",
                    false,
                ),
                (
                    "and(neq(metadata_key, 'user_id'), neq(metadata_value, 'nowhere'))",
                    false,
                ),
                // No key k, value v present under some other key.
                (
                    "and(neq(metadata_key, 'thread_id'), eq(metadata_value, 'v'))",
                    true,
                ),
                (
                    "and(neq(metadata_key, 'other'), eq(metadata_value, 'v'))",
                    false,
                ),
                (
                    "and(neq(metadata_key, 'thread_id'), eq(metadata_value, 'absent'))",
                    false,
                ),
                // Any of several keys has the value.
                (
                    r#"and(in(metadata_key, ["session_id","conversation_id","thread_id"]), eq(metadata_value, "c1"))"#,
                    true,
                ),
                (
                    r#"and(in(metadata_key, ["session_id","thread_id"]), eq(metadata_value, "c1"))"#,
                    false,
                ),
                (
                    r#"and(in(metadata_key, ["conversation_id","user_id"]), eq(metadata_value, "u1"))"#,
                    true,
                ),
                // Lone value predicates.
                ("eq(metadata_value, 'v')", true),
                ("eq(metadata_value, 'nope')", false),
                ("neq(metadata_value, 'nope')", true),
                ("neq(metadata_value, 'v')", false),
                // Non-string values: numbers numerically or by text, booleans, null.
                ("and(eq(metadata_key, 'n'), eq(metadata_value, 5))", true),
                ("and(eq(metadata_key, 'n'), eq(metadata_value, '5'))", true),
                ("and(eq(metadata_key, 'n'), gt(metadata_value, 4))", true),
                ("and(eq(metadata_key, 'n'), lt(metadata_value, 4.5))", false),
                (
                    "and(eq(metadata_key, 'n'), gt(metadata_value, '10'))",
                    false,
                ),
                (
                    "and(eq(metadata_key, 'flag'), eq(metadata_value, true))",
                    true,
                ),
                (
                    "and(eq(metadata_key, 'flag'), eq(metadata_value, 'true'))",
                    true,
                ),
                (
                    "and(eq(metadata_key, 'flag'), eq(metadata_value, false))",
                    false,
                ),
                (
                    "and(eq(metadata_key, 'gone'), eq(metadata_value, null))",
                    true,
                ),
                (
                    "and(eq(metadata_key, 'gone'), neq(metadata_value, null))",
                    false,
                ),
                (
                    "and(eq(metadata_key, 'user_id'), eq(metadata_value, 5))",
                    false,
                ),
                // like on keys and values.
                (
                    "and(like(metadata_key, '%_id'), eq(metadata_value, 'u1'))",
                    true,
                ),
                (
                    "and(like(metadata_key, 'conv%'), like(metadata_value, 'u%'))",
                    false,
                ),
                // Whole-object containment.
                (r#"has(metadata, '{"user_id": "u1"}')"#, true),
                (r#"has(metadata, '{"user_id": "u1", "n": 5.0}')"#, true),
                (r#"has(metadata, '{"user_id": "u2"}')"#, false),
                (r#"has(metadata, '{"missing": null}')"#, false),
                // Threads come from metadata when the run has no thread_id.
                ("eq(thread_id, 'c1')", true),
            ],
        );
        let empty = run("");
        expect(
            &empty,
            &[
                ("eq(metadata_key, 'user_id')", false),
                ("neq(metadata_key, 'user_id')", true),
                ("eq(metadata_value, 'x')", false),
                ("neq(metadata_value, 'x')", true),
                (
                    "and(neq(metadata_key, 'k'), eq(metadata_value, 'v'))",
                    false,
                ),
            ],
        );
        // v2 runs carry metadata at the top level.
        let v2 = facts(r#"{"id":"x","metadata":{"environment":"production"}}"#);
        assert!(m(
            "and(eq(metadata_key, 'environment'), eq(metadata_value, 'production'))",
            &v2
        ));
    }

    #[test]
    fn input_and_output_keys_are_dotted_paths() {
        let r = run(
            r#""inputs":{"messages":[{"content":"hello world","role":"user"},{"content":"bye","role":"ai"}],"k":3,"cfg":{"deep":{"x":"y"}}},
               "outputs":{"answer":{"text":"done"},"score":0.5}"#,
        );
        expect(
            &r,
            &[
                (
                    r#"and(eq(input_key, "messages.content"), like(input_value, "%world"))"#,
                    true,
                ),
                (
                    r#"and(eq(input_key, "messages.role"), like(input_value, "%world"))"#,
                    false,
                ),
                (
                    r#"and(eq(input_key, "messages.role"), eq(input_value, "ai"))"#,
                    true,
                ),
                (
                    r#"and(eq(input_key, "messages.content"), eq(input_value, "bye"))"#,
                    true,
                ),
                (
                    r#"and(eq(input_key, "cfg.deep.x"), eq(input_value, "y"))"#,
                    true,
                ),
                (r#"eq(input_key, "cfg.deep")"#, false), // leaves only
                (r#"eq(input_key, "messages.content")"#, true),
                (r#"and(eq(input_key, "k"), gte(input_value, 3))"#, true),
                (
                    r#"and(neq(input_key, "messages.content"), eq(input_value, "y"))"#,
                    false,
                ),
                (r#"and(neq(input_key, "nope"), eq(input_value, "y"))"#, true),
                (
                    r#"and(eq(output_key, "answer.text"), eq(output_value, "done"))"#,
                    true,
                ),
                (
                    r#"and(eq(output_key, "score"), gt(output_value, 0.25))"#,
                    true,
                ),
                (
                    r#"and(eq(output_key, "answer.text"), eq(input_value, "done"))"#,
                    false,
                ),
                (r#"eq(output_value, "hello world")"#, false),
                (r#"search(inputs, "HELLO")"#, true),
                (r#"search(outputs, "hello")"#, false),
                (r#"search(input_key, "deep")"#, true),
                (r#"search("DONE")"#, true),
            ],
        );
    }

    #[test]
    fn latency_numbers_and_durations() {
        let r = run(""); // 5.5 s
        expect(
            &r,
            &[
                (r#"gt(latency, "5s")"#, true),
                ("gt(latency, 5)", true),
                ("gt(latency, 5.5)", false),
                ("gte(latency, 5.5)", true),
                (r#"gt(latency, "5500ms")"#, false),
                (r#"gte(latency, "5500ms")"#, true),
                (r#"gt(latency, "500ms")"#, true),
                (r#"lt(latency, "1m")"#, true),
                (r#"eq(latency, "5.5s")"#, true),
                (r#"in(latency, [1, "5.5s"])"#, true),
                ("neq(latency, null)", true),
            ],
        );
        let pending = facts(r#"{"id":"p","start_time":"2026-01-01T00:00:00","end_time":null}"#);
        expect(
            &pending,
            &[
                ("gt(latency, 0)", false),
                ("lt(latency, 100)", false),
                ("eq(latency, 0)", false),
                ("eq(latency, null)", true),
                ("neq(latency, 3)", true),
            ],
        );
    }

    #[test]
    fn nulls_missing_values_and_types() {
        let ok = run("");
        let bad = facts(
            r#"{"id":"b","error":"ValueError: boom","tags":["beta","2aa1cf4"],"name":"X","run_type":"LLM",
                "status":"Error","total_tokens":12,"total_cost":"0.002","start_time":"2023-07-15T12:34:57Z",
                "parent_run_id":"p","trace_id":"t"}"#,
        );
        expect(
            &ok,
            &[
                ("neq(error, null)", false),
                ("eq(error, null)", true),
                ("eq(error, 'x')", false),
                ("gt(total_tokens, 0)", false), // absent
                ("lt(total_tokens, 10)", false),
                ("eq(total_tokens, null)", true),
                ("neq(total_tokens, 5)", true),
                ("in(total_tokens, [1, null])", true),
                ("eq(is_root, true)", true),
                ("like(error, '%')", false),
            ],
        );
        expect(
            &bad,
            &[
                ("neq(error, null)", true),
                ("like(error, 'ValueError%')", true),
                ("like(error, 'valueerror%')", false),
                (r#"eq(run_type, "llm")"#, true),
                (r#"eq(run_type, "LLM")"#, true),
                (r#"eq(status, "error")"#, true),
                (r#"neq(status, "error")"#, false),
                (r#"in(status, ["pending", "ERROR"])"#, true),
                (r#"eq(name, "x")"#, false), // names compare exactly
                (r#"eq(name, "X")"#, true),
                ("gt(total_tokens, 11)", true),
                ("in(total_tokens, [11, 12])", true),
                ("gt(total_cost, 0.001)", true),
                ("lte(total_cost, '0.002')", true),
                ("eq(is_root, false)", true),
                ("neq(is_root, true)", true),
                (r#"gt(start_time, "2023-07-15T12:34:56Z")"#, true),
                (r#"gt(start_time, "2023-07-15T12:34:57Z")"#, false),
                (r#"gte(start_time, "2023-07-15T14:34:57+02:00")"#, true),
                (r#"lt(end_time, "2030-01-01")"#, false), // no end time
                (r#"gt(id, "a")"#, true),
            ],
        );
    }

    #[test]
    fn tags_and_search() {
        let r = facts(
            r#"{"id":"s","name":"Image Classifier","tags":["beta","2aa1cf4"],"error":null,
                "inputs":{"q":"Classify this IMAGE"},"outputs":{"label":"cat"},
                "extra":{"metadata":{"env":"Production","deep":{"note":"Résumé"}}}}"#,
        );
        expect(
            &r,
            &[
                (r#"has(tags, "2aa1cf4")"#, true),
                (r#"has(tags, "2aa1cf")"#, false),
                (r#"eq(tags, "beta")"#, true),
                (r#"neq(tags, "beta")"#, false),
                (r#"neq(tags, "alpha")"#, true),
                (r#"in(tags, ["x", "beta"])"#, true),
                (r#"in(tags, ["x", "y"])"#, false),
                (r#"like(tags, "2aa%")"#, true),
                (r#"search("image classifier")"#, true),
                (r#"search("IMAGE")"#, true),
                (r#"search("production")"#, true), // metadata value
                (r#"search("résumé")"#, true),     // nested metadata, non-ASCII case folding
                (r#"search("env")"#, false),       // keys are not content
                (r#"search("cat")"#, true),
                (r#"search("2aa1")"#, true),
                (r#"search("classifier\u0000classify")"#, false), // never across two strings
                (r#"search(name, "classifier")"#, true),
                (r#"search(name, "cat")"#, false),
                (r#"search(tags, "bet")"#, true),
                (r#"search(metadata, "prod")"#, true),
                (r#"search(metadata_key, "en")"#, true),
                (r#"search(error, "x")"#, false),
                (r#"search(id, "S")"#, true),
                (r#"not(search("dog"))"#, true),
            ],
        );
    }

    #[test]
    fn logic() {
        let r = run(r#""tags":["experimental"]"#);
        expect(
            &r,
            &[
                (
                    r#"and(or(has(tags, "experimental"), has(tags, "beta")), gt(latency, 2))"#,
                    true,
                ),
                (
                    r#"and(or(has(tags, "experimental"), has(tags, "beta")), gt(latency, 6))"#,
                    false,
                ),
                (r#"or(has(tags, "beta"), eq(name, "n"))"#, true),
                (r#"or(has(tags, "beta"))"#, false),
                (r#"not(has(tags, "beta"))"#, true),
                (r#"and(eq(name, "n"))"#, true),
                (r#"not(and(eq(name, "n"), not(eq(run_type, "llm"))))"#, true),
            ],
        );
    }

    #[test]
    fn trace_and_tree_scopes() {
        let root = facts(
            r#"{"id":"t","trace_id":"t","parent_run_id":null,"name":"agent","feedback":[{"key":"user_score","score":1}]}"#,
        );
        let child = facts(r#"{"id":"c","trace_id":"t","parent_run_id":"t","name":"RetrieveDocs"}"#);
        let sibling =
            facts(r#"{"id":"s","trace_id":"t","parent_run_id":"t","name":"ExpandQuery"}"#);
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
        assert!(
            tree_filter_matches(&tree, [&sibling]),
            "the candidate itself counts"
        );
        assert!(!tree_filter_matches(&tree, std::iter::empty()));
        let on_root = parse(r#"eq(name, "agent")"#).unwrap();
        assert!(
            tree_filter_matches(&on_root, vec![&child, &root]),
            "the root counts"
        );
    }

    #[test]
    fn like_patterns() {
        for (text, pattern, want) in [
            ("messages.content", "%content", true),
            ("messages.content", "messages.%", true),
            ("abc", "a_c", true),
            ("abc", "a_", false),
            ("abc", "%b%", true),
            ("abc", "%d%", false),
            ("", "%", true),
            ("", "_", false),
            ("", "", true),
            ("a", "", false),
            ("ABC", "abc", false),
            ("a%b", "a\\%b", true),
            ("axb", "a\\%b", false),
            ("a_b", "a\\_b", true),
            ("a\\b", "a\\\\b", true),
            ("héllo wörld", "h_llo%w_rld", true),
            ("mississippi", "%iss%ppi", true),
            ("mississippi", "%iss%ppx", false),
            ("aaa", "%a%a%a%a", false),
            ("trailing\\", "trailing\\", true),
        ] {
            assert_eq!(like(text, pattern), want, "like({text:?}, {pattern:?})");
        }
    }

    #[test]
    fn fields_and_search_detection() {
        let e = parse(
            r#"and(eq(name, "x"), or(gt(latency, 1), search("y")), eq(name, "z"), search(inputs, "q"))"#,
        )
        .unwrap();
        assert_eq!(e.fields(), vec![Field::Name, Field::Latency, Field::Inputs]);
        assert!(e.uses_search());
        assert!(!parse("gt(total_tokens, 1)").unwrap().uses_search());
        assert!(parse(r#"not(search("x"))"#).unwrap().uses_search());
    }
}
