//! What a pipeline file says, after parsing and validation.

use indexmap::IndexMap;
use serde::Deserialize;

use crate::langsmith::{ApiChoice, Pacing};
use crate::model::durations::Span;
pub use crate::sink::settings::{
    COMPRESSIONS, SINK_TYPES, SinkConfig, SinkKind, ZSTD_DEFAULT_LEVEL, ZSTD_LEVELS,
};
pub use crate::stages::{Flow, STAGE_TYPES, Stage};

/// `[source]`: where runs come from. Unset values fall back to the environment
/// (`LANGSMITH_ENDPOINT`, `LANGSMITH_API_KEY`, `LANGSMITH_WORKSPACE_ID`, `LANGSMITH_PROJECT`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub endpoint: Option<String>,
    /// Usually `"${LANGSMITH_API_KEY}"`; never written anywhere.
    pub api_key: Option<crate::langsmith::Secret>,
    pub workspace_id: Option<String>,
    pub project: Option<String>,
    #[serde(default)]
    pub api: ApiChoice,
    /// Cut windows longer than 7 days into 7-day windows (LangSmith's faster tier).
    pub split_windows: Option<bool>,
    /// GET the pre-signed URLs of offloaded payloads (`inputs_s3_urls`, `outputs_s3_urls`)
    /// and fill `inputs` / `outputs` from them (default false: the URLs are exported).
    pub fetch_offloaded: Option<bool>,
    pub max_in_flight: Option<usize>,
    pub max_attempts: Option<usize>,
    pub timeout_secs: Option<f64>,
    /// `auto` (LangSmith Cloud at its published limits, other endpoints unpaced until a 429),
    /// `published` or `adaptive`.
    pub pacing: Option<Pacing>,
    /// The window request limits count over (LangSmith's: 10 s).
    pub rate_window: Option<Period>,
    /// Requests per rate window for v1 queries with windows of at most 7 days; setting a
    /// limit paces that lane at it on any endpoint.
    pub v1_requests_per_10s: Option<u32>,
    /// ... for longer or open-ended windows.
    pub v1_long_requests_per_10s: Option<u32>,
    /// v1 queries using full-text `search()` (or selecting `child_run_ids`), at most 7 days.
    pub v1_search_requests_per_10s: Option<u32>,
    /// ... longer or open-ended windows.
    pub v1_search_long_requests_per_10s: Option<u32>,
    /// Every v1 query of one key.
    pub v1_key_requests_per_10s: Option<u32>,
    pub v2_requests_per_10s: Option<u32>,
    /// Everything else (`/info`, project lookups).
    pub other_requests_per_10s: Option<u32>,
}

/// A duration written as "10s", "500ms" or "1m", read once when the file is parsed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Period(pub std::time::Duration);

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        super::window::parse_duration(&text)
            .and_then(|t| t.to_std().ok())
            .filter(|t| !t.is_zero())
            .map(Period)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{text:?} is not a positive duration; expected e.g. \"10s\", \"500ms\", \"1m\""
                ))
            })
    }
}

/// `[load]`: how runs are cut into windows and how far an incremental run goes.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LoadConfig {
    /// Window size ("1d", "6h"): long ranges are loaded and committed window by window, so
    /// a crash resumes at the first unfinished one. Unset: one window per run.
    pub window: Option<Span>,
    /// An incremental run stops this long before now, leaving time for late runs to be
    /// ingested and finished (default "0s").
    pub lag: Option<Span>,
    /// How long a trace may last: windows own the traces whose root started in them, and
    /// fetch child runs up to this long after their end (default "1h").
    pub trace_margin: Option<Span>,
    /// How far back every incremental run re-reads and republishes before the committed end,
    /// so runs that finished and feedback that arrived since reach the table (default "1d";
    /// "0s" turns it off). Older feedback changes are found and republished too.
    pub resync: Option<Span>,
    /// How many runs a window may set aside as unreadable and still be published (default 0:
    /// the window fails, publishing nothing, once the page holding the first is finished).
    pub max_rejected: Option<usize>,
}

/// A validated pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub name: String,
    pub description: Option<String>,
    pub file: std::path::PathBuf,
    pub source: SourceConfig,
    pub load: LoadConfig,
    pub stages: IndexMap<String, Stage>,
    pub sinks: IndexMap<String, SinkConfig>,
    /// SHA-256 of the file's text before interpolation (so never of a secret).
    pub hash: String,
}
