//! The shapes of trace real applications produce, as trees of [`Node`]s not yet placed in
//! time: LangChain agents, LangGraph agents, RAG pipelines, extraction chains, bare model calls.

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::text::{self, Model, Tool};

/// A run before it is placed in time.
pub struct Node {
    pub name: &'static str,
    pub run_type: &'static str,
    pub inputs: Value,
    pub outputs: Value,
    /// Own duration in µs; a parent's duration also covers its children.
    pub own_us: i64,
    pub error: Option<String>,
    pub llm: Option<Llm>,
    /// Tags of this run on top of the trace's (LangChain's non-inherited `seq:step:N`).
    pub tags: Vec<String>,
    pub feedback: Vec<Value>,
    pub children: Vec<Node>,
}

/// What a model call consumed, and how it was called.
pub struct Llm {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub model: &'static Model,
    pub streaming: bool,
    pub temperature: f64,
}

fn node(name: &'static str, run_type: &'static str, inputs: Value, outputs: Value) -> Node {
    Node {
        name,
        run_type,
        inputs,
        outputs,
        own_us: 0,
        error: None,
        llm: None,
        tags: vec![],
        feedback: vec![],
        children: vec![],
    }
}

/// A chain takes little time of its own: its duration is mostly its children's.
fn chain(name: &'static str, inputs: Value, outputs: Value, children: Vec<Node>) -> Node {
    let mut n = node(name, "chain", inputs, outputs);
    n.own_us = 2_000;
    n.children = children;
    n
}

/// Tags children the way LangChain tags the steps of a sequence (`seq`) or graph (`graph`).
fn steps(prefix: &str, mut children: Vec<Node>) -> Vec<Node> {
    for (i, child) in children.iter_mut().enumerate() {
        child.tags.push(format!("{prefix}:step:{}", i + 1));
    }
    children
}

pub fn pick<T>(rng: &mut ChaCha8Rng, items: &'static [T]) -> &'static T {
    items.choose(rng).expect("vocabulary tables are not empty")
}

fn word(rng: &mut ChaCha8Rng, words: &'static [&'static str]) -> &'static str {
    words
        .choose(rng)
        .copied()
        .expect("vocabulary tables are not empty")
}

/// Fills a template's `{n}`, `{topic}` and `{city}`.
fn fill(rng: &mut ChaCha8Rng, template: &str) -> String {
    template
        .replace("{n}", &rng.random_range(1000..99999).to_string())
        .replace("{topic}", word(rng, text::TOPICS))
        .replace("{city}", word(rng, text::CITIES))
}

/// What one trace is about: the user's question, the final answer, the model the app uses.
pub struct Conversation {
    pub question: String,
    pub answer: String,
    pub model: &'static Model,
    /// Long, token-heavy agent calls (big context windows): chains of > 10 s, > 5000 tokens.
    pub heavy: bool,
}

impl Conversation {
    pub fn new(rng: &mut ChaCha8Rng) -> Self {
        let template = word(rng, text::QUESTIONS);
        let mut question = fill(rng, template);
        let mut answer = pick(rng, text::ANSWERS).to_string();
        if rng.random_bool(0.12) {
            let (q, a) = pick(rng, text::NON_ASCII);
            question = format!("{question} {q}");
            answer = format!("{answer} {a}");
        }
        if rng.random_bool(0.06) {
            question = format!("{question} {}", pick(rng, text::SEARCH_PHRASES));
        }
        Conversation {
            question,
            answer,
            model: pick(rng, text::MODELS),
            heavy: rng.random_bool(0.25),
        }
    }
}

/// A chat model call. `tool_calls` are the tools the model asks for (none: a final answer).
fn llm(rng: &mut ChaCha8Rng, c: &Conversation, heavy: bool, tool_calls: &[ToolCall]) -> Node {
    let system = pick(rng, text::SYSTEM_PROMPTS);
    let (prompt_tokens, own_us) = if heavy {
        (
            rng.random_range(1800..4000),
            rng.random_range(3_500_000..6_000_000),
        )
    } else {
        (
            rng.random_range(40..1200),
            rng.random_range(300_000..4_500_000),
        )
    };
    let completion_tokens = rng.random_range(10..400);
    let calls: Vec<Value> = tool_calls
        .iter()
        .map(|(tool, input)| {
            let id: u64 = rng.random();
            json!({"name": tool.name, "args": {tool.arg: input}, "id": format!("call_{id:016x}"), "type": "tool_call"})
        })
        .collect();
    let (content, finish_reason) = if calls.is_empty() {
        (c.answer.as_str(), "stop")
    } else {
        ("", "tool_calls")
    };
    let generation = json!({
        "text": content,
        "type": "ChatGeneration",
        "message": {"type": "ai", "content": content, "tool_calls": calls},
        "generation_info": {"finish_reason": finish_reason},
    });
    let token_usage = json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    });
    let mut n = node(
        c.model.run_name,
        "llm",
        // LangChain logs chat inputs as a batch: a list of message lists.
        json!({"messages": [[
            {"type": "system", "content": system},
            {"type": "human", "content": c.question},
        ]]}),
        json!({
            "generations": [[generation]],
            "llm_output": {"model_name": c.model.model, "token_usage": token_usage},
        }),
    );
    n.own_us = own_us;
    n.llm = Some(Llm {
        prompt_tokens,
        completion_tokens,
        model: c.model,
        streaming: rng.random_bool(0.4),
        temperature: f64::from(rng.random_range(0..8u8)) / 10.0,
    });
    n
}

/// A prompt template rendering: fast, no tokens.
fn prompt(rng: &mut ChaCha8Rng, c: &Conversation) -> Node {
    let system = pick(rng, text::SYSTEM_PROMPTS);
    let mut n = node(
        "ChatPromptTemplate",
        "prompt",
        json!({"question": c.question}),
        json!({"output": {"messages": [
            {"type": "system", "content": system},
            {"type": "human", "content": c.question},
        ]}}),
    );
    n.own_us = rng.random_range(300..8_000);
    n
}

fn parser(rng: &mut ChaCha8Rng, name: &'static str, input: &str, output: Value) -> Node {
    let mut n = node(
        name,
        "parser",
        json!({"input": input}),
        json!({"output": output}),
    );
    n.own_us = rng.random_range(200..15_000);
    n
}

/// A tool the model asked for, with its filled-in argument.
type ToolCall = (&'static Tool, String);

fn tool_calls(rng: &mut ChaCha8Rng) -> Vec<ToolCall> {
    (0..rng.random_range(1..3))
        .map(|_| {
            let tool = pick(rng, text::TOOLS);
            (tool, fill(rng, tool.input))
        })
        .collect()
}

fn tool_run(rng: &mut ChaCha8Rng, (tool, input): &ToolCall) -> Node {
    let output = fill(rng, tool.output);
    let mut n = node(
        tool.name,
        "tool",
        json!({"input": input}),
        json!({"output": output}),
    );
    n.own_us = rng.random_range(50_000..3_000_000);
    n
}

fn retriever(rng: &mut ChaCha8Rng, query: &str) -> Node {
    let docs: Vec<Value> = (0..rng.random_range(2..5))
        .map(|_| {
            let (content, source) = pick(rng, text::DOCUMENTS);
            let score = f64::from(rng.random_range(50..99u8)) / 100.0;
            json!({"page_content": content, "metadata": {"source": source, "score": score}, "type": "Document"})
        })
        .collect();
    // Output values are lists: the seed page's retriever export extends them.
    let mut n = node(
        "RetrieveDocs",
        "retriever",
        json!({"query": query}),
        json!({"documents": docs}),
    );
    n.own_us = rng.random_range(80_000..1_500_000);
    n
}

fn embedding(rng: &mut ChaCha8Rng, input: &str) -> Node {
    // A few leading dimensions: enough to look real, small enough to keep the sample small.
    let vector: Vec<f64> = (0..8)
        .map(|_| f64::from(rng.random_range(-999..1000i16)) / 1000.0)
        .collect();
    let mut n = node(
        "OpenAIEmbeddings",
        "embedding",
        json!({"input": [input]}),
        json!({"embeddings": [vector], "dimensions": 1536}),
    );
    n.own_us = rng.random_range(50_000..400_000);
    n
}

/// Entity extraction: a chain named "extractor" around one model call.
fn extractor(rng: &mut ChaCha8Rng, c: &Conversation) -> Node {
    chain(
        "extractor",
        json!({"text": c.question}),
        json!({"entities": ["order", "customer"]}),
        vec![llm(rng, c, false, &[])],
    )
}

/// LangChain's AgentExecutor: each step is a RunnableSequence (prompt → model → output
/// parser) followed by the tool calls it chose; the last step answers.
fn agent_executor(rng: &mut ChaCha8Rng, c: &Conversation) -> Node {
    let mut children = vec![];
    if rng.random_bool(0.3) {
        children.push(extractor(rng, c));
    }
    for _ in 0..rng.random_range(1..4) {
        let calls = tool_calls(rng);
        let actions: Vec<Value> = calls
            .iter()
            .map(|(t, input)| json!({"tool": t.name, "tool_input": {t.arg: input}}))
            .collect();
        let sequence = steps(
            "seq",
            vec![
                prompt(rng, c),
                llm(rng, c, c.heavy, &calls),
                parser(rng, "ToolsAgentOutputParser", "", json!(actions)),
            ],
        );
        children.push(chain(
            "RunnableSequence",
            json!({"input": c.question}),
            json!({"output": actions}),
            sequence,
        ));
        for call in &calls {
            children.push(tool_run(rng, call));
        }
    }
    let finish = json!({"return_values": {"output": c.answer}});
    let last = steps(
        "seq",
        vec![
            prompt(rng, c),
            llm(rng, c, c.heavy, &[]),
            parser(rng, "ToolsAgentOutputParser", &c.answer, finish.clone()),
        ],
    );
    children.push(chain(
        "RunnableSequence",
        json!({"input": c.question}),
        json!({"output": finish}),
        last,
    ));
    chain(
        "AgentExecutor",
        json!({"input": c.question}),
        json!({"output": c.answer}),
        children,
    )
}

/// A LangGraph agent: alternating "agent" (model) and "tools" nodes over a message list.
fn graph_agent(rng: &mut ChaCha8Rng, c: &Conversation) -> Node {
    let human = json!({"type": "human", "content": c.question});
    let mut children = vec![];
    if rng.random_bool(0.3) {
        children.push(extractor(rng, c));
    }
    for _ in 0..rng.random_range(1..3) {
        let calls = tool_calls(rng);
        let model = llm(rng, c, c.heavy, &calls);
        let asked = model.outputs["generations"][0][0]["message"].clone();
        children.push(chain(
            "agent",
            json!({"messages": [human]}),
            json!({"messages": [asked]}),
            vec![model],
        ));
        let tools: Vec<Node> = calls.iter().map(|call| tool_run(rng, call)).collect();
        let results: Vec<Value> = tools
            .iter()
            .map(|t| json!({"type": "tool", "name": t.name, "content": t.outputs["output"]}))
            .collect();
        children.push(chain(
            "tools",
            json!({"messages": [human]}),
            json!({"messages": results}),
            tools,
        ));
    }
    let answer = json!({"type": "ai", "content": c.answer});
    children.push(chain(
        "agent",
        json!({"messages": [human]}),
        json!({"messages": [answer]}),
        vec![llm(rng, c, c.heavy, &[])],
    ));
    let name = if rng.random_bool(0.5) {
        "support_agent"
    } else {
        "LangGraph"
    };
    chain(
        name,
        json!({"messages": [human]}),
        json!({"messages": [human, answer]}),
        steps("graph", children),
    )
}

/// Retrieval-augmented generation, sometimes with query expansion first.
fn rag(rng: &mut ChaCha8Rng, c: &Conversation) -> Node {
    let mut children = vec![];
    let mut queries = vec![c.question.clone()];
    if rng.random_bool(0.5) {
        let rephrased = format!("{} (rephrased for search)", c.question);
        children.push(chain(
            "ExpandQuery",
            json!({"question": c.question}),
            json!({"queries": [c.question, rephrased]}),
            steps("seq", vec![prompt(rng, c), llm(rng, c, false, &[])]),
        ));
        queries.push(rephrased);
    }
    for q in &queries {
        children.push(retriever(rng, q));
    }
    let generate = steps(
        "seq",
        vec![
            prompt(rng, c),
            llm(rng, c, false, &[]),
            parser(rng, "StrOutputParser", &c.answer, json!(c.answer)),
        ],
    );
    children.push(chain(
        "generate_answer",
        json!({"question": c.question}),
        json!({"output": c.answer}),
        generate,
    ));
    chain(
        "rag_pipeline",
        json!({"question": c.question}),
        json!({"answer": c.answer}),
        children,
    )
}

/// Structured extraction with an embedding lookup, as a root chain named "extractor".
fn extraction(rng: &mut ChaCha8Rng, c: &Conversation) -> Node {
    let entities = json!({"entities": ["invoice", "date"]});
    let raw = entities.to_string();
    chain(
        "extractor",
        json!({"text": c.question}),
        entities.clone(),
        vec![
            embedding(rng, &c.question),
            llm(rng, c, false, &[]),
            parser(rng, "JsonOutputParser", &raw, entities),
        ],
    )
}

/// One trace's tree, its shape drawn with weights resembling a busy support application.
pub fn build(rng: &mut ChaCha8Rng, c: &Conversation) -> Node {
    match rng.random_range(0..20) {
        0..=3 => agent_executor(rng, c),
        4..=7 => graph_agent(rng, c),
        8..=13 => rag(rng, c),
        14..=15 => extraction(rng, c),
        _ => llm(rng, c, false, &[]),
    }
}

/// An error message that fits the kind of run raising it.
pub fn error_for(rng: &mut ChaCha8Rng, run_type: &str) -> String {
    let specific = match run_type {
        "llm" => text::LLM_ERRORS,
        "tool" => text::TOOL_ERRORS,
        _ => text::ANY_ERRORS,
    };
    let table = if rng.random_bool(0.8) {
        specific
    } else {
        text::ANY_ERRORS
    };
    pick(rng, table).to_string()
}
