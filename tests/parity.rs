//! The seed page's two "Advanced" scripts, run as-is with the official SDK against the
//! emulator, give the same rows as runlake's shipped pipelines (tests/python/parity.py);
//! DuckDB and pyarrow read runlake's output with the declared types.

use std::path::Path;
use std::process::Command;

#[test]
fn shipped_pipelines_match_the_seed_scripts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "no Python test environment at {}: run scripts/setup-python.sh first",
        python.display()
    );
    let output = Command::new(&python)
        .args(["-W", "ignore"])
        .arg(root.join("tests/python/parity.py"))
        .arg("--runlake")
        .arg(env!("CARGO_BIN_EXE_runlake"))
        .output()
        .expect("run the parity script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "parity failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
