//! Schema-form tests over real-world tool schemas (MCP reference servers, FastMCP/pydantic, zod output, the demo's own) and validation.

use serde_json::{Value, json};

use super::*;

/// `@modelcontextprotocol/server-filesystem` `edit_file` (zod-to-json-schema output).
fn filesystem_edit_file() -> Value {
    json!({
        "type": "object",
        "properties": {
            "path": {"type": "string"},
            "edits": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "oldText": {"type": "string", "description": "Text to search for - must match exactly"},
                    "newText": {"type": "string", "description": "Text to replace with"}
                },
                "required": ["oldText", "newText"],
                "additionalProperties": false
            }},
            "dryRun": {"type": "boolean", "default": false, "description": "Preview changes using git-style diff format"}
        },
        "required": ["path", "edits"],
        "additionalProperties": false,
        "$schema": "http://json-schema.org/draft-07/schema#"
    })
}

/// A FastMCP (pydantic v2) tool: `$defs`, `$ref` with a sibling default, `anyOf [X, null]`.
fn pydantic_create_customer() -> Value {
    json!({
        "$defs": {
            "Address": {
                "properties": {
                    "street": {"title": "Street", "type": "string"},
                    "city": {"title": "City", "type": "string"},
                    "zip": {"anyOf": [{"type": "string", "pattern": "^[0-9]{5}$"}, {"type": "null"}], "default": null, "title": "Zip"}
                },
                "required": ["street", "city"],
                "title": "Address",
                "type": "object"
            },
            "Priority": {"enum": ["low", "normal", "high"], "title": "Priority", "type": "string"}
        },
        "properties": {
            "name": {"title": "Name", "type": "string", "description": "Full legal name"},
            "address": {"$ref": "#/$defs/Address"},
            "priority": {"$ref": "#/$defs/Priority", "default": "normal"},
            "tags": {"items": {"type": "string"}, "title": "Tags", "type": "array"},
            "notes": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null, "title": "Notes"},
            "credit_limit": {"anyOf": [{"type": "number", "minimum": 0}, {"type": "null"}], "title": "Credit Limit"}
        },
        "required": ["name", "address"],
        "title": "create_customerArguments",
        "type": "object"
    })
}

/// A discriminated union (`oneOf` with `const` discriminators).
fn lookup_target() -> Value {
    json!({
        "type": "object",
        "properties": {
            "target": {"oneOf": [
                {"type": "object", "title": "By id",
                 "properties": {"kind": {"const": "id"}, "id": {"type": "integer", "minimum": 1}},
                 "required": ["kind", "id"], "additionalProperties": false},
                {"type": "object", "title": "By query",
                 "properties": {"kind": {"const": "query"}, "query": {"type": "string", "minLength": 1},
                                "limit": {"type": "integer", "default": 10}},
                 "required": ["kind", "query"], "additionalProperties": false}
            ]},
            "mode": {"oneOf": [{"const": "fast", "title": "Fast"}, {"const": "thorough", "title": "Thorough"}]}
        },
        "required": ["target"]
    })
}

/// A recursive tree (`$ref` back into `$defs`).
fn outline() -> Value {
    json!({
        "$defs": {"node": {"type": "object", "properties": {
            "title": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}
        }, "required": ["title"]}},
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/node"}, "again": {"$ref": "#"}},
        "required": ["root"]
    })
}

/// Brave search MCP server `brave_web_search`.
fn brave_web_search() -> Value {
    json!({
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "Search query (max 400 chars, 50 words)"},
            "count": {"type": "number", "description": "Number of results (1-20, default 10)", "default": 10},
            "offset": {"type": "number", "description": "Pagination offset (max 9, default 0)", "default": 0}
        },
        "required": ["query"]
    })
}

/// The demo's EMQX MCP `get_vehicle_status` (array of enum, unique) and `web_search`
/// (optional nested object with enums).
fn vehicle_status() -> Value {
    json!({
        "type": "object",
        "properties": {
            "vehicle_id": {"type": "string", "pattern": "^VH-[0-9]{4}$"},
            "fields": {"type": "array", "items": {"type": "string", "enum": ["position", "speed", "battery", "alerts"]}, "uniqueItems": true}
        },
        "required": ["vehicle_id"]
    })
}

fn web_search() -> Value {
    json!({
        "type": "object",
        "properties": {
            "query": {"type": "string", "minLength": 1, "description": "Search terms"},
            "max_results": {"type": "integer", "minimum": 1, "maximum": 10, "default": 5},
            "filters": {"type": "object", "properties": {
                "site": {"type": "string", "description": "Restrict to one domain"},
                "recency": {"type": "string", "enum": ["day", "week", "month", "any"], "default": "any"}
            }, "additionalProperties": false}
        },
        "required": ["query"],
        "additionalProperties": false
    })
}

fn row<'a>(rows: &'a [Row], pointer: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.pointer == pointer)
        .unwrap_or_else(|| {
            panic!(
                "no row {pointer}; rows: {:?}",
                rows.iter().map(|r| r.pointer.as_str()).collect::<Vec<_>>()
            )
        })
}

#[test]
fn filesystem_schema_builds_required_fields_first_with_arrays_of_objects() {
    let mut form = SchemaForm::new(Some(&filesystem_edit_file()));
    assert_eq!(
        form.value(),
        &json!({"edits": []}),
        "required array starts empty; required string starts unset"
    );
    let rows = form.rows();
    assert_eq!(
        rows.iter().map(|r| r.pointer.as_str()).collect::<Vec<_>>(),
        vec!["/edits", "/path", "/dryRun"]
    );
    assert!(row(&rows, "/path").required && !row(&rows, "/dryRun").required);
    assert_eq!(
        row(&rows, "/dryRun").hint.as_deref(),
        Some("Preview changes using git-style diff format")
    );
    assert_eq!(row(&rows, "/path").errors, vec!["required"]);
    assert!(!form.is_valid());

    form.apply("/path", Edit::Text("/tmp/notes.md".into()));
    form.apply("/edits", Edit::AddItem);
    let rows = form.rows();
    assert_eq!(row(&rows, "/edits").widget, Widget::Array { len: 1 });
    let item = row(&rows, "/edits/0");
    assert!(item.removable);
    assert_eq!(item.label, "[0]");
    assert_eq!(row(&rows, "/edits/0/oldText").depth, 2);
    assert_eq!(row(&rows, "/edits/0/oldText").errors, vec!["required"]);
    form.apply("/edits/0/oldText", Edit::Text("foo".into()));
    form.apply("/edits/0/newText", Edit::Text("bar".into()));
    assert!(form.is_valid(), "{:?}", form.problems());
    assert_eq!(
        form.value(),
        &json!({"path": "/tmp/notes.md", "edits": [{"oldText": "foo", "newText": "bar"}]})
    );
    form.apply("/edits/0", Edit::RemoveItem);
    assert_eq!(form.value()["edits"], json!([]));
}

#[test]
fn pydantic_refs_defaults_and_nullable_fields() {
    let mut form = SchemaForm::new(Some(&pydantic_create_customer()));
    // `address` is a required `$ref` object: opened at once with its required members' rows.
    assert_eq!(form.value(), &json!({"address": {}}));
    let rows = form.rows();
    let address = row(&rows, "/address");
    assert_eq!(address.widget, Widget::Object { open: true });
    assert_eq!(address.title.as_deref(), Some("Address"));
    assert!(row(&rows, "/address/street").required);
    let zip = row(&rows, "/address/zip");
    assert!(
        zip.nullable && !zip.required,
        "anyOf [string, null] is a nullable string"
    );
    assert!(matches!(zip.widget, Widget::Text { .. }));
    assert_eq!(zip.constraints, vec!["pattern ^[0-9]{5}$"]);
    // `$ref` to an enum with a sibling default.
    let priority = row(&rows, "/priority");
    assert_eq!(
        priority.widget,
        Widget::Enum {
            options: vec!["low".into(), "normal".into(), "high".into()],
            selected: None
        }
    );
    let notes = row(&rows, "/notes");
    assert!(notes.nullable);
    assert!(
        matches!(&notes.widget, Widget::Text { placeholder, .. } if placeholder == "default: null")
    );
    assert!(matches!(
        row(&rows, "/credit_limit").widget,
        Widget::Number { integer: false, .. }
    ));

    form.apply("/name", Edit::Text("Ada".into()));
    form.apply("/address/street", Edit::Text("1 Main St".into()));
    form.apply("/address/city", Edit::Text("Springfield".into()));
    form.apply("/priority", Edit::Select(Some(2)));
    form.apply("/notes", Edit::SetNull(true));
    form.apply("/address/zip", Edit::Text("1234".into()));
    let rows = form.rows();
    assert!(row(&rows, "/notes").is_null);
    assert_eq!(
        row(&rows, "/address/zip").errors.len(),
        1,
        "pattern failure beside the field: {:?}",
        form.errors()
    );
    // jsonschema reports the failing `anyOf` (string with a pattern, or null).
    assert!(
        row(&rows, "/address/zip").errors[0].contains("\"1234\""),
        "{:?}",
        row(&rows, "/address/zip").errors
    );
    form.apply("/address/zip", Edit::SetNull(true));
    form.apply("/credit_limit", Edit::Text("-5".into()));
    assert_eq!(
        form.row("/credit_limit").unwrap().errors.len(),
        1,
        "minimum 0"
    );
    form.apply("/credit_limit", Edit::Text("2500.5".into()));
    assert!(form.is_valid(), "{:?}", form.problems());
    assert_eq!(
        form.value(),
        &json!({"name": "Ada", "address": {"street": "1 Main St", "city": "Springfield", "zip": null},
                "priority": "high", "notes": null, "credit_limit": 2500.5})
    );
    form.apply("/notes", Edit::SetNull(false));
    assert_eq!(form.value()["notes"], json!(""));
    form.apply("/notes", Edit::Unset);
    assert!(form.value().get("notes").is_none());
}

#[test]
fn one_of_variants_switch_and_fill_their_fields() {
    let mut form = SchemaForm::new(Some(&lookup_target()));
    let rows = form.rows();
    let target = row(&rows, "/target");
    assert_eq!(
        target.widget,
        Widget::Choice {
            options: vec!["By id".into(), "By query".into()],
            selected: 0
        }
    );
    assert!(!target.present);
    // A oneOf of constants is an enum labelled by the variants' titles.
    assert_eq!(
        row(&rows, "/mode").widget,
        Widget::Enum {
            options: vec!["Fast".into(), "Thorough".into()],
            selected: None
        }
    );

    form.apply("/target", Edit::Variant(1));
    assert_eq!(
        form.value()["target"],
        json!({"kind": "query"}),
        "the discriminator is filled from its const"
    );
    let rows = form.rows();
    assert_eq!(
        row(&rows, "/target").widget,
        Widget::Choice {
            options: vec!["By id".into(), "By query".into()],
            selected: 1
        }
    );
    assert_eq!(row(&rows, "/target/query").depth, 1);
    assert!(row(&rows, "/target/query").required);
    form.apply("/target/query", Edit::Text("invoices".into()));
    form.apply("/target/limit", Edit::Text("25".into()));
    form.apply("/mode", Edit::Select(Some(1)));
    assert!(form.is_valid(), "{:?}", form.problems());
    assert_eq!(
        form.value(),
        &json!({"target": {"kind": "query", "query": "invoices", "limit": 25}, "mode": "thorough"})
    );

    // A value typed in the raw editor picks its variant by its discriminator.
    form.set_raw(r#"{"target": {"kind": "id", "id": 7}}"#.to_owned());
    assert!(form.raw_error().is_none());
    let rows = form.rows();
    assert!(matches!(
        row(&rows, "/target").widget,
        Widget::Choice { selected: 0, .. }
    ));
    assert_eq!(
        row(&rows, "/target/id").widget,
        Widget::Number {
            text: "7".into(),
            integer: true,
            placeholder: String::new()
        }
    );
    form.apply("/target/id", Edit::Text("0".into()));
    assert!(!form.is_valid(), "oneOf fails: id below its minimum");
    assert!(!form.general_errors().is_empty() || !form.row("/target").unwrap().errors.is_empty());
}

#[test]
fn recursive_schemas_expand_only_what_the_value_holds() {
    let mut form = SchemaForm::new(Some(&outline()));
    let rows = form.rows();
    // `root` is required; `again` (a `$ref` to the whole schema) stays closed.
    assert_eq!(row(&rows, "/again").widget, Widget::Object { open: false });
    assert_eq!(
        row(&rows, "/root/children").widget,
        Widget::Array { len: 0 }
    );
    form.apply("/root/title", Edit::Text("Book".into()));
    form.apply("/root/children", Edit::AddItem);
    form.apply("/root/children/0/title", Edit::Text("Chapter 1".into()));
    form.apply("/root/children/0/children", Edit::AddItem);
    form.apply(
        "/root/children/0/children/0/title",
        Edit::Text("Section 1.1".into()),
    );
    assert!(form.is_valid(), "{:?}", form.problems());
    assert_eq!(
        row(&form.rows(), "/root/children/0/children/0/title").depth,
        5
    );
    form.apply("/again", Edit::Open(true));
    assert_eq!(
        form.value()["again"],
        json!({"root": {}}),
        "opening the self-reference starts its required members"
    );
    // Very deep values end as a JSON field instead of endless rows.
    let mut deep = json!({"title": "leaf"});
    for _ in 0..40 {
        deep = json!({"title": "n", "children": [deep]});
    }
    form.set_value(json!({"root": deep}));
    let rows = form.rows();
    assert!(rows.len() < 100, "{} rows", rows.len());
    assert!(rows.iter().any(|r| matches!(r.widget, Widget::Json { .. })));
}

#[test]
fn numbers_keep_what_was_typed_and_explain_parse_errors() {
    let mut form = SchemaForm::new(Some(&brave_web_search()));
    let rows = form.rows();
    assert!(
        matches!(&row(&rows, "/count").widget, Widget::Number { placeholder, .. } if placeholder == "default: 10")
    );
    form.apply("/query", Edit::Text("mqtt 5 request response".into()));
    form.apply("/count", Edit::Text("1.".into()));
    assert_eq!(form.value()["count"], json!(1.0));
    assert_eq!(
        form.row("/count").unwrap().widget,
        Widget::Number {
            text: "1.".into(),
            integer: false,
            placeholder: "default: 10".into()
        }
    );
    form.apply("/count", Edit::Text("ten".into()));
    assert_eq!(form.row("/count").unwrap().errors, vec!["not a number"]);
    assert!(!form.is_valid());
    assert!(form.value().get("count").is_none());
    form.apply("/count", Edit::Text("".into()));
    assert!(form.is_valid());
    let mut ws = SchemaForm::new(Some(&web_search()));
    ws.apply("/max_results", Edit::Text("2.5".into()));
    assert_eq!(
        ws.row("/max_results").unwrap().errors,
        vec!["not an integer"]
    );
    ws.apply("/max_results", Edit::Text("12".into()));
    let errors = ws.row("/max_results").unwrap().errors;
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("maximum of 10"), "{errors:?}");
}

#[test]
fn optional_objects_open_on_demand_and_enum_arrays_are_check_boxes() {
    let mut form = SchemaForm::new(Some(&web_search()));
    let rows = form.rows();
    assert_eq!(
        row(&rows, "/filters").widget,
        Widget::Object { open: false }
    );
    assert!(
        !rows.iter().any(|r| r.pointer == "/filters/site"),
        "closed objects show no fields"
    );
    form.apply("/filters", Edit::Open(true));
    form.apply("/filters/recency", Edit::Select(Some(1)));
    form.apply("/query", Edit::Text("rust egui".into()));
    assert_eq!(
        form.value(),
        &json!({"query": "rust egui", "filters": {"recency": "week"}})
    );
    form.apply("/filters", Edit::Open(false));
    assert_eq!(form.value(), &json!({"query": "rust egui"}));

    let mut vs = SchemaForm::new(Some(&vehicle_status()));
    let rows = vs.rows();
    assert_eq!(
        row(&rows, "/fields").widget,
        Widget::MultiEnum {
            options: vec![
                "position".into(),
                "speed".into(),
                "battery".into(),
                "alerts".into()
            ],
            selected: vec![false; 4]
        }
    );
    vs.apply("/fields", Edit::Toggle(2, true));
    vs.apply("/fields", Edit::Toggle(0, true));
    vs.apply("/vehicle_id", Edit::Text("VH-42".into()));
    assert_eq!(vs.row("/vehicle_id").unwrap().errors.len(), 1, "pattern");
    vs.apply("/vehicle_id", Edit::Text("VH-0042".into()));
    assert!(vs.is_valid());
    assert_eq!(
        vs.value(),
        &json!({"vehicle_id": "VH-0042", "fields": ["battery", "position"]})
    );
    vs.apply("/fields", Edit::Toggle(2, false));
    vs.apply("/fields", Edit::Toggle(0, false));
    assert!(
        vs.value().get("fields").is_none(),
        "an optional list emptied is unset"
    );
}

#[test]
fn raw_json_stays_in_sync_both_ways() {
    let mut form = SchemaForm::new(Some(&web_search()));
    form.apply("/query", Edit::Text("a".into()));
    assert_eq!(
        serde_json::from_str::<Value>(form.raw_text()).unwrap(),
        json!({"query": "a"})
    );
    form.set_raw("{\"query\": \"b\", \"max_results\": 3".to_owned());
    assert!(form.raw_error().is_some(), "incomplete JSON is reported");
    assert_eq!(
        form.value(),
        &json!({"query": "a"}),
        "the last good value is kept"
    );
    assert!(!form.is_valid());
    form.set_raw("{\"query\": \"b\", \"max_results\": 3}".to_owned());
    assert!(form.is_valid());
    assert_eq!(
        form.row("/max_results").unwrap().widget,
        Widget::Number {
            text: "3".into(),
            integer: true,
            placeholder: "default: 5".into()
        }
    );
    form.set_raw("[1, 2]".to_owned());
    assert_eq!(
        form.raw_error(),
        Some("tool arguments must be a JSON object")
    );
    form.set_raw("{\"query\": \"b\", \"unknown\": 1}".to_owned());
    assert!(!form.is_valid(), "additionalProperties: false");
    assert!(
        form.general_errors().iter().any(|e| e.contains("unknown")),
        "{:?}",
        form.general_errors()
    );
}

#[test]
fn unusual_and_broken_schemas_degrade_to_json_fields() {
    // Several types: a choice of types.
    let schema = json!({"type": "object", "properties": {
        "id": {"type": ["string", "integer"]},
        "meta": {"type": "object", "additionalProperties": {"type": "string"}},
        "point": {"type": "array", "items": [{"type": "number"}, {"type": "number"}]},
        "opt": {"type": "string", "nullable": true},
        "anything": {}
    }});
    let mut form = SchemaForm::new(Some(&schema));
    let rows = form.rows();
    assert_eq!(
        row(&rows, "/id").widget,
        Widget::Choice {
            options: vec!["string".into(), "integer".into()],
            selected: 0
        }
    );
    assert!(
        matches!(row(&rows, "/meta").widget, Widget::Json { .. }),
        "maps are JSON fields"
    );
    assert!(
        matches!(row(&rows, "/point").widget, Widget::Json { .. }),
        "tuples are JSON fields"
    );
    assert!(row(&rows, "/opt").nullable, "OpenAPI nullable");
    assert!(matches!(
        row(&rows, "/anything").widget,
        Widget::Json { .. }
    ));
    form.apply("/meta", Edit::Text(r#"{"team": "ops"}"#.into()));
    form.apply("/anything", Edit::Text("[1, {\"x\": null}]".into()));
    form.apply("/id", Edit::Variant(1));
    form.apply("/id", Edit::Text("17".into()));
    assert_eq!(
        form.value(),
        &json!({"meta": {"team": "ops"}, "anything": [1, {"x": null}], "id": 17})
    );
    form.apply("/anything", Edit::Text("[1,".into()));
    assert!(form.row("/anything").unwrap().errors[0].starts_with("not valid JSON"));

    // A schema the validator refuses still gives a usable form (validation off, said so).
    let broken =
        json!({"type": "object", "properties": {"a": {"type": 5}, "b": {"type": "string"}}});
    let mut form = SchemaForm::new(Some(&broken));
    assert!(form.schema_problem().is_some());
    form.apply("/b", Edit::Text("x".into()));
    assert_eq!(form.value(), &json!({"b": "x"}));
    // Reference cycles and dangling references end.
    let cyclic = json!({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
                        "type": "object", "properties": {"x": {"$ref": "#/$defs/a"}, "y": {"$ref": "#/nowhere"}}});
    let form = SchemaForm::new(Some(&cyclic));
    assert_eq!(form.rows().len(), 2);
    // No schema at all: the arguments are one JSON field.
    let mut form = SchemaForm::new(None);
    assert_eq!(
        form.rows().len(),
        0,
        "an object without properties has no fields"
    );
    form.set_raw("{\"free\": true}".into());
    assert!(form.is_valid());
}

#[test]
fn validation_maps_errors_to_fields_and_checks_directly() {
    assert!(validate(&web_search(), &json!({"query": "x"})).is_ok());
    let errors = validate(
        &web_search(),
        &json!({"max_results": 0, "filters": {"recency": "year"}}),
    )
    .unwrap_err();
    let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
    assert_eq!(pointers, vec!["/filters/recency", "/max_results", "/query"]);
    assert_eq!(errors[2].message, "required");
    assert!(describe_errors(&errors).contains("/query: required"));
    assert_eq!(join_pointer("/a", "x/y~z"), "/a/x~1y~0z");
    let mut form = SchemaForm::new(Some(
        &json!({"type": "object", "properties": {"a/b": {"type": "string"}}, "required": ["a/b"]}),
    ));
    assert_eq!(form.rows()[0].pointer, "/a~1b");
    assert_eq!(form.rows()[0].errors, vec!["required"]);
    form.apply("/a~1b", Edit::Text("ok".into()));
    assert_eq!(form.value(), &json!({"a/b": "ok"}));
    assert!(form.is_valid());
}
