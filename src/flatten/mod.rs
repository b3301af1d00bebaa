//! Runs → Arrow record batches: typed columns, `prefix.*` expansion, widening on conflict.

mod column;
mod table;
mod unify;

pub use column::{
    Cell, ColumnBuilder, Kind, computed_cell, conform_exact, convert, json_cell, kind_of,
};
pub use table::TableBuilder;
pub use unify::SchemaUnion;

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use crate::arrow::array::{Array, AsArray};
    use crate::arrow::datatypes::{DataType, Float64Type};

    use super::*;

    #[test]
    fn widens_int_to_float_to_json() {
        let mut c = ColumnBuilder::new("x", None);
        c.push_null();
        c.push(Cell::Int(1));
        c.push(Cell::Float(2.5));
        assert_eq!(c.kind(), Some(Kind::Float64));
        let a = c.finish(None);
        assert_eq!(a.data_type(), &DataType::Float64);
        let f = a.as_primitive::<Float64Type>();
        assert!(f.is_null(0));
        assert_eq!((f.value(1), f.value(2)), (1.0, 2.5));

        let mut c = ColumnBuilder::new("y", None);
        c.push(Cell::Int(7));
        c.push(Cell::Str(Cow::Borrowed("seven")));
        c.push(Cell::Json(Cow::Borrowed(r#"{"n":7}"#)));
        assert_eq!(c.kind(), Some(Kind::Json));
        let a = c.finish(None);
        let s = a.as_string::<i32>();
        assert_eq!(
            (s.value(0), s.value(1), s.value(2)),
            ("7", "\"seven\"", r#"{"n":7}"#)
        );
    }

    #[test]
    fn all_null_columns_take_the_requested_kind() {
        let mut c = ColumnBuilder::new("z", None);
        c.push_null();
        c.push_null();
        let a = c.finish(Some(Kind::Utf8));
        assert_eq!(a.data_type(), &DataType::Utf8);
        assert_eq!(a.null_count(), 2);
        let mut c = ColumnBuilder::new("l", Some(Kind::ListUtf8));
        c.push(Cell::List(vec![Cow::Borrowed("a"), Cow::Borrowed("b")]));
        c.push_null();
        let a = c.finish(Some(Kind::ListUtf8));
        assert_eq!(a.as_list::<i32>().value(0).len(), 2);
    }

    #[test]
    fn json_columns_carry_the_arrow_json_extension() {
        let f = Kind::Json.field("inputs");
        assert_eq!(f.extension_type_name(), Some("arrow.json"));
        assert!(Kind::Utf8.field("name").extension_type_name().is_none());
    }
}
