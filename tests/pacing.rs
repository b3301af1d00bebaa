//! runlake's default plan and pacing against the seed page's tool_usage script on three
//! emulated deployments (v1 + v2 with LangSmith's tiers, v1 only with the tiers, no limits):
//! the same rows, fewer requests, faster, and no 429s where runlake paces
//! (tests/python/pacing.py). Needs `scripts/setup-python.sh` (the test scripts run it).

mod common;

#[test]
fn default_plan_beats_the_seed_script_on_every_deployment_without_429s() {
    common::run_python_check("pacing.py");
}
