//! One schema for a whole output: the union of every batch's columns, each at the widest kind
//! seen, and batches conformed to it (missing columns null, narrower types re-encoded).
//! Columns a table has already committed keep their committed kind, so the files of many
//! loads read as one table.

use std::sync::Arc;

use crate::arrow::array::new_null_array;
use crate::arrow::datatypes::{Schema, SchemaRef};
use crate::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use indexmap::IndexMap;

use super::{Kind, conform_exact, convert, kind_of};

#[derive(Default, Clone)]
pub struct SchemaUnion {
    columns: IndexMap<String, Option<Kind>>,
    /// How many of the first columns are the committed ones, whose kinds never change.
    pinned: usize,
}

/// A column whose values this load cannot write as the table's committed kind.
#[derive(Debug, thiserror::Error)]
#[error(
    "column {column:?} is {committed} in the table's committed files, but this load has {found} values ({value}) that {committed} cannot hold exactly; \
     to change the column's type reload the whole table into a new output (or with --refresh over every committed window)"
)]
pub struct KindConflict {
    pub column: String,
    pub committed: &'static str,
    pub found: &'static str,
    pub value: String,
}

impl SchemaUnion {
    /// A union that starts with a table's committed columns and keeps their kinds.
    pub fn committed(columns: &[(String, Kind)]) -> SchemaUnion {
        SchemaUnion {
            columns: columns.iter().map(|(n, k)| (n.clone(), Some(*k))).collect(),
            pinned: columns.len(),
        }
    }

    pub fn add(&mut self, schema: &Schema) {
        for field in schema.fields() {
            let kind = kind_of(field);
            let entry = self.columns.entry(field.name().clone());
            if entry.index() < self.pinned {
                continue;
            }
            let slot = entry.or_insert(kind);
            *slot = match (*slot, kind) {
                (Some(a), Some(b)) => Some(a.widen(b)),
                (a, b) => a.or(b),
            };
        }
    }

    pub fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|(name, kind)| kind.unwrap_or(Kind::Utf8).field(name))
                .collect::<Vec<_>>(),
        ))
    }

    /// `batch` with exactly the union's columns, in its order and kinds; a committed column
    /// whose values do not fit its kind is an error.
    pub fn conform(
        &self,
        batch: &RecordBatch,
        schema: &SchemaRef,
    ) -> Result<RecordBatch, KindConflict> {
        let rows = batch.num_rows();
        let arrays = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(index, field)| {
                let to = kind_of(field).unwrap_or(Kind::Utf8);
                let Ok(i) = batch.schema().index_of(field.name()) else {
                    return Ok(new_null_array(field.data_type(), rows));
                };
                let from = kind_of(batch.schema().field(i));
                if index >= self.pinned {
                    return Ok(convert(batch.column(i), from, to));
                }
                conform_exact(batch.column(i), from, to).map_err(|value| KindConflict {
                    column: field.name().clone(),
                    committed: to.name(),
                    found: from.map_or("null", Kind::name),
                    value,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(
            RecordBatch::try_new_with_options(schema.clone(), arrays, &options)
                .expect("conformed columns match the schema"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flatten::{Cell, TableBuilder};

    fn batch(cells: Vec<(&str, Cell<'static>)>) -> RecordBatch {
        let mut t = TableBuilder::default();
        t.push_row(cells.into_iter().map(|(n, c)| (n.to_string().into(), c)));
        t.finish()
    }

    #[test]
    fn committed_columns_keep_their_kind_and_new_ones_are_inferred() {
        let committed = vec![
            ("score".to_string(), Kind::Float64),
            ("label".to_string(), Kind::Utf8),
        ];
        let mut union = SchemaUnion::committed(&committed);
        // This load saw only whole numbers, no label at all, a number for a label, and a
        // new column.
        let b = batch(vec![
            ("score", Cell::Int(1)),
            ("label", Cell::Float(2.5)),
            ("new", Cell::Bool(true)),
        ]);
        let nulls = batch(vec![("score", Cell::Null)]);
        union.add(&b.schema());
        union.add(&nulls.schema());
        let schema = union.schema();
        let names: Vec<(&str, &crate::arrow::datatypes::DataType)> = schema
            .fields()
            .iter()
            .map(|f| (f.name().as_str(), f.data_type()))
            .collect();
        use crate::arrow::datatypes::DataType::*;
        assert_eq!(
            names,
            vec![("score", &Float64), ("label", &Utf8), ("new", &Boolean)]
        );
        let out = union.conform(&b, &schema).unwrap();
        use crate::arrow::array::AsArray;
        assert_eq!(out.column(1).as_string::<i32>().value(0), "2.5");
        let out = union.conform(&nulls, &schema).unwrap();
        assert_eq!(out.column(0).null_count(), 1);
    }

    #[test]
    fn a_value_a_committed_column_cannot_hold_is_refused_naming_the_column() {
        let mut union = SchemaUnion::committed(&[("score".to_string(), Kind::Float64)]);
        let b = batch(vec![("score", Cell::Str("high".into()))]);
        union.add(&b.schema());
        let err = union.conform(&b, &union.schema()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("\"score\" is float64") && text.contains("string values (\"high\")"),
            "{text}"
        );
    }
}
