use std::process::ExitCode;

fn main() -> ExitCode {
    keep_big_allocations_in_the_heap();
    runlake::cli::main()
}

/// Response bodies and Arrow buffers are up to megabytes each. glibc maps every allocation
/// above 128 KiB anew and unmaps it when freed, so each page received paid first-touch page
/// faults again (a third of an export's CPU was kernel time): up to 8 MiB they now come from
/// the heap, which keeps freed memory for the next page, and memory freed at the heap's top
/// beyond 32 MiB goes back to the system (with 256 / 512 MiB before, a load's peak RSS was
/// twice its peak heap). Arenas stay per thread: a single one cut peak RSS by ~20 MB but cost
/// `convert`, whose parser threads allocate at once, ~50% more CPU.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_big_allocations_in_the_heap() {
    // SAFETY: mallopt only sets allocator parameters; called first, before any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 8 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 32 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_big_allocations_in_the_heap() {}
