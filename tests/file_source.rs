//! `runlake run --from PATH`: a pipeline over captured run files gives exactly the rows it
//! gives against `runlake emulate` serving those files, on v2 and on v1, for a file, a
//! compressed copy in a directory tree, and with no key or endpoint at all.

mod common;

use std::path::Path;
use std::process::Command;

use runlake::emulator::EmulatorConfig;
use runlake::sample::SampleConfig;

fn run(pipeline: &str, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> String {
    common::run_30_days(pipeline, out, extra, env)
}

#[test]
fn pipelines_over_run_files_give_the_apis_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut sample = SampleConfig::new("proj", 500, 21);
    sample.days = 30;
    let file = common::sample_file(dir.path(), &sample);
    // The same runs gzipped, one level down in a directory with bookkeeping beside them.
    let tree = dir.path().join("captured");
    std::fs::create_dir_all(tree.join("2026/10")).unwrap();
    std::fs::create_dir_all(tree.join("_state")).unwrap();
    std::fs::write(tree.join("_state/ignored.jsonl"), "not a run\n").unwrap();
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(tree.join("2026/10/runs.jsonl.gz")).unwrap(),
        flate2::Compression::fast(),
    );
    std::io::copy(&mut std::fs::File::open(&file).unwrap(), &mut gz).unwrap();
    gz.finish().unwrap();
    let served = common::serve(&[("proj", &file)], EmulatorConfig::default());
    let api = [
        ("LANGSMITH_ENDPOINT", served.url.as_str()),
        ("LANGSMITH_API_KEY", "k"),
    ];
    for pipeline in ["tool_usage.toml", "retriever_io.toml"] {
        let out = |name: &str| dir.path().join(format!("{pipeline}-{name}"));
        run(pipeline, &out("v2"), &["--project", "proj"], &api);
        run(
            pipeline,
            &out("v1"),
            &["--project", "proj", "--set", "source.api=v1"],
            &api,
        );
        run(
            pipeline,
            &out("file"),
            &["--project", "proj", "--from", file.to_str().unwrap()],
            &[],
        );
        // No --project: a file of one project answers to the pipeline's own name.
        run(
            pipeline,
            &out("tree"),
            &["--from", tree.to_str().unwrap()],
            &[],
        );
        let want = common::dataset_rows(&out("v2"));
        assert!(want.len() > 20, "{pipeline}: {} rows", want.len());
        assert_eq!(common::dataset_rows(&out("v1")), want, "{pipeline} v1");
        assert_eq!(common::dataset_rows(&out("file")), want, "{pipeline} file");
        assert_eq!(common::dataset_rows(&out("tree")), want, "{pipeline} tree");
    }
}

#[test]
fn files_of_several_projects_are_named_by_id_and_a_wrong_name_says_which_exist() {
    let dir = tempfile::tempdir().unwrap();
    let a = common::sample_file(dir.path(), &SampleConfig::new("a", 40, 1));
    let b = common::sample_file(dir.path(), &SampleConfig::new("b", 40, 2));
    let both = dir.path().join("both");
    std::fs::create_dir(&both).unwrap();
    std::fs::copy(&a, both.join("a.jsonl")).unwrap();
    std::fs::copy(&b, both.join("b.jsonl")).unwrap();
    let id_of = |path: &Path| {
        common::read_runs(path)[0]["session_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let output = Command::new(env!("CARGO_BIN_EXE_runlake"))
        .args([
            "-q",
            "run",
            "pipelines/tool_usage.toml",
            "--project",
            "nope",
            "--output",
        ])
        .arg(dir.path().join("out"))
        .arg("--from")
        .arg(&both)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("project \"nope\" is not in")
            && stderr.contains(&id_of(&a))
            && stderr.contains(&id_of(&b)),
        "{stderr}"
    );
    let out = dir.path().join("by-id");
    run(
        "tool_usage.toml",
        &out,
        &["--project", &id_of(&b), "--from", both.to_str().unwrap()],
        &[],
    );
    let from_b_alone = dir.path().join("b-alone");
    run(
        "tool_usage.toml",
        &from_b_alone,
        &["--project", "b", "--from", b.to_str().unwrap()],
        &[],
    );
    assert_eq!(
        common::dataset_rows(&out),
        common::dataset_rows(&from_b_alone)
    );
}
