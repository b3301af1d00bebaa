//! A hand-written recursive-descent parser over a lazy lexer: the first problem in source order
//! is reported, pointing at the offending token, saying what was found and what was expected.

use std::fmt;

use serde_json::Value;

use super::ast::{Comparison, Expr, FIELDS, Field, Kind, Literal, OPS, Op};

/// A syntax or meaning error in a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset into the filter of the offending token.
    pub offset: usize,
    /// 1-based character (not byte) column of `offset`.
    pub column: usize,
    /// What was found and what was expected.
    pub message: String,
}

impl ParseError {
    pub(crate) fn at(src: &str, offset: usize, message: impl Into<String>) -> Self {
        let mut offset = offset.min(src.len());
        while !src.is_char_boundary(offset) {
            offset -= 1;
        }
        ParseError {
            offset,
            column: column_of(src, offset),
            message: message.into(),
        }
    }

    /// `error: <message>`, the filter, and a caret under the offending character. Columns
    /// count characters, so text such as `"café"` before the error keeps the caret aligned;
    /// a filter spanning several lines shows only the line of the error.
    pub fn render(&self, src: &str) -> String {
        let mut offset = self.offset.min(src.len());
        while !src.is_char_boundary(offset) {
            offset -= 1;
        }
        let start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
        let end = src[offset..].find('\n').map_or(src.len(), |i| offset + i);
        let line = src[start..end].trim_end_matches('\r');
        // Tabs stay tabs so the caret lines up however the terminal expands them.
        let pad: String = src[start..offset]
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!("error: {}\n  {line}\n  {pad}^", self.message)
    }
}

impl fmt::Display for ParseError {
    /// `<message> at column N` (just the message when it already names that column, as in
    /// `"(" at column 4 is never closed`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let column = format!("at column {}", self.column);
        let names_it = self
            .message
            .match_indices(&column)
            .any(|(i, m)| !self.message[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()));
        if names_it {
            f.write_str(&self.message)
        } else {
            write!(f, "{} {column}", self.message)
        }
    }
}

impl std::error::Error for ParseError {}

fn column_of(src: &str, offset: usize) -> usize {
    src[..offset].chars().count() + 1
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    at: usize,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("{s:?}"),
            Tok::Str(s) => format!("string {}", Literal::Str(s.clone())),
            Tok::Num(n) => format!("number {n}"),
            Tok::LParen => "\"(\"".into(),
            Tok::RParen => "\")\"".into(),
            Tok::LBracket => "\"[\"".into(),
            Tok::RBracket => "\"]\"".into(),
            Tok::Comma => "\",\"".into(),
            Tok::End => "the end of the filter".into(),
        }
    }
}

/// The function names a call may use, for error messages.
fn functions() -> Vec<&'static str> {
    let mut names = vec!["and", "or", "not", "search"];
    names.extend(OPS.iter().map(|(n, _)| *n));
    names
}

/// The closest of `names` to `name` (edit distance ≤ 2), as a "did you mean" hint.
fn suggest<'a>(name: &str, names: impl IntoIterator<Item = &'a str>) -> String {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let cur = row[j + 1];
                row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
                prev = cur;
            }
        }
        row[b.len()]
    }
    let lower = name.to_ascii_lowercase();
    names
        .into_iter()
        .map(|n| (distance(&lower, n), n))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| format!(" (did you mean {n}?)"))
        .unwrap_or_default()
}

fn field_names() -> String {
    FIELDS
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

fn searchable_names() -> String {
    FIELDS
        .iter()
        .filter(|(_, f)| f.kind().searchable())
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Func {
    And,
    Or,
    Not,
    Search,
    Cmp(Op),
}

impl Func {
    fn from_name(name: &str) -> Option<Func> {
        Some(match name.to_ascii_lowercase().as_str() {
            "and" => Func::And,
            "or" => Func::Or,
            "not" => Func::Not,
            "search" => Func::Search,
            other => Func::Cmp(Op::from_name(other)?),
        })
    }

    fn name(self) -> &'static str {
        match self {
            Func::And => "and",
            Func::Or => "or",
            Func::Not => "not",
            Func::Search => "search",
            Func::Cmp(op) => op.name(),
        }
    }
}

/// A parsed argument, before its call decides what it may be.
enum Arg {
    Expr(Expr),
    Field(Field),
    Lit(Literal),
    /// Items with their offsets, for errors about one item.
    List(Vec<(Literal, usize)>),
}

impl Arg {
    fn describe(&self) -> String {
        match self {
            Arg::Expr(Expr::And(_)) => "an and(…) expression".into(),
            Arg::Expr(Expr::Or(_)) => "an or(…) expression".into(),
            Arg::Expr(Expr::Not(_)) => "a not(…) expression".into(),
            Arg::Expr(Expr::Search { .. }) => "a search(…) expression".into(),
            Arg::Expr(Expr::Cmp(c)) => format!("a {}(…) expression", c.op.name()),
            Arg::Field(f) => format!("the field {}", f.name()),
            Arg::Lit(l) => describe_literal(l),
            Arg::List(_) => "a list".into(),
        }
    }
}

fn describe_literal(l: &Literal) -> String {
    match l {
        Literal::Str(_) => format!("string {l}"),
        Literal::Num(_) => format!("number {l}"),
        Literal::Bool(_) | Literal::Null => l.to_string(),
        Literal::Time(_) => format!("timestamp {l}"),
        Literal::Json(_) => format!("JSON {l}"),
        Literal::List(_) => "a list".into(),
    }
}

/// `null`, `true`, `false` (any case).
fn keyword(name: &str) -> Option<Literal> {
    match name.to_ascii_lowercase().as_str() {
        "null" => Some(Literal::Null),
        "true" => Some(Literal::Bool(true)),
        "false" => Some(Literal::Bool(false)),
        _ => None,
    }
}

/// Parses a filter expression.
///
/// Function, field and keyword (`null`, `true`, `false`) names are case-insensitive; strings
/// take either quote and JSON escapes; values are checked against their field and converted
/// (durations to seconds, timestamps to instants, `run_type`/`status` and search text to
/// lower case).
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let mut p = Parser {
        src,
        pos: 0,
        peeked: None,
        open: Vec::new(),
    };
    let first = p.next()?;
    let expr = match first.tok {
        Tok::End => {
            return Err(p.err(
                first.at,
                "empty filter; expected a function call such as eq(name, \"x\")",
            ));
        }
        Tok::Ident(name) => p.call(&name, first.at)?,
        _ => return Err(p.unexpected(&first, "a function call such as eq(name, \"x\")")),
    };
    let t = p.next()?;
    match t.tok {
        Tok::End => Ok(expr),
        Tok::RParen => Err(p.err(
            t.at,
            "unbalanced parentheses: unexpected \")\" after the end of the expression",
        )),
        other => Err(p.err(
            t.at,
            format!(
                "unexpected {} after the end of the expression; expected the end of the filter \
                 (combine expressions with and(…) or or(…))",
                other.describe()
            ),
        )),
    }
}

struct Parser<'s> {
    src: &'s str,
    /// Byte offset of the next unlexed character.
    pos: usize,
    peeked: Option<Token>,
    /// Offsets of "(" and "[" still open, innermost last, for "never closed" errors.
    open: Vec<(usize, char)>,
}

impl<'s> Parser<'s> {
    fn err(&self, at: usize, message: impl Into<String>) -> ParseError {
        ParseError::at(self.src, at, message)
    }

    fn peek(&mut self) -> Result<&Token, ParseError> {
        if self.peeked.is_none() {
            let t = self.lex()?;
            self.peeked = Some(t);
        }
        Ok(self.peeked.as_ref().expect("just filled"))
    }

    fn next(&mut self) -> Result<Token, ParseError> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lex(),
        }
    }

    /// Whether the next non-blank character is "(" (a raw look, so no lexing error can
    /// pre-empt a better message about the current token).
    fn call_follows(&self) -> bool {
        match &self.peeked {
            Some(t) => t.tok == Tok::LParen,
            None => self.src[self.pos..].trim_start().starts_with('('),
        }
    }

    /// The error for a token that is not what was `expected`; at the end of the filter (or at a
    /// ")" inside a list), blames the innermost unclosed parenthesis or bracket.
    fn unexpected(&self, t: &Token, expected: &str) -> ParseError {
        let innermost = self.open.last().map(|&(_, ch)| ch);
        if (t.tok == Tok::End || (t.tok == Tok::RParen && innermost == Some('[')))
            && let Some(&(open, ch)) = self.open.last()
        {
            let what = if ch == '(' { "parentheses" } else { "brackets" };
            return self.err(
                open,
                format!(
                    "unbalanced {what}: \"{ch}\" at column {} is never closed",
                    column_of(self.src, open)
                ),
            );
        }
        self.err(
            t.at,
            format!("unexpected {}; expected {expected}", t.tok.describe()),
        )
    }

    // ---- lexer ----

    fn lex(&mut self) -> Result<Token, ParseError> {
        let src = self.src;
        let rest = &src[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
        let at = self.pos;
        let Some(c) = src[at..].chars().next() else {
            return Ok(Token { tok: Tok::End, at });
        };
        let punct = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            ',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(tok) = punct {
            self.pos += 1;
            return Ok(Token { tok, at });
        }
        let bytes = src.as_bytes();
        let tok = match c {
            '"' | '\'' => {
                let (text, end) = lex_string(src, at)?;
                self.pos = end;
                Tok::Str(text)
            }
            '-' | '0'..='9' | '.' => {
                let mut j = at + 1;
                while j < bytes.len() {
                    let b = bytes[j];
                    let sign_after_exponent =
                        matches!(b, b'+' | b'-') && matches!(bytes[j - 1], b'e' | b'E');
                    if b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || sign_after_exponent {
                        j += 1;
                    } else {
                        break;
                    }
                }
                let text = &src[at..j];
                let n = parse_number(text).ok_or_else(|| {
                    let hint = if parse_duration(text).is_some() {
                        format!("; durations must be quoted, e.g. \"{text}\"")
                    } else {
                        "; expected a number such as 5, -1 or 0.25".into()
                    };
                    self.err(at, format!("bad literal: {text:?} is not a number{hint}"))
                })?;
                self.pos = j;
                Tok::Num(n)
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut j = at + 1;
                while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                    j += 1;
                }
                self.pos = j;
                Tok::Ident(src[at..j].to_string())
            }
            '\u{201c}' | '\u{201d}' | '\u{2018}' | '\u{2019}' => {
                return Err(self.err(
                    at,
                    format!("unexpected character {c:?}; strings take straight quotes \" or '"),
                ));
            }
            c => {
                return Err(self.err(
                    at,
                    format!(
                        "unexpected character {c:?}; expected a function call, a field, a value, \
                         \"(\", \")\", \"[\", \"]\" or \",\""
                    ),
                ));
            }
        };
        Ok(Token { tok, at })
    }

    // ---- grammar ----

    /// `name ( args )`, `name` already consumed at `at`.
    fn call(&mut self, name: &str, at: usize) -> Result<Expr, ParseError> {
        let Some(func) = Func::from_name(name) else {
            let message = if Field::from_name(name).is_some() {
                format!(
                    "{name:?} is a field, not a function; expected a comparison such as eq({name}, …)"
                )
            } else {
                format!(
                    "unknown comparator {name:?}{}; expected one of {}",
                    suggest(name, functions()),
                    functions().join(", ")
                )
            };
            return Err(self.err(at, message));
        };
        let t = self.next()?;
        if t.tok != Tok::LParen {
            return Err(self.unexpected(&t, &format!("\"(\" after {}", func.name())));
        }
        self.open.push((t.at, '('));
        let mut args: Vec<(Arg, usize)> = Vec::new();
        let close = if self.peek()?.tok == Tok::RParen {
            self.next()?.at
        } else {
            loop {
                args.push(self.arg()?);
                let t = self.next()?;
                match t.tok {
                    Tok::Comma => {}
                    Tok::RParen => break t.at,
                    _ => return Err(self.unexpected(&t, "\",\" or \")\"")),
                }
            }
        };
        self.open.pop();
        self.build(func, args, close)
    }

    /// One argument and its offset.
    fn arg(&mut self) -> Result<(Arg, usize), ParseError> {
        let t = self.next()?;
        let at = t.at;
        let arg = match t.tok {
            Tok::Ident(name) => {
                if self.call_follows() {
                    Arg::Expr(self.call(&name, at)?)
                } else if let Some(lit) = keyword(&name) {
                    Arg::Lit(lit)
                } else if let Some(f) = Field::from_name(&name) {
                    Arg::Field(f)
                } else if let Some(func) = Func::from_name(&name) {
                    let t = self.next()?;
                    return Err(self.unexpected(&t, &format!("\"(\" after {}", func.name())));
                } else {
                    return Err(self.err(
                        at,
                        format!(
                            "unknown field {name:?}{}; expected one of {}",
                            suggest(&name, FIELDS.iter().map(|(n, _)| *n)),
                            field_names()
                        ),
                    ));
                }
            }
            Tok::Str(s) => Arg::Lit(Literal::Str(s)),
            Tok::Num(n) => Arg::Lit(Literal::Num(n)),
            Tok::LBracket => Arg::List(self.list(at)?),
            _ => return Err(self.unexpected(&t, "a function call, a field or a value")),
        };
        Ok((arg, at))
    }

    /// `[ literal, … ]`, the "[" at `open` already consumed.
    fn list(&mut self, open: usize) -> Result<Vec<(Literal, usize)>, ParseError> {
        self.open.push((open, '['));
        let mut items = Vec::new();
        if self.peek()?.tok == Tok::RBracket {
            self.next()?;
        } else {
            loop {
                let t = self.next()?;
                let lit = match &t.tok {
                    Tok::Str(s) => Literal::Str(s.clone()),
                    Tok::Num(n) => Literal::Num(*n),
                    Tok::Ident(name) if keyword(name).is_some() => keyword(name).expect("checked"),
                    Tok::LBracket => {
                        return Err(self.err(t.at, "lists cannot be nested; expected a value"));
                    }
                    Tok::Ident(name) if Field::from_name(name).is_some() => {
                        return Err(self.err(
                            t.at,
                            format!("lists hold values, found the field {name}; expected a value"),
                        ));
                    }
                    _ => {
                        return Err(
                            self.unexpected(&t, "a value (string, number, true, false or null)")
                        );
                    }
                };
                items.push((lit, t.at));
                let t = self.next()?;
                match t.tok {
                    Tok::Comma => {}
                    Tok::RBracket => break,
                    _ => return Err(self.unexpected(&t, "\",\" or \"]\"")),
                }
            }
        }
        self.open.pop();
        Ok(items)
    }

    /// Checks a call's arguments and builds its node; `close` is the offset of its ")".
    fn build(&self, func: Func, args: Vec<(Arg, usize)>, close: usize) -> Result<Expr, ParseError> {
        let name = func.name();
        match func {
            Func::And | Func::Or => {
                if args.is_empty() {
                    return Err(self.err(
                        close,
                        format!("{name}() needs at least one expression, found none"),
                    ));
                }
                let mut items = Vec::with_capacity(args.len());
                for (arg, off) in args {
                    match arg {
                        Arg::Expr(e) => items.push(e),
                        other => {
                            return Err(self.err(
                                off,
                                format!(
                                    "{name}() takes expressions such as eq(name, \"x\"), found {}",
                                    other.describe()
                                ),
                            ));
                        }
                    }
                }
                Ok(if func == Func::And {
                    Expr::And(items)
                } else {
                    Expr::Or(items)
                })
            }
            Func::Not => {
                let n = args.len();
                let mut it = args.into_iter();
                match (it.next(), it.next()) {
                    (None, _) => {
                        Err(self.err(close, "not() takes exactly one expression, found none"))
                    }
                    (Some(_), Some((_, off))) => Err(self.err(
                        off,
                        format!("not() takes exactly one expression, found {n}"),
                    )),
                    (Some((Arg::Expr(e), _)), None) => Ok(Expr::Not(Box::new(e))),
                    (Some((other, off)), None) => Err(self.err(
                        off,
                        format!(
                            "not() takes an expression such as eq(name, \"x\"), found {}",
                            other.describe()
                        ),
                    )),
                }
            }
            Func::Search => self.search(args, close),
            Func::Cmp(op) => self.comparison(op, args, close),
        }
    }

    fn search(&self, args: Vec<(Arg, usize)>, close: usize) -> Result<Expr, ParseError> {
        const USAGE: &str = "search(\"text\") or search(field, \"text\")";
        if args.len() > 2 {
            return Err(self.err(
                args[2].1,
                format!(
                    "search() takes one or two arguments, found {}; expected {USAGE}",
                    args.len()
                ),
            ));
        }
        let needs_text = || {
            self.err(
                close,
                format!("search() needs the text to look for; expected {USAGE}"),
            )
        };
        let mut it = args.into_iter();
        let (field, text) = match (it.next(), it.next()) {
            (None, _) => return Err(needs_text()),
            (Some((Arg::Lit(Literal::Str(text)), _)), None) => (None, text),
            (Some((Arg::Field(_), _)), None) => return Err(needs_text()),
            (Some((Arg::Field(f), f_off)), Some((second, off))) => {
                if !f.kind().searchable() {
                    return Err(self.err(
                        f_off,
                        format!(
                            "search() cannot look inside {}; searchable fields are {}",
                            f.name(),
                            searchable_names()
                        ),
                    ));
                }
                match second {
                    Arg::Lit(Literal::Str(text)) => (Some(f), text),
                    other => {
                        return Err(self.err(
                            off,
                            format!(
                                "search() expects a string to look for, found {}",
                                other.describe()
                            ),
                        ));
                    }
                }
            }
            (Some((other, off)), _) => {
                return Err(self.err(
                    off,
                    format!(
                        "search() expects a string or a field first, found {}; expected {USAGE}",
                        other.describe()
                    ),
                ));
            }
        };
        Ok(Expr::Search {
            field,
            text: text.to_lowercase(),
        })
    }

    fn comparison(
        &self,
        op: Op,
        args: Vec<(Arg, usize)>,
        close: usize,
    ) -> Result<Expr, ParseError> {
        let name = op.name();
        if args.len() < 2 {
            return Err(self.err(
                close,
                format!(
                    "{name}() takes a field and a value, found {} argument{}",
                    args.len(),
                    if args.len() == 1 { "" } else { "s" }
                ),
            ));
        }
        if args.len() > 2 {
            return Err(self.err(
                args[2].1,
                format!(
                    "{name}() takes a field and a value, found {} arguments; combine \
                     comparisons with and(…)",
                    args.len()
                ),
            ));
        }
        let mut it = args.into_iter();
        let (first, first_off) = it.next().expect("two");
        let (second, second_off) = it.next().expect("two");
        let field = match first {
            Arg::Field(f) => f,
            Arg::Lit(Literal::Str(s)) if Field::from_name(&s).is_some() => {
                return Err(self.err(
                    first_off,
                    format!(
                        "{name}() expects a field first, found string {s:?}; field names are not quoted"
                    ),
                ));
            }
            other => {
                return Err(self.err(
                    first_off,
                    format!(
                        "{name}() expects a field first, found {}; expected one of {}",
                        other.describe(),
                        field_names()
                    ),
                ));
            }
        };
        let kind = field.kind();
        if !kind.ops().contains(&op) {
            let f = field.name();
            let message = match (op, kind) {
                (_, Kind::Body) => {
                    let side = &f[..f.len() - 1];
                    format!(
                        "{f} can only be searched, as in search({f}, \"text\"); compare with \
                         {side}_key / {side}_value"
                    )
                }
                (Op::Has, _) => format!("has() applies to tags and metadata, not {f}; use eq()"),
                _ => format!(
                    "{name}() does not apply to {f}; it takes {}",
                    kind.ops()
                        .iter()
                        .map(|o| o.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Err(self.err(first_off, message));
        }
        let value = self.value(op, field, second, second_off)?;
        Ok(Expr::Cmp(Comparison { op, field, value }))
    }

    /// Checks that a comparison's value fits its comparator and field, and converts it.
    fn value(&self, op: Op, field: Field, arg: Arg, off: usize) -> Result<Literal, ParseError> {
        let name = op.name();
        match (op, arg) {
            (Op::In, Arg::List(items)) => Ok(Literal::List(
                items
                    .into_iter()
                    .map(|(lit, at)| self.scalar(field, lit, at))
                    .collect::<Result<_, _>>()?,
            )),
            (Op::In, other) => Err(self.err(
                off,
                format!(
                    "in() expects a list such as [\"a\", \"b\"], found {}",
                    other.describe()
                ),
            )),
            (_, Arg::List(_)) => Err(self.err(
                off,
                format!(
                    "{name}() does not take a list; use in({}, [...])",
                    field.name()
                ),
            )),
            (_, Arg::Lit(lit)) => match (op, field.kind(), lit) {
                (Op::Has, Kind::Blob, Literal::Str(s)) => match serde_json::from_str::<Value>(&s) {
                    Ok(v @ Value::Object(_)) => Ok(Literal::Json(v)),
                    Ok(_) => Err(self.err(
                        off,
                        "bad literal: has(metadata, …) expects a JSON object such as '{\"k\": \"v\"}'",
                    )),
                    Err(e) => Err(self.err(
                        off,
                        format!(
                            "bad literal: not JSON ({e}); expected a JSON object such as '{{\"k\": \"v\"}}'"
                        ),
                    )),
                },
                (Op::Has, Kind::Blob, other) => Err(self.err(
                    off,
                    format!(
                        "has(metadata, …) expects a JSON object string such as '{{\"k\": \"v\"}}', found {}",
                        describe_literal(&other)
                    ),
                )),
                (Op::Like, kind, Literal::Str(p)) => Ok(Literal::Str(if kind == Kind::Enum {
                    p.to_ascii_lowercase()
                } else {
                    p
                })),
                (Op::Like, _, other) => Err(self.err(
                    off,
                    format!(
                        "like() expects a pattern string such as \"%text%\", found {}",
                        describe_literal(&other)
                    ),
                )),
                (_, _, lit) => self.scalar(field, lit, off),
            },
            (_, other) => Err(self.err(
                off,
                format!("{name}() expects a value second, found {}", other.describe()),
            )),
        }
    }

    /// One value compared with `field`: type-checked and converted.
    fn scalar(&self, field: Field, lit: Literal, off: usize) -> Result<Literal, ParseError> {
        let wrong = |expected: &str, lit: &Literal| {
            self.err(
                off,
                format!(
                    "wrong value for {}: expected {expected}, found {}",
                    field.name(),
                    describe_literal(lit)
                ),
            )
        };
        let bad = |what: &str, lit: &Literal, expected: &str| {
            self.err(
                off,
                format!("bad {what} literal {lit}; expected {expected}"),
            )
        };
        match (field.kind(), lit) {
            (Kind::Key | Kind::Tags, Literal::Str(s)) => Ok(Literal::Str(s)),
            (Kind::Key, lit) => Err(wrong("a key string", &lit)),
            (Kind::Tags, lit) => Err(wrong("a tag string", &lit)),
            (_, Literal::Null) => Ok(Literal::Null),
            (Kind::Text, Literal::Str(s)) => Ok(Literal::Str(s)),
            (Kind::Enum, Literal::Str(s)) => Ok(Literal::Str(s.to_ascii_lowercase())),
            (Kind::Text | Kind::Enum, lit) => Err(wrong("a string or null", &lit)),
            (Kind::Number | Kind::Score, Literal::Num(n)) => Ok(Literal::Num(n)),
            (Kind::Number | Kind::Score, Literal::Str(s)) => match parse_number(s.trim()) {
                Some(n) => Ok(Literal::Num(n)),
                None => Err(bad(
                    "number",
                    &Literal::Str(s),
                    "a number such as 5 or 0.25",
                )),
            },
            (Kind::Number | Kind::Score, lit) => Err(wrong("a number or null", &lit)),
            (Kind::Latency, Literal::Num(n)) => Ok(Literal::Num(n)),
            (Kind::Latency, Literal::Str(s)) => match parse_duration(&s) {
                Some(n) => Ok(Literal::Num(n)),
                None => Err(bad(
                    "duration",
                    &Literal::Str(s),
                    "seconds or a duration such as \"5s\", \"500ms\", \"2m\", \"1h\"",
                )),
            },
            (Kind::Latency, lit) => Err(wrong("seconds or a duration string such as \"5s\"", &lit)),
            (Kind::Time, Literal::Str(s)) => match crate::model::parse_timestamp(&s) {
                Some(t) => Ok(Literal::Time(t.timestamp_micros())),
                None => Err(bad(
                    "timestamp",
                    &Literal::Str(s),
                    "an ISO-8601 time such as \"2023-07-15T12:34:56Z\"",
                )),
            },
            (Kind::Time, lit) => Err(wrong(
                "an ISO-8601 time string such as \"2023-07-15T12:34:56Z\"",
                &lit,
            )),
            (Kind::Bool, Literal::Bool(b)) => Ok(Literal::Bool(b)),
            (Kind::Bool, lit) => Err(wrong("true, false or null", &lit)),
            (Kind::Value, lit @ (Literal::Str(_) | Literal::Num(_) | Literal::Bool(_))) => Ok(lit),
            (Kind::Value, lit) => Err(wrong("a string, number, boolean or null", &lit)),
            (Kind::Blob | Kind::Body, lit) => Err(wrong("nothing (not comparable)", &lit)),
        }
    }
}

/// A quoted string with JSON escapes (`\" \' \\ \/ \b \f \n \r \t \uXXXX`, surrogate pairs
/// included), in either quote kind. Returns the text and the offset after the closing quote.
fn lex_string(src: &str, open: usize) -> Result<(String, usize), ParseError> {
    let quote = src.as_bytes()[open] as char;
    let mut out = String::new();
    let mut chars = src[open + 1..].char_indices();
    fn hex4(chars: &mut std::str::CharIndices) -> Option<u32> {
        let mut v = 0;
        for _ in 0..4 {
            let (_, c) = chars.next()?;
            v = v * 16 + c.to_digit(16)?;
        }
        Some(v)
    }
    while let Some((k, c)) = chars.next() {
        let at = open + 1 + k;
        if c == quote {
            return Ok((out, at + 1));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = chars.next() else { break };
        let bad = |what: &str| ParseError::at(src, at, format!("bad literal: {what}"));
        match e {
            '"' | '\'' | '\\' | '/' => out.push(e),
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'u' => {
                let hi = hex4(&mut chars)
                    .ok_or_else(|| bad("invalid \\u escape; expected four hex digits"))?;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    // A high surrogate must be followed by `\uDC00`–`\uDFFF`.
                    let lo = match (chars.next(), chars.next()) {
                        (Some((_, '\\')), Some((_, 'u'))) => hex4(&mut chars),
                        _ => None,
                    }
                    .filter(|lo| (0xDC00..0xE000).contains(lo))
                    .ok_or_else(|| bad("unpaired surrogate in \\u escape"))?;
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else {
                    hi
                };
                out.push(
                    char::from_u32(code).ok_or_else(|| bad("unpaired surrogate in \\u escape"))?,
                );
            }
            other => {
                return Err(bad(&format!(
                    "unknown escape \\{other}; expected one of \\\" \\' \\\\ \\/ \\n \\t \\r \\b \\f \\uXXXX"
                )));
            }
        }
    }
    Err(ParseError::at(
        src,
        open,
        format!(
            "bad literal: unterminated string starting at column {}; expected a closing {quote}",
            column_of(src, open)
        ),
    ))
}

/// A JSON-style number: `-? digits (. digits)? ([eE] [+-]? digits)?`.
fn parse_number(text: &str) -> Option<f64> {
    let b = text.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    text.parse().ok().filter(|n: &f64| n.is_finite())
}

/// `"5s"`, `"500ms"`, `"2m"`, `"1h"`, `"1.5s"`, `"10"` → seconds. Units (lower-case, an
/// optional space before them): none or s/sec/secs/second(s), ms, us/µs, m/min/mins/minute(s),
/// h/hr/hour(s), d/day(s).
pub fn parse_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s
        .find(|c: char| c.is_alphabetic() || c == ' ')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n = parse_number(num)?;
    let scale = match unit.trim_start() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86400.0,
        _ => return None,
    };
    Some(n * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> ParseError {
        match parse(src) {
            Ok(e) => panic!("{src} parsed as {e}"),
            Err(e) => e,
        }
    }

    /// Asserts the error's column, that the message says `what`, that offset and column agree,
    /// and the Display form.
    fn check(src: &str, column: usize, what: &str) -> ParseError {
        let e = err(src);
        assert!(e.message.contains(what), "{src}: {e:?} should say {what:?}");
        assert_eq!(e.column, column, "{src}: {e}\n{}", e.render(src));
        assert_eq!(src[..e.offset].chars().count() + 1, e.column, "{e:?}");
        assert!(e.to_string().contains(&format!("at column {column}")));
        assert_eq!(
            e.to_string().matches("at column").count(),
            e.message.matches("at column").count().max(1)
        );
        e
    }

    #[test]
    fn unbalanced_parentheses() {
        check(
            r#"and(eq(name, "x")"#,
            4,
            r#"unbalanced parentheses: "(" at column 4 is never closed"#,
        );
        check(
            r#"eq(name, "x"))"#,
            14,
            r#"unbalanced parentheses: unexpected ")""#,
        );
        check(
            r#"and(eq(name, "x"), gt(latency, 5)))"#,
            35,
            r#"unexpected ")""#,
        );
        check(r#"eq(name, "x""#, 3, "never closed");
        check(
            r#"in(tags, ["a", "b")"#,
            10,
            r#"unbalanced brackets: "[" at column 10 is never closed"#,
        );
        check(r#"in(tags, ["a", "b""#, 10, "never closed");
        check(r#"and(eq(name, "x"), gt(latency, 5)"#, 4, "never closed");
        check("(eq(name, 'x'))", 1, r#"unexpected "(""#);
    }

    #[test]
    fn unknown_names() {
        let e = check(
            r#"eqq(name, "x")"#,
            1,
            r#"unknown comparator "eqq" (did you mean eq?); expected one of and, or, not, search, eq, neq"#,
        );
        assert!(e.message.contains("like"), "{e}");
        check(
            r#"and(eq(name, "x"), gtt(latency, 1))"#,
            20,
            r#"unknown comparator "gtt" (did you mean gt?)"#,
        );
        check(
            r#"frobnicate(name, "x")"#,
            1,
            r#"unknown comparator "frobnicate"; expected"#,
        );
        let e = check(
            r#"eq(nme, "x")"#,
            4,
            r#"unknown field "nme" (did you mean name?); expected one of id, name, run_type"#,
        );
        assert!(e.message.contains("metadata_key"), "{e}");
        check(r#"name("x")"#, 1, "is a field, not a function");
        check(r#"eq(latency, nme)"#, 13, r#"unknown field "nme""#);
        check(r#"and(eq, gt(latency, 1))"#, 7, r#"expected "(" after eq"#);
    }

    #[test]
    fn bad_literals() {
        check(
            r#"eq(name, "x)"#,
            10,
            "bad literal: unterminated string starting at column 10",
        );
        check("eq(name, 'it\\'s)", 10, "unterminated string");
        check(
            "gt(total_tokens, 1.2.3)",
            18,
            r#"bad literal: "1.2.3" is not a number"#,
        );
        check("gt(total_tokens, 1.)", 18, "not a number");
        check(
            "gt(latency, 5s)",
            13,
            r#"durations must be quoted, e.g. "5s""#,
        );
        check(
            r#"gt(latency, "5 parsecs")"#,
            13,
            r#"bad duration literal "5 parsecs""#,
        );
        check(r#"gt(latency, "five")"#, 13, "bad duration literal");
        check(
            r#"gt(start_time, "last tuesday")"#,
            16,
            "bad timestamp literal",
        );
        check(r#"gt(total_cost, "cheap")"#, 16, "bad number literal");
        check(r#"eq(name, "a\qb")"#, 12, r#"unknown escape \q"#);
        check(r#"eq(name, "\u12")"#, 11, "invalid \\u escape");
        check(r#"eq(name, "\ud83d")"#, 11, "unpaired surrogate");
        check("eq(name, “x”)", 10, "straight quotes");
        check("eq(name, 'x') # comment", 15, "unexpected character '#'");
        check(r#"has(metadata, '{"k": ')"#, 15, "bad literal: not JSON");
        check(r#"has(metadata, '[1]')"#, 15, "JSON object");
    }

    #[test]
    fn wrong_kinds_and_arity() {
        check(
            "eq(name)",
            8,
            "eq() takes a field and a value, found 1 argument",
        );
        check("eq()", 4, "found 0 arguments");
        check(r#"eq(name, "x", "y")"#, 15, "found 3 arguments");
        check("and()", 5, "and() needs at least one expression");
        check("or()", 4, "or() needs at least one expression");
        check(
            r#"not(eq(name, "x"), eq(name, "y"))"#,
            20,
            "not() takes exactly one expression, found 2",
        );
        check("not()", 5, "not() takes exactly one expression, found none");
        check(r#"and(name, eq(name, "x"))"#, 5, "and() takes expressions");
        check(r#"eq("name", "x")"#, 4, "field names are not quoted");
        check(r#"eq(5, name)"#, 4, "expects a field first");
        check(
            r#"eq(name, latency)"#,
            10,
            "expects a value second, found the field latency",
        );
        check(r#"in(name, "x")"#, 10, "in() expects a list");
        check(
            r#"eq(name, ["x"])"#,
            10,
            "does not take a list; use in(name, [...])",
        );
        check(r#"in(name, ["x", ["y"]])"#, 16, "lists cannot be nested");
        check(r#"in(name, ["x", name])"#, 16, "lists hold values");
        check(
            r#"in(latency, [1, "5 parsecs"])"#,
            17,
            "bad duration literal",
        );
        check(
            r#"has(name, "x")"#,
            5,
            "has() applies to tags and metadata, not name",
        );
        check(r#"gt(tags, "x")"#, 4, "gt() does not apply to tags");
        check(r#"eq(inputs, "x")"#, 4, "inputs can only be searched");
        check(
            r#"eq(name, 5)"#,
            10,
            "wrong value for name: expected a string or null, found number 5",
        );
        check(r#"eq(is_root, "yes")"#, 13, "expected true, false or null");
        check(r#"eq(metadata_key, null)"#, 18, "expected a key string");
        check(r#"gt(start_time, 5)"#, 16, "ISO-8601");
        check(r#"like(name, 5)"#, 12, "pattern string");
        check(r#"search()"#, 8, "search() needs the text");
        check(
            r#"search(latency, "x")"#,
            8,
            "search() cannot look inside latency",
        );
        check(r#"search(name, 5)"#, 14, "expects a string to look for");
        check(r#"search(5)"#, 8, "expects a string or a field first");
        check(r#"search(name)"#, 12, "needs the text");
        check(r#"search("a", "b", "c")"#, 18, "one or two arguments");
    }

    #[test]
    fn trailing_garbage_and_empty_input() {
        check(
            r#"eq(name, "x") eq(name, "y")"#,
            15,
            "after the end of the expression",
        );
        check(r#"eq(name, "x"),"#, 14, r#"unexpected ",""#);
        check("", 1, "empty filter");
        check("   ", 4, "empty filter");
        check(r#""x""#, 1, "expected a function call");
        check(
            r#"eq(name, "x",)"#,
            14,
            r#"unexpected ")"; expected a function call, a field or a value"#,
        );
        check(
            r#"eq(name "x")"#,
            9,
            r#"unexpected string "x"; expected "," or ")""#,
        );
    }

    #[test]
    fn errors_come_in_source_order() {
        // The unknown comparator comes before the bad string, so it is the one reported.
        check(r#"eqq(name, "x)"#, 1, "unknown comparator");
        check(r#"eq(nme, 1.2.3)"#, 4, "unknown field");
    }

    #[test]
    fn render_puts_the_caret_under_the_character() {
        let src = r#"and(eq(name, "café ☕"), eq(nmae, "x"))"#;
        let e = err(src);
        assert_eq!(e.column, 28);
        assert_eq!(e.offset, src.find("nmae").unwrap());
        assert_eq!(
            e.render(src),
            format!("error: {}\n  {src}\n  {}^", e.message, " ".repeat(27))
        );
        let rendered = e.render(src);
        let lines: Vec<&str> = rendered.lines().collect();
        let caret = lines[2].chars().count() - 1;
        assert_eq!(lines[1].chars().nth(caret), Some('n'));

        // Several lines: only the line of the error, tabs kept.
        let src = "and(\n\teq(name, 'x'),\n\tgt(latncy, 1))";
        let e = err(src);
        assert_eq!(
            e.render(src),
            format!("error: {}\n  \tgt(latncy, 1))\n  \t   ^", e.message)
        );
        // At the end of the filter, the unclosed "(" is blamed.
        let e = err("eq(name, 'é'");
        assert_eq!(e.column, 3);
        let src = "eq(name, 'é') )";
        let e = err(src);
        assert_eq!(e.column, 15);
        assert!(e.render(src).ends_with(&format!("\n  {}^", " ".repeat(14))));
    }

    #[test]
    fn literals() {
        let value = |src: &str| match parse(src).unwrap() {
            Expr::Cmp(c) => c.value,
            other => panic!("{other:?}"),
        };
        assert_eq!(value("eq(metadata_value, -1.5e2)"), Literal::Num(-150.0));
        assert_eq!(
            value("eq(metadata_value, 'it\\'s')"),
            Literal::Str("it's".into())
        );
        assert_eq!(
            value(r#"eq(metadata_value, "\ud83d\ude00")"#),
            Literal::Str("😀".into())
        );
        assert_eq!(
            value(r#"eq(metadata_value, 'a\"b\\c\n\t\/')"#),
            Literal::Str("a\"b\\c\n\t/".into())
        );
        assert_eq!(value("eq(metadata_value, NULL)"), Literal::Null);
        assert_eq!(value("EQ(IS_ROOT, True)"), Literal::Bool(true));
        assert_eq!(value(r#"gt(latency, "1.5s")"#), Literal::Num(1.5));
        assert_eq!(value(r#"gt(latency, " 250 ms ")"#), Literal::Num(0.25));
        assert_eq!(value(r#"gt(latency, "1h")"#), Literal::Num(3600.0));
        assert_eq!(value("gt(latency, 2)"), Literal::Num(2.0));
        assert_eq!(value("eq(status, 'ERROR')"), Literal::Str("error".into()));
        assert_eq!(
            value(r#"in(run_type, ["LLM", "Chain"])"#),
            Literal::List(vec![
                Literal::Str("llm".into()),
                Literal::Str("chain".into())
            ])
        );
        assert_eq!(value("in(tags, [])"), Literal::List(vec![]));
        assert_eq!(
            value(r#"gt(start_time, "2023-07-15T12:34:56Z")"#),
            Literal::Time(1_689_424_496_000_000)
        );
        assert!(matches!(
            value(r#"has(metadata, '{"a": 1}')"#),
            Literal::Json(_)
        ));
        assert_eq!(parse_duration("5 parsecs"), None);
        assert_eq!(parse_duration("500ms"), Some(0.5));
        assert_eq!(parse_duration("2m"), Some(120.0));
        // Whitespace anywhere between tokens, newlines included.
        assert_eq!(
            parse("and (\n eq ( name , 'x' ) ,\tgt(latency,1) )")
                .unwrap()
                .to_string(),
            r#"and(eq(name, "x"), gt(latency, 1))"#
        );
    }
}
