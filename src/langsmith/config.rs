use std::fmt;

use std::time::Duration;

use super::limiter::Lane;

/// A secret (the API key). Its `Debug` and `Display` never show it, so it cannot leak through
/// logs, error chains or manifests by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that must send it (the `x-api-key` header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <String as serde::Deserialize>::deserialize(d).map(Secret)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Which runs-query API to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiChoice {
    /// v2 wherever `/info` offers it (`sdb_query_enabled`), v1 only where it does not: v2
    /// allows 30× the requests and 10× the page size, and v1 queries leave the SDK in 2027.
    #[default]
    Auto,
    V1,
    V2,
}

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pacing {
    /// LangSmith Cloud (`*.smith.langchain.com`) at its published limits; any other endpoint
    /// unpaced until it answers 429.
    #[default]
    Auto,
    /// Every lane at LangSmith Cloud's published limits, whatever the endpoint.
    Published,
    /// No lane paced until the server answers 429 (then slowed down and recovering).
    Adaptive,
}

/// Requests per rate window set explicitly, per lane: such a lane is paced at that whatever
/// [`Pacing`] says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LaneLimits([Option<u32>; Lane::ALL.len()]);

impl LaneLimits {
    pub fn set(&mut self, lane: Lane, requests: u32) {
        self.0[lane as usize] = Some(requests);
    }

    pub fn get(&self, lane: Lane) -> Option<u32> {
        self.0[lane as usize]
    }
}

/// Everything the client needs, resolved. Build with [`ClientConfig::from_env`] and override.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Origin of the API, e.g. `https://api.smith.langchain.com` (no `/api/v1`).
    pub endpoint: String,
    pub api_key: Option<Secret>,
    /// Sent as `X-Tenant-Id`; needed by org-scoped keys.
    pub workspace_id: Option<String>,
    pub api: ApiChoice,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Attempts per request, the first included.
    pub max_attempts: usize,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Requests in flight at once, over all stages.
    pub max_in_flight: usize,
    pub pacing: Pacing,
    /// The window LangSmith counts requests over (10 s). Shorter only for an emulator whose
    /// time is compressed (`runlake emulate --rate-limit-speedup`).
    pub rate_window: Duration,
    /// Lanes paced at an explicit allowance per `rate_window`.
    pub rate_limits: LaneLimits,
    /// Page sizes: v1 accepts 1..=100, v2 1..=1000.
    pub v1_page_size: usize,
    pub v2_page_size: usize,
}

pub const DEFAULT_ENDPOINT: &str = "https://api.smith.langchain.com";

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            endpoint: DEFAULT_ENDPOINT.into(),
            api_key: None,
            workspace_id: None,
            api: ApiChoice::Auto,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_attempts: 8,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            max_in_flight: 8,
            pacing: Pacing::Auto,
            rate_window: Duration::from_secs(10),
            rate_limits: LaneLimits::default(),
            v1_page_size: 100,
            v2_page_size: 1000,
        }
    }
}

impl ClientConfig {
    /// Whether the endpoint is LangSmith Cloud, whose limits are published.
    pub fn is_langsmith_cloud(&self) -> bool {
        url::Url::parse(&self.endpoint)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .is_some_and(|h| h == "smith.langchain.com" || h.ends_with(".smith.langchain.com"))
    }

    /// Each lane's allowance per `rate_window`, or `None` for a lane sent freely until a 429.
    pub fn lane_limit(&self, lane: Lane) -> Option<u32> {
        let published = match self.pacing {
            Pacing::Published => true,
            Pacing::Adaptive => false,
            Pacing::Auto => self.is_langsmith_cloud(),
        };
        self.rate_limits
            .get(lane)
            .or(published.then(|| lane.published()))
    }

    /// No lane paced (tests and local emulators without limits).
    pub fn unpaced(mut self) -> Self {
        self.pacing = Pacing::Adaptive;
        self.rate_limits = LaneLimits::default();
        self
    }

    /// Defaults plus the environment: `LANGSMITH_ENDPOINT` (or `LANGCHAIN_ENDPOINT`),
    /// `LANGSMITH_API_KEY` (or `LANGCHAIN_API_KEY`), `LANGSMITH_WORKSPACE_ID` (or
    /// `LANGCHAIN_WORKSPACE_ID`).
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let first = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| lookup(n).map(|v| clean(&v)).filter(|v| !v.is_empty()))
        };
        let mut config = ClientConfig::default();
        if let Some(endpoint) = first(&["LANGSMITH_ENDPOINT", "LANGCHAIN_ENDPOINT"]) {
            config.endpoint = normalize_endpoint(&endpoint);
        }
        config.api_key = first(&["LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"]).map(Secret::new);
        config.workspace_id = first(&["LANGSMITH_WORKSPACE_ID", "LANGCHAIN_WORKSPACE_ID"]);
        config
    }
}

/// As the SDK does: trim whitespace and surrounding quotes.
fn clean(value: &str) -> String {
    value
        .trim()
        .trim_matches(|c| c == '"' || c == '\'')
        .trim()
        .to_string()
}

/// `https://host/api/v1/` → `https://host`: clients build `/api/v1/…` and `/api/v2/…` paths
/// themselves, so a self-hosted endpoint given with its `/api/v1` suffix works too.
pub fn normalize_endpoint(endpoint: &str) -> String {
    let mut s = clean(endpoint);
    while s.ends_with('/') {
        s.pop();
    }
    for suffix in ["/api/v1", "/api"] {
        if let Some(stripped) = s.strip_suffix(suffix) {
            s = stripped.to_string();
            break;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_normalised_to_the_origin() {
        assert_eq!(
            normalize_endpoint("https://h.example/api/v1/"),
            "https://h.example"
        );
        assert_eq!(
            normalize_endpoint(" 'https://h.example/api' "),
            "https://h.example"
        );
        assert_eq!(
            normalize_endpoint("http://127.0.0.1:1984"),
            "http://127.0.0.1:1984"
        );
        assert_eq!(
            normalize_endpoint("https://h.example/langsmith/api/v1"),
            "https://h.example/langsmith"
        );
    }

    #[test]
    fn cloud_is_paced_at_published_limits_other_endpoints_after_a_429_only() {
        let mut c = ClientConfig::default();
        assert_eq!(c.lane_limit(Lane::V1Short), Some(10));
        assert_eq!(c.lane_limit(Lane::V2), Some(300));
        c.endpoint = "https://eu.api.smith.langchain.com".into();
        assert_eq!(c.lane_limit(Lane::V1Long), Some(3));
        for other in [
            "http://127.0.0.1:1984",
            "https://langsmith.internal.example",
            "https://smith.langchain.com.example.org",
        ] {
            c.endpoint = other.into();
            assert_eq!(c.lane_limit(Lane::V1Short), None, "{other}");
        }
        c.rate_limits.set(Lane::V2, 50);
        assert_eq!(
            c.lane_limit(Lane::V2),
            Some(50),
            "an explicit limit paces anywhere"
        );
        c.pacing = Pacing::Published;
        assert_eq!(c.lane_limit(Lane::V1Key), Some(15));
        c.endpoint = DEFAULT_ENDPOINT.into();
        c.pacing = Pacing::Adaptive;
        assert_eq!(c.lane_limit(Lane::V1Short), None);
        assert_eq!(c.unpaced().lane_limit(Lane::V2), None);
    }

    #[test]
    fn environment_with_legacy_names_and_precedence() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let c = ClientConfig::from_lookup(env(&[
            ("LANGCHAIN_ENDPOINT", "https://legacy.example/api/v1"),
            ("LANGCHAIN_API_KEY", "lsv2_legacy"),
            ("LANGSMITH_API_KEY", "lsv2_new"),
            ("LANGSMITH_WORKSPACE_ID", "ws"),
        ]));
        assert_eq!(c.endpoint, "https://legacy.example");
        assert_eq!(c.api_key.as_ref().unwrap().expose(), "lsv2_new");
        assert_eq!(c.workspace_id.as_deref(), Some("ws"));
        assert!(
            !format!("{c:?}").contains("lsv2_new"),
            "Debug redacts the key"
        );
        assert_eq!(
            ClientConfig::from_lookup(env(&[])).endpoint,
            DEFAULT_ENDPOINT
        );
    }
}
