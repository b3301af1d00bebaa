//! The official LangSmith Python SDK against `runlake emulate`: every `list_runs` example of
//! the seed page must return exactly the runs an independent evaluation selects
//! (tests/python/sdk_conformance.py). Needs `scripts/setup-python.sh` (the test scripts run it).

mod common;

#[test]
fn official_python_sdk_gets_the_runs_the_seed_page_promises() {
    common::run_python_check("sdk_conformance.py");
}

/// The SDK's `list_feedback` / `read_feedback` with filters and offset pages, against the
/// entries the JSONL holds and every run's `feedback_stats`
/// (tests/python/sdk_conformance_feedback.py).
#[test]
fn official_python_sdk_lists_the_feedback_the_runs_carry() {
    common::run_python_check("sdk_conformance_feedback.py");
}
