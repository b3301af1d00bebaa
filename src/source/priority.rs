//! Threads that produce runs (reading and parsing run files) run at a lower scheduling
//! priority than the stages they feed.
//!
//! A file source's reader and parsers are three threads against one sink thread (and the
//! flatten stage). With equal priorities the kernel shares the cores between them evenly, so
//! the sink, which needs about two thirds of a core for `convert`, falls behind; the queues
//! fill, the producers block, and the sink then runs alone on one of two cores (sampled: one
//! thread running, the sink's, 13% of the time; the machine 10% idle). Producers at a lower
//! priority still get every cycle the sink leaves: `convert` on 2 cores, median of 5,
//! interleaved, 1M runs 6.64 -> 6.06 s wall and 11.9 -> 11.4 s CPU; 163k runs 1.11 -> 1.01 s
//! wall, 1.98 -> 1.88 s CPU (fewer blocks read and parsed ahead of the sink and held).

/// Nice value for producer threads: the sink (nice 0) weighs 3x a producer, so it is scheduled
/// first whenever it has work; 10 measured no faster, and on a busy machine would leave the
/// producers a ninth of a normal process's share.
pub(super) const PRODUCER_NICE: i32 = 5;

/// Lowers the calling thread's priority to [`PRODUCER_NICE`]; Linux only (elsewhere the nice
/// value belongs to the whole process, and a failure changes nothing but speed).
pub(super) fn lower_to_producer() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscalls on the calling thread; on Linux the nice value is per thread.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, PRODUCER_NICE);
        }
    }
}
