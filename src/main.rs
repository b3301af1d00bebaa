use std::process::ExitCode;

fn main() -> ExitCode {
    runlake::cli::main()
}

/// jemalloc instead of the system's allocator. Response bodies and Arrow buffers of megabytes
/// are allocated and freed page after page, by threads that hand them to one another; with
/// glibc that cost first-touch page faults (until tuned with `mallopt`), lock traffic between
/// per-thread arenas, and consolidation of freed chunks. Measured against tuned glibc on the
/// same binary (interleaved, 2026-12-02): tool_usage at 1M runs 1.200 -> 1.101 s CPU and 142
/// -> 126 MB peak RSS, `convert` of 1M runs 6.3-6.9 -> 5.9-6.2 s wall.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read once when it starts:
/// - one arena. Threads still allocate from their own caches; more arenas (jemalloc's default
///   is 4 per core) only kept more memory mapped (peak RSS +10 to +30 MB) for no CPU gained.
/// - freed pages handed back lazily only (`MADV_FREE`, which the kernel reclaims under memory
///   pressure), never forced out with `MADV_DONTNEED` while the process runs: forced purges
///   made the next megabyte-sized page buffer fault its pages in again. tool_usage at 163k
///   runs 21.9k -> 15.4k page faults, `convert` of 1M runs 4.24 -> 4.08 s wall (with the
///   next point; measured 2026-12-02, interleaved).
///
/// jemalloc also serves C's `malloc` (crate feature `unprefixed_malloc_on_supported_platforms`):
/// zstd allocates a compression context of about a megabyte for every Parquet column chunk,
/// which glibc mapped fresh (`mmap`) and unmapped each time.
#[cfg(not(target_env = "msvc"))]
const JEMALLOC_CONF: JemallocOptions = JemallocOptions(c"narenas:1,muzzy_decay_ms:-1".as_ptr());

/// The options under the name jemalloc reads where it serves `malloc` too (Linux and most Unix).
#[cfg(not(target_env = "msvc"))]
#[unsafe(export_name = "malloc_conf")]
static JEMALLOC_OPTIONS: JemallocOptions = JEMALLOC_CONF;

/// The same, where jemalloc keeps a prefix of its own (macOS).
#[cfg(not(target_env = "msvc"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
static JEMALLOC_OPTIONS_PREFIXED: JemallocOptions = JEMALLOC_CONF;

/// A C string pointer, as jemalloc declares `malloc_conf`.
#[cfg(not(target_env = "msvc"))]
#[repr(transparent)]
struct JemallocOptions(*const std::ffi::c_char);

// SAFETY: the pointer is to a static, immutable C string literal.
#[cfg(not(target_env = "msvc"))]
unsafe impl Sync for JemallocOptions {}
