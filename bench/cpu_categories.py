"""Sums `perf script` samples (with call graphs) into the pipeline's cost centres.

Each sample goes to the first frame, from the leaf up, that belongs to a known centre, so a
page fault inside a copy made by the Arrow builders counts as Arrow building. Usage:
    perf script -F ip,sym | python3 bench/cpu_categories.py
"""
import collections
import sys

# (centre, substrings of a frame's symbol); the first centre matching a frame wins.
CENTRES = [
    ("zstd + Parquet encoding", ("ZSTD", "zstd", "parquet::")),
    ("JSON parsing (serde_json into runs)", ("serde_json::", "runlake::model::", "end_raw_buffering")),
    ("Arrow building (flatten)", ("runlake::flatten", "arrow_array::", "arrow_buffer::")),
    ("HTTP client and socket reads", ("hyper::", "hyper_util::", "reqwest::", "http_body", "BufList", "__libc_recv", "__GI___writev")),
    ("grouping, joins, channels (runner)", ("runlake::stages", "runlake::langsmith")),
    ("sink files (open, rename, fsync)", ("runlake::sink", "runlake::load", "fsync", "mkdir", "rename")),
    ("async runtime (tokio)", ("tokio::", "epoll_wait")),
    ("process start, config, TLS roots", ("runlake::config", "runlake::cli", "rustls", "_dl_", "elf_machine")),
]


def main() -> None:
    counts = collections.Counter()
    total = 0
    for sample in sys.stdin.read().split("\n\n"):
        frames = [line.strip().split(None, 1) for line in sample.strip().splitlines()]
        frames = [f[1] for f in frames if len(f) == 2]
        if not frames:
            continue
        total += 1
        centre = "other (allocator, kernel, std)"
        for frame in frames:
            hit = next((name for name, keys in CENTRES if any(k in frame for k in keys)), None)
            if hit:
                centre = hit
                break
        counts[centre] += 1
    for centre, n in counts.most_common():
        print(f"  {100 * n / total:5.1f}%  {centre}")
    print(f"  ({total} samples)")


if __name__ == "__main__":
    main()
