//! One trace: a tree of runs (see `shapes`) decorated with errors, feedback, tags and metadata,
//! laid out in time, then written as v1 Run JSON lines in `dotted_order` order.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use super::feedback;
use super::json::RunLine;
use super::shapes::{self, Conversation, Node, pick};
use super::text;

pub struct TraceSpec<'a> {
    /// The project id (`session_id`).
    pub session: &'a str,
    pub tenant: &'a str,
    pub start_us: i64,
    /// The instant the data is cut: runs not started by then are absent, runs not finished
    /// by then are pending.
    pub cut_us: i64,
    /// Still running at the cut: no feedback yet.
    pub pending: bool,
    /// Give the root a 200–500 KB input.
    pub large: bool,
}

pub fn generate_trace(rng: &mut ChaCha8Rng, spec: &TraceSpec) -> Vec<String> {
    let conversation = Conversation::new(rng);
    let mut root = shapes::build(rng, &conversation);
    if spec.large {
        root.inputs["context"] = json!(large_text(rng));
    }
    if rng.random_bool(0.07) {
        inject_error(rng, &mut root);
    }
    if !spec.pending {
        feedback::add_feedback(rng, &mut root);
    }
    let context = TraceContext::new(rng);
    let mut emitter = Emitter {
        trace_id: uuid7(rng, spec.start_us),
        rng,
        spec,
        context,
        lines: vec![],
    };
    emitter.emit(&root, spec.start_us, &[], 0);
    emitter.lines
}

/// A long document pasted into the prompt: hundreds of KB of text.
fn large_text(rng: &mut ChaCha8Rng) -> String {
    let target = rng.random_range(200_000..500_000);
    let mut text = String::with_capacity(target + 200);
    while text.len() < target {
        let (sentence, _) = pick(rng, text::DOCUMENTS);
        let section = rng.random_range(1..10_000);
        text.push_str(&format!("[§{section}] {sentence} "));
        if rng.random_bool(0.05) {
            let (foreign, _) = pick(rng, text::NON_ASCII);
            text.push_str(foreign);
            text.push(' ');
        }
    }
    text
}

/// Fails a leaf; half the time the exception is unhandled and fails every ancestor too.
fn inject_error(rng: &mut ChaCha8Rng, root: &mut Node) {
    let propagate = rng.random_bool(0.5);
    let mut path = vec![];
    let mut leaf: &Node = root;
    while !leaf.children.is_empty() {
        let i = rng.random_range(0..leaf.children.len());
        path.push(i);
        leaf = &leaf.children[i];
    }
    let message = shapes::error_for(rng, leaf.run_type);
    let mut n = root;
    for i in path {
        if propagate {
            n.error = Some(message.clone());
        }
        n = &mut n.children[i];
    }
    n.error = Some(message);
}

/// What every run of a trace shares: tags, metadata (inherited by children as LangChain does),
/// and the conversation thread.
struct TraceContext {
    tags: Vec<String>,
    metadata: Map<String, Value>,
    thread: Option<String>,
}

/// The seed page filters for these two conversations by exact value.
const KNOWN_CONVERSATIONS: &[&str] =
    &["a1b2c3d4-e5f6-7890", "69b12c91-b1e2-46ce-91de-794c077e8151"];
/// The seed page filters for this user by exact value.
const KNOWN_USER: &str = "4070f233-f61e-44eb-bff1-da3c163895a3";
/// (metadata `environment`, its tag); production twice as likely.
const ENVIRONMENTS: &[(&str, &str)] = &[
    ("production", "prod"),
    ("production", "prod"),
    ("staging", "staging"),
    ("development", "dev"),
];

impl TraceContext {
    fn new(rng: &mut ChaCha8Rng) -> Self {
        let (environment, env_tag) = *pick(rng, ENVIRONMENTS);
        // The deployed revision: always in metadata, usually also a tag.
        let revision = *pick(rng, text::GIT_HASHES);
        let mut tags = vec![env_tag.to_string()];
        if rng.random_bool(0.6) {
            tags.push(revision.to_string());
        }
        if rng.random_bool(0.12) {
            tags.push("experimental".into());
        }
        if rng.random_bool(0.1) {
            tags.push("beta".into());
        }
        let mut metadata = Map::new();
        let thread = rng.random_bool(0.6).then(|| {
            let (key, value) = thread_key_value(rng);
            metadata.insert(key.into(), json!(value));
            value
        });
        // Anonymous traffic has no user id.
        if rng.random_bool(0.85) {
            let user = if rng.random_bool(0.12) {
                KNOWN_USER.to_string()
            } else {
                format!("user-{}", rng.random_range(100..400))
            };
            metadata.insert("user_id".into(), json!(user));
        }
        metadata.insert("environment".into(), json!(environment));
        metadata.insert("revision_id".into(), json!(revision));
        // Retried requests count their attempts: a numeric metadata value.
        if rng.random_bool(0.2) {
            metadata.insert("attempt".into(), json!(rng.random_range(2..5)));
        }
        TraceContext {
            tags,
            metadata,
            thread,
        }
    }
}

/// One of the three keys the LangSmith UI groups threads by, and a conversation id.
fn thread_key_value(rng: &mut ChaCha8Rng) -> (&'static str, String) {
    if rng.random_bool(0.12) {
        return (
            "conversation_id",
            pick(rng, KNOWN_CONVERSATIONS).to_string(),
        );
    }
    let key = *pick(rng, &["session_id", "conversation_id", "thread_id"]);
    // A pool of conversations, so a thread holds several traces.
    (key, format!("thread-{:04}", rng.random_range(0..60)))
}

fn uuid7(rng: &mut ChaCha8Rng, start_us: i64) -> String {
    let bytes: [u8; 10] = rng.random();
    let millis = u64::try_from(start_us / 1000).expect("start times are after 1970");
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

fn time(us: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(us).expect("sample times are in range")
}

/// v1's naive UTC with microseconds: `2026-10-05T16:46:01.068924`.
fn naive(us: i64) -> String {
    crate::model::format_naive_micros(&time(us))
}

/// Event times carry an offset.
fn zoned(us: i64) -> String {
    format!("{}+00:00", naive(us))
}

fn dotted_segment(us: i64, id: &str) -> String {
    format!("{}Z{id}", time(us).format("%Y%m%dT%H%M%S%6f"))
}

/// Tokens and cost of a subtree: LangSmith rolls LLM usage up to every ancestor.
#[derive(Default, Clone, Copy)]
struct Usage {
    prompt_tokens: i64,
    completion_tokens: i64,
    prompt_cost: f64,
    completion_cost: f64,
    has_cost: bool,
}

impl Usage {
    fn add(&mut self, other: Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.prompt_cost += other.prompt_cost;
        self.completion_cost += other.completion_cost;
        self.has_cost |= other.has_cost;
    }

    fn of_llm(llm: &shapes::Llm) -> Usage {
        let price = |tokens: i64, per_1k: f64| tokens as f64 / 1000.0 * per_1k;
        Usage {
            prompt_tokens: llm.prompt_tokens,
            completion_tokens: llm.completion_tokens,
            prompt_cost: price(llm.prompt_tokens, llm.model.prompt_price),
            completion_cost: price(llm.completion_tokens, llm.model.completion_price),
            has_cost: true,
        }
    }
}

/// A cost as a JSON number or, as LangSmith's schema types it, a decimal string.
fn cost(value: f64, as_string: bool) -> Value {
    let rounded = (value * 1e6).round() / 1e6;
    if as_string {
        let fixed = format!("{rounded:.6}");
        let trimmed = fixed.trim_end_matches('0');
        json!(match trimmed.strip_suffix('.') {
            Some(whole) => format!("{whole}.0"),
            None => trimmed.to_string(),
        })
    } else {
        json!(rounded)
    }
}

/// An ancestor of the run being placed.
#[derive(Clone)]
struct Parent {
    id: String,
    dotted_order: String,
}

/// Where a run ended (or would have, past the cut), and what its subtree used.
struct Placed {
    end_us: i64,
    usage: Usage,
}

/// A run placed in time, ready to be written.
struct Run<'a> {
    node: &'a Node,
    id: &'a str,
    dotted_order: &'a str,
    /// Root first.
    parents: &'a [Parent],
    start_us: i64,
    /// None while still running at the cut.
    end_us: Option<i64>,
    /// The subtree's usage, this run's own included.
    usage: Usage,
    /// Whether this run itself reported usage (a finished, successful model call).
    own_usage: bool,
    depth: usize,
}

/// Lays runs out depth-first (children one after another inside their parent) and writes
/// each run's line into a slot reserved before its children's, which gives dotted order.
struct Emitter<'a> {
    rng: &'a mut ChaCha8Rng,
    spec: &'a TraceSpec<'a>,
    context: TraceContext,
    trace_id: String,
    lines: Vec<String>,
}

impl Emitter<'_> {
    /// Places `n` at `start_us` under `parents`; None if it had not started by the cut.
    fn emit(
        &mut self,
        n: &Node,
        start_us: i64,
        parents: &[Parent],
        depth: usize,
    ) -> Option<Placed> {
        if start_us > self.spec.cut_us {
            return None;
        }
        let id = match parents {
            [] => self.trace_id.clone(),
            _ => uuid7(self.rng, start_us),
        };
        let segment = dotted_segment(start_us, &id);
        let dotted_order = match parents.last() {
            Some(p) => format!("{}.{segment}", p.dotted_order),
            None => segment,
        };
        let slot = self.lines.len();
        self.lines.push(String::new());

        let mut path = parents.to_vec();
        path.push(Parent {
            id: id.clone(),
            dotted_order: dotted_order.clone(),
        });
        let mut usage = Usage::default();
        let mut cursor = start_us + self.rng.random_range(200..3_000);
        for child in &n.children {
            let Some(placed) = self.emit(child, cursor, &path, depth + 1) else {
                break;
            };
            usage.add(placed.usage);
            cursor = placed.end_us + self.rng.random_range(100..20_000);
            // An unhandled exception stops the parent: later steps never run.
            if child.error.is_some() && n.error.is_some() {
                break;
            }
        }
        let end_us = cursor + n.own_us;
        let finished = end_us <= self.spec.cut_us;
        // Usage is known once a call succeeds; failed and unfinished calls report none.
        let own = match &n.llm {
            Some(llm) if finished && n.error.is_none() => Some(Usage::of_llm(llm)),
            _ => None,
        };
        if let Some(own) = own {
            usage.add(own);
        }
        let run = Run {
            node: n,
            id: &id,
            dotted_order: &dotted_order,
            parents,
            start_us,
            end_us: finished.then_some(end_us),
            usage,
            own_usage: own.is_some(),
            depth,
        };
        self.lines[slot] = self.line(&run);
        Some(Placed { end_us, usage })
    }

    fn line(&mut self, run: &Run) -> String {
        let n = run.node;
        let status = match (run.end_us, &n.error) {
            (None, _) => "pending",
            (Some(_), Some(_)) => "error",
            (Some(_), None) => "success",
        };
        let (extra, events, first_token_time) = self.extra_and_events(run);
        // Both cost encodings occur in LangSmith data; pick one per run.
        let as_string = self.rng.random_bool(0.5);
        let u = run.usage;
        let costs = |v: f64| {
            if u.has_cost {
                cost(v, as_string)
            } else {
                Value::Null
            }
        };
        // Every model call has details; failed and unfinished ones report nothing cached.
        let (prompt_details, completion_details) = if n.llm.is_some() {
            let cached = if run.own_usage && self.rng.random_bool(0.3) {
                u.prompt_tokens / 2 / 64 * 64
            } else {
                0
            };
            (
                json!({"audio": 0, "cache_read": cached}),
                json!({"audio": 0, "reasoning": 0}),
            )
        } else {
            (Value::Null, Value::Null)
        };
        let mut tags: Vec<&str> = self.context.tags.iter().map(String::as_str).collect();
        tags.extend(n.tags.iter().map(String::as_str));
        let line = RunLine {
            id: run.id,
            name: n.name,
            run_type: n.run_type,
            status,
            start_time: naive(run.start_us),
            end_time: run.end_us.map(naive),
            error: if status == "error" {
                n.error.as_deref()
            } else {
                None
            },
            inputs: &n.inputs,
            outputs: if status == "success" {
                &n.outputs
            } else {
                &Value::Null
            },
            extra,
            events,
            tags,
            trace_id: &self.trace_id,
            dotted_order: run.dotted_order,
            parent_run_id: run.parents.last().map(|p| p.id.as_str()),
            parent_run_ids: run.parents.iter().map(|p| p.id.as_str()).collect(),
            session_id: self.spec.session,
            reference_example_id: None,
            feedback_stats: feedback::stats(&n.feedback),
            total_tokens: u.prompt_tokens + u.completion_tokens,
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            prompt_token_details: prompt_details,
            completion_token_details: completion_details,
            total_cost: costs(u.prompt_cost + u.completion_cost),
            prompt_cost: costs(u.prompt_cost),
            completion_cost: costs(u.completion_cost),
            first_token_time,
            thread_id: self.context.thread.as_deref(),
            // The UI link opens the trace at its start, whichever run it points at.
            app_path: format!(
                "/o/{}/projects/p/{}/r/{}?trace_id={}&start_time={}",
                self.spec.tenant,
                self.spec.session,
                run.id,
                self.trace_id,
                naive(self.spec.start_us)
            ),
            in_dataset: false,
            trace_tier: "longlived",
            feedback: Value::Array(n.feedback.clone()),
        };
        serde_json::to_string(&line).expect("a run serializes")
    }

    /// `extra` (metadata, runtime, model parameters), `events`, and the first-token time of
    /// streamed model calls.
    fn extra_and_events(&mut self, run: &Run) -> (Value, Value, Option<String>) {
        let mut metadata = self.context.metadata.clone();
        metadata.insert("ls_run_depth".into(), json!(run.depth));
        let mut extra = json!({"runtime": {
            "sdk": "langsmith-py", "sdk_version": "0.11.1", "library": "langchain-core",
            "runtime": "python", "runtime_version": "3.12.4", "platform": "Linux-6.8-x86_64",
        }});
        let mut events = vec![json!({"name": "start", "time": zoned(run.start_us)})];
        let mut first_token_time = None;
        if let Some(llm) = &run.node.llm {
            metadata.insert("ls_provider".into(), json!(llm.model.provider));
            metadata.insert("ls_model_name".into(), json!(llm.model.model));
            metadata.insert("ls_model_type".into(), json!("chat"));
            metadata.insert("ls_temperature".into(), json!(llm.temperature));
            extra["invocation_params"] = json!({
                "model": llm.model.model,
                "temperature": llm.temperature,
                "stream": llm.streaming,
                "_type": format!("{}-chat", llm.model.provider),
            });
            if let Some(end_us) = run.end_us.filter(|_| llm.streaming && run.own_usage) {
                // The first token arrives a fifth of the way in, the rest stream after it.
                let first = run.start_us + (end_us - run.start_us) / 5;
                first_token_time = Some(naive(first));
                for (k, token) in text::FIRST_TOKENS.iter().enumerate() {
                    let t = first + k as i64 * 40_000;
                    events.push(
                        json!({"name": "new_token", "time": zoned(t), "kwargs": {"token": token}}),
                    );
                }
            }
        }
        if let Some(end_us) = run.end_us {
            events.push(json!({"name": "end", "time": zoned(end_us)}));
        }
        extra["metadata"] = Value::Object(metadata);
        (extra, Value::Array(events), first_token_time)
    }
}
