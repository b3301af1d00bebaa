//! Offloaded payloads end to end through `runlake run` against the emulator: a run whose
//! `inputs` / `outputs` live behind pre-signed URLs (`inputs_s3_urls` / `outputs_s3_urls`,
//! served by the emulator's `/_blobs/` object store) keeps those URLs in its columns; with
//! `[source] fetch_offloaded = true` runlake fetches them (no API key sent) and fills the
//! payloads; a payload that cannot be fetched sets its run aside. On v2, which has no
//! `*_s3_urls`, the payload arrives inline and attachments become `s3_urls`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use runlake::emulator::EmulatorConfig;
use serde_json::{Value, json};

const PROJECT: &str = "proj";
const SESSION: &str = "5e551000-0000-0000-0000-000000000001";

fn run(id: &str, minute: u32, extra: Value) -> Value {
    let mut r = json!({
        "id": id, "name": "agent", "run_type": "chain", "status": "success",
        "start_time": format!("2026-10-20T10:{minute:02}:00.000000"),
        "end_time": format!("2026-10-20T10:{minute:02}:01.000000"),
        "trace_id": id, "parent_run_id": null, "session_id": SESSION,
        "dotted_order": format!("20261020T10{minute:02}00000000Z{id}"),
        "inputs": {"q": "inline"}, "outputs": {"a": "inline"},
    });
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

fn urls(key: &str) -> Value {
    json!({"ROOT": {
        "presigned_url": format!("/_blobs/{key}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=secretsig"),
        "s3_url": format!("s3://langsmith-payloads/{key}"),
    }})
}

const OFFLOADED: &str = "00000000-0000-0000-0000-0000000000a1";
const PLAIN: &str = "00000000-0000-0000-0000-0000000000a2";
const MISSING: &str = "00000000-0000-0000-0000-0000000000a3";

/// The payloads behind the URLs: a large-ish input with a huge integer, kept exactly.
fn payloads() -> (Value, Value) {
    (
        json!({"messages": [{"role": "user", "content": "héllo ".repeat(50)}], "cache_key": 18446744073709551557u64}),
        json!({"answer": "offloaded answer", "score": 1.0}),
    )
}

/// The project: one run offloaded (with an attachment), one plain; with `missing`, one whose
/// input URL points at no object.
fn data(dir: &Path, missing: bool) -> PathBuf {
    let (input, output) = payloads();
    let mut lines = vec![
        run(
            OFFLOADED,
            1,
            json!({
                "inputs": null, "outputs": null,
                "inputs_s3_urls": urls("in-a1.json"), "outputs_s3_urls": urls("out-a1.json"),
                "s3_urls": {"attachment.diagram": {"presigned_url": "/_blobs/diagram.png?X-Amz-Signature=x", "mime_type": "image/png"}},
                "blobs": {"in-a1.json": input, "out-a1.json": output},
            }),
        ),
        run(PLAIN, 2, json!({})),
    ];
    if missing {
        lines.push(run(
            MISSING,
            3,
            json!({"inputs": null, "inputs_s3_urls": urls("gone.json")}),
        ));
    }
    let path = dir.join("proj.jsonl");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path
}

fn export(url: &str, out: &Path, api: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_runlake"))
        .args(["-q", "run", "--json"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/runs.toml"))
        .args(["--now", "2026-11-01T00:10:00Z", "--since", "30d"])
        .args(["--set", &format!("source.api={api}")])
        .args(["--set", "sinks.out.partition_by=[]"])
        .args(["--project", PROJECT, "--output"])
        .arg(out)
        .args(extra)
        .env("LANGSMITH_ENDPOINT", url)
        .env("LANGSMITH_API_KEY", common::KEY)
        .env_remove("LANGSMITH_PROJECT")
        .output()
        .unwrap()
}

/// Each row's JSON columns by id, parsed (absent when null).
fn rows(out: &Path) -> std::collections::BTreeMap<String, serde_json::Map<String, Value>> {
    use runlake::arrow::array::{Array, AsArray};
    let mut by_id = std::collections::BTreeMap::new();
    for file in common::data_files(out, "parquet") {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&file).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let ids = batch.column_by_name("id").unwrap().as_string::<i32>();
            for i in 0..batch.num_rows() {
                let mut row = serde_json::Map::new();
                for col in [
                    "inputs",
                    "outputs",
                    "inputs_s3_urls",
                    "outputs_s3_urls",
                    "s3_urls",
                ] {
                    let c = batch.column_by_name(col).unwrap().as_string::<i32>();
                    if c.is_valid(i) {
                        row.insert(col.into(), serde_json::from_str(c.value(i)).unwrap());
                    }
                }
                by_id.insert(ids.value(i).to_string(), row);
            }
        }
    }
    by_id
}

fn stats(url: &str) -> Value {
    let url = format!("{url}/_stats");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        common::http()
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
}

fn blob_requests(stats: &Value, status: &str) -> u64 {
    stats["requests"]["GET /_blobs/{*key}"][status]
        .as_u64()
        .unwrap_or(0)
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn v1_keeps_the_urls_by_default_and_fills_the_payloads_with_fetch_offloaded() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(
        &[(PROJECT, &data(dir.path(), false))],
        EmulatorConfig::default(),
    );
    let (input, output) = payloads();

    let plain = dir.path().join("plain");
    ok(&export(&served.url, &plain, "v1", &[]));
    let got = rows(&plain);
    let a1 = &got[OFFLOADED];
    assert_eq!(a1.get("inputs"), None, "null: not fetched ({a1:?})");
    assert_eq!(
        a1["inputs_s3_urls"],
        urls("in-a1.json"),
        "the URLs, verbatim"
    );
    assert_eq!(a1["outputs_s3_urls"], urls("out-a1.json"));
    assert_eq!(
        a1["s3_urls"]["attachment.diagram"]["mime_type"], "image/png",
        "{a1:?}"
    );
    assert_eq!(got[PLAIN]["inputs"], json!({"q": "inline"}));
    assert_eq!(got[PLAIN].get("inputs_s3_urls"), None);
    assert_eq!(
        blob_requests(&stats(&served.url), "200"),
        0,
        "nothing fetched"
    );

    let fetched = dir.path().join("fetched");
    ok(&export(
        &served.url,
        &fetched,
        "v1",
        &["--set", "source.fetch_offloaded=true"],
    ));
    let got = rows(&fetched);
    let a1 = &got[OFFLOADED];
    assert_eq!(a1["inputs"], input);
    assert_eq!(a1["outputs"], output);
    assert!(
        std::fs::read_dir(&fetched).unwrap().count() > 0
            && common::dataset_rows(&fetched)
                .iter()
                .any(|r| r.contains("18446744073709551557")),
        "the huge integer exactly"
    );
    assert_eq!(a1["inputs_s3_urls"], urls("in-a1.json"), "URLs still kept");
    assert_eq!(
        got[PLAIN]["inputs"],
        json!({"q": "inline"}),
        "inline untouched"
    );
    let stats = stats(&served.url);
    assert_eq!(blob_requests(&stats, "200"), 2, "{stats}");
    assert!(
        stats["requests"]
            .get("GET /_blobs/{*key} with x-api-key")
            .is_none(),
        "no API key goes to the object store: {stats}"
    );
}

#[test]
fn v2_serves_offloaded_payloads_inline_and_attachments_as_s3_urls() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(
        &[(PROJECT, &data(dir.path(), false))],
        EmulatorConfig::default(),
    );
    let (input, output) = payloads();
    let out = dir.path().join("v2");
    ok(&export(&served.url, &out, "v2", &[]));
    let got = rows(&out);
    let a1 = &got[OFFLOADED];
    assert_eq!(a1["inputs"], input);
    assert_eq!(a1["outputs"], output);
    assert_eq!(a1.get("inputs_s3_urls"), None, "v2 has no *_s3_urls");
    assert_eq!(
        a1["s3_urls"],
        json!({"attachment.diagram": {"presigned_url": "/_blobs/diagram.png?X-Amz-Signature=x"}}),
        "v2 attachments read back as v1 s3_urls"
    );
    assert_eq!(
        got[PLAIN].get("s3_urls"),
        None,
        "no attachments: null, as on v1"
    );
    // fetch_offloaded has nothing to fetch on v2: the same rows, no blob request.
    let again = dir.path().join("v2-fetch");
    ok(&export(
        &served.url,
        &again,
        "v2",
        &["--set", "source.fetch_offloaded=true"],
    ));
    assert_eq!(common::dataset_rows(&out), common::dataset_rows(&again));
    assert_eq!(blob_requests(&stats(&served.url), "200"), 0);
}

#[test]
fn a_payload_that_cannot_be_fetched_sets_its_run_aside() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(
        &[(PROJECT, &data(dir.path(), true))],
        EmulatorConfig::default(),
    );
    let fetch = ["--set", "source.fetch_offloaded=true"];

    let out = dir.path().join("strict");
    let failed = export(&served.url, &out, "v1", &fetch);
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("not published") && stderr.contains(MISSING),
        "{stderr}"
    );
    assert!(common::data_files(&out, "parquet").is_empty());

    let out = dir.path().join("lenient");
    let mut args = fetch.to_vec();
    args.extend(["--set", "load.max_rejected=1"]);
    ok(&export(&served.url, &out, "v1", &args));
    let got = rows(&out);
    assert_eq!(
        got.keys().cloned().collect::<Vec<_>>(),
        vec![OFFLOADED.to_string(), PLAIN.to_string()]
    );
    let rejected: Vec<Value> = walk(&out)
        .into_iter()
        .filter(|p| p.parent().is_some_and(|d| d.ends_with("rejected")))
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>()
        })
        .collect();
    let [r] = rejected.as_slice() else {
        panic!("{rejected:?}")
    };
    assert_eq!(r["run_id"], MISSING);
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains("field `inputs`")
            && reason.contains("404")
            && reason.contains("/_blobs/gone.json")
            && !reason.contains("secretsig"),
        "names the field, the URL without its signature and the answer: {reason}"
    );
    assert_eq!(r["record"]["inputs_s3_urls"], urls("gone.json"));
    assert_eq!(
        blob_requests(&stats(&served.url), "404"),
        2,
        "a 404 is not retried"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
