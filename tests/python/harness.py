"""What a check script needs around its cases: a generated project, `runlake emulate` serving
it on a free port, and the pass/fail tally that ends in the "N passed, N failed" line the Rust
driver (tests/common `run_python_check`) looks for."""

import contextlib
import subprocess
import sys


def generate(runlake, project, traces, seed, out):
    """Writes a generated project as JSONL to `out`."""
    subprocess.run(
        [runlake, "-q", "generate", "--project", project, "--traces", str(traces), "--seed", str(seed), "--out", out],
        check=True,
    )


@contextlib.contextmanager
def emulate(runlake, api_key, *data):
    """`runlake emulate` serving each `NAME=FILE` of `data`; yields its URL, stops it after."""
    args = [runlake, "-q", "emulate", "--port", "0", "--api-key", api_key]
    for d in data:
        args += ["--data", d]
    emulator = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        url = emulator.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield url
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)


class Tally:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, ok, detail=""):
        print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
        self.passed += bool(ok)
        self.failed += not ok

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)
