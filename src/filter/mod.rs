//! LangSmith's filter query language (`filter`, `trace_filter`, `tree_filter`; reference §5):
//! a parser with located errors, a canonical printer, and an evaluator over one run or a trace.
//!
//! ```text
//! expr    := call
//! call    := IDENT "(" [ arg { "," arg } ] ")"
//! arg     := call | field | literal | list
//! literal := string | number | null | true | false
//! list    := "[" [ literal { "," literal } ] "]"
//! ```
//!
//! * [`parse`] → [`Expr`], or a [`ParseError`] with the byte offset and character column of the
//!   offending token ([`ParseError::render`] draws a caret under it).
//! * `Display for Expr` prints the canonical form, `and(eq(name, "extractor"), gt(latency, 5))`,
//!   and `parse(&e.to_string()) == Ok(e)`.
//! * [`RunFacts::from_run`] precomputes one run's evaluation view (flattened inputs/outputs,
//!   metadata and feedback entries, lower-cased search text); [`Expr::matches`] then never
//!   parses JSON. [`trace_filter_matches`] and [`tree_filter_matches`] give the trace scopes.
//!
//! # Choices where LangSmith's documentation is silent
//!
//! * **Names**: function, field and keyword (`null`, `true`, `false`) names are ASCII
//!   case-insensitive; the canonical form prints them lower-case. `exists`, `notlike` and
//!   `not_exists` are not supported.
//! * **Strings** take either quote and JSON escapes (`\" \' \\ \/ \n \t \r \b \f \uXXXX`,
//!   surrogate pairs included). **Numbers** are JSON numbers (`-1`, `0.25`, `1e3`).
//! * **Values are checked against their field** at parse time: strings for ids, names, keys
//!   and tags; numbers (or numeric strings) for tokens, costs and `feedback_score`; booleans for
//!   `is_root`; ISO-8601 strings for times (naive ones are UTC); seconds or a duration string
//!   for `latency` (`"5s"`, `"500ms"`, `"1.5s"`, `"2m"`, `"1h"`, `"1d"`, `"250us"`; units
//!   lower-case); any scalar for `*_value`; a JSON object string for `has(metadata, …)`.
//!   `null` is accepted wherever a value is, except keys and tags.
//! * **Comparators per field**: ordering (`gt`, `gte`, `lt`, `lte`) on numbers, times, latency,
//!   scores, `*_value` and plain strings (byte order); `like` on strings, keys, values and tags;
//!   `has` on `tags` and `metadata` only; `inputs`/`outputs` only in `search(field, …)`.
//! * **Case**: `run_type` and `status` compare case-insensitively (the literal is lower-cased
//!   at parse time); every other string comparison, `like` included, is case-sensitive.
//! * **Missing values** (absent or null): `eq(f, null)` holds, `neq(f, null)` does not;
//!   `neq(f, v)` with a non-null `v` holds; `eq`, `gt`, `lt`, `like`, … never do. Latency is
//!   missing until the run has ended.
//! * **Key/value pairs** (§5.5) — `metadata_key/value`, `input_key/value`,
//!   `output_key/value`, `feedback_key/score` — bind within the comparisons that sit directly
//!   in one `and(...)`; a comparison anywhere else is a group of one. See the rule on
//!   `pair_group` in `eval.rs`. Inputs/outputs are keyed by dotted leaf paths (arrays add no
//!   segment); metadata by its top-level keys; feedback comes from the run's `feedback` list
//!   (emulator extension) or else `feedback_stats` averages.
//! * **Value types**: strings with strings, numbers numerically; a string literal matches a
//!   number by its text (`'5'` = 5); a boolean compares as `"true"`/`"false"` with strings.
//! * **`like`**: SQL LIKE, `%` any run, `_` one character, `\` escapes the next character.
//! * **`search`** is a case-insensitive substring match (the canonical form prints the text
//!   lower-case). Without a field it covers the run's name, error, string leaves of inputs and
//!   outputs, tags and string leaves of metadata values; not keys, ids or numbers. With a
//!   field it covers that field (`inputs`, `outputs`, `metadata`, `*_value`, `*_key`, `tags`,
//!   and the string fields). A match never spans two strings.
//! * **`tree_filter`** holds when any run of the trace matches — the root and the candidate
//!   itself included; **`trace_filter`** when the trace's root matches (unknown root: no).

mod ast;
mod eval;
mod facts;
mod parser;
mod printer;

pub use ast::{Comparison, Expr, FIELDS, Field, Literal, OPS, Op, Pair, Side};
pub use eval::{like, trace_filter_matches, tree_filter_matches};
pub use facts::RunFacts;
pub use parser::{ParseError, parse, parse_duration};
