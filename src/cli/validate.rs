use std::path::PathBuf;

use clap::Args;

/// `runlake validate`: check pipeline files offline (no network), reporting every error.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Pipeline files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

pub fn run(args: ValidateArgs) -> anyhow::Result<()> {
    let mut all = Vec::new();
    for file in &args.files {
        match crate::config::load(file) {
            Ok(p) => eprintln!(
                "{}: ok ({} stages, {} sinks)",
                file.display(),
                p.stages.len(),
                p.sinks.len()
            ),
            Err(e) => all.extend(e.0),
        }
    }
    if all.is_empty() {
        Ok(())
    } else {
        Err(crate::config::ConfigErrors(all).into())
    }
}
