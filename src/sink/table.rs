//! How a sink's files become a table: what the table has committed, where a window's files
//! are staged, and how a staged window is published at once. Loads see only [`TableCommit`];
//! the manifest protocol ([`ManifestTable`], `commit.rs`) is one implementation, a Delta Lake
//! or Iceberg commit could be another without touching stages or loads.

use std::path::PathBuf;

use anyhow::Context;
use futures::FutureExt;
use futures::future::BoxFuture;

use super::SinkReport;
use super::commit::{self, CommitInfo, Manifest, SinkLayout};
use super::lake::Lake;
use crate::model::{Rejected, Window};

/// A local directory a sink writes one window's files into, kept until the commit is done.
pub struct Staged {
    pub dir: PathBuf,
    /// For tables on object storage: a temporary directory, removed when dropped.
    _temp: Option<tempfile::TempDir>,
}

/// A table that windows are committed into.
pub trait TableCommit: Send + Sync {
    /// Where the table is, for messages.
    fn describe(&self) -> String;
    /// Fails before any request when the table cannot be written at all.
    fn prepare(&self) -> BoxFuture<'_, anyhow::Result<()>>;
    /// Every committed window, oldest first.
    fn committed(&self) -> BoxFuture<'_, anyhow::Result<Vec<Manifest>>>;
    /// Undoes commits a killed run left half-done (of one window, or all) and drops stale
    /// staging; returns how many were rolled back.
    fn recover<'a>(&'a self, window: Option<&'a Window>) -> BoxFuture<'a, anyhow::Result<usize>>;
    /// An empty local directory for `window`'s files.
    fn stage<'a>(&'a self, window: &'a Window) -> BoxFuture<'a, anyhow::Result<Staged>>;
    /// Keeps the runs of `window`'s latest load that could not be read (none: removes what an
    /// earlier load kept); returns where they are.
    fn set_aside<'a>(
        &'a self,
        window: &'a Window,
        rejected: &'a [Rejected],
    ) -> BoxFuture<'a, anyhow::Result<String>>;
    /// Publishes the staged files as `info.window`, replacing the windows it `supersedes`:
    /// readers see the old files or the new ones, never a mix.
    fn commit<'a>(
        &'a self,
        info: &'a CommitInfo<'a>,
        report: &'a SinkReport,
        staged: &'a Staged,
        supersedes: &'a [Manifest],
    ) -> BoxFuture<'a, anyhow::Result<Manifest>>;
}

/// Data files in Hive partitions, bookkeeping under `_runlake/` and `_staging/`: staging →
/// journal → publish → manifest.
pub struct ManifestTable {
    lake: Lake,
    layout: SinkLayout,
    sink: String,
}

impl ManifestTable {
    pub fn open(root: &str, pipeline: &str, sink: &str) -> anyhow::Result<ManifestTable> {
        Ok(ManifestTable {
            lake: Lake::open(root)?,
            layout: SinkLayout::new(pipeline, sink),
            sink: sink.to_string(),
        })
    }
}

impl TableCommit for ManifestTable {
    fn describe(&self) -> String {
        self.lake.describe()
    }

    fn prepare(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        async move {
            if let Lake::Local { root } = &self.lake {
                std::fs::create_dir_all(root).with_context(|| {
                    format!(
                        "cannot create output directory {}: --output (or [sinks.{}] path) must be a directory runlake can create and write",
                        root.display(),
                        self.sink
                    )
                })?;
            }
            Ok(())
        }
        .boxed()
    }

    fn committed(&self) -> BoxFuture<'_, anyhow::Result<Vec<Manifest>>> {
        commit::manifests(&self.lake, &self.layout).boxed()
    }

    fn recover<'a>(&'a self, window: Option<&'a Window>) -> BoxFuture<'a, anyhow::Result<usize>> {
        async move {
            let key = window.map(Window::key);
            commit::recover(&self.lake, &self.layout, key.as_deref()).await
        }
        .boxed()
    }

    fn set_aside<'a>(
        &'a self,
        window: &'a Window,
        rejected: &'a [Rejected],
    ) -> BoxFuture<'a, anyhow::Result<String>> {
        async move {
            let rel = self.layout.rejected(&window.key());
            if rejected.is_empty() {
                self.lake.delete(&rel).await?;
            } else {
                let mut lines = Vec::new();
                for r in rejected {
                    serde_json::to_writer(&mut lines, r)?;
                    lines.push(b'\n');
                }
                self.lake.put(&rel, lines).await?;
            }
            Ok(self.lake.display(&rel))
        }
        .boxed()
    }

    fn stage<'a>(&'a self, window: &'a Window) -> BoxFuture<'a, anyhow::Result<Staged>> {
        async move {
            let staging = self.layout.staging(&window.key());
            // On a local disk the staging lives inside the table (a rename publishes it);
            // for object stores, in a temporary directory uploaded at commit.
            if let Some(dir) = self.lake.local_path(&staging) {
                self.lake.delete_all(&staging).await?;
                return Ok(Staged { dir, _temp: None });
            }
            let temp = tempfile::Builder::new()
                .prefix("runlake-staging-")
                .tempdir()
                .context("cannot create a local staging directory")?;
            Ok(Staged {
                dir: temp.path().to_path_buf(),
                _temp: Some(temp),
            })
        }
        .boxed()
    }

    fn commit<'a>(
        &'a self,
        info: &'a CommitInfo<'a>,
        report: &'a SinkReport,
        staged: &'a Staged,
        supersedes: &'a [Manifest],
    ) -> BoxFuture<'a, anyhow::Result<Manifest>> {
        commit::commit(
            &self.lake,
            &self.layout,
            info,
            report,
            &staged.dir,
            supersedes,
        )
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Disposition;
    use crate::sink::StagedFile;

    fn window(day: u32) -> Window {
        let start = chrono::NaiveDate::from_ymd_opt(2026, 10, day)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc();
        Window {
            start: Some(start),
            end: start + chrono::TimeDelta::days(1),
        }
    }

    /// Stages `files` (relative path → text) for `w` and commits them.
    async fn load(
        table: &ManifestTable,
        w: &Window,
        disposition: Disposition,
        files: &[(&str, &str)],
        supersedes: &[Manifest],
    ) -> Manifest {
        let staged = table.stage(w).await.unwrap();
        let mut report = SinkReport::default();
        for (path, text) in files {
            let at = staged.dir.join(path);
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::fs::write(&at, text).unwrap();
            report.files.push(StagedFile {
                path: path.to_string(),
                rows: 1,
                bytes: text.len() as u64,
            });
            report.rows += 1;
        }
        let info = CommitInfo {
            run_started_at: chrono::Utc::now(),
            window: *w,
            disposition,
            pipeline_name: "p",
            pipeline_hash: "h",
            sink_id: "s",
        };
        table
            .commit(&info, &report, &staged, supersedes)
            .await
            .unwrap()
    }

    /// Data files as a reader globbing the root sees them.
    fn visible(root: &std::path::Path) -> Vec<String> {
        let mut out = vec![];
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if crate::sink::is_hidden(&p) {
                    continue;
                }
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p.strip_prefix(root).unwrap().display().to_string());
                }
            }
        }
        out.sort();
        out
    }

    #[tokio::test]
    async fn commits_replace_their_window_and_supersede_contained_ones() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let table = ManifestTable::open(root, "p", "s").unwrap();
        table.prepare().await.unwrap();
        let (d1, d2) = (window(1), window(2));
        load(&table, &d1, Disposition::Append, &[("date=1/a", "1")], &[]).await;
        load(&table, &d2, Disposition::Append, &[("date=2/a", "2")], &[]).await;
        assert_eq!(visible(dir.path()), ["date=1/a", "date=2/a"]);
        // The same window again replaces only its own files.
        load(&table, &d1, Disposition::Append, &[("date=1/b", "1'")], &[]).await;
        assert_eq!(visible(dir.path()), ["date=1/b", "date=2/a"]);
        let committed = table.committed().await.unwrap();
        assert_eq!(committed.len(), 2);
        // A two-day window supersedes both.
        let both = Window {
            start: d1.start,
            end: d2.end,
        };
        let m = load(
            &table,
            &both,
            Disposition::Append,
            &[("date=1/c", "x"), ("date=2/c", "y")],
            &committed,
        )
        .await;
        assert_eq!(visible(dir.path()), ["date=1/c", "date=2/c"]);
        assert_eq!(m.removed, ["date=1/b", "date=2/a"]);
        let committed = table.committed().await.unwrap();
        assert_eq!(committed.len(), 1);
        assert_eq!(committed[0].window, both);
        assert!(!dir.path().join("_staging/p").join(both.key()).exists());
    }

    #[tokio::test]
    async fn replace_swaps_partitions_and_recover_rolls_back_an_interrupted_commit() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let table = ManifestTable::open(root, "p", "s").unwrap();
        std::fs::create_dir_all(dir.path().join("date=1")).unwrap();
        std::fs::write(dir.path().join("date=1/stray"), "?").unwrap();
        load(
            &table,
            &window(1),
            Disposition::Replace,
            &[("date=1/a", "1")],
            &[],
        )
        .await;
        assert_eq!(visible(dir.path()), ["date=1/a"], "replace removes strays");
        // A publish killed after its journal and one rename: the file is visible but no
        // manifest commits it.
        let d2 = window(2);
        let journal = serde_json::json!({"window": d2, "files": ["date=2/a"], "remove": []});
        let journal_dir = dir.path().join("_runlake/p/s/journal");
        std::fs::create_dir_all(&journal_dir).unwrap();
        std::fs::write(
            journal_dir.join(format!("{}.json", d2.key())),
            journal.to_string(),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("date=2")).unwrap();
        std::fs::write(dir.path().join("date=2/a"), "half").unwrap();
        // And a journal a kill caught while it was being written (its temporary file).
        std::fs::write(journal_dir.join(".tmp-x1y2z3"), "").unwrap();
        assert_eq!(table.recover(None).await.unwrap(), 1);
        assert_eq!(visible(dir.path()), ["date=1/a"]);
        assert!(!journal_dir.join(".tmp-x1y2z3").exists(), "removed");
        assert_eq!(table.committed().await.unwrap().len(), 1);
    }
}
