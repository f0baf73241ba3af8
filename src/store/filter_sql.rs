//! SCIM filter AST (RFC 7644 §3.4.2.2) -> SQLite `WHERE` fragment with bound parameters, and `sortBy`
//! (RFC 7644 §3.4.2.3) -> `ORDER BY` expression.
//!
//! * User-supplied text is never spliced into SQL: every value, and every JSON path (built from
//!   schema-canonical names), is a `?` parameter. Only table and column names, which are constants
//!   here, appear in the SQL text.
//! * Hot attributes map to indexed columns (`users.user_name`, `users.external_id`, ...); everything
//!   else is read from the `resource` JSON with `json_extract` / `json_each`. Membership (`Group.members`,
//!   `User.groups`) comes from the `group_members` table, never from JSON; `groups` includes indirect
//!   memberships through nested groups (a recursive CTE; `UNION` so cycles terminate).
//! * Every predicate is two-valued (never SQL NULL), so `not (...)` and `ne` also match resources where
//!   the attribute is absent.
//! * caseExact=false strings compare with `COLLATE NOCASE` and `LIKE`, which fold ASCII letters only
//!   (`é` and `É` differ); caseExact=true strings compare bytewise (`=`, `instr`, `substr`).
//! * `id`, `members.value` and `groups.value` compare exactly: ids are caseExact (RFC 7643 §3.1).

use super::TIMESTAMP_FORMAT;
use crate::scim::error::{ScimError, ScimResult, ScimType};
use crate::scim::filter::{AttrPath, CompareOp, Filter, Literal};
use crate::scim::schema::{AttrDef, AttrType, ResourceType, Returned, Schemas};
use diesel::query_builder::BoxedSqlQuery;
use diesel::sqlite::Sqlite;

/// Deepest filter AST accepted (the parser's own limits stay far below this).
const MAX_AST_DEPTH: usize = 512;

/// One `?` parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlBind {
    Text(String),
    Int(i64),
    Real(f64),
}

/// SQL text with `?` placeholders and their values, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SqlFragment {
    pub sql: String,
    pub binds: Vec<SqlBind>,
}

impl SqlFragment {
    fn raw(sql: &str) -> Self {
        SqlFragment {
            sql: sql.to_string(),
            binds: Vec::new(),
        }
    }

    fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    fn bind(&mut self, b: SqlBind) -> &mut Self {
        self.sql.push('?');
        self.binds.push(b);
        self
    }

    fn append(&mut self, other: &SqlFragment) -> &mut Self {
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
    pub fn bind_to<'f, Q>(&self, query: BoxedSqlQuery<'f, Sqlite, Q>) -> BoxedSqlQuery<'f, Sqlite, Q> {
        use diesel::sql_types::{BigInt, Double, Text};
        self.binds.iter().fold(query, |q, b| match b {
            SqlBind::Text(s) => q.bind::<Text, _>(s.clone()),
            SqlBind::Int(i) => q.bind::<BigInt, _>(*i),
            SqlBind::Real(f) => q.bind::<Double, _>(*f),
        })
    }
}

/// Translates a parsed filter into a `WHERE` condition on the resource type's table (`users` or
/// `groups`; columns are qualified with it). Errors are `invalidFilter` (unknown attribute, type
/// mismatch, unsupported attribute), or internal.
pub fn filter_to_sql(
    schemas: &Schemas,
    rt: &ResourceType,
    filter: &Filter,
) -> ScimResult<SqlFragment> {
    Ctx::new(schemas, rt, ScimType::InvalidFilter)?.emit(filter, 0)
}

/// An `ORDER BY` expression for `sortBy` (RFC 7644 §3.4.2.3): a column or `json_extract` for a simple
/// single-valued attribute (with `COLLATE NOCASE` when caseExact=false); for a multi-valued attribute
/// the primary element's value (or the first element's). Errors are `invalidValue`.
pub fn sort_key_sql(schemas: &Schemas, rt: &ResourceType, path: &AttrPath) -> ScimResult<SqlFragment> {
    let cx = Ctx::new(schemas, rt, ScimType::InvalidValue)?;
    match cx.target(path)? {
        Target::Scalar(s) if s.kind != Kind::Complex => {
            let mut f = s.expr.clone();
            if s.nocase && s.kind == Kind::Text {
                f.push(" COLLATE NOCASE");
            }
            Ok(f)
        }
        Target::Multi {
            src: src @ ElemSrc::Json { .. },
            sub,
        } => {
            let ElemSrc::Json {
                array_path, def, ..
            } = &src
            else {
                return Err(ScimError::internal("sort_key_sql: unexpected element source"));
            };
            let elem = cx.multi_scalar(&src, sub.as_deref())?;
            if elem.kind == Kind::Complex {
                return Err(cx.err(format!(
                    "cannot sort by the complex attribute \"{}\"",
                    path
                )));
            }
            // RFC 7644 §3.4.2.3: a multi-valued attribute sorts by its primary value, else the first.
            let mut f = SqlFragment::raw("(SELECT ");
            f.append(&elem.expr);
            f.push(" FROM json_each(")
                .push(cx.table)
                .push(".resource, ")
                .bind(SqlBind::Text(array_path.clone()))
                .push(") AS e ORDER BY ");
            if def.sub("primary").is_some() {
                f.push("COALESCE(json_extract(e.value, ")
                    .bind(SqlBind::Text(json_path(&["primary"])?))
                    .push("), 0) DESC, ");
            }
            f.push("e.key LIMIT 1)");
            if elem.nocase && elem.kind == Kind::Text {
                f.push(" COLLATE NOCASE");
            }
            Ok(f)
        }
        Target::Multi { .. } => Err(cx.err(format!(
            "cannot sort by \"{path}\": membership attributes are not sortable"
        ))),
        Target::Scalar(_) | Target::ComplexJson { .. } => Err(cx.err(format!(
            "cannot sort by the complex attribute \"{path}\"; sort by one of its sub-attributes (e.g. name.familyName)"
        ))),
    }
}

/// A whole `ORDER BY` term: the sort key, the direction, and RFC 7644 §3.4.2.3's placement of
/// resources without a value ("ordered last if ascending and first if descending").
pub fn order_by_sql(
    schemas: &Schemas,
    rt: &ResourceType,
    path: &AttrPath,
    descending: bool,
) -> ScimResult<SqlFragment> {
    let mut f = sort_key_sql(schemas, rt, path)?;
    f.push(if descending {
        " DESC NULLS FIRST"
    } else {
        " ASC NULLS LAST"
    });
    Ok(f)
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
    /// For messages.
    name: String,
}

/// The rows a multi-valued attribute's elements come from.
#[derive(Debug, Clone)]
enum ElemSrc<'s> {
    /// A JSON array in `resource`; elements are `e.value` of `json_each`.
    Json {
        array_path: String,
        def: &'s AttrDef,
        name: String,
    },
    /// A single-valued complex attribute used with a value filter (`name[givenName eq "x"]`).
    Single {
        keys: Vec<String>,
        def: &'s AttrDef,
        name: String,
    },
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
    ComplexJson { path: String },
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
            return Err(ScimError::internal(format!(
                "attribute name {k:?} cannot be a JSON path key"
            )));
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
}

impl<'s> Ctx<'s> {
    fn new(schemas: &'s Schemas, rt: &'s ResourceType, err_type: ScimType) -> ScimResult<Self> {
        let table = match rt.name.as_str() {
            "User" => "users",
            "Group" => "groups",
            other => {
                return Err(ScimError::internal(format!(
                    "no table for resource type {other}"
                )))
            }
        };
        Ok(Ctx {
            schemas,
            rt,
            table,
            err_type,
        })
    }

    fn err(&self, detail: impl Into<String>) -> ScimError {
        ScimError::new(400, Some(self.err_type), detail)
    }

    fn is_user(&self) -> bool {
        self.table == "users"
    }

    fn column(&self, col: &str, null: Null, kind: Kind, nocase: bool, name: &str) -> Scalar {
        Scalar {
            expr: SqlFragment::raw(&format!("{}.{col}", self.table)),
            null,
            kind,
            nocase,
            name: name.to_string(),
        }
    }

    /// Resolves `path` against the schema and says where its values live.
    fn target(&self, path: &AttrPath) -> ScimResult<Target<'s>> {
        let r = self.schemas.resolve(self.rt, path).map_err(|e| {
            if e.status == 400 {
                self.err(e.detail)
            } else {
                e
            }
        })?;
        let leaf = r.leaf();
        let name = r.dotted_name();
        if leaf.returned == Returned::Never || r.attr.returned == Returned::Never {
            return Err(self.err(format!(
                "\"{name}\" is never returned and cannot be used in a filter or sortBy"
            )));
        }
        let nocase = !leaf.case_exact;
        if r.is_core && !r.whole_extension {
            use Null::{Column, Never};
            let user = self.is_user();
            let hot = match name.as_str() {
                "id" => Some(self.column("id", Never, Kind::Text, false, &name)),
                "externalId" => Some(self.column("external_id", Column, Kind::Text, nocase, &name)),
                "userName" if user => Some(self.column("user_name", Never, Kind::Text, nocase, &name)),
                "displayName" => {
                    let null = if user { Column } else { Never };
                    Some(self.column("display_name", null, Kind::Text, nocase, &name))
                }
                "active" if user => Some(self.column("active", Never, Kind::Bool, false, &name)),
                "meta.created" => Some(self.column("created", Never, Kind::Timestamp, false, &name)),
                "meta.lastModified" => {
                    Some(self.column("last_modified", Never, Kind::Timestamp, false, &name))
                }
                "meta.version" => Some(Scalar {
                    // The ETag form, as meta.version is rendered (RFC 7644 §3.14).
                    expr: SqlFragment::raw(&format!("('W/\"' || {}.version || '\"')", self.table)),
                    null: Never,
                    kind: Kind::Text,
                    nocase: false,
                    name: name.clone(),
                }),
                "meta.resourceType" => {
                    let mut expr = SqlFragment::default();
                    expr.bind(SqlBind::Text(self.rt.name.clone()));
                    Some(Scalar {
                        expr,
                        null: Never,
                        kind: Kind::Text,
                        nocase,
                        name: name.clone(),
                    })
                }
                // Always present on a stored resource.
                "meta" => Some(Scalar {
                    expr: SqlFragment::raw("1"),
                    null: Never,
                    kind: Kind::Complex,
                    nocase: false,
                    name: name.clone(),
                }),
                "meta.location" => {
                    return Err(self.err(
                        "filtering or sorting on meta.location is not supported; use id instead",
                    ))
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
                return Ok(Target::Multi {
                    src: ElemSrc::Members { def: r.attr },
                    sub: r.sub.map(|s| s.name.clone()),
                });
            }
        }
        let mut keys = r.json_path();
        if r.attr.multi_valued && !r.whole_extension {
            if r.sub.is_some() {
                keys.pop();
            }
            return Ok(Target::Multi {
                src: ElemSrc::Json {
                    array_path: json_path(&keys)?,
                    def: r.attr,
                    name: if r.is_core {
                        r.attr.name.clone()
                    } else {
                        format!("{}:{}", r.schema_urn, r.attr.name)
                    },
                },
                sub: r.sub.map(|s| s.name.clone()),
            });
        }
        if leaf.attr_type == AttrType::Complex {
            return Ok(Target::ComplexJson {
                path: json_path(&keys)?,
            });
        }
        let mut expr = SqlFragment::raw(&format!("json_extract({}.resource, ", self.table));
        expr.bind(SqlBind::Text(json_path(&keys)?)).push(")");
        Ok(Target::Scalar(Scalar {
            expr,
            null: Null::Expr,
            kind: Kind::of(leaf.attr_type),
            nocase,
            name,
        }))
    }

    /// A value filter on a single-valued complex attribute (`name[givenName eq "x"]`).
    fn single_complex_src(&self, path: &AttrPath) -> ScimResult<ElemSrc<'s>> {
        let r = self.schemas.resolve(self.rt, path).map_err(|e| {
            if e.status == 400 {
                self.err(e.detail)
            } else {
                e
            }
        })?;
        Ok(ElemSrc::Single {
            keys: r.json_path().into_iter().map(str::to_string).collect(),
            def: r.attr,
            name: r.dotted_name(),
        })
    }

    /// `EXISTS (...)` over the elements of `src`, those satisfying `cond`.
    fn exists(&self, src: &ElemSrc<'_>, cond: &SqlFragment) -> SqlFragment {
        let mut f = SqlFragment::default();
        match src {
            ElemSrc::Json { array_path, .. } => {
                f.push("EXISTS (SELECT 1 FROM json_each(")
                    .push(self.table)
                    .push(".resource, ")
                    .bind(SqlBind::Text(array_path.clone()))
                    .push(") AS e WHERE ")
                    .append(cond)
                    .push(")");
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
        f
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
                        expr: SqlFragment::raw("e.value"),
                        null: Null::Expr,
                        kind: Kind::of(parent.attr_type),
                        nocase: !parent.case_exact,
                        name: parent_name.to_string(),
                    });
                }
            }
            return Err(self.err(format!(
                "\"{parent_name}\" has no sub-attribute \"{name}\""
            )));
        }
        let Some(sd) = parent.sub(name) else {
            return Err(self.err(format!(
                "\"{parent_name}\" has no sub-attribute \"{name}\""
            )));
        };
        let full = format!("{parent_name}.{}", sd.name);
        if sd.returned == Returned::Never {
            return Err(self.err(format!("\"{full}\" cannot be used in a filter")));
        }
        let scalar = |expr: SqlFragment, null: Null, nocase: bool| Scalar {
            expr,
            null,
            kind: Kind::of(sd.attr_type),
            nocase,
            name: full.clone(),
        };
        let unsupported = || {
            self.err(format!(
                "filtering on \"{full}\" is not supported; filter on {parent_name}.value"
            ))
        };
        match src {
            ElemSrc::Json { .. } => {
                let mut expr = SqlFragment::raw("json_extract(e.value, ");
                expr.bind(SqlBind::Text(json_path(&[sd.name.as_str()])?))
                    .push(")");
                Ok(scalar(expr, Null::Expr, !sd.case_exact))
            }
            ElemSrc::Single { keys, .. } => {
                let mut all = keys.clone();
                all.push(sd.name.clone());
                let mut expr = SqlFragment::raw(&format!("json_extract({}.resource, ", self.table));
                expr.bind(SqlBind::Text(json_path(&all)?)).push(")");
                Ok(scalar(expr, Null::Expr, !sd.case_exact))
            }
            // Member ids compare exactly: ids are caseExact (RFC 7643 §3.1).
            ElemSrc::Members { .. } => match sd.name.as_str() {
                "value" => Ok(scalar(SqlFragment::raw("gm.member_id"), Null::Never, false)),
                "type" => Ok(scalar(
                    SqlFragment::raw("gm.member_type"),
                    Null::Never,
                    !sd.case_exact,
                )),
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
                    SqlFragment::raw("(SELECT g.display_name FROM groups AS g WHERE g.id = anc.gid)"),
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
            None => self.sub_scalar(src, "value").map_err(|_| {
                self.err(format!(
                    "\"{}\" is complex; compare one of its sub-attributes",
                    src.def().name
                ))
            }),
        }
    }

    fn emit(&self, f: &Filter, depth: usize) -> ScimResult<SqlFragment> {
        if depth > MAX_AST_DEPTH {
            return Err(self.err("filter is nested too deeply"));
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
                        return Err(self.err(format!(
                            "a value filter \"{p}[...]\" needs a multi-valued or complex attribute"
                        )))
                    }
                };
                let cond = self.emit_elem(&src, inner, depth + 1)?;
                Ok(self.exists(&src, &cond))
            }
        }
    }

    fn binary(&self, a: &Filter, op: &str, b: &Filter, depth: usize) -> ScimResult<SqlFragment> {
        let mut f = SqlFragment::raw("(");
        f.append(&self.emit(a, depth + 1)?)
            .push(" ")
            .push(op)
            .push(" ")
            .append(&self.emit(b, depth + 1)?)
            .push(")");
        Ok(f)
    }

    /// The inner filter of a value path, on one element of `src` (paths are relative).
    fn emit_elem(&self, src: &ElemSrc<'_>, f: &Filter, depth: usize) -> ScimResult<SqlFragment> {
        if depth > MAX_AST_DEPTH {
            return Err(self.err("filter is nested too deeply"));
        }
        let scalar = |p: &AttrPath| {
            if p.urn.is_some() || p.sub_attr.is_some() {
                return Err(self.err(format!(
                    "inside a value filter, paths name a sub-attribute of the element; found \"{p}\""
                )));
            }
            self.sub_scalar(src, &p.attr)
        };
        match f {
            Filter::Not(x) => Ok(not(self.emit_elem(src, x, depth + 1)?)),
            Filter::And(a, b) | Filter::Or(a, b) => {
                let op = if matches!(f, Filter::And(..)) {
                    " AND "
                } else {
                    " OR "
                };
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
            Target::ComplexJson { path } => Ok(self.complex_present(&path)),
            Target::Multi { src, sub: Some(sub) } => {
                let s = self.sub_scalar(&src, &sub)?;
                Ok(self.exists(&src, &self.present(&s)))
            }
            Target::Multi { src, sub: None } => {
                let cond = match src {
                    ElemSrc::Json { .. } => SqlFragment::raw("e.value IS NOT NULL"),
                    _ => SqlFragment::raw("1"),
                };
                Ok(self.exists(&src, &cond))
            }
        }
    }

    /// A complex JSON value with at least one non-empty member.
    fn complex_present(&self, path: &str) -> SqlFragment {
        let mut f = SqlFragment::raw("EXISTS (SELECT 1 FROM json_each(");
        f.push(self.table)
            .push(".resource, ")
            .bind(SqlBind::Text(path.to_string()))
            .push(") AS e WHERE e.value IS NOT NULL AND e.value <> '')");
        f
    }

    fn compare_path(&self, p: &AttrPath, op: CompareOp, lit: &Literal) -> ScimResult<SqlFragment> {
        match self.target(p)? {
            Target::Scalar(s) => self.compare(&s, op, lit),
            Target::ComplexJson { path } => match (op, lit) {
                (CompareOp::Eq, Literal::Null) => Ok(not(self.complex_present(&path))),
                (CompareOp::Ne, Literal::Null) => Ok(self.complex_present(&path)),
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
                    (CompareOp::Eq, Literal::Null) => Ok(not(self.exists(&src, &self.present(&s)))),
                    (CompareOp::Ne, Literal::Null) => Ok(self.exists(&src, &self.present(&s))),
                    (CompareOp::Ne, _) => {
                        let eq = self.compare(&s, CompareOp::Eq, lit)?;
                        Ok(not(self.exists(&src, &eq)))
                    }
                    _ => {
                        let cond = self.compare(&s, op, lit)?;
                        Ok(self.exists(&src, &cond))
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
                f.push("1");
            }
            (Null::Column, true) => {
                f.push("(")
                    .append(x)
                    .push(" IS NOT NULL AND ")
                    .append(x)
                    .push(" <> '')");
            }
            (Null::Column, false) => {
                f.push("(").append(x).push(" IS NOT NULL)");
            }
            // Numbers and booleans are never equal to ''.
            (Null::Expr, _) => {
                f.push("COALESCE(").append(x).push(" <> '', 0)");
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
                f.append(&s.expr)
                    .push(" IS NOT NULL AND ")
                    .append(&cond)
                    .push(")");
                f
            }
            Null::Expr => cond.wrap("COALESCE(", ", 0)"),
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
            self.err(format!(
                "the operator {op} cannot be used on the {} attribute \"{}\"",
                s.kind.describe(),
                s.name
            ))
        };
        match (s.kind, lit) {
            (Kind::Complex, _) => Err(self.err(format!(
                "\"{}\" is a complex attribute; compare one of its sub-attributes",
                s.name
            ))),
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
                // json_extract yields 1/0 for JSON true/false; the active column holds 1/0.
                Ok(SqlBind::Int(i64::from(*b)))
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
        let value = self.value_bind(s, op, lit)?;
        let collate = if s.nocase && s.kind == Kind::Text {
            " COLLATE NOCASE"
        } else {
            ""
        };
        let x = &s.expr;
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
                    f.append(x).push(" <> ").bind(value).push(collate);
                }
                Null::Column => {
                    f.push("(")
                        .append(x)
                        .push(" IS NULL OR ")
                        .append(x)
                        .push(" <> ")
                        .bind(value)
                        .push(collate)
                        .push(")");
                }
                Null::Expr => {
                    f.push("COALESCE(")
                        .append(x)
                        .push(" <> ")
                        .bind(value)
                        .push(collate)
                        .push(", 1)");
                }
            }
            return Ok(f);
        }
        if !op.is_substring() {
            f.append(x).push(" ").push(sym).push(" ").bind(value).push(collate);
            return Ok(self.guard(s, f));
        }
        let SqlBind::Text(v) = value else {
            return Err(ScimError::internal("substring operator on a non-text value"));
        };
        if v.is_empty() {
            // Every string contains, starts and ends with "".
            return Ok(match s.null {
                Null::Never => SqlFragment::raw("1"),
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
            f.append(x)
                .push(" LIKE ")
                .bind(SqlBind::Text(pattern))
                .push(" ESCAPE '\\'");
        } else {
            match op {
                CompareOp::Co => {
                    f.push("instr(")
                        .append(x)
                        .push(", ")
                        .bind(SqlBind::Text(v))
                        .push(") > 0");
                }
                CompareOp::Sw => {
                    f.push("instr(")
                        .append(x)
                        .push(", ")
                        .bind(SqlBind::Text(v))
                        .push(") = 1");
                }
                _ => {
                    // substr(x, -n) is the last n characters (n counted in characters, as SQLite does).
                    let n = i64::try_from(v.chars().count()).unwrap_or(i64::MAX);
                    f.push("substr(")
                        .append(x)
                        .push(", ")
                        .bind(SqlBind::Int(-n))
                        .push(") = ")
                        .bind(SqlBind::Text(v));
                }
            }
        }
        Ok(self.guard(s, f))
    }
}
