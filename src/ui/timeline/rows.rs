//! Filtering and grouping of trace records into the waterfall's rows, with the nesting from
//! [`super::nesting`] (pure; rebuilt only when inputs change, a slice per frame by [`RowsBuild`]).

use std::collections::HashSet;

use crate::model::mesh::hash::FastMap;
use crate::model::mesh::{Mesh, Outcome};
use crate::protocol::Dialect;

pub use super::nesting::{NONE, infer_parents};
use super::records::{NO_NAME, NameId, Names, RecordCache, TraceRecord};
pub use super::rows_build::{Budget, RowsBuild};

/// Deeper nesting is drawn at this depth.
pub const MAX_DRAWN_DEPTH: u16 = 12;

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
#[derive(Debug, Clone, Default, PartialEq)]
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

/// Applies the filter, infers nesting and lays out the rows, all at once (tests, benchmarks;
/// the view spreads the same work over frames with [`RowsBuild`]).
pub fn build_rows(
    cache: &RecordCache,
    filter: &Filter,
    group_by: GroupBy,
    collapsed: &Collapsed,
    mesh: &Mesh,
    now_nanos: u64,
) -> Rows {
    let mut build = RowsBuild::start(cache, filter, group_by, collapsed, now_nanos);
    loop {
        if let Some(rows) = build.step(cache, mesh, &mut Budget::unlimited()) {
            return rows;
        }
    }
}

/// Infers nesting and lays out the rows of records that passed the filter (ascending ids).
pub fn layout_rows(
    records: &[TraceRecord],
    group_by: GroupBy,
    collapsed: &Collapsed,
    names: &Names,
    total: usize,
    now_nanos: u64,
) -> Rows {
    let (parent, on_wire) = infer_parents(records, names.len(), now_nanos);
    lay_out(records, parent, on_wire, group_by, collapsed, names, total)
}

/// The rows of filtered records whose nesting is known.
pub fn lay_out(
    records: &[TraceRecord],
    parent: Vec<u32>,
    on_wire: Vec<bool>,
    group_by: GroupBy,
    collapsed: &Collapsed,
    names: &Names,
    total: usize,
) -> Rows {
    let visible: Vec<u64> = records.iter().map(|r| r.trace_id).collect();
    let display = match group_by {
        GroupBy::Nothing => {
            let mut out = Vec::with_capacity(records.len());
            let tree = Tree::new(&parent);
            tree.rows(
                records,
                (0..records.len() as u32).filter(|&i| parent[i as usize] == NONE),
                &collapsed.traces,
                &mut out,
            );
            out
        }
        GroupBy::Callee | GroupBy::Caller => {
            grouped_rows(records, &parent, group_by, collapsed, names)
        }
    };
    Rows {
        visible,
        parent,
        on_wire,
        display,
        total,
    }
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
        records: &[TraceRecord],
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
    records: &[TraceRecord],
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
            if p != NONE && key(&records[p as usize]) == key(&records[i]) {
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
    use super::super::records::test_records::*;
    use super::*;

    #[test]
    fn tree_rows_put_children_under_parents_and_fold() {
        let recs = [
            rec(0, ORCH, PLANNER, 0, Some(100)),
            rec(1, ORCH, ECHO, 5, Some(30)),
            rec(2, PLANNER, ECHO, 10, Some(60)),
            rec(3, ECHO, TOOL, 30, Some(40)),
            rec(4, ORCH, PLANNER, 200, Some(300)),
        ];
        let refs = &recs[..];
        let parent = infer_parents(refs, 16, 0).0;
        let tree = Tree::new(&parent);
        let roots = || (0..5u32).filter(|&i| parent[i as usize] == NONE);
        let mut out = Vec::new();
        tree.rows(refs, roots(), &HashSet::new(), &mut out);
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
        tree.rows(refs, roots(), &folded, &mut out);
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
