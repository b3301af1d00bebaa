use std::process::ExitCode;

fn main() -> ExitCode {
    keep_big_allocations_in_the_heap();
    runlake::cli::main()
}

/// Response bodies, spilled pages and Arrow buffers are megabytes each. glibc maps every
/// allocation above 128 KiB anew and unmaps it when freed, so each page received paid
/// first-touch page faults again (a third of an export's CPU was kernel time). Above that
/// threshold they now come from the heap, which keeps freed memory for the next page.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_big_allocations_in_the_heap() {
    // SAFETY: mallopt only sets allocator parameters; called first, before any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_big_allocations_in_the_heap() {}
