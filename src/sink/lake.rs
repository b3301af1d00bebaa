//! Where published files live: a local directory, or an object store (`s3://`, `gs://`,
//! `az://`) through `object_store`.
//!
//! Paths are relative to the lake's root and always use `/`. Local lakes use `std::fs`
//! directly: `rename` there is atomic and never decodes `%XX` (Hive escapes) in names.
//! Object stores get credentials and endpoints from their usual environment variables
//! (`AWS_*`, `GOOGLE_*`, `AZURE_*`), so nothing secret is in the URL.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

/// Bytes per multipart upload part; files up to one part are sent in one PUT. S3 needs at
/// least 5 MiB per part except the last; `RUNLAKE_UPLOAD_PART_BYTES` tunes it (e.g. for
/// S3-compatible servers with other limits).
fn part_bytes() -> usize {
    std::env::var("RUNLAKE_UPLOAD_PART_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8 * 1024 * 1024)
}

#[derive(Debug, Clone)]
pub enum Lake {
    Local {
        root: PathBuf,
    },
    Remote {
        store: Arc<dyn ObjectStore>,
        prefix: String,
        /// The URL as given, for messages.
        url: String,
    },
}

impl Lake {
    /// A local path, `file://` URL, or an object-store URL.
    pub fn open(uri: &str) -> anyhow::Result<Lake> {
        // Object stores talk HTTPS through reqwest, built without a default TLS provider.
        crate::ensure_crypto_provider();
        let Some((scheme, _)) = uri.split_once("://") else {
            return Ok(Lake::Local {
                root: PathBuf::from(uri),
            });
        };
        let url = url::Url::parse(uri).with_context(|| format!("{uri:?} is not a valid URL"))?;
        let store: Arc<dyn ObjectStore> = match scheme {
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|_| anyhow::anyhow!("{uri:?} is not a local file URL"))?;
                return Ok(Lake::Local { root: path });
            }
            "s3" | "s3a" => Arc::new(
                object_store::aws::AmazonS3Builder::from_env()
                    .with_url(uri)
                    .build()
                    .with_context(|| format!("cannot use {uri}: check AWS_* settings"))?,
            ),
            "gs" => Arc::new(
                object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_url(uri)
                    .build()
                    .with_context(|| format!("cannot use {uri}: check GOOGLE_* settings"))?,
            ),
            "az" | "azure" | "abfs" | "abfss" | "adl" => Arc::new(
                object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(uri)
                    .build()
                    .with_context(|| format!("cannot use {uri}: check AZURE_* settings"))?,
            ),
            other => crate::usage_bail!(
                "output {uri:?}: unsupported scheme {other:?}; use a local path, file://, s3://, gs:// or az://"
            ),
        };
        // The bucket (or container) is the host; the rest is the prefix.
        let prefix = url.path().trim_matches('/').to_string();
        Ok(Lake::Remote {
            store,
            prefix,
            url: format!("{scheme}://{}{}", url.host_str().unwrap_or(""), url.path()),
        })
    }

    pub fn describe(&self) -> String {
        match self {
            Lake::Local { root } => root.display().to_string(),
            Lake::Remote { url, .. } => url.clone(),
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self, Lake::Local { .. })
    }

    /// The local path of `rel` in a local lake.
    pub fn local_path(&self, rel: &str) -> Option<PathBuf> {
        match self {
            Lake::Local { root } => Some(root.join(rel)),
            Lake::Remote { .. } => None,
        }
    }

    /// The full path of `rel`, for messages.
    pub fn display(&self, rel: &str) -> String {
        match self {
            Lake::Local { root } => root.join(rel).display().to_string(),
            Lake::Remote { url, .. } => format!("{}/{rel}", url.trim_end_matches('/')),
        }
    }

    fn object_path(&self, rel: &str) -> anyhow::Result<ObjectPath> {
        let Lake::Remote { prefix, .. } = self else {
            unreachable!("remote only")
        };
        let full = if prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{prefix}/{rel}")
        };
        ObjectPath::parse(&full).with_context(|| format!("bad object path {full:?}"))
    }

    /// Writes a small object whole: readers see the old or the new content, never a mix.
    pub async fn put(&self, rel: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        match self {
            Lake::Local { root } => {
                let path = root.join(rel);
                let parent = path.parent().expect("relative path has a parent");
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
                let mut tmp = tempfile::NamedTempFile::with_prefix_in(".tmp-", parent)
                    .with_context(|| format!("cannot write in {}", parent.display()))?;
                std::io::Write::write_all(&mut tmp, &bytes)?;
                tmp.as_file().sync_all()?;
                tmp.persist(&path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            Lake::Remote { store, .. } => {
                store
                    .put(&self.object_path(rel)?, bytes.into())
                    .await
                    .with_context(|| format!("cannot write {}", self.display(rel)))?;
            }
        }
        Ok(())
    }

    /// An object's bytes, or `None` when it does not exist.
    pub async fn get(&self, rel: &str) -> anyhow::Result<Option<Vec<u8>>> {
        match self {
            Lake::Local { root } => match std::fs::read(root.join(rel)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e).with_context(|| format!("cannot read {}", self.display(rel))),
            },
            Lake::Remote { store, .. } => match store.get(&self.object_path(rel)?).await {
                Ok(r) => Ok(Some(r.bytes().await?.to_vec())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e).with_context(|| format!("cannot read {}", self.display(rel))),
            },
        }
    }

    /// Every file under `rel` (recursively), relative to the root, sorted.
    pub async fn list(&self, rel: &str) -> anyhow::Result<Vec<String>> {
        let mut out = match self {
            Lake::Local { root } => {
                let mut out = vec![];
                let start = root.join(rel);
                if start.is_dir() {
                    list_local(root, &start, &mut out)?;
                }
                out
            }
            Lake::Remote { store, prefix, .. } => {
                let at = self.object_path(rel.trim_end_matches('/'))?;
                let metas: Vec<object_store::ObjectMeta> = store
                    .list(Some(&at))
                    .try_collect()
                    .await
                    .with_context(|| format!("cannot list {}", self.display(rel)))?;
                metas
                    .into_iter()
                    .map(|m| {
                        let full = m.location.as_ref().to_string();
                        match prefix.is_empty() {
                            true => full,
                            false => full[prefix.len() + 1..].to_string(),
                        }
                    })
                    .collect()
            }
        };
        out.sort();
        Ok(out)
    }

    /// Copies a local file into the lake (multipart for big files). Readers never see a
    /// partial object: object stores publish an upload only when it completes.
    pub async fn upload(&self, local: &Path, rel: &str) -> anyhow::Result<()> {
        let Lake::Remote { store, .. } = self else {
            bail!("upload is for object stores")
        };
        let path = self.object_path(rel)?;
        let mut file = tokio::fs::File::open(local)
            .await
            .with_context(|| format!("cannot read {}", local.display()))?;
        let mut writer =
            object_store::buffered::BufWriter::with_capacity(store.clone(), path, part_bytes());
        let copied = tokio::io::copy(&mut file, &mut writer).await;
        match copied {
            Ok(_) => {
                tokio::io::AsyncWriteExt::shutdown(&mut writer)
                    .await
                    .with_context(|| format!("cannot upload {}", self.display(rel)))?;
            }
            Err(e) => {
                let _ = writer.abort().await;
                return Err(e).with_context(|| format!("cannot upload {}", self.display(rel)));
            }
        }
        Ok(())
    }

    /// Moves `from` to `to`, replacing `to`. Atomic on local disks; on object stores a
    /// server-side copy (atomic for readers of `to`) then a delete.
    pub async fn rename(&self, from: &str, to: &str) -> anyhow::Result<()> {
        match self {
            Lake::Local { root } => {
                let (src, dst) = (root.join(from), root.join(to));
                if let Some(parent) = dst.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("cannot create {}", parent.display()))?;
                }
                std::fs::rename(&src, &dst)
                    .with_context(|| format!("cannot publish {}", dst.display()))?;
            }
            Lake::Remote { store, .. } => {
                store
                    .rename(&self.object_path(from)?, &self.object_path(to)?)
                    .await
                    .with_context(|| format!("cannot publish {}", self.display(to)))?;
            }
        }
        Ok(())
    }

    pub async fn exists(&self, rel: &str) -> anyhow::Result<bool> {
        match self {
            Lake::Local { root } => Ok(root.join(rel).exists()),
            Lake::Remote { store, .. } => match store.head(&self.object_path(rel)?).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(e.into()),
            },
        }
    }

    /// Deletes a file; a missing one is fine. Empty local directories left behind go too.
    pub async fn delete(&self, rel: &str) -> anyhow::Result<()> {
        match self {
            Lake::Local { root } => {
                let path = root.join(rel);
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(e).with_context(|| format!("cannot delete {}", path.display()));
                    }
                }
                remove_empty_parents(root, &path);
            }
            Lake::Remote { store, .. } => match store.delete(&self.object_path(rel)?).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot delete {}", self.display(rel)));
                }
            },
        }
        Ok(())
    }

    /// Deletes everything under `rel`.
    pub async fn delete_all(&self, rel: &str) -> anyhow::Result<()> {
        match self {
            Lake::Local { root } => {
                let path = root.join(rel);
                match std::fs::remove_dir_all(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(e)
                            .with_context(|| format!("cannot delete {}", self.display(rel)));
                    }
                }
                remove_empty_parents(root, &path);
                Ok(())
            }
            Lake::Remote { .. } => {
                for file in self.list(rel).await? {
                    self.delete(&file).await?;
                }
                Ok(())
            }
        }
    }
}

/// Removes `path`'s parent directories up to `root` while they are empty.
fn remove_empty_parents(root: &Path, path: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir.filter(|d| d.starts_with(root) && *d != root) {
        if std::fs::remove_dir(d).is_err() {
            break; // not empty
        }
        dir = d.parent();
    }
}

fn list_local(root: &Path, dir: &Path, out: &mut Vec<String>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            list_local(root, &path, out)?;
        } else {
            let rel = path.strip_prefix(root).expect("under root");
            out.push(
                rel.components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/"),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_store_and_keep_secrets_out_of_names() {
        crate::ensure_crypto_provider();
        assert!(
            matches!(Lake::open("out/x").unwrap(), Lake::Local { root } if root == Path::new("out/x"))
        );
        assert!(
            matches!(Lake::open("file:///tmp/lake").unwrap(), Lake::Local { root } if root == Path::new("/tmp/lake"))
        );
        let s3 = Lake::open("s3://bucket/some/prefix/").unwrap();
        assert_eq!(s3.describe(), "s3://bucket/some/prefix/");
        assert_eq!(
            s3.display("date=x/f.parquet"),
            "s3://bucket/some/prefix/date=x/f.parquet"
        );
        let Lake::Remote { prefix, .. } = &s3 else {
            panic!("remote")
        };
        assert_eq!(prefix, "some/prefix");
        assert!(Lake::open("gs://bucket/p").is_ok());
        let e = Lake::open("ftp://host/x").unwrap_err().to_string();
        assert!(
            e.contains("unsupported scheme") && e.contains("s3://"),
            "{e}"
        );
    }
}
