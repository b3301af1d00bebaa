//! The canonical form: lower-case names, `", "` separators, JSON-escaped double-quoted strings.

use std::fmt;

use super::ast::{Comparison, Expr, Literal};

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => f.write_str(&serde_json::to_string(s).expect("string")),
            Literal::Num(n) => write!(f, "{n}"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Null => f.write_str("null"),
            Literal::Time(us) => match chrono::DateTime::from_timestamp_micros(*us) {
                Some(t) => write!(
                    f,
                    "\"{}\"",
                    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                ),
                None => f.write_str("null"),
            },
            Literal::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}({}, {})",
            self.op.name(),
            self.field.name(),
            self.value
        )
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, name: &str, items: &[Expr]| {
            write!(f, "{name}(")?;
            for (i, e) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{e}")?;
            }
            f.write_str(")")
        };
        match self {
            Expr::And(items) => list(f, "and", items),
            Expr::Or(items) => list(f, "or", items),
            Expr::Not(e) => write!(f, "not({e})"),
            Expr::Cmp(c) => write!(f, "{c}"),
            Expr::Search { field: None, text } => {
                write!(f, "search({})", Literal::Str(text.clone()))
            }
            Expr::Search {
                field: Some(field),
                text,
            } => {
                write!(
                    f,
                    "search({}, {})",
                    field.name(),
                    Literal::Str(text.clone())
                )
            }
        }
    }
}
