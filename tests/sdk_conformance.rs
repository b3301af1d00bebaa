//! The official LangSmith Python SDK against `runlake emulate`: every `list_runs` example of
//! the seed page must return exactly the runs an independent evaluation selects.
//! Needs the project's Python environment: `scripts/setup-python.sh` (the test scripts run it).

use std::path::Path;
use std::process::Command;

#[test]
fn official_python_sdk_gets_the_runs_the_seed_page_promises() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "no Python test environment at {}: run scripts/setup-python.sh first",
        python.display()
    );
    let output = Command::new(&python)
        .arg(root.join("tests/python/sdk_conformance.py"))
        .arg("--runlake")
        .arg(env!("CARGO_BIN_EXE_runlake"))
        .output()
        .expect("run the conformance script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "SDK conformance failed:\n{stdout}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
