//! CPU time of the calling thread and of the whole process, from the kernel's CPU-time clocks.
//! Workers feed load shedding with it (work, not time spent preempted); the perf harnesses report
//! per-datagram and per-client costs with it.

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid out-pointer; both CPU-time clocks used here exist on every Linux.
    unsafe { libc::clock_gettime(clock, &raw mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// CPU time the calling thread has run, nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time of every thread of this process (user and system), including kernel io_uring threads
/// (SQPOLL, io-wq), which belong to the process's thread group; nanoseconds.
pub fn process_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID)
}
