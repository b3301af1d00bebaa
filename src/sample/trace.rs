//! One trace: a tree of runs laid out in time, then written as v1 Run JSON lines.

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use super::TENANT_ID;
use super::text::*;

pub struct TraceSpec<'a> {
    pub session: &'a str,
    pub start_us: i64,
    pub pending: bool,
    pub large: bool,
}

/// (run name, provider, model, $ per 1k prompt tokens, $ per 1k completion tokens)
type Model = (&'static str, &'static str, &'static str, f64, f64);

/// A run before it is placed in time.
struct Node {
    name: String,
    run_type: &'static str,
    inputs: Value,
    outputs: Value,
    /// Own duration in µs (a parent's grows to cover its children).
    own_us: i64,
    error: Option<String>,
    /// (prompt, completion) tokens and model prices, for LLM runs.
    llm: Option<(i64, i64, &'static Model)>,
    streaming: bool,
    children: Vec<Node>,
    feedback: Vec<Value>,
}

fn node(name: &str, run_type: &'static str, inputs: Value, outputs: Value, own_us: i64) -> Node {
    Node {
        name: name.into(),
        run_type,
        inputs,
        outputs,
        own_us,
        error: None,
        llm: None,
        streaming: false,
        children: vec![],
        feedback: vec![],
    }
}

fn fill(rng: &mut ChaCha8Rng, template: &str) -> String {
    template
        .replace("{n}", &rng.random_range(1000..99999).to_string())
        .replace("{topic}", TOPICS.choose(rng).expect("non-empty"))
        .replace("{city}", CITIES.choose(rng).expect("non-empty"))
}

fn question(rng: &mut ChaCha8Rng) -> String {
    let template = *QUESTIONS.choose(rng).expect("non-empty");
    let mut q = fill(rng, template);
    if rng.random_bool(0.12) {
        q = format!("{q} {}", NON_ASCII.choose(rng).expect("non-empty"));
    }
    if rng.random_bool(0.06) {
        q = format!("{q} {}", SEARCH_PHRASES.choose(rng).expect("non-empty"));
    }
    q
}

fn llm(rng: &mut ChaCha8Rng, prompt: &str, heavy: bool) -> Node {
    let model = MODELS.choose(rng).expect("non-empty");
    let answer = ANSWERS.choose(rng).expect("non-empty").to_string();
    let prompt_tokens = if heavy {
        rng.random_range(1800..4000)
    } else {
        rng.random_range(40..1200)
    };
    let completion_tokens = rng.random_range(10..400);
    let own = if heavy {
        rng.random_range(3_500_000..6_000_000)
    } else {
        rng.random_range(300_000..4_500_000)
    };
    let mut n = node(
        model.0,
        "llm",
        json!({"messages": [
            {"role": "system", "content": "You are a helpful assistant for an online shop."},
            {"role": "user", "content": prompt}
        ]}),
        json!({
            "generations": [[{"text": answer, "message": {"role": "assistant", "content": answer}}]],
            "llm_output": {"model_name": model.2, "token_usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}}
        }),
        own,
    );
    n.llm = Some((prompt_tokens, completion_tokens, model));
    n.streaming = rng.random_bool(0.4);
    n
}

fn tool(rng: &mut ChaCha8Rng) -> Node {
    let (name, input, output) = TOOLS.choose(rng).expect("non-empty");
    let input = fill(rng, input);
    let output = fill(rng, output);
    let own = rng.random_range(50_000..3_000_000);
    node(
        name,
        "tool",
        json!({"input": input}),
        json!({"output": output}),
        own,
    )
}

fn retriever(rng: &mut ChaCha8Rng, query: &str) -> Node {
    let k = rng.random_range(2..5);
    let docs: Vec<Value> = (0..k)
        .map(|_| {
            let i = rng.random_range(0..DOC_SNIPPETS.len());
            json!({"page_content": DOC_SNIPPETS[i], "metadata": {"source": SOURCES[i], "score": (rng.random_range(50..99) as f64) / 100.0}, "type": "Document"})
        })
        .collect();
    node(
        "RetrieveDocs",
        "retriever",
        json!({"query": query}),
        json!({"documents": docs}),
        rng.random_range(80_000..1_500_000),
    )
}

/// The shapes of trace a real application produces.
fn build(rng: &mut ChaCha8Rng) -> Node {
    let q = question(rng);
    let answer = ANSWERS.choose(rng).expect("non-empty").to_string();
    match rng.random_range(0..10) {
        // Agent: reason, call tools, reason again; sometimes long and token-heavy.
        0..=3 => {
            let heavy = rng.random_bool(0.25);
            let mut root = node(
                if rng.random_bool(0.5) {
                    "AgentExecutor"
                } else {
                    "support_agent"
                },
                "chain",
                json!({"input": q}),
                json!({"output": answer}),
                20_000,
            );
            let steps = rng.random_range(1..4);
            for _ in 0..steps {
                root.children.push(llm(rng, &q, heavy));
                for _ in 0..rng.random_range(1..3) {
                    root.children.push(tool(rng));
                }
            }
            if rng.random_bool(0.3) {
                let mut extractor = node(
                    "extractor",
                    "chain",
                    json!({"text": q}),
                    json!({"entities": ["order", "customer"]}),
                    10_000,
                );
                extractor.children.push(llm(rng, &q, false));
                root.children.push(extractor);
            }
            root.children.push(llm(rng, &q, heavy));
            root
        }
        // RAG: optional query expansion, retrieval, generation, parsing.
        4..=6 => {
            let mut root = node(
                "rag_pipeline",
                "chain",
                json!({"question": q}),
                json!({"answer": answer}),
                15_000,
            );
            if rng.random_bool(0.5) {
                let mut expand = node(
                    "ExpandQuery",
                    "chain",
                    json!({"question": q}),
                    json!({"queries": [q.clone(), format!("{q} (rephrased)")]}),
                    5_000,
                );
                expand.children.push(llm(rng, &q, false));
                root.children.push(expand);
            }
            for _ in 0..rng.random_range(1..3) {
                root.children.push(retriever(rng, &q));
            }
            root.children.push(llm(rng, &q, false));
            root.children.push(node(
                "StrOutputParser",
                "parser",
                json!({"input": answer}),
                json!({"output": answer}),
                rng.random_range(200..2_000),
            ));
            root
        }
        // Extraction with embeddings.
        7 => {
            let mut root = node(
                "extractor",
                "chain",
                json!({"text": q}),
                json!({"entities": ["invoice", "date"]}),
                10_000,
            );
            root.children.push(node(
                "OpenAIEmbeddings",
                "embedding",
                json!({"input": [q]}),
                json!({"embedding_dims": 1536}),
                rng.random_range(50_000..400_000),
            ));
            root.children.push(llm(rng, &q, false));
            root
        }
        // A bare model call.
        _ => llm(rng, &q, false),
    }
}

struct Placed {
    id: String,
    start_us: i64,
    end_us: Option<i64>,
}

/// Lays runs out in time depth-first (children run one after another inside their parent),
/// then emits them in `dotted_order` order.
struct Emitter<'a> {
    spec: &'a TraceSpec<'a>,
    rng: &'a mut ChaCha8Rng,
    lines: Vec<String>,
    trace_id: String,
    tags: Vec<String>,
    metadata: Map<String, Value>,
    thread: Option<String>,
    /// Pending traces are cut at this instant: runs not finished by then have no end.
    cut_us: Option<i64>,
}

fn uuid7(rng: &mut ChaCha8Rng, start_us: i64) -> String {
    let bytes: [u8; 10] = rng.random();
    uuid::Builder::from_unix_timestamp_millis((start_us / 1000) as u64, &bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

fn naive(us: i64) -> String {
    crate::model::format_naive_micros(
        &chrono::DateTime::from_timestamp_micros(us).expect("in range"),
    )
}

fn zoned(us: i64) -> String {
    format!("{}+00:00", naive(us))
}

fn dotted(us: i64, id: &str) -> String {
    let t = chrono::DateTime::from_timestamp_micros(us).expect("in range");
    format!("{}Z{id}", t.format("%Y%m%dT%H%M%S%6f"))
}

/// Token and cost totals of a subtree (LangSmith rolls LLM usage up to every ancestor).
#[derive(Default, Clone, Copy)]
struct Usage {
    prompt: i64,
    completion: i64,
    prompt_cost: f64,
    completion_cost: f64,
    has_cost: bool,
}

fn usage(n: &Node) -> Usage {
    let mut u = Usage::default();
    if let Some((p, c, model)) = n.llm {
        u = Usage {
            prompt: p,
            completion: c,
            prompt_cost: p as f64 / 1000.0 * model.3,
            completion_cost: c as f64 / 1000.0 * model.4,
            has_cost: true,
        };
    }
    for child in &n.children {
        let cu = usage(child);
        u.prompt += cu.prompt;
        u.completion += cu.completion;
        u.prompt_cost += cu.prompt_cost;
        u.completion_cost += cu.completion_cost;
        u.has_cost |= cu.has_cost;
    }
    u
}

impl Emitter<'_> {
    /// Places `n` starting at `start_us`; returns its end. Children are emitted after their
    /// parent line, which is written first (dotted order).
    fn emit(
        &mut self,
        n: &Node,
        start_us: i64,
        ancestors: &[(String, String)],
        depth: usize,
    ) -> i64 {
        if self.cut_us.is_some_and(|cut| start_us > cut) {
            return start_us; // not started yet when the data was cut
        }
        let id = if ancestors.is_empty() {
            self.trace_id.clone()
        } else {
            uuid7(self.rng, start_us)
        };
        let dotted_order = match ancestors.last() {
            Some((_, parent_dotted)) => format!("{parent_dotted}.{}", dotted(start_us, &id)),
            None => dotted(start_us, &id),
        };
        let slot = self.lines.len();
        self.lines.push(String::new());
        let mut path: Vec<(String, String)> = ancestors.to_vec();
        path.push((id.clone(), dotted_order.clone()));
        let mut cursor = start_us + self.rng.random_range(200..3_000);
        for child in &n.children {
            cursor =
                self.emit(child, cursor, &path, depth + 1) + self.rng.random_range(100..20_000);
        }
        let end_us = cursor.max(start_us) + n.own_us;
        let placed = Placed {
            id,
            start_us,
            end_us: self
                .cut_us
                .is_none_or(|cut| end_us <= cut)
                .then_some(end_us),
        };
        self.lines[slot] = self.line(n, &placed, ancestors, &dotted_order, depth);
        end_us
    }

    fn line(
        &mut self,
        n: &Node,
        p: &Placed,
        ancestors: &[(String, String)],
        dotted_order: &str,
        depth: usize,
    ) -> String {
        let rng = &mut *self.rng;
        let finished = p.end_us.is_some();
        let status = if !finished {
            "pending"
        } else if n.error.is_some() {
            "error"
        } else {
            "success"
        };
        let u = usage(n);
        let mut metadata = self.metadata.clone();
        metadata.insert("ls_run_depth".into(), json!(depth));
        let mut extra = json!({"runtime": {"sdk": "langsmith-py", "sdk_version": "0.11.1", "library": "langchain-core", "runtime": "python", "runtime_version": "3.12.4", "platform": "Linux-6.8-x86_64"}});
        let mut events = vec![json!({"name": "start", "time": zoned(p.start_us)})];
        let mut first_token = Value::Null;
        if let Some((_, _, model)) = n.llm {
            metadata.insert("ls_provider".into(), json!(model.1));
            metadata.insert("ls_model_name".into(), json!(model.2));
            metadata.insert("ls_model_type".into(), json!("chat"));
            extra["invocation_params"] = json!({"model": model.2, "temperature": (rng.random_range(0..8) as f64) / 10.0, "stream": n.streaming});
            if n.streaming && finished {
                let t = p.start_us + (p.end_us.expect("finished") - p.start_us) / 5;
                first_token = json!(naive(t));
                for (k, token) in ["It", " shipped", " yesterday"].iter().enumerate() {
                    events.push(json!({"name": "new_token", "time": zoned(t + k as i64 * 40_000), "kwargs": {"token": token}}));
                }
            }
        }
        if let Some(end) = p.end_us {
            events.push(json!({"name": "end", "time": zoned(end)}));
        }
        extra["metadata"] = Value::Object(metadata);
        // Costs arrive as numbers or as decimal strings, both seen from LangSmith.
        let as_string = rng.random_bool(0.5);
        let cost = |v: f64| -> Value {
            if !u.has_cost {
                Value::Null
            } else if as_string {
                json!(format!("{v:.6}"))
            } else {
                json!((v * 1e6).round() / 1e6)
            }
        };
        let is_llm = n.llm.is_some();
        let (parent, parent_ids): (Value, Vec<&String>) = match ancestors.last() {
            Some((pid, _)) => (json!(pid), ancestors.iter().map(|(id, _)| id).collect()),
            None => (Value::Null, vec![]),
        };
        let mut run = json!({
            "id": p.id,
            "name": n.name,
            "run_type": n.run_type,
            "status": status,
            "start_time": naive(p.start_us),
            "end_time": p.end_us.map(naive),
            "error": if finished { n.error.clone() } else { None },
            "inputs": n.inputs,
            "outputs": if status == "success" { n.outputs.clone() } else { Value::Null },
            "extra": extra,
            "events": events,
            "tags": self.tags,
            "trace_id": self.trace_id,
            "dotted_order": dotted_order,
            "parent_run_id": parent,
            "parent_run_ids": parent_ids,
            "session_id": self.spec.session,
            "reference_example_id": null,
            "feedback_stats": feedback_stats(&n.feedback),
            "total_tokens": u.prompt + u.completion,
            "prompt_tokens": u.prompt,
            "completion_tokens": u.completion,
            "prompt_token_details": if is_llm { json!({"audio": 0, "cache_read": u.prompt / 4}) } else { Value::Null },
            "completion_token_details": if is_llm { json!({"audio": 0, "reasoning": 0}) } else { Value::Null },
            "total_cost": cost(u.prompt_cost + u.completion_cost),
            "prompt_cost": cost(u.prompt_cost),
            "completion_cost": cost(u.completion_cost),
            "first_token_time": first_token,
            "thread_id": self.thread,
            "app_path": format!("/o/{TENANT_ID}/projects/p/{}/r/{}?trace_id={}&start_time={}", self.spec.session, p.id, self.trace_id, naive(p.start_us)),
            "in_dataset": false,
            "trace_tier": "longlived",
        });
        if !n.feedback.is_empty() {
            run["feedback"] = json!(n.feedback);
        }
        run.to_string()
    }
}

/// `feedback_stats` as LangSmith derives it from the entries.
fn feedback_stats(entries: &[Value]) -> Value {
    if entries.is_empty() {
        return Value::Null;
    }
    let mut stats = Map::new();
    for e in entries {
        let key = e["key"].as_str().expect("key").to_string();
        let s = stats.entry(key).or_insert_with(
            || json!({"n": 0, "sum": 0.0, "scored": 0, "show_feedback_arrow": false, "values": {}}),
        );
        s["n"] = json!(s["n"].as_i64().unwrap_or(0) + 1);
        match e["score"].as_f64() {
            Some(score) => {
                s["sum"] = json!(s["sum"].as_f64().unwrap_or(0.0) + score);
                s["scored"] = json!(s["scored"].as_i64().unwrap_or(0) + 1);
            }
            None => {
                if let Some(v) = e["value"].as_str() {
                    let count = s["values"][v].as_i64().unwrap_or(0) + 1;
                    s["values"][v] = json!(count);
                }
            }
        }
    }
    for s in stats.values_mut() {
        let scored = s["scored"].as_i64().unwrap_or(0);
        let sum = s["sum"].as_f64().unwrap_or(0.0);
        let avg = if scored > 0 {
            json!(sum / scored as f64)
        } else {
            Value::Null
        };
        let obj = s.as_object_mut().expect("object");
        obj.remove("sum");
        obj.remove("scored");
        obj.insert("avg".into(), avg);
    }
    Value::Object(stats)
}

fn feedback(rng: &mut ChaCha8Rng, key: &str, score: f64) -> Value {
    let comment = if rng.random_bool(0.3) {
        json!("Helpful, but a bit slow.")
    } else {
        Value::Null
    };
    json!({"key": key, "score": score, "value": null, "comment": comment})
}

/// Errors in a leaf, sometimes propagated to every ancestor as an unhandled exception would.
fn inject_error(rng: &mut ChaCha8Rng, root: &mut Node) {
    let message = ERRORS.choose(rng).expect("non-empty").to_string();
    let propagate = rng.random_bool(0.5);
    fn leaf_path(n: &mut Node, rng: &mut ChaCha8Rng, message: &str, propagate: bool) {
        if n.children.is_empty() {
            n.error = Some(message.to_string());
            return;
        }
        let i = rng.random_range(0..n.children.len());
        leaf_path(&mut n.children[i], rng, message, propagate);
        if propagate {
            n.error = Some(message.to_string());
        }
    }
    leaf_path(root, rng, &message, propagate);
}

pub fn generate_trace(rng: &mut ChaCha8Rng, spec: &TraceSpec) -> Vec<String> {
    let mut root = build(rng);
    if spec.large {
        // A long document pasted into the prompt: hundreds of KB of text.
        let target = rng.random_range(200_000..500_000);
        let mut context = String::with_capacity(target + 200);
        while context.len() < target {
            context.push_str(DOC_SNIPPETS.choose(rng).expect("non-empty"));
            context.push(' ');
            if rng.random_bool(0.05) {
                context.push_str(NON_ASCII.choose(rng).expect("non-empty"));
                context.push(' ');
            }
        }
        root.inputs["context"] = json!(context);
    }
    if rng.random_bool(0.07) {
        inject_error(rng, &mut root);
    }
    if rng.random_bool(0.45) {
        root.feedback.push({
            let score = f64::from(rng.random_range(0..2u8));
            feedback(rng, "user_score", score)
        });
        if rng.random_bool(0.05) {
            root.feedback.push({
                let score = f64::from(rng.random_range(0..2u8));
                feedback(rng, "user_score", score)
            });
        }
    }
    if rng.random_bool(0.25) {
        root.feedback.push({
            let score = f64::from(rng.random_range(1..6u8));
            feedback(rng, "star_rating", score)
        });
    }
    if rng.random_bool(0.2) {
        root.feedback.push({
            let score = if rng.random_bool(0.7) { 1.0 } else { 0.0 };
            feedback(rng, "Correctness", score)
        });
    }
    if rng.random_bool(0.04) {
        root.feedback
            .push(json!({"key": "intent", "score": null, "value": "CONCEPTUAL", "comment": null}));
    }
    for child in root.children.iter_mut().filter(|c| c.run_type == "llm") {
        if rng.random_bool(0.04) {
            child.feedback.push({
                let score = if rng.random_bool(0.5) { 1.0 } else { 0.0 };
                feedback(rng, "Correctness", score)
            });
        }
    }

    let mut tags = vec![
        if rng.random_bool(0.7) {
            "prod"
        } else {
            "staging"
        }
        .to_string(),
    ];
    if rng.random_bool(0.6) {
        tags.push(GIT_HASHES.choose(rng).expect("non-empty").to_string());
    }
    if rng.random_bool(0.12) {
        tags.push("experimental".into());
    }
    if rng.random_bool(0.1) {
        tags.push("beta".into());
    }
    let mut metadata = Map::new();
    let mut thread = None;
    if rng.random_bool(0.6) {
        let key = ["session_id", "conversation_id", "thread_id"]
            .choose(rng)
            .expect("non-empty");
        let value = match rng.random_range(0..100) {
            0..=3 => "a1b2c3d4-e5f6-7890".to_string(),
            4..=7 => "69b12c91-b1e2-46ce-91de-794c077e8151".to_string(),
            // A pool of conversations, so threads hold several traces.
            _ => format!("thread-{:04}", rng.random_range(0..60)),
        };
        let key = if value.starts_with("69b12c91") || value.starts_with("a1b2c3d4") {
            "conversation_id"
        } else {
            key
        };
        metadata.insert(key.to_string(), json!(value));
        thread = Some(value);
    }
    let user = if rng.random_bool(0.12) {
        "4070f233-f61e-44eb-bff1-da3c163895a3".to_string()
    } else {
        format!("user-{}", rng.random_range(100..400))
    };
    // Anonymous traffic has no user id.
    if rng.random_bool(0.85) {
        metadata.insert("user_id".into(), json!(user));
    }
    let environment = ["production", "production", "staging", "development"]
        .choose(rng)
        .expect("non-empty");
    metadata.insert("environment".into(), json!(environment));
    metadata.insert("attempt".into(), json!(rng.random_range(1..4)));
    metadata.insert(
        "revision_id".into(),
        json!(GIT_HASHES.choose(rng).expect("non-empty")),
    );

    let trace_id = uuid7(rng, spec.start_us);
    let cut_us = spec
        .pending
        .then(|| spec.start_us + rng.random_range(200_000..3_000_000));
    let mut emitter = Emitter {
        spec,
        rng,
        lines: vec![],
        trace_id,
        tags,
        metadata,
        thread,
        cut_us,
    };
    emitter.emit(&root, spec.start_us, &[], 0);
    emitter.lines
}
