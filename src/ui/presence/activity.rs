//! Live activity read incrementally from new traces: call rates per edge, pulses to draw, each participant's recent traces.
//!
//! Only traces newer than the last one seen are read each frame, so the cost follows the call
//! rate, not the size of the trace ring. Everything here is bounded.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::model::mesh::Mesh;
use crate::model::mesh::hash::FastMap;
use crate::protocol::Dialect;

/// The rate is an exponentially weighted average over about this long.
const RATE_TAU_SECS: f64 = 60.0;
/// A pulse travels its edge in this long.
pub const PULSE_NANOS: u64 = 900_000_000;
/// Pulses kept at once (a flood shows as a steady stream, not a pile of dots).
const MAX_PULSES: usize = 400;
/// Recent trace ids kept per participant.
pub const RECENT_PER_PARTICIPANT: usize = 16;
/// Participants with recent traces (past it the table restarts: it only feeds the details panel).
const MAX_RECENT_KEYS: usize = 50_000;
/// Edges with a rate (past it the oldest-touched are not tracked any more; the rest keep going).
const MAX_RATES: usize = 65_536;

/// Calls per second, decayed exponentially: O(1) per call and per read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rate {
    per_sec: f64,
    at_nanos: u64,
}

impl Rate {
    fn decayed(&self, now_nanos: u64) -> f64 {
        let dt = now_nanos.saturating_sub(self.at_nanos) as f64 / 1e9;
        self.per_sec * (-dt / RATE_TAU_SECS).exp()
    }

    fn add(&mut self, at_nanos: u64) {
        let at = at_nanos.max(self.at_nanos);
        self.per_sec = self.decayed(at) + 1.0 / RATE_TAU_SECS;
        self.at_nanos = at;
    }

    /// Calls per minute at `now_nanos`.
    pub fn per_minute(&self, now_nanos: u64) -> f64 {
        self.decayed(now_nanos) * 60.0
    }
}

/// A call in flight on the map: caller to callee, from its request time.
#[derive(Debug, Clone)]
pub struct Pulse {
    pub dialect: Dialect,
    pub caller: Arc<str>,
    pub callee: Arc<str>,
    pub at_nanos: u64,
}

type EdgeKey = (Dialect, Arc<str>, Arc<str>);

#[derive(Debug, Default)]
pub struct Activity {
    last_trace_id: Option<u64>,
    rate_index: FastMap<EdgeKey, u32>,
    rates: Vec<Rate>,
    pulses: VecDeque<Pulse>,
    /// (dialect, participant id) → newest trace ids last.
    recent: FastMap<(Dialect, Arc<str>), VecDeque<u64>>,
    /// Bumps when a rate slot is added (the map re-resolves its edges' slots).
    pub slots_generation: u64,
}

impl Activity {
    /// Reads the traces that appeared since the last call.
    pub fn ingest(&mut self, mesh: &Mesh, now_nanos: u64) {
        let newest = mesh.traces().next_back().map(|t| t.trace_id);
        if let (Some(last), Some(newest)) = (self.last_trace_id, newest)
            && newest < last
        {
            // A new model (reconnect, replay): start over.
            *self = Activity::default();
        }
        let last = self.last_trace_id;
        let fresh: Vec<&crate::model::mesh::Trace> = mesh
            .traces()
            .rev()
            .take_while(|t| last.is_none_or(|l| t.trace_id > l))
            .collect();
        for t in fresh.into_iter().rev() {
            self.last_trace_id = Some(t.trace_id);
            if self.recent.len() >= MAX_RECENT_KEYS {
                self.recent.clear();
            }
            let mut remember = |who: &Arc<str>| {
                let list = self.recent.entry((t.dialect, who.clone())).or_default();
                if list.len() >= RECENT_PER_PARTICIPANT {
                    list.pop_front();
                }
                list.push_back(t.trace_id);
            };
            remember(&t.callee);
            if let Some(caller) = &t.caller {
                remember(caller);
            }
            if let Some(responder) = t.responder.as_ref().filter(|r| **r != t.callee) {
                remember(responder);
            }
            let (Some(caller), Some(at)) = (&t.caller, t.request_at_nanos) else {
                continue;
            };
            let slot = self.slot((t.dialect, caller.clone(), t.callee.clone()));
            if let Some(slot) = slot {
                self.rates[slot as usize].add(at);
            }
            if now_nanos.saturating_sub(at) < PULSE_NANOS
                && at <= now_nanos.saturating_add(PULSE_NANOS)
            {
                if self.pulses.len() >= MAX_PULSES {
                    self.pulses.pop_front();
                }
                self.pulses.push_back(Pulse {
                    dialect: t.dialect,
                    caller: caller.clone(),
                    callee: t.callee.clone(),
                    at_nanos: at,
                });
            }
        }
        while self
            .pulses
            .front()
            .is_some_and(|p| now_nanos.saturating_sub(p.at_nanos) >= PULSE_NANOS)
        {
            self.pulses.pop_front();
        }
    }

    fn slot(&mut self, key: EdgeKey) -> Option<u32> {
        if let Some(&s) = self.rate_index.get(&key) {
            return Some(s);
        }
        if self.rates.len() >= MAX_RATES {
            return None;
        }
        let s = self.rates.len() as u32;
        self.rates.push(Rate::default());
        self.rate_index.insert(key, s);
        self.slots_generation += 1;
        Some(s)
    }

    /// The rate slot of an edge, if calls on it were seen.
    pub fn slot_of(&self, dialect: Dialect, caller: &Arc<str>, callee: &Arc<str>) -> Option<u32> {
        self.rate_index
            .get(&(dialect, caller.clone(), callee.clone()))
            .copied()
    }

    pub fn per_minute(&self, slot: u32, now_nanos: u64) -> f64 {
        self.rates
            .get(slot as usize)
            .map_or(0.0, |r| r.per_minute(now_nanos))
    }

    pub fn pulses(&self) -> impl Iterator<Item = &Pulse> {
        self.pulses.iter()
    }

    pub fn has_pulses(&self) -> bool {
        !self.pulses.is_empty()
    }

    /// Recent trace ids of a participant, newest first.
    pub fn recent(&self, dialect: Dialect, participant_id: &str) -> impl Iterator<Item = u64> + '_ {
        self.recent
            .get(&(dialect, Arc::from(participant_id)))
            .into_iter()
            .flat_map(|list| list.iter().rev().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_tracks_calls_per_minute_and_decays() {
        let mut r = Rate::default();
        let second = 1_000_000_000u64;
        // One call a second for five minutes: ~60/min.
        for i in 0..300 {
            r.add(1_000 * second + i * second);
        }
        let now = 1_300 * second;
        let steady = r.per_minute(now);
        assert!((steady - 60.0).abs() < 6.0, "{steady}");
        // Ten minutes of silence: almost nothing.
        assert!(r.per_minute(now + 600 * second) < 0.01);
    }
}
