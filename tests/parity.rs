//! The seed page's two "Advanced" scripts, run as-is with the official SDK against the
//! emulator, give the same rows as runlake's shipped pipelines (tests/python/parity.py);
//! DuckDB and pyarrow read runlake's output with the declared types.

mod common;

#[test]
fn shipped_pipelines_match_the_seed_scripts() {
    common::run_python_check("parity.py");
}
