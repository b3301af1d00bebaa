//! A usage error: the command line or the pipeline asks for something that cannot be done
//! as asked (no project, no output, an overlapping window, a missing input path). Any layer
//! may raise it; the command line turns it into exit code 2, as for a bad pipeline file.

/// What was asked, why it cannot be done, and what to do instead.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// `Err(UsageError)` from a formatted message, like `anyhow::bail!`.
#[macro_export]
macro_rules! usage_bail {
    ($($arg:tt)*) => {
        return Err($crate::usage::UsageError(format!($($arg)*)).into())
    };
}
