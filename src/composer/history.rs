//! Calls sent from the composer (pending and done, newest first, re-run and edit) and saved argument templates per catalogue entry.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::protocol::RawMessage;

use super::Step;
use super::call::{CallSpec, PendingCall};

/// Calls kept in the log (the oldest finished ones go first).
pub const MAX_LOGGED_CALLS: usize = 200;
/// A finished call still takes its own stream's late partials for this long.
const LATE_WINDOW_NANOS: u64 = 2_000_000_000;

/// One call sent from the composer.
#[derive(Debug)]
pub struct LoggedCall {
    /// Unique within the log (actions name calls by it).
    pub call_key: u64,
    /// The catalogue entry it was sent from (`""` for none).
    pub entry_key: String,
    pub call: PendingCall,
}

/// Every call sent from the composer: feeds them what arrives and the time, collects the steps
/// they ask for. Newest last internally; [`CallLog::newest_first`] for views.
#[derive(Debug, Default)]
pub struct CallLog {
    calls: VecDeque<LoggedCall>,
    next_key: u64,
}

impl CallLog {
    /// Starts a call; returns its key and the steps to carry out.
    pub fn start(
        &mut self,
        entry_key: &str,
        spec: CallSpec,
        me: &str,
        seed: u64,
        now_nanos: u64,
    ) -> (u64, Vec<Step>) {
        self.next_key += 1;
        let call_key = self.next_key;
        let (call, steps) = PendingCall::start(spec, me, seed, now_nanos);
        self.calls.push_back(LoggedCall {
            call_key,
            entry_key: entry_key.to_owned(),
            call,
        });
        while self.calls.len() > MAX_LOGGED_CALLS {
            match self.calls.iter().position(|c| c.call.is_done()) {
                Some(oldest_done) => {
                    self.calls.remove(oldest_done);
                }
                None => break,
            }
        }
        (call_key, steps)
    }

    pub fn get(&self, call_key: u64) -> Option<&LoggedCall> {
        self.calls.iter().find(|c| c.call_key == call_key)
    }

    pub fn newest_first(&self) -> impl Iterator<Item = &LoggedCall> {
        self.calls.iter().rev()
    }

    pub fn len(&self) -> usize {
        self.calls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Whether any call still wants messages (running, or just finished with a stream).
    pub fn wants_messages(&self, now_nanos: u64) -> bool {
        self.calls.iter().any(|c| wants(&c.call, now_nanos))
    }

    pub fn pending_count(&self) -> usize {
        self.calls.iter().filter(|c| !c.call.is_done()).count()
    }

    /// A received message, offered to every call that still listens.
    pub fn on_message(&mut self, raw: &RawMessage, now_nanos: u64) -> Vec<(u64, Vec<Step>)> {
        let mut out = Vec::new();
        for logged in self.calls.iter_mut().filter(|c| wants(&c.call, now_nanos)) {
            let steps = logged.call.on_message(raw, now_nanos);
            if !steps.is_empty() {
                out.push((logged.call_key, steps));
            }
        }
        out
    }

    /// Time passed: card waits end, idle calls time out.
    pub fn on_tick(&mut self, now_nanos: u64) -> Vec<(u64, Vec<Step>)> {
        let mut out = Vec::new();
        for logged in self.calls.iter_mut().filter(|c| !c.call.is_done()) {
            let steps = logged.call.on_tick(now_nanos);
            if !steps.is_empty() {
                out.push((logged.call_key, steps));
            }
        }
        out
    }

    /// Stop waiting for a call (and tell an EMQX MCP server).
    pub fn cancel(&mut self, call_key: u64, now_nanos: u64) -> Vec<Step> {
        self.calls
            .iter_mut()
            .find(|c| c.call_key == call_key)
            .map(|c| c.call.cancel(now_nanos))
            .unwrap_or_default()
    }

    /// The driver could not carry a call's steps out.
    pub fn send_failed(&mut self, call_key: u64, reason: &str, now_nanos: u64) {
        if let Some(logged) = self.calls.iter_mut().find(|c| c.call_key == call_key) {
            let _ = logged.call.fail_send(reason, now_nanos);
        }
    }

    /// Forgets finished calls.
    pub fn clear_finished(&mut self) {
        self.calls.retain(|c| !c.call.is_done());
    }
}

fn wants(call: &PendingCall, now_nanos: u64) -> bool {
    if !call.is_done() {
        return true;
    }
    call.may_have_late_partials()
        && call
            .report()
            .finished_at_nanos
            .is_some_and(|at| now_nanos.saturating_sub(at) < LATE_WINDOW_NANOS)
}

/// Saved arguments (or message text) under a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    pub arguments: Value,
    #[serde(default)]
    pub text: String,
}

/// Templates per catalogue entry key (serialisable, for the settings file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Templates {
    pub by_entry: BTreeMap<String, Vec<Template>>,
}

impl Templates {
    /// Saves (or replaces, by name) a template for an entry.
    pub fn save(&mut self, entry_key: &str, template: Template) {
        let list = self.by_entry.entry(entry_key.to_owned()).or_default();
        match list.iter_mut().find(|t| t.name == template.name) {
            Some(existing) => *existing = template,
            None => {
                list.push(template);
                list.sort_by(|a, b| a.name.cmp(&b.name));
            }
        }
    }

    pub fn remove(&mut self, entry_key: &str, name: &str) {
        if let Some(list) = self.by_entry.get_mut(entry_key) {
            list.retain(|t| t.name != name);
            if list.is_empty() {
                self.by_entry.remove(entry_key);
            }
        }
    }

    pub fn for_entry(&self, entry_key: &str) -> &[Template] {
        self.by_entry.get(entry_key).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::composer::call::{CallOutcome, CallTarget};
    use serde_json::json;

    const T0: u64 = 1_776_765_605_000_000_000;

    #[test]
    fn the_log_routes_replies_times_out_and_keeps_late_partials() {
        let mut log = CallLog::default();
        let spec = |tool: &str| {
            let mut spec = CallSpec::new(CallTarget::MqttAgentTool {
                namespace: "a2a/v1".into(),
                tool: tool.into(),
            });
            spec.options.timeout_millis = 1_000;
            spec
        };
        let (first, steps) = log.start("k1", spec("count_stream"), "me", 1, T0);
        let Step::Publish(out) = &steps[2] else {
            panic!("{steps:?}")
        };
        let call_id = serde_json::from_slice::<Value>(&out.payload).unwrap()["call_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (second, _) = log.start("k2", spec("echo"), "me", 2, T0);
        assert_ne!(first, second);
        assert_eq!(log.pending_count(), 2);
        let response = json!({"call_id": call_id, "status": "ok", "result": 4});
        let raw = RawMessage::new(
            T0 + 5_000_000,
            "a2a/v1/mcp/clients/me/responses",
            serde_json::to_vec(&response).unwrap(),
        );
        let routed = log.on_message(&raw, T0 + 5_000_000);
        assert_eq!(routed.len(), 1, "only the first call asks for clean-up");
        assert_eq!(routed[0].0, first);
        let stream = format!("a2a/v1/mcp/tools/count_stream/stream/{call_id}");
        let late = RawMessage::new(
            T0 + 6_000_000,
            &stream,
            br#"{"type":"partial","content":"4 of 4"}"#.to_vec(),
        );
        log.on_message(&late, T0 + 6_000_000);
        let report = log.get(first).unwrap().call.report();
        assert_eq!(report.outcome, CallOutcome::Ok);
        assert_eq!(report.partials_total, 1);
        assert!(report.partials[0].after_result);
        log.on_tick(T0 + 1_000_000_000);
        assert_eq!(
            log.get(second).unwrap().call.outcome(),
            CallOutcome::Timeout
        );
        assert!(!log.wants_messages(T0 + 10_000_000_000));
        assert_eq!(
            log.newest_first().map(|c| c.call_key).collect::<Vec<_>>(),
            vec![second, first]
        );
        log.clear_finished();
        assert!(log.is_empty());
    }

    #[test]
    fn templates_save_replace_and_remove_by_name() {
        let mut templates = Templates::default();
        templates.save(
            "k",
            Template {
                name: "b".into(),
                arguments: json!({"x": 1}),
                text: String::new(),
            },
        );
        templates.save(
            "k",
            Template {
                name: "a".into(),
                arguments: json!({}),
                text: String::new(),
            },
        );
        templates.save(
            "k",
            Template {
                name: "b".into(),
                arguments: json!({"x": 2}),
                text: String::new(),
            },
        );
        let names: Vec<&str> = templates
            .for_entry("k")
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(names, vec!["a", "b"]);
        assert_eq!(templates.for_entry("k")[1].arguments, json!({"x": 2}));
        let json = serde_json::to_string(&templates).unwrap();
        assert_eq!(serde_json::from_str::<Templates>(&json).unwrap(), templates);
        templates.remove("k", "a");
        templates.remove("k", "b");
        assert!(templates.for_entry("k").is_empty());
        assert!(templates.by_entry.is_empty());
    }
}
