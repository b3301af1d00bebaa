//! A hand-written recursive-descent parser: small, fast, and precise about where input is wrong.

use std::fmt;

use super::ast::{Comparison, Expr, FIELDS, Field, Literal, OPS, Op};

/// A syntax or meaning error, with the byte offset and 1-based character column where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub column: usize,
    pub message: String,
}

impl ParseError {
    fn at(src: &str, offset: usize, message: impl Into<String>) -> Self {
        let offset = offset.min(src.len());
        let column = src[..offset].chars().count() + 1;
        ParseError {
            offset,
            column,
            message: message.into(),
        }
    }

    /// The message, the filter, and a caret under the offending character.
    pub fn render(&self, src: &str) -> String {
        format!(
            "error: {}\n  {}\n  {}^",
            self.message,
            src,
            " ".repeat(self.column - 1)
        )
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at column {}", self.message, self.column)
    }
}

impl std::error::Error for ParseError {}

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

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("{s:?}"),
            Tok::Str(s) => format!("string {:?}", s),
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

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => out.push((Tok::LParen, i)),
            b')' => out.push((Tok::RParen, i)),
            b'[' => out.push((Tok::LBracket, i)),
            b']' => out.push((Tok::RBracket, i)),
            b',' => out.push((Tok::Comma, i)),
            b'"' | b'\'' => {
                let (text, end) = lex_string(src, i)?;
                out.push((Tok::Str(text), start));
                i = end;
                continue;
            }
            b'-' | b'0'..=b'9' | b'.' => {
                let mut j = i + 1;
                while j < bytes.len()
                    && (bytes[j].is_ascii_alphanumeric()
                        || bytes[j] == b'.'
                        || bytes[j] == b'-'
                        || bytes[j] == b'+')
                {
                    j += 1;
                }
                let text = &src[i..j];
                let n: f64 = text
                    .parse()
                    .ok()
                    .filter(|n: &f64| n.is_finite())
                    .ok_or_else(|| {
                        ParseError::at(src, i, format!("bad literal: {text:?} is not a number"))
                    })?;
                out.push((Tok::Num(n), start));
                i = j;
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let mut j = i + 1;
                while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                    j += 1;
                }
                out.push((Tok::Ident(src[i..j].to_string()), start));
                i = j;
                continue;
            }
            _ => {
                let ch = src[i..].chars().next().expect("in bounds");
                return Err(ParseError::at(
                    src,
                    i,
                    format!("unexpected character {ch:?}"),
                ));
            }
        }
        i += 1;
    }
    out.push((Tok::End, src.len()));
    Ok(out)
}

/// A quoted string with JSON-style escapes, in either quote kind.
fn lex_string(src: &str, open: usize) -> Result<(String, usize), ParseError> {
    let quote = src.as_bytes()[open] as char;
    let mut out = String::new();
    let mut chars = src[open + 1..].char_indices();
    while let Some((k, c)) = chars.next() {
        let at = open + 1 + k;
        match c {
            c if c == quote => return Ok((out, at + 1)),
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                match e {
                    '"' | '\'' | '\\' | '/' => out.push(e),
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'u' => {
                        let hex: String = chars.by_ref().take(4).map(|(_, c)| c).collect();
                        let code = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| {
                                ParseError::at(
                                    src,
                                    at,
                                    format!("bad literal: invalid escape \\u{hex}"),
                                )
                            })?;
                        out.push(code);
                    }
                    other => {
                        return Err(ParseError::at(
                            src,
                            at,
                            format!("bad literal: unknown escape \\{other}"),
                        ));
                    }
                }
            }
            c => out.push(c),
        }
    }
    Err(ParseError::at(
        src,
        open,
        format!(
            "bad literal: unterminated string starting at column {}",
            src[..open].chars().count() + 1
        ),
    ))
}

struct Parser<'s> {
    src: &'s str,
    toks: Vec<(Tok, usize)>,
    pos: usize,
    /// Offsets of "(" still open, for "never closed" errors.
    open: Vec<usize>,
}

/// Parses a filter expression.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let toks = lex(src)?;
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        open: Vec::new(),
    };
    if p.peek() == &Tok::End {
        return Err(p.error_here("empty filter; expected a function call such as eq(name, \"x\")"));
    }
    let expr = p.call()?;
    match p.peek() {
        Tok::End => Ok(expr),
        Tok::RParen => Err(p.error_here("unbalanced parentheses: unexpected \")\"")),
        other => Err(p.error_here(format!(
            "unexpected {} after the end of the expression",
            other.describe()
        ))),
    }
}

impl<'s> Parser<'s> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn offset(&self) -> usize {
        self.toks[self.pos].1
    }

    fn bump(&mut self) -> (Tok, usize) {
        let t = self.toks[self.pos].clone();
        if t.0 != Tok::End {
            self.pos += 1;
        }
        t
    }

    fn error_here(&self, message: impl Into<String>) -> ParseError {
        ParseError::at(self.src, self.offset(), message)
    }

    /// The error for a token that should have been `expected`; at the end, blames the
    /// innermost unclosed parenthesis.
    fn unexpected(&self, expected: &str) -> ParseError {
        if self.peek() == &Tok::End
            && let Some(&open) = self.open.last()
        {
            let col = self.src[..open].chars().count() + 1;
            return ParseError::at(
                self.src,
                open,
                format!("unbalanced parentheses: \"(\" at column {col} is never closed"),
            );
        }
        self.error_here(format!(
            "expected {expected}, found {}",
            self.peek().describe()
        ))
    }

    fn expect(&mut self, tok: Tok, expected: &str) -> Result<usize, ParseError> {
        if *self.peek() == tok {
            Ok(self.bump().1)
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn call(&mut self) -> Result<Expr, ParseError> {
        let (tok, at) = self.bump();
        let Tok::Ident(name) = tok else {
            self.pos -= usize::from(tok != Tok::End);
            return Err(self.unexpected("a function such as and, or, eq"));
        };
        let lname = name.to_ascii_lowercase();
        let known = matches!(lname.as_str(), "and" | "or" | "not" | "search")
            || OPS.iter().any(|(n, _)| *n == lname);
        if !known {
            let kind = if Field::from_name(&name).is_some() {
                "a field cannot stand alone"
            } else {
                "unknown comparator"
            };
            return Err(ParseError::at(
                self.src,
                at,
                format!(
                    "{kind} {name:?}; expected one of and, or, not, search, {}",
                    OPS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let open = self.expect(Tok::LParen, &format!("\"(\" after {name}"))?;
        self.open.push(open);
        let args = self.args()?;
        self.open.pop();
        let arity = |n: usize, what: &str| -> Result<(), ParseError> {
            if args.len() == n {
                Ok(())
            } else {
                Err(ParseError::at(
                    self.src,
                    at,
                    format!("{lname}() takes {what}, got {} argument(s)", args.len()),
                ))
            }
        };
        match lname.as_str() {
            "and" | "or" => {
                if args.is_empty() {
                    return Err(ParseError::at(
                        self.src,
                        at,
                        format!("{lname}() needs at least one argument"),
                    ));
                }
                let mut items = Vec::with_capacity(args.len());
                for (arg, off) in args {
                    match arg {
                        Arg::Expr(e) => items.push(e),
                        other => {
                            return Err(ParseError::at(
                                self.src,
                                off,
                                format!("{lname}() takes expressions, found {}", other.describe()),
                            ));
                        }
                    }
                }
                Ok(if lname == "and" {
                    Expr::And(items)
                } else {
                    Expr::Or(items)
                })
            }
            "not" => {
                arity(1, "exactly one expression")?;
                match args.into_iter().next().expect("one") {
                    (Arg::Expr(e), _) => Ok(Expr::Not(Box::new(e))),
                    (other, off) => Err(ParseError::at(
                        self.src,
                        off,
                        format!("not() takes an expression, found {}", other.describe()),
                    )),
                }
            }
            "search" => {
                let mut it = args.into_iter();
                match (it.next(), it.next(), it.next()) {
                    (Some((Arg::Lit(Literal::Str(text)), _)), None, None) => {
                        Ok(Expr::Search { field: None, text })
                    }
                    (Some((Arg::Field(f), _)), Some((Arg::Lit(Literal::Str(text)), _)), None) => {
                        Ok(Expr::Search {
                            field: Some(f),
                            text,
                        })
                    }
                    _ => Err(ParseError::at(
                        self.src,
                        at,
                        "search() takes a string, or a field and a string: search(\"text\") or search(name, \"text\")",
                    )),
                }
            }
            _ => {
                let op = OPS
                    .iter()
                    .find(|(n, _)| *n == lname)
                    .map(|(_, o)| *o)
                    .expect("checked above");
                arity(2, "a field and a value")?;
                let mut it = args.into_iter();
                let (first, first_off) = it.next().expect("two");
                let (second, second_off) = it.next().expect("two");
                let Arg::Field(field) = first else {
                    return Err(ParseError::at(
                        self.src,
                        first_off,
                        format!(
                            "{lname}() expects a field first, found {}",
                            first.describe()
                        ),
                    ));
                };
                let Arg::Lit(value) = second else {
                    return Err(ParseError::at(
                        self.src,
                        second_off,
                        format!(
                            "{lname}() expects a value second, found {}",
                            second.describe()
                        ),
                    ));
                };
                let value = self.check_value(op, field, value, second_off)?;
                Ok(Expr::Cmp(Comparison { op, field, value }))
            }
        }
    }

    fn args(&mut self) -> Result<Vec<(Arg, usize)>, ParseError> {
        let mut args = Vec::new();
        if *self.peek() == Tok::RParen {
            self.bump();
            return Ok(args);
        }
        loop {
            let off = self.offset();
            args.push((self.arg()?, off));
            match self.peek() {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RParen => {
                    self.bump();
                    return Ok(args);
                }
                _ => return Err(self.unexpected("\",\" or \")\"")),
            }
        }
    }

    fn arg(&mut self) -> Result<Arg, ParseError> {
        let off = self.offset();
        match self.peek().clone() {
            Tok::Ident(name) => {
                if self
                    .toks
                    .get(self.pos + 1)
                    .is_some_and(|(t, _)| *t == Tok::LParen)
                {
                    return self.call().map(Arg::Expr);
                }
                self.bump();
                match name.to_ascii_lowercase().as_str() {
                    "null" => Ok(Arg::Lit(Literal::Null)),
                    "true" => Ok(Arg::Lit(Literal::Bool(true))),
                    "false" => Ok(Arg::Lit(Literal::Bool(false))),
                    _ => match Field::from_name(&name) {
                        Some(f) => Ok(Arg::Field(f)),
                        None => Err(ParseError::at(
                            self.src,
                            off,
                            format!(
                                "unknown field {name:?}; expected one of {}",
                                FIELDS
                                    .iter()
                                    .map(|(n, _)| *n)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )),
                    },
                }
            }
            Tok::Str(s) => {
                self.bump();
                Ok(Arg::Lit(Literal::Str(s)))
            }
            Tok::Num(n) => {
                self.bump();
                Ok(Arg::Lit(Literal::Num(n)))
            }
            Tok::LBracket => {
                let open = self.bump().1;
                self.open.push(open);
                let mut items = Vec::new();
                if *self.peek() != Tok::RBracket {
                    loop {
                        match self.arg()? {
                            Arg::Lit(Literal::List(_)) => {
                                return Err(ParseError::at(
                                    self.src,
                                    off,
                                    "lists cannot be nested",
                                ));
                            }
                            Arg::Lit(l) => items.push(l),
                            other => {
                                return Err(ParseError::at(
                                    self.src,
                                    off,
                                    format!("lists hold literals, found {}", other.describe()),
                                ));
                            }
                        }
                        match self.peek() {
                            Tok::Comma => {
                                self.bump();
                            }
                            Tok::RBracket => break,
                            _ => return Err(self.unexpected("\",\" or \"]\"")),
                        }
                    }
                }
                self.expect(Tok::RBracket, "\"]\"")?;
                self.open.pop();
                Ok(Arg::Lit(Literal::List(items)))
            }
            _ => Err(self.unexpected("a field, a value or a function call")),
        }
    }

    /// Checks that a value fits its comparison, converting durations and timestamps.
    fn check_value(
        &self,
        op: Op,
        field: Field,
        value: Literal,
        off: usize,
    ) -> Result<Literal, ParseError> {
        let err = |m: String| ParseError::at(self.src, off, m);
        match (op, &value) {
            (Op::In, Literal::List(_)) => {}
            (Op::In, _) => return Err(err("in() expects a list such as [\"a\", \"b\"]".into())),
            (_, Literal::List(_)) => {
                return Err(err(format!(
                    "{}() does not take a list; use in()",
                    op.name()
                )));
            }
            _ => {}
        }
        if op == Op::Has && !matches!(field, Field::Tags | Field::Metadata) {
            return Err(err(format!(
                "has() works on tags and metadata, not {}",
                field.name()
            )));
        }
        let convert = |lit: Literal| -> Result<Literal, ParseError> {
            match (field, lit) {
                (Field::Latency, Literal::Str(s)) => parse_duration(&s)
                    .map(Literal::Num)
                    .ok_or_else(|| err(format!("bad literal: {s:?} is not a duration; expected seconds or e.g. \"5s\", \"500ms\", \"2m\""))),
                (f, Literal::Str(s)) if f.is_time() => crate::model::parse_timestamp(&s)
                    .map(|t| Literal::Time(t.timestamp_micros()))
                    .ok_or_else(|| err(format!("bad literal: {s:?} is not a timestamp; expected ISO-8601 such as \"2023-07-15T12:34:56Z\""))),
                (_, lit) => Ok(lit),
            }
        };
        match value {
            Literal::List(items) => Ok(Literal::List(
                items.into_iter().map(convert).collect::<Result<_, _>>()?,
            )),
            lit => convert(lit),
        }
    }
}

enum Arg {
    Expr(Expr),
    Field(Field),
    Lit(Literal),
}

impl Arg {
    fn describe(&self) -> String {
        match self {
            Arg::Expr(e) => format!("the expression {e}"),
            Arg::Field(f) => format!("the field {}", f.name()),
            Arg::Lit(l) => format!("the value {l}"),
        }
    }
}

/// `"5s"`, `"500ms"`, `"2m"`, `"1h"`, `"1.5s"`, `"10"` → seconds.
pub fn parse_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.trim().parse().ok().filter(|n: &f64| n.is_finite())?;
    let scale = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return None,
    };
    Some(n * scale)
}
