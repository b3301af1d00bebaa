//! Positions in a pipeline file: where a key's value starts, and where byte `n` of a decoded
//! string lands in the source, so errors point at the line and column of what is wrong.

use toml::Spanned;
use toml::de::DeValue;

use super::Locator;

/// Where the value of `key` in a table starts.
pub fn span_of(value: &Spanned<DeValue>, key: &str) -> Option<usize> {
    match value.get_ref() {
        DeValue::Table(t) => t
            .iter()
            .find(|(k, _)| k.get_ref() == key)
            .map(|(_, v)| v.span().start),
        _ => None,
    }
}

/// The source offset of byte `offset` of the decoded text of the string value of `key`, so
/// positions inside a string (filters) map to columns: literal strings ('…', '''…''') map
/// one to one; escapes of basic strings ("…", """…""") are stepped over.
pub fn string_offset(value: &Spanned<DeValue>, key: &str, loc: &Locator, offset: usize) -> usize {
    let start = span_of(value, key).unwrap_or(value.span().start);
    let rest = &loc.src[start..];
    let multiline = rest.starts_with("'''") || rest.starts_with("\"\"\"");
    let basic = rest.starts_with('"');
    let mut body = start + if multiline { 3 } else { 1 };
    if multiline {
        // A newline right after the opening delimiter is not part of the string.
        let after = &loc.src[body..];
        body += if after.starts_with("\r\n") {
            2
        } else {
            usize::from(after.starts_with('\n'))
        };
    }
    if !basic {
        return body + offset;
    }
    let raw = &loc.src[body..];
    let mut decoded = 0;
    let mut chars = raw.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if decoded >= offset {
            return body + i;
        }
        if c != '\\' {
            decoded += c.len_utf8();
            continue;
        }
        let Some((_, escape)) = chars.next() else {
            break;
        };
        decoded += match escape {
            'u' | 'U' => {
                let digits = if escape == 'u' { 4 } else { 8 };
                let hex: String = (0..digits)
                    .filter_map(|_| chars.next().map(|(_, c)| c))
                    .collect();
                u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .map_or(1, char::len_utf8)
            }
            // A line-ending backslash drops the whitespace up to the next visible character.
            ' ' | '\t' | '\r' | '\n' => {
                while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
                0
            }
            _ => 1,
        };
    }
    body + offset
}
