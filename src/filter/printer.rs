//! The canonical form: lower-case names, `", "` separators, JSON-escaped double-quoted strings,
//! durations as seconds, timestamps as RFC 3339 UTC. `parse(&e.to_string()) == Ok(e)`.

use std::fmt;

use super::ast::{Comparison, Expr, Literal};

fn quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str(&serde_json::to_string(s).expect("strings serialise"))
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => quoted(f, s),
            // Rust prints the shortest text that reads back to the same f64, never exponents.
            Literal::Num(n) => write!(f, "{n}"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Null => f.write_str("null"),
            Literal::Time(us) => match chrono::DateTime::from_timestamp_micros(*us) {
                Some(t) => quoted(f, &t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
                None => f.write_str("null"),
            },
            Literal::Json(v) => quoted(f, &v.to_string()),
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
            Expr::Search { field, text } => {
                f.write_str("search(")?;
                if let Some(field) = field {
                    write!(f, "{}, ", field.name())?;
                }
                quoted(f, text)?;
                f.write_str(")")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;

    fn canon(s: &str) -> String {
        parse(s)
            .unwrap_or_else(|e| panic!("{}", e.render(s)))
            .to_string()
    }

    #[test]
    fn canonical_form() {
        assert_eq!(
            canon("AND(eq(name,'extractor'),GT(Latency,\"5s\"))"),
            r#"and(eq(name, "extractor"), gt(latency, 5))"#
        );
        assert_eq!(canon(r#"gt(latency, "500ms")"#), "gt(latency, 0.5)");
        assert_eq!(canon(r#"gt(latency, "1.5s")"#), "gt(latency, 1.5)");
        assert_eq!(canon(r#"lt(latency, "2m")"#), "lt(latency, 120)");
        assert_eq!(
            canon(r#"in(metadata_key, ["a",'b'])"#),
            r#"in(metadata_key, ["a", "b"])"#
        );
        assert_eq!(
            canon(r#"gt(start_time, "2023-07-15T12:34:56Z")"#),
            r#"gt(start_time, "2023-07-15T12:34:56Z")"#
        );
        assert_eq!(
            canon(r#"gt(start_time, "2023-07-15T12:34:56.5+02:00")"#),
            r#"gt(start_time, "2023-07-15T10:34:56.500Z")"#
        );
        assert_eq!(
            canon(r#"eq(name, 'say \"hi\"\n\u00e9 it\'s')"#),
            r#"eq(name, "say \"hi\"\né it's")"#
        );
        assert_eq!(canon(r#"search(name, "X")"#), r#"search(name, "x")"#);
        assert_eq!(canon(r#"search("Image")"#), r#"search("image")"#);
        assert_eq!(canon("not(eq(is_root, TRUE))"), "not(eq(is_root, true))");
        assert_eq!(canon(r#"eq(run_type, "LLM")"#), r#"eq(run_type, "llm")"#);
        assert_eq!(canon(r#"eq(feedback_score, 0.0)"#), "eq(feedback_score, 0)");
        assert_eq!(canon("gt(total_cost, '0.25')"), "gt(total_cost, 0.25)");
        assert_eq!(canon("eq(total_tokens, -12)"), "eq(total_tokens, -12)");
        assert_eq!(
            canon(r#"has(metadata, '{"k": "v",  "n": [1, 2]}')"#),
            r#"has(metadata, "{\"k\":\"v\",\"n\":[1,2]}")"#
        );
        assert_eq!(canon("and( neq( error ,null ) )"), "and(neq(error, null))");
    }

    #[test]
    fn printing_is_a_fixed_point() {
        for src in [
            r#"and(eq(name, "x"), or(gt(latency, 0.001), search("y")), not(has(tags, "z")))"#,
            r#"has(metadata, '{"a": {"b": null}, "c": "\u2603"}')"#,
            r#"in(status, ["Error", "pending"])"#,
            r#"and(eq(input_key, "messages.content"), like(input_value, "%50\\%_%"))"#,
            r#"eq(metadata_value, 1e3)"#,
            r#"lte(end_time, "2026-01-01T00:00:00.000001")"#,
        ] {
            let e = parse(src).unwrap_or_else(|err| panic!("{}", err.render(src)));
            let printed = e.to_string();
            assert_eq!(parse(&printed).unwrap(), e, "{src} → {printed}");
            assert_eq!(parse(&printed).unwrap().to_string(), printed);
        }
    }
}
