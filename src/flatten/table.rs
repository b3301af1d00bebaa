//! Rows of named cells → one Arrow record batch. Columns appear as rows bring new names
//! (earlier rows get nulls) and widen when types disagree.

use std::sync::Arc;

use crate::arrow::datatypes::Schema;
use crate::arrow::record_batch::RecordBatch;
use indexmap::IndexMap;

use super::column::{Cell, ColumnBuilder, Kind};

#[derive(Default)]
pub struct TableBuilder {
    columns: IndexMap<String, ColumnBuilder>,
    rows: usize,
}

impl TableBuilder {
    /// A table whose first columns are fixed, in this order (others follow as they appear).
    pub fn with_columns(columns: impl IntoIterator<Item = (String, Option<Kind>)>) -> Self {
        let mut t = TableBuilder::default();
        for (name, kind) in columns {
            t.columns
                .insert(name.clone(), ColumnBuilder::new(name, kind));
        }
        t
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appends one row; columns not named get a null.
    pub fn push_row<'a>(&mut self, cells: impl IntoIterator<Item = (Cow<'a>, Cell<'a>)>) {
        for (position, (name, cell)) in cells.into_iter().enumerate() {
            // Rows usually list the fixed columns in order: match by position, hash otherwise.
            let index = match self.columns.get_index(position) {
                Some((key, _)) if key.as_str() == name.as_ref() => position,
                _ => match self.columns.get_index_of(name.as_ref()) {
                    Some(i) => i,
                    None => {
                        let mut c = ColumnBuilder::new(name.to_string(), None);
                        for _ in 0..self.rows {
                            c.push_null();
                        }
                        self.columns.insert_full(name.into_owned(), c).0
                    }
                },
            };
            let column = &mut self.columns[index];
            if column.len() > self.rows {
                continue; // the same column twice in one row: first wins
            }
            column.push(cell);
        }
        self.rows += 1;
        for c in self.columns.values_mut() {
            while c.len() < self.rows {
                c.push_null();
            }
        }
    }

    /// The kind each column has so far (`None`: only nulls).
    pub fn kinds(&self) -> Vec<(String, Option<Kind>)> {
        self.columns
            .iter()
            .map(|(n, c)| (n.clone(), c.kind()))
            .collect()
    }

    /// The rows so far as a batch; the builder keeps its columns (empty) for the next batch.
    /// Columns with only nulls so far are of Arrow's Null type.
    pub fn finish(&mut self) -> RecordBatch {
        let mut fields = Vec::with_capacity(self.columns.len());
        let mut arrays = Vec::with_capacity(self.columns.len());
        for (name, column) in self.columns.iter_mut() {
            match column.kind() {
                Some(kind) => {
                    arrays.push(column.finish(Some(kind)));
                    fields.push(kind.field(name));
                }
                // No value yet: a Null column, so it takes whatever kind later batches bring.
                None => {
                    arrays.push(column.finish(None));
                    fields.push(crate::arrow::datatypes::Field::new(
                        name,
                        crate::arrow::datatypes::DataType::Null,
                        true,
                    ));
                }
            }
        }
        let rows = self.rows;
        self.rows = 0;
        let options =
            crate::arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &options)
            .expect("columns are built to match")
    }
}

/// A column name, borrowed or owned.
pub type Cow<'a> = std::borrow::Cow<'a, str>;
