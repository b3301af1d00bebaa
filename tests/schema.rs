//! `runlake schema` stays honest: each table of the JSON Schema allows exactly the keys the
//! loader accepts, every shipped pipeline validates against it, and broken files do not.

use std::collections::BTreeSet;
use std::path::Path;

use runlake::config::{self, SINK_TYPES, STAGE_TYPES, keys};
use serde_json::Value;

fn schema() -> Value {
    config::schema::pipeline_schema()
}

fn set<'a>(names: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    names.into_iter().map(str::to_string).collect()
}

/// The property names a schema object allows (it must forbid others).
fn allowed(table: &Value) -> BTreeSet<String> {
    assert_eq!(
        table["additionalProperties"],
        Value::Bool(false),
        "closed table: {table}"
    );
    table["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .cloned()
        .collect()
}

#[test]
fn every_table_allows_exactly_the_keys_the_loader_accepts() {
    let s = schema();
    let defs = &s["$defs"];
    assert_eq!(allowed(&s), set(keys::TOP_LEVEL_KEYS.iter().copied()));
    assert_eq!(
        allowed(&defs["source"]),
        set(keys::source_keys().iter().copied())
    );
    assert_eq!(
        allowed(&s["properties"]["load"]),
        set(keys::load_keys().iter().copied())
    );
    for kind in STAGE_TYPES {
        let table = &defs[*kind];
        assert_eq!(
            allowed(table),
            set(keys::stage_keys(kind).unwrap().iter().copied()),
            "stage {kind}"
        );
        assert_eq!(table["properties"]["type"]["const"], *kind);
    }
    let variants: Vec<&str> = defs["stage"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["$ref"].as_str().unwrap().trim_start_matches("#/$defs/"))
        .collect();
    assert_eq!(variants, STAGE_TYPES);
    assert_eq!(
        allowed(&defs["sink"]),
        set(keys::sink_keys().iter().copied())
    );
    assert_eq!(
        defs["sink"]["properties"]["type"]["enum"],
        serde_json::json!(SINK_TYPES)
    );
    assert_eq!(
        allowed(&defs["aggregate"]),
        set(keys::aggregate_keys().iter().copied())
    );
    assert_eq!(
        allowed(&defs["column"]),
        set(keys::column_keys().iter().copied())
    );
    assert_eq!(
        allowed(&defs["expand"]),
        set(keys::expand_keys().iter().copied())
    );
}

#[test]
fn the_key_lists_are_the_loaders() {
    // Every listed key of every table is accepted by the loader, and a key outside the lists
    // is refused: the lists are not a second copy that could drift.
    let base = |stage: &str| {
        format!(
            "[source]\nproject = \"p\"\n\n[stages.q]\ntype = \"query_runs\"\n\n{stage}\n\n\
             [sinks.out]\ntype = \"parquet\"\ninputs = [\"q\"]\n"
        )
    };
    let env = |_: &str| None;
    let ok = |src: &str| config::parse(Path::new("p.toml"), src, &env);
    assert!(ok(&base("")).is_ok());
    for key in keys::TOP_LEVEL_KEYS {
        let src = base("");
        let src = if ["name", "description"].contains(key) {
            format!("{key} = \"x\"\n{src}")
        } else {
            src.clone()
        };
        assert!(ok(&src).is_ok(), "{key}");
    }
    let e = ok(&format!("nmae = \"x\"\n{}", base("")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown key (did you mean \"name\"?)"), "{e}");

    for key in keys::source_keys() {
        let e = ok(&base("").replace("project = \"p\"", &format!("{key} = []")));
        let text = e.map(|_| String::new()).unwrap_or_else(|e| e.to_string());
        assert!(
            !text.contains("unknown field"),
            "source.{key} accepted: {text}"
        );
    }
    let e = ok(&base("").replace("project = \"p\"", "projetc = \"p\"")).unwrap_err();
    assert!(
        e.to_string()
            .contains("unknown field \"projetc\" (did you mean \"project\"?)"),
        "{e}"
    );

    for kind in STAGE_TYPES {
        for key in keys::stage_keys(kind).unwrap() {
            let stage = format!("[stages.s]\ntype = \"{kind}\"\n{key} = []");
            let text = ok(&base(&stage))
                .map(|_| String::new())
                .unwrap_or_else(|e| e.to_string());
            assert!(
                *key == "type" || !text.contains("unknown field"),
                "stages.s.{key} ({kind}) accepted: {text}"
            );
        }
        let stage = format!("[stages.s]\ntype = \"{kind}\"\nbogus_key = 1");
        let text = ok(&base(&stage)).unwrap_err().to_string();
        assert!(text.contains("stages.s.bogus_key: unknown field"), "{text}");
    }
}

/// A validator for the subset of JSON Schema 2020-12 that `pipeline_schema` emits; any other
/// keyword fails the test, so the schema cannot silently outgrow this checker.
struct Checker<'a> {
    root: &'a Value,
}

impl Checker<'_> {
    fn check(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let Some(obj) = schema.as_object() else {
            panic!("schema at {at} is not an object: {schema}");
        };
        for (keyword, arg) in obj {
            match keyword.as_str() {
                "$schema" | "$defs" | "title" | "description" => {}
                "$ref" => {
                    let name = arg
                        .as_str()
                        .unwrap()
                        .strip_prefix("#/$defs/")
                        .expect("local ref");
                    let target = &self.root["$defs"][name];
                    assert!(!target.is_null(), "dangling $ref {name}");
                    self.check(target, value, at, errors);
                }
                "type" => {
                    let ok = match arg.as_str().unwrap() {
                        "object" => value.is_object(),
                        "array" => value.is_array(),
                        "string" => value.is_string(),
                        "boolean" => value.is_boolean(),
                        "integer" => value.is_i64() || value.is_u64(),
                        "number" => value.is_number(),
                        other => panic!("type {other}"),
                    };
                    if !ok {
                        errors.push(format!("{at}: expected {arg}, got {value}"));
                    }
                }
                "const" if value != arg => errors.push(format!("{at}: expected {arg}")),
                "const" => {}
                "enum" => {
                    if !arg.as_array().unwrap().contains(value) {
                        errors.push(format!("{at}: {value} is not one of {arg}"));
                    }
                }
                // The schema's only patterns are durations, `^[0-9]+(s|m|…)$`: matched by hand,
                // and any other shape fails the test until the checker learns it.
                "pattern" => {
                    let pattern = arg.as_str().unwrap();
                    let units = pattern
                        .strip_prefix("^[0-9]+(")
                        .and_then(|p| p.strip_suffix(")$"))
                        .unwrap_or_else(|| panic!("unsupported pattern {pattern}"));
                    if let Some(text) = value.as_str() {
                        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
                        let unit = &text[digits..];
                        if digits == 0 || !units.split('|').any(|u| u == unit) {
                            errors.push(format!("{at}: {text:?} does not match {pattern}"));
                        }
                    }
                }
                "minimum" | "maximum" => {
                    if let Some(v) = value.as_f64() {
                        let bound = arg.as_f64().unwrap();
                        if (keyword == "minimum" && v < bound)
                            || (keyword == "maximum" && v > bound)
                        {
                            errors.push(format!("{at}: {v} is out of range ({keyword} {bound})"));
                        }
                    }
                }
                "minItems" => {
                    if let Some(items) = value.as_array()
                        && (items.len() as u64) < arg.as_u64().unwrap()
                    {
                        errors.push(format!("{at}: too few items"));
                    }
                }
                "minProperties" => {
                    if let Some(map) = value.as_object()
                        && (map.len() as u64) < arg.as_u64().unwrap()
                    {
                        errors.push(format!("{at}: too few entries"));
                    }
                }
                "items" => {
                    for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                        self.check(arg, item, &format!("{at}[{i}]"), errors);
                    }
                }
                "required" => {
                    if let Some(map) = value.as_object() {
                        for key in arg.as_array().unwrap() {
                            if !map.contains_key(key.as_str().unwrap()) {
                                errors.push(format!("{at}: missing {key}"));
                            }
                        }
                    }
                }
                "properties" => {
                    let props = arg.as_object().unwrap();
                    for (key, v) in value.as_object().into_iter().flatten() {
                        if let Some(sub) = props.get(key) {
                            self.check(sub, v, &format!("{at}.{key}"), errors);
                        }
                    }
                }
                "additionalProperties" => {
                    let props = obj.get("properties").and_then(Value::as_object);
                    for (key, v) in value.as_object().into_iter().flatten() {
                        if props.is_some_and(|p| p.contains_key(key)) {
                            continue;
                        }
                        match arg {
                            Value::Bool(false) => errors.push(format!("{at}: unknown key {key}")),
                            Value::Bool(true) => {}
                            sub => self.check(sub, v, &format!("{at}.{key}"), errors),
                        }
                    }
                }
                "oneOf" => {
                    let passing = arg
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|sub| {
                            let mut e = Vec::new();
                            self.check(sub, value, at, &mut e);
                            e.is_empty()
                        })
                        .count();
                    if passing != 1 {
                        errors.push(format!(
                            "{at}: {passing} of oneOf match, expected exactly 1"
                        ));
                    }
                }
                other => panic!("the checker does not know the keyword {other:?} (at {at})"),
            }
        }
    }

    fn errors(&self, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(self.root, value, "$", &mut errors);
        errors
    }
}

fn toml_json(src: &str) -> Value {
    toml::from_str(src).expect("TOML")
}

#[test]
fn shipped_pipelines_validate_against_the_schema() {
    let s = schema();
    let checker = Checker { root: &s };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let doc = toml_json(&std::fs::read_to_string(&path).unwrap());
        let errors = checker.errors(&doc);
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        seen += 1;
    }
    assert!(seen >= 5, "all shipped pipelines checked");
}

#[test]
fn broken_pipelines_fail_the_schema() {
    let s = schema();
    let checker = Checker { root: &s };
    let good = r#"
[source]
project = "p"
api = "v1"

[stages.q]
type = "query_runs"
run_type = "tool"

[stages.g]
type = "group_by_trace"
inputs = ["q"]
aggregate.tools = { distinct = "name" }

[stages.f]
type = "flatten"
inputs = ["g"]
columns = [{ name = "id", from = "id" }]
expand = [{ from = "feedback_stats", stat = "avg" }]

[sinks.out]
type = "parquet"
inputs = ["f"]
compression = "zstd"
"#;
    assert_eq!(checker.errors(&toml_json(good)), Vec::<String>::new());
    for (from, to, expect) in [
        ("api = \"v1\"", "api = \"v3\"", "$.source.api"),
        ("run_type = \"tool\"", "run_typ = \"tool\"", "oneOf"),
        ("run_type = \"tool\"", "run_type = \"tools\"", "oneOf"),
        ("type = \"group_by_trace\"", "type = \"group\"", "oneOf"),
        (
            "{ distinct = \"name\" }",
            "{ distinct = \"name\", count = true }",
            "oneOf",
        ),
        ("stat = \"avg\"", "stat = \"mean\"", "oneOf"),
        (
            "compression = \"zstd\"",
            "compression = \"lz4\"",
            "$.sinks.out.compression",
        ),
        (
            "inputs = [\"f\"]",
            "inputs = []",
            "$.sinks.out.inputs: too few items",
        ),
        ("[source]", "[sauce]", "unknown key sauce"),
    ] {
        let src = good.replace(from, to);
        assert_ne!(src, good);
        let errors = checker.errors(&toml_json(&src));
        assert!(
            errors.iter().any(|e| e.contains(expect)),
            "{to:?} should fail with {expect:?}: {errors:#?}"
        );
    }
}

#[test]
fn the_command_prints_the_schema() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_runlake"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, schema());
    assert_eq!(
        printed["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
}
