//! One table of a pipeline file read into its typed settings, with serde's errors located
//! at the offending key, and [`Checks`]: what a component's checks use to report errors.

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::span::{span_of, string_offset};
use super::{ConfigError, Locator};

/// Deserializes one table into a typed section, turning serde errors into located ones.
pub fn typed<T: DeserializeOwned>(
    value: &Spanned<DeValue>,
    key: &str,
    loc: &Locator,
    errors: &mut Vec<ConfigError>,
) -> Option<T> {
    let DeValue::Table(table) = value.get_ref() else {
        errors.push(loc.at(value.span().start, key, "expected a table"));
        return None;
    };
    let de = toml::de::Deserializer::from(Spanned::new(value.span(), table.clone()));
    match T::deserialize(de) {
        Ok(v) => Some(v),
        Err(e) => {
            let offset = e.span().map_or(value.span().start, |s| s.start);
            let message = with_key_hint(e.message().trim()).replace('`', "\"");
            // Name the offending key when serde's message does not.
            let sub = key_at(table, offset)
                .map(|k| format!("{key}.{k}"))
                .unwrap_or_else(|| key.to_string());
            errors.push(loc.at(offset, sub, message));
            None
        }
    }
}

/// Adds a "did you mean" to serde's "unknown field `x`, expected one of `a`, `b`, …" (the
/// candidates are the backquoted names after the first).
fn with_key_hint(message: &str) -> String {
    if !message.starts_with("unknown field") {
        return message.to_string();
    }
    let quoted: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    let Some((unknown, expected)) = quoted.split_first() else {
        return message.to_string();
    };
    match closest(unknown, expected.iter().copied()) {
        Some(hint) => match message.split_once(", expected") {
            Some((head, tail)) => format!("{head} (did you mean `{hint}`?); expected{tail}"),
            None => format!("{message} (did you mean `{hint}`?)"),
        },
        None => message.to_string(),
    }
}

/// The key of `table` whose key or value span contains `offset`.
fn key_at(table: &DeTable, offset: usize) -> Option<String> {
    table.iter().find_map(|(k, v)| {
        let (ks, vs) = (k.span(), v.span());
        (ks.contains(&offset) || vs.contains(&offset) || vs.end == offset)
            .then(|| k.get_ref().to_string())
    })
}

/// The closest of `names` to `name` (edit distance at most 2, or a prefix of it), for
/// "did you mean" hints.
pub fn closest<'a>(name: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut diagonal = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let above = row[j + 1];
                row[j + 1] = (diagonal + usize::from(ca != *cb))
                    .min(row[j] + 1)
                    .min(above + 1);
                diagonal = above;
            }
        }
        row[b.len()]
    }
    names
        .into_iter()
        .filter(|n| *n != name)
        .map(|n| {
            let d = distance(name, n);
            let prefix = name.len() >= 3 && (n.starts_with(name) || name.starts_with(n));
            (if prefix { d.min(1) } else { d }, n)
        })
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// One component's table, for its checks: errors name `key.<field>` at the field's position.
pub struct Checks<'a, 'e> {
    pub value: &'a Spanned<DeValue<'a>>,
    /// `stages.<id>` or `sinks.<id>`.
    pub key: String,
    pub loc: &'a Locator<'a>,
    pub errors: &'e mut Vec<ConfigError>,
}

impl Checks<'_, '_> {
    /// Where `field`'s value starts, or the table's start.
    pub fn at(&self, field: &str) -> usize {
        span_of(self.value, field).unwrap_or(self.value.span().start)
    }

    /// An error at `field` (a dotted path under the component's key).
    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        let at = self.at(field.split('.').next().unwrap_or(field));
        let key = format!("{}.{field}", self.key);
        self.errors.push(self.loc.at(at, key, message));
    }

    /// The table as `T`, serde's errors located.
    pub fn typed<T: DeserializeOwned>(&mut self) -> Option<T> {
        typed(self.value, &self.key, self.loc, self.errors)
    }

    /// A filter-language string parsed, or an error pointing at the character.
    pub fn filter(&mut self, field: &str, text: &str) -> Option<crate::filter::Expr> {
        match crate::filter::parse(text) {
            Ok(expr) => Some(expr),
            Err(e) => {
                let at = string_offset(self.value, field, self.loc, e.offset);
                let rendered: Vec<String> = e
                    .render(text)
                    .lines()
                    .skip(1)
                    .map(|l| format!("    {l}"))
                    .collect();
                self.errors.push(self.loc.at(
                    at,
                    format!("{}.{field}", self.key),
                    format!("bad filter: {}\n{}", e.message, rendered.join("\n")),
                ));
                None
            }
        }
    }

    /// Whether any error has been reported so far.
    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
    }
}
