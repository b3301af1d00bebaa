//! One schema for a whole output: the union of every batch's columns, each at the widest kind
//! seen, and batches conformed to it (missing columns null, narrower types re-encoded).

use std::sync::Arc;

use arrow::array::new_null_array;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use indexmap::IndexMap;

use super::{Kind, convert, kind_of};

#[derive(Default, Clone)]
pub struct SchemaUnion {
    columns: IndexMap<String, Option<Kind>>,
}

impl SchemaUnion {
    pub fn add(&mut self, schema: &Schema) {
        for field in schema.fields() {
            let kind = kind_of(field);
            let slot = self.columns.entry(field.name().clone()).or_insert(kind);
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

    /// `batch` with exactly the union's columns, in its order and kinds.
    pub fn conform(&self, batch: &RecordBatch, schema: &SchemaRef) -> RecordBatch {
        let rows = batch.num_rows();
        let arrays = schema
            .fields()
            .iter()
            .map(|field| {
                let to = kind_of(field).unwrap_or(Kind::Utf8);
                match batch.schema().index_of(field.name()) {
                    Ok(i) => convert(batch.column(i), kind_of(batch.schema().field(i)), to),
                    Err(_) => new_null_array(field.data_type(), rows),
                }
            })
            .collect();
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(schema.clone(), arrays, &options)
            .expect("conformed columns match the schema")
    }
}
