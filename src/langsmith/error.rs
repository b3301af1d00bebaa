use std::time::Duration;

/// What can go wrong talking to LangSmith. Messages say what to fix; none contains the key.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "no LangSmith API key: set LANGSMITH_API_KEY to a key from LangSmith's Settings → API Keys \
         (or api_key = \"${{MY_VAR}}\" in the pipeline's [source]; never the key itself)"
    )]
    MissingApiKey,

    #[error(
        "LangSmith at {endpoint} rejected the API key (401 Unauthorized): check that LANGSMITH_API_KEY \
         holds a valid key for this endpoint (EU and self-hosted keys only work on their own endpoint)"
    )]
    Unauthorized { endpoint: String },

    #[error(
        "LangSmith at {endpoint} needs a workspace for this key (403 org_scoped_key_requires_workspace): \
         set LANGSMITH_WORKSPACE_ID to the workspace id (Settings → Workspaces)"
    )]
    WorkspaceRequired { endpoint: String },

    #[error(
        "LangSmith at {endpoint} refused access (403 Forbidden): {detail}. Check that LANGSMITH_WORKSPACE_ID \
         names a workspace this key belongs to and that the key may read its projects"
    )]
    Forbidden { endpoint: String, detail: String },

    #[error(
        "project {name:?} not found at {endpoint}: check the name (it is case-sensitive; set it with --project, \
         LANGSMITH_PROJECT or [source].project) and that the key's workspace (LANGSMITH_WORKSPACE_ID) holds it"
    )]
    ProjectNotFound { name: String, endpoint: String },

    #[error(
        "project {name:?} is not in {origin}: the files hold project ids {ids}; pass one with --project, \
         or give files of one project"
    )]
    ProjectNotInFiles {
        name: String,
        origin: String,
        ids: String,
    },

    #[error(
        "LangSmith at {endpoint} does not serve the {api} runs API ({status} for {what}); \
         use api = \"auto\" (it picks what the deployment offers) or the other API \
         (--set source.api=…)"
    )]
    ApiMissing {
        endpoint: String,
        api: &'static str,
        status: u16,
        what: String,
    },

    #[error(
        "LangSmith at {endpoint} redirects to {location} ({status}): set LANGSMITH_ENDPOINT to the \
         address it redirects to (a plain http:// endpoint is never followed to https://)"
    )]
    Redirected {
        endpoint: String,
        status: u16,
        location: String,
    },

    #[error("LangSmith answered 404 Not Found for {what}: {detail}")]
    NotFound { what: String, detail: String },

    #[error(
        "LangSmith refused the query ({status}): {detail}. This is a configuration problem, not a transient one"
    )]
    BadRequest { status: u16, detail: String },

    #[error("LangSmith answered {status}: {detail}")]
    Server { status: u16, detail: String },

    #[error("gave up after {attempts} attempts; last error: {last}")]
    Exhausted {
        attempts: usize,
        last: Box<ClientError>,
    },

    #[error("rate limited by LangSmith (429){}", retry_after.map(|d| format!(", retry after {:.1}s", d.as_secs_f64())).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },

    #[error("cannot reach LangSmith at {endpoint}: {detail}")]
    Transport { endpoint: String, detail: String },

    #[error(
        "LangSmith sent a run runlake cannot read: {detail}. This is not a network fault and \
         was not retried; please report the field and value"
    )]
    Unreadable { detail: String },

    #[error("LangSmith sent an unreadable answer: {detail}")]
    Malformed { detail: String },

    /// A pre-signed URL of an offloaded payload answered with an error (or is no URL).
    #[error("the offloaded payload at {url} could not be fetched: {}{detail}", status.map(|s| format!("{s} ")).unwrap_or_default())]
    Offloaded {
        url: String,
        status: Option<u16>,
        detail: String,
    },

    /// Run files (the file source) that cannot be read: missing, truncated, not JSONL.
    #[error("cannot read run files: {detail}")]
    FileRead { detail: String },

    #[error("{0}")]
    Unsupported(String),
}

impl ClientError {
    /// Transient failures worth another attempt; everything else fails at once.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Server { status, .. } => {
                matches!(status, 408 | 425 | 429) || *status >= 500
            }
            ClientError::RateLimited { .. }
            | ClientError::Transport { .. }
            | ClientError::Malformed { .. } => true,
            ClientError::MissingApiKey
            | ClientError::Unauthorized { .. }
            | ClientError::WorkspaceRequired { .. }
            | ClientError::Forbidden { .. }
            | ClientError::ProjectNotFound { .. }
            | ClientError::ProjectNotInFiles { .. }
            | ClientError::ApiMissing { .. }
            | ClientError::Redirected { .. }
            | ClientError::NotFound { .. }
            | ClientError::BadRequest { .. }
            | ClientError::Exhausted { .. }
            | ClientError::Unreadable { .. }
            | ClientError::FileRead { .. }
            | ClientError::Offloaded { .. }
            | ClientError::Unsupported(_) => false,
        }
    }

    /// The server's own wait hint, when it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}
