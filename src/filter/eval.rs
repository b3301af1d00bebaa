//! Evaluation over [`RunFacts`], with LangSmith's binding of key/value predicates (§5.5).

use std::cmp::Ordering;

use serde_json::Value;

use super::ast::{Comparison, Expr, Field, Literal, Op, Pair, Side};
use super::facts::RunFacts;

impl Expr {
    /// Whether one run matches.
    pub fn matches(&self, run: &RunFacts) -> bool {
        match self {
            Expr::And(items) => and(items, run),
            Expr::Or(items) => items.iter().any(|e| e.matches(run)),
            Expr::Not(e) => !e.matches(run),
            Expr::Cmp(c) => match c.field.pair() {
                Some((pair, _)) => pair_group(pair, &[c], run),
                None => compare_field(c, run),
            },
            Expr::Search { field, text } => search(*field, text, run),
        }
    }
}

/// `trace_filter`: the trace's root matches (no root known, no match).
pub fn trace_filter_matches(expr: &Expr, root: Option<&RunFacts>) -> bool {
    root.is_some_and(|r| expr.matches(r))
}

/// `tree_filter`: some run of the trace matches — root, siblings and the candidate included.
pub fn tree_filter_matches<'a>(
    expr: &Expr,
    trace_runs: impl IntoIterator<Item = &'a RunFacts>,
) -> bool {
    trace_runs.into_iter().any(|r| expr.matches(r))
}

/// `and(...)`: key/value comparisons of one family bind to one entry; the rest must all hold.
fn and(items: &[Expr], run: &RunFacts) -> bool {
    let mut groups: Vec<(Pair, Vec<&Comparison>)> = Vec::new();
    for item in items {
        match item {
            Expr::Cmp(c) if c.field.pair().is_some() => {
                let pair = c.field.pair().expect("checked").0;
                match groups.iter_mut().find(|(p, _)| *p == pair) {
                    Some((_, g)) => g.push(c),
                    None => groups.push((pair, vec![c])),
                }
            }
            other => {
                if !other.matches(run) {
                    return false;
                }
            }
        }
    }
    groups
        .iter()
        .all(|(pair, comparisons)| pair_group(*pair, comparisons, run))
}

/// An entry of a key/value family, for binding.
struct Entry<'a> {
    key: &'a str,
    value: EntryValue<'a>,
}

enum EntryValue<'a> {
    Json(&'a Value),
    Score(Option<f64>),
}

fn entries<'a>(pair: Pair, run: &'a RunFacts) -> Vec<Entry<'a>> {
    let kv = |list: &'a [(String, Value)]| {
        list.iter()
            .map(|(k, v)| Entry {
                key: k,
                value: EntryValue::Json(v),
            })
            .collect()
    };
    match pair {
        Pair::Metadata => kv(&run.metadata),
        Pair::Input => kv(&run.inputs),
        Pair::Output => kv(&run.outputs),
        Pair::Feedback => run
            .feedback
            .iter()
            .map(|f| Entry {
                key: &f.key,
                value: EntryValue::Score(f.score),
            })
            .collect(),
    }
}

/// §5.5: with a positive key predicate, one entry must satisfy every key and value predicate;
/// `neq` on the key means the key is absent; without a positive key predicate, each value
/// predicate stands alone (`neq` value = no entry has that value).
fn pair_group(pair: Pair, comparisons: &[&Comparison], run: &RunFacts) -> bool {
    let entries = entries(pair, run);
    let (keys, values): (Vec<&&Comparison>, Vec<&&Comparison>) = comparisons
        .iter()
        .partition(|c| c.field.pair().expect("pair field").1 == Side::Key);
    let (negative_keys, positive_keys): (Vec<&&Comparison>, Vec<&&Comparison>) =
        keys.into_iter().partition(|c| c.op == Op::Neq);
    let key_is = |key: &str, lit: &Literal| matches!(lit, Literal::Str(s) if s == key);
    let absent = negative_keys
        .iter()
        .all(|c| !entries.iter().any(|e| key_is(e.key, &c.value)));
    if !absent {
        return false;
    }
    if !positive_keys.is_empty() {
        return entries.iter().any(|e| {
            positive_keys
                .iter()
                .all(|c| compare_str(c.op, Some(e.key), &c.value))
                && values
                    .iter()
                    .all(|c| compare_entry_value(c.op, &e.value, &c.value))
        });
    }
    values.iter().all(|c| match c.op {
        Op::Neq => !entries
            .iter()
            .any(|e| compare_entry_value(Op::Eq, &e.value, &c.value)),
        op => entries
            .iter()
            .any(|e| compare_entry_value(op, &e.value, &c.value)),
    })
}

fn compare_entry_value(op: Op, value: &EntryValue, lit: &Literal) -> bool {
    match value {
        EntryValue::Json(v) => compare_json(op, v, lit),
        EntryValue::Score(s) => compare_num(op, *s, lit),
    }
}

fn compare_field(c: &Comparison, run: &RunFacts) -> bool {
    let text = |v: &Option<String>| compare_str(c.op, v.as_deref(), &c.value);
    match c.field {
        Field::Id => compare_str(c.op, Some(&run.id), &c.value),
        Field::Name => text(&run.name),
        Field::RunType => compare_str_ci(c.op, run.run_type.as_deref(), &c.value),
        Field::Status => compare_str_ci(c.op, run.status.as_deref(), &c.value),
        Field::Error => text(&run.error),
        Field::ThreadId => text(&run.thread_id),
        Field::TraceId => text(&run.trace_id),
        Field::ParentRunId => text(&run.parent_run_id),
        Field::SessionId => text(&run.session_id),
        Field::ReferenceExampleId => text(&run.reference_example_id),
        Field::StartTime => compare_time(c.op, run.start_us, &c.value),
        Field::EndTime => compare_time(c.op, run.end_us, &c.value),
        Field::FirstTokenTime => compare_time(c.op, run.first_token_us, &c.value),
        Field::Latency => compare_num(c.op, run.latency, &c.value),
        Field::TotalTokens => compare_num(c.op, run.total_tokens, &c.value),
        Field::PromptTokens => compare_num(c.op, run.prompt_tokens, &c.value),
        Field::CompletionTokens => compare_num(c.op, run.completion_tokens, &c.value),
        Field::TotalCost => compare_num(c.op, run.total_cost, &c.value),
        Field::PromptCost => compare_num(c.op, run.prompt_cost, &c.value),
        Field::CompletionCost => compare_num(c.op, run.completion_cost, &c.value),
        Field::ExecutionOrder => compare_num(c.op, run.execution_order, &c.value),
        Field::IsRoot => match (&c.value, run.is_root) {
            (Literal::Bool(want), Some(is)) => (c.op == Op::Eq) == (is == *want),
            (Literal::Null, is) => (c.op == Op::Eq) == is.is_none(),
            _ => false,
        },
        Field::Tags => {
            let has =
                |lit: &Literal| matches!(lit, Literal::Str(s) if run.tags.iter().any(|t| t == s));
            match (c.op, &c.value) {
                (Op::Has | Op::Eq, lit) => has(lit),
                (Op::Neq, lit) => !has(lit),
                (Op::In, Literal::List(items)) => items.iter().any(has),
                (Op::Like, Literal::Str(p)) => run.tags.iter().any(|t| like(t, p)),
                _ => false,
            }
        }
        Field::Metadata => match (c.op, &c.value) {
            (Op::Has, Literal::Str(blob)) => match serde_json::from_str::<Value>(blob) {
                Ok(want) => contains(&run.metadata_object, &want),
                Err(_) => false,
            },
            _ => false,
        },
        Field::Inputs => compare_str(c.op, Some(run.text_inputs.trim_end()), &c.value),
        Field::Outputs => compare_str(c.op, Some(run.text_outputs.trim_end()), &c.value),
        Field::FeedbackKey
        | Field::FeedbackScore
        | Field::MetadataKey
        | Field::MetadataValue
        | Field::InputKey
        | Field::InputValue
        | Field::OutputKey
        | Field::OutputValue => unreachable!("pair fields are evaluated in groups"),
    }
}

fn search(field: Option<Field>, text: &str, run: &RunFacts) -> bool {
    let needle = text.to_lowercase();
    let hay = |s: Option<&str>| s.is_some_and(|s| s.to_lowercase().contains(&needle));
    match field {
        None => run.text_all.contains(&needle),
        Some(Field::Inputs | Field::InputValue) => run.text_inputs.contains(&needle),
        Some(Field::Outputs | Field::OutputValue) => run.text_outputs.contains(&needle),
        Some(Field::Name) => hay(run.name.as_deref()),
        Some(Field::Error) => hay(run.error.as_deref()),
        Some(Field::Tags) => run.tags.iter().any(|t| hay(Some(t))),
        Some(Field::Metadata | Field::MetadataValue) => {
            run.metadata.iter().any(|(_, v)| hay(v.as_str()))
        }
        Some(_) => false,
    }
}

fn ordered(op: Op, ord: Option<Ordering>) -> bool {
    match (op, ord) {
        (Op::Eq, Some(o)) => o == Ordering::Equal,
        (Op::Neq, Some(o)) => o != Ordering::Equal,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Gte, Some(o)) => o != Ordering::Less,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Lte, Some(o)) => o != Ordering::Greater,
        _ => false,
    }
}

/// A missing value equals only `null`; `neq(x, null)` means present.
fn null_check(op: Op, present: bool, lit: &Literal) -> Option<bool> {
    match (lit, op) {
        (Literal::Null, Op::Eq) => Some(!present),
        (Literal::Null, Op::Neq) => Some(present),
        (Literal::Null, _) => Some(false),
        (_, Op::Neq) if !present => Some(true),
        _ if !present => Some(false),
        _ => None,
    }
}

fn compare_str(op: Op, value: Option<&str>, lit: &Literal) -> bool {
    if let Some(result) = null_check(op, value.is_some(), lit) {
        return result;
    }
    let v = value.expect("present");
    match (op, lit) {
        (Op::In, Literal::List(items)) => items.iter().any(|i| compare_str(Op::Eq, Some(v), i)),
        (Op::Like, Literal::Str(p)) => like(v, p),
        (op, Literal::Str(s)) => ordered(op, Some(v.cmp(s.as_str()))),
        (op, Literal::Num(n)) => ordered(op, v.parse::<f64>().ok().and_then(|x| x.partial_cmp(n))),
        (op, Literal::Bool(b)) => ordered(op, Some(v.cmp(if *b { "true" } else { "false" }))),
        _ => false,
    }
}

fn compare_str_ci(op: Op, value: Option<&str>, lit: &Literal) -> bool {
    let lower = |l: &Literal| match l {
        Literal::Str(s) => Literal::Str(s.to_ascii_lowercase()),
        Literal::List(items) => Literal::List(
            items
                .iter()
                .map(|i| match i {
                    Literal::Str(s) => Literal::Str(s.to_ascii_lowercase()),
                    other => other.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    };
    compare_str(op, value, &lower(lit))
}

fn compare_num(op: Op, value: Option<f64>, lit: &Literal) -> bool {
    if let Some(result) = null_check(op, value.is_some(), lit) {
        return result;
    }
    let v = value.expect("present");
    match (op, lit) {
        (Op::In, Literal::List(items)) => items.iter().any(|i| compare_num(Op::Eq, Some(v), i)),
        (op, Literal::Num(n)) => ordered(op, v.partial_cmp(n)),
        (op, Literal::Str(s)) => ordered(
            op,
            s.trim().parse::<f64>().ok().and_then(|n| v.partial_cmp(&n)),
        ),
        _ => false,
    }
}

fn compare_time(op: Op, value: Option<i64>, lit: &Literal) -> bool {
    if let Some(result) = null_check(op, value.is_some(), lit) {
        return result;
    }
    let v = value.expect("present");
    match (op, lit) {
        (Op::In, Literal::List(items)) => items.iter().any(|i| compare_time(Op::Eq, Some(v), i)),
        (op, Literal::Time(t)) => ordered(op, Some(v.cmp(t))),
        _ => false,
    }
}

/// A JSON value against a literal: strings with strings, numbers numerically (a string
/// literal against a number compares the number's text), booleans, null.
fn compare_json(op: Op, value: &Value, lit: &Literal) -> bool {
    match value {
        Value::Null => compare_str(op, None, lit),
        Value::String(s) => compare_str(op, Some(s), lit),
        Value::Bool(b) => match (op, lit) {
            (Op::Eq, Literal::Bool(l)) => b == l,
            (Op::Neq, Literal::Bool(l)) => b != l,
            (op, lit) => compare_str(op, Some(if *b { "true" } else { "false" }), lit),
        },
        Value::Number(n) => match lit {
            Literal::Str(_) | Literal::List(_)
                if matches!(op, Op::Eq | Op::Neq | Op::In | Op::Like) =>
            {
                compare_str(op, Some(&n.to_string()), lit)
                    || (op != Op::Neq && compare_num(op, n.as_f64(), lit))
            }
            _ => compare_num(op, n.as_f64(), lit),
        },
        other => compare_str(op, Some(&other.to_string()), lit),
    }
}

/// Does `have` contain `want` (objects by subset, arrays by membership, scalars by equality)?
fn contains(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => w
            .iter()
            .all(|(k, wv)| h.get(k).is_some_and(|hv| contains(hv, wv))),
        (Value::Array(h), Value::Array(w)) => {
            w.iter().all(|wv| h.iter().any(|hv| contains(hv, wv)))
        }
        (h, w) => h == w,
    }
}

/// SQL LIKE: `%` any run of characters, `_` exactly one; case-sensitive.
pub fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    // Iterative matcher with backtracking to the last `%`.
    let (mut ti, mut pi) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || p[pi] == t[ti]) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}
