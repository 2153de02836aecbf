//! Rebuilding the waterfall's rows a slice per frame: filter the records in chunks until the
//! frame's budget is spent, then nest and lay out; the old rows stay on screen meanwhile.
//!
//! A full rebuild at 100 000 traces costs ~4 ms (~10 ms with search text, which reads the
//! mesh's strings), more than a frame may spend; spread over frames, no frame pays it all.

use std::time::{Duration, Instant};

use crate::model::mesh::Mesh;

use super::nesting::{Nesting, Preparing};
use super::records::{NO_NAME, NameId, Names, RecordCache, TraceRecord};
use super::rows::{Collapsed, Filter, GroupBy, Rows, contains_ignore_case, lay_out};
use crate::protocol::Dialect;

/// Records filtered between two looks at the clock.
const RECORDS_PER_CHUNK: u64 = 2_048;
/// Up to this many rows, the one-go stages are cheap (< 0.3 ms) and run in any frame.
const SMALL_BUILD_ROWS: usize = 10_000;
/// Children nested between two looks at the clock.
const CHILDREN_PER_CHUNK: usize = 4_096;
/// Records per slice of the nesting's preparation (each of its two passes).
const RECORDS_PER_PREPARE_CHUNK: usize = 8_192;

/// How much time derived-data work may still take in this frame.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    deadline: Option<Instant>,
}

impl Budget {
    /// No limit: the work runs to the end (tests, benchmarks, a user's explicit request).
    pub fn unlimited() -> Budget {
        Budget { deadline: None }
    }

    /// Work may go on for this long from now.
    pub fn for_nanos(nanos: u64) -> Budget {
        Budget {
            deadline: Instant::now().checked_add(Duration::from_nanos(nanos)),
        }
    }

    pub fn is_spent(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    pub fn is_unlimited(&self) -> bool {
        self.deadline.is_none()
    }
}

/// The filter with names resolved to ids and the search text prepared.
#[derive(Debug)]
struct Matcher {
    filter: Filter,
    caller: Option<NameId>,
    callee: Option<NameId>,
    operation: Option<NameId>,
    min_latency_micros: u64,
    /// Lower-cased, trimmed search text ("" = no search).
    needle: String,
    /// `#123` searches for a trace id.
    id_needle: Option<u64>,
    /// Per name id: whether the name contains the search text (names are few, records many).
    name_hits: Vec<bool>,
    /// Names known when the ids above were resolved.
    names_seen: usize,
}

/// A name the cache has never seen matches nothing.
const UNKNOWN_NAME: NameId = NO_NAME - 1;

impl Matcher {
    fn new(filter: &Filter) -> Matcher {
        let needle = filter.search.trim().to_ascii_lowercase();
        Matcher {
            filter: filter.clone(),
            caller: None,
            callee: None,
            operation: None,
            min_latency_micros: (filter.min_latency_millis.max(0.0) * 1_000.0) as u64,
            id_needle: needle.strip_prefix('#').and_then(|n| n.parse().ok()),
            needle,
            name_hits: Vec::new(),
            names_seen: usize::MAX,
        }
    }

    /// Resolves names again if the cache learnt new ones (a filtered-for name may appear mid-build).
    fn refresh(&mut self, names: &Names) {
        if self.names_seen == names.len() {
            return;
        }
        let want = |name: &Option<String>| -> Option<NameId> {
            name.as_deref()
                .map(|n| names.find(n).unwrap_or(UNKNOWN_NAME))
        };
        self.caller = want(&self.filter.caller);
        self.callee = want(&self.filter.callee);
        self.operation = want(&self.filter.operation);
        if !self.needle.is_empty() {
            let from = if self.names_seen > names.len() {
                0
            } else {
                self.name_hits.len()
            };
            self.name_hits.truncate(from);
            self.name_hits.extend(
                (from..names.len())
                    .map(|id| contains_ignore_case(names.get(id as NameId), &self.needle)),
            );
        }
        self.names_seen = names.len();
    }

    fn hit(&self, id: NameId) -> bool {
        self.name_hits.get(id as usize).copied().unwrap_or(false)
    }

    fn admits(&self, r: &TraceRecord, mesh: &Mesh, now_nanos: u64) -> bool {
        let f = &self.filter;
        let passes = f.dialect.is_none_or(|d: Dialect| r.dialect == d)
            && self.caller.is_none_or(|c| r.caller == c)
            && self.callee.is_none_or(|c| r.callee == c)
            && self.operation.is_none_or(|o| r.operation == o)
            && f.outcome.admits(r.outcome)
            && (self.min_latency_micros == 0
                || r.elapsed_micros(now_nanos) >= self.min_latency_micros);
        passes && (self.needle.is_empty() || self.search_hits(r, mesh))
    }

    fn search_hits(&self, r: &TraceRecord, mesh: &Mesh) -> bool {
        let needle = self.needle.as_str();
        if self.hit(r.caller)
            || self.hit(r.callee)
            || self.hit(r.responder)
            || self.hit(r.operation)
        {
            return true;
        }
        if contains_ignore_case(r.dialect.as_str(), needle)
            || contains_ignore_case(r.dialect.label(), needle)
            || self.id_needle == Some(r.trace_id)
        {
            return true;
        }
        let Some(trace) = mesh.trace(r.trace_id) else {
            return false;
        };
        contains_ignore_case(&trace.correlation, needle)
            || trace
                .task_id
                .as_deref()
                .is_some_and(|t| contains_ignore_case(t, needle))
            || trace.error.as_deref().is_some_and(|e| {
                contains_ignore_case(&e.class, needle)
                    || e.code
                        .as_deref()
                        .is_some_and(|c| contains_ignore_case(c, needle))
                    || e.message
                        .as_deref()
                        .is_some_and(|m| contains_ignore_case(m, needle))
            })
    }
}

/// Where a rebuild is.
#[derive(Debug)]
enum Stage {
    /// Looking at records `next_id..end_id`.
    Filter,
    /// Preparing the nesting (two passes over the records that passed).
    PrepareNesting(Preparing),
    /// Nesting the records that passed.
    Nest(Nesting),
    /// Laying out the rows (one go: ~1 ms at 100 000 rows).
    Layout {
        parent: Vec<u32>,
        on_wire: Vec<bool>,
    },
    /// The rows were handed out.
    Done,
}

/// One rebuild of the rows, advanced by [`RowsBuild::step`] until it yields them.
#[derive(Debug)]
pub struct RowsBuild {
    matcher: Matcher,
    group_by: GroupBy,
    collapsed: Collapsed,
    now_nanos: u64,
    /// The cache's generation when the build started (a cache that starts over restarts it).
    generation: u64,
    /// The next trace id to look at, and one past the last id the build covers (traces seen
    /// after it started wait for the next build).
    next_id: u64,
    end_id: u64,
    /// Copies of the records that passed (the cache may change between frames).
    kept: Vec<TraceRecord>,
    stage: Stage,
}

impl RowsBuild {
    pub fn start(
        cache: &RecordCache,
        filter: &Filter,
        group_by: GroupBy,
        collapsed: &Collapsed,
        now_nanos: u64,
    ) -> RowsBuild {
        let mut ids = cache.iter().map(|r| r.trace_id);
        let next_id = ids.next().unwrap_or(0);
        let end_id = cache.iter().next_back().map_or(next_id, |r| r.trace_id + 1);
        RowsBuild {
            matcher: Matcher::new(filter),
            group_by,
            collapsed: collapsed.clone(),
            now_nanos,
            generation: cache.generation(),
            next_id,
            end_id,
            kept: Vec::new(),
            stage: Stage::Filter,
        }
    }

    /// The filter this build applies.
    pub fn filter(&self) -> &Filter {
        &self.matcher.filter
    }

    /// How far the build is (0..=1): filtering is the first half, nesting the second.
    pub fn progress(&self, cache: &RecordCache) -> f32 {
        match &self.stage {
            Stage::Filter => {
                let first = cache.iter().next().map_or(self.end_id, |r| r.trace_id);
                let total = self.end_id.saturating_sub(first);
                if total == 0 {
                    return 0.5;
                }
                0.5 * (self.next_id.saturating_sub(first) as f32 / total as f32).clamp(0.0, 1.0)
            }
            Stage::PrepareNesting(preparing) => 0.5 + 0.2 * preparing.progress(),
            Stage::Nest(nesting) => 0.7 + 0.25 * nesting.progress(),
            Stage::Layout { .. } => 0.95,
            Stage::Done => 1.0,
        }
    }

    /// Does as much as `budget` allows (at least one chunk); the rows once finished.
    ///
    /// The one-go stage (the layout) starts only at the beginning of a step, so a frame never
    /// pays for it on top of chunks.
    pub fn step(&mut self, cache: &RecordCache, mesh: &Mesh, budget: &mut Budget) -> Option<Rows> {
        if cache.generation() != self.generation {
            // The cache started over (its name ids changed): so does the build.
            *self = RowsBuild::start(
                cache,
                &self.matcher.filter.clone(),
                self.group_by,
                &self.collapsed.clone(),
                self.now_nanos,
            );
        }
        let mut worked = false;
        loop {
            // A one-go stage waits for a fresh frame if this one has done work already.
            let fresh = !worked || budget.is_unlimited() || self.kept.len() <= SMALL_BUILD_ROWS;
            self.stage = match std::mem::replace(&mut self.stage, Stage::Done) {
                Stage::Filter => {
                    self.filter_chunks(cache, mesh, budget);
                    worked = true;
                    if self.next_id < self.end_id {
                        self.stage = Stage::Filter;
                        return None;
                    }
                    Stage::PrepareNesting(Preparing::new(
                        self.kept.len(),
                        cache.names.len(),
                        self.now_nanos,
                    ))
                }
                Stage::PrepareNesting(mut preparing) => {
                    while !preparing.is_done() {
                        preparing.advance(&self.kept, RECORDS_PER_PREPARE_CHUNK);
                        worked = true;
                        if budget.is_spent() {
                            self.stage = Stage::PrepareNesting(preparing);
                            return None;
                        }
                    }
                    Stage::Nest(preparing.finish())
                }
                Stage::Nest(mut nesting) => {
                    while !nesting.is_done() {
                        nesting.advance(CHILDREN_PER_CHUNK);
                        worked = true;
                        if budget.is_spent() {
                            self.stage = Stage::Nest(nesting);
                            return None;
                        }
                    }
                    let (parent, on_wire) = nesting.finish();
                    Stage::Layout { parent, on_wire }
                }
                Stage::Layout { parent, on_wire } if !fresh => {
                    self.stage = Stage::Layout { parent, on_wire };
                    return None;
                }
                Stage::Layout { parent, on_wire } => {
                    return Some(lay_out(
                        &std::mem::take(&mut self.kept),
                        parent,
                        on_wire,
                        self.group_by,
                        &self.collapsed,
                        &cache.names,
                        cache.len(),
                    ));
                }
                Stage::Done => return None,
            };
        }
    }

    fn filter_chunks(&mut self, cache: &RecordCache, mesh: &Mesh, budget: &Budget) {
        self.matcher.refresh(&cache.names);
        // Evicted meanwhile: skip what is gone.
        if let Some(first) = cache.iter().next() {
            self.next_id = self.next_id.max(first.trace_id);
        }
        while self.next_id < self.end_id {
            let chunk_end = self
                .next_id
                .saturating_add(RECORDS_PER_CHUNK)
                .min(self.end_id);
            let chunk = cache
                .iter_from(self.next_id)
                .take_while(|r| r.trace_id < chunk_end);
            for r in chunk {
                if self.matcher.admits(r, mesh, self.now_nanos) {
                    self.kept.push(*r);
                }
            }
            self.next_id = chunk_end;
            if budget.is_spent() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MeshConfig, Model, ModelConfig};
    use crate::protocol::RawMessage;
    use crate::ui::timeline::rows::{NONE, OutcomeFilter, build_rows};

    const MS: u64 = 1_000_000;
    const T0: u64 = 1_800_000_000_000_000_000;

    fn openmas(at_ms: u64, topic: &str, payload: String) -> RawMessage {
        RawMessage::new(T0 + at_ms * MS, topic, payload.into_bytes())
    }

    /// `calls` OpenMAS calls from 50 agents to 5 services; every fourth service call delegates
    /// to the calculator while it runs; some fail, the last ones are pending.
    fn apply_calls(model: &mut Model, first: u64, calls: u64) {
        for n in first..first + calls {
            let at = n * 3;
            let (caller, service) = (format!("agent-{}", n % 50), format!("svc-{}", n % 5));
            let id = format!("r{n}");
            model.apply_message(openmas(
                at,
                &format!("openmas/{service}/request/op"),
                format!(r#"{{"id":"{id}","source":"{caller}","target":"{service}","method":"op","params":{{}}}}"#),
            ));
            if n % 4 == 0 {
                let child = format!("c{n}");
                model.apply_message(openmas(
                    at + 1,
                    "openmas/calculator/request/add",
                    format!(r#"{{"id":"{child}","source":"{service}","target":"calculator","method":"add","params":{{}}}}"#),
                ));
                model.apply_message(openmas(
                    at + 2,
                    &format!("openmas/{service}/response/{child}"),
                    format!(r#"{{"id":"{child}","source":"calculator","target":"{service}","result":3}}"#),
                ));
            }
            if n + 20 < first + calls {
                let body = if n % 9 == 0 {
                    r#""error":{"code":500,"message":"boom"}"#.to_owned()
                } else {
                    r#""result":1"#.to_owned()
                };
                model.apply_message(openmas(
                    at + 5,
                    &format!("openmas/{caller}/response/{id}"),
                    format!(r#"{{"id":"{id}","source":"{service}","target":"{caller}",{body}}}"#),
                ));
            }
        }
    }

    fn big_model(max_traces: usize, calls: u64) -> Model {
        let mut model = Model::new(ModelConfig {
            mesh: MeshConfig {
                max_traces,
                ..MeshConfig::default()
            },
            ..ModelConfig::default()
        });
        apply_calls(&mut model, 0, calls);
        model
    }

    /// Steps with a spent budget (one chunk each) until the rows come; returns them and the steps.
    fn sliced(build: &mut RowsBuild, cache: &RecordCache, model: &Model) -> (Rows, usize) {
        for steps in 1..10_000 {
            if let Some(rows) = build.step(cache, &model.mesh, &mut Budget::for_nanos(0)) {
                return (rows, steps);
            }
        }
        panic!("the build never finished");
    }

    #[test]
    fn a_rebuild_spread_over_frames_gives_the_rows_built_at_once() {
        let model = big_model(100_000, 12_000);
        let mut cache = RecordCache::default();
        cache.sync(&model.mesh, &model.store);
        assert!(cache.len() > 14_000, "{} traces", cache.len());
        let now = T0 + 40_000 * MS;
        let filters = [
            Filter::default(),
            Filter {
                search: "SVC-1".into(),
                ..Filter::default()
            },
            Filter {
                outcome: OutcomeFilter::Failed,
                ..Filter::default()
            },
            Filter {
                callee: Some("calculator".into()),
                ..Filter::default()
            },
        ];
        let collapsed = Collapsed::default();
        for filter in &filters {
            for group_by in [GroupBy::Nothing, GroupBy::Callee] {
                let at_once = build_rows(&cache, filter, group_by, &collapsed, &model.mesh, now);
                let mut build = RowsBuild::start(&cache, filter, group_by, &collapsed, now);
                let (rows, steps) = sliced(&mut build, &cache, &model);
                assert_eq!(rows, at_once, "{filter:?} {group_by:?}");
                assert!(
                    steps >= 8,
                    "{filter:?}: a spent budget still made the build take one chunk per frame ({steps} steps)"
                );
            }
        }
        let all = build_rows(
            &cache,
            &Filter::default(),
            GroupBy::Nothing,
            &collapsed,
            &model.mesh,
            now,
        );
        assert!(
            all.parent.iter().filter(|&&p| p != NONE).count() >= 3_000,
            "the delegations are nested"
        );
    }

    #[test]
    fn traces_evicted_during_a_rebuild_are_left_out_and_new_ones_wait() {
        let mut model = big_model(5_000, 4_000);
        let mut cache = RecordCache::default();
        cache.sync(&model.mesh, &model.store);
        let now = T0 + 40_000 * MS;
        let mut build = RowsBuild::start(
            &cache,
            &Filter::default(),
            GroupBy::Nothing,
            &Collapsed::default(),
            now,
        );
        assert!(
            build
                .step(&cache, &model.mesh, &mut Budget::for_nanos(0))
                .is_none()
        );
        let started_with = cache.iter().next_back().map(|r| r.trace_id).unwrap();
        let first_chunk_end = cache.iter().next().map(|r| r.trace_id).unwrap() + RECORDS_PER_CHUNK;
        // 2 000 more calls evict the oldest ~2 500 traces while the build is under way.
        apply_calls(&mut model, 4_000, 2_000);
        cache.sync(&model.mesh, &model.store);
        let first = cache.iter().next().map(|r| r.trace_id).unwrap();
        assert!(
            first > first_chunk_end,
            "the eviction went past the first chunk"
        );
        let (rows, _) = sliced(&mut build, &cache, &model);
        assert!(!rows.visible.is_empty());
        assert!(
            rows.visible
                .iter()
                .all(|&id| id < first_chunk_end || id >= first),
            "only the chunk filtered before the eviction may hold evicted traces"
        );
        assert!(
            rows.visible.iter().all(|&id| id <= started_with),
            "traces seen after the build started wait for the next one"
        );
        for (i, &p) in rows.parent.iter().enumerate() {
            assert!(p == NONE || (p as usize) < i, "parents come first");
        }
    }

    #[test]
    fn mirroring_catches_up_in_bounded_slices() {
        let model = big_model(100_000, 3_000);
        let mut whole = RecordCache::default();
        assert!(whole.sync(&model.mesh, &model.store));
        let mut sliced = RecordCache::default();
        let mut calls = 0;
        loop {
            calls += 1;
            let synced = sliced.sync_up_to(&model.mesh, &model.store, 500);
            assert!(synced.changed || synced.complete);
            assert!(sliced.len() <= calls * 500);
            if synced.complete {
                break;
            }
        }
        assert_eq!(calls, whole.len().div_ceil(500));
        assert!(
            whole.iter().eq(sliced.iter()),
            "the same records either way"
        );
        assert!(!sliced.sync_up_to(&model.mesh, &model.store, 500).changed);
    }
}
