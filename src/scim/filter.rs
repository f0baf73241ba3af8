//! SCIM filters: the filter grammar of RFC 7644 §3.4.2.2 (ABNF in Figure 1) parsed into an AST, the PATCH
//! `path` grammar of RFC 7644 §3.5.2, plain attribute paths (sortBy, attributes), and the in-memory
//! evaluation of a value filter against one element of a multi-valued attribute (PATCH filtered paths).
//!
//! Hostile input never panics, overflows the stack or hangs: the input length, the nesting depth
//! (parentheses, `not`, value paths) and the number of comparison terms are capped, and the parser is
//! recursive only to the depth cap. Every error is `invalidFilter` (or `invalidPath` for paths) with a
//! detail that says what was expected and at which character offset.

use crate::scim::error::{ScimError, ScimResult};
use serde_json::Value;
use std::cmp::Ordering;
use std::fmt;

/// Longest filter or path accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 8192;
/// Deepest nesting of parentheses, `not (...)` and value paths.
pub const MAX_DEPTH: usize = 32;
/// Most attribute expressions (comparisons and `pr`) in one filter.
pub const MAX_TERMS: usize = 200;

/// `[urn ":"] ATTRNAME ["." subAttr]` (RFC 7644 §3.4.2.2, Figure 1). Names are kept exactly as written;
/// matching them case-insensitively (RFC 7643 §2.1) is the schema layer's job.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub attr: String,
    pub sub_attr: Option<String>,
}

impl AttrPath {
    /// A path of one attribute name, no URN, no sub-attribute.
    pub fn simple(attr: impl Into<String>) -> Self {
        AttrPath { urn: None, attr: attr.into(), sub_attr: None }
    }

    /// `attr` or `attr.subAttr`, without the URN.
    pub fn dotted(&self) -> String {
        match &self.sub_attr {
            Some(sub) => format!("{}.{}", self.attr, sub),
            None => self.attr.clone(),
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.dotted())
    }
}

/// The attribute operators of RFC 7644 §3.4.2.2, Table 3 (`pr` is `Filter::Present`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Every comparison operator of RFC 7644 §3.4.2.2 (`pr` is a filter of its own).
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// Operators are case-insensitive (RFC 7644 §3.4.2.2).
    fn from_word(w: &str) -> Option<CompareOp> {
        Self::ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(w))
    }

    /// gt / ge / lt / le
    pub fn is_ordering(self) -> bool {
        matches!(self, CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le)
    }

    /// co / sw / ew
    pub fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `compValue = false / null / true / number / string` (RFC 7644 §3.4.2.2, Figure 1). dateTime values
/// are strings.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    String(String),
    Number(serde_json::Number),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Present(AttrPath),
    Compare(AttrPath, CompareOp, Literal),
    Not(Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    /// attrPath "[" valFilter "]": the inner filter's paths are RELATIVE to one element of the multi-valued attr
    ValuePath(AttrPath, Box<Filter>),
}

/// A PATCH `path` (RFC 7644 §3.5.2): `attrPath / valuePath [subAttr]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub value_filter: Option<Filter>,
    pub sub_attr: Option<String>,
}

/// Parses a `filter` query parameter (RFC 7644 §3.4.2.2). Errors are `invalidFilter`.
pub fn parse_filter(input: &str) -> ScimResult<Filter> {
    parse_filter_inner(input).map_err(ScimError::invalid_filter)
}

fn parse_filter_inner(input: &str) -> Result<Filter, String> {
    if input.len() > MAX_FILTER_LEN {
        return Err(format!("filter is too long ({} bytes; at most {MAX_FILTER_LEN} are accepted)", input.len()));
    }
    if input.trim().is_empty() {
        return Err("filter is empty".to_string());
    }
    let toks = lex(input, 0, input.len())?;
    let mut p = Parser::new(input, toks, input.len(), false);
    let f = p.parse_or()?;
    match p.peek() {
        None => Ok(f),
        Some(t) => Err(p.unexpected_after_expr(t)),
    }
}

/// Parses a PATCH operation's `path` (RFC 7644 §3.5.2), e.g. `members[value eq "x"]`,
/// `emails[type eq "work"].value`, `urn:...:enterprise:2.0:User:manager.value`. Errors are `invalidPath`.
pub fn parse_patch_path(input: &str) -> ScimResult<PatchPath> {
    parse_patch_path_inner(input).map_err(|e| ScimError::invalid_path(format!("invalid path: {e}")))
}

fn parse_patch_path_inner(input: &str) -> Result<PatchPath, String> {
    if input.len() > MAX_FILTER_LEN {
        return Err(format!("path is too long ({} bytes; at most {MAX_FILTER_LEN} are accepted)", input.len()));
    }
    if input.trim().is_empty() {
        return Err("path is empty".to_string());
    }
    let Some(open) = input.find('[') else {
        let attr = attr_path_at(input, input, 0)?;
        return Ok(PatchPath { attr, value_filter: None, sub_attr: None });
    };
    let attr = attr_path_at(input, &input[..open], 0)?;
    if attr.sub_attr.is_some() {
        return Err(format!(
            "a value filter must follow a multi-valued attribute, not the sub-attribute \"{}\" (offset {})",
            attr.dotted(),
            char_offset(input, open)
        ));
    }
    let close = find_closing_bracket(input, open + 1)
        .ok_or_else(|| format!("'[' at offset {} has no matching ']'", char_offset(input, open)))?;
    let toks = lex(input, open + 1, close)?;
    let mut p = Parser::new(input, toks, close, true);
    p.depth = 1;
    let inner = p.parse_or()?;
    if let Some(t) = p.peek() {
        return Err(p.unexpected_after_expr(t));
    }
    let rest = &input[close + 1..];
    let sub_attr = if rest.is_empty() {
        None
    } else if let Some(name) = rest.strip_prefix('.') {
        if !is_attr_name(name) {
            return Err(format!(
                "expected a sub-attribute name after \"].\" at offset {}, found \"{}\"",
                char_offset(input, close + 2),
                shorten(name)
            ));
        }
        Some(name.to_string())
    } else {
        return Err(format!(
            "expected end of path or \".subAttribute\" after ']' at offset {}, found \"{}\"",
            char_offset(input, close + 1),
            shorten(rest)
        ));
    };
    Ok(PatchPath { attr, value_filter: Some(inner), sub_attr })
}

/// Parses a plain attribute path (`sortBy`, `attributes`, `excludedAttributes`). Errors are
/// `invalidPath`.
pub fn parse_attr_path(input: &str) -> ScimResult<AttrPath> {
    if input.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_path(format!("attribute path is too long ({} bytes)", input.len())));
    }
    let s = input.trim();
    attr_path_at(s, s, 0).map_err(ScimError::invalid_path)
}

/// Evaluates a value filter against ONE element of a multi-valued attribute (PATCH on a single
/// resource; never used for listing). Paths in `filter` are relative to the element (`type`, `value`,
/// `display`); for an element that is not an object (a multi-valued primitive), `value` names the
/// element itself. `case_exact(sub_attr_name)` tells whether string comparison is case-sensitive;
/// case-insensitive comparison folds with Unicode lower-casing. Comparing values of different JSON
/// types is false (so `ne` is true). Two dateTime strings are ordered by instant.
pub fn matches_element(filter: &Filter, element: &Value, case_exact: &dyn Fn(&str) -> bool) -> bool {
    match filter {
        Filter::Present(p) => lookup(element, p).is_some_and(is_present_value),
        Filter::Compare(p, op, lit) => compare_value(lookup(element, p), *op, lit, case_exact(&p.dotted())),
        Filter::Not(f) => !matches_element(f, element, case_exact),
        Filter::And(a, b) => matches_element(a, element, case_exact) && matches_element(b, element, case_exact),
        Filter::Or(a, b) => matches_element(a, element, case_exact) || matches_element(b, element, case_exact),
        // The grammar does not allow a value path inside a value filter.
        Filter::ValuePath(..) => false,
    }
}

// ---------------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum TokKind<'a> {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Str(String),
    Word(&'a str),
}

#[derive(Debug, Clone, PartialEq)]
struct Token<'a> {
    kind: TokKind<'a>,
    /// Byte offset in the whole input.
    start: usize,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_delim(b: u8) -> bool {
    is_space(b) || matches!(b, b'(' | b')' | b'[' | b']' | b'"')
}

/// Character (not byte) offset of byte offset `byte` in `input`, for error messages.
fn char_offset(input: &str, byte: usize) -> usize {
    input.get(..byte).map_or(byte, |s| s.chars().count())
}

fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}...")
    }
}

/// Byte offset just past the end of the string literal that starts at `start` (a '"'), if terminated.
fn string_end(bytes: &[u8], start: usize, end: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < end {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Finds the first ']' at or after `from` that is not inside a string literal.
fn find_closing_bracket(input: &str, from: usize) -> Option<usize> {
    let bytes = input.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = string_end(bytes, i, bytes.len())?,
            b']' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Tokenises `input[from..to]`; token offsets are relative to the whole `input`.
fn lex(input: &str, from: usize, to: usize) -> Result<Vec<Token<'_>>, String> {
    let bytes = input.as_bytes();
    let mut toks = Vec::new();
    let mut i = from;
    while i < to {
        let b = bytes[i];
        let start = i;
        let kind = match b {
            _ if is_space(b) => {
                i += 1;
                continue;
            }
            b'(' => TokKind::LParen,
            b')' => TokKind::RParen,
            b'[' => TokKind::LBracket,
            b']' => TokKind::RBracket,
            b'"' => {
                let end = string_end(bytes, start, to)
                    .ok_or_else(|| format!("unterminated string starting at offset {}", char_offset(input, start)))?;
                i = end;
                // RFC 7644 §3.4.2.2: string values are JSON strings (RFC 7159 §7), escapes included.
                let s: String = serde_json::from_str(&input[start..end]).map_err(|e| {
                    let msg = e.to_string();
                    let msg = msg.split(" at line ").next().unwrap_or("");
                    format!("invalid string at offset {}: {msg}", char_offset(input, start))
                })?;
                // No stored value holds a NUL, and SQLite's text functions stop at one: an escaped NUL is refused
                // like a raw one (which JSON does not allow in a string).
                if s.contains('\0') {
                    return Err(format!(
                        "invalid string at offset {}: a NUL character (\\u0000) cannot appear in a value",
                        char_offset(input, start)
                    ));
                }
                toks.push(Token { kind: TokKind::Str(s), start });
                continue;
            }
            _ => {
                while i < to && !is_delim(bytes[i]) {
                    i += 1;
                }
                toks.push(Token { kind: TokKind::Word(&input[start..i]), start });
                continue;
            }
        };
        i += 1;
        toks.push(Token { kind, start });
    }
    Ok(toks)
}

// ---------------------------------------------------------------------------------------------------
// Attribute paths

/// `ATTRNAME = ALPHA *(nameChar)`, `nameChar = "-" / "_" / DIGIT / ALPHA` (RFC 7644 §3.4.2.2), plus
/// `$ref` (RFC 7643 §2.4).
fn is_attr_name(s: &str) -> bool {
    if s == "$ref" {
        return true;
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn split_attr(path: &str) -> Result<(String, Option<String>), String> {
    let mut parts = path.splitn(2, '.');
    let attr = parts.next().unwrap_or("");
    let sub = parts.next();
    if !is_attr_name(attr) {
        return Err(format!("\"{}\" is not a valid attribute name", shorten(attr)));
    }
    match sub {
        None => Ok((attr.to_string(), None)),
        Some(s) if is_attr_name(s) => Ok((attr.to_string(), Some(s.to_string()))),
        Some(s) if s.contains('.') => {
            Err("an attribute path has at most one sub-attribute (\"attr.subAttr\")".to_string())
        }
        Some(s) => Err(format!("\"{}\" is not a valid sub-attribute name", shorten(s))),
    }
}

/// Parses the attribute path `s`, which starts at byte offset `at` of `input` (for messages).
fn attr_path_at(input: &str, s: &str, at: usize) -> Result<AttrPath, String> {
    parse_attr_path_str(s)
        .map_err(|why| format!("invalid attribute path \"{}\" at offset {}: {why}", shorten(s), char_offset(input, at)))
}

fn parse_attr_path_str(s: &str) -> Result<AttrPath, String> {
    if s.is_empty() {
        return Err("the path is empty".to_string());
    }
    // RFC 7644 §3.10: a fully qualified path is the schema URN, ':', then the attribute.
    let is_urn = s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    if !is_urn {
        let (attr, sub_attr) = split_attr(s)?;
        return Ok(AttrPath { urn: None, attr, sub_attr });
    }
    let Some(last) = s.rfind(':') else {
        return Err("missing attribute name after the schema URN".to_string());
    };
    let (urn, rest) = (&s[..last], &s[last + 1..]);
    if rest.is_empty() {
        return Err("missing attribute name after the schema URN".to_string());
    }
    if urn.len() <= 4 || urn.split(':').any(str::is_empty) {
        return Err("malformed schema URN".to_string());
    }
    if !urn.chars().all(|c| c.is_ascii_graphic()) {
        return Err("the schema URN contains an invalid character".to_string());
    }
    let (attr, sub_attr) = split_attr(rest)?;
    Ok(AttrPath { urn: Some(urn.to_string()), attr, sub_attr })
}

// ---------------------------------------------------------------------------------------------------
// Parser: recursive descent, recursion bounded by MAX_DEPTH.
//   filter   = and *("or" and)
//   and      = unary *("and" unary)
//   unary    = "not" "(" filter ")" / "(" filter ")" / attrPath "[" filter "]" / attrExp

struct Parser<'a> {
    input: &'a str,
    toks: Vec<Token<'a>>,
    pos: usize,
    /// Byte offset where the token stream ends (end of input or the closing ']').
    end: usize,
    depth: usize,
    terms: usize,
    /// Inside `[...]`: attribute paths are relative and value paths may not nest.
    in_value_path: bool,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str, toks: Vec<Token<'a>>, end: usize, in_value_path: bool) -> Self {
        Parser { input, toks, pos: 0, end, depth: 0, terms: 0, in_value_path }
    }

    fn peek(&self) -> Option<&Token<'a>> {
        self.toks.get(self.pos)
    }

    fn peek_kind(&self, ahead: usize) -> Option<&TokKind<'a>> {
        self.toks.get(self.pos + ahead).map(|t| &t.kind)
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(self.peek_kind(0), Some(TokKind::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn offset_of(&self, t: Option<&Token<'a>>) -> usize {
        char_offset(self.input, t.map_or(self.end, |t| t.start))
    }

    fn describe(t: Option<&Token<'a>>) -> String {
        match t.map(|t| &t.kind) {
            None => "the end of the filter".to_string(),
            Some(TokKind::LParen) => "'('".to_string(),
            Some(TokKind::RParen) => "')'".to_string(),
            Some(TokKind::LBracket) => "'['".to_string(),
            Some(TokKind::RBracket) => "']'".to_string(),
            Some(TokKind::Str(s)) => format!("the string \"{}\"", shorten(s)),
            Some(TokKind::Word(w)) => format!("\"{}\"", shorten(w)),
        }
    }

    fn expected(&self, what: &str) -> String {
        let t = self.peek();
        format!("expected {what} at offset {}, found {}", self.offset_of(t), Self::describe(t))
    }

    /// The error for a token left over after a complete expression.
    fn unexpected_after_expr(&self, t: &Token<'a>) -> String {
        let at = char_offset(self.input, t.start);
        match &t.kind {
            TokKind::RParen => format!("unbalanced ')' at offset {at}"),
            TokKind::RBracket => format!("unbalanced ']' at offset {at}"),
            _ => self.expected("\"and\", \"or\" or the end of the filter"),
        }
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!(
                "filter is nested too deeply (more than {MAX_DEPTH} levels) at offset {}",
                self.offset_of(self.peek())
            ));
        }
        Ok(())
    }

    fn expect(&mut self, kind: &TokKind<'a>, what: &str) -> Result<(), String> {
        if self.peek_kind(0) == Some(kind) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    fn parse_or(&mut self) -> Result<Filter, String> {
        let mut left = self.parse_and()?;
        while self.is_keyword("or") {
            self.pos += 1;
            let right = self.parse_and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Filter, String> {
        let mut left = self.parse_unary()?;
        while self.is_keyword("and") {
            self.pos += 1;
            let right = self.parse_unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_unary(&mut self) -> Result<Filter, String> {
        let what = "an attribute path, '(' or \"not\"";
        match self.peek_kind(0) {
            // "not" must be followed by "(" (RFC 7644 §3.4.2.2); otherwise "not" is an attribute name.
            Some(TokKind::Word(w)) if w.eq_ignore_ascii_case("not") && self.peek_kind(1) == Some(&TokKind::LParen) => {
                self.pos += 2;
                self.enter()?;
                let inner = self.parse_or()?;
                self.expect(&TokKind::RParen, "')'")?;
                self.depth -= 1;
                Ok(Filter::Not(Box::new(inner)))
            }
            Some(TokKind::Word(w)) if w.eq_ignore_ascii_case("not") && self.peek_kind(1).is_none() => {
                self.pos += 1;
                Err(self.expected("'(' after \"not\""))
            }
            Some(TokKind::LParen) => {
                self.pos += 1;
                self.enter()?;
                let inner = self.parse_or()?;
                self.expect(&TokKind::RParen, "')'")?;
                self.depth -= 1;
                Ok(inner)
            }
            Some(TokKind::Word(_)) => self.parse_attr_expr(),
            _ => Err(self.expected(what)),
        }
    }

    fn parse_attr_expr(&mut self) -> Result<Filter, String> {
        let Some(Token { kind: TokKind::Word(word), start }) = self.peek().cloned() else {
            return Err(self.expected("an attribute path"));
        };
        let path = attr_path_at(self.input, word, start)?;
        self.pos += 1;
        if self.in_value_path && (path.urn.is_some() || path.sub_attr.is_some()) {
            return Err(format!(
                "inside a value filter, attribute paths name a sub-attribute of the element (e.g. \"type\", \"value\"); found \"{}\" at offset {}",
                shorten(word),
                char_offset(self.input, start)
            ));
        }
        if self.peek_kind(0) == Some(&TokKind::LBracket) {
            if self.in_value_path {
                return Err(format!("value filters cannot be nested (offset {})", self.offset_of(self.peek())));
            }
            if path.sub_attr.is_some() {
                return Err(format!(
                    "a value filter must follow a multi-valued attribute, not the sub-attribute \"{}\" (offset {})",
                    path.dotted(),
                    self.offset_of(self.peek())
                ));
            }
            self.pos += 1;
            self.enter()?;
            self.in_value_path = true;
            let inner = self.parse_or()?;
            self.in_value_path = false;
            let bracket_end = self.peek().map(|t| t.start + 1);
            self.expect(&TokKind::RBracket, "']'")?;
            self.depth -= 1;
            // Microsoft Entra ID looks users up with `emails[type eq "work"].value eq "…"`, outside RFC 7644's
            // grammar: read it as `emails[type eq "work" and value eq "…"]` (same element, both conditions).
            if let Some(Token { kind: TokKind::Word(w), start }) = self.peek().cloned() {
                if Some(start) == bracket_end && w.starts_with('.') {
                    let sub = attr_path_at(self.input, &w[1..], start + 1)?;
                    if sub.urn.is_some() || sub.sub_attr.is_some() {
                        return Err(format!(
                            "after a value filter, \".\" names one sub-attribute of the element; found \"{}\" at offset {}",
                            shorten(w),
                            char_offset(self.input, start)
                        ));
                    }
                    self.pos += 1;
                    let condition = self.parse_comparison(sub, start)?;
                    return Ok(Filter::ValuePath(path, Box::new(Filter::And(Box::new(inner), Box::new(condition)))));
                }
            }
            return Ok(Filter::ValuePath(path, Box::new(inner)));
        }
        self.parse_comparison(path, start)
    }

    /// The operator and value after the attribute path `path` (which started at byte `start`).
    fn parse_comparison(&mut self, path: AttrPath, start: usize) -> Result<Filter, String> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(format!(
                "filter has too many terms (more than {MAX_TERMS}) at offset {}",
                char_offset(self.input, start)
            ));
        }
        let op_word = match self.peek_kind(0) {
            Some(TokKind::Word(w)) => *w,
            _ => return Err(self.expected("a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)")),
        };
        if op_word.eq_ignore_ascii_case("pr") {
            self.pos += 1;
            // RFC 7644 §3.4.2.2: "pr" takes no value.
            if let Some(TokKind::Str(_)) = self.peek_kind(0) {
                return Err(format!(
                    "\"pr\" takes no value, found {} at offset {}",
                    Self::describe(self.peek()),
                    self.offset_of(self.peek())
                ));
            }
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::from_word(op_word) else {
            return Err(self.expected("a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)"));
        };
        self.pos += 1;
        let value_at = self.offset_of(self.peek());
        let lit = self.parse_literal()?;
        match (&lit, op) {
            (Literal::Null, CompareOp::Eq | CompareOp::Ne) => {}
            (Literal::Null, _) => {
                return Err(format!("null can only be compared with eq or ne, not {op} (offset {value_at})"))
            }
            (Literal::Bool(_), CompareOp::Eq | CompareOp::Ne) => {}
            (Literal::Bool(_), _) => {
                return Err(format!("true/false can only be compared with eq or ne, not {op} (offset {value_at})"))
            }
            (Literal::Number(_), _) if op.is_substring() => {
                return Err(format!("{op} needs a string value, found a number (offset {value_at})"))
            }
            _ => {}
        }
        Ok(Filter::Compare(path, op, lit))
    }

    fn parse_literal(&mut self) -> Result<Literal, String> {
        let what = "a value (a string, number, true, false or null)";
        let lit = match self.peek_kind(0) {
            Some(TokKind::Str(s)) => Literal::String(s.clone()),
            Some(TokKind::Word(w)) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Some(TokKind::Word(w)) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Some(TokKind::Word(w)) if w.eq_ignore_ascii_case("null") => Literal::Null,
            Some(TokKind::Word(w)) if w.starts_with(|c: char| c == '-' || c.is_ascii_digit()) => {
                // RFC 7159 §6 number syntax; serde_json rejects "01", "1.", "+1", out-of-range values.
                match w.parse::<serde_json::Number>() {
                    Ok(n) => Literal::Number(n),
                    Err(_) => {
                        return Err(format!(
                            "invalid number \"{}\" at offset {}",
                            shorten(w),
                            self.offset_of(self.peek())
                        ))
                    }
                }
            }
            _ => return Err(self.expected(what)),
        };
        self.pos += 1;
        Ok(lit)
    }
}

// ---------------------------------------------------------------------------------------------------
// In-memory evaluation

fn get_ci<'v>(map: &'v serde_json::Map<String, Value>, key: &str) -> Option<&'v Value> {
    // RFC 7643 §2.1: attribute names are case-insensitive.
    map.get(key).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

fn lookup<'v>(element: &'v Value, p: &AttrPath) -> Option<&'v Value> {
    match element {
        Value::Object(map) => {
            let v = get_ci(map, &p.attr)?;
            match &p.sub_attr {
                None => Some(v),
                Some(sub) => match v {
                    Value::Object(m) => get_ci(m, sub),
                    _ => None,
                },
            }
        }
        // A multi-valued primitive: "value" is the element itself.
        other if p.sub_attr.is_none() && p.attr.eq_ignore_ascii_case("value") => Some(other),
        _ => None,
    }
}

/// RFC 7644 §3.4.2.2 `pr`: a non-empty value, or a complex value with a non-empty node.
fn is_present_value(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(is_present_value),
        Value::Object(m) => m.values().any(is_present_value),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare_value(v: Option<&Value>, op: CompareOp, lit: &Literal, case_exact: bool) -> bool {
    if *lit == Literal::Null {
        // `eq null` is "not present" (RFC 7644 §3.4.2.2 `pr`): "" counts as absent here, as in SQL.
        let present = v.is_some_and(is_present_value);
        return match op {
            CompareOp::Eq => !present,
            CompareOp::Ne => present,
            _ => false,
        };
    }
    // Against a value, "" is a string like any other (`eq ""` matches it, `lt "a"` too), which is
    // what the SQL translation does; the fuzz differential keeps the two in step.
    let v = v.filter(|v| matches!(v, Value::String(_)) || is_present_value(v));
    let Some(v) = v else {
        return op == CompareOp::Ne;
    };
    if let Value::Array(items) = v {
        if op == CompareOp::Ne {
            return !items.iter().any(|i| compare_scalar(i, CompareOp::Eq, lit, case_exact));
        }
        return items.iter().any(|i| compare_scalar(i, op, lit, case_exact));
    }
    compare_scalar(v, op, lit, case_exact)
}

fn ordering_matches(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn compare_numbers(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn compare_strings(a: &str, op: CompareOp, b: &str, case_exact: bool) -> bool {
    // caseExact=false folds ASCII letters only, exactly as SQLite's NOCASE does for the same attributes in
    // lists: a PATCH filtered path must select the elements a list filter finds (checked by tests/fuzz.rs).
    let (a, b) =
        if case_exact { (a.to_string(), b.to_string()) } else { (a.to_ascii_lowercase(), b.to_ascii_lowercase()) };
    match op {
        CompareOp::Co => a.contains(&b),
        CompareOp::Sw => a.starts_with(&b),
        CompareOp::Ew => a.ends_with(&b),
        _ => {
            // dateTime values (RFC 7643 §2.3.5) order by instant, whatever their offsets.
            if op.is_ordering() {
                if let (Ok(x), Ok(y)) =
                    (chrono::DateTime::parse_from_rfc3339(&a), chrono::DateTime::parse_from_rfc3339(&b))
                {
                    return ordering_matches(op, x.cmp(&y));
                }
            }
            ordering_matches(op, a.cmp(&b))
        }
    }
}

fn compare_scalar(v: &Value, op: CompareOp, lit: &Literal, case_exact: bool) -> bool {
    if op == CompareOp::Ne {
        return !compare_scalar(v, CompareOp::Eq, lit, case_exact);
    }
    match (v, lit) {
        (Value::String(a), Literal::String(b)) => compare_strings(a, op, b, case_exact),
        (Value::Number(a), Literal::Number(b)) => compare_numbers(a, b).is_some_and(|ord| ordering_matches(op, ord)),
        (Value::Bool(a), Literal::Bool(b)) => op == CompareOp::Eq && a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use serde_json::json;

    fn p(s: &str) -> Filter {
        match parse_filter(s) {
            Ok(f) => f,
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    fn bad(s: &str) -> String {
        match parse_filter(s) {
            Ok(f) => panic!("{:?} should not parse, got {f:?}", shorten(s)),
            Err(e) => {
                assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{e}");
                assert_eq!(e.status, 400);
                e.detail
            }
        }
    }

    fn path(attr: &str) -> AttrPath {
        AttrPath::simple(attr)
    }

    fn sub(attr: &str, s: &str) -> AttrPath {
        AttrPath { urn: None, attr: attr.into(), sub_attr: Some(s.into()) }
    }

    fn cmp(a: AttrPath, op: CompareOp, l: Literal) -> Filter {
        Filter::Compare(a, op, l)
    }

    fn s(v: &str) -> Literal {
        Literal::String(v.into())
    }

    fn n(v: &str) -> Literal {
        Literal::Number(v.parse().expect("number"))
    }

    fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }

    fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }

    fn not(a: Filter) -> Filter {
        Filter::Not(Box::new(a))
    }

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    #[test]
    fn every_operator() {
        for (w, op) in [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("co", CompareOp::Co),
            ("sw", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("gt", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("le", CompareOp::Le),
        ] {
            assert_eq!(p(&format!("userName {w} \"x\"")), cmp(path("userName"), op, s("x")));
            let upper = w.to_uppercase();
            assert_eq!(p(&format!("userName {upper} \"x\"")), cmp(path("userName"), op, s("x")));
        }
        assert_eq!(p("title pr"), Filter::Present(path("title")));
        assert_eq!(p("title PR"), Filter::Present(path("title")));
    }

    #[test]
    fn literal_types() {
        assert_eq!(p("active eq true"), cmp(path("active"), CompareOp::Eq, Literal::Bool(true)));
        assert_eq!(p("active eq FALSE"), cmp(path("active"), CompareOp::Eq, Literal::Bool(false)));
        assert_eq!(p("title eq Null"), cmp(path("title"), CompareOp::Eq, Literal::Null));
        assert_eq!(p("x gt 42"), cmp(path("x"), CompareOp::Gt, n("42")));
        assert_eq!(p("x gt -7"), cmp(path("x"), CompareOp::Gt, n("-7")));
        assert_eq!(p("x le 1.5"), cmp(path("x"), CompareOp::Le, n("1.5")));
        assert_eq!(p("x le 2.5E-3"), cmp(path("x"), CompareOp::Le, n("0.0025")));
        assert_eq!(
            p("meta.lastModified gt \"2011-05-13T04:42:34Z\""),
            cmp(sub("meta", "lastModified"), CompareOp::Gt, s("2011-05-13T04:42:34Z"))
        );
        assert!(bad("x eq 01").contains("invalid number"));
        assert!(bad("x eq 1.").contains("invalid number"));
        assert!(bad("x eq 1e999").contains("invalid number"));
        assert!(bad("x eq yes").contains("expected a value"));
    }

    #[test]
    fn string_escapes() {
        assert_eq!(p(r#"x eq "a\"b\\c\/d\b\f\n\r\t""#), cmp(path("x"), CompareOp::Eq, s("a\"b\\c/d\u{8}\u{c}\n\r\t")));
        assert_eq!(p(r#"x eq "\u00e9\uD83D\uDE00""#), cmp(path("x"), CompareOp::Eq, s("é😀")));
        assert_eq!(p("x eq \"ünï ]) [(\""), cmp(path("x"), CompareOp::Eq, s("ünï ]) [(")));
        assert!(bad(r#"x eq "a\qb""#).contains("invalid string at offset 5"));
        assert!(bad(r#"x eq "\uD83D""#).contains("invalid string"));
        assert!(bad(r#"x eq "\u12""#).contains("invalid string"));
        assert!(bad("x eq \"a\u{1}b\"").contains("invalid string"));
        assert!(bad(r#"x co "\u0000""#).contains("NUL"));
    }

    #[test]
    fn precedence() {
        let a = || cmp(path("a"), CompareOp::Eq, n("1"));
        let b = || cmp(path("b"), CompareOp::Eq, n("2"));
        let c = || cmp(path("c"), CompareOp::Eq, n("3"));
        assert_eq!(p("a eq 1 or b eq 2 and c eq 3"), or(a(), and(b(), c())));
        assert_eq!(p("a eq 1 and b eq 2 or c eq 3"), or(and(a(), b()), c()));
        assert_eq!(p("(a eq 1 or b eq 2) and c eq 3"), and(or(a(), b()), c()));
        assert_eq!(p("a eq 1 AND b eq 2 And c eq 3"), and(and(a(), b()), c()));
        assert_eq!(p("a eq 1 or b eq 2 OR c eq 3"), or(or(a(), b()), c()));
        assert_eq!(p("not (a pr) and b pr"), and(not(Filter::Present(path("a"))), Filter::Present(path("b"))));
        assert_eq!(p("NOT(a eq 1)"), not(a()));
        assert_eq!(p("((a eq 1))"), a());
        assert_eq!(p("\ta eq 1\t"), a());
    }

    #[test]
    fn value_paths() {
        let f = p(r#"emails[type eq "work" and value co "@example.com"] or userName eq "a""#);
        assert_eq!(
            f,
            or(
                Filter::ValuePath(
                    path("emails"),
                    Box::new(and(
                        cmp(path("type"), CompareOp::Eq, s("work")),
                        cmp(path("value"), CompareOp::Co, s("@example.com"))
                    ))
                ),
                cmp(path("userName"), CompareOp::Eq, s("a"))
            )
        );
        assert_eq!(
            p(r#"members[not (value eq "x")]"#),
            Filter::ValuePath(path("members"), Box::new(not(cmp(path("value"), CompareOp::Eq, s("x")))))
        );
        assert_eq!(
            p(r#"emails [ (type eq "a") ]"#),
            Filter::ValuePath(path("emails"), Box::new(cmp(path("type"), CompareOp::Eq, s("a"))))
        );
        assert!(bad(r#"emails[type eq "a" and x[y eq 1]]"#).contains("cannot be nested"));
        // Entra ID's lookup shape: the sub-attribute condition joins the value filter.
        assert_eq!(
            p(r#"emails[type eq "work"].value eq "x""#),
            Filter::ValuePath(
                path("emails"),
                Box::new(Filter::And(
                    Box::new(cmp(path("type"), CompareOp::Eq, s("work"))),
                    Box::new(cmp(path("value"), CompareOp::Eq, s("x")))
                ))
            )
        );
        assert!(matches!(p(r#"emails[type eq "work"].value pr"#), Filter::ValuePath(..)));
        assert!(bad(r#"emails[type eq "work"] .value eq "x""#).contains("expected \"and\""));
        assert!(bad(r#"emails[type eq "work"].value.x eq "x""#).contains("one sub-attribute"));
        assert!(bad(r#"emails[type eq "work"].value"#).contains("comparison operator"));
        assert!(bad(r#"emails[type eq "work"]."#).contains("invalid attribute path"));
        assert!(bad(r#"emails[emails.type eq "work"]"#).contains("inside a value filter"));
        assert!(bad(r#"name.givenName[type eq "work"]"#).contains("not the sub-attribute"));
    }

    #[test]
    fn urn_and_sub_attr_paths() {
        assert_eq!(
            p(&format!("{ENT}:employeeNumber eq \"1\"")),
            cmp(
                AttrPath { urn: Some(ENT.into()), attr: "employeeNumber".into(), sub_attr: None },
                CompareOp::Eq,
                s("1")
            )
        );
        let m = p(&format!("{ENT}:manager.value eq \"1\""));
        let Filter::Compare(mp, ..) = &m else { panic!("{m:?}") };
        assert_eq!(mp.urn.as_deref(), Some(ENT));
        assert_eq!(mp.dotted(), "manager.value");
        assert_eq!(mp.to_string(), format!("{ENT}:manager.value"));
        // "URN:" prefix is case-insensitive; names kept as written.
        let u = parse_attr_path("URN:x:y:Foo").expect("urn");
        assert_eq!(u.urn.as_deref(), Some("URN:x:y"));
        assert_eq!(u.attr, "Foo");
        assert_eq!(p("name.familyName pr"), Filter::Present(sub("name", "familyName")));
        assert_eq!(p("Name.FamilyName pr"), Filter::Present(sub("Name", "FamilyName")));
        assert_eq!(p("members.$ref pr"), Filter::Present(sub("members", "$ref")));
        assert_eq!(sub("name", "familyName").dotted(), "name.familyName");
        assert!(bad("a.b.c pr").contains("at most one sub-attribute"));
        assert!(bad("1abc pr").contains("not a valid attribute name"));
        assert!(bad("urn:foo: pr").contains("missing attribute name"));
        assert!(bad("urn::x pr").contains("malformed schema URN"));
        assert!(bad("a:b pr").contains("not a valid attribute name"));
    }

    #[test]
    fn attr_path_api() {
        assert_eq!(parse_attr_path("name.familyName").expect("ok"), sub("name", "familyName"));
        assert_eq!(parse_attr_path(" userName ").expect("ok"), path("userName"));
        for bad_path in ["", "a b", "a[", "1a", "a..b", "a.", "urn:x:"] {
            let e = parse_attr_path(bad_path).expect_err(bad_path);
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{bad_path}");
        }
    }

    #[test]
    fn error_details_name_offset() {
        assert_eq!(
            bad("userName foo \"x\""),
            "expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) at offset 9, found \"foo\""
        );
        assert_eq!(
            bad("userName eq"),
            "expected a value (a string, number, true, false or null) at offset 11, found the end of the filter"
        );
        assert!(bad("ü eq 1").contains("at offset 0"));
        assert!(bad("a eq \"ü\" zz").contains("at offset 9"), "{}", bad("a eq \"ü\" zz"));
    }

    #[test]
    fn malformed_filters() {
        assert!(bad("").contains("empty"));
        assert!(bad("   ").contains("empty"));
        assert!(bad(r#"userName eq "abc"#).contains("unterminated string starting at offset 12"));
        assert!(bad(r#"userName eq "abc\""#).contains("unterminated"));
        assert!(bad("userName").contains("expected a comparison operator"));
        assert!(bad("userName eq").contains("expected a value"));
        assert!(bad("userName eq and b pr").contains("expected a value"));
        assert!(bad(r#"title pr "x""#).contains("\"pr\" takes no value"));
        assert!(bad("title pr 1").contains("expected \"and\""));
        assert!(bad("a pr and").contains("found the end of the filter"));
        assert!(bad("a pr or").contains("expected an attribute path"));
        assert!(bad("and a pr").contains("expected a comparison operator"));
        assert!(bad("or").contains("expected a comparison operator"));
        assert!(bad("(a pr").contains("expected ')'"));
        assert!(bad("a pr)").contains("unbalanced ')' at offset 4"));
        assert!(bad("()").contains("expected an attribute path"));
        assert!(bad("emails[type pr").contains("expected ']'"));
        assert!(bad("emails type pr]").contains("expected a comparison operator"));
        assert!(bad("a pr]").contains("unbalanced ']'"));
        assert!(bad("not a pr").contains("expected a comparison operator"));
        assert!(bad("not").contains("'(' after \"not\""));
        assert!(bad("a pr b pr").contains("expected \"and\""));
        assert!(bad("a eq null or b gt null").contains("null can only be compared"));
        assert!(bad("a gt true").contains("true/false can only"));
        assert!(bad("a co 1").contains("needs a string value"));
        assert!(bad("\"userName\" eq \"x\"").contains("expected an attribute path"));
    }

    #[test]
    fn hostile_input_is_rejected_not_crashed() {
        let deep = "(".repeat(100_000);
        assert!(bad(&deep).contains("too long"));
        let deep = format!("{}a pr{}", "(".repeat(33), ")".repeat(33));
        assert!(bad(&deep).contains("nested too deeply"));
        let ok = format!("{}a pr{}", "(".repeat(32), ")".repeat(32));
        assert_eq!(p(&ok), Filter::Present(path("a")));
        let nots = format!("{}a pr{}", "not (".repeat(40), ")".repeat(40));
        assert!(bad(&nots).contains("nested too deeply"));
        let big = format!("a eq \"{}\"", "x".repeat(1 << 20));
        assert!(bad(&big).contains("too long"));
        let ors = vec!["a eq 1"; 10_000].join(" or ");
        assert!(bad(&ors).contains("too long"));
        let ors = vec!["a pr"; 300].join(" or ");
        assert!(ors.len() < MAX_FILTER_LEN);
        assert!(bad(&ors).contains("too many terms"));
        let ors = vec!["a pr"; MAX_TERMS].join(" or ");
        assert!(parse_filter(&ors).is_ok());
        let brackets = "a[".repeat(3000);
        assert!(bad(&brackets).contains("cannot be nested"));
        let quotes = "\"".repeat(8191);
        assert!(parse_filter(&quotes).is_err());
        let backslashes = format!("a eq \"{}", "\\".repeat(8000));
        assert!(bad(&backslashes).contains("unterminated"));
    }

    #[test]
    fn patch_paths() {
        let pp = parse_patch_path(r#"members[value eq "2819c223"]"#).expect("ok");
        assert_eq!(pp.attr, path("members"));
        assert_eq!(pp.value_filter, Some(cmp(path("value"), CompareOp::Eq, s("2819c223"))));
        assert_eq!(pp.sub_attr, None);

        let pp = parse_patch_path(r#"emails[type eq "work"].value"#).expect("ok");
        assert_eq!(pp.attr, path("emails"));
        assert_eq!(pp.value_filter, Some(cmp(path("type"), CompareOp::Eq, s("work"))));
        assert_eq!(pp.sub_attr.as_deref(), Some("value"));

        let pp = parse_patch_path(r#"emails[value eq "a]b" and not (type eq "x")]"#).expect("ok");
        assert!(matches!(pp.value_filter, Some(Filter::And(..))));

        let pp = parse_patch_path(&format!("{ENT}:manager.value")).expect("ok");
        assert_eq!(pp.attr.urn.as_deref(), Some(ENT));
        assert_eq!(pp.attr.dotted(), "manager.value");
        assert_eq!(pp.value_filter, None);

        let pp = parse_patch_path("name.givenName").expect("ok");
        assert_eq!(pp.attr, sub("name", "givenName"));

        for (bad_path, why) in [
            ("", "empty"),
            ("a b", "invalid attribute path"),
            ("members[", "no matching ']'"),
            ("members[value eq \"x\"", "no matching ']'"),
            ("members]", "invalid attribute path"),
            ("members[]", "expected an attribute path"),
            ("members[value eq]", "expected a value"),
            ("members[value eq \"x\"]x", "expected end of path"),
            ("members[value eq \"x\"].", "expected a sub-attribute name"),
            ("members[value eq \"x\"].a.b", "expected a sub-attribute name"),
            ("members[value eq \"x\"][type pr]", "expected end of path"),
            ("members[a[b pr]]", "cannot be nested"),
            ("name.givenName[value pr]", "not the sub-attribute"),
            ("members[value eq \"x\" ) ]", "unbalanced ')'"),
        ] {
            let e = parse_patch_path(bad_path).expect_err(bad_path);
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{bad_path}");
            assert!(e.detail.contains(why), "{bad_path}: {}", e.detail);
        }
        let long = format!("members[value eq \"{}\"]", "x".repeat(MAX_FILTER_LEN));
        assert_eq!(parse_patch_path(&long).expect_err("long").scim_type, Some(ScimType::InvalidPath));
    }

    fn eval(filter: &str, element: &Value) -> bool {
        let pp = parse_patch_path(&format!("x[{filter}]")).expect("filter parses");
        let f = pp.value_filter.expect("value filter");
        matches_element(&f, element, &|name: &str| name == "value")
    }

    #[test]
    fn element_matching() {
        let e = json!({"value": "A@x.com", "type": "Work", "primary": true, "n": 5, "d": 1.5,
                       "when": "2020-01-01T10:00:00+02:00", "display": ""});
        // "type" is case-insensitive here, "value" case-exact.
        assert!(eval(r#"type eq "work""#, &e));
        assert!(eval(r#"TYPE eq "WORK""#, &e));
        assert!(!eval(r#"value eq "a@x.com""#, &e));
        assert!(eval(r#"value eq "A@x.com""#, &e));
        assert!(eval(r#"value ne "a@x.com""#, &e));
        assert!(eval(r#"value co "@x""#, &e));
        assert!(eval(r#"value sw "A@""#, &e));
        assert!(!eval(r#"value sw "a@""#, &e));
        assert!(eval(r#"type sw "wo""#, &e));
        assert!(eval(r#"value ew ".com""#, &e));
        assert!(eval(r#"type gt "s" and type lt "x" and type ge "work" and type le "work""#, &e));
        assert!(eval("n eq 5 and n gt 4 and n ge 5 and n lt 6 and n le 5 and n ne 4", &e));
        assert!(eval("d gt 1 and d lt 2 and d eq 1.5 and n eq 5.0", &e));
        assert!(eval("primary eq true and not (primary eq false) and primary ne false", &e));
        assert!(!eval("primary eq \"true\"", &e));
        assert!(eval(r#"when gt "2020-01-01T07:59:59Z" and when lt "2020-01-01T08:00:01Z""#, &e));
        assert!(eval("value pr and not (display pr) and not (missing pr)", &e));
        assert!(eval("missing eq null and value ne null and display eq null", &e));
        assert!(eval(r#"missing ne "x" and not (missing eq "x")"#, &e));
        assert!(eval(r#"type eq "home" or n eq 5"#, &e));
        assert!(!eval(r#"type eq "home" or n eq 6"#, &e));
        assert!(!eval(r#"type eq "work" and n eq 6"#, &e));
        assert!(!eval(r#"n eq "5""#, &e));
        // Multi-valued primitives: "value" is the element itself.
        assert!(eval(r#"value eq "b""#, &json!("b")));
        assert!(!eval(r#"type eq "b""#, &json!("b")));
    }
}
