//! One output column being built: typed Arrow builders that widen when values disagree
//! (int → float → JSON text), as analysts expect from a flattened export.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value;

use crate::arrow::array::{
    Array, ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use crate::arrow::datatypes::{DataType, Field, TimeUnit};

/// One cell. Borrowed where it can be: JSON payloads are copied straight from the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Null,
    Str(Cow<'a, str>),
    /// JSON text (object, array, or a scalar kept as JSON).
    Json(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(i64),
    List(Vec<Cow<'a, str>>),
}

impl Cell<'_> {
    /// Rough size of the value, for bounding batches by bytes.
    pub fn approx_bytes(&self) -> usize {
        match self {
            Cell::Str(s) | Cell::Json(s) => s.len(),
            Cell::List(items) => items.iter().map(|s| s.len() + 4).sum(),
            _ => 8,
        }
    }
}

/// The logical type of a column. Ordered so widening is a `max` among numeric/JSON kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Utf8,
    Json,
    Int64,
    Float64,
    Bool,
    Timestamp,
    ListUtf8,
}

impl Kind {
    fn of(cell: &Cell) -> Option<Kind> {
        Some(match cell {
            Cell::Null => return None,
            Cell::Str(_) => Kind::Utf8,
            Cell::Json(_) => Kind::Json,
            Cell::Int(_) => Kind::Int64,
            Cell::Float(_) => Kind::Float64,
            Cell::Bool(_) => Kind::Bool,
            Cell::Timestamp(_) => Kind::Timestamp,
            Cell::List(_) => Kind::ListUtf8,
        })
    }

    /// The narrowest kind holding both: int+float → float, anything else that differs → JSON.
    pub fn widen(self, other: Kind) -> Kind {
        match (self, other) {
            (a, b) if a == b => a,
            (Kind::Int64, Kind::Float64) | (Kind::Float64, Kind::Int64) => Kind::Float64,
            _ => Kind::Json,
        }
    }

    /// Its name in messages and manifests.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Utf8 => "string",
            Kind::Json => "json",
            Kind::Int64 => "int64",
            Kind::Float64 => "float64",
            Kind::Bool => "bool",
            Kind::Timestamp => "timestamp",
            Kind::ListUtf8 => "list<string>",
        }
    }

    pub fn data_type(self) -> DataType {
        match self {
            Kind::Utf8 | Kind::Json => DataType::Utf8,
            Kind::Int64 => DataType::Int64,
            Kind::Float64 => DataType::Float64,
            Kind::Bool => DataType::Boolean,
            Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Kind::ListUtf8 => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        }
    }

    /// The Arrow field; JSON columns carry the canonical `arrow.json` extension so Parquet
    /// writes them with the JSON logical type.
    pub fn field(self, name: &str) -> Field {
        let field = Field::new(name, self.data_type(), true);
        if self == Kind::Json {
            field.with_extension_type(arrow_schema::extension::Json::default())
        } else {
            field
        }
    }
}

enum Builder {
    Utf8(StringBuilder),
    Int64(Int64Builder),
    Float64(Float64Builder),
    Bool(BooleanBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    List(ListBuilder<StringBuilder>),
}

/// A column under construction. Cells of a wider kind convert what was built so far.
pub struct ColumnBuilder {
    pub name: String,
    kind: Option<Kind>,
    /// Cells seen while the kind is unknown (only nulls so far).
    leading_nulls: usize,
    builder: Option<Builder>,
    /// Rows pushed so far, nulls included.
    len: usize,
}

impl ColumnBuilder {
    pub fn new(name: impl Into<String>, kind: Option<Kind>) -> Self {
        let mut c = ColumnBuilder {
            name: name.into(),
            kind: None,
            leading_nulls: 0,
            builder: None,
            len: 0,
        };
        if let Some(k) = kind {
            c.start(k);
        }
        c
    }

    pub fn kind(&self) -> Option<Kind> {
        self.kind
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn start(&mut self, kind: Kind) {
        let mut builder = match kind {
            Kind::Utf8 | Kind::Json => Builder::Utf8(StringBuilder::new()),
            Kind::Int64 => Builder::Int64(Int64Builder::new()),
            Kind::Float64 => Builder::Float64(Float64Builder::new()),
            Kind::Bool => Builder::Bool(BooleanBuilder::new()),
            Kind::Timestamp => {
                Builder::Timestamp(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            Kind::ListUtf8 => Builder::List(ListBuilder::new(StringBuilder::new())),
        };
        for _ in 0..self.leading_nulls {
            append_null(&mut builder);
        }
        self.leading_nulls = 0;
        self.kind = Some(kind);
        self.builder = Some(builder);
    }

    pub fn push_null(&mut self) {
        self.len += 1;
        match &mut self.builder {
            Some(b) => append_null(b),
            None => self.leading_nulls += 1,
        }
    }

    pub fn push(&mut self, cell: Cell) {
        let Some(cell_kind) = Kind::of(&cell) else {
            return self.push_null();
        };
        match self.kind {
            None => self.start(cell_kind),
            Some(k) if k.widen(cell_kind) != k => self.widen_to(k.widen(cell_kind)),
            Some(_) => {}
        }
        self.len += 1;
        let kind = self.kind.expect("started");
        let builder = self.builder.as_mut().expect("started");
        match (builder, cell) {
            (Builder::Utf8(b), Cell::Str(s)) if kind == Kind::Utf8 => b.append_value(&s),
            // JSON payloads (most of an export's bytes) go in as they are, without a copy.
            (Builder::Utf8(b), Cell::Json(s)) => b.append_value(&s),
            (Builder::Utf8(b), cell) => b.append_value(json_text(&cell)),
            (Builder::Int64(b), Cell::Int(v)) => b.append_value(v),
            (Builder::Float64(b), Cell::Float(v)) => b.append_value(v),
            (Builder::Float64(b), Cell::Int(v)) => b.append_value(v as f64),
            (Builder::Bool(b), Cell::Bool(v)) => b.append_value(v),
            (Builder::Timestamp(b), Cell::Timestamp(v)) => b.append_value(v),
            (Builder::List(b), Cell::List(items)) => {
                for item in items {
                    b.values().append_value(item);
                }
                b.append(true);
            }
            _ => unreachable!("kinds were reconciled above"),
        }
    }

    /// Rebuilds the column as `kind`, converting the values built so far.
    fn widen_to(&mut self, kind: Kind) {
        let old_kind = self.kind;
        let old = self.finish_array();
        let rows = old.len();
        self.start(kind);
        self.len = 0;
        for i in 0..rows {
            if old.is_null(i) {
                self.push_null();
                continue;
            }
            let cell = cell_at(&old, old_kind, i);
            self.push(cell);
        }
    }

    fn finish_array(&mut self) -> ArrayRef {
        match self.builder.as_mut() {
            None => Arc::new(crate::arrow::array::NullArray::new(self.leading_nulls)),
            Some(Builder::Utf8(b)) => Arc::new(b.finish()),
            Some(Builder::Int64(b)) => Arc::new(b.finish()),
            Some(Builder::Float64(b)) => Arc::new(b.finish()),
            Some(Builder::Bool(b)) => Arc::new(b.finish()),
            Some(Builder::Timestamp(b)) => Arc::new(b.finish()),
            Some(Builder::List(b)) => Arc::new(b.finish()),
        }
    }

    /// The finished array (as `kind`, or the column's own kind) and resets the column.
    pub fn finish(&mut self, as_kind: Option<Kind>) -> ArrayRef {
        let rows = self.len;
        if let Some(target) = as_kind {
            match self.kind {
                None => {
                    self.start(target);
                }
                Some(k) if k != target => self.widen_to(target),
                _ => {}
            }
        }
        let array = if self.builder.is_none() {
            Arc::new(crate::arrow::array::NullArray::new(rows)) as ArrayRef
        } else {
            self.finish_array()
        };
        self.leading_nulls = 0;
        self.len = 0;
        array
    }
}

fn append_null(b: &mut Builder) {
    match b {
        Builder::Utf8(b) => b.append_null(),
        Builder::Int64(b) => b.append_null(),
        Builder::Float64(b) => b.append_null(),
        Builder::Bool(b) => b.append_null(),
        Builder::Timestamp(b) => b.append_null(),
        Builder::List(b) => b.append(false),
    }
}

/// A cell rendered as JSON text, for a column widened to JSON.
fn json_text(cell: &Cell) -> String {
    match cell {
        Cell::Null => "null".into(),
        Cell::Str(s) => serde_json::to_string(s).expect("string"),
        Cell::Json(s) => s.to_string(),
        Cell::Int(v) => v.to_string(),
        Cell::Float(v) => serde_json::Number::from_f64(*v).map_or("null".into(), |n| n.to_string()),
        Cell::Bool(v) => v.to_string(),
        Cell::Timestamp(us) => {
            chrono::DateTime::from_timestamp_micros(*us).map_or("null".into(), |t| {
                format!(
                    "\"{}\"",
                    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                )
            })
        }
        Cell::List(items) => serde_json::to_string(items).expect("strings"),
    }
}

/// Reads back a built value (for widening).
fn cell_at(array: &ArrayRef, kind: Option<Kind>, i: usize) -> Cell<'static> {
    use crate::arrow::array::AsArray;
    use crate::arrow::datatypes::{Float64Type, Int64Type, TimestampMicrosecondType};
    match array.data_type() {
        DataType::Utf8 => {
            let text = Cow::Owned(array.as_string::<i32>().value(i).to_string());
            if kind == Some(Kind::Json) {
                Cell::Json(text)
            } else {
                Cell::Str(text)
            }
        }
        DataType::Int64 => Cell::Int(array.as_primitive::<Int64Type>().value(i)),
        DataType::Float64 => Cell::Float(array.as_primitive::<Float64Type>().value(i)),
        DataType::Boolean => Cell::Bool(array.as_boolean().value(i)),
        DataType::Timestamp(..) => {
            Cell::Timestamp(array.as_primitive::<TimestampMicrosecondType>().value(i))
        }
        DataType::List(_) => {
            let list = array.as_list::<i32>().value(i);
            let strings = list.as_string::<i32>();
            Cell::List(
                (0..strings.len())
                    .map(|j| Cow::Owned(strings.value(j).to_string()))
                    .collect(),
            )
        }
        _ => Cell::Null,
    }
}

/// The kind of an array built by a [`ColumnBuilder`], from its field.
pub fn kind_of(field: &Field) -> Option<Kind> {
    Some(match field.data_type() {
        DataType::Utf8 if field.extension_type_name() == Some("arrow.json") => Kind::Json,
        DataType::Utf8 => Kind::Utf8,
        DataType::Int64 => Kind::Int64,
        DataType::Float64 => Kind::Float64,
        DataType::Boolean => Kind::Bool,
        DataType::Timestamp(..) => Kind::Timestamp,
        DataType::List(_) => Kind::ListUtf8,
        _ => return None,
    })
}

/// Re-encodes `array` (built as `from`) as the wider kind `to`.
pub fn convert(array: &ArrayRef, from: Option<Kind>, to: Kind) -> ArrayRef {
    if from == Some(to) {
        return array.clone();
    }
    let mut b = ColumnBuilder::new("", Some(to));
    for i in 0..array.len() {
        if array.is_null(i) || from.is_none() {
            b.push_null();
        } else {
            b.push(cell_at(array, from, i));
        }
    }
    b.finish(Some(to))
}

/// Re-encodes `array` (built as `from`) as the committed kind `to` of a table, when no value
/// changes meaning: nulls become any kind, integers floats, whole floats integers, anything
/// text in a string or JSON column. Otherwise the first value that does not fit, as text.
pub fn conform_exact(array: &ArrayRef, from: Option<Kind>, to: Kind) -> Result<ArrayRef, String> {
    let Some(from) = from else {
        return Ok(convert(array, None, to));
    };
    let first_value = || {
        (0..array.len())
            .find(|&i| !array.is_null(i))
            .map_or("null".into(), |i| json_text(&cell_at(array, Some(from), i)))
    };
    match (from, to) {
        _ if from == to => Ok(array.clone()),
        (_, Kind::Utf8 | Kind::Json) => {
            let mut b = StringBuilder::with_capacity(array.len(), 0);
            for i in 0..array.len() {
                if array.is_null(i) {
                    b.append_null();
                    continue;
                }
                match (cell_at(array, Some(from), i), to) {
                    (Cell::Str(s) | Cell::Json(s), Kind::Utf8) => b.append_value(&s),
                    (cell, _) => b.append_value(json_text(&cell)),
                }
            }
            Ok(Arc::new(b.finish()))
        }
        (Kind::Int64, Kind::Float64) => Ok(
            crate::arrow::compute::cast(array, &DataType::Float64).map_err(|e| e.to_string())?
        ),
        (Kind::Float64, Kind::Int64) => {
            use crate::arrow::array::AsArray;
            let floats = array.as_primitive::<crate::arrow::datatypes::Float64Type>();
            let fits = |f: f64| f.fract() == 0.0 && f.abs() < 9.2e18;
            match floats.iter().flatten().find(|f| !fits(*f)) {
                Some(bad) => Err(bad.to_string()),
                None => Ok(crate::arrow::compute::cast(array, &DataType::Int64)
                    .map_err(|e| e.to_string())?),
            }
        }
        _ => Err(first_value()),
    }
}

/// A value from a run's payload as a typed cell, by a rule that does not depend on which
/// values a load happens to see, so the daily files of one table agree: every number is a
/// float (integers up to ±2^53 are exact as floats; past that they stay exact as JSON text),
/// strings are strings, booleans booleans, objects and arrays JSON.
pub fn json_cell(v: Value) -> Cell<'static> {
    const EXACT_AS_FLOAT: u64 = 1 << 53;
    match v {
        Value::Number(n) => {
            let exact = match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => i.unsigned_abs() <= EXACT_AS_FLOAT,
                (None, Some(u)) => u <= EXACT_AS_FLOAT,
                (None, None) => true, // a float already
            };
            match n.as_f64() {
                Some(f) if exact => Cell::Float(f),
                _ => Cell::Json(Cow::Owned(n.to_string())),
            }
        }
        other => computed_cell(other),
    }
}

/// A value runlake computed (a count, a sum) as a typed cell: integers stay integers.
pub fn computed_cell(v: Value) -> Cell<'static> {
    match v {
        Value::Null => Cell::Null,
        Value::Bool(b) => Cell::Bool(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Cell::Int(i),
            None if n.is_u64() => Cell::Json(Cow::Owned(n.to_string())),
            None => n.as_f64().map_or(Cell::Null, Cell::Float),
        },
        Value::String(s) => Cell::Str(Cow::Owned(s)),
        other => Cell::Json(Cow::Owned(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_numbers_are_floats_and_integers_too_big_for_one_stay_exact_text() {
        let cell = |text: &str| json_cell(serde_json::from_str(text).unwrap());
        assert!(matches!(cell("42"), Cell::Float(f) if f == 42.0));
        assert!(matches!(cell("-9007199254740992"), Cell::Float(f) if f == -9007199254740992.0));
        for big in [
            "18446744073709551557",
            "9007199254740993",
            "-9007199254740993",
        ] {
            match cell(big) {
                Cell::Json(t) => assert_eq!(t, big),
                other => panic!("{other:?}"),
            }
        }
        let computed = |text: &str| computed_cell(serde_json::from_str(text).unwrap());
        assert!(
            matches!(computed("42"), Cell::Int(42)),
            "counts stay integers"
        );
        assert!(matches!(cell("1.5"), Cell::Float(f) if f == 1.5));
        assert!(
            matches!(cell("1.0"), Cell::Float(f) if f == 1.0),
            "whole floats stay floats"
        );
    }
}
