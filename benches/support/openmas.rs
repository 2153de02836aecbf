//! Synthetic OpenMAS request/response traffic and the seeded generator the frame benchmarks build their models with; included by each bench with `#[path]`.
#![allow(dead_code)]

use meshscope::protocol::RawMessage;

const MS: u64 = 1_000_000;

/// xorshift64: repeatable choices.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// An OpenMAS request `source` → `target` received at `at` (nanoseconds).
pub fn request(at: u64, id: u64, source: &str, target: &str, method: &str) -> RawMessage {
    let payload = format!(
        r#"{{"id":"req-{id}","source":"{source}","target":"{target}","method":"{method}","params":{{"a":{id},"b":7,"note":"benchmark request"}},"timestamp":{}}}"#,
        at / MS
    );
    RawMessage::new(
        at,
        &format!("openmas/{target}/request/{method}"),
        payload.into_bytes(),
    )
}

/// The response to [`request`] `id`, an error reply when `failed`.
pub fn response(at: u64, id: u64, source: &str, target: &str, failed: bool) -> RawMessage {
    let body = if failed {
        r#""error":{"code":500,"message":"handler raised","details":"RuntimeError"}"#.to_owned()
    } else {
        format!(r#""result":{{"value":{id},"ok":true}}"#)
    };
    let payload = format!(
        r#"{{"id":"req-{id}","source":"{target}","target":"{source}",{body},"timestamp":{}}}"#,
        at / MS
    );
    RawMessage::new(
        at,
        &format!("openmas/{source}/response/req-{id}"),
        payload.into_bytes(),
    )
}
