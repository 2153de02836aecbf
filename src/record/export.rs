//! Export of traces and per-operation stats as JSON or CSV (rows copied out under a short lock, written after).
//!
//! JSON: `{"meshscope_export": 1, "kind": "traces", "traces": [...]}` and
//! `{"meshscope_export": 1, "kind": "stats", "at_nanos": N, "stats": [...]}`; the fields are
//! those of the CSV columns ([`TRACE_COLUMNS`], [`STATS_COLUMNS`]), `null` where there is no
//! value. Times are receive times (Unix epoch nanoseconds), latencies microseconds between
//! receive times. CSV follows RFC 4180 (comma, `"` quoting, CRLF-free `\n` lines); a text cell
//! that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR) is
//! prefixed with `'` because names and errors come from the wire.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde::Serialize;

use crate::ingest::SharedModel;
use crate::model::mesh::{Mesh, Trace};

pub const EXPORT_VERSION: u64 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    Json,
    Csv,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Json => "json",
            ExportFormat::Csv => "csv",
        }
    }
}

/// What to export.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExportWhat {
    /// These traces (`None`: every trace kept in memory), in first-sight order.
    Traces { trace_ids: Option<Vec<u64>> },
    /// The per-operation stats (dialect, callee, operation), at a given receive time.
    Stats,
}

/// One trace, owned (copied out of the model).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceRow {
    pub trace_id: u64,
    pub dialect: &'static str,
    pub caller: Option<String>,
    pub callee: String,
    pub operation: String,
    pub correlation: String,
    pub outcome: &'static str,
    pub request_at_nanos: Option<u64>,
    pub response_at_nanos: Option<u64>,
    pub latency_micros: Option<u64>,
    pub partials: u64,
    pub first_partial_micros: Option<u64>,
    pub server_elapsed_micros: Option<u64>,
    pub responder: Option<String>,
    pub task_id: Option<String>,
    pub error_class: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Paired first-come on a Response Topic without Correlation Data.
    pub weak: bool,
}

pub const TRACE_COLUMNS: &[&str] = &[
    "trace_id",
    "dialect",
    "caller",
    "callee",
    "operation",
    "correlation",
    "outcome",
    "request_at_nanos",
    "response_at_nanos",
    "latency_micros",
    "partials",
    "first_partial_micros",
    "server_elapsed_micros",
    "responder",
    "task_id",
    "error_class",
    "error_code",
    "error_message",
    "weak",
];

impl TraceRow {
    pub fn of(t: &Trace) -> TraceRow {
        let error = t.error.as_deref();
        TraceRow {
            trace_id: t.trace_id,
            dialect: t.dialect.as_str(),
            caller: t.caller.as_deref().map(str::to_owned),
            callee: t.callee.to_string(),
            operation: t.operation.to_string(),
            correlation: t.correlation.to_string(),
            outcome: t.outcome.as_str(),
            request_at_nanos: t.request_at_nanos,
            response_at_nanos: t.response_at_nanos,
            latency_micros: t.latency_micros(),
            partials: t.partials.len() as u64 + u64::from(t.partials_dropped),
            first_partial_micros: t.first_partial_micros(),
            server_elapsed_micros: t.server_elapsed_micros,
            responder: t.responder.as_deref().map(str::to_owned),
            task_id: t.task_id.as_deref().map(str::to_owned),
            error_class: error.map(|e| e.class.to_string()),
            error_code: error.and_then(|e| e.code.as_deref().map(str::to_owned)),
            error_message: error.and_then(|e| e.message.as_deref().map(str::to_owned)),
            weak: t.weak,
        }
    }

    fn cells(&self) -> Vec<Cell<'_>> {
        vec![
            Cell::Num(Some(self.trace_id)),
            Cell::Text(Some(self.dialect)),
            Cell::Text(self.caller.as_deref()),
            Cell::Text(Some(&self.callee)),
            Cell::Text(Some(&self.operation)),
            Cell::Text(Some(&self.correlation)),
            Cell::Text(Some(self.outcome)),
            Cell::Num(self.request_at_nanos),
            Cell::Num(self.response_at_nanos),
            Cell::Num(self.latency_micros),
            Cell::Num(Some(self.partials)),
            Cell::Num(self.first_partial_micros),
            Cell::Num(self.server_elapsed_micros),
            Cell::Text(self.responder.as_deref()),
            Cell::Text(self.task_id.as_deref()),
            Cell::Text(self.error_class.as_deref()),
            Cell::Text(self.error_code.as_deref()),
            Cell::Text(self.error_message.as_deref()),
            Cell::Text(Some(if self.weak { "true" } else { "false" })),
        ]
    }
}

/// Traces of `mesh` in first-sight order: all of them, or those whose id is in `trace_ids`.
pub fn trace_rows(mesh: &Mesh, trace_ids: Option<&[u64]>) -> Vec<TraceRow> {
    match trace_ids {
        None => mesh.traces().map(TraceRow::of).collect(),
        Some(ids) => {
            let mut ids = ids.to_vec();
            ids.sort_unstable();
            ids.dedup();
            ids.iter()
                .filter_map(|&id| mesh.trace(id))
                .map(TraceRow::of)
                .collect()
        }
    }
}

/// One stats row (dialect, callee, operation), owned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsExportRow {
    pub dialect: &'static str,
    pub callee: String,
    pub operation: String,
    /// Finished exchanges: ok + errors + timeouts + cancelled.
    pub count: u64,
    pub ok: u64,
    pub errors: u64,
    pub timeouts: u64,
    pub cancelled: u64,
    /// (errors + timeouts) / count.
    pub error_rate: f64,
    pub p50_micros: Option<u64>,
    pub p90_micros: Option<u64>,
    pub p95_micros: Option<u64>,
    pub p99_micros: Option<u64>,
    pub max_micros: Option<u64>,
    /// Over the sliding window ending at the export's `at_nanos`.
    pub window_samples: u64,
    pub window_p50_micros: Option<u64>,
    pub window_p95_micros: Option<u64>,
    pub window_p99_micros: Option<u64>,
    pub first_partial_p50_micros: Option<u64>,
}

pub const STATS_COLUMNS: &[&str] = &[
    "dialect",
    "callee",
    "operation",
    "count",
    "ok",
    "errors",
    "timeouts",
    "cancelled",
    "error_rate",
    "p50_micros",
    "p90_micros",
    "p95_micros",
    "p99_micros",
    "max_micros",
    "window_samples",
    "window_p50_micros",
    "window_p95_micros",
    "window_p99_micros",
    "first_partial_p50_micros",
];

impl StatsExportRow {
    fn cells(&self) -> Vec<Cell<'_>> {
        vec![
            Cell::Text(Some(self.dialect)),
            Cell::Text(Some(&self.callee)),
            Cell::Text(Some(&self.operation)),
            Cell::Num(Some(self.count)),
            Cell::Num(Some(self.ok)),
            Cell::Num(Some(self.errors)),
            Cell::Num(Some(self.timeouts)),
            Cell::Num(Some(self.cancelled)),
            Cell::Float(self.error_rate),
            Cell::Num(self.p50_micros),
            Cell::Num(self.p90_micros),
            Cell::Num(self.p95_micros),
            Cell::Num(self.p99_micros),
            Cell::Num(self.max_micros),
            Cell::Num(Some(self.window_samples)),
            Cell::Num(self.window_p50_micros),
            Cell::Num(self.window_p95_micros),
            Cell::Num(self.window_p99_micros),
            Cell::Num(self.first_partial_p50_micros),
        ]
    }
}

/// The stats rows of `mesh` (sorted by dialect, callee, operation), windows ending at `now_nanos`.
pub fn stats_rows(mesh: &Mesh, now_nanos: u64) -> Vec<StatsExportRow> {
    mesh.stats(now_nanos)
        .into_iter()
        .map(|s| StatsExportRow {
            dialect: s.row.dialect.as_str(),
            callee: s.row.callee.to_string(),
            operation: s.row.operation.to_string(),
            count: s.row.count,
            ok: s.row.ok,
            errors: s.row.errors,
            timeouts: s.row.timeouts,
            cancelled: s.row.cancelled,
            error_rate: s.row.error_rate(),
            p50_micros: s.session.p50_micros,
            p90_micros: s.session.p90_micros,
            p95_micros: s.session.p95_micros,
            p99_micros: s.session.p99_micros,
            max_micros: s.session.max_micros,
            window_samples: s.window.samples,
            window_p50_micros: s.window.p50_micros,
            window_p95_micros: s.window.p95_micros,
            window_p99_micros: s.window.p99_micros,
            first_partial_p50_micros: s.first_partial.p50_micros,
        })
        .collect()
}

enum Cell<'a> {
    Text(Option<&'a str>),
    Num(Option<u64>),
    Float(f64),
}

/// A CSV field: quoted when it has to be, formula-looking text defused.
fn write_text_cell(out: &mut impl Write, text: &str) -> io::Result<()> {
    let formula = text
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    let needs_quotes = formula || text.contains([',', '"', '\n', '\r']);
    if !needs_quotes {
        return out.write_all(text.as_bytes());
    }
    out.write_all(b"\"")?;
    if formula {
        out.write_all(b"'")?;
    }
    out.write_all(text.replace('"', "\"\"").as_bytes())?;
    out.write_all(b"\"")
}

fn write_csv_row(out: &mut impl Write, cells: &[Cell<'_>]) -> io::Result<()> {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        match cell {
            Cell::Text(Some(t)) => write_text_cell(out, t)?,
            Cell::Num(Some(n)) => write!(out, "{n}")?,
            Cell::Float(f) if f.is_finite() => write!(out, "{f:.4}")?,
            Cell::Text(None) | Cell::Num(None) | Cell::Float(_) => {}
        }
    }
    out.write_all(b"\n")
}

fn write_csv_header(out: &mut impl Write, columns: &[&str]) -> io::Result<()> {
    out.write_all(columns.join(",").as_bytes())?;
    out.write_all(b"\n")
}

#[derive(Serialize)]
struct TracesDoc<'a> {
    meshscope_export: u64,
    kind: &'static str,
    traces: &'a [TraceRow],
}

#[derive(Serialize)]
struct StatsDoc<'a> {
    meshscope_export: u64,
    kind: &'static str,
    at_nanos: u64,
    stats: &'a [StatsExportRow],
}

pub fn write_traces(
    rows: &[TraceRow],
    format: ExportFormat,
    out: &mut impl Write,
) -> io::Result<()> {
    match format {
        ExportFormat::Json => {
            let doc = TracesDoc {
                meshscope_export: EXPORT_VERSION,
                kind: "traces",
                traces: rows,
            };
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            out.write_all(b"\n")
        }
        ExportFormat::Csv => {
            write_csv_header(out, TRACE_COLUMNS)?;
            for row in rows {
                write_csv_row(out, &row.cells())?;
            }
            Ok(())
        }
    }
}

pub fn write_stats(
    rows: &[StatsExportRow],
    at_nanos: u64,
    format: ExportFormat,
    out: &mut impl Write,
) -> io::Result<()> {
    match format {
        ExportFormat::Json => {
            let doc = StatsDoc {
                meshscope_export: EXPORT_VERSION,
                kind: "stats",
                at_nanos,
                stats: rows,
            };
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            out.write_all(b"\n")
        }
        ExportFormat::Csv => {
            write_csv_header(out, STATS_COLUMNS)?;
            for row in rows {
                write_csv_row(out, &row.cells())?;
            }
            Ok(())
        }
    }
}

/// Copies the rows out of `model` (one short lock), then writes `path`. Returns the row count.
/// Meant for a background thread: writing 100 000 traces takes a moment.
pub fn export_to_file(
    model: &SharedModel,
    what: &ExportWhat,
    format: ExportFormat,
    now_nanos: u64,
    path: &Path,
) -> io::Result<usize> {
    enum Rows {
        Traces(Vec<TraceRow>),
        Stats(Vec<StatsExportRow>),
    }
    let rows = {
        let guard = model.lock();
        match what {
            ExportWhat::Traces { trace_ids } => {
                Rows::Traces(trace_rows(&guard.mesh, trace_ids.as_deref()))
            }
            ExportWhat::Stats => Rows::Stats(stats_rows(&guard.mesh, now_nanos)),
        }
    };
    let mut out = BufWriter::new(File::create(path)?);
    let count = match &rows {
        Rows::Traces(rows) => {
            write_traces(rows, format, &mut out)?;
            rows.len()
        }
        Rows::Stats(rows) => {
            write_stats(rows, now_nanos, format, &mut out)?;
            rows.len()
        }
    };
    out.flush()?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::mesh::MeshConfig;
    use crate::record::read_jsonl;

    fn capture_mesh() -> Mesh {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/peers-mesh/capture.jsonl"
        );
        let file = std::fs::File::open(path).expect("the peers-mesh capture");
        let mut mesh = Mesh::new(MeshConfig::default());
        let mut last = 0;
        for raw in read_jsonl(std::io::BufReader::new(file)) {
            let raw = raw.unwrap();
            last = raw.received_at_nanos;
            mesh.apply(&raw);
        }
        mesh.tick(last);
        mesh
    }

    /// A small RFC 4180 reader, enough to check what we write.
    fn parse_csv(text: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => field.push(c),
                (false, '"') => quoted = true,
                (false, ',') => row.push(std::mem::take(&mut field)),
                (false, '\n') => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                (false, c) => field.push(c),
            }
        }
        rows
    }

    #[test]
    fn traces_as_csv_and_json_agree_with_the_model() {
        let mesh = capture_mesh();
        let rows = trace_rows(&mesh, None);
        assert_eq!(rows.len(), mesh.trace_count());
        let mut csv = Vec::new();
        write_traces(&rows, ExportFormat::Csv, &mut csv).unwrap();
        let table = parse_csv(std::str::from_utf8(&csv).unwrap());
        assert_eq!(table[0], TRACE_COLUMNS);
        assert_eq!(table.len(), rows.len() + 1);
        for (line, row) in table[1..].iter().zip(&rows) {
            assert_eq!(line.len(), TRACE_COLUMNS.len());
            assert_eq!(line[0], row.trace_id.to_string());
            assert_eq!(line[3], row.callee);
            assert_eq!(
                line[9],
                row.latency_micros
                    .map(|l| l.to_string())
                    .unwrap_or_default()
            );
            assert_eq!(line[17], row.error_message.clone().unwrap_or_default());
        }
        let mut json = Vec::new();
        write_traces(&rows, ExportFormat::Json, &mut json).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(doc["meshscope_export"], 1);
        assert_eq!(doc["kind"], "traces");
        let traces = doc["traces"].as_array().unwrap();
        assert_eq!(traces.len(), rows.len());
        let errors = traces.iter().filter(|t| t["outcome"] == "error").count();
        assert!(errors > 0, "the capture has failing calls");
        for t in traces {
            let keys: Vec<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys.len(), TRACE_COLUMNS.len());
        }

        // A selection, in first-sight order whatever the order asked.
        let pick = [rows[5].trace_id, rows[1].trace_id, 999_999_999];
        let some = trace_rows(&mesh, Some(&pick));
        assert_eq!(some, vec![rows[1].clone(), rows[5].clone()]);
    }

    #[test]
    fn stats_as_csv_and_json_agree_with_the_model() {
        let mesh = capture_mesh();
        let now = mesh.observed().to_nanos.unwrap();
        let rows = stats_rows(&mesh, now);
        assert!(rows.len() >= 5);
        let mut csv = Vec::new();
        write_stats(&rows, now, ExportFormat::Csv, &mut csv).unwrap();
        let table = parse_csv(std::str::from_utf8(&csv).unwrap());
        assert_eq!(table[0], STATS_COLUMNS);
        assert_eq!(table.len(), rows.len() + 1);
        for (line, (row, view)) in table[1..].iter().zip(rows.iter().zip(mesh.stats(now))) {
            assert_eq!(line[2], *view.row.operation);
            assert_eq!(line[3], view.row.count.to_string());
            assert_eq!(
                row.count,
                view.row.ok + view.row.errors + view.row.timeouts + view.row.cancelled
            );
            assert_eq!(
                line[11],
                view.session
                    .p95_micros
                    .map(|v| v.to_string())
                    .unwrap_or_default()
            );
        }
        let mut json = Vec::new();
        write_stats(&rows, now, ExportFormat::Json, &mut json).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(doc["kind"], "stats");
        assert_eq!(doc["at_nanos"], now);
        assert_eq!(doc["stats"].as_array().unwrap().len(), rows.len());
    }

    #[test]
    fn csv_quotes_and_defuses_text_from_the_wire() {
        let mut out = Vec::new();
        write_csv_row(
            &mut out,
            &[
                Cell::Text(Some("plain")),
                Cell::Text(Some("a,b")),
                Cell::Text(Some("say \"hi\"\nbye")),
                Cell::Text(Some("=HYPERLINK(\"x\")")),
                Cell::Num(None),
                Cell::Float(f64::NAN),
            ],
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "plain,\"a,b\",\"say \"\"hi\"\"\nbye\",\"'=HYPERLINK(\"\"x\"\")\",,\n"
        );
        let parsed = parse_csv(&text);
        assert_eq!(parsed[0][2], "say \"hi\"\nbye");
        assert_eq!(parsed[0][3], "'=HYPERLINK(\"x\")");
    }
}
