//! Reading a pipeline file: TOML with spans, `--set` overrides, `${VAR}` interpolation in
//! strings, typed sections, then the checks in `validate.rs`. Every error is collected and
//! located.

use std::collections::HashMap;
use std::path::Path;

use indexmap::IndexMap;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::interpolate;
use super::model::*;
use super::validate::{check_graph, check_id};
use crate::langsmith::ApiChoice;
use crate::located::{Checks, typed};
use crate::located::{ConfigError, ConfigErrors, Locator};

type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Loads and validates a pipeline file with the process environment.
pub fn load(path: &Path) -> Result<Pipeline, ConfigErrors> {
    load_with(path, &[])
}

/// Loads a pipeline with `--set key=value` overrides (`source.project=x`,
/// `stages.tool_runs.since=7d`); values are TOML (`true`, `5`, `["a"]`) or else plain strings.
pub fn load_with(path: &Path, overrides: &[(String, String)]) -> Result<Pipeline, ConfigErrors> {
    let src = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read the pipeline file: {e}"),
        }])
    })?;
    parse_with(path, &src, &|k| std::env::var(k).ok(), overrides)
}

/// Parses pipeline text (named `file` in errors) with an environment lookup.
pub fn parse(file: &Path, src: &str, env: Env) -> Result<Pipeline, ConfigErrors> {
    parse_with(file, src, env, &[])
}

/// Sets `path` (dotted) in the document to `value`, creating tables on the way.
fn apply_override<'i>(doc: &mut DeTable<'i>, path: &'i str, value: &'i str) -> Result<(), String> {
    let parsed = match DeValue::parse(value) {
        Ok(v) if !matches!(v.get_ref(), DeValue::Table(_)) => v.into_inner(),
        _ => DeValue::String(std::borrow::Cow::Borrowed(value)),
    };
    let parts: Vec<&'i str> = path.split('.').collect();
    let mut table = doc;
    for (i, part) in parts.iter().enumerate() {
        let key = Spanned::new(0..0, toml::de::DeString::Borrowed(part));
        if i + 1 == parts.len() {
            table.insert(key, Spanned::new(0..0, parsed));
            return Ok(());
        }
        let entry = table
            .entry(key)
            .or_insert_with(|| Spanned::new(0..0, DeValue::Table(DeTable::new())));
        table = match entry.get_mut() {
            DeValue::Table(t) => t,
            _ => return Err(format!("--set {path}: {part} is not a table")),
        };
    }
    Err(format!("--set {path}: empty key"))
}

pub fn parse_with<'a>(
    file: &Path,
    src: &'a str,
    env: Env,
    overrides: &'a [(String, String)],
) -> Result<Pipeline, ConfigErrors> {
    let loc = Locator { file, src };
    let mut errors = Vec::new();
    let doc = read_document(&loc, env, overrides, &mut errors)?;
    let mut top = TopLevel::read(&doc, file, &loc, &mut errors);
    let mut spans: HashMap<String, usize> = HashMap::new();
    let mut input_spans: HashMap<String, Vec<(String, usize)>> = HashMap::new();
    let stages = read_stages(&top.stages, &loc, &mut spans, &mut input_spans, &mut errors);
    let sinks = read_sinks(&top.sinks, &loc, &spans, &mut input_spans, &mut errors);
    if top.sinks.is_empty() {
        errors.push(loc.at(
            src.len(),
            "sinks",
            "no sinks: add e.g. [sinks.out] with type = \"parquet\" and inputs = [\"<stage>\"]",
        ));
    }
    check_graph(&stages, &sinks, &input_spans, &spans, &loc, &mut errors);
    if errors.is_empty() {
        top.source = with_defaults(top.source, &mut errors, env);
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| (e.line, e.column));
        errors.dedup();
        return Err(ConfigErrors(errors));
    }
    Ok(Pipeline {
        name: top.name,
        description: top.description,
        file: file.to_path_buf(),
        source: top.source,
        load: top.load,
        stages,
        sinks,
        hash: sha256_hex(src.as_bytes()),
    })
}

/// The TOML document with `--set` overrides applied and `${VAR}` interpolated; malformed TOML
/// is the one error that stops everything at once.
fn read_document<'a>(
    loc: &Locator<'a>,
    env: Env,
    overrides: &'a [(String, String)],
    errors: &mut Vec<ConfigError>,
) -> Result<DeTable<'a>, ConfigErrors> {
    let mut doc = match DeTable::parse(loc.src) {
        Ok(doc) => doc,
        Err(e) => {
            let offset = e.span().map_or(0, |s| s.start);
            return Err(ConfigErrors(vec![loc.at(
                offset,
                "",
                format!("malformed TOML: {}", e.message().trim()),
            )]));
        }
    };
    for (key, value) in overrides {
        if let Err(e) = apply_override(doc.get_mut(), key, value) {
            errors.push(loc.at(0, key.as_str(), e));
        }
    }
    interpolate_table(doc.get_mut(), "", loc, env, errors);
    Ok(doc.into_inner())
}

/// A component's table: its id, where the id stands, and the table.
type Component<'d, 'a> = (String, usize, &'d Spanned<DeValue<'a>>);

/// The top-level keys of a pipeline file, the components still as tables.
struct TopLevel<'d, 'a> {
    name: String,
    description: Option<String>,
    source: SourceConfig,
    load: LoadConfig,
    stages: Vec<Component<'d, 'a>>,
    sinks: Vec<Component<'d, 'a>>,
}

impl<'d, 'a> TopLevel<'d, 'a> {
    fn read(
        doc: &'d DeTable<'a>,
        file: &Path,
        loc: &Locator,
        errors: &mut Vec<ConfigError>,
    ) -> TopLevel<'d, 'a> {
        let mut top = TopLevel {
            name: file
                .file_stem()
                .map_or("pipeline".into(), |s| s.to_string_lossy().into_owned()),
            description: None,
            source: SourceConfig::default(),
            load: LoadConfig::default(),
            stages: vec![],
            sinks: vec![],
        };
        for (key, value) in doc.iter() {
            let span = value.span();
            match key.get_ref().as_ref() {
                "name" => match value.get_ref() {
                    DeValue::String(s) => top.name = s.to_string(),
                    _ => errors.push(loc.at(span.start, "name", "expected a string")),
                },
                "description" => match value.get_ref() {
                    DeValue::String(s) => top.description = Some(s.to_string()),
                    _ => errors.push(loc.at(span.start, "description", "expected a string")),
                },
                "source" => {
                    if let Some(s) = typed::<SourceConfig>(value, "source", loc, errors) {
                        top.source = s;
                    }
                }
                "load" => {
                    if let Some(l) = typed::<LoadConfig>(value, "load", loc, errors) {
                        top.load = l;
                    }
                }
                "stages" | "sinks" => match value.get_ref() {
                    DeValue::Table(t) => {
                        for (id, v) in t.iter() {
                            let target = if key.get_ref() == "stages" {
                                &mut top.stages
                            } else {
                                &mut top.sinks
                            };
                            target.push((id.get_ref().to_string(), id.span().start, v));
                        }
                    }
                    _ => errors.push(loc.at(
                        span.start,
                        key.get_ref().as_ref(),
                        "expected a table of named components",
                    )),
                },
                other => errors.push(loc.at(
                    key.span().start,
                    other,
                    format!(
                        "unknown key{}; a pipeline file has name, description, [source], [load], [stages.<id>] and [sinks.<id>]",
                        crate::located::closest(other, super::keys::TOP_LEVEL_KEYS.iter().copied())
                            .map(|k| format!(" (did you mean {k:?}?)"))
                            .unwrap_or_default()
                    ),
                )),
            }
        }
        top
    }
}

/// Each `[stages.<id>]` read and resolved by its kind; records where ids and inputs stand.
fn read_stages(
    tables: &[Component],
    loc: &Locator,
    spans: &mut HashMap<String, usize>,
    input_spans: &mut HashMap<String, Vec<(String, usize)>>,
    errors: &mut Vec<ConfigError>,
) -> IndexMap<String, Stage> {
    let mut stages = IndexMap::new();
    for (id, at, value) in tables {
        let key = format!("stages.{id}");
        check_id(id, *at, &key, loc, errors);
        spans.insert(id.clone(), *at);
        input_spans.insert(id.clone(), inputs_with_spans(value));
        let Some(kind) = stage_type(value, &key, STAGE_TYPES, loc, errors) else {
            continue;
        };
        let mut checks = Checks {
            value,
            key,
            loc,
            errors,
        };
        if let Some(Some(stage)) = Stage::resolve(&kind, &mut checks) {
            stages.insert(id.clone(), stage);
        }
    }
    stages
}

/// Each `[sinks.<id>]` read and checked.
fn read_sinks(
    tables: &[Component],
    loc: &Locator,
    stage_spans: &HashMap<String, usize>,
    input_spans: &mut HashMap<String, Vec<(String, usize)>>,
    errors: &mut Vec<ConfigError>,
) -> IndexMap<String, SinkConfig> {
    let mut sinks = IndexMap::new();
    for (id, at, value) in tables {
        let key = format!("sinks.{id}");
        check_id(id, *at, &key, loc, errors);
        if stage_spans.contains_key(id) {
            errors.push(loc.at(
                *at,
                &key,
                format!("{id:?} names both a stage and a sink; ids must be unique"),
            ));
        }
        input_spans.insert(id.clone(), inputs_with_spans(value));
        if stage_type(value, &key, SINK_TYPES, loc, errors).is_none() {
            continue;
        }
        if let Some(sink) = typed::<SinkConfig>(value, &key, loc, errors) {
            sink.check(&mut Checks {
                value,
                key: key.clone(),
                loc,
                errors,
            });
            sinks.insert(id.clone(), sink);
        }
    }
    sinks
}

fn stage_type(
    value: &Spanned<DeValue>,
    key: &str,
    allowed: &[&str],
    loc: &Locator,
    errors: &mut Vec<ConfigError>,
) -> Option<String> {
    let DeValue::Table(table) = value.get_ref() else {
        errors.push(loc.at(value.span().start, key, "expected a table"));
        return None;
    };
    match table.iter().find(|(k, _)| k.get_ref() == "type") {
        None => {
            errors.push(loc.at(
                value.span().start,
                key,
                format!("missing type; expected one of {}", allowed.join(", ")),
            ));
            None
        }
        Some((_, v)) => match v.get_ref() {
            DeValue::String(s) if allowed.contains(&s.as_ref()) => Some(s.to_string()),
            DeValue::String(s) => {
                errors.push(loc.at(
                    v.span().start,
                    format!("{key}.type"),
                    format!("unknown type {s:?}; expected one of {}", allowed.join(", ")),
                ));
                None
            }
            _ => {
                errors.push(loc.at(v.span().start, format!("{key}.type"), "expected a string"));
                None
            }
        },
    }
}

fn inputs_with_spans(value: &Spanned<DeValue>) -> Vec<(String, usize)> {
    let DeValue::Table(t) = value.get_ref() else {
        return vec![];
    };
    let Some((_, inputs)) = t.iter().find(|(k, _)| k.get_ref() == "inputs") else {
        return vec![];
    };
    match inputs.get_ref() {
        DeValue::Array(items) => items
            .iter()
            .filter_map(|i| match i.get_ref() {
                DeValue::String(s) => Some((s.to_string(), i.span().start)),
                _ => None,
            })
            .collect(),
        _ => vec![],
    }
}

fn interpolate_table(
    table: &mut DeTable,
    prefix: &str,
    loc: &Locator,
    env: Env,
    errors: &mut Vec<ConfigError>,
) {
    for (key, value) in table.iter_mut() {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        interpolate_value(value, &path, loc, env, errors);
    }
}

fn interpolate_value(
    value: &mut Spanned<DeValue>,
    path: &str,
    loc: &Locator,
    env: Env,
    errors: &mut Vec<ConfigError>,
) {
    let start = value.span().start;
    match value.get_mut() {
        DeValue::String(s) => match interpolate::expand(s, env) {
            Ok(Some(expanded)) => *s = std::borrow::Cow::Owned(expanded),
            Ok(None) => {}
            Err(e) => errors.push(loc.at(start, path, e)),
        },
        DeValue::Table(t) => interpolate_table(t, path, loc, env, errors),
        DeValue::Array(items) => {
            for item in items.iter_mut() {
                interpolate_value(item, path, loc, env, errors);
            }
        }
        _ => {}
    }
}

/// Fills unset `[source]` settings from the shared defaults file: `$RUNLAKE_DEFAULTS`, else
/// `config/defaults.toml` in the working directory, when present.
fn with_defaults(
    mut source: SourceConfig,
    errors: &mut Vec<ConfigError>,
    env: Env,
) -> SourceConfig {
    let path = match env("RUNLAKE_DEFAULTS") {
        Some(p) => std::path::PathBuf::from(p),
        None => std::path::PathBuf::from("config/defaults.toml"),
    };
    let Ok(src) = std::fs::read_to_string(&path) else {
        return source;
    };
    let defaults = match parse_defaults(&path, &src, env) {
        Ok(d) => d,
        Err(mut e) => {
            errors.append(&mut e.0);
            return source;
        }
    };
    macro_rules! fill {
        ($($f:ident),*) => { $( if source.$f.is_none() { source.$f = defaults.$f.clone(); } )* };
    }
    fill!(
        endpoint,
        api_key,
        workspace_id,
        project,
        split_windows,
        fetch_offloaded,
        max_in_flight,
        max_attempts,
        timeout_secs,
        pacing,
        rate_window,
        v1_requests_per_10s,
        v1_long_requests_per_10s,
        v1_search_requests_per_10s,
        v1_search_long_requests_per_10s,
        v1_key_requests_per_10s,
        v2_requests_per_10s,
        other_requests_per_10s
    );
    if source.api == ApiChoice::default() {
        source.api = defaults.api;
    }
    source
}

fn parse_defaults(path: &Path, src: &str, env: Env) -> Result<SourceConfig, ConfigErrors> {
    let loc = Locator { file: path, src };
    let mut errors = Vec::new();
    let mut doc = DeTable::parse(src).map_err(|e| {
        ConfigErrors(vec![loc.at(
            e.span().map_or(0, |s| s.start),
            "",
            format!("malformed TOML: {}", e.message().trim()),
        )])
    })?;
    interpolate_table(doc.get_mut(), "", &loc, env, &mut errors);
    let mut source = SourceConfig::default();
    for (key, value) in doc.get_ref().iter() {
        match key.get_ref().as_ref() {
            "source" => {
                if let Some(s) = typed::<SourceConfig>(value, "source", &loc, &mut errors) {
                    source = s;
                }
            }
            other => errors.push(loc.at(
                key.span().start,
                other,
                "unknown key; the defaults file holds a [source] table",
            )),
        }
    }
    if errors.is_empty() {
        Ok(source)
    } else {
        Err(ConfigErrors(errors))
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
