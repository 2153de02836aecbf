//! Filtering, nesting and grouping of trace records into the waterfall's rows (pure; rebuilt only when inputs change).
//!
//! Nesting, two ways, in this order:
//! 1. **On the wire**: a task whose request names its parent task (`parent_task_id`, MQTT.Agent
//!    A2A delegations) sits under the trace that carried that task.
//! 2. **Inferred from timing and identity** everywhere else (EMQX A2A gives delegations fresh
//!    task and context ids, MCP calls and OpenMAS carry no link): a trace is nested under an
//!    earlier trace when its caller is that trace's callee (or the responder that answered it)
//!    and it starts and ends inside that trace's span (a 2 ms allowance at the end for the
//!    order the observer sees the two responses in). The innermost such trace wins.

use std::collections::HashSet;

use crate::model::mesh::hash::FastMap;
use crate::model::mesh::{Mesh, Outcome};
use crate::protocol::Dialect;

use super::records::{NO_NAME, NO_TRACE, NameId, Names, RecordCache, TraceRecord};

/// A child's response may reach the observer this much after its parent's and still count as inside.
pub const NESTING_END_SLACK_NANOS: u64 = 2_000_000;
/// Candidate parents examined per child (the most recent ones serving its caller).
const MAX_PARENT_CANDIDATES: usize = 64;
/// Deeper nesting is drawn at this depth.
pub const MAX_DRAWN_DEPTH: u16 = 12;
/// "No parent / no index" in the compact index vectors.
pub const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutcomeFilter {
    #[default]
    Any,
    Ok,
    Error,
    Timeout,
    /// Errors and timeouts.
    Failed,
    Pending,
    Cancelled,
    Orphan,
}

impl OutcomeFilter {
    pub const ALL: [OutcomeFilter; 8] = [
        OutcomeFilter::Any,
        OutcomeFilter::Ok,
        OutcomeFilter::Error,
        OutcomeFilter::Timeout,
        OutcomeFilter::Failed,
        OutcomeFilter::Pending,
        OutcomeFilter::Cancelled,
        OutcomeFilter::Orphan,
    ];

    pub fn label(self) -> &'static str {
        match self {
            OutcomeFilter::Any => "any outcome",
            OutcomeFilter::Ok => "only ok",
            OutcomeFilter::Error => "only errors",
            OutcomeFilter::Timeout => "only timeouts",
            OutcomeFilter::Failed => "errors and timeouts",
            OutcomeFilter::Pending => "only pending",
            OutcomeFilter::Cancelled => "only cancelled",
            OutcomeFilter::Orphan => "only orphans",
        }
    }

    pub fn admits(self, outcome: Outcome) -> bool {
        match self {
            OutcomeFilter::Any => true,
            OutcomeFilter::Ok => outcome == Outcome::Ok,
            OutcomeFilter::Error => outcome == Outcome::Error,
            OutcomeFilter::Timeout => outcome == Outcome::Timeout,
            OutcomeFilter::Failed => matches!(outcome, Outcome::Error | Outcome::Timeout),
            OutcomeFilter::Pending => outcome == Outcome::Pending,
            OutcomeFilter::Cancelled => outcome == Outcome::Cancelled,
            OutcomeFilter::Orphan => outcome == Outcome::Orphan,
        }
    }
}

/// What the user narrowed the timeline to. Names are kept as text (ids are per cache).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub dialect: Option<Dialect>,
    pub caller: Option<String>,
    pub callee: Option<String>,
    pub operation: Option<String>,
    pub outcome: OutcomeFilter,
    /// 0 = off. Pending and timed-out traces count with the time they have taken.
    pub min_latency_millis: f64,
    /// Case-insensitive substring of caller, callee, responder, operation, correlation, task id,
    /// error, dialect or `#trace-id`.
    pub search: String,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupBy {
    #[default]
    Nothing,
    Callee,
    Caller,
}

impl GroupBy {
    pub fn label(self) -> &'static str {
        match self {
            GroupBy::Nothing => "no grouping",
            GroupBy::Callee => "callee",
            GroupBy::Caller => "caller",
        }
    }
}

/// Folded rows: traces whose children are hidden, and groups shown as a header only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collapsed {
    pub traces: HashSet<u64>,
    pub groups: HashSet<String>,
}

/// One line of the waterfall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplayRow {
    Group {
        /// The callee or caller this group gathers ([`NO_NAME`]: unknown caller).
        name: NameId,
        traces: u32,
        /// Errors and timeouts.
        failed: u32,
        collapsed: bool,
    },
    Trace {
        /// Index into [`Rows::visible`].
        index: u32,
        depth: u16,
        /// Direct children (shown or folded).
        children: u32,
        collapsed: bool,
    },
}

/// The filtered traces and the rows drawn for them.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    /// Trace ids that pass the filter, ascending.
    pub visible: Vec<u64>,
    /// Per visible trace: index of its parent in `visible`, or [`NONE`].
    pub parent: Vec<u32>,
    /// Per visible trace: the parent link was on the wire (else inferred from timing and identity).
    pub on_wire: Vec<bool>,
    pub display: Vec<DisplayRow>,
    /// Records considered (all traces the model holds).
    pub total: usize,
}

impl Rows {
    /// Index of a trace in `visible`.
    pub fn visible_index(&self, trace_id: u64) -> Option<usize> {
        self.visible.binary_search(&trace_id).ok()
    }

    /// The inferred parent of a visible trace.
    pub fn parent_of(&self, trace_id: u64) -> Option<u64> {
        let i = self.visible_index(trace_id)?;
        let p = *self.parent.get(i)?;
        (p != NONE)
            .then(|| self.visible.get(p as usize).copied())
            .flatten()
    }

    /// Whether a visible trace's parent link was read from the wire (not inferred).
    pub fn parent_on_wire(&self, trace_id: u64) -> bool {
        self.visible_index(trace_id)
            .and_then(|i| self.on_wire.get(i).copied())
            .unwrap_or(false)
    }

    /// Visible traces nested directly under `trace_id`.
    pub fn children_of(&self, trace_id: u64) -> Vec<u64> {
        let Some(i) = self.visible_index(trace_id) else {
            return Vec::new();
        };
        self.parent
            .iter()
            .enumerate()
            .filter(|&(_, &p)| p as usize == i)
            .filter_map(|(c, _)| self.visible.get(c).copied())
            .collect()
    }

    /// Row index of a trace's line (None: filtered out or folded away).
    pub fn display_index(&self, trace_id: u64) -> Option<usize> {
        let i = self.visible_index(trace_id)? as u32;
        self.display
            .iter()
            .position(|row| matches!(row, DisplayRow::Trace { index, .. } if *index == i))
    }
}

/// Applies the filter, infers nesting and lays out the rows.
pub fn build_rows(
    cache: &RecordCache,
    filter: &Filter,
    group_by: GroupBy,
    collapsed: &Collapsed,
    mesh: &Mesh,
    now_nanos: u64,
) -> Rows {
    let records: Vec<&TraceRecord> = filtered(cache, filter, mesh, now_nanos);
    let (parent, on_wire) = infer_parents(&records, cache.names.len(), now_nanos);
    let visible: Vec<u64> = records.iter().map(|r| r.trace_id).collect();
    let display = match group_by {
        GroupBy::Nothing => {
            let mut out = Vec::with_capacity(records.len());
            let tree = Tree::new(&parent);
            tree.rows(
                &records,
                (0..records.len() as u32).filter(|&i| parent[i as usize] == NONE),
                &collapsed.traces,
                &mut out,
            );
            out
        }
        GroupBy::Callee | GroupBy::Caller => {
            grouped_rows(&records, &parent, group_by, collapsed, &cache.names)
        }
    };
    Rows {
        visible,
        parent,
        on_wire,
        display,
        total: cache.len(),
    }
}

fn filtered<'c>(
    cache: &'c RecordCache,
    filter: &Filter,
    mesh: &Mesh,
    now_nanos: u64,
) -> Vec<&'c TraceRecord> {
    let names = &cache.names;
    // A name the cache has never seen matches nothing.
    let want = |name: &Option<String>| -> Option<NameId> {
        name.as_deref()
            .map(|n| names.find(n).unwrap_or(NO_NAME - 1))
    };
    let (caller, callee, operation) = (
        want(&filter.caller),
        want(&filter.callee),
        want(&filter.operation),
    );
    let min_latency_micros = (filter.min_latency_millis.max(0.0) * 1_000.0) as u64;
    let needle = filter.search.trim().to_ascii_lowercase();
    // Which names contain the search text (names are few; records are many).
    let name_hits: Vec<bool> = if needle.is_empty() {
        Vec::new()
    } else {
        (0..names.len() as NameId)
            .map(|id| contains_ignore_case(names.get(id), &needle))
            .collect()
    };
    let hit = |id: NameId| name_hits.get(id as usize).copied().unwrap_or(false);
    let id_needle: Option<u64> = needle.strip_prefix('#').and_then(|n| n.parse().ok());
    let mut out = Vec::with_capacity(cache.len());
    out.extend(
        cache
            .iter()
            .filter(|r| {
                filter.dialect.is_none_or(|d| r.dialect == d)
                    && caller.is_none_or(|c| r.caller == c)
                    && callee.is_none_or(|c| r.callee == c)
                    && operation.is_none_or(|o| r.operation == o)
                    && filter.outcome.admits(r.outcome)
                    && (min_latency_micros == 0
                        || r.elapsed_micros(now_nanos) >= min_latency_micros)
            })
            .filter(|r| {
                if needle.is_empty() {
                    return true;
                }
                if hit(r.caller) || hit(r.callee) || hit(r.responder) || hit(r.operation) {
                    return true;
                }
                if contains_ignore_case(r.dialect.as_str(), &needle)
                    || contains_ignore_case(r.dialect.label(), &needle)
                {
                    return true;
                }
                if id_needle == Some(r.trace_id) {
                    return true;
                }
                let Some(trace) = mesh.trace(r.trace_id) else {
                    return false;
                };
                contains_ignore_case(&trace.correlation, &needle)
                    || trace
                        .task_id
                        .as_deref()
                        .is_some_and(|t| contains_ignore_case(t, &needle))
                    || trace.error.as_deref().is_some_and(|e| {
                        contains_ignore_case(&e.class, &needle)
                            || e.code
                                .as_deref()
                                .is_some_and(|c| contains_ignore_case(c, &needle))
                            || e.message
                                .as_deref()
                                .is_some_and(|m| contains_ignore_case(m, &needle))
                    })
            }),
    );
    out
}

/// ASCII case-insensitive substring test without allocating (`needle` already lower-case).
pub fn contains_ignore_case(haystack: &str, needle_lower: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle_lower.as_bytes());
    if n.is_empty() {
        return true;
    }
    if n.len() > h.len() {
        return false;
    }
    h.windows(n.len())
        .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

/// For each record (in trace-id order), the index of the trace it is nested under, or [`NONE`].
///
/// A parent is an earlier trace (smaller id: its request was seen first) served by the child's
/// caller (as callee or responder) whose span encloses the child's; pending traces extend to
/// `now_nanos`, a pending parent encloses everything after its start. The latest-starting
/// enclosing candidate (the innermost) wins.
pub fn infer_parents(
    records: &[&TraceRecord],
    name_count: usize,
    now_nanos: u64,
) -> (Vec<u32>, Vec<bool>) {
    /// What nesting needs of a record, contiguous (the records themselves are read once).
    struct Span {
        start: u64,
        /// End plus the slack (`u64::MAX` while pending).
        end_with_slack: u64,
        /// End for the child test (pending: now).
        end_or_now: u64,
        trace_id: u64,
        caller: NameId,
        callee: NameId,
        responder: NameId,
    }
    let mut parent = vec![NONE; records.len()];
    // Links on the wire first: they need no inference.
    let mut on_wire = vec![false; records.len()];
    for (i, r) in records.iter().enumerate() {
        if r.wire_parent != NO_TRACE
            && r.wire_parent < r.trace_id
            && let Ok(j) = records[..i].binary_search_by_key(&r.wire_parent, |p| p.trace_id)
        {
            parent[i] = j as u32;
            on_wire[i] = true;
        }
    }
    // Name ids are dense (below `name_count`): index tables by them instead of hashing.
    let mut is_caller = vec![false; name_count];
    let mut spans = Vec::with_capacity(records.len());
    for r in records {
        if let Some(flag) = is_caller.get_mut(r.caller as usize) {
            *flag = true;
        }
        spans.push(Span {
            start: r.start_nanos,
            end_with_slack: r
                .end_nanos
                .map_or(u64::MAX, |e| e.saturating_add(NESTING_END_SLACK_NANOS)),
            end_or_now: r.end_or(now_nanos),
            trace_id: r.trace_id,
            caller: r.caller,
            callee: r.callee,
            responder: r.responder,
        });
    }
    // Who serves what: per name that also calls, (start, id, end, index) of the traces it answered.
    let mut slot_of = vec![NONE; name_count];
    let mut serving: Vec<Vec<(u64, u64, u64, u32)>> = Vec::new();
    let serves = |name: NameId| is_caller.get(name as usize).copied().unwrap_or(false);
    for (i, sp) in spans.iter().enumerate() {
        let responder = if sp.responder == sp.callee {
            NO_NAME
        } else {
            sp.responder
        };
        for name in [sp.callee, responder] {
            if name == NO_NAME || !serves(name) {
                continue;
            }
            let slot = &mut slot_of[name as usize];
            if *slot == NONE {
                *slot = serving.len() as u32;
                serving.push(Vec::new());
            }
            serving[*slot as usize].push((sp.start, sp.trace_id, sp.end_with_slack, i as u32));
        }
    }
    if serving.is_empty() {
        return (parent, on_wire);
    }
    for list in &mut serving {
        // Ids follow receive order, so this is sorted already but for orphans.
        if !list.is_sorted() {
            list.sort_unstable();
        }
    }
    // Children come in id order, which is start order but for orphans: walk each list with a
    // cursor (sequential memory access) and binary-search only when a start goes backwards.
    let mut cursor = vec![0usize; serving.len()];
    for (i, child) in spans.iter().enumerate() {
        if on_wire[i] {
            continue;
        }
        let Some(&s) = slot_of.get(child.caller as usize).filter(|&&s| s != NONE) else {
            continue;
        };
        let list = &serving[s as usize];
        let mut upto = cursor[s as usize];
        if upto > 0 && list[upto - 1].0 > child.start {
            upto = list.partition_point(|c| c.0 <= child.start);
        } else {
            while upto < list.len() && list[upto].0 <= child.start {
                upto += 1;
            }
            cursor[s as usize] = upto;
        }
        for &(_, parent_id, parent_end, j) in list[..upto].iter().rev().take(MAX_PARENT_CANDIDATES)
        {
            if j as usize == i || parent_id >= child.trace_id {
                continue;
            }
            if child.end_or_now <= parent_end {
                parent[i] = j;
                break;
            }
        }
    }
    (parent, on_wire)
}

/// Children lists of the nesting forest (first child / next sibling, children in index order).
struct Tree {
    first_child: Vec<u32>,
    next_sibling: Vec<u32>,
    children: Vec<u32>,
}

impl Tree {
    fn new(parent: &[u32]) -> Tree {
        let n = parent.len();
        let mut tree = Tree {
            first_child: vec![NONE; n],
            next_sibling: vec![NONE; n],
            children: vec![0; n],
        };
        // Back to front, so each list ends up in ascending order.
        for i in (0..n).rev() {
            let p = parent[i];
            if p != NONE {
                tree.next_sibling[i] = tree.first_child[p as usize];
                tree.first_child[p as usize] = i as u32;
                tree.children[p as usize] += 1;
            }
        }
        tree
    }

    /// Rows of the trees under `roots` (in the order given): each root followed by its descendants.
    fn rows(
        &self,
        records: &[&TraceRecord],
        roots: impl Iterator<Item = u32>,
        folded: &HashSet<u64>,
        out: &mut Vec<DisplayRow>,
    ) {
        let mut stack: Vec<(u32, u16)> = Vec::new();
        let mut kids: Vec<u32> = Vec::new();
        for root in roots {
            stack.push((root, 0));
            while let Some((i, depth)) = stack.pop() {
                let children = self.children[i as usize];
                let collapsed = children > 0
                    && !folded.is_empty()
                    && folded.contains(&records[i as usize].trace_id);
                out.push(DisplayRow::Trace {
                    index: i,
                    depth,
                    children,
                    collapsed,
                });
                if children == 0 || collapsed {
                    continue;
                }
                // Push in reverse so the first child pops first.
                kids.clear();
                let mut c = self.first_child[i as usize];
                while c != NONE {
                    kids.push(c);
                    c = self.next_sibling[c as usize];
                }
                stack.extend(kids.iter().rev().map(|&k| (k, depth.saturating_add(1))));
            }
        }
    }
}

fn grouped_rows(
    records: &[&TraceRecord],
    parent: &[u32],
    group_by: GroupBy,
    collapsed: &Collapsed,
    names: &Names,
) -> Vec<DisplayRow> {
    let key = |r: &TraceRecord| match group_by {
        GroupBy::Caller => r.caller,
        _ => r.callee,
    };
    // Nesting shows inside a group only: a parent in another group does not count.
    let local_parent: Vec<u32> = parent
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            if p != NONE && key(records[p as usize]) == key(records[i]) {
                p
            } else {
                NONE
            }
        })
        .collect();
    let tree = Tree::new(&local_parent);
    let mut groups: FastMap<NameId, (Vec<u32>, u32, u32)> = FastMap::default();
    for (i, r) in records.iter().enumerate() {
        let g = groups.entry(key(r)).or_default();
        if local_parent[i] == NONE {
            g.0.push(i as u32);
        }
        g.1 += 1;
        g.2 += u32::from(matches!(r.outcome, Outcome::Error | Outcome::Timeout));
    }
    let mut keys: Vec<NameId> = groups.keys().copied().collect();
    // Unknown caller last; otherwise by name.
    keys.sort_by(|a, b| ((*a == NO_NAME), names.get(*a)).cmp(&((*b == NO_NAME), names.get(*b))));
    let mut out = Vec::with_capacity(records.len() + keys.len());
    for name in keys {
        let (roots, traces, failed) = &groups[&name];
        let folded = collapsed.groups.contains(group_label(names, name));
        out.push(DisplayRow::Group {
            name,
            traces: *traces,
            failed: *failed,
            collapsed: folded,
        });
        if !folded {
            tree.rows(records, roots.iter().copied(), &collapsed.traces, &mut out);
        }
    }
    out
}

/// The text a group is shown (and folded) by.
pub fn group_label(names: &Names, name: NameId) -> &str {
    if name == NO_NAME {
        "(unknown caller)"
    } else {
        names.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// Records with names 0.. as given; `end` None = pending.
    fn rec(
        trace_id: u64,
        caller: NameId,
        callee: NameId,
        start_ms: u64,
        end_ms: Option<u64>,
    ) -> TraceRecord {
        TraceRecord {
            trace_id,
            dialect: Dialect::EmqxA2a,
            outcome: if end_ms.is_some() {
                Outcome::Ok
            } else {
                Outcome::Pending
            },
            caller,
            callee,
            responder: NO_NAME,
            operation: 0,
            start_nanos: start_ms * MS,
            end_nanos: end_ms.map(|e| e * MS),
            late_response_nanos: None,
            latency_micros: end_ms.map(|e| (e - start_ms) * 1_000),
            partials: 0,
            wire_parent: NO_TRACE,
        }
    }

    const ORCH: NameId = 1;
    const PLANNER: NameId = 2;
    const ECHO: NameId = 3;
    const TOOL: NameId = 4;

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
        let refs: Vec<&TraceRecord> = recs.iter().collect();
        let parent = infer_parents(&refs, 16, 1_000 * MS).0;
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
        let refs: Vec<&TraceRecord> = recs.iter().collect();
        let parent = infer_parents(&refs, 16, 1_000 * MS).0;
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
        let refs: Vec<&TraceRecord> = recs.iter().collect();
        let parent = infer_parents(&refs, 16, 500 * MS).0;
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
        let refs: Vec<&TraceRecord> = recs.iter().collect();
        let (parent, on_wire) = infer_parents(&refs, 16, 1_000 * MS);
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
        let refs: Vec<&TraceRecord> = recs.iter().collect();
        assert_eq!(infer_parents(&refs, 16, 0).0, vec![NONE, 0]);
        // A responder that is the callee itself (OpenMAS names it) changes nothing.
        let mut direct = rec(0, ORCH, PLANNER, 0, Some(100));
        direct.responder = PLANNER;
        let recs = [direct, rec(1, PLANNER, ECHO, 10, Some(50))];
        let refs: Vec<&TraceRecord> = recs.iter().collect();
        assert_eq!(infer_parents(&refs, 16, 0).0, vec![NONE, 0]);
    }

    #[test]
    fn tree_rows_put_children_under_parents_and_fold() {
        let recs = [
            rec(0, ORCH, PLANNER, 0, Some(100)),
            rec(1, ORCH, ECHO, 5, Some(30)),
            rec(2, PLANNER, ECHO, 10, Some(60)),
            rec(3, ECHO, TOOL, 30, Some(40)),
            rec(4, ORCH, PLANNER, 200, Some(300)),
        ];
        let refs: Vec<&TraceRecord> = recs.iter().collect();
        let parent = infer_parents(&refs, 16, 0).0;
        let tree = Tree::new(&parent);
        let roots = || (0..5u32).filter(|&i| parent[i as usize] == NONE);
        let mut out = Vec::new();
        tree.rows(&refs, roots(), &HashSet::new(), &mut out);
        let order: Vec<(u32, u16)> = out
            .iter()
            .map(|r| match r {
                DisplayRow::Trace { index, depth, .. } => (*index, *depth),
                DisplayRow::Group { .. } => panic!("no groups here"),
            })
            .collect();
        assert_eq!(order, vec![(0, 0), (2, 1), (3, 2), (1, 0), (4, 0)]);
        let mut folded = HashSet::new();
        folded.insert(0u64);
        out.clear();
        tree.rows(&refs, roots(), &folded, &mut out);
        assert_eq!(
            out.len(),
            3,
            "folding the planner call hides its two descendants"
        );
        assert!(matches!(
            out[0],
            DisplayRow::Trace {
                index: 0,
                children: 1,
                collapsed: true,
                ..
            }
        ));
    }

    #[test]
    fn case_insensitive_search() {
        assert!(contains_ignore_case("peers/lab/Planner", "planner"));
        assert!(!contains_ignore_case("echo", "echoes"));
        assert!(contains_ignore_case("anything", ""));
    }
}
