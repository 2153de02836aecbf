//! The demo's seeded randomness (splitmix64), latency shapes, id formats and sender-clock timestamps.

use std::time::Duration;

/// A tiny seeded PRNG (splitmix64): reproducible demo behaviour without the `rand` crate.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// A generator for one participant: the same seed and label always give the same stream.
    pub fn for_participant(seed: u64, label: &str) -> Self {
        // FNV-1a over the label keeps participants' streams independent of spawn order.
        let mut label_hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in label.bytes() {
            label_hash ^= u64::from(byte);
            label_hash = label_hash.wrapping_mul(0x0100_0000_01b3);
        }
        let mut rng = Self::new(seed ^ label_hash);
        rng.next_u64();
        rng
    }

    /// A child generator (for a spawned handler task) drawn from this one.
    pub fn fork(&mut self) -> Self {
        Self::new(self.next_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform integer in [low, high] (inclusive).
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        low + self.next_u64() % (high - low + 1)
    }

    /// Picks one element; `None` only for an empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        let index = (self.next_u64() % items.len() as u64) as usize;
        items.get(index)
    }

    /// Standard normal deviate (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// A log-normal latency: most values near `median_millis`, a long right tail, clamped.
    pub fn latency(
        &mut self,
        median_millis: f64,
        sigma: f64,
        min_millis: u64,
        max_millis: u64,
    ) -> Duration {
        let millis = median_millis * (sigma * self.normal()).exp();
        let clamped = millis.clamp(min_millis as f64, max_millis as f64);
        Duration::from_micros((clamped * 1000.0) as u64)
    }

    /// A jittered delay in [low, high] milliseconds.
    pub fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(self.range(low, high))
    }

    /// `n` lowercase hex characters.
    pub fn hex(&mut self, n: usize) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        (0..n)
            .map(|_| char::from(HEX[(self.next_u64() % 16) as usize]))
            .collect()
    }

    /// `n` base-36 characters (what `Math.random().toString(36)` yields).
    pub fn base36(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(BASE36[(self.next_u64() % 36) as usize]))
            .collect()
    }

    /// A UUID v4 in its canonical text form.
    pub fn uuid4(&mut self) -> String {
        let high = self.next_u64();
        let low = self.next_u64();
        let time_low = (high >> 32) as u32;
        let time_mid = (high >> 16) as u16;
        let version_and_high = ((high as u16) & 0x0fff) | 0x4000;
        let variant_and_seq = (((low >> 48) as u16) & 0x3fff) | 0x8000;
        let node = low & 0xffff_ffff_ffff;
        format!(
            "{time_low:08x}-{time_mid:04x}-{version_and_high:04x}-{variant_and_seq:04x}-{node:012x}"
        )
    }

    /// `n` random bytes (binary Correlation Data, as paho examples send).
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

const BASE36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// Base-36 text of a number (`Number.prototype.toString(36)`).
pub fn to_base36(mut value: u64) -> String {
    if value == 0 {
        return "0".to_owned();
    }
    let mut digits = Vec::new();
    while value > 0 {
        digits.push(BASE36[(value % 36) as usize]);
        value /= 36;
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// The sender clock of a simulated participant: Unix epoch microseconds.
/// (Payload timestamps are annotations from the sender's clock, never the inspector's receive clock.)
pub fn wall_clock_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

pub fn wall_clock_millis() -> u64 {
    wall_clock_micros() / 1000
}

/// `2026-11-23T09:11:16.280Z` (JavaScript `Date.toISOString()`).
pub fn iso_millis(unix_millis: u64) -> String {
    let (date, seconds_of_day) = crate::civil::date_and_second_of_day(unix_millis / 1000);
    format!(
        "{date}T{:02}:{:02}:{:02}.{:03}Z",
        seconds_of_day / 3600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60,
        unix_millis % 1000
    )
}

/// `2026-11-23T09:11:16.326703+00:00` (Python `datetime.isoformat()` in UTC).
pub fn iso_micros(unix_micros: u64) -> String {
    let (date, seconds_of_day) = crate::civil::date_and_second_of_day(unix_micros / 1_000_000);
    format!(
        "{date}T{:02}:{:02}:{:02}.{:06}+00:00",
        seconds_of_day / 3600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60,
        unix_micros % 1_000_000
    )
}

pub fn iso_now_millis() -> String {
    iso_millis(wall_clock_millis())
}

pub fn iso_now_micros() -> String {
    iso_micros(wall_clock_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng::for_participant(7, "scout");
        let mut b = Rng::for_participant(7, "scout");
        let mut c = Rng::for_participant(7, "planner");
        let a_values: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let b_values: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        let c_values: Vec<u64> = (0..4).map(|_| c.next_u64()).collect();
        assert_eq!(a_values, b_values);
        assert_ne!(a_values, c_values);
    }

    #[test]
    fn latency_is_clamped_and_long_tailed() {
        let mut rng = Rng::new(1);
        let samples: Vec<u128> = (0..2000)
            .map(|_| rng.latency(450.0, 0.35, 300, 900).as_millis())
            .collect();
        assert!(samples.iter().all(|&m| (300..=900).contains(&m)));
        let over_700 = samples.iter().filter(|&&m| m > 700).count();
        assert!(over_700 > 20 && over_700 < 600, "tail count {over_700}");
    }

    #[test]
    fn ids_have_their_shapes() {
        let mut rng = Rng::new(3);
        let uuid = rng.uuid4();
        assert_eq!(uuid.len(), 36);
        assert_eq!(uuid.as_bytes()[14], b'4');
        assert!(matches!(uuid.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert_eq!(rng.hex(12).len(), 12);
        assert_eq!(to_base36(0), "0");
        assert_eq!(to_base36(35), "z");
        assert_eq!(to_base36(36), "10");
    }

    #[test]
    fn timestamps_match_the_sdks() {
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_millis(1_795_425_076_280), "2026-11-23T09:11:16.280Z");
        assert_eq!(
            iso_micros(1_795_425_076_326_703),
            "2026-11-23T09:11:16.326703+00:00"
        );
        assert_eq!(iso_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
