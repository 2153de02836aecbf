//! Which trace is nested under which (pure; resumable, so a rebuild can be spread over frames).
//!
//! Nesting, two ways, in this order:
//! 1. **On the wire**: a task whose request names its parent task (`parent_task_id`, MQTT.Agent
//!    A2A delegations) sits under the trace that carried that task.
//! 2. **Inferred from timing and identity** everywhere else (EMQX A2A gives delegations fresh
//!    task and context ids, MCP calls and OpenMAS carry no link): a trace is nested under an
//!    earlier trace when its caller is that trace's callee (or the responder that answered it)
//!    and it starts and ends inside that trace's span (a 2 ms allowance at the end for the
//!    order the observer sees the two responses in). The innermost such trace wins.

use super::records::{NO_NAME, NO_TRACE, NameId, TraceRecord};

/// A child's response may reach the observer this much after its parent's and still count as inside.
pub const NESTING_END_SLACK_NANOS: u64 = 2_000_000;
/// Candidate parents examined per child (the most recent ones serving its caller).
const MAX_PARENT_CANDIDATES: usize = 64;
/// "No parent / no index" in the compact index vectors.
pub const NONE: u32 = u32::MAX;

/// For each record (in trace-id order), the index of the trace it is nested under, or [`NONE`],
/// and whether that link was on the wire; all at once.
pub fn infer_parents(
    records: &[TraceRecord],
    name_count: usize,
    now_nanos: u64,
) -> (Vec<u32>, Vec<bool>) {
    let mut nesting = Nesting::prepare(records, name_count, now_nanos);
    nesting.advance(usize::MAX);
    nesting.finish()
}

/// What nesting needs of a record, contiguous (the records themselves are read once).
#[derive(Debug)]
struct Span {
    start: u64,
    /// End for the child test (pending: now).
    end_or_now: u64,
    trace_id: u64,
    caller: NameId,
}

/// A parent candidate: (start, trace id, end plus the slack or `u64::MAX` while pending, index).
type Served = (u64, u64, u64, u32);

/// Nesting inference in progress: [`Nesting::prepare`] (one pass), then [`Nesting::advance`]
/// over the children as far as a frame allows, then [`Nesting::finish`].
///
/// A parent is an earlier trace (smaller id: its request was seen first) served by the child's
/// caller (as callee or responder) whose span encloses the child's; pending traces extend to
/// `now_nanos`, a pending parent encloses everything after its start. The latest-starting
/// enclosing candidate (the innermost) wins.
#[derive(Debug)]
pub struct Nesting {
    parent: Vec<u32>,
    on_wire: Vec<bool>,
    spans: Vec<Span>,
    /// Per name id: its list in `serving`, or [`NONE`] when the name calls nobody.
    slot_of: Vec<u32>,
    /// Per name that also calls: the traces it served, by start.
    serving: Vec<Vec<Served>>,
    /// Per list: how far the children (in id order, so start order but for orphans) have walked.
    cursor: Vec<usize>,
    /// The next child to place.
    next_child: usize,
}

impl Nesting {
    pub fn prepare(records: &[TraceRecord], name_count: usize, now_nanos: u64) -> Nesting {
        let mut preparing = Preparing::new(records.len(), name_count, now_nanos);
        preparing.advance(records, usize::MAX);
        preparing.finish()
    }

    /// Share of the children placed (0..=1).
    pub fn progress(&self) -> f32 {
        if self.spans.is_empty() {
            1.0
        } else {
            self.next_child as f32 / self.spans.len() as f32
        }
    }

    pub fn is_done(&self) -> bool {
        self.next_child >= self.spans.len()
    }

    /// Places up to `children` more children.
    pub fn advance(&mut self, children: usize) {
        let end = self
            .next_child
            .saturating_add(children)
            .min(self.spans.len());
        for i in self.next_child..end {
            self.place(i);
        }
        self.next_child = end;
    }

    fn place(&mut self, i: usize) {
        if self.on_wire[i] {
            return;
        }
        let child = &self.spans[i];
        let Some(&s) = self
            .slot_of
            .get(child.caller as usize)
            .filter(|&&s| s != NONE)
        else {
            return;
        };
        // Walk each list with a cursor (sequential memory access); binary-search only when a
        // start goes backwards (orphans).
        let list = &self.serving[s as usize];
        let mut upto = self.cursor[s as usize];
        if upto > 0 && list[upto - 1].0 > child.start {
            upto = list.partition_point(|c| c.0 <= child.start);
        } else {
            while upto < list.len() && list[upto].0 <= child.start {
                upto += 1;
            }
            self.cursor[s as usize] = upto;
        }
        for &(_, parent_id, parent_end, j) in list[..upto].iter().rev().take(MAX_PARENT_CANDIDATES)
        {
            if j as usize == i || parent_id >= child.trace_id {
                continue;
            }
            if child.end_or_now <= parent_end {
                self.parent[i] = j;
                break;
            }
        }
    }

    /// Parent index per record and whether the link was on the wire.
    pub fn finish(self) -> (Vec<u32>, Vec<bool>) {
        (self.parent, self.on_wire)
    }
}

/// [`Nesting::prepare`] in slices: two passes over the records (wire links and who calls,
/// then spans and who serves what), so that preparing 100 000 rows never takes one frame.
#[derive(Debug)]
pub struct Preparing {
    parent: Vec<u32>,
    on_wire: Vec<bool>,
    is_caller: Vec<bool>,
    slot_of: Vec<u32>,
    serving: Vec<Vec<Served>>,
    spans: Vec<Span>,
    now_nanos: u64,
    /// 0: wire links and callers; 1: spans and serving; 2: done.
    pass: u8,
    /// The next record of the current pass.
    next: usize,
}

impl Preparing {
    pub fn new(len: usize, name_count: usize, now_nanos: u64) -> Preparing {
        Preparing {
            parent: vec![NONE; len],
            on_wire: vec![false; len],
            is_caller: vec![false; name_count],
            slot_of: vec![NONE; name_count],
            serving: Vec::new(),
            spans: Vec::with_capacity(len),
            now_nanos,
            pass: 0,
            next: 0,
        }
    }

    /// Share of the preparation done (0..=1).
    pub fn progress(&self) -> f32 {
        let len = self.parent.len().max(1) as f32;
        match self.pass {
            0 => 0.5 * self.next as f32 / len,
            1 => 0.5 + 0.5 * self.next as f32 / len,
            _ => 1.0,
        }
    }

    pub fn is_done(&self) -> bool {
        self.pass >= 2
    }

    /// Looks at up to `max_records` more records (`records` are the ones given to `new`, unchanged).
    pub fn advance(&mut self, records: &[TraceRecord], max_records: usize) {
        let mut left = max_records;
        while left > 0 && self.pass < 2 {
            let end = self.next.saturating_add(left).min(records.len());
            if self.pass == 0 {
                self.links_and_callers(records, self.next..end);
            } else {
                self.spans_and_serving(records, self.next..end);
            }
            left -= end - self.next;
            self.next = end;
            if self.next >= records.len() {
                self.pass += 1;
                self.next = 0;
            }
        }
    }

    /// Links on the wire (they need no inference) and which names call anyone.
    fn links_and_callers(&mut self, records: &[TraceRecord], range: std::ops::Range<usize>) {
        for i in range {
            let r = &records[i];
            if r.wire_parent != NO_TRACE
                && r.wire_parent < r.trace_id
                && let Ok(j) = records[..i].binary_search_by_key(&r.wire_parent, |p| p.trace_id)
            {
                self.parent[i] = j as u32;
                self.on_wire[i] = true;
            }
            // Name ids are dense (below the name count): tables index by them, no hashing.
            if let Some(flag) = self.is_caller.get_mut(r.caller as usize) {
                *flag = true;
            }
        }
    }

    /// Each record's span, and per name that also calls, the traces it answered.
    fn spans_and_serving(&mut self, records: &[TraceRecord], range: std::ops::Range<usize>) {
        for i in range {
            let r = &records[i];
            self.spans.push(Span {
                start: r.start_nanos,
                end_or_now: r.end_or(self.now_nanos),
                trace_id: r.trace_id,
                caller: r.caller,
            });
            let responder = if r.responder == r.callee {
                NO_NAME
            } else {
                r.responder
            };
            for name in [r.callee, responder] {
                let serves = self.is_caller.get(name as usize).copied().unwrap_or(false);
                if name == NO_NAME || !serves {
                    continue;
                }
                let slot = &mut self.slot_of[name as usize];
                if *slot == NONE {
                    *slot = self.serving.len() as u32;
                    self.serving.push(Vec::new());
                }
                let end_with_slack = r
                    .end_nanos
                    .map_or(u64::MAX, |e| e.saturating_add(NESTING_END_SLACK_NANOS));
                self.serving[*slot as usize].push((
                    r.start_nanos,
                    r.trace_id,
                    end_with_slack,
                    i as u32,
                ));
            }
        }
    }

    /// The nesting, ready to place children (call once [`Preparing::is_done`]).
    pub fn finish(mut self) -> Nesting {
        for list in &mut self.serving {
            // Ids follow receive order, so this is sorted already but for orphans.
            if !list.is_sorted() {
                list.sort_unstable();
            }
        }
        let next_child = if self.serving.is_empty() {
            self.spans.len()
        } else {
            0
        };
        Nesting {
            parent: self.parent,
            on_wire: self.on_wire,
            cursor: vec![0; self.serving.len()],
            spans: self.spans,
            slot_of: self.slot_of,
            serving: self.serving,
            next_child,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::records::test_records::*;
    use super::*;

    #[test]
    fn a_delegation_inside_its_parent_is_nested_under_it() {
        // orchestrator -> planner [0, 100]; planner -> echo [10, 60]; planner -> tool [20, 50] and
        // echo -> tool [30, 40] (nested two deep); orchestrator -> echo [5, 30] is a sibling call.
        let recs = [
            rec(0, ORCH, PLANNER, 0, Some(100)),
            rec(1, ORCH, ECHO, 5, Some(30)),
            rec(2, PLANNER, ECHO, 10, Some(60)),
            rec(3, PLANNER, TOOL, 20, Some(50)),
            rec(4, ECHO, TOOL, 30, Some(40)),
        ];
        let refs = &recs[..];
        let parent = infer_parents(refs, 16, 1_000 * MS).0;
        assert_eq!(
            parent,
            vec![NONE, NONE, 0, 0, 2],
            "echo's tool call sits under the innermost echo trace that encloses it"
        );
    }

    #[test]
    fn no_nesting_without_identity_or_enclosure() {
        let recs = [
            rec(0, ORCH, PLANNER, 0, Some(100)),
            // Same timing, but its caller is not the planner: not a child.
            rec(1, ECHO, TOOL, 10, Some(20)),
            // The planner's call outlives its parent (fire and forget): not a child.
            rec(2, PLANNER, ECHO, 50, Some(150)),
            // Same start as the planner's request, seen after it.
            rec(3, PLANNER, TOOL, 0, Some(10)),
        ];
        let refs = &recs[..];
        let parent = infer_parents(refs, 16, 1_000 * MS).0;
        assert_eq!(parent[1], NONE);
        assert_eq!(parent[2], NONE);
        // Same start as the parent and seen after it: inside (a delegation can follow at once).
        assert_eq!(parent[3], 0);
    }

    #[test]
    fn pending_parents_enclose_and_end_slack_is_bounded() {
        let recs = [
            rec(0, ORCH, PLANNER, 0, None),
            rec(1, PLANNER, ECHO, 10, None),
            rec(2, ORCH, ECHO, 200, Some(300)),
            // Ends 1 ms after its parent's response was seen: still inside (observer ordering).
            rec(3, ECHO, TOOL, 210, Some(301)),
            // Ends 5 ms after: outside it, so it falls to the enclosing echo call still pending.
            rec(4, ECHO, TOOL, 220, Some(305)),
        ];
        let refs = &recs[..];
        let parent = infer_parents(refs, 16, 500 * MS).0;
        assert_eq!(parent[1], 0, "a pending parent encloses a pending child");
        assert_eq!(parent[3], 2);
        assert_eq!(parent[4], 1);
        let parent = infer_parents(&refs[2..], 16, 500 * MS).0;
        assert_eq!(
            parent,
            vec![NONE, 0, NONE],
            "without the pending call, nothing encloses it"
        );
    }

    #[test]
    fn a_link_on_the_wire_wins_over_timing() {
        // 2 would be inferred under 1 (planner call, encloses it); the wire names 0 instead,
        // even though 2 outlives 0 and its caller is not 0's callee.
        let mut wired = rec(2, PLANNER, ECHO, 20, Some(300));
        wired.wire_parent = 0;
        let mut dangling = rec(3, PLANNER, ECHO, 30, Some(40));
        dangling.wire_parent = 99;
        let recs = [
            rec(0, ORCH, TOOL, 0, Some(100)),
            rec(1, ORCH, PLANNER, 10, Some(400)),
            wired,
            dangling,
        ];
        let refs = &recs[..];
        let (parent, on_wire) = infer_parents(refs, 16, 1_000 * MS);
        assert_eq!(parent, vec![NONE, NONE, 0, 1]);
        assert_eq!(
            on_wire,
            vec![false, false, true, false],
            "a link to a trace not listed falls back to inference"
        );
    }

    #[test]
    fn the_responder_that_answered_counts_as_the_callee() {
        let mut pool_call = rec(0, ORCH, 9, 0, Some(100));
        pool_call.responder = PLANNER;
        let recs = [pool_call, rec(1, PLANNER, ECHO, 10, Some(50))];
        let refs = &recs[..];
        assert_eq!(infer_parents(refs, 16, 0).0, vec![NONE, 0]);
        // A responder that is the callee itself (OpenMAS names it) changes nothing.
        let mut direct = rec(0, ORCH, PLANNER, 0, Some(100));
        direct.responder = PLANNER;
        let recs = [direct, rec(1, PLANNER, ECHO, 10, Some(50))];
        let refs = &recs[..];
        assert_eq!(infer_parents(refs, 16, 0).0, vec![NONE, 0]);
    }
}
