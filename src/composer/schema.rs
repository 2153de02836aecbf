//! JSON-Schema argument forms: schema resolution (`$ref`, `allOf`, nullable), the form's rows and edits, validation errors beside their fields.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// One validation failure, at a JSON pointer into the arguments (`""` = the whole object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub pointer: String,
    pub message: String,
}

/// A compiled validator, or why the schema could not be compiled (then nothing is checked).
pub struct Checker {
    validator: Result<jsonschema::Validator, String>,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker")
            .field("compiled", &self.validator.is_ok())
            .finish()
    }
}

impl Checker {
    /// Compiles `schema`. Schemas come from the wire: a panic inside the validator crate is
    /// caught and reported as an unusable schema.
    pub fn new(schema: &Value) -> Checker {
        let compiled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            jsonschema::validator_for(schema)
        }));
        let validator = match compiled {
            Ok(Ok(validator)) => Ok(validator),
            Ok(Err(error)) => Err(format!("the tool's input schema is not usable: {error}")),
            Err(_) => {
                Err("the tool's input schema is not usable (the validator failed)".to_owned())
            }
        };
        Checker { validator }
    }

    /// Why the schema could not be compiled, if it could not.
    pub fn schema_problem(&self) -> Option<&str> {
        self.validator.as_ref().err().map(String::as_str)
    }

    /// Every failure, sorted by pointer; `required` failures point at the missing field.
    pub fn check(&self, instance: &Value) -> Vec<FieldError> {
        let Ok(validator) = &self.validator else {
            return Vec::new();
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            validator
                .iter_errors(instance)
                .map(|error| {
                    let mut pointer = error.instance_path().as_str().to_owned();
                    if let jsonschema::error::ValidationErrorKind::Required { property } =
                        error.kind()
                        && let Some(name) = property.as_str()
                    {
                        pointer = join_pointer(&pointer, name);
                        return FieldError {
                            pointer,
                            message: "required".to_owned(),
                        };
                    }
                    FieldError {
                        pointer,
                        message: error.to_string(),
                    }
                })
                .collect::<Vec<_>>()
        }));
        let mut errors = outcome.unwrap_or_else(|_| {
            vec![FieldError {
                pointer: String::new(),
                message: "the validator failed on these arguments".to_owned(),
            }]
        });
        errors.sort_by(|a, b| {
            a.pointer
                .cmp(&b.pointer)
                .then_with(|| a.message.cmp(&b.message))
        });
        errors.dedup();
        errors
    }
}

/// Validates `instance` against `schema` (compiling it each time; for one-off checks).
pub fn validate(schema: &Value, instance: &Value) -> Result<(), Vec<FieldError>> {
    let checker = Checker::new(schema);
    let errors = checker.check(instance);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Errors as one line each: `/path: message`.
pub fn describe_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| {
            let at = if e.pointer.is_empty() {
                "(arguments)"
            } else {
                e.pointer.as_str()
            };
            format!("{at}: {}", e.message)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Appends one reference token to a JSON pointer (RFC 6901 escaping).
pub fn join_pointer(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", token.replace('~', "~0").replace('/', "~1"))
}

// ---------------------------------------------------------------------------------------------
// schema shapes

/// `$ref` hops followed at most (a cycle of references ends here).
const MAX_REF_HOPS: usize = 32;
/// Nesting shown as fields at most; deeper values are edited as JSON.
const MAX_FORM_DEPTH: usize = 12;
/// Array items shown as fields at most; beyond, the array is edited as JSON.
const MAX_ITEMS_AS_FIELDS: usize = 200;

/// What kind of field a schema node becomes.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    String,
    Number,
    Integer,
    Boolean,
    Null,
    Object,
    Array,
    /// `enum`, `const`, or a `oneOf`/`anyOf` of constants: a choice among values.
    Enum,
    /// `oneOf`/`anyOf` of different shapes, or several types: pick a variant, then fill it.
    Choice,
    /// No usable type information, or a shape the form cannot show (maps, tuples): raw JSON.
    Any,
}

/// A schema node resolved and read for the form.
#[derive(Debug, Clone)]
struct Shape {
    kind: Kind,
    nullable: bool,
    title: Option<String>,
    description: Option<String>,
    default: Option<Value>,
    /// Enum values and their labels.
    values: Vec<Value>,
    value_labels: Vec<String>,
    /// Choice variants (resolved schemas) and their labels.
    variants: Vec<Value>,
    variant_labels: Vec<String>,
    /// Object properties in display order (required first) and which are required.
    properties: Vec<(String, Value)>,
    required: Vec<String>,
    items: Option<Value>,
    /// Constraints shown as a hint.
    constraints: Vec<String>,
}

impl Shape {
    fn any() -> Shape {
        Shape {
            kind: Kind::Any,
            nullable: false,
            title: None,
            description: None,
            default: None,
            values: Vec::new(),
            value_labels: Vec::new(),
            variants: Vec::new(),
            variant_labels: Vec::new(),
            properties: Vec::new(),
            required: Vec::new(),
            items: None,
            constraints: Vec::new(),
        }
    }
}

/// Follows local `$ref`s (`#`, `#/$defs/x`, `#/definitions/x`, any JSON pointer) and merges
/// `allOf` members and the keywords beside a `$ref` into one object. Remote references and
/// cycles end as `{}` (any value).
fn resolve(root: &Value, node: &Value) -> Value {
    resolve_hops(root, node, 0)
}

fn resolve_hops(root: &Value, node: &Value, hops: usize) -> Value {
    let Some(object) = node.as_object() else {
        // `true` / `false` schemas (and garbage) allow anything for the form's purposes.
        return Value::Object(Map::new());
    };
    if hops > MAX_REF_HOPS {
        return Value::Object(Map::new());
    }
    let mut merged = Map::new();
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        let target = reference.strip_prefix('#').and_then(|pointer| {
            if pointer.is_empty() {
                Some(root)
            } else {
                root.pointer(pointer)
            }
        });
        if let Some(target) = target
            && let Value::Object(resolved) = resolve_hops(root, target, hops + 1)
        {
            merged = resolved;
        }
    }
    for (key, value) in object {
        if key == "$ref" || key == "allOf" {
            continue;
        }
        merged.insert(key.clone(), value.clone());
    }
    if let Some(all_of) = object.get("allOf").and_then(Value::as_array) {
        for member in all_of {
            if let Value::Object(member) = resolve_hops(root, member, hops + 1) {
                merge_schema(&mut merged, member);
            }
        }
    }
    Value::Object(merged)
}

/// `allOf` merging for display: properties and required lists are unioned, other keywords
/// are taken when the target has none yet.
fn merge_schema(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (key, value) in from {
        match (key.as_str(), into.get_mut(&key)) {
            ("properties", Some(Value::Object(existing))) => {
                if let Value::Object(more) = value {
                    for (name, schema) in more {
                        existing.entry(name).or_insert(schema);
                    }
                }
            }
            ("required", Some(Value::Array(existing))) => {
                if let Value::Array(more) = value {
                    for name in more {
                        if !existing.contains(&name) {
                            existing.push(name);
                        }
                    }
                }
            }
            (_, Some(_)) => {}
            (_, None) => {
                into.insert(key, value);
            }
        }
    }
}

fn is_null_schema(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
        || schema.get("const").is_some_and(Value::is_null)
        || schema
            .get("enum")
            .and_then(Value::as_array)
            .is_some_and(|e| e.len() == 1 && e[0].is_null())
}

fn value_label(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn analyze(root: &Value, node: &Value) -> Shape {
    analyze_depth(root, node, 0)
}

fn analyze_depth(root: &Value, node: &Value, depth: usize) -> Shape {
    let schema = resolve(root, node);
    let mut shape = Shape::any();
    shape.title = schema
        .get("title")
        .and_then(Value::as_str)
        .map(str::to_owned);
    shape.description = schema
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned);
    shape.default = schema.get("default").cloned();
    shape.nullable = schema.get("nullable").and_then(Value::as_bool) == Some(true);
    shape.constraints = constraints(&schema);

    if let Some(constant) = schema.get("const") {
        shape.kind = Kind::Enum;
        shape.value_labels = vec![value_label(constant)];
        shape.values = vec![constant.clone()];
        return shape;
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        shape.kind = Kind::Enum;
        for value in values {
            if value.is_null() {
                shape.nullable = true;
            } else {
                shape.value_labels.push(value_label(value));
                shape.values.push(value.clone());
            }
        }
        return shape;
    }
    let alternatives = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array);
    if let Some(alternatives) = alternatives
        && depth < MAX_REF_HOPS
    {
        let mut variants = Vec::new();
        for alternative in alternatives {
            let resolved = resolve(root, alternative);
            if is_null_schema(&resolved) {
                shape.nullable = true;
            } else {
                variants.push(resolved);
            }
        }
        // `anyOf: [X, null]`: X, nullable, with the outer title/description/default.
        if variants.len() == 1 {
            let mut inner = analyze_depth(root, &variants[0], depth + 1);
            inner.nullable |= shape.nullable;
            inner.title = shape.title.or(inner.title);
            inner.description = shape.description.or(inner.description);
            inner.default = shape.default.or(inner.default);
            return inner;
        }
        // A choice among constants is an enum with the variants' titles as labels.
        let constants: Option<Vec<(Value, String)>> = variants
            .iter()
            .map(|v| {
                let constant = v.get("const").cloned().or_else(|| {
                    v.get("enum")
                        .and_then(Value::as_array)
                        .filter(|e| e.len() == 1)
                        .map(|e| e[0].clone())
                })?;
                let label = v
                    .get("title")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| value_label(&constant));
                Some((constant, label))
            })
            .collect();
        if let Some(constants) = constants.filter(|c| !c.is_empty()) {
            shape.kind = Kind::Enum;
            for (value, label) in constants {
                shape.values.push(value);
                shape.value_labels.push(label);
            }
            return shape;
        }
        if !variants.is_empty() {
            shape.kind = Kind::Choice;
            shape.variant_labels = variants
                .iter()
                .enumerate()
                .map(|(i, v)| variant_label(v, i))
                .collect();
            shape.variants = variants;
            return shape;
        }
    }
    let types: Vec<String> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let mut types: Vec<String> = types
        .into_iter()
        .filter(|t| {
            let null = t == "null";
            shape.nullable |= null;
            !null
        })
        .collect();
    if types.is_empty() && schema.get("type").is_some() && shape.nullable {
        shape.kind = Kind::Null;
        shape.nullable = false;
        return shape;
    }
    if types.len() > 1 {
        shape.kind = Kind::Choice;
        shape.variants = types
            .iter()
            .map(|t| {
                let mut v = schema.as_object().cloned().unwrap_or_default();
                v.insert("type".to_owned(), Value::String(t.clone()));
                Value::Object(v)
            })
            .collect();
        shape.variant_labels = types.clone();
        return shape;
    }
    if types.is_empty() {
        if schema.get("properties").is_some() {
            types.push("object".to_owned());
        } else if schema.get("items").is_some() {
            types.push("array".to_owned());
        }
    }
    shape.kind = match types.first().map(String::as_str) {
        Some("string") => Kind::String,
        Some("number") => Kind::Number,
        Some("integer") => Kind::Integer,
        Some("boolean") => Kind::Boolean,
        Some("object") => Kind::Object,
        Some("array") => Kind::Array,
        _ => Kind::Any,
    };
    if shape.kind == Kind::Object {
        let properties = schema.get("properties").and_then(Value::as_object);
        shape.required = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        match properties {
            Some(properties) => {
                let mut ordered: Vec<(String, Value)> = properties
                    .iter()
                    .map(|(name, schema)| (name.clone(), schema.clone()))
                    .collect();
                ordered.sort_by_key(|(name, _)| !shape.required.contains(name));
                shape.properties = ordered;
            }
            // A map (only `additionalProperties`): edited as JSON.
            None if schema
                .get("additionalProperties")
                .is_some_and(Value::is_object) =>
            {
                shape.kind = Kind::Any
            }
            None => {}
        }
    }
    if shape.kind == Kind::Array {
        match schema.get("items") {
            Some(items) if items.is_object() => shape.items = Some(items.clone()),
            // Tuples (`items: [..]`, `prefixItems`) are edited as JSON.
            _ => shape.kind = Kind::Any,
        }
        if schema.get("prefixItems").is_some() {
            shape.kind = Kind::Any;
        }
    }
    shape
}

fn variant_label(variant: &Value, index: usize) -> String {
    if let Some(title) = variant.get("title").and_then(Value::as_str) {
        return title.to_owned();
    }
    // A discriminator: the one property with a `const` value.
    if let Some(properties) = variant.get("properties").and_then(Value::as_object) {
        for (name, schema) in properties {
            if let Some(constant) = schema.get("const") {
                return format!("{name}: {}", value_label(constant));
            }
        }
        let mut names: Vec<&str> = properties.keys().map(String::as_str).take(3).collect();
        if !names.is_empty() {
            if properties.len() > 3 {
                names.push("...");
            }
            return format!("{{{}}}", names.join(", "));
        }
    }
    match variant.get("type") {
        Some(Value::String(t)) => t.clone(),
        _ => format!("option {}", index + 1),
    }
}

/// Constraints worth a hint: format, pattern, bounds, lengths, item counts.
fn constraints(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let get = |key: &str| schema.get(key).map(value_label);
    if let Some(format) = get("format") {
        out.push(format!("format {format}"));
    }
    if let Some(pattern) = get("pattern") {
        out.push(format!("pattern {pattern}"));
    }
    for (key, text) in [
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("minItems", "min items"),
        ("maxItems", "max items"),
        ("multipleOf", "multiple of"),
    ] {
        if let Some(value) = schema.get(key).filter(|v| v.is_number()) {
            out.push(format!("{text} {value}"));
        }
    }
    if schema.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
        out.push("unique items".to_owned());
    }
    out
}

/// A fresh value for a schema: its default; an object with its required members that have
/// one; an empty array; otherwise nothing (the field starts unset).
fn initial_value(root: &Value, node: &Value, depth: usize) -> Option<Value> {
    let shape = analyze(root, node);
    if let Some(default) = shape.default {
        return Some(default);
    }
    if depth > MAX_FORM_DEPTH {
        return None;
    }
    match shape.kind {
        Kind::Object => {
            let mut object = Map::new();
            for (name, schema) in &shape.properties {
                if shape.required.contains(name)
                    && let Some(value) = initial_value(root, schema, depth + 1)
                {
                    object.insert(name.clone(), value);
                }
            }
            Some(Value::Object(object))
        }
        Kind::Array => Some(Value::Array(Vec::new())),
        Kind::Enum if shape.values.len() == 1 => shape.values.first().cloned(),
        Kind::Null => Some(Value::Null),
        _ => None,
    }
}

/// A value to start a new array item or a chosen variant with (never nothing).
fn fresh_value(root: &Value, node: &Value) -> Value {
    if let Some(value) = initial_value(root, node, 0) {
        return value;
    }
    let shape = analyze(root, node);
    match shape.kind {
        Kind::String => Value::String(String::new()),
        Kind::Number | Kind::Integer => json!(0),
        Kind::Boolean => Value::Bool(false),
        Kind::Enum => shape.values.first().cloned().unwrap_or(Value::Null),
        Kind::Choice => shape
            .variants
            .first()
            .map(|v| fresh_value(root, v))
            .unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// Whether `value` could belong to `variant` (for picking the shown variant of a choice).
fn fits(root: &Value, variant: &Value, value: &Value) -> bool {
    let shape = analyze(root, variant);
    match (&shape.kind, value) {
        (_, Value::Null) => shape.nullable || shape.kind == Kind::Null,
        (Kind::String, Value::String(_))
        | (Kind::Boolean, Value::Bool(_))
        | (Kind::Array, Value::Array(_)) => true,
        (Kind::Number, Value::Number(_)) => true,
        (Kind::Integer, Value::Number(n)) => n.is_i64() || n.is_u64(),
        (Kind::Enum, v) => shape.values.contains(v),
        (Kind::Object, Value::Object(members)) => {
            // Every const discriminator matches, and every required member is there.
            shape.properties.iter().all(|(name, schema)| {
                let constant = resolve(root, schema).get("const").cloned();
                match (constant, members.get(name)) {
                    (Some(c), Some(v)) => c == *v,
                    (Some(_), None) => !shape.required.contains(name),
                    _ => true,
                }
            }) && shape.required.iter().all(|name| members.contains_key(name))
        }
        (Kind::Any | Kind::Choice, _) => true,
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// the form

/// How a row is edited.
#[derive(Debug, Clone, PartialEq)]
pub enum Widget {
    /// A string; `placeholder` shows the default or the format.
    Text {
        text: String,
        placeholder: String,
    },
    /// A number or integer, as typed (kept even while it does not parse).
    Number {
        text: String,
        integer: bool,
        placeholder: String,
    },
    Bool {
        value: bool,
    },
    /// One of a list of values; `selected: None` = unset.
    Enum {
        options: Vec<String>,
        selected: Option<usize>,
    },
    /// An array of enum values, as check boxes.
    MultiEnum {
        options: Vec<String>,
        selected: Vec<bool>,
    },
    /// `oneOf`/`anyOf`: which variant; its fields follow one level deeper.
    Choice {
        options: Vec<String>,
        selected: usize,
    },
    /// A nested object; its fields follow when `open`.
    Object {
        open: bool,
    },
    /// An array; its items follow.
    Array {
        len: usize,
    },
    /// Raw JSON for what the form cannot show as fields.
    Json {
        text: String,
    },
    /// The only value is `null`.
    Null,
}

/// One line of the form.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Where the value lives in the arguments (JSON pointer; `""` is the whole object).
    pub pointer: String,
    pub depth: usize,
    /// The property name (or `[i]` for an array item).
    pub label: String,
    pub title: Option<String>,
    /// The description, for a hint.
    pub hint: Option<String>,
    /// Format, pattern, bounds.
    pub constraints: Vec<String>,
    pub required: bool,
    /// The arguments hold a value here.
    pub present: bool,
    pub nullable: bool,
    pub is_null: bool,
    /// An array item (it can be removed).
    pub removable: bool,
    pub widget: Widget,
    /// Validation and parse errors for this value.
    pub errors: Vec<String>,
}

/// An edit of one row (by pointer).
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Text, Number and Json rows: the text as typed.
    Text(String),
    Bool(bool),
    /// Enum rows: an option, or unset.
    Select(Option<usize>),
    /// MultiEnum rows: one option on or off.
    Toggle(usize, bool),
    /// Choice rows: switch variant (the value restarts from the variant's initial value).
    Variant(usize),
    /// Object rows: add (`{}` and required defaults) or remove an optional object.
    Open(bool),
    /// Array rows: append an item.
    AddItem,
    /// Array item rows: remove this item.
    RemoveItem,
    /// Nullable rows: set to `null`, or back to a fresh value.
    SetNull(bool),
    /// Remove the value (optional fields).
    Unset,
}

/// A tool's arguments edited as a form generated from its input schema, validated after
/// every edit, with a raw JSON text kept in sync (edit either).
#[derive(Debug)]
pub struct SchemaForm {
    schema: Value,
    value: Value,
    /// Text of number and JSON fields as typed, by pointer.
    buffers: BTreeMap<String, String>,
    /// Why a typed text did not parse, by pointer.
    parse_errors: BTreeMap<String, String>,
    /// The variant shown for each choice, by pointer.
    variants: BTreeMap<String, usize>,
    checker: Checker,
    errors: Vec<FieldError>,
    raw_text: String,
    raw_error: Option<String>,
    revision: u64,
}

impl SchemaForm {
    /// A form for `schema` (a tool's input schema; `None`: anything, edited as JSON) starting
    /// from its initial value (defaults of required members).
    pub fn new(schema: Option<&Value>) -> SchemaForm {
        let schema = schema.cloned().unwrap_or_else(|| json!({"type": "object"}));
        let value = initial_value(&schema, &schema, 0)
            .filter(Value::is_object)
            .unwrap_or_else(|| Value::Object(Map::new()));
        let checker = Checker::new(&schema);
        let mut form = SchemaForm {
            schema,
            value,
            buffers: BTreeMap::new(),
            parse_errors: BTreeMap::new(),
            variants: BTreeMap::new(),
            checker,
            errors: Vec::new(),
            raw_text: String::new(),
            raw_error: None,
            revision: 0,
        };
        form.changed(true);
        form
    }

    /// A form for `schema` filled with `value` (history, templates).
    pub fn with_value(schema: Option<&Value>, value: Value) -> SchemaForm {
        let mut form = SchemaForm::new(schema);
        form.value = value;
        form.changed(true);
        form
    }

    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// The arguments as they stand.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Bumps on every change (views cache their rows on it).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Validation errors against the schema (not counting texts that did not parse).
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// The schema could not be compiled: nothing is validated (the form still works).
    pub fn schema_problem(&self) -> Option<&str> {
        self.checker.schema_problem()
    }

    /// Ready to send: valid against the schema, every typed text parsed, the raw JSON parsed.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty() && self.parse_errors.is_empty() && self.raw_error.is_none()
    }

    /// Every problem as one line (for a tooltip or the CLI).
    pub fn problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .parse_errors
            .iter()
            .map(|(pointer, message)| {
                format!(
                    "{}: {message}",
                    if pointer.is_empty() {
                        "(arguments)"
                    } else {
                        pointer
                    }
                )
            })
            .collect();
        if let Some(error) = &self.raw_error {
            out.push(format!("raw JSON: {error}"));
        }
        if !self.errors.is_empty() {
            out.push(describe_errors(&self.errors));
        }
        out
    }

    /// The arguments as pretty JSON (what the raw editor shows).
    pub fn raw_text(&self) -> &str {
        &self.raw_text
    }

    /// Why the raw JSON text does not parse (the form keeps the last good value meanwhile).
    pub fn raw_error(&self) -> Option<&str> {
        self.raw_error.as_deref()
    }

    /// The raw editor changed: a JSON object replaces the arguments; anything else is kept as
    /// typed and reported.
    pub fn set_raw(&mut self, text: String) {
        match serde_json::from_str::<Value>(&text) {
            Ok(value) if value.is_object() => {
                self.value = value;
                self.buffers.clear();
                self.parse_errors.clear();
                // Variants are read from the new value again.
                self.variants.clear();
                self.raw_text = text;
                self.raw_error = None;
                self.changed(false);
            }
            Ok(_) => {
                self.raw_text = text;
                self.raw_error = Some("tool arguments must be a JSON object".to_owned());
                self.revision += 1;
            }
            Err(error) => {
                self.raw_text = text;
                self.raw_error = Some(error.to_string());
                self.revision += 1;
            }
        }
    }

    /// Replaces the arguments (a template, a call from the history).
    pub fn set_value(&mut self, value: Value) {
        self.value = if value.is_object() {
            value
        } else {
            Value::Object(Map::new())
        };
        self.buffers.clear();
        self.parse_errors.clear();
        self.variants.clear();
        self.changed(true);
    }

    /// Errors that belong to no row (shown above the form).
    pub fn general_errors(&self) -> Vec<String> {
        let rows = self.rows();
        let mut out: Vec<String> = self
            .errors
            .iter()
            .filter(|e| !rows.iter().any(|r| r.pointer == e.pointer))
            .map(|e| {
                if e.pointer.is_empty() {
                    e.message.clone()
                } else {
                    format!("{}: {}", e.pointer, e.message)
                }
            })
            .collect();
        out.dedup();
        out
    }

    /// The rows to draw, depth first; the root object has no row of its own.
    pub fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        let root = analyze(&self.schema, &self.schema);
        if root.kind == Kind::Object {
            self.object_rows(&root, "", 0, &mut rows);
        } else {
            // Not an object schema (or no schema): edit the whole arguments as JSON.
            let mut row = self.row_for("", "arguments", &self.schema.clone(), true, 0);
            row.widget = Widget::Json {
                text: self.json_text(""),
            };
            rows.push(row);
        }
        rows
    }

    /// The row at `pointer`, if shown.
    pub fn row(&self, pointer: &str) -> Option<Row> {
        self.rows().into_iter().find(|r| r.pointer == pointer)
    }

    fn object_rows(&self, shape: &Shape, pointer: &str, depth: usize, rows: &mut Vec<Row>) {
        for (name, schema) in &shape.properties {
            let child = join_pointer(pointer, name);
            let required = shape.required.contains(name);
            self.field_rows(&child, name, schema, required, depth, false, rows);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn field_rows(
        &self,
        pointer: &str,
        label: &str,
        schema: &Value,
        required: bool,
        depth: usize,
        removable: bool,
        rows: &mut Vec<Row>,
    ) {
        let mut row = self.row_for(pointer, label, schema, required, depth);
        row.removable = removable;
        let shape = analyze(&self.schema, schema);
        let value = self.value.pointer(pointer);
        let too_deep = depth >= MAX_FORM_DEPTH;
        if row.is_null {
            rows.push(row);
            return;
        }
        match &row.widget {
            Widget::Object { open } if *open && !too_deep => {
                rows.push(row);
                self.object_rows(&shape, pointer, depth + 1, rows);
            }
            Widget::Array { len } if !too_deep => {
                let len = *len;
                rows.push(row);
                if let Some(items) = &shape.items {
                    for index in 0..len {
                        let item = join_pointer(pointer, &index.to_string());
                        self.field_rows(
                            &item,
                            &format!("[{index}]"),
                            items,
                            true,
                            depth + 1,
                            true,
                            rows,
                        );
                    }
                }
            }
            Widget::Choice { selected, .. } if !too_deep => {
                let selected = *selected;
                rows.push(row);
                if let Some(variant) = shape.variants.get(selected) {
                    let inner = analyze(&self.schema, variant);
                    if inner.kind == Kind::Object {
                        if value.is_some_and(Value::is_object) {
                            self.object_rows(&inner, pointer, depth + 1, rows);
                        }
                    } else {
                        self.field_rows(
                            pointer,
                            "value",
                            variant,
                            required,
                            depth + 1,
                            false,
                            rows,
                        );
                    }
                }
            }
            _ => rows.push(row),
        }
    }

    fn row_for(
        &self,
        pointer: &str,
        label: &str,
        schema: &Value,
        required: bool,
        depth: usize,
    ) -> Row {
        let shape = analyze(&self.schema, schema);
        let value = self.value.pointer(pointer);
        let present = value.is_some();
        let is_null = shape.nullable && value.is_some_and(Value::is_null);
        let default_hint = shape
            .default
            .as_ref()
            .map(|d| format!("default: {}", value_label(d)));
        let too_deep = depth >= MAX_FORM_DEPTH;
        let widget = match shape.kind {
            _ if too_deep => Widget::Json {
                text: self.json_text(pointer),
            },
            Kind::String => Widget::Text {
                text: value
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_default(),
                placeholder: default_hint.unwrap_or_default(),
            },
            Kind::Number | Kind::Integer => Widget::Number {
                text: self
                    .buffers
                    .get(pointer)
                    .cloned()
                    .or_else(|| value.filter(|v| v.is_number()).map(Value::to_string))
                    .unwrap_or_default(),
                integer: shape.kind == Kind::Integer,
                placeholder: default_hint.unwrap_or_default(),
            },
            Kind::Boolean => Widget::Bool {
                value: value
                    .and_then(Value::as_bool)
                    .or_else(|| shape.default.as_ref().and_then(Value::as_bool))
                    .unwrap_or(false),
            },
            Kind::Enum => Widget::Enum {
                selected: value.and_then(|v| shape.values.iter().position(|o| o == v)),
                options: shape.value_labels.clone(),
            },
            Kind::Null => Widget::Null,
            Kind::Object => Widget::Object {
                open: present || pointer.is_empty(),
            },
            Kind::Array => {
                let items = shape
                    .items
                    .as_ref()
                    .map(|items| analyze(&self.schema, items));
                let len = value.and_then(Value::as_array).map_or(0, Vec::len);
                match items {
                    Some(items) if items.kind == Kind::Enum && !items.values.is_empty() => {
                        Widget::MultiEnum {
                            selected: items
                                .values
                                .iter()
                                .map(|o| {
                                    value
                                        .and_then(Value::as_array)
                                        .is_some_and(|a| a.contains(o))
                                })
                                .collect(),
                            options: items.value_labels.clone(),
                        }
                    }
                    _ if len > MAX_ITEMS_AS_FIELDS => Widget::Json {
                        text: self.json_text(pointer),
                    },
                    _ => Widget::Array { len },
                }
            }
            Kind::Choice => Widget::Choice {
                options: shape.variant_labels.clone(),
                selected: self.selected_variant(pointer, &shape, value),
            },
            Kind::Any => Widget::Json {
                text: self.json_text(pointer),
            },
        };
        let mut errors: Vec<String> = self
            .parse_errors
            .get(pointer)
            .cloned()
            .into_iter()
            .collect();
        errors.extend(
            self.errors
                .iter()
                .filter(|e| e.pointer == pointer)
                .map(|e| e.message.clone()),
        );
        Row {
            pointer: pointer.to_owned(),
            depth,
            label: label.to_owned(),
            title: shape.title.clone(),
            hint: shape.description.clone(),
            constraints: shape.constraints.clone(),
            required,
            present,
            nullable: shape.nullable,
            is_null,
            removable: false,
            widget,
            errors,
        }
    }

    fn selected_variant(&self, pointer: &str, shape: &Shape, value: Option<&Value>) -> usize {
        if let Some(chosen) = self
            .variants
            .get(pointer)
            .filter(|i| **i < shape.variants.len())
        {
            return *chosen;
        }
        value
            .and_then(|v| {
                shape
                    .variants
                    .iter()
                    .position(|variant| fits(&self.schema, variant, v))
            })
            .unwrap_or(0)
    }

    fn json_text(&self, pointer: &str) -> String {
        if let Some(text) = self.buffers.get(pointer) {
            return text.clone();
        }
        self.value
            .pointer(pointer)
            .map(|v| v.to_string())
            .unwrap_or_default()
    }

    /// The schema node that describes the value at `pointer` (following the rows' logic).
    fn schema_at(&self, pointer: &str) -> Option<Value> {
        let mut schema = self.schema.clone();
        let mut here = String::new();
        for token in pointer.split('/').skip(1) {
            let name = token.replace("~1", "/").replace("~0", "~");
            let mut shape = analyze(&self.schema, &schema);
            // Step into the chosen variant of a choice first.
            while shape.kind == Kind::Choice {
                let value = self.value.pointer(&here);
                let index = self.selected_variant(&here, &shape, value);
                schema = shape.variants.get(index)?.clone();
                shape = analyze(&self.schema, &schema);
            }
            schema = match shape.kind {
                Kind::Object => shape.properties.iter().find(|(n, _)| *n == name)?.1.clone(),
                Kind::Array => shape.items.clone()?,
                _ => return None,
            };
            here = join_pointer(&here, &name);
        }
        Some(schema)
    }

    fn is_required(&self, pointer: &str) -> bool {
        let Some((parent, name)) = pointer.rsplit_once('/') else {
            return true;
        };
        let name = name.replace("~1", "/").replace("~0", "~");
        let Some(parent_schema) = self.schema_at(parent) else {
            return false;
        };
        let mut shape = analyze(&self.schema, &parent_schema);
        if shape.kind == Kind::Choice {
            let index = self.selected_variant(parent, &shape, self.value.pointer(parent));
            if let Some(variant) = shape.variants.get(index) {
                shape = analyze(&self.schema, variant);
            }
        }
        match shape.kind {
            Kind::Array => true,
            _ => shape.required.contains(&name),
        }
    }

    /// Applies one edit of the row at `pointer`.
    pub fn apply(&mut self, pointer: &str, edit: Edit) {
        let Some(schema) = self.schema_at(pointer) else {
            return;
        };
        let shape = analyze(&self.schema, &schema);
        let required = self.is_required(pointer);
        match edit {
            Edit::Text(text) => match shape.kind {
                Kind::String => {
                    if text.is_empty() && !required {
                        self.remove(pointer);
                    } else {
                        self.set(pointer, Value::String(text));
                    }
                }
                Kind::Number | Kind::Integer => {
                    let trimmed = text.trim().to_owned();
                    self.buffers.insert(pointer.to_owned(), text);
                    self.parse_errors.remove(pointer);
                    if trimmed.is_empty() {
                        self.remove(pointer);
                    } else {
                        match parse_number(&trimmed, shape.kind == Kind::Integer) {
                            Ok(number) => self.set(pointer, number),
                            Err(message) => {
                                self.parse_errors.insert(pointer.to_owned(), message);
                                self.remove(pointer);
                            }
                        }
                    }
                }
                _ => {
                    let trimmed = text.trim().to_owned();
                    self.buffers.insert(pointer.to_owned(), text);
                    self.parse_errors.remove(pointer);
                    if trimmed.is_empty() {
                        self.remove(pointer);
                    } else {
                        match serde_json::from_str::<Value>(&trimmed) {
                            Ok(value) if pointer.is_empty() && !value.is_object() => {
                                self.parse_errors.insert(
                                    String::new(),
                                    "tool arguments must be a JSON object".to_owned(),
                                );
                            }
                            Ok(value) => self.set(pointer, value),
                            Err(error) => {
                                self.parse_errors
                                    .insert(pointer.to_owned(), format!("not valid JSON: {error}"));
                            }
                        }
                    }
                }
            },
            Edit::Bool(on) => self.set(pointer, Value::Bool(on)),
            Edit::Select(None) => self.remove(pointer),
            Edit::Select(Some(index)) => {
                if let Some(value) = shape.values.get(index) {
                    self.set(pointer, value.clone());
                }
            }
            Edit::Toggle(index, on) => {
                let items = shape
                    .items
                    .as_ref()
                    .map(|items| analyze(&self.schema, items));
                let Some(option) = items.and_then(|items| items.values.get(index).cloned()) else {
                    return;
                };
                let mut list = self
                    .value
                    .pointer(pointer)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                list.retain(|v| *v != option);
                if on {
                    list.push(option);
                }
                if list.is_empty() && !required {
                    self.remove(pointer);
                } else {
                    self.set(pointer, Value::Array(list));
                }
            }
            Edit::Variant(index) => {
                if let Some(variant) = shape.variants.get(index) {
                    let fresh = fresh_value(&self.schema, variant);
                    self.variants.insert(pointer.to_owned(), index);
                    self.clear_buffers_under(pointer);
                    self.set(pointer, fresh);
                }
            }
            Edit::Open(true) => {
                let fresh = initial_value(&self.schema, &schema, 0)
                    .unwrap_or_else(|| Value::Object(Map::new()));
                self.set(pointer, fresh);
            }
            Edit::Open(false) | Edit::Unset => {
                self.clear_buffers_under(pointer);
                self.remove(pointer);
            }
            Edit::AddItem => {
                let Some(items) = &shape.items else { return };
                let item = fresh_value(&self.schema, items);
                let mut list = self
                    .value
                    .pointer(pointer)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                list.push(item);
                self.set(pointer, Value::Array(list));
            }
            Edit::RemoveItem => {
                let Some((parent, index)) = pointer.rsplit_once('/') else {
                    return;
                };
                let Ok(index) = index.parse::<usize>() else {
                    return;
                };
                if let Some(Value::Array(list)) = self.value.pointer_mut(parent)
                    && index < list.len()
                {
                    list.remove(index);
                    // Buffers of later items would now point at the wrong item.
                    self.clear_buffers_under(parent);
                    self.changed(true);
                }
            }
            Edit::SetNull(true) => {
                self.clear_buffers_under(pointer);
                self.set(pointer, Value::Null);
            }
            Edit::SetNull(false) => {
                let mut without_null = schema.clone();
                if let Some(o) = without_null.as_object_mut() {
                    o.remove("default");
                }
                let fresh = initial_value(&self.schema, &without_null, 0)
                    .filter(|v| !v.is_null())
                    .unwrap_or_else(|| fresh_value(&self.schema, &without_null));
                let fresh = if fresh.is_null() {
                    Value::String(String::new())
                } else {
                    fresh
                };
                self.set(pointer, fresh);
            }
        }
    }

    fn clear_buffers_under(&mut self, pointer: &str) {
        let prefix = format!("{pointer}/");
        self.buffers
            .retain(|p, _| p != pointer && !p.starts_with(&prefix));
        self.parse_errors
            .retain(|p, _| p != pointer && !p.starts_with(&prefix));
    }

    /// Sets the value at `pointer`, creating the objects on the way.
    fn set(&mut self, pointer: &str, value: Value) {
        if pointer.is_empty() {
            if value.is_object() {
                self.value = value;
            }
            self.changed(true);
            return;
        }
        let tokens: Vec<String> = pointer
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        let mut here = &mut self.value;
        for (i, token) in tokens.iter().enumerate() {
            let last = i + 1 == tokens.len();
            if !here.is_object() && !here.is_array() {
                *here = Value::Object(Map::new());
            }
            here = match here {
                Value::Array(list) => {
                    let Some(slot) = token.parse::<usize>().ok().and_then(|i| list.get_mut(i))
                    else {
                        return;
                    };
                    slot
                }
                Value::Object(map) => map.entry(token.clone()).or_insert_with(|| {
                    if last {
                        Value::Null
                    } else {
                        Value::Object(Map::new())
                    }
                }),
                _ => return,
            };
        }
        *here = value;
        self.changed(true);
    }

    fn remove(&mut self, pointer: &str) {
        let Some((parent, name)) = pointer.rsplit_once('/') else {
            return;
        };
        let name = name.replace("~1", "/").replace("~0", "~");
        if let Some(Value::Object(map)) = self.value.pointer_mut(parent) {
            map.remove(&name);
        }
        self.changed(true);
    }

    /// Re-validates; `from_form` also rewrites the raw JSON text.
    fn changed(&mut self, from_form: bool) {
        self.errors = self.checker.check(&self.value);
        if from_form {
            self.raw_text = serde_json::to_string_pretty(&self.value).unwrap_or_default();
            self.raw_error = None;
        }
        self.revision += 1;
    }
}

fn parse_number(text: &str, integer: bool) -> Result<Value, String> {
    if integer {
        if let Ok(n) = text.parse::<i64>() {
            return Ok(json!(n));
        }
        if let Ok(n) = text.parse::<u64>() {
            return Ok(json!(n));
        }
        return match text.parse::<f64>() {
            Ok(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(json!(f as i64)),
            _ => Err("not an integer".to_owned()),
        };
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => {
            if let Ok(n) = text.parse::<i64>() {
                return Ok(json!(n));
            }
            serde_json::Number::from_f64(f)
                .map(Value::Number)
                .ok_or_else(|| "not a number".to_owned())
        }
        _ => Err("not a number".to_owned()),
    }
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
