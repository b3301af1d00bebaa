//! The official LangSmith Python SDK's v2 traces and threads resources against
//! `runlake emulate`: pages, selects, filters and aggregates must match an independent
//! reading of the JSONL data (tests/python/sdk_conformance_traces.py). Needs
//! `scripts/setup-python.sh` (the test scripts run it).

mod common;

#[test]
fn official_python_sdk_reads_traces_and_threads_as_the_data_says() {
    common::run_python_check("sdk_conformance_traces.py");
}
