//! Vocabulary for realistic payloads: questions, answers, documents, tools, errors, models.
//!
//! Templates may hold `{n}` (a number), `{topic}` and `{city}`; see `shapes::fill`.

pub const QUESTIONS: &[&str] = &[
    "Where is my order {n}? It was supposed to arrive yesterday.",
    "Can you summarize the quarterly revenue report for {topic}?",
    "How do I reset my password if I no longer have access to my email?",
    "What is the refund policy for items bought during the {topic} sale?",
    "Compare the latency of our two {topic} deployments over the last week.",
    "Draft a polite reply to a customer asking about {topic}.",
    "Which SQL query returns the top 10 customers by lifetime value?",
    "Explain the difference between precision and recall for {topic}.",
    "What's the weather going to be like in {city} this weekend?",
    "Translate the onboarding checklist for {topic} into plain language.",
    "Find the invoice numbered {n} and tell me whether it has been paid.",
    "Why did the nightly {topic} job fail at 03:00?",
];

pub const TOPICS: &[&str] = &[
    "billing",
    "onboarding",
    "search ranking",
    "fraud detection",
    "shipping",
    "inventory",
    "customer churn",
    "pricing",
    "support tickets",
    "recommendations",
];

pub const CITIES: &[&str] = &[
    "Lisbon",
    "Osaka",
    "Montréal",
    "São Paulo",
    "Zürich",
    "Nairobi",
    "Austin",
];

/// Multilingual and emoji text, so exports are tested beyond ASCII: (question, answer).
pub const NON_ASCII: &[(&str, &str)] = &[
    (
        "¿Dónde está mi pedido? Lo necesito para el viernes 🚚",
        "Su pedido salió ayer y llegará el jueves. 📦",
    ),
    (
        "注文はどこにありますか？至急確認してください。",
        "ご注文は昨日発送されました。明日到着予定です。",
    ),
    (
        "Привет! Можно вернуть товар без чека?",
        "Да, возврат возможен в течение 30 дней по номеру заказа.",
    ),
    (
        "Ça coûte combien, la livraison express à Montréal ? 😊",
        "La livraison express coûte 12 $ et arrive en 24 h. ✅",
    ),
    (
        "我的发票在哪里？请尽快回复 🙏",
        "您的发票已发送到您的邮箱，请查收。",
    ),
    (
        "Grüße aus Zürich — bitte prüfen Sie die Rechnung Nr. 42 ✅",
        "Die Rechnung Nr. 42 wurde am 3. Oktober bezahlt. Grüße zurück! 👋",
    ),
];

/// Phrases the seed page searches for (`search("substring")`, `search("image classification")`),
/// planted in some payloads.
pub const SEARCH_PHRASES: &[&str] = &[
    "Use a substring match on the product title.",
    "Run image classification on the uploaded receipt photo.",
];

pub const ANSWERS: &[&str] = &[
    "Your order shipped yesterday and should arrive within two business days.",
    "Revenue grew 12% quarter over quarter, driven mostly by renewals.",
    "You can reset it from the login page using the 'Forgot password' link and your phone number.",
    "Refunds are available within 30 days of delivery for unused items.",
    "The second deployment is about 80 ms slower at p95, mostly in retrieval.",
    "Here is a draft reply that acknowledges the delay and offers a discount code.",
    "SELECT customer_id, SUM(amount) AS ltv FROM orders GROUP BY 1 ORDER BY 2 DESC LIMIT 10;",
    "Precision measures how many flagged items were right; recall how many right items were flagged.",
];

pub const SYSTEM_PROMPTS: &[&str] = &[
    "You are a helpful assistant for an online shop. Answer briefly and cite sources.",
    "You are a support agent. Use the tools when you need facts; never invent order data.",
    "Answer the question using only the context below. If unsure, say so.",
];

/// (document text, source path); retrievers return a few of these.
pub const DOCUMENTS: &[(&str, &str)] = &[
    (
        "Orders ship from the nearest warehouse; tracking numbers are emailed within 24 hours.",
        "kb/shipping.md",
    ),
    (
        "Refund requests must include the order number and the reason for return.",
        "kb/refunds.md",
    ),
    (
        "Password resets require a verified phone number or a backup code.",
        "kb/accounts.md",
    ),
    (
        "The pricing page lists three tiers: Starter, Team and Enterprise.",
        "kb/pricing.md",
    ),
    (
        "Nightly jobs run at 03:00 UTC and retry twice before paging the on-call engineer.",
        "runbooks/nightly.md",
    ),
    (
        "Latency budgets: retrieval 150 ms, generation 2 s, end to end 3 s at p95.",
        "slo/latency.md",
    ),
    (
        "Invoices are generated on the first business day of each month.",
        "billing/invoices.md",
    ),
    (
        "Receipts uploaded as photos go through image classification before OCR.",
        "kb/receipts.md",
    ),
];

/// A tool an agent can call: its name, argument name, argument and result templates.
pub struct Tool {
    pub name: &'static str,
    pub arg: &'static str,
    pub input: &'static str,
    pub output: &'static str,
}

pub const TOOLS: &[Tool] = &[
    Tool {
        name: "search_web",
        arg: "query",
        input: "latest shipping delays {topic}",
        output: "Found 3 articles about {topic} delays.",
    },
    Tool {
        name: "calculator",
        arg: "expression",
        input: "{n} * 1.2",
        output: "{n}.2",
    },
    Tool {
        name: "get_weather",
        arg: "city",
        input: "{city}",
        output: "Sunny, 21°C, light wind",
    },
    Tool {
        name: "sql_query",
        arg: "query",
        input: "SELECT status FROM orders WHERE id = {n}",
        output: "[{\"status\": \"shipped\"}]",
    },
    Tool {
        name: "send_email",
        arg: "to",
        input: "customer-{n}@example.com",
        output: "queued message msg-{n}",
    },
];

/// Error messages by the kind of run that raises them; `ANY_ERRORS` fit every run type.
pub const LLM_ERRORS: &[&str] = &[
    "RateLimitError: Rate limit reached for gpt-4.1-mini in organization org-123 on tokens per min (TPM): Limit 200000, Used 199760, Requested 1250.",
    "APIConnectionError: Connection error.",
    "BadRequestError: This model's maximum context length is 128000 tokens.",
];
pub const TOOL_ERRORS: &[&str] = &[
    "TimeoutError: the tool did not answer within 30 seconds",
    "ToolException: the SQL warehouse is unavailable",
];
pub const ANY_ERRORS: &[&str] = &[
    "ValueError: could not parse the tool arguments as JSON",
    "KeyError: 'documents'",
];

pub const GIT_HASHES: &[&str] = &["2aa1cf4", "9f8e7d6", "b419df8", "c0ffee1", "5e1d2a9"];

/// A chat model: its run name, `ls_provider`, model name and $ per 1k prompt/completion tokens.
pub struct Model {
    pub run_name: &'static str,
    pub provider: &'static str,
    pub model: &'static str,
    pub prompt_price: f64,
    pub completion_price: f64,
}

pub const MODELS: &[Model] = &[
    Model {
        run_name: "ChatOpenAI",
        provider: "openai",
        model: "gpt-4.1-mini",
        prompt_price: 0.0004,
        completion_price: 0.0016,
    },
    Model {
        run_name: "ChatOpenAI",
        provider: "openai",
        model: "gpt-4.1",
        prompt_price: 0.002,
        completion_price: 0.008,
    },
    Model {
        run_name: "ChatAnthropic",
        provider: "anthropic",
        model: "claude-sonnet-4",
        prompt_price: 0.003,
        completion_price: 0.015,
    },
];

/// Streamed answers arrive token by token; these make the `new_token` events.
pub const FIRST_TOKENS: &[&str] = &["Your", " order", " shipped"];
