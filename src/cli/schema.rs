use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

/// `runlake schema`: the JSON Schema (draft 2020-12) of pipeline files, for editors.
///
/// Save it and point your editor at it, e.g. with taplo / Even Better TOML put
/// `#:schema ./pipeline.schema.json` on the first line of a pipeline file.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Write the schema to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

pub fn run(args: SchemaArgs) -> anyhow::Result<()> {
    let schema = crate::config::schema::pipeline_schema();
    let text = serde_json::to_string_pretty(&schema).expect("the schema serializes") + "\n";
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write the schema to {}", path.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
