//! Process-wide allocator tuning so that RSS follows the memory budget under a flood.
//!
//! glibc gives threads that allocate at once arenas of their own (up to 8 per core) and keeps
//! what is freed in the arena it came from: messages allocated on the I/O threads and freed
//! when the store evicts them on the ingest thread leave free memory the process still holds.
//! Measured with `benches/memory.rs` (60 s flood through mosquitto, 512 MiB budget, with the
//! 8 192-event session queue): peak RSS 620 MiB with two arenas, 494 MiB with one (561 MiB with
//! glibc's default and the old 65 536-event queue).

/// Arenas glibc may create (`M_ARENA_MAX`). One: every thread frees into the arena it
/// allocates from, so evicted messages' memory is reused at once.
pub const MALLOC_ARENAS: i32 = 1;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
unsafe extern "C" {
    fn mallopt(param: i32, value: i32) -> i32;
}

/// Limits glibc's arenas to [`MALLOC_ARENAS`], or to `MESHSCOPE_MALLOC_ARENAS` when set (a
/// number, or `default` for glibc's own choice); call first thing in `main`, before threads
/// start. A no-op elsewhere. Returns whether a limit was set.
pub fn limit_arenas() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const M_ARENA_MAX: i32 = -8;
        let arenas = match std::env::var("MESHSCOPE_MALLOC_ARENAS") {
            Ok(v) if v.trim() == "default" => return false,
            Ok(v) => v.trim().parse().unwrap_or(MALLOC_ARENAS),
            Err(_) => MALLOC_ARENAS,
        };
        // SAFETY: mallopt only changes allocator parameters; a value it does not take is refused.
        unsafe { mallopt(M_ARENA_MAX, arenas) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_the_arena_limit() {
        assert!(super::limit_arenas());
    }
}
