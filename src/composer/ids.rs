//! Identifiers the composer mints (call ids, Correlation Data, task ids, reply suffixes) and ISO-8601 times, from a seed and a given clock value.

use std::hash::{BuildHasher as _, Hasher as _};

/// A small deterministic generator (splitmix64): the same seed gives the same ids, so tests
/// can pin them; drivers seed it with [`random_seed`].
#[derive(Debug, Clone)]
pub struct IdSource {
    state: u64,
}

impl IdSource {
    pub fn new(seed: u64) -> Self {
        IdSource { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `digits` lowercase hex digits.
    pub fn hex(&mut self, digits: usize) -> String {
        let mut out = String::with_capacity(digits);
        while out.len() < digits {
            out.push_str(&format!("{:016x}", self.next_u64()));
        }
        out.truncate(digits);
        out
    }

    /// `digits` base-36 characters (`0-9a-z`), as the MQTT.Agent SDK's random parts.
    pub fn base36(&mut self, digits: usize) -> String {
        (0..digits)
            .map(|_| {
                let d = (self.next_u64() % 36) as u32;
                char::from_digit(d, 36).unwrap_or('0')
            })
            .collect()
    }

    /// A random (version 4) UUID in its usual text form.
    pub fn uuid4(&mut self) -> String {
        let hi = self.next_u64();
        let lo = self.next_u64();
        let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
        let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xffff,
            hi & 0xffff,
            lo >> 48,
            lo & 0xffff_ffff_ffff
        )
    }

    /// An MQTT.Agent call id as the SDK mints it: `call_{ms in base 36}_{8 base-36 chars}`.
    pub fn call_id(&mut self, now_nanos: u64) -> String {
        format!(
            "call_{}_{}",
            to_base36(now_nanos / 1_000_000),
            self.base36(8)
        )
    }
}

/// A seed that differs per call and per process (std's random hash keys; no clock).
pub fn random_seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.finish()
}

pub fn to_base36(mut n: u64) -> String {
    if n == 0 {
        return "0".to_owned();
    }
    let mut digits = Vec::new();
    while n > 0 {
        digits.push(char::from_digit((n % 36) as u32, 36).unwrap_or('0'));
        n /= 36;
    }
    digits.iter().rev().collect()
}

/// `2026-04-21T10:00:05.123Z` for a Unix-epoch time in nanoseconds (UTC, millisecond precision).
pub fn iso_utc_millis(at_nanos: u64) -> String {
    let millis = at_nanos / 1_000_000;
    let secs = millis / 1000;
    let (year, month, day) = crate::civil::civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        millis % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times_match_known_dates() {
        assert_eq!(iso_utc_millis(0), "1970-01-01T00:00:00.000Z");
        // 2026-04-21T10:00:05.123Z
        assert_eq!(
            iso_utc_millis(1_776_765_605_123_000_000),
            "2026-04-21T10:00:05.123Z"
        );
        // A leap day.
        assert_eq!(
            iso_utc_millis(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn ids_have_the_shapes_peers_expect() {
        let mut ids = IdSource::new(42);
        let uuid = ids.uuid4();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(ids.hex(16).len(), 16);
        assert_eq!(ids.hex(40).len(), 40);
        let call = ids.call_id(1_776_765_605_123_000_000);
        assert!(call.starts_with("call_"), "{call}");
        assert_eq!(call.rsplit('_').next().map(str::len), Some(8));
        assert_ne!(IdSource::new(1).hex(8), IdSource::new(2).hex(8));
        assert_eq!(IdSource::new(7).hex(8), IdSource::new(7).hex(8));
        assert_eq!(to_base36(35), "z");
        assert_eq!(to_base36(36), "10");
    }
}
