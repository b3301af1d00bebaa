//! Vocabulary for realistic payloads: questions, answers, documents, tools, errors.

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

/// Multilingual and emoji text, so exports are tested beyond ASCII.
pub const NON_ASCII: &[&str] = &[
    "¿Dónde está mi pedido? Lo necesito para el viernes 🚚",
    "注文はどこにありますか？至急確認してください。",
    "Привет! Можно вернуть товар без чека?",
    "Ça coûte combien, la livraison express à Montréal ? 😊",
    "我的发票在哪里？请尽快回复 🙏",
    "Grüße aus Zürich — bitte prüfen Sie die Rechnung Nr. 42 ✅",
];

/// Phrases the seed page searches for, planted in some payloads.
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

pub const DOC_SNIPPETS: &[&str] = &[
    "Orders ship from the nearest warehouse; tracking numbers are emailed within 24 hours.",
    "Refund requests must include the order number and the reason for return.",
    "Password resets require a verified phone number or a backup code.",
    "The pricing page lists three tiers: Starter, Team and Enterprise.",
    "Nightly jobs run at 03:00 UTC and retry twice before paging the on-call engineer.",
    "Latency budgets: retrieval 150 ms, generation 2 s, end to end 3 s at p95.",
    "Invoices are generated on the first business day of each month.",
];

pub const SOURCES: &[&str] = &[
    "kb/shipping.md",
    "kb/refunds.md",
    "kb/accounts.md",
    "kb/pricing.md",
    "runbooks/nightly.md",
    "slo/latency.md",
    "billing/invoices.md",
];

/// (tool name, example input, example output)
pub const TOOLS: &[(&str, &str, &str)] = &[
    (
        "search_web",
        "latest shipping delays {topic}",
        "Found 3 articles about {topic} delays.",
    ),
    ("calculator", "{n} * 1.2", "{n}.2"),
    ("get_weather", "{city}", "Sunny, 21°C, light wind"),
    (
        "sql_query",
        "SELECT status FROM orders WHERE id = {n}",
        "[{\"status\": \"shipped\"}]",
    ),
    (
        "send_email",
        "to: customer-{n}@example.com",
        "queued message msg-{n}",
    ),
];

pub const ERRORS: &[&str] = &[
    "ValueError: could not parse the tool arguments as JSON",
    "RateLimitError: Rate limit reached for gpt-4.1-mini in organization org-123 on tokens per min",
    "TimeoutError: the tool did not answer within 30 seconds",
    "ToolException: the SQL warehouse is unavailable",
    "KeyError: 'documents'",
];

pub const GIT_HASHES: &[&str] = &["2aa1cf4", "9f8e7d6", "b419df8", "c0ffee1", "5e1d2a9"];

/// (run name, provider, model, $ per 1k prompt tokens, $ per 1k completion tokens)
pub const MODELS: &[(&str, &str, &str, f64, f64)] = &[
    ("ChatOpenAI", "openai", "gpt-4.1-mini", 0.0004, 0.0016),
    ("ChatOpenAI", "openai", "gpt-4.1", 0.002, 0.008),
    (
        "ChatAnthropic",
        "anthropic",
        "claude-sonnet-4",
        0.003,
        0.015,
    ),
];
