//! SCIM filter AST (RFC 7644 §3.4.2.2) -> SQL `WHERE` fragment with bound parameters, and `sortBy`
//! (RFC 7644 §3.4.2.3) -> `ORDER BY` expression, in the store's two dialects (SQLite, PostgreSQL), with the
//! same results on both.
//!
//! * User-supplied text is never spliced into SQL: every value, and every JSON path (built from
//!   schema-canonical names), is a `?` parameter. Only table and column names, which are constants
//!   here, appear in the SQL text.
//! * Hot attributes map to indexed columns (`users.user_name_folded`, `users.external_id`, ...); everything
//!   else is read from the `resource` JSON: `json_extract` / `json_each` on SQLite, jsonb paths (`#>`, `#>>`,
//!   `jsonb_array_elements`) on PostgreSQL, typed by the attribute (text, numeric, boolean) so comparisons mean
//!   the same. Membership (`Group.members`, `User.groups`) comes from the `group_members` table, never from
//!   JSON; `groups` includes indirect memberships through nested groups (a recursive CTE; `UNION` so cycles
//!   terminate).
//! * Every predicate is two-valued (never SQL NULL), so `not (...)` and `ne` also match resources where
//!   the attribute is absent.
//! * caseExact=false strings compare folding ASCII letters only (`é` and `É` differ): SQLite's `COLLATE
//!   NOCASE` and `LIKE`; on PostgreSQL both sides go through the same ASCII `translate`. userName and
//!   displayName are stored folded in full Unicode (`fold_case`) and compared folded on both. caseExact=true
//!   strings compare bytewise (`=`, `instr`/`strpos`, `substr`/`right`).
//! * `id`, `members.value` and `groups.value` compare exactly: ids are caseExact (RFC 7643 §3.1).

use super::MultiBackend;
use super::{fold_case, Dialect, TIMESTAMP_FORMAT};
use crate::scim::error::{ScimError, ScimResult, ScimType};
use crate::scim::filter::{AttrPath, CompareOp, Filter, Literal};
use crate::scim::schema::{AttrDef, AttrType, ResourceType, Returned, Schemas};
use diesel::query_builder::BoxedSqlQuery;

/// Deepest filter AST accepted (the parser's own limits stay far below this).
const MAX_AST_DEPTH: usize = 512;

/// One `?` parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlBind {
    Text(String),
    Int(i64),
    Real(f64),
    Bool(bool),
}

/// SQL text with `?` placeholders and their values, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SqlFragment {
    pub sql: String,
    pub binds: Vec<SqlBind>,
}

impl SqlFragment {
    pub(crate) fn raw(sql: &str) -> Self {
        SqlFragment { sql: sql.to_string(), binds: Vec::new() }
    }

    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    pub(crate) fn bind(&mut self, b: SqlBind) -> &mut Self {
        self.sql.push('?');
        self.binds.push(b);
        self
    }

    pub(crate) fn append(&mut self, other: &SqlFragment) -> &mut Self {
        self.sql.push_str(&other.sql);
        self.binds.extend(other.binds.iter().cloned());
        self
    }

    /// `prefix <self> suffix`
    fn wrap(mut self, prefix: &str, suffix: &str) -> Self {
        self.sql.insert_str(0, prefix);
        self.sql.push_str(suffix);
        self
    }

    /// Binds this fragment's parameters, in order, to a boxed Diesel query whose SQL contains this
    /// fragment's text (call once per fragment, in the order the fragments appear in the SQL).
    pub fn bind_to<'f, Q>(&self, query: BoxedSqlQuery<'f, MultiBackend, Q>) -> BoxedSqlQuery<'f, MultiBackend, Q> {
        use diesel::sql_types::{BigInt, Bool, Double, Text};
        self.binds.iter().fold(query, |q, b| match b {
            SqlBind::Text(s) => q.bind::<Text, _>(s.clone()),
            SqlBind::Int(i) => q.bind::<BigInt, _>(*i),
            SqlBind::Real(f) => q.bind::<Double, _>(*f),
            SqlBind::Bool(b) => q.bind::<Bool, _>(*b),
        })
    }
}

/// Translates a parsed filter into a `WHERE` condition on the resource type's table (`users` or
/// `groups`; columns are qualified with it). Errors are `invalidFilter` (unknown attribute, type
/// mismatch, unsupported attribute), or internal.
pub fn filter_to_sql(schemas: &Schemas, rt: &ResourceType, filter: &Filter, d: Dialect) -> ScimResult<SqlFragment> {
    Ctx::new(schemas, rt, ScimType::InvalidFilter, d)?.emit(filter, 0)
}

/// An `ORDER BY` expression for `sortBy` (RFC 7644 §3.4.2.3): a column or `json_extract` for a simple
/// single-valued attribute (with `COLLATE NOCASE` when caseExact=false); for a multi-valued attribute
/// the primary element's value (or the first element's). Errors are `invalidValue`. Prefer
/// [`order_by_sql`], which also places resources without a value as the RFC asks.
pub fn sort_key_sql(schemas: &Schemas, rt: &ResourceType, path: &AttrPath, d: Dialect) -> ScimResult<SqlFragment> {
    Ok(sort_key(schemas, rt, path, d)?.0)
}

/// A boolean sort key as SQLite holds booleans, 1/0 (NULL stays NULL): so keys compare and round-trip in
/// cursors alike on both backends.
fn bool_as_int(f: SqlFragment, d: Dialect) -> SqlFragment {
    match d {
        Dialect::Sqlite => f,
        Dialect::Postgres => {
            let mut g = SqlFragment::raw("(CASE WHEN (");
            g.append(&f).push(") THEN 1 WHEN NOT (").append(&f).push(") THEN 0 END)");
            g
        }
    }
}

/// A whole `ORDER BY` term: the sort key and direction, `ASC`/`DESC`, followed by RFC 7644 §3.4.2.3's
/// placement of resources without a value ("ordered last if ascending and first if descending") when
/// the key can be NULL (left off for NOT NULL columns so their index can still provide the order).
pub fn order_by_sql(
    schemas: &Schemas,
    rt: &ResourceType,
    path: &AttrPath,
    descending: bool,
    d: Dialect,
) -> ScimResult<SqlFragment> {
    let (mut f, nullable, _) = sort_key(schemas, rt, path, d)?;
    f.push(match (descending, nullable) {
        (false, false) => " ASC",
        (true, false) => " DESC",
        (false, true) => " ASC NULLS LAST",
        (true, true) => " DESC NULLS FIRST",
    });
    Ok(f)
}

/// A `sortBy` key as the keyset (cursor) pages of `resources::list_keyset` use it.
#[derive(Debug, Clone)]
pub struct SortKey {
    /// The key expression, with `COLLATE NOCASE` when caseExact=false.
    pub expr: SqlFragment,
    /// The key can be NULL (the attribute is absent on some resources).
    pub nullable: bool,
    /// Compared case-insensitively: `expr` ends in `COLLATE NOCASE`.
    pub nocase: bool,
    /// What stands in for the key where it is absent (a value of the key's type: `''` or `0`); None for
    /// the key of a resource type that lacks the attribute.
    pub filler: Option<&'static str>,
}

impl SortKey {
    /// The key of a resource type that lacks the `sortBy` attribute (in a search across resource types).
    pub fn absent() -> SortKey {
        SortKey { expr: SqlFragment::raw("NULL"), nullable: true, nocase: false, filler: None }
    }
}

/// The sort key for `sortBy` on `rt` (errors are `invalidValue`).
pub fn sort_key_of(schemas: &Schemas, rt: &ResourceType, path: &AttrPath, d: Dialect) -> ScimResult<SortKey> {
    let (expr, nullable, kind) = sort_key(schemas, rt, path, d)?;
    // (On PostgreSQL the key is folded inside the expression itself.)
    let nocase = expr.sql.ends_with(" COLLATE NOCASE");
    // Numbers and booleans (1/0) are filled in with a number; text and dateTimes with ''.
    let filler = Some(if matches!(kind, Kind::Number | Kind::Bool) { "0" } else { "''" });
    Ok(SortKey { expr, nullable, nocase, filler })
}

/// Like [`filter_to_sql`], for a search across resource types (RFC 7644 §3.4.3): an attribute that `rt`
/// does not define is absent on its resources, so a comparison on it is false and `not (...)` of that true.
pub fn filter_to_sql_across_types(
    schemas: &Schemas,
    rt: &ResourceType,
    filter: &Filter,
    d: Dialect,
) -> ScimResult<SqlFragment> {
    let mut cx = Ctx::new(schemas, rt, ScimType::InvalidFilter, d)?;
    cx.unknown_is_absent = true;
    cx.emit(filter, 0)
}

/// The sort key and whether it can be NULL.
fn sort_key(
    schemas: &Schemas,
    rt: &ResourceType,
    path: &AttrPath,
    d: Dialect,
) -> ScimResult<(SqlFragment, bool, Kind)> {
    let cx = Ctx::new(schemas, rt, ScimType::InvalidValue, d)?;
    let complex = || {
        cx.err(format!(
            "cannot sort by the complex attribute \"{path}\"; sort by one of its sub-attributes (e.g. name.familyName)"
        ))
    };
    let (src, sub) = match cx.target(path)? {
        Target::Scalar(s) => {
            if s.kind == Kind::Complex {
                return Err(complex());
            }
            let mut f = s.expr.clone();
            if s.nocase && s.kind == Kind::Text {
                f = cx.nocase_key(f, s.fold);
            }
            if s.kind == Kind::Bool {
                f = bool_as_int(f, d);
            }
            return Ok((f, s.null != Null::Never, s.kind));
        }
        Target::ComplexJson { .. } => return Err(complex()),
        Target::Multi { src, sub } => (src, sub),
    };
    let ElemSrc::Json { keys, def, .. } = &src else {
        return Err(cx.err(format!("cannot sort by \"{path}\": membership attributes are not sortable")));
    };
    let elem = cx.multi_scalar(&src, sub.as_deref())?;
    if elem.kind == Kind::Complex {
        return Err(complex());
    }
    // RFC 7644 §3.4.2.3: a multi-valued attribute sorts by its primary value, else the first one.
    let mut f = SqlFragment::raw("(SELECT ");
    f.append(&elem.expr).push(" FROM ").append(&cx.elements(keys)?).push(" ORDER BY ");
    if def.sub("primary").is_some() {
        f.push("COALESCE(").append(&cx.json_at_elem(&["primary"], Kind::Bool)?).push(", FALSE) DESC, ");
    }
    f.push("e.key LIMIT 1)");
    if elem.nocase && elem.kind == Kind::Text {
        f = cx.nocase_key(f, false);
    }
    if elem.kind == Kind::Bool {
        f = bool_as_int(f, d);
    }
    Ok((f, true, elem.kind))
}

// ---------------------------------------------------------------------------------------------------

/// How a value is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Bool,
    Number,
    /// A dateTime stored as given in the resource JSON.
    DateTime,
    /// A dateTime column in the fixed-width `TIMESTAMP_FORMAT` (literals are re-formatted to it).
    Timestamp,
    Complex,
}

impl Kind {
    fn of(t: AttrType) -> Kind {
        match t {
            AttrType::String | AttrType::Reference | AttrType::Binary => Kind::Text,
            AttrType::Boolean => Kind::Bool,
            AttrType::Decimal | AttrType::Integer => Kind::Number,
            AttrType::DateTime => Kind::DateTime,
            AttrType::Complex => Kind::Complex,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Text => "string",
            Kind::Bool => "boolean",
            Kind::Number => "numeric",
            Kind::DateTime | Kind::Timestamp => "dateTime",
            Kind::Complex => "complex",
        }
    }
}

/// Whether an expression can be SQL NULL, which decides how comparisons are made two-valued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Null {
    /// NOT NULL column or computed value: compare directly (keeps indexes usable).
    Never,
    /// Nullable column: `(x IS NOT NULL AND x = ?)` (the `x = ?` term can still use an index).
    Column,
    /// Any other expression (`json_extract`): `COALESCE(x = ?, 0)`.
    Expr,
}

/// One comparable value: a column, a JSON value, a computed value.
#[derive(Debug, Clone)]
struct Scalar {
    expr: SqlFragment,
    null: Null,
    kind: Kind,
    /// caseExact=false: compare with NOCASE / LIKE.
    nocase: bool,
    /// The column holds `fold_case` keys (userName, displayName): text values are folded the same way
    /// before binding, so case-insensitivity reaches beyond ASCII on those attributes.
    fold: bool,
    /// For messages.
    name: String,
}

/// The rows a multi-valued attribute's elements come from.
#[derive(Debug, Clone)]
enum ElemSrc<'s> {
    /// A JSON array in `resource` (at `keys`); elements are `e.value` (see `Ctx::elements`).
    Json { keys: Vec<String>, def: &'s AttrDef, name: String },
    /// A single-valued complex attribute used with a value filter (`name[givenName eq "x"]`).
    Single { keys: Vec<String>, def: &'s AttrDef, name: String },
    /// `Group.members`: rows of `group_members AS gm`.
    Members { def: &'s AttrDef },
    /// `User.groups`: the direct and indirect groups of the user, as `anc.gid`.
    UserGroups { def: &'s AttrDef },
}

impl ElemSrc<'_> {
    fn def(&self) -> &AttrDef {
        match self {
            ElemSrc::Json { def, .. }
            | ElemSrc::Single { def, .. }
            | ElemSrc::Members { def }
            | ElemSrc::UserGroups { def } => def,
        }
    }
}

/// Where a filter's attribute path leads.
enum Target<'s> {
    Scalar(Scalar),
    /// A single-valued complex attribute in the JSON (`name`, an extension as a whole).
    ComplexJson {
        keys: Vec<String>,
    },
    /// A multi-valued attribute and the sub-attribute named after it (canonical), if any.
    Multi {
        src: ElemSrc<'s>,
        sub: Option<String>,
    },
}

/// `$."a"."b"` — a SQLite JSON path from canonical names (quoted, so URNs with ':' and '.' work).
fn json_path<S: AsRef<str>>(keys: &[S]) -> ScimResult<String> {
    let mut p = String::from("$");
    for k in keys {
        let k = k.as_ref();
        if k.contains('"') || k.contains('\\') {
            return Err(ScimError::internal(format!("attribute name {k:?} cannot be a JSON path key")));
        }
        p.push_str(".\"");
        p.push_str(k);
        p.push('"');
    }
    Ok(p)
}

/// Escapes LIKE wildcards for `LIKE ? ESCAPE '\'`.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn describe_literal(lit: &Literal) -> String {
    match lit {
        Literal::String(s) => {
            let short: String = s.chars().take(40).collect();
            format!("the string \"{short}\"")
        }
        Literal::Number(n) => format!("the number {n}"),
        Literal::Bool(b) => format!("{b}"),
        Literal::Null => "null".to_string(),
    }
}

fn not(f: SqlFragment) -> SqlFragment {
    f.wrap("NOT (", ")")
}

struct Ctx<'s> {
    schemas: &'s Schemas,
    rt: &'s ResourceType,
    table: &'static str,
    /// InvalidFilter for filters, InvalidValue for sortBy.
    err_type: ScimType,
    /// An attribute the resource type does not define matches nothing (searches across resource types).
    unknown_is_absent: bool,
    /// The SQL dialect written.
    d: Dialect,
}

/// ASCII case folding in PostgreSQL, the same as SQLite's NOCASE and LIKE do (so both backends match alike).
const PG_ASCII_FOLD: (&str, &str) = ("translate(", ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')");

/// A PostgreSQL `text[]` path literal from canonical names (bound as text, cast in SQL).
fn pg_path<S: AsRef<str>>(keys: &[S]) -> ScimResult<String> {
    json_path(keys)?; // the same checks on names
    let quoted: Vec<String> = keys.iter().map(|k| format!("\"{}\"", k.as_ref())).collect();
    Ok(format!("{{{}}}", quoted.join(",")))
}

impl<'s> Ctx<'s> {
    fn new(schemas: &'s Schemas, rt: &'s ResourceType, err_type: ScimType, d: Dialect) -> ScimResult<Self> {
        let table = match rt.name.as_str() {
            "User" => "users",
            "Group" => "groups",
            other => return Err(ScimError::internal(format!("no table for resource type {other}"))),
        };
        Ok(Ctx { schemas, rt, table, err_type, unknown_is_absent: false, d })
    }

    fn pg(&self) -> bool {
        self.d == Dialect::Postgres
    }

    /// A typed value of the JSON member at `keys` of `base` (a JSON column): in SQLite `json_extract` (typed by
    /// the JSON); in PostgreSQL the text, number or boolean of the jsonb value, NULL for any other JSON type.
    fn json_at(&self, base: &str, keys: &[&str], kind: Kind) -> ScimResult<SqlFragment> {
        let mut f = SqlFragment::default();
        if !self.pg() {
            f.push("json_extract(").push(base).push(", ").bind(SqlBind::Text(json_path(keys)?)).push(")");
            return Ok(f);
        }
        let path = pg_path(keys)?;
        let (json_type, cast) = match kind {
            Kind::Number => ("number", "numeric"),
            Kind::Bool => ("boolean", "boolean"),
            Kind::Complex => {
                f.push("(").push(base).push(" #> CAST(").bind(SqlBind::Text(path)).push(" AS text[]))");
                return Ok(f);
            }
            _ => {
                f.push("(").push(base).push(" #>> CAST(").bind(SqlBind::Text(path)).push(" AS text[]))");
                return Ok(f);
            }
        };
        f.push("(CASE WHEN jsonb_typeof(")
            .push(base)
            .push(" #> CAST(")
            .bind(SqlBind::Text(path.clone()))
            .push(&format!(" AS text[])) = '{json_type}' THEN ("))
            .push(base)
            .push(" #>> CAST(")
            .bind(SqlBind::Text(path))
            .push(&format!(" AS text[]))::{cast} END)"));
        Ok(f)
    }

    /// A member of the current array element `e.value` (see `elements`), typed as `json_at`.
    fn json_at_elem(&self, keys: &[&str], kind: Kind) -> ScimResult<SqlFragment> {
        self.json_at("e.value", keys, kind)
    }

    /// The current array element `e.value` itself, typed as `json_at`.
    fn elem_value(&self, kind: Kind) -> SqlFragment {
        if !self.pg() {
            return SqlFragment::raw("e.value");
        }
        SqlFragment::raw(&match kind {
            Kind::Number => "(CASE WHEN jsonb_typeof(e.value) = 'number' THEN (e.value #>> '{}')::numeric END)".into(),
            Kind::Bool => "(CASE WHEN jsonb_typeof(e.value) = 'boolean' THEN (e.value #>> '{}')::boolean END)".into(),
            Kind::Complex => "e.value".to_string(),
            _ => "(e.value #>> '{}')".to_string(),
        })
    }

    /// The FROM item listing the elements of the JSON array at `keys` of this table's resource as `e`, with
    /// `e.value` (the element) and `e.key` (its position); no rows when that is not an array.
    fn elements<S: AsRef<str>>(&self, keys: &[S]) -> ScimResult<SqlFragment> {
        let mut f = SqlFragment::default();
        if !self.pg() {
            f.push("json_each(")
                .push(self.table)
                .push(".resource, ")
                .bind(SqlBind::Text(json_path(keys)?))
                .push(") AS e");
            return Ok(f);
        }
        let path = pg_path(keys)?;
        f.push("jsonb_array_elements(CASE WHEN jsonb_typeof(")
            .push(self.table)
            .push(".resource #> CAST(")
            .bind(SqlBind::Text(path.clone()))
            .push(" AS text[])) = 'array' THEN ")
            .push(self.table)
            .push(".resource #> CAST(")
            .bind(SqlBind::Text(path))
            .push(" AS text[]) ELSE '[]'::jsonb END) WITH ORDINALITY AS e(value, key)");
        Ok(f)
    }

    /// A case-insensitive sort key: SQLite's NOCASE collation; in PostgreSQL the key folded the same way
    /// (ASCII letters), unless it is a column of `fold_case` keys already.
    fn nocase_key(&self, mut f: SqlFragment, folded: bool) -> SqlFragment {
        if !self.pg() {
            f.push(" COLLATE NOCASE");
            f
        } else if folded {
            f
        } else {
            f.wrap(PG_ASCII_FOLD.0, PG_ASCII_FOLD.1)
        }
    }

    fn err(&self, detail: impl Into<String>) -> ScimError {
        ScimError::new(400, Some(self.err_type), detail)
    }

    fn is_user(&self) -> bool {
        self.table == "users"
    }

    fn column(&self, col: &str, null: Null, kind: Kind, nocase: bool, name: &str) -> Scalar {
        let expr = SqlFragment::raw(&format!("{}.{col}", self.table));
        Scalar { expr, null, kind, nocase, fold: false, name: name.to_string() }
    }

    /// A column holding `fold_case` keys (userName, displayName): text values are folded before binding.
    fn folded_column(&self, col: &str, null: Null, kind: Kind, nocase: bool, name: &str) -> Scalar {
        Scalar { fold: true, ..self.column(col, null, kind, nocase, name) }
    }

    /// Resolves `path` against the schema and says where its values live.
    fn target(&self, path: &AttrPath) -> ScimResult<Target<'s>> {
        let r =
            self.schemas.resolve(self.rt, path).map_err(|e| if e.status == 400 { self.err(e.detail) } else { e })?;
        let leaf = r.leaf();
        let name = r.dotted_name();
        if leaf.returned == Returned::Never || r.attr.returned == Returned::Never {
            return Err(self.err(format!("\"{name}\" is never returned and cannot be used in a filter or sortBy")));
        }
        let nocase = !leaf.case_exact;
        if r.is_core && !r.whole_extension {
            use Null::{Column, Never};
            let user = self.is_user();
            let hot = match name.as_str() {
                "id" => Some(self.column("id", Never, Kind::Text, false, &name)),
                "externalId" => Some(self.column("external_id", Column, Kind::Text, nocase, &name)),
                "userName" if user => Some(self.folded_column("user_name_folded", Never, Kind::Text, nocase, &name)),
                "displayName" => {
                    let null = if user { Column } else { Never };
                    Some(self.folded_column("display_name_folded", null, Kind::Text, nocase, &name))
                }
                "active" if user => Some(self.column("active", Column, Kind::Bool, false, &name)),
                "meta.created" => Some(self.column("created", Never, Kind::Timestamp, false, &name)),
                "meta.lastModified" => Some(self.column("last_modified", Never, Kind::Timestamp, false, &name)),
                "meta.version" => Some(Scalar {
                    // The ETag form, as meta.version is rendered (RFC 7644 §3.14).
                    expr: SqlFragment::raw(&format!("('W/\"' || {}.version || '\"')", self.table)),
                    null: Never,
                    kind: Kind::Text,
                    nocase: false,
                    fold: false,
                    name: name.clone(),
                }),
                "meta.resourceType" => {
                    let mut expr = SqlFragment::default();
                    expr.bind(SqlBind::Text(self.rt.name.clone()));
                    Some(Scalar { expr, null: Never, kind: Kind::Text, nocase, fold: false, name: name.clone() })
                }
                // Always present on a stored resource.
                "meta" => Some(Scalar {
                    expr: SqlFragment::raw("TRUE"),
                    null: Never,
                    kind: Kind::Complex,
                    nocase: false,
                    fold: false,
                    name: name.clone(),
                }),
                "meta.location" => {
                    return Err(self.err("filtering or sorting on meta.location is not supported; use id instead"))
                }
                _ => None,
            };
            if let Some(s) = hot {
                return Ok(Target::Scalar(s));
            }
            if user && r.attr.name == "groups" {
                return Ok(Target::Multi {
                    src: ElemSrc::UserGroups { def: r.attr },
                    sub: r.sub.map(|s| s.name.clone()),
                });
            }
            if !user && r.attr.name == "members" {
                return Ok(Target::Multi { src: ElemSrc::Members { def: r.attr }, sub: r.sub.map(|s| s.name.clone()) });
            }
        }
        let mut keys = r.json_path();
        if r.attr.multi_valued && !r.whole_extension {
            if r.sub.is_some() {
                keys.pop();
            }
            return Ok(Target::Multi {
                src: ElemSrc::Json {
                    keys: keys.iter().map(|k| k.to_string()).collect(),
                    def: r.attr,
                    name: if r.is_core { r.attr.name.clone() } else { format!("{}:{}", r.schema_urn, r.attr.name) },
                },
                sub: r.sub.map(|s| s.name.clone()),
            });
        }
        if leaf.attr_type == AttrType::Complex {
            return Ok(Target::ComplexJson { keys: keys.iter().map(|k| k.to_string()).collect() });
        }
        if leaf.indexed && !r.is_core && r.sub.is_none() && !self.pg() {
            // An indexed extension attribute (`scimd schema add --index`): the very expression of its index,
            // with the path as literal text, and compared in the form SQLite can look up in it.
            let literal = super::extensions::json_path_literal(&keys)?;
            let expr = SqlFragment::raw(&format!("json_extract({}.resource, {literal})", self.table));
            let kind = Kind::of(leaf.attr_type);
            return Ok(Target::Scalar(Scalar { expr, null: Null::Column, kind, nocase, fold: false, name }));
        }
        if leaf.indexed && !r.is_core && r.sub.is_none() && self.pg() && Kind::of(leaf.attr_type) == Kind::Text {
            // The same on PostgreSQL: the text at a literal path, which `compare` folds as the index does.
            let expr = SqlFragment::raw(&format!(
                "({}.resource #>> {})",
                self.table,
                super::extensions::pg_path_literal(&keys)?
            ));
            return Ok(Target::Scalar(Scalar {
                expr,
                null: Null::Column,
                kind: Kind::Text,
                nocase,
                fold: false,
                name,
            }));
        }
        let kind = Kind::of(leaf.attr_type);
        let expr = self.json_at(&format!("{}.resource", self.table), &keys, kind)?;
        Ok(Target::Scalar(Scalar { expr, null: Null::Expr, kind, nocase, fold: false, name }))
    }

    /// A value filter on a single-valued complex attribute (`name[givenName eq "x"]`).
    fn single_complex_src(&self, path: &AttrPath) -> ScimResult<ElemSrc<'s>> {
        let r =
            self.schemas.resolve(self.rt, path).map_err(|e| if e.status == 400 { self.err(e.detail) } else { e })?;
        Ok(ElemSrc::Single {
            keys: r.json_path().into_iter().map(str::to_string).collect(),
            def: r.attr,
            name: r.dotted_name(),
        })
    }

    /// `EXISTS (...)` over the elements of `src`, those satisfying `cond`.
    fn exists(&self, src: &ElemSrc<'_>, cond: &SqlFragment) -> ScimResult<SqlFragment> {
        let mut f = SqlFragment::default();
        match src {
            ElemSrc::Json { keys, .. } => {
                f.push("EXISTS (SELECT 1 FROM ").append(&self.elements(keys)?).push(" WHERE ").append(cond).push(")");
            }
            ElemSrc::Single { .. } => {
                f.push("(").append(cond).push(")");
            }
            ElemSrc::Members { .. } => {
                f.push("EXISTS (SELECT 1 FROM group_members AS gm WHERE gm.group_id = groups.id AND ")
                    .append(cond)
                    .push(")");
            }
            ElemSrc::UserGroups { .. } => {
                // Direct groups, then the groups containing those, and so on; UNION (not UNION ALL)
                // discards repeats, so membership cycles terminate.
                f.push(
                    "EXISTS (WITH RECURSIVE anc(gid) AS (\
                     SELECT m.group_id FROM group_members AS m WHERE m.member_id = users.id \
                     UNION SELECT m.group_id FROM group_members AS m JOIN anc ON m.member_id = anc.gid) \
                     SELECT 1 FROM anc WHERE ",
                )
                .append(cond)
                .push(")");
            }
        }
        Ok(f)
    }

    /// The sub-attribute `name` (relative, case-insensitive) of one element of `src`.
    fn sub_scalar(&self, src: &ElemSrc<'_>, name: &str) -> ScimResult<Scalar> {
        let parent = src.def();
        let parent_name = match src {
            ElemSrc::Json { name, .. } | ElemSrc::Single { name, .. } => name.as_str(),
            ElemSrc::Members { .. } => "members",
            ElemSrc::UserGroups { .. } => "groups",
        };
        if parent.sub_attributes.is_empty() {
            // A multi-valued primitive: `value` is the element itself.
            if name.eq_ignore_ascii_case("value") {
                if let ElemSrc::Json { .. } = src {
                    return Ok(Scalar {
                        expr: self.elem_value(Kind::of(parent.attr_type)),
                        null: Null::Expr,
                        kind: Kind::of(parent.attr_type),
                        nocase: !parent.case_exact,
                        fold: false,
                        name: parent_name.to_string(),
                    });
                }
            }
            return Err(self.err(format!("\"{parent_name}\" has no sub-attribute \"{name}\"")));
        }
        let Some(sd) = parent.sub(name) else {
            return Err(self.err(format!("\"{parent_name}\" has no sub-attribute \"{name}\"")));
        };
        let full = format!("{parent_name}.{}", sd.name);
        if sd.returned == Returned::Never {
            return Err(self.err(format!("\"{full}\" cannot be used in a filter")));
        }
        let kind = Kind::of(sd.attr_type);
        let scalar = |expr: SqlFragment, null: Null, nocase: bool| Scalar {
            expr,
            null,
            kind,
            nocase,
            fold: false,
            name: full.clone(),
        };
        let unsupported =
            || self.err(format!("filtering on \"{full}\" is not supported; filter on {parent_name}.value"));
        match src {
            ElemSrc::Json { .. } => {
                let expr = self.json_at_elem(&[sd.name.as_str()], kind)?;
                Ok(scalar(expr, Null::Expr, !sd.case_exact))
            }
            ElemSrc::Single { keys, .. } => {
                let mut all: Vec<&str> = keys.iter().map(String::as_str).collect();
                all.push(sd.name.as_str());
                let expr = self.json_at(&format!("{}.resource", self.table), &all, kind)?;
                Ok(scalar(expr, Null::Expr, !sd.case_exact))
            }
            // Member ids compare exactly: ids are caseExact (RFC 7643 §3.1).
            ElemSrc::Members { .. } => match sd.name.as_str() {
                "value" => Ok(scalar(SqlFragment::raw("gm.member_id"), Null::Never, false)),
                "type" => Ok(scalar(SqlFragment::raw("gm.member_type"), Null::Never, !sd.case_exact)),
                _ => Err(unsupported()),
            },
            // RFC 7643 §4.1.2: groups.type is "direct" or "indirect".
            ElemSrc::UserGroups { .. } => match sd.name.as_str() {
                "value" => Ok(scalar(SqlFragment::raw("anc.gid"), Null::Never, false)),
                "type" => Ok(scalar(
                    SqlFragment::raw(
                        "(CASE WHEN EXISTS (SELECT 1 FROM group_members AS d \
                         WHERE d.group_id = anc.gid AND d.member_id = users.id) \
                         THEN 'direct' ELSE 'indirect' END)",
                    ),
                    Null::Never,
                    !sd.case_exact,
                )),
                "display" => Ok(scalar(
                    SqlFragment::raw(&format!(
                        "(SELECT {} FROM groups AS g WHERE g.id = anc.gid)",
                        self.d.json_member("g.resource", "displayName")
                    )),
                    Null::Expr,
                    !sd.case_exact,
                )),
                _ => Err(unsupported()),
            },
        }
    }

    /// The value compared for a multi-valued attribute: the named sub-attribute, else `value`.
    fn multi_scalar(&self, src: &ElemSrc<'_>, sub: Option<&str>) -> ScimResult<Scalar> {
        match sub {
            Some(s) => self.sub_scalar(src, s),
            None => self
                .sub_scalar(src, "value")
                .map_err(|_| self.err(format!("\"{}\" is complex; compare one of its sub-attributes", src.def().name))),
        }
    }

    fn emit(&self, f: &Filter, depth: usize) -> ScimResult<SqlFragment> {
        if depth > MAX_AST_DEPTH {
            return Err(self.err("filter is nested too deeply"));
        }
        if let Filter::Present(p) | Filter::Compare(p, ..) | Filter::ValuePath(p, _) = f {
            if self.unknown_is_absent && self.schemas.resolve(self.rt, p).is_err() {
                return Ok(SqlFragment::raw("FALSE"));
            }
        }
        match f {
            Filter::Not(x) => Ok(not(self.emit(x, depth + 1)?)),
            Filter::And(a, b) => self.binary(a, "AND", b, depth),
            Filter::Or(a, b) => self.binary(a, "OR", b, depth),
            Filter::Present(p) => self.present_path(p),
            Filter::Compare(p, op, lit) => self.compare_path(p, *op, lit),
            Filter::ValuePath(p, inner) => {
                let src = match self.target(p)? {
                    Target::Multi { src, sub: None } => src,
                    Target::ComplexJson { .. } => self.single_complex_src(p)?,
                    _ => {
                        return Err(
                            self.err(format!("a value filter \"{p}[...]\" needs a multi-valued or complex attribute"))
                        )
                    }
                };
                let cond = self.emit_elem(&src, inner, depth + 1)?;
                self.exists(&src, &cond)
            }
        }
    }

    fn binary(&self, a: &Filter, op: &str, b: &Filter, depth: usize) -> ScimResult<SqlFragment> {
        let mut f = SqlFragment::raw("(");
        f.append(&self.emit(a, depth + 1)?).push(" ").push(op).push(" ").append(&self.emit(b, depth + 1)?).push(")");
        Ok(f)
    }

    /// The inner filter of a value path, on one element of `src` (paths are relative).
    fn emit_elem(&self, src: &ElemSrc<'_>, f: &Filter, depth: usize) -> ScimResult<SqlFragment> {
        if depth > MAX_AST_DEPTH {
            return Err(self.err("filter is nested too deeply"));
        }
        let scalar = |p: &AttrPath| {
            if p.urn.is_some() || p.sub_attr.is_some() {
                return Err(self
                    .err(format!("inside a value filter, paths name a sub-attribute of the element; found \"{p}\"")));
            }
            self.sub_scalar(src, &p.attr)
        };
        match f {
            Filter::Not(x) => Ok(not(self.emit_elem(src, x, depth + 1)?)),
            Filter::And(a, b) | Filter::Or(a, b) => {
                let op = if matches!(f, Filter::And(..)) { " AND " } else { " OR " };
                let mut out = SqlFragment::raw("(");
                out.append(&self.emit_elem(src, a, depth + 1)?)
                    .push(op)
                    .append(&self.emit_elem(src, b, depth + 1)?)
                    .push(")");
                Ok(out)
            }
            Filter::Present(p) => Ok(self.present(&scalar(p)?)),
            Filter::Compare(p, op, lit) => self.compare(&scalar(p)?, *op, lit),
            Filter::ValuePath(..) => Err(self.err("value filters cannot be nested")),
        }
    }

    /// RFC 7644 §3.4.2.2 `pr`: the attribute has a non-empty value.
    fn present_path(&self, p: &AttrPath) -> ScimResult<SqlFragment> {
        match self.target(p)? {
            Target::Scalar(s) => Ok(self.present(&s)),
            Target::ComplexJson { keys } => self.complex_present(&keys),
            Target::Multi { src, sub: Some(sub) } => {
                let s = self.sub_scalar(&src, &sub)?;
                self.exists(&src, &self.present(&s))
            }
            Target::Multi { src, sub: None } => {
                let cond = match src {
                    ElemSrc::Json { .. } if self.pg() => SqlFragment::raw("jsonb_typeof(e.value) <> 'null'"),
                    ElemSrc::Json { .. } => SqlFragment::raw("e.value IS NOT NULL"),
                    _ => SqlFragment::raw("TRUE"),
                };
                self.exists(&src, &cond)
            }
        }
    }

    /// A complex JSON value with at least one non-empty member.
    fn complex_present(&self, keys: &[String]) -> ScimResult<SqlFragment> {
        let mut f = SqlFragment::default();
        if !self.pg() {
            f.push("EXISTS (SELECT 1 FROM json_each(")
                .push(self.table)
                .push(".resource, ")
                .bind(SqlBind::Text(json_path(keys)?))
                .push(") AS e WHERE e.value IS NOT NULL AND e.value <> '')");
            return Ok(f);
        }
        let path = pg_path(keys)?;
        f.push("EXISTS (SELECT 1 FROM jsonb_each(CASE WHEN jsonb_typeof(")
            .push(self.table)
            .push(".resource #> CAST(")
            .bind(SqlBind::Text(path.clone()))
            .push(" AS text[])) = 'object' THEN ")
            .push(self.table)
            .push(".resource #> CAST(")
            .bind(SqlBind::Text(path))
            .push(
                " AS text[]) ELSE '{}'::jsonb END) AS e(key, value) \
                   WHERE jsonb_typeof(e.value) <> 'null' AND e.value <> '\"\"'::jsonb)",
            );
        Ok(f)
    }

    fn compare_path(&self, p: &AttrPath, op: CompareOp, lit: &Literal) -> ScimResult<SqlFragment> {
        match self.target(p)? {
            Target::Scalar(s) => self.compare(&s, op, lit),
            Target::ComplexJson { keys } => match (op, lit) {
                (CompareOp::Eq, Literal::Null) => Ok(not(self.complex_present(&keys)?)),
                (CompareOp::Ne, Literal::Null) => self.complex_present(&keys),
                _ => Err(self.err(format!(
                    "\"{p}\" is a complex attribute; compare one of its sub-attributes (e.g. name.familyName)"
                ))),
            },
            Target::Multi { src, sub } => {
                let s = self.multi_scalar(&src, sub.as_deref())?;
                if let (ElemSrc::UserGroups { .. }, CompareOp::Eq, Some("value") | None, Literal::String(v)) =
                    (&src, op, sub.as_deref(), lit)
                {
                    return Ok(self.user_in_group(v));
                }
                // On a multi-valued attribute, `eq` etc. match when some element matches; `ne` and
                // `eq null` when none does (so they also match when the attribute is absent).
                match (op, lit) {
                    (CompareOp::Eq, Literal::Null) => Ok(not(self.exists(&src, &self.present(&s))?)),
                    (CompareOp::Ne, Literal::Null) => self.exists(&src, &self.present(&s)),
                    (CompareOp::Ne, _) => {
                        let eq = self.compare(&s, CompareOp::Eq, lit)?;
                        Ok(not(self.exists(&src, &eq)?))
                    }
                    _ => {
                        let cond = self.compare(&s, op, lit)?;
                        self.exists(&src, &cond)
                    }
                }
            }
        }
    }

    /// `groups.value eq "g"`: the user is in g directly or through nested groups. The members of g are
    /// computed once (uncorrelated), rather than the groups of every user.
    fn user_in_group(&self, group_id: &str) -> SqlFragment {
        let mut f = SqlFragment::raw(
            "users.id IN (WITH RECURSIVE sub(mid) AS (\
             SELECT m.member_id FROM group_members AS m WHERE m.group_id = ",
        );
        f.bind(SqlBind::Text(group_id.to_string())).push(
            " UNION SELECT m.member_id FROM group_members AS m JOIN sub ON m.group_id = sub.mid) \
             SELECT mid FROM sub)",
        );
        f
    }

    fn present(&self, s: &Scalar) -> SqlFragment {
        let x = &s.expr;
        let text = matches!(s.kind, Kind::Text | Kind::DateTime | Kind::Timestamp);
        let mut f = SqlFragment::default();
        match (s.null, text) {
            (Null::Never, true) => {
                f.push("(").append(x).push(" <> '')");
            }
            (Null::Never, false) => {
                f.push("TRUE");
            }
            (Null::Column, true) => {
                f.push("(").append(x).push(" IS NOT NULL AND ").append(x).push(" <> '')");
            }
            (Null::Column, false) => {
                f.push("(").append(x).push(" IS NOT NULL)");
            }
            (Null::Expr, true) => {
                f.push("COALESCE(").append(x).push(" <> '', FALSE)");
            }
            // Numbers and booleans: present when there is one.
            (Null::Expr, false) => {
                f.push("(").append(x).push(" IS NOT NULL)");
            }
        }
        f
    }

    /// Makes `cond` (a comparison on `s` that is NULL when `s` is) two-valued: false when absent.
    fn guard(&self, s: &Scalar, cond: SqlFragment) -> SqlFragment {
        match s.null {
            Null::Never => cond,
            Null::Column => {
                let mut f = SqlFragment::raw("(");
                f.append(&s.expr).push(" IS NOT NULL AND ").append(&cond).push(")");
                f
            }
            Null::Expr => cond.wrap("COALESCE(", ", FALSE)"),
        }
    }

    /// The bound value for comparing `s` with `lit`, or a type-mismatch error.
    fn value_bind(&self, s: &Scalar, op: CompareOp, lit: &Literal) -> ScimResult<SqlBind> {
        let mismatch = || {
            self.err(format!(
                "cannot compare the {} attribute \"{}\" with {} using {op}",
                s.kind.describe(),
                s.name,
                describe_literal(lit)
            ))
        };
        let no_op = || {
            self.err(format!("the operator {op} cannot be used on the {} attribute \"{}\"", s.kind.describe(), s.name))
        };
        match (s.kind, lit) {
            (Kind::Complex, _) => {
                Err(self.err(format!("\"{}\" is a complex attribute; compare one of its sub-attributes", s.name)))
            }
            (Kind::Text, Literal::String(v)) => Ok(SqlBind::Text(v.clone())),
            (Kind::DateTime | Kind::Timestamp, Literal::String(v)) => {
                if op.is_substring() {
                    return Err(no_op());
                }
                // RFC 7643 §2.3.5: dateTime values are xsd:dateTime; we accept RFC 3339.
                let t = chrono::DateTime::parse_from_rfc3339(v).map_err(|_| {
                    self.err(format!(
                        "\"{v}\" is not a valid dateTime for \"{}\" (expected RFC 3339, e.g. 2024-01-31T12:00:00Z)",
                        s.name
                    ))
                })?;
                if s.kind == Kind::Timestamp {
                    let utc = t.with_timezone(&chrono::Utc);
                    Ok(SqlBind::Text(utc.format(TIMESTAMP_FORMAT).to_string()))
                } else {
                    Ok(SqlBind::Text(v.clone()))
                }
            }
            (Kind::Bool, Literal::Bool(b)) => {
                if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                    return Err(no_op());
                }
                // SQLite: json_extract yields 1/0 for JSON true/false and the active column holds 1/0, which a
                // bound boolean is; PostgreSQL: booleans.
                Ok(SqlBind::Bool(*b))
            }
            (Kind::Number, Literal::Number(n)) => {
                if op.is_substring() {
                    return Err(no_op());
                }
                match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) => Ok(SqlBind::Int(i)),
                    (None, Some(f)) => Ok(SqlBind::Real(f)),
                    (None, None) => Err(mismatch()),
                }
            }
            _ => Err(mismatch()),
        }
    }

    /// A two-valued comparison of one scalar with a literal.
    fn compare(&self, s: &Scalar, op: CompareOp, lit: &Literal) -> ScimResult<SqlFragment> {
        if *lit == Literal::Null {
            // RFC 7644 §3.4.2.2 treats null as "no value": `eq null` is "not present".
            return match op {
                CompareOp::Eq => Ok(not(self.present(s))),
                CompareOp::Ne => Ok(self.present(s)),
                _ => Err(self.err(format!("null can only be compared with eq or ne, not {op}"))),
            };
        }
        let value = match self.value_bind(s, op, lit)? {
            SqlBind::Text(t) if s.fold => SqlBind::Text(fold_case(&t)),
            other => other,
        };
        let nocase_text = s.nocase && s.kind == Kind::Text;
        // SQLite: the NOCASE collation. PostgreSQL: both sides folded the same way (ASCII letters), unless the
        // column holds `fold_case` keys and the value was folded above.
        let (collate, pg_fold) = match (self.pg(), nocase_text) {
            (false, true) => (" COLLATE NOCASE", false),
            (true, true) => ("", !s.fold),
            _ => ("", false),
        };
        let folded_expr;
        let x = if pg_fold {
            folded_expr = s.expr.clone().wrap(PG_ASCII_FOLD.0, PG_ASCII_FOLD.1);
            &folded_expr
        } else {
            &s.expr
        };
        // The bound value, folded like `x` when it is.
        let bind_value = |f: &mut SqlFragment, value: SqlBind| {
            if pg_fold {
                f.push(PG_ASCII_FOLD.0).bind(value).push(PG_ASCII_FOLD.1);
            } else {
                f.bind(value);
            }
        };
        let mut f = SqlFragment::default();
        let sym = match op {
            CompareOp::Eq => "=",
            CompareOp::Ne => "<>",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew => "",
        };
        if op == CompareOp::Ne {
            // `ne` also matches when the attribute is absent.
            match s.null {
                Null::Never => {
                    f.append(x).push(" <> ");
                    bind_value(&mut f, value);
                    f.push(collate);
                }
                Null::Column => {
                    f.push("(").append(x).push(" IS NULL OR ").append(x).push(" <> ");
                    bind_value(&mut f, value);
                    f.push(collate).push(")");
                }
                Null::Expr => {
                    f.push("COALESCE(").append(x).push(" <> ");
                    bind_value(&mut f, value);
                    f.push(collate).push(", TRUE)");
                }
            }
            return Ok(f);
        }
        if !op.is_substring() {
            f.append(x).push(" ").push(sym).push(" ");
            bind_value(&mut f, value);
            f.push(collate);
            return Ok(self.guard(s, f));
        }
        let SqlBind::Text(v) = value else {
            return Err(ScimError::internal("substring operator on a non-text value"));
        };
        if v.is_empty() {
            // Every string contains, starts and ends with "".
            return Ok(match s.null {
                Null::Never => SqlFragment::raw("TRUE"),
                _ => {
                    let mut g = SqlFragment::raw("(");
                    g.append(x).push(" IS NOT NULL)");
                    g
                }
            });
        }
        if s.nocase {
            // LIKE folds ASCII case; `x LIKE 'abc%'` on a NOCASE-indexed column can use the index.
            let pattern = match op {
                CompareOp::Co => format!("%{}%", like_escape(&v)),
                CompareOp::Sw => format!("{}%", like_escape(&v)),
                _ => format!("%{}", like_escape(&v)),
            };
            f.append(x).push(" LIKE ");
            bind_value(&mut f, SqlBind::Text(pattern));
            f.push(" ESCAPE '\\'");
        } else {
            let position = if self.pg() { "strpos(" } else { "instr(" };
            match op {
                CompareOp::Co => {
                    f.push(position).append(x).push(", ").bind(SqlBind::Text(v)).push(") > 0");
                }
                CompareOp::Sw => {
                    f.push(position).append(x).push(", ").bind(SqlBind::Text(v)).push(") = 1");
                }
                _ => {
                    // The last n characters (counted in characters on both backends).
                    let n = i64::try_from(v.chars().count()).unwrap_or(i64::MAX);
                    if self.pg() {
                        f.push("right(").append(x).push(", CAST(").bind(SqlBind::Int(n)).push(" AS integer)) = ");
                    } else {
                        f.push("substr(").append(x).push(", ").bind(SqlBind::Int(-n)).push(") = ");
                    }
                    f.bind(SqlBind::Text(v));
                }
            }
        }
        Ok(self.guard(s, f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::{parse_attr_path, parse_filter};
    use crate::store::Conn;
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use serde_json::{json, Value};

    #[derive(QueryableByName, Debug)]
    struct IdRow {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }

    #[derive(QueryableByName, Debug)]
    struct PlanRow {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const EVIL: &str = "'; DROP TABLE users; --";

    #[allow(clippy::too_many_arguments)]
    fn insert_user(
        c: &mut Conn,
        id: &str,
        user_name: &str,
        ext: Option<&str>,
        display: Option<&str>,
        active: bool,
        created: &str,
        modified: &str,
        resource: Value,
    ) {
        use diesel::sql_types::{Bool, Nullable, Text};
        diesel::sql_query(
            "INSERT INTO users (id, user_name_folded, external_id, display_name_folded, active, created, \
             last_modified, version, resource) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)",
        )
        .bind::<Text, _>(id)
        .bind::<Text, _>(fold_case(user_name))
        .bind::<Nullable<Text>, _>(ext)
        .bind::<Nullable<Text>, _>(display.map(fold_case))
        .bind::<Bool, _>(active)
        .bind::<Text, _>(created)
        .bind::<Text, _>(modified)
        .bind::<Text, _>(resource.to_string())
        .execute(c)
        .expect("insert user");
    }

    fn db() -> Conn {
        use diesel_migrations::MigrationHarness;
        let mut c = Conn::Sqlite(SqliteConnection::establish(":memory:").expect("open"));
        c.run_pending_migrations(crate::store::MIGRATIONS).expect("the real migrations");
        insert_user(
            &mut c,
            "u1",
            "alice",
            Some("EXT-1"),
            Some("Alice Smith"),
            true,
            "2024-01-01T00:00:00.000Z",
            "2024-03-01T00:00:00.000Z",
            json!({"userName": "alice", "title": "Engineer",
                   "name": {"givenName": "Alice", "familyName": "Smith"},
                   "emails": [{"value": "alice@example.com", "type": "work", "primary": true},
                              {"value": "alice@home.org", "type": "home"}],
                   ENT: {"employeeNumber": "1001", "manager": {"value": "u2"}}}),
        );
        insert_user(
            &mut c,
            "u2",
            "Bob",
            None,
            None,
            false,
            "2024-02-01T00:00:00.000Z",
            "2024-02-15T00:00:00.000Z",
            json!({"userName": "Bob", "title": "", "nickName": EVIL,
                   "name": {"familyName": "brown"},
                   "emails": [{"value": "BOB@Example.COM", "type": "home"}]}),
        );
        insert_user(
            &mut c,
            "u3",
            "carol_%x",
            Some("ext-1"),
            Some("carol"),
            true,
            "2024-03-01T00:00:00.000Z",
            "2024-04-01T00:00:00.000Z",
            json!({"userName": "carol_%x", "name": {}, "emails": [],
                   ENT: {"employeeNumber": "1002"}}),
        );
        insert_user(
            &mut c,
            "u4",
            "dave",
            Some("ext-4"),
            Some("Dave"),
            true,
            "2024-05-01T00:00:00.000Z",
            "2024-05-01T00:00:00.000Z",
            json!({"userName": "dave", "name": {"givenName": "Zed"},
                   "emails": [{"value": "dave@example.com", "type": "work"},
                              {"value": "dave2@example.com", "type": "work", "primary": true}]}),
        );
        c.batch_execute(
            r#"INSERT INTO groups (id, display_name_folded, created, last_modified, version, resource) VALUES
               ('g1', 'engineering', '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', 1, '{"displayName":"Engineering"}'),
               ('g2', 'platform', '2024-01-02T00:00:00.000Z', '2024-01-02T00:00:00.000Z', 1, '{"displayName":"Platform"}'),
               ('g3', 'empty', '2024-01-03T00:00:00.000Z', '2024-01-03T00:00:00.000Z', 1, '{"displayName":"Empty"}'),
               ('gA', 'loop a', '2024-01-04T00:00:00.000Z', '2024-01-04T00:00:00.000Z', 1, '{"displayName":"Loop A"}'),
               ('gB', 'loop b', '2024-01-05T00:00:00.000Z', '2024-01-05T00:00:00.000Z', 1, '{"displayName":"Loop B"}');
             INSERT INTO group_members (group_id, member_id, member_type) VALUES
               ('g1', 'u1', 'User'), ('g1', 'g2', 'Group'), ('g2', 'u3', 'User'),
               ('gA', 'gB', 'Group'), ('gB', 'gA', 'Group'), ('gB', 'u2', 'User');"#,
        )
        .expect("groups");
        c
    }

    fn rt(name: &str) -> &'static ResourceType {
        Schemas::embedded().resource_type(name).expect("resource type")
    }

    fn select(c: &mut Conn, table: &str, frag: &SqlFragment, order: &str) -> Vec<String> {
        let sql = format!("SELECT id FROM {table} WHERE {} ORDER BY {order}", frag.sql);
        let q = frag.bind_to(diesel::sql_query(sql).into_boxed::<MultiBackend>());
        match q.load::<IdRow>(c) {
            Ok(rows) => rows.into_iter().map(|r| r.id).collect(),
            Err(e) => panic!("query failed: {e}\nSQL: {}", frag.sql),
        }
    }

    fn frag_for(rt_name: &str, filter: &str) -> ScimResult<SqlFragment> {
        let f = parse_filter(filter)?;
        filter_to_sql(Schemas::embedded(), rt(rt_name), &f, Dialect::Sqlite)
    }

    fn run(c: &mut Conn, rt_name: &str, filter: &str) -> Vec<String> {
        let frag = match frag_for(rt_name, filter) {
            Ok(f) => f,
            Err(e) => panic!("{filter}: {e}"),
        };
        let table = if rt_name == "User" { "users" } else { "groups" };
        select(c, table, &frag, "id")
    }

    fn users(c: &mut Conn, filter: &str) -> Vec<String> {
        run(c, "User", filter)
    }

    fn groups(c: &mut Conn, filter: &str) -> Vec<String> {
        run(c, "Group", filter)
    }

    fn rejected(rt_name: &str, filter: &str) -> String {
        match frag_for(rt_name, filter) {
            Ok(f) => panic!("{filter} should be rejected, got {}", f.sql),
            Err(e) => {
                assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{filter}: {e}");
                e.detail
            }
        }
    }

    #[test]
    fn user_name_operators() {
        let c = &mut db();
        assert_eq!(users(c, r#"userName eq "ALICE""#), ["u1"]);
        assert_eq!(users(c, r#"userName ne "alice""#), ["u2", "u3", "u4"]);
        assert_eq!(users(c, r#"userName co "A""#), ["u1", "u3", "u4"]);
        // LIKE wildcards in the value are literal.
        assert_eq!(users(c, r#"userName co "_%""#), ["u3"]);
        assert_eq!(users(c, r#"userName co "%""#), ["u3"]);
        assert_eq!(users(c, r#"userName sw "b""#), ["u2"]);
        assert_eq!(users(c, r#"userName ew "VE""#), ["u4"]);
        assert_eq!(users(c, r#"userName gt "bob""#), ["u3", "u4"]);
        assert_eq!(users(c, r#"userName ge "bob""#), ["u2", "u3", "u4"]);
        assert_eq!(users(c, r#"userName lt "B""#), ["u1"]);
        assert_eq!(users(c, r#"userName le "bob""#), ["u1", "u2"]);
        assert_eq!(users(c, "userName pr"), ["u1", "u2", "u3", "u4"]);
        assert_eq!(users(c, r#"userName co """#), ["u1", "u2", "u3", "u4"]);
        assert_eq!(users(c, r#"id eq "u3""#), ["u3"]);
        assert_eq!(users(c, r#"id eq "U3""#), Vec::<String>::new());
        // Attribute names are case-insensitive and may carry the core schema URN (RFC 7644 §3.10).
        assert_eq!(users(c, r#"USERNAME Eq "alice""#), ["u1"]);
        assert_eq!(users(c, r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob""#), ["u2"]);
        let frag = frag_for("User", r#"UserName eq "x""#).expect("ok");
        assert_eq!(frag.sql, "users.user_name_folded = ? COLLATE NOCASE");
    }

    #[test]
    fn case_exact_external_id() {
        let c = &mut db();
        assert_eq!(users(c, r#"externalId eq "ext-1""#), ["u3"]);
        assert_eq!(users(c, r#"externalId eq "EXT-1""#), ["u1"]);
        assert_eq!(users(c, r#"externalId ne "ext-1""#), ["u1", "u2", "u4"]);
        assert_eq!(users(c, r#"externalId co "XT""#), ["u1"]);
        assert_eq!(users(c, r#"externalId sw "ext""#), ["u3", "u4"]);
        assert_eq!(users(c, r#"externalId ew "-1""#), ["u1", "u3"]);
        assert_eq!(users(c, r#"externalId ew "xext-1""#), Vec::<String>::new());
        assert_eq!(users(c, r#"externalId gt "ext-1""#), ["u4"]);
        assert_eq!(users(c, "externalId pr"), ["u1", "u3", "u4"]);
        assert_eq!(users(c, "not (externalId pr)"), ["u2"]);
        assert_eq!(users(c, "externalId eq null"), ["u2"]);
        assert_eq!(users(c, "externalId ne null"), ["u1", "u3", "u4"]);
        assert_eq!(users(c, r#"not (externalId eq "ext-4")"#), ["u1", "u2", "u3"]);
    }

    #[test]
    fn display_name_active_and_meta() {
        let c = &mut db();
        assert_eq!(users(c, r#"displayName eq "alice smith""#), ["u1"]);
        assert_eq!(users(c, "displayName pr"), ["u1", "u3", "u4"]);
        assert_eq!(users(c, r#"not (displayName eq "CAROL")"#), ["u1", "u2", "u4"]);
        assert_eq!(users(c, "active eq true"), ["u1", "u3", "u4"]);
        assert_eq!(users(c, "active eq False"), ["u2"]);
        assert_eq!(users(c, "active ne true"), ["u2"]);
        assert_eq!(users(c, r#"meta.created gt "2024-01-15T00:00:00Z""#), ["u2", "u3", "u4"]);
        // The literal is converted to UTC before the (string) comparison.
        assert_eq!(users(c, r#"meta.lastModified le "2024-02-15T01:00:00+01:00""#), ["u2"]);
        assert_eq!(users(c, r#"meta.lastModified eq "2024-05-01T00:00:00Z""#), ["u4"]);
        assert_eq!(users(c, r#"meta.resourceType eq "User""#).len(), 4);
        assert!(users(c, r#"meta.resourceType eq "Group""#).is_empty());
        assert_eq!(users(c, r#"meta.version eq "W/\"1\"""#).len(), 4);
        assert_eq!(users(c, "meta pr").len(), 4);
    }

    #[test]
    fn json_attributes_and_null_handling() {
        let c = &mut db();
        assert_eq!(users(c, r#"title eq "engineer""#), ["u1"]);
        assert_eq!(users(c, "title pr"), ["u1"]);
        assert_eq!(users(c, "title eq null"), ["u2", "u3", "u4"]);
        assert_eq!(users(c, "title ne null"), ["u1"]);
        assert_eq!(users(c, r#"title ne "Engineer""#), ["u2", "u3", "u4"]);
        assert_eq!(users(c, r#"not (title co "gin")"#), ["u2", "u3", "u4"]);
        assert_eq!(users(c, r#"name.familyName eq "BROWN""#), ["u2"]);
        assert_eq!(users(c, r#"NAME.GIVENNAME sw "a""#), ["u1"]);
        assert_eq!(users(c, "name pr"), ["u1", "u2", "u4"]);
        assert_eq!(users(c, "name eq null"), ["u3"]);
        assert_eq!(users(c, r#"name[givenName eq "zed"]"#), ["u4"]);
        assert_eq!(users(c, &format!(r#"{ENT}:employeeNumber eq "1002""#)), ["u3"]);
        assert_eq!(users(c, &format!(r#"{ENT}:employeeNumber gt "1000""#)), ["u1", "u3"]);
        assert_eq!(users(c, &format!(r#"{ENT}:manager.value eq "u2""#)), ["u1"]);
        assert_eq!(users(c, &format!("{ENT}:manager pr")), ["u1"]);
        assert_eq!(users(c, &format!("{ENT} pr")), ["u1", "u3"]);
        assert_eq!(users(c, &format!("not ({ENT}:employeeNumber pr)")), ["u2", "u4"]);
    }

    #[test]
    fn multi_valued_and_value_paths() {
        let c = &mut db();
        assert_eq!(users(c, r#"emails.value eq "bob@example.com""#), ["u2"]);
        assert_eq!(users(c, r#"emails co "EXAMPLE.com""#), ["u1", "u2", "u4"]);
        assert_eq!(users(c, r#"emails.type eq "work""#), ["u1", "u4"]);
        assert_eq!(users(c, "emails pr"), ["u1", "u2", "u4"]);
        assert_eq!(users(c, "emails.value eq null"), ["u3"]);
        assert_eq!(users(c, r#"emails ne "alice@example.com""#), ["u2", "u3", "u4"]);
        assert_eq!(users(c, r#"emails[type eq "work" and value co "dave2"]"#), ["u4"]);
        assert_eq!(users(c, r#"emails[type eq "home" and value ew ".org"]"#), ["u1"]);
        assert_eq!(users(c, r#"emails[type eq "work" and primary eq true]"#), ["u1", "u4"]);
        // Both conditions must hold for the SAME element.
        assert!(users(c, r#"emails[type eq "home" and value eq "alice@example.com"]"#).is_empty());
        assert_eq!(users(c, r#"emails[not (type eq "work")]"#), ["u1", "u2"]);
        assert_eq!(
            users(c, r#"emails[type eq "work"] and not (userName eq "dave") or userName eq "Bob""#),
            ["u1", "u2"]
        );
    }

    #[test]
    fn logic_and_precedence() {
        let c = &mut db();
        assert_eq!(users(c, r#"userName eq "alice" or userName eq "bob" and active eq true"#), ["u1"]);
        assert_eq!(users(c, r#"(userName eq "alice" or userName eq "bob") and active eq false"#), ["u2"]);
        assert_eq!(users(c, r#"not (userName eq "alice" or active eq false)"#), ["u3", "u4"]);
        assert_eq!(users(c, "not (title pr) and displayName pr"), ["u3", "u4"]);
    }

    #[test]
    fn user_groups_direct_and_nested() {
        let c = &mut db();
        assert_eq!(users(c, r#"groups.value eq "g1""#), ["u1", "u3"]);
        assert_eq!(users(c, r#"groups eq "g2""#), ["u3"]);
        // A membership cycle (gA <-> gB) terminates.
        assert_eq!(users(c, r#"groups.value eq "gA""#), ["u2"]);
        assert!(users(c, r#"groups.value eq "g3""#).is_empty());
        assert_eq!(users(c, r#"groups.value ne "g1""#), ["u2", "u4"]);
        assert_eq!(users(c, r#"groups.value co "A""#), ["u2"]);
        assert_eq!(users(c, r#"groups[value eq "g1" and type eq "direct"]"#), ["u1"]);
        assert_eq!(users(c, r#"groups[value eq "g1" and type eq "Indirect"]"#), ["u3"]);
        assert_eq!(users(c, r#"groups.display eq "platform""#), ["u3"]);
        assert_eq!(users(c, r#"groups[display sw "loop"]"#), ["u2"]);
        assert_eq!(users(c, "groups pr"), ["u1", "u2", "u3"]);
        assert_eq!(users(c, "not (groups pr)"), ["u4"]);
    }

    #[test]
    fn group_members() {
        let c = &mut db();
        assert_eq!(groups(c, r#"displayName eq "ENGINEERING""#), ["g1"]);
        assert_eq!(groups(c, r#"displayName sw "loop""#), ["gA", "gB"]);
        assert_eq!(groups(c, r#"members.value eq "u1""#), ["g1"]);
        assert!(groups(c, r#"members.value eq "U1""#).is_empty());
        assert_eq!(groups(c, r#"members eq "g2""#), ["g1"]);
        assert_eq!(groups(c, "members pr"), ["g1", "g2", "gA", "gB"]);
        assert_eq!(groups(c, "not (members pr)"), ["g3"]);
        assert_eq!(groups(c, "members eq null"), ["g3"]);
        assert_eq!(groups(c, r#"members.type eq "group""#), ["g1", "gA", "gB"]);
        assert_eq!(groups(c, r#"members[type eq "User" and value eq "u3"]"#), ["g2"]);
        assert!(groups(c, r#"members[type eq "Group" and value eq "u3"]"#).is_empty());
        assert_eq!(groups(c, r#"members.value ne "u1""#), ["g2", "g3", "gA", "gB"]);
        assert_eq!(groups(c, r#"externalId eq null and id sw "g""#).len(), 5);
        let d = rejected("Group", r#"members.display eq "alice""#);
        assert!(d.contains("members.display") && d.contains("not supported"), "{d}");
    }

    #[test]
    fn type_errors_and_unknown_attributes() {
        assert!(rejected("User", r#"active eq "yes""#).contains("boolean attribute \"active\""));
        assert!(rejected("User", r#"active co "x""#).contains("boolean"));
        assert!(rejected("User", "active gt true").contains("true/false"));
        assert!(rejected("User", "userName eq 1").contains("string attribute \"userName\""));
        assert!(rejected("User", r#"foo eq "x""#).contains("unknown attribute"));
        assert!(rejected("User", r#"emails.foo eq "x""#).contains("unknown attribute"));
        assert!(rejected("User", r#"emails[foo eq "x"]"#).contains("no sub-attribute"));
        assert!(rejected("User", r#"members eq "x""#).contains("unknown attribute"));
        assert!(rejected("User", r#"password eq "x""#).contains("never returned"));
        assert!(rejected("User", "password pr").contains("never returned"));
        assert!(rejected("User", r#"meta.created eq "yesterday""#).contains("not a valid dateTime"));
        assert!(rejected("User", r#"meta.created co "2024""#).contains("cannot be used"));
        assert!(rejected("User", r#"name eq "x""#).contains("complex"));
        assert!(rejected("User", r#"meta.location eq "x""#).contains("not supported"));
        assert!(rejected("User", r#"userName[value eq "x"]"#).contains("multi-valued"));
        assert!(rejected("User", r#"groups.$ref eq "x""#).contains("not supported"));
    }

    #[test]
    fn values_are_bound_never_spliced() {
        let c = &mut db();
        let frag = frag_for("User", &format!("nickName eq {}", json!(EVIL))).expect("ok");
        assert!(!frag.sql.contains("DROP"), "{}", frag.sql);
        assert!(frag.binds.contains(&SqlBind::Text(EVIL.to_string())));
        assert_eq!(users(c, &format!("nickName eq {}", json!(EVIL))), ["u2"]);
        assert!(users(c, &format!("userName eq {}", json!(EVIL))).is_empty());
        assert!(users(c, &format!("userName co {}", json!(EVIL))).is_empty());
        // JSON paths are bound too.
        let frag = frag_for("User", &format!("{ENT}:employeeNumber pr")).expect("ok");
        assert!(!frag.sql.contains("enterprise"), "{}", frag.sql);
        assert!(frag.binds.contains(&SqlBind::Text(format!("$.\"{ENT}\".\"employeeNumber\""))));
        // The table survived.
        assert_eq!(users(c, "userName pr").len(), 4);
    }

    fn plan(c: &mut Conn, filter: &str) -> String {
        let frag = frag_for("User", filter).expect("filter");
        let sql = format!("EXPLAIN QUERY PLAN SELECT id FROM users WHERE {}", frag.sql);
        let q = frag.bind_to(diesel::sql_query(sql).into_boxed::<MultiBackend>());
        let rows = q.load::<PlanRow>(c).expect("plan");
        rows.into_iter().map(|r| r.detail).collect::<Vec<_>>().join("; ")
    }

    #[test]
    fn hot_columns_use_indexes() {
        let c = &mut db();
        let p = plan(c, r#"userName eq "alice""#);
        assert!(p.contains("USING INDEX sqlite_autoindex_users_2"), "{p}");
        let p = plan(c, r#"externalId eq "ext-1""#);
        assert!(p.contains("USING INDEX users_external_id"), "{p}");
        let p = plan(c, r#"displayName eq "carol""#);
        assert!(p.contains("USING INDEX users_display_name"), "{p}");
        let p = plan(c, r#"userName sw "al""#);
        assert!(p.contains("USING INDEX sqlite_autoindex_users_2"), "{p}");
        let p = plan(c, r#"meta.lastModified gt "2024-01-01T00:00:00Z""#);
        assert!(p.contains("USING INDEX users_last_modified"), "{p}");
        // Sorting by a NOT NULL indexed column needs no separate sort step.
        let path = parse_attr_path("userName").expect("path");
        let key = order_by_sql(Schemas::embedded(), rt("User"), &path, true, Dialect::Sqlite).expect("sort");
        assert_eq!(key.sql, "users.user_name_folded COLLATE NOCASE DESC");
        let sql = format!("EXPLAIN QUERY PLAN SELECT id FROM users ORDER BY {}", key.sql);
        let rows = key.bind_to(diesel::sql_query(sql).into_boxed::<MultiBackend>()).load::<PlanRow>(c).expect("plan");
        let p: Vec<String> = rows.into_iter().map(|r| r.detail).collect();
        assert!(!p.join(";").contains("TEMP B-TREE"), "{p:?}");
    }

    fn sorted(c: &mut Conn, sort_by: &str, descending: bool) -> Vec<String> {
        let path = parse_attr_path(sort_by).expect("path");
        let key = order_by_sql(Schemas::embedded(), rt("User"), &path, descending, Dialect::Sqlite).expect("sort");
        let mut all = SqlFragment::raw("1 ORDER BY ");
        all.append(&key);
        all.push(", seq");
        let sql = format!("SELECT id FROM users WHERE {}", all.sql);
        let q = all.bind_to(diesel::sql_query(sql).into_boxed::<MultiBackend>());
        q.load::<IdRow>(c).expect("sorted query").into_iter().map(|r| r.id).collect()
    }

    #[test]
    fn sort_keys() {
        let c = &mut db();
        assert_eq!(sorted(c, "userName", false), ["u1", "u2", "u3", "u4"]);
        assert_eq!(sorted(c, "userName", true), ["u4", "u3", "u2", "u1"]);
        // Missing values last when ascending, first when descending (RFC 7644 §3.4.2.3).
        assert_eq!(sorted(c, "name.familyName", false), ["u2", "u1", "u3", "u4"]);
        assert_eq!(sorted(c, "name.familyName", true), ["u3", "u4", "u1", "u2"]);
        assert_eq!(sorted(c, "externalId", false), ["u1", "u3", "u4", "u2"]);
        assert_eq!(sorted(c, "meta.created", true), ["u4", "u3", "u2", "u1"]);
        // Multi-valued: the primary value, else the first.
        assert_eq!(sorted(c, "emails", false), ["u1", "u2", "u4", "u3"]);
        assert_eq!(sorted(c, "emails.value", true), ["u3", "u4", "u2", "u1"]);
        assert_eq!(sorted(c, &format!("{ENT}:employeeNumber"), true), ["u2", "u4", "u3", "u1"]);
        for bad in ["name", "groups", "foo", "password", "meta", "meta.location"] {
            let path = parse_attr_path(bad).expect("path");
            let e = sort_key_sql(Schemas::embedded(), rt("User"), &path, Dialect::Sqlite).expect_err(bad);
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{bad}: {e}");
        }
    }

    /// A schema with numeric, dateTime-in-JSON, case-exact and multi-valued primitive attributes.
    fn custom() -> Schemas {
        let schema = json!({"id": "urn:test:Thing", "name": "Thing", "attributes": [
            {"name": "age", "type": "integer"},
            {"name": "score", "type": "decimal"},
            {"name": "born", "type": "dateTime"},
            {"name": "flag", "type": "boolean"},
            {"name": "code", "type": "string", "caseExact": true},
            {"name": "tags", "type": "string", "multiValued": true}
        ]})
        .to_string();
        let rts = json!([{"name": "User", "endpoint": "/Things", "schema": "urn:test:Thing"}]).to_string();
        Schemas::from_json(&[&schema], &rts).expect("custom schema")
    }

    #[test]
    fn numbers_booleans_and_primitive_arrays() {
        let c = &mut db();
        c.batch_execute("DELETE FROM users").expect("clear");
        let rows = [
            (
                "t1",
                json!({"age": 30, "score": 1.5, "born": "2000-01-01T00:00:00Z", "flag": true,
                          "code": "AbC", "tags": ["red", "Blue"]}),
            ),
            ("t2", json!({"age": 41, "score": 2, "flag": false, "code": "abc", "tags": []})),
            ("t3", json!({"score": -0.5, "born": "1990-06-01T00:00:00Z"})),
        ];
        for (id, res) in rows {
            insert_user(c, id, id, None, None, true, "x", "x", res);
        }
        let schemas = custom();
        let rt = schemas.resource_type("User").expect("rt");
        let mut q = |filter: &str| {
            let f = parse_filter(filter).expect("parse");
            let frag = filter_to_sql(&schemas, rt, &f, Dialect::Sqlite).unwrap_or_else(|e| panic!("{filter}: {e}"));
            select(c, "users", &frag, "id")
        };
        assert_eq!(q("age eq 30"), ["t1"]);
        assert_eq!(q("age gt 30"), ["t2"]);
        assert_eq!(q("age ge 30"), ["t1", "t2"]);
        assert_eq!(q("age lt 40.5"), ["t1"]);
        assert_eq!(q("age le 41"), ["t1", "t2"]);
        assert_eq!(q("age ne 30"), ["t2", "t3"]);
        assert_eq!(q("score eq 2"), ["t2"]);
        assert_eq!(q("score gt 1.25e0"), ["t1", "t2"]);
        assert_eq!(q("score lt 0"), ["t3"]);
        assert_eq!(q("flag eq true"), ["t1"]);
        assert_eq!(q("flag eq false"), ["t2"]);
        assert_eq!(q("flag ne true"), ["t2", "t3"]);
        assert_eq!(q("flag pr"), ["t1", "t2"]);
        assert_eq!(q(r#"born lt "1995-01-01T00:00:00Z""#), ["t3"]);
        assert_eq!(q(r#"code eq "abc""#), ["t2"]);
        assert_eq!(q(r#"code co "bC""#), ["t1"]);
        assert_eq!(q(r#"code sw "Ab""#), ["t1"]);
        assert_eq!(q(r#"code ew "bc""#), ["t2"]);
        assert_eq!(q(r#"tags eq "blue""#), ["t1"]);
        assert_eq!(q(r#"tags[value sw "r"]"#), ["t1"]);
        assert_eq!(q("tags pr"), ["t1"]);
        assert_eq!(q(r#"tags ne "red""#), ["t2", "t3"]);
        for bad in [r#"age eq "30""#, r#"age co "3""#, "flag eq 1", r#"born eq "x""#] {
            let f = parse_filter(bad).expect("parse");
            let e = filter_to_sql(&schemas, rt, &f, Dialect::Sqlite).expect_err(bad);
            assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{bad}");
        }
    }

    #[test]
    fn like_escaping() {
        assert_eq!(like_escape(r"a%b_c\d"), r"a\%b\_c\\d");
        assert_eq!(json_path(&["name", "familyName"]).expect("ok"), r#"$."name"."familyName""#);
        assert!(json_path(&["a\"b"]).is_err());
    }
}
