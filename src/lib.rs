//! runlake: export LangSmith traces into Parquet and Arrow files.
//!
//! Data flows one way: config (pipeline files, each component resolving its own table) →
//! resolved plan (`topology::plan`) → running stages (`stages`, wired by `topology`, reading
//! a `source`) → table commits (`sink::table`, driven window by window by `load`). The other
//! modules serve that flow: the LangSmith client, run files in memory (`runstore`), the local
//! emulator used by tests and CI, the filter language, the Run model.

pub mod arrow;
pub mod cli;
pub mod config;
pub mod emulator;
pub mod filter;
pub mod flatten;
pub mod langsmith;
pub mod load;
pub mod located;
pub mod model;
pub mod runstore;
pub mod sample;
pub mod sink;
pub mod source;
pub mod stages;
pub mod topology;
pub mod usage;

/// Installs rustls' ring crypto provider once per process. reqwest is built without a
/// default provider (ring builds faster and smaller than aws-lc), so every HTTP client is made
/// after this call.
pub fn ensure_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider was installed first, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// `bytes` as text: checked with SIMD (simdutf8), several times faster than the standard
/// library's check on the megabytes of JSON a page or a block holds; only text that fails is
/// checked again by the standard library, for an error that says where.
pub fn utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(_) => std::str::from_utf8(bytes),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn utf8_accepts_text_and_says_where_it_is_not() {
        let long = "héllo wörld, ".repeat(1000);
        assert_eq!(super::utf8(long.as_bytes()).unwrap(), long);
        let mut bad = long.clone().into_bytes();
        bad[5000] = 0xff;
        assert_eq!(super::utf8(&bad).unwrap_err().valid_up_to(), 5000);
    }
}
