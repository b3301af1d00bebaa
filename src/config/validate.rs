//! Checks on a parsed pipeline that serde cannot make: ids, stage and sink options, filter
//! strings, and the graph (inputs exist, kinds fit, no cycles). Each check adds located errors
//! to the list and goes on, so one run reports every problem.

use std::collections::HashMap;

use indexmap::IndexMap;

use super::model::*;
use crate::located::{ConfigError, Locator};

pub(super) fn check_id(
    id: &str,
    at: usize,
    key: &str,
    loc: &Locator,
    errors: &mut Vec<ConfigError>,
) {
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        errors.push(loc.at(
            at,
            key,
            format!("component id {id:?} may only use letters, digits, '_' and '-'"),
        ));
    }
}

pub(super) fn check_graph(
    stages: &IndexMap<String, Stage>,
    sinks: &IndexMap<String, SinkConfig>,
    input_spans: &HashMap<String, Vec<(String, usize)>>,
    spans: &HashMap<String, usize>,
    loc: &Locator,
    errors: &mut Vec<ConfigError>,
) {
    // Declared stages, including those whose table had errors (reported already): an input
    // naming one of them is not reported again.
    let mut known: Vec<&str> = spans.keys().map(String::as_str).collect();
    known.sort_by_key(|id| spans[*id]);
    // (consumer kind, whether it accepts a flow, consumer id, producer id)
    type Accepts<'a> = Box<dyn Fn(Flow) -> bool + 'a>;
    let mut edges: Vec<(&str, Accepts, &str, &str)> = Vec::new();
    for (id, stage) in stages {
        if stage.inputs().is_empty() && !stage.is_source() {
            errors.push(loc.at(
                spans[id],
                format!("stages.{id}.inputs"),
                "a stage of this type needs inputs",
            ));
        }
        for input in stage.inputs() {
            edges.push((stage.kind(), Box::new(|f| stage.accepts(f)), id, input));
        }
    }
    for (id, sink) in sinks {
        if sink.inputs.is_empty() {
            errors.push(
                loc.at(
                    input_spans
                        .get(id)
                        .and_then(|v| v.first())
                        .map_or(0, |v| v.1),
                    format!("sinks.{id}.inputs"),
                    "a sink needs inputs",
                ),
            );
        }
        for input in &sink.inputs {
            let kind = sink.kind;
            edges.push((kind.name(), Box::new(move |f| kind.accepts(f)), id, input));
        }
    }
    for (kind, accepts, id, input) in &edges {
        let at = input_spans
            .get(*id)
            .and_then(|v| v.iter().find(|(n, _)| n == input))
            .map_or(0, |v| v.1);
        let key = if stages.contains_key(*id) {
            format!("stages.{id}.inputs")
        } else {
            format!("sinks.{id}.inputs")
        };
        match stages.get(*input) {
            None if sinks.contains_key(*input) => errors.push(loc.at(
                at,
                key,
                format!("{input:?} is a sink; sinks cannot feed other components"),
            )),
            None if known.contains(input) => {} // its own errors say why
            None => errors.push(loc.at(
                at,
                key,
                format!(
                    "unknown input {input:?}{}; an input must be a stage of this file: {}",
                    crate::located::closest(input, known.iter().copied())
                        .map(|k| format!(" (did you mean {k:?}?)"))
                        .unwrap_or_default(),
                    if known.is_empty() {
                        "none defined yet (add a [stages.<id>] table)".into()
                    } else {
                        known.join(", ")
                    }
                ),
            )),
            Some(producer) => {
                let flow = producer.produces();
                if !accepts(flow) {
                    let what = flow.name();
                    errors.push(loc.at(
                        at,
                        key,
                        format!(
                            "{input:?} ({}) produces {what}, which a {kind} cannot take",
                            producer.kind()
                        ),
                    ));
                }
            }
        }
    }
    // Cycles: depth-first search over stage inputs.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut marks: HashMap<&str, Mark> = stages.keys().map(|k| (k.as_str(), Mark::New)).collect();
    fn visit<'a>(
        id: &'a str,
        stages: &'a IndexMap<String, Stage>,
        marks: &mut HashMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match marks.get(id) {
            Some(Mark::Done) | None => return None,
            Some(Mark::Active) => {
                let start = path.iter().position(|p| *p == id).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(id.to_string());
                return Some(cycle);
            }
            Some(Mark::New) => {}
        }
        marks.insert(id, Mark::Active);
        path.push(id);
        for input in stages[id].inputs() {
            if let Some(c) = visit(input.as_str(), stages, marks, path) {
                return Some(c);
            }
        }
        path.pop();
        marks.insert(id, Mark::Done);
        None
    }
    for id in stages.keys() {
        let mut path = Vec::new();
        if let Some(cycle) = visit(id, stages, &mut marks, &mut path) {
            let first = &cycle[0];
            errors.push(loc.at(
                spans[first],
                format!("stages.{first}"),
                format!(
                    "cycle: {}; a stage cannot consume its own output, remove one of these inputs",
                    cycle.join(" → ")
                ),
            ));
            break;
        }
    }
}
