//! `group_by_trace`: per-trace aggregates of runs (distinct tool names, collected inputs, …).

use indexmap::IndexMap;
use serde_json::Value;

use super::group_by_trace::AggregateSettings;
use crate::flatten::Cell;
use crate::model::Run;
use crate::model::paths::RunPath;

/// One aggregate, compiled.
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregate {
    Distinct(RunPath),
    Collect(RunPath),
    Count,
    First(RunPath),
    Last(RunPath),
    CollectKeys { path: RunPath, prefix: String },
    ExtendKeys { path: RunPath, prefix: String },
}

impl Aggregate {
    /// The one operation `c` names, its path parsed; or why not.
    pub fn compile(name: &str, c: &AggregateSettings) -> Result<Aggregate, String> {
        let prefix = || c.prefix.clone().unwrap_or_else(|| format!("{name}."));
        let path = |f: &String| RunPath::parse(f);
        let mut named: Vec<Result<Aggregate, String>> = vec![];
        if c.count.is_some() {
            named.push(Ok(Aggregate::Count));
        }
        for (field, make) in [
            (&c.distinct, Aggregate::Distinct as fn(RunPath) -> Aggregate),
            (&c.collect, Aggregate::Collect),
            (&c.first, Aggregate::First),
            (&c.last, Aggregate::Last),
        ] {
            if let Some(f) = field {
                named.push(path(f).map(make));
            }
        }
        if let Some(f) = &c.collect_keys {
            named.push(path(f).map(|path| Aggregate::CollectKeys {
                path,
                prefix: prefix(),
            }));
        }
        if let Some(f) = &c.extend_keys {
            named.push(path(f).map(|path| Aggregate::ExtendKeys {
                path,
                prefix: prefix(),
            }));
        }
        match named.len() {
            1 => named.remove(0),
            _ => Err(
                "give exactly one of distinct, collect, count, first, last, collect_keys, extend_keys"
                    .into(),
            ),
        }
    }

    pub fn path(&self) -> Option<&RunPath> {
        match self {
            Aggregate::Count => None,
            Aggregate::Distinct(p)
            | Aggregate::Collect(p)
            | Aggregate::First(p)
            | Aggregate::Last(p) => Some(p),
            Aggregate::CollectKeys { path, .. } | Aggregate::ExtendKeys { path, .. } => Some(path),
        }
    }
}

/// The aggregates of one trace: named values, and keyed columns (`prefix + key`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    pub trace_id: String,
    /// One entry per aggregate, in the pipeline's order. A short list rather than a map: a
    /// trace has a handful of aggregates, and at 1M runs a map per trace cost ~9 MB.
    values: Vec<(String, Value)>,
    pub keyed: IndexMap<String, Vec<Value>>,
}

/// A cell as JSON, for aggregation.
pub fn cell_value(cell: Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Str(s) => Value::String(s.into_owned()),
        Cell::Json(s) => serde_json::from_str(&s).unwrap_or(Value::Null),
        Cell::Int(i) => Value::from(i),
        Cell::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        Cell::Bool(b) => Value::Bool(b),
        Cell::Timestamp(us) => chrono::DateTime::from_timestamp_micros(us)
            .map_or(Value::Null, |t| {
                Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
            }),
        Cell::List(items) => Value::Array(
            items
                .into_iter()
                .map(|s| Value::String(s.into_owned()))
                .collect(),
        ),
    }
}

impl Group {
    /// An empty group for `aggregates` (room for each, no more).
    pub fn new(trace_id: String, aggregates: &IndexMap<String, Aggregate>) -> Self {
        Group {
            trace_id,
            values: Vec::with_capacity(aggregates.len()),
            keyed: IndexMap::new(),
        }
    }

    /// The aggregate `name`, once a run has set it.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    fn value_mut(&mut self, name: &str) -> Option<&mut Value> {
        self.values
            .iter_mut()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// The aggregate `name`, set to `init()` if no run has set it yet.
    fn slot(&mut self, name: &str, init: impl FnOnce() -> Value) -> &mut Value {
        let i = match self.values.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                self.values.push((name.to_string(), init()));
                self.values.len() - 1
            }
        };
        &mut self.values[i].1
    }

    pub fn add(&mut self, run: &Run, aggregates: &IndexMap<String, Aggregate>) {
        for (name, agg) in aggregates {
            let value = || {
                agg.path()
                    .map_or(Value::Null, |p| cell_value(p.extract(run)))
            };
            match agg {
                Aggregate::Count => {
                    let n = self.slot(name, || Value::from(0));
                    *n = Value::from(n.as_i64().unwrap_or(0) + 1);
                }
                Aggregate::Distinct(_) | Aggregate::Collect(_) => {
                    let v = value();
                    let collect = matches!(agg, Aggregate::Collect(_));
                    // Only this arm sets a list aggregate, so it always holds a list.
                    if let Value::Array(list) = self.slot(name, || Value::Array(vec![]))
                        && (collect || !list.contains(&v))
                    {
                        list.push(v);
                    }
                }
                Aggregate::First(_) => {
                    self.slot(name, value);
                }
                Aggregate::Last(_) => {
                    *self.slot(name, || Value::Null) = value();
                }
                Aggregate::CollectKeys { prefix, .. } | Aggregate::ExtendKeys { prefix, .. } => {
                    // The seed script iterates the object's items; a null object adds nothing.
                    if let Value::Object(map) = value() {
                        for (k, v) in map {
                            let column = self.keyed.entry(format!("{prefix}{k}")).or_default();
                            match (agg, v) {
                                (Aggregate::ExtendKeys { .. }, Value::Array(items)) => {
                                    column.extend(items)
                                }
                                (_, v) => column.push(v),
                            }
                        }
                    }
                }
            }
        }
    }

    /// Distinct values are sorted so output is deterministic.
    pub fn finish(&mut self, aggregates: &IndexMap<String, Aggregate>) {
        for (name, agg) in aggregates {
            if let (Aggregate::Distinct(_), Some(Value::Array(list))) = (agg, self.value_mut(name))
            {
                list.sort_by_cached_key(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
            }
        }
    }
}
