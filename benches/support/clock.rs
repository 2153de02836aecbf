//! The clocks the frame benchmarks read: this thread's CPU time (other processes on the machine do not count) and `CLOCK_MONOTONIC`; included by each bench with `#[path]`.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// `struct timespec` on 64-bit Linux.
#[cfg(target_os = "linux")]
#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

#[cfg(target_os = "linux")]
unsafe extern "C" {
    fn clock_gettime(clock_id: i32, tp: *mut Timespec) -> i32;
}

#[cfg(target_os = "linux")]
fn clock_nanos(clock_id: i32) -> Option<u64> {
    let mut t = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec; the call only writes into it.
    let rc = unsafe { clock_gettime(clock_id, &mut t) };
    (rc == 0).then(|| t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64)
}

#[cfg(not(target_os = "linux"))]
fn clock_nanos(_clock_id: i32) -> Option<u64> {
    None
}

/// CPU time this thread has run, in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`); `None` where it is
/// not available.
pub fn thread_cpu_nanos() -> Option<u64> {
    clock_nanos(3)
}

/// CPU time of this thread; wall time where that is not available.
pub fn cpu_now() -> Duration {
    thread_cpu_nanos().map_or_else(wall_now, Duration::from_nanos)
}

/// `CLOCK_MONOTONIC`, the clock `perf record -k CLOCK_MONOTONIC` stamps samples with (0 where
/// it is not available).
pub fn monotonic_nanos() -> u64 {
    clock_nanos(1).unwrap_or(0)
}

fn wall_now() -> Duration {
    use std::sync::OnceLock;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}
