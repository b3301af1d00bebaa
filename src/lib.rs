//! runlake: export LangSmith traces into Parquet and Arrow files.
//!
//! Data flows one way: config → validated graph → running stages → sinks. The modules here
//! are the pieces of that flow plus the local LangSmith emulator used by tests and CI.

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
