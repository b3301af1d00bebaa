//! Publishing a window's files into a lake, with a manifest, so that a load is idempotent
//! and a killed load leaves nothing half-done behind.
//!
//! Layout of a sink's output root (everything but the data is `_`-prefixed, which Spark,
//! pyarrow, DuckDB's Hive layout and polars skip):
//!
//! ```text
//! date=2026-10-01/tool_usage-20261001T000000Z_20261002T000000Z-00000.parquet   data
//! _runlake/<pipeline>/<sink>/windows/<window>.json    manifest of a committed window
//! _runlake/<pipeline>/<sink>/journal/<window>.json    a publish in progress
//! _runlake/<pipeline>/<sink>/rejected/<window>.jsonl  runs of the window that could not be read
//! _staging/<pipeline>/<window>/<sink>/…                files not yet published
//! ```
//!
//! A commit: upload to staging (object stores) → journal (what will appear and disappear) →
//! rename each file into place (atomic per file) → delete the files this window replaces →
//! manifest → drop journal and staging. File names are deterministic per window, so a re-run
//! overwrites rather than adds. A journal left by a killed commit is rolled back by the next
//! run: its published files are deleted unless a manifest committed them.

use crate::model::Disposition;
use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::lake::Lake;
use super::partition::escape_value;
use super::{SinkReport, StagedFile};
use crate::flatten::{Kind, kind_of};

pub const MANIFEST_VERSION: u32 = 1;

/// A committed window of one sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub manifest_version: u32,
    pub pipeline: String,
    /// SHA-256 of the pipeline file as written (before `${VAR}` interpolation: no secrets).
    pub pipeline_hash: String,
    pub runlake_version: String,
    pub sink: String,
    pub window: crate::model::Window,
    pub disposition: Disposition,
    pub committed_at: String,
    /// When the load that committed it started: feedback changed after this is newer than
    /// what the window holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub rows: u64,
    pub bytes: u64,
    /// Paths relative to the output root.
    pub files: Vec<StagedFile>,
    /// Column name and Arrow type.
    pub schema: Vec<(String, String)>,
    /// The columns of `schema` that hold JSON text (Arrow's `arrow.json` extension).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json_columns: Vec<String>,
    /// Files this commit removed (earlier versions of the window, replaced partitions).
    pub removed: Vec<String>,
}

/// What a publish is about to do, written before it starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journal {
    window: crate::model::Window,
    files: Vec<String>,
    remove: Vec<String>,
}

/// Where one sink's bookkeeping lives in its lake.
#[derive(Debug, Clone)]
pub struct SinkLayout {
    pub pipeline: String,
    pub sink: String,
}

impl SinkLayout {
    pub fn new(pipeline: &str, sink: &str) -> SinkLayout {
        SinkLayout {
            pipeline: escape_value(Some(pipeline)),
            sink: escape_value(Some(sink)),
        }
    }

    fn base(&self) -> String {
        format!("_runlake/{}/{}", self.pipeline, self.sink)
    }

    pub fn manifest(&self, key: &str) -> String {
        format!("{}/windows/{key}.json", self.base())
    }

    /// The runs of a window's latest load that could not be read, one JSON object a line.
    pub fn rejected(&self, key: &str) -> String {
        format!("{}/rejected/{key}.jsonl", self.base())
    }

    fn journal(&self, key: &str) -> String {
        format!("{}/journal/{key}.json", self.base())
    }

    /// Staging of one window of this pipeline (all sinks).
    pub fn staging_window(&self, key: &str) -> String {
        format!("_staging/{}/{key}", self.pipeline)
    }

    pub fn staging(&self, key: &str) -> String {
        format!("{}/{}", self.staging_window(key), self.sink)
    }

    pub fn staging_pipeline(&self) -> String {
        format!("_staging/{}", self.pipeline)
    }
}

impl Manifest {
    /// The columns this commit wrote, with their kinds (`None` for a type runlake does not
    /// write, from a manifest of another version).
    pub fn columns(&self) -> impl Iterator<Item = (&str, Option<Kind>)> {
        self.schema.iter().map(|(name, data_type)| {
            let kind = data_type
                .parse::<crate::arrow::datatypes::DataType>()
                .ok()
                .and_then(|t| {
                    let field = crate::arrow::datatypes::Field::new(name, t, true);
                    match kind_of(&field) {
                        Some(Kind::Utf8) if self.json_columns.contains(name) => Some(Kind::Json),
                        other => other,
                    }
                });
            (name.as_str(), kind)
        })
    }
}

/// A table's committed columns and kinds: every column any committed window wrote, in the
/// order they first appeared, each at the kind it was first committed with.
pub fn committed_columns(manifests: &[Manifest]) -> Vec<(String, Kind)> {
    let mut out: indexmap::IndexMap<String, Kind> = indexmap::IndexMap::new();
    let mut by_age: Vec<&Manifest> = manifests.iter().collect();
    by_age.sort_by(|a, b| a.committed_at.cmp(&b.committed_at));
    for m in by_age {
        for (name, kind) in m.columns() {
            if let Some(kind) = kind {
                out.entry(name.to_string()).or_insert(kind);
            }
        }
    }
    out.into_iter().collect()
}

/// Every committed window of a sink.
pub async fn manifests(lake: &Lake, layout: &SinkLayout) -> anyhow::Result<Vec<Manifest>> {
    let mut out = vec![];
    for rel in lake.list(&format!("{}/windows", layout.base())).await? {
        if !rel.ends_with(".json") || rel.rsplit('/').next().is_some_and(|n| n.starts_with('.')) {
            continue;
        }
        let bytes = lake.get(&rel).await?.unwrap_or_default();
        let m: Manifest = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a runlake manifest", lake.display(&rel)))?;
        out.push(m);
    }
    out.sort_by_key(|m| (m.window.start, m.window.end));
    Ok(out)
}

/// Undoes publishes that a killed run left half-done, and removes stale staging.
/// Returns the number of journals rolled back.
pub async fn recover(lake: &Lake, layout: &SinkLayout, key: Option<&str>) -> anyhow::Result<usize> {
    let journals = match key {
        Some(k) => vec![layout.journal(k)],
        None => lake.list(&format!("{}/journal", layout.base())).await?,
    };
    let mut rolled_back = 0;
    for rel in journals {
        if rel.rsplit('/').next().is_some_and(|n| n.starts_with('.')) {
            // A journal a kill caught half-written (its temporary file): that publish never
            // started, so there is nothing to undo.
            lake.delete(&rel).await?;
            continue;
        }
        let Some(bytes) = lake.get(&rel).await? else {
            continue;
        };
        let journal: Journal = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a runlake journal", lake.display(&rel)))?;
        let committed = lake.exists(&layout.manifest(&journal.window.key())).await?;
        if !committed {
            // Roll back: what the killed publish may have made visible goes away. The
            // window has no manifest, so it will be loaded again.
            for file in &journal.files {
                lake.delete(file).await?;
            }
            rolled_back += 1;
            tracing::warn!(
                window = %journal.window,
                files = journal.files.len(),
                "rolled back an interrupted publish"
            );
        }
        lake.delete(&rel).await?;
    }
    match key {
        Some(k) => lake.delete_all(&layout.staging(k)).await?,
        None => lake.delete_all(&layout.staging_pipeline()).await?,
    }
    Ok(rolled_back)
}

/// What a commit needs besides the staged files.
pub struct CommitInfo<'a> {
    pub window: crate::model::Window,
    pub disposition: Disposition,
    pub pipeline_name: &'a str,
    pub pipeline_hash: &'a str,
    pub sink_id: &'a str,
    pub run_started_at: chrono::DateTime<chrono::Utc>,
}

/// Publishes a window's staged files (written under `local_dir`, which for a local lake is
/// `layout.staging(key)` inside the lake itself).
pub async fn commit(
    lake: &Lake,
    layout: &SinkLayout,
    info: &CommitInfo<'_>,
    report: &SinkReport,
    local_dir: &Path,
    superseded: &[Manifest],
) -> anyhow::Result<Manifest> {
    let key = info.window.key();
    let staging = layout.staging(&key);
    if !lake.is_local() {
        for f in &report.files {
            lake.upload(&local_dir.join(&f.path), &format!("{staging}/{}", f.path))
                .await?;
        }
    }
    let new: BTreeSet<String> = report.files.iter().map(|f| f.path.clone()).collect();
    let mut remove: BTreeSet<String> = BTreeSet::new();
    let previous = match lake.get(&layout.manifest(&key)).await? {
        Some(b) => Some(serde_json::from_slice::<Manifest>(&b)?),
        None => None,
    };
    for m in previous.iter().chain(superseded) {
        remove.extend(m.files.iter().map(|f| f.path.clone()));
    }
    if info.disposition == Disposition::Replace {
        let mut partitions: BTreeSet<String> = new.iter().map(|p| parent(p)).collect();
        partitions.extend(remove.iter().map(|p| parent(p)));
        for dir in partitions {
            for file in lake.list(&dir).await? {
                let rest = file.strip_prefix(&dir).unwrap_or(&file);
                let hidden = rest
                    .split('/')
                    .any(|s| s.starts_with('_') || s.starts_with('.'));
                // Only this partition's own files, not deeper partitions' (for an
                // unpartitioned output that is every data file).
                let deeper = !dir.is_empty() && rest.trim_start_matches('/').contains('/');
                if !hidden && !deeper {
                    remove.insert(file);
                }
            }
        }
    }
    let remove: Vec<String> = remove.difference(&new).cloned().collect();
    let journal = Journal {
        window: info.window,
        files: new.iter().cloned().collect(),
        remove: remove.clone(),
    };
    lake.put(&layout.journal(&key), serde_json::to_vec_pretty(&journal)?)
        .await?;
    for f in &report.files {
        lake.rename(&format!("{staging}/{}", f.path), &f.path)
            .await?;
    }
    for f in &remove {
        lake.delete(f).await?;
    }
    let manifest = Manifest {
        manifest_version: MANIFEST_VERSION,
        pipeline: info.pipeline_name.to_string(),
        pipeline_hash: info.pipeline_hash.to_string(),
        runlake_version: env!("CARGO_PKG_VERSION").to_string(),
        sink: info.sink_id.to_string(),
        window: info.window,
        disposition: info.disposition,
        committed_at: chrono::Utc::now().to_rfc3339(),
        run_started_at: Some(info.run_started_at),
        rows: report.rows,
        bytes: report.bytes,
        files: report.files.clone(),
        schema: report.schema.clone(),
        json_columns: report.json_columns.clone(),
        removed: remove,
    };
    lake.put(
        &layout.manifest(&key),
        serde_json::to_vec_pretty(&manifest)?,
    )
    .await?;
    for m in superseded {
        lake.delete(&layout.manifest(&m.window.key())).await?;
    }
    lake.delete(&layout.journal(&key)).await?;
    lake.delete_all(&staging).await?;
    Ok(manifest)
}

/// `date=x/file.parquet` → `date=x`; `file.parquet` → ``.
fn parent(path: &str) -> String {
    path.rsplit_once('/')
        .map(|(d, _)| d.to_string())
        .unwrap_or_default()
}
