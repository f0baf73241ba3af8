//! PATCH (RFC 7644 §3.5.2): parsing of PatchOp request bodies and their application to a stored
//! resource document (canonical attribute names, core attributes at the top level, extension
//! attributes under their schema URN, no `id`/`meta`).
//!
//! Group membership operations are taken out first (`split_member_ops`) so the store can apply them
//! to the `group_members` table at flat cost; `apply_operations` handles everything else. The caller
//! applies the operations to a clone (all or nothing, RFC 7644 §3.5.2) and runs
//! `Schemas::normalize` on the result (types, required attributes, primary uniqueness).
//!
//! Client quirks accepted on top of the RFC: capitalised `op` values and booleans sent as strings
//! (Microsoft Entra ID), dotted and URN-qualified keys in a no-path value, a filtered `add` that
//! creates the element it names, a `remove` of `members` carrying the members to remove, and a
//! no-path value repeating the resource's own read-only `id` (Okta's group rename).

use crate::scim::error::{ScimError, ScimResult, ScimType};
use crate::scim::filter::{matches_element, parse_patch_path, CompareOp, Filter, Literal, PatchPath, MAX_DEPTH};
use crate::scim::schema::{AttrDef, AttrType, Mutability, ResourceType, Schemas, GROUP_SCHEMA, MAX_MULTI_VALUES};
use serde_json::{Map, Value};

pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Most operations accepted in one PATCH request.
pub const MAX_OPERATIONS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    Add,
    Remove,
    Replace,
}

impl PatchOpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Remove => "remove",
            PatchOpKind::Replace => "replace",
        }
    }
}

/// One entry of `Operations`. `value` is `None` when the member is absent and `Some(Value::Null)`
/// when it is an explicit `null`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: PatchOpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// Membership changes of a Group, taken out of the operations so the store can apply them to the
/// `group_members` table (never by rewriting a JSON array). Member elements are objects with a
/// string `value` and canonical sub-attribute names (`value`, `display`, `type`, `$ref`).
#[derive(Debug, Clone, PartialEq)]
pub enum MemberPatch {
    Add(Vec<Value>),
    Replace(Vec<Value>),
    RemoveAll,
    RemoveValues(Vec<String>),
    /// `remove` with a `members[<filter>]` path that is not a plain list of `value eq` terms. The
    /// filter's paths are relative to one member (`value`, `type`, `display`).
    RemoveWhere(Filter),
}

// ---------------------------------------------------------------------------------------------------
// Parsing

/// Parses a PatchOp request body (RFC 7644 §3.5.2).
pub fn parse_patch_request(body: &Value) -> ScimResult<Vec<PatchOperation>> {
    let obj = body.as_object().ok_or_else(|| ScimError::invalid_value("a PATCH body must be a JSON object"))?;
    let has_schema = match get_ci(obj, "schemas") {
        Some(Value::Array(items)) => {
            items.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA)))
        }
        Some(Value::String(s)) => s.eq_ignore_ascii_case(PATCH_OP_SCHEMA),
        _ => false,
    };
    if !has_schema {
        return Err(ScimError::invalid_value(format!("a PATCH body must list \"{PATCH_OP_SCHEMA}\" in \"schemas\"")));
    }
    let ops = match get_ci(obj, "Operations") {
        Some(Value::Array(ops)) => ops,
        Some(_) => return Err(ScimError::invalid_value("\"Operations\" must be an array of operations")),
        None => return Err(ScimError::invalid_value("a PATCH body must contain \"Operations\"")),
    };
    if ops.is_empty() {
        return Err(ScimError::invalid_value("\"Operations\" must contain at least one operation"));
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::too_many(format!(
            "a PATCH request may contain at most {MAX_OPERATIONS} operations, not {}",
            ops.len()
        )));
    }
    ops.iter().enumerate().map(|(i, op)| parse_operation(op).map_err(|e| at_op(i, e))).collect()
}

fn parse_operation(raw: &Value) -> ScimResult<PatchOperation> {
    let obj = raw.as_object().ok_or_else(|| ScimError::invalid_value("an operation must be a JSON object"))?;
    let op = match get_ci(obj, "op") {
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "add" => PatchOpKind::Add,
            "remove" => PatchOpKind::Remove,
            "replace" => PatchOpKind::Replace,
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "unknown op \"{}\": expected \"add\", \"remove\" or \"replace\"",
                    shorten(s)
                )))
            }
        },
        Some(_) => return Err(ScimError::invalid_value("\"op\" must be a string")),
        None => return Err(ScimError::invalid_value("an operation must have an \"op\"")),
    };
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(parse_patch_path(s.trim())?),
        Some(_) => return Err(ScimError::invalid_path("\"path\" must be a string")),
    };
    let value = get_ci(obj, "value").cloned();
    match op {
        // RFC 7644 §3.5.2.2: "If "path" is unspecified, the operation fails ... "noTarget"".
        PatchOpKind::Remove if path.is_none() => Err(ScimError::no_target("a remove operation requires a \"path\"")),
        PatchOpKind::Add | PatchOpKind::Replace if value.is_none() => {
            Err(ScimError::invalid_value(format!("the {} operation requires a \"value\"", op.as_str())))
        }
        // RFC 7644 §3.5.2.1 / §3.5.2.3: without a path the value is a set of attributes.
        PatchOpKind::Add | PatchOpKind::Replace if path.is_none() && !matches!(value, Some(Value::Object(_))) => {
            Err(ScimError::invalid_value(format!(
                "the {} operation without a \"path\" requires an object of attributes as \"value\"",
                op.as_str()
            )))
        }
        _ => Ok(PatchOperation { op, path, value }),
    }
}

// ---------------------------------------------------------------------------------------------------
// Group membership

/// Splits `ops` into (operations on the JSON document, member patches in request order). Only for
/// Groups.
pub fn split_member_ops(ops: Vec<PatchOperation>) -> ScimResult<(Vec<PatchOperation>, Vec<MemberPatch>)> {
    let mut doc_ops = Vec::with_capacity(ops.len());
    let mut members = Vec::new();
    for (i, op) in ops.into_iter().enumerate() {
        split_one(op, &mut doc_ops, &mut members).map_err(|e| at_op(i, e))?;
    }
    Ok((doc_ops, members))
}

fn split_one(op: PatchOperation, doc_ops: &mut Vec<PatchOperation>, members: &mut Vec<MemberPatch>) -> ScimResult<()> {
    match &op.path {
        Some(path) if is_members_attr(&path.attr.urn, &path.attr.attr) => {
            members.push(member_patch(op.op, path, op.value.as_ref())?);
        }
        Some(_) => doc_ops.push(op),
        None => {
            let PatchOperation { op: kind, path, value } = op;
            let Some(Value::Object(mut map)) = value else {
                doc_ops.push(PatchOperation { op: kind, path, value });
                return Ok(());
            };
            let keys: Vec<String> = map.keys().filter(|k| is_members_key(k)).cloned().collect();
            for key in keys {
                let Some(v) = map.remove(&key) else { continue };
                let elements = member_elements(Some(&v))?;
                members.push(match kind {
                    PatchOpKind::Replace => MemberPatch::Replace(elements),
                    _ => MemberPatch::Add(elements),
                });
            }
            if !map.is_empty() {
                doc_ops.push(PatchOperation { op: kind, path, value: Some(Value::Object(map)) });
            }
        }
    }
    Ok(())
}

/// `members` or `urn:ietf:params:scim:schemas:core:2.0:Group:members`, any case.
fn is_members_attr(urn: &Option<String>, attr: &str) -> bool {
    attr.eq_ignore_ascii_case("members") && urn.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(GROUP_SCHEMA))
}

fn is_members_key(key: &str) -> bool {
    if key.eq_ignore_ascii_case("members") {
        return true;
    }
    key.len() == GROUP_SCHEMA.len() + ":members".len()
        && key.get(..GROUP_SCHEMA.len()).is_some_and(|u| u.eq_ignore_ascii_case(GROUP_SCHEMA))
        && key.get(GROUP_SCHEMA.len()..).is_some_and(|a| a.eq_ignore_ascii_case(":members"))
}

fn member_patch(kind: PatchOpKind, path: &PatchPath, value: Option<&Value>) -> ScimResult<MemberPatch> {
    if path.attr.sub_attr.is_some() || path.sub_attr.is_some() {
        return Err(ScimError::invalid_path(
            "sub-attributes of members cannot be patched; add, replace or remove whole members \
             (\"members\" or \"members[value eq \\\"<id>\\\"]\")",
        ));
    }
    match (&path.value_filter, kind) {
        (None, PatchOpKind::Add) => Ok(MemberPatch::Add(member_elements(value)?)),
        (None, PatchOpKind::Replace) => Ok(MemberPatch::Replace(member_elements(value)?)),
        (None, PatchOpKind::Remove) => match value {
            None => Ok(MemberPatch::RemoveAll),
            // Ambiguous: "remove these members" with no members. Emptying the group would lose data.
            Some(Value::Null) => Err(ScimError::invalid_value(
                "a remove of \"members\" with \"value\": null is ambiguous; omit \"value\" to remove every \
                 member, or list the members to remove",
            )),
            // Entra ID: a remove of "members" carrying members removes exactly those.
            Some(v) => Ok(MemberPatch::RemoveValues(
                member_elements(Some(v))?
                    .iter()
                    .filter_map(|m| m.get("value").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect(),
            )),
        },
        (Some(filter), PatchOpKind::Remove) => Ok(match eq_values(filter, 0) {
            Some(ids) => MemberPatch::RemoveValues(ids),
            None => MemberPatch::RemoveWhere(filter.clone()),
        }),
        (Some(_), _) => Err(ScimError::invalid_path(format!(
            "{} on a filtered members path is not supported; use \"members\" with a list of members",
            kind.as_str()
        ))),
    }
}

/// The ids of `value eq "<id>" [or value eq "<id>" ...]`, or `None` for any other filter.
fn eq_values(filter: &Filter, depth: usize) -> Option<Vec<String>> {
    if depth > MAX_DEPTH {
        return None;
    }
    match filter {
        Filter::Compare(p, CompareOp::Eq, Literal::String(id))
            if p.urn.is_none() && p.sub_attr.is_none() && p.attr.eq_ignore_ascii_case("value") =>
        {
            Some(vec![id.clone()])
        }
        Filter::Or(a, b) => {
            let mut ids = eq_values(a, depth + 1)?;
            ids.extend(eq_values(b, depth + 1)?);
            Some(ids)
        }
        _ => None,
    }
}

/// Validates member elements: an array of objects (or one object) each with a non-empty string
/// `value`; sub-attribute names are made canonical.
fn member_elements(value: Option<&Value>) -> ScimResult<Vec<Value>> {
    let items: Vec<&Value> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        Some(_) => return Err(ScimError::invalid_value("members must be an array of objects with a \"value\"")),
    };
    items
        .into_iter()
        .map(|item| {
            let Value::Object(m) = item else {
                return Err(ScimError::invalid_value("each member must be an object with a \"value\""));
            };
            let mut out = Map::new();
            for (k, v) in m {
                let key = ["value", "display", "type", "$ref"]
                    .into_iter()
                    .find(|c| c.eq_ignore_ascii_case(k))
                    .map_or_else(|| k.clone(), str::to_string);
                out.insert(key, v.clone());
            }
            match out.get("value") {
                Some(Value::String(s)) if !s.is_empty() => Ok(Value::Object(out)),
                _ => Err(ScimError::invalid_value(
                    "each member must have a non-empty string \"value\" (the member's id)",
                )),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------------
// Application

/// Applies document operations in order to `doc` (a stored resource document). All or nothing is
/// the caller's job: it passes a clone. `resource_id` is the resource's own id: a value for `id`
/// equal to it is accepted and ignored, any other is a mutability error.
pub fn apply_operations(
    schemas: &Schemas,
    rt: &ResourceType,
    resource_id: &str,
    doc: &mut Value,
    ops: &[PatchOperation],
) -> ScimResult<()> {
    if !doc.is_object() {
        return Err(ScimError::internal("stored resource document is not a JSON object"));
    }
    let ctx = Ctx { schemas, rt, resource_id };
    for (i, op) in ops.iter().enumerate() {
        ctx.apply_op(doc, op).map_err(|e| at_op(i, e))?;
    }
    Ok(())
}

/// A key of an operation's `value` that names no attribute makes the value invalid (`invalidValue`, as
/// in a POST); `invalidPath` is for the operation's `path` (RFC 7644 §3.12).
fn value_key_error(e: ScimError) -> ScimError {
    match e.scim_type {
        Some(ScimType::InvalidPath) => ScimError::invalid_value(e.detail),
        _ => e,
    }
}

struct Ctx<'s> {
    schemas: &'s Schemas,
    rt: &'s ResourceType,
    resource_id: &'s str,
}

/// What a path designates, once resolved against the schema.
enum Resolved<'s, 'p> {
    /// A whole schema extension object (`urn:...:enterprise:2.0:User`).
    /// `def` is the extension seen as one complex attribute whose sub-attributes are its attributes.
    Extension {
        urn: String,
        def: &'s AttrDef,
    },
    Attr(Target<'s, 'p>),
}

struct Target<'s, 'p> {
    /// The extension URN whose object holds the attribute; `None` for a core attribute.
    container: Option<String>,
    attr: &'s AttrDef,
    sel: Sel<'s, 'p>,
}

enum Sel<'s, 'p> {
    /// The attribute itself.
    Whole,
    /// A sub-attribute of a single-valued complex attribute (`name.givenName`).
    Sub(&'s AttrDef),
    /// Elements of a multi-valued attribute: all (`emails.type`) or those matching a value filter
    /// (`emails[type eq "work"]`), optionally one sub-attribute of each.
    Elems { filter: Option<&'p Filter>, sub: Option<&'s AttrDef> },
}

impl<'s> Ctx<'s> {
    fn apply_op(&self, doc: &mut Value, op: &PatchOperation) -> ScimResult<()> {
        match (&op.path, op.op) {
            (Some(path), kind) => self.apply_path(doc, kind, path, op.value.as_ref(), 0),
            (None, PatchOpKind::Remove) => Err(ScimError::no_target("a remove operation requires a \"path\"")),
            (None, kind) => {
                let Some(Value::Object(map)) = &op.value else {
                    return Err(ScimError::invalid_value(format!(
                        "the {} operation without a \"path\" requires an object of attributes as \"value\"",
                        kind.as_str()
                    )));
                };
                // RFC 7644 §3.5.2.1 / §3.5.2.3: each key of the value is handled like an operation on
                // that attribute; keys may be dotted or URN-qualified paths (Entra ID).
                for (key, v) in map {
                    if key.eq_ignore_ascii_case("schemas") {
                        continue;
                    }
                    let path = parse_patch_path(key).map_err(|e| {
                        ScimError::invalid_value(format!(
                            "value key \"{}\" is not an attribute path ({})",
                            shorten(key),
                            e.detail
                        ))
                    })?;
                    self.apply_path(doc, kind, &path, Some(v), 0).map_err(value_key_error)?;
                }
                Ok(())
            }
        }
    }

    fn apply_path(
        &self,
        doc: &mut Value,
        kind: PatchOpKind,
        path: &PatchPath,
        value: Option<&Value>,
        depth: usize,
    ) -> ScimResult<()> {
        match self.resolve(path)? {
            Resolved::Extension { urn, def } => self.apply_extension(doc, kind, &urn, def, value, depth),
            Resolved::Attr(t) => self.apply_target(doc, kind, &t, value),
        }
    }

    fn resolve<'p>(&self, path: &'p PatchPath) -> ScimResult<Resolved<'s, 'p>> {
        let r = self.schemas.resolve(self.rt, &path.attr)?;
        if r.whole_extension {
            if path.value_filter.is_some() || path.sub_attr.is_some() {
                return Err(ScimError::invalid_path(format!(
                    "\"{}\" is a schema extension, not a multi-valued attribute",
                    path.attr
                )));
            }
            return Ok(Resolved::Extension { urn: r.schema_urn.to_string(), def: r.attr });
        }
        let container = (!r.is_core).then(|| r.schema_urn.to_string());
        let attr: &'s AttrDef = r.attr;
        let sel = match (r.sub, &path.value_filter, &path.sub_attr) {
            (None, None, _) => Sel::Whole,
            (Some(sub), None, _) if attr.multi_valued => Sel::Elems { filter: None, sub: Some(sub) },
            (Some(sub), None, _) => Sel::Sub(sub),
            (None, Some(filter), post) => {
                if !attr.multi_valued {
                    return Err(ScimError::invalid_path(format!(
                        "\"{}\" is not multi-valued: a value filter cannot select its elements",
                        attr.name
                    )));
                }
                let sub = match post {
                    None => None,
                    Some(name) => Some(attr.sub(name).ok_or_else(|| {
                        ScimError::invalid_path(format!("\"{}\" has no sub-attribute \"{}\"", attr.name, shorten(name)))
                    })?),
                };
                Sel::Elems { filter: Some(filter), sub }
            }
            (Some(_), Some(_), _) => {
                return Err(ScimError::invalid_path(
                    "a value filter must follow a multi-valued attribute, not a sub-attribute",
                ))
            }
        };
        Ok(Resolved::Attr(Target { container, attr, sel }))
    }

    /// An operation on a whole extension object: remove drops it, add/replace handle each of its
    /// attributes like an operation on that attribute.
    fn apply_extension(
        &self,
        doc: &mut Value,
        kind: PatchOpKind,
        urn: &str,
        def: &AttrDef,
        value: Option<&Value>,
        depth: usize,
    ) -> ScimResult<()> {
        let value = value.unwrap_or(&Value::Null);
        match (kind, value) {
            (PatchOpKind::Remove, _) | (PatchOpKind::Replace, Value::Null) => {
                // Removing the extension removes each of its attributes: same rules as one by one.
                for attr in &def.sub_attributes {
                    let current = attr_value(doc, Some(urn), &attr.name);
                    if attr.required {
                        return Err(ScimError::mutability(format!(
                            "\"{urn}:{}\" is required and cannot be removed",
                            attr.name
                        )));
                    }
                    if attr.mutability == Mutability::Immutable && !is_unassigned(current) {
                        return Err(ScimError::mutability(format!(
                            "\"{urn}:{}\" is immutable and already has a value",
                            attr.name
                        )));
                    }
                }
                remove_extension(doc, urn)
            }
            (PatchOpKind::Add, Value::Null) => Ok(()),
            (_, Value::Object(map)) if depth == 0 => {
                for (key, v) in map {
                    // Clients built on typed SCIM models (scim2-models) put the extension's URN in a
                    // `schemas` member of the extension object; `schemas` belongs to the resource (RFC 7643
                    // §3), and the resource's own is kept by the server: nothing to apply.
                    if key.eq_ignore_ascii_case("schemas") {
                        continue;
                    }
                    let path = parse_patch_path(&format!("{urn}:{key}")).map_err(|e| {
                        ScimError::invalid_value(format!(
                            "key \"{}\" of extension \"{urn}\" is not an attribute path ({})",
                            shorten(key),
                            e.detail
                        ))
                    })?;
                    self.apply_path(doc, kind, &path, Some(v), depth + 1).map_err(value_key_error)?;
                }
                Ok(())
            }
            (_, Value::Object(_)) => {
                Err(ScimError::invalid_value(format!("an attribute of \"{urn}\" cannot be an extension")))
            }
            _ => Err(ScimError::invalid_value(format!(
                "the value of extension \"{urn}\" must be an object of its attributes"
            ))),
        }
    }

    fn apply_target(
        &self,
        doc: &mut Value,
        kind: PatchOpKind,
        t: &Target<'s, '_>,
        value: Option<&Value>,
    ) -> ScimResult<()> {
        // RFC 7643 §3.1: `id` is readOnly. Okta's group rename repeats the resource's own id: accept
        // that as a no-op.
        if t.container.is_none() && t.attr.name == "id" {
            let own = kind != PatchOpKind::Remove
                && matches!(t.sel, Sel::Whole)
                && value.and_then(Value::as_str) == Some(self.resource_id);
            if own {
                return Ok(());
            }
            return Err(ScimError::mutability("\"id\" is readOnly: it cannot be changed or removed"));
        }
        // RFC 7644 §3.5.2: a readOnly target is a mutability error.
        if t.attr.mutability == Mutability::ReadOnly {
            return Err(ScimError::mutability(format!("\"{}\" is readOnly and cannot be modified", t.attr.name)));
        }
        if let Sel::Sub(sub) | Sel::Elems { sub: Some(sub), .. } = t.sel {
            if sub.mutability == Mutability::ReadOnly {
                return Err(ScimError::mutability(format!(
                    "\"{}.{}\" is readOnly and cannot be modified",
                    t.attr.name, sub.name
                )));
            }
        }
        let watch = watches_immutable(t.attr);
        let before = if watch { attr_value(doc, t.container.as_deref(), &t.attr.name).cloned() } else { None };
        match kind {
            PatchOpKind::Add => self.add(doc, t, value)?,
            PatchOpKind::Replace => self.replace(doc, t, value)?,
            PatchOpKind::Remove => self.remove(doc, t, value)?,
        }
        if watch {
            let after = attr_value(doc, t.container.as_deref(), &t.attr.name);
            check_immutable(t.attr, before.as_ref(), after)?;
        }
        if let Some(urn) = &t.container {
            drop_empty_extension(doc, urn)?;
        }
        Ok(())
    }

    /// RFC 7644 §3.5.2.1.
    fn add(&self, doc: &mut Value, t: &Target<'s, '_>, value: Option<&Value>) -> ScimResult<()> {
        // RFC 7643 §2.5: null is "unassigned"; adding it changes nothing.
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Ok(());
        };
        let attr = t.attr;
        match t.sel {
            Sel::Whole if attr.multi_valued => {
                let items = elements_of(attr, value);
                if items.is_empty() {
                    return Ok(());
                }
                let c = container_mut(doc, t.container.as_deref(), true)?;
                let mut arr = take_array(c, &attr.name);
                // Bounds the work of the duplicate check below (and the document) before doing it.
                if arr.len() + items.len() > MAX_MULTI_VALUES {
                    return Err(ScimError::invalid_value(format!(
                        "\"{}\" would hold more than {MAX_MULTI_VALUES} values",
                        attr.name
                    )));
                }
                let mut changed = vec![false; arr.len()];
                for item in items {
                    // Appending an element equal to an existing one changes nothing.
                    if !arr.contains(&item) {
                        arr.push(item);
                        changed.push(true);
                    }
                }
                single_primary(&mut arr, &changed);
                put_array(c, &attr.name, arr);
                Ok(())
            }
            Sel::Whole if attr.attr_type == AttrType::Complex => {
                let m = complex_object(attr, value)?;
                merge_into_attr(doc, t, m)
            }
            Sel::Whole => {
                let mut v = value.clone();
                prepare(attr, &mut v, true);
                let c = container_mut(doc, t.container.as_deref(), true)?;
                c.insert(attr.name.clone(), v);
                Ok(())
            }
            Sel::Sub(sub) => {
                let mut v = value.clone();
                prepare(sub, &mut v, true);
                let mut m = Map::new();
                m.insert(sub.name.clone(), v);
                merge_into_attr(doc, t, m)
            }
            Sel::Elems { filter, sub } => self.set_elements(doc, t, filter, sub, value, PatchOpKind::Add),
        }
    }

    /// RFC 7644 §3.5.2.3.
    fn replace(&self, doc: &mut Value, t: &Target<'s, '_>, value: Option<&Value>) -> ScimResult<()> {
        let value = value.unwrap_or(&Value::Null);
        let attr = t.attr;
        // RFC 7643 §2.5: null means "unassigned", and so does [] for a multi-valued attribute: replacing with
        // them removes. [] is no value of a single-valued attribute (as in a POST or PUT).
        let whole_multi = matches!(t.sel, Sel::Whole) && attr.multi_valued;
        if value.as_array().is_some_and(Vec::is_empty) && !whole_multi {
            return Err(ScimError::invalid_value(format!(
                "\"{}\" is single-valued: [] is not a value of it (null removes it)",
                attr.name
            )));
        }
        if value.is_null() || value.as_array().is_some_and(Vec::is_empty) {
            return self.remove(doc, t, None);
        }
        match t.sel {
            Sel::Whole if attr.multi_valued => {
                let items = elements_of(attr, value);
                let c = container_mut(doc, t.container.as_deref(), true)?;
                c.insert(attr.name.clone(), Value::Array(items));
                Ok(())
            }
            // Sub-attributes not in the value are left unchanged (RFC 7644 §3.5.2.3), so replacing
            // a single-valued complex attribute merges; so does `add`.
            Sel::Whole | Sel::Sub(_) => self.add(doc, t, Some(value)),
            Sel::Elems { filter, sub } => self.set_elements(doc, t, filter, sub, value, PatchOpKind::Replace),
        }
    }

    /// RFC 7644 §3.5.2.2. `value` is only used for a multi-valued attribute: the elements to
    /// remove (Entra ID sends `members` that way; other multi-valued attributes get the same).
    fn remove(&self, doc: &mut Value, t: &Target<'s, '_>, value: Option<&Value>) -> ScimResult<()> {
        let attr = t.attr;
        match t.sel {
            Sel::Whole => {
                if attr.required {
                    return Err(ScimError::mutability(format!("\"{}\" is required and cannot be removed", attr.name)));
                }
                let c = container_mut(doc, t.container.as_deref(), false)?;
                match value.filter(|v| attr.multi_valued && !v.is_null()) {
                    Some(v) => {
                        let wanted: Vec<&Value> = match v {
                            Value::Array(items) => items.iter().collect(),
                            other => vec![other],
                        };
                        let mut arr = take_array(c, &attr.name);
                        arr.retain(|el| !wanted.iter().any(|w| same_element(el, w)));
                        put_array(c, &attr.name, arr);
                    }
                    None => {
                        c.remove(&attr.name);
                    }
                }
                Ok(())
            }
            Sel::Sub(sub) => {
                let c = container_mut(doc, t.container.as_deref(), false)?;
                if let Some(Value::Object(obj)) = c.get_mut(&attr.name) {
                    obj.remove(&sub.name);
                    if obj.is_empty() {
                        c.remove(&attr.name);
                    }
                }
                Ok(())
            }
            Sel::Elems { filter, sub } => {
                let c = container_mut(doc, t.container.as_deref(), false)?;
                let mut arr = take_array(c, &attr.name);
                let hits = matching(attr, filter, &arr);
                let mut kept = Vec::with_capacity(arr.len());
                for (i, mut el) in arr.drain(..).enumerate() {
                    if !hits.get(i).copied().unwrap_or(false) {
                        kept.push(el);
                        continue;
                    }
                    // Removing a sub-attribute keeps the element unless nothing is left of it.
                    match (sub, &mut el) {
                        (None, _) => {}
                        (Some(sub), Value::Object(obj)) => {
                            obj.remove(&sub.name);
                            if !obj.is_empty() {
                                kept.push(el);
                            }
                        }
                        // A scalar element has no sub-attribute to remove.
                        (Some(_), _) => kept.push(el),
                    }
                }
                put_array(c, &attr.name, kept);
                Ok(())
            }
        }
    }

    /// add/replace on selected elements of a multi-valued attribute. With no matching element, a
    /// `type eq "…"` filter describes the element to create (Entra ID's `emails[type eq "work"].value`);
    /// any other filter is `noTarget` (RFC 7644 §3.5.2.3).
    fn set_elements(
        &self,
        doc: &mut Value,
        t: &Target<'s, '_>,
        filter: Option<&Filter>,
        sub: Option<&'s AttrDef>,
        value: &Value,
        kind: PatchOpKind,
    ) -> ScimResult<()> {
        let attr = t.attr;
        let complex = attr.attr_type == AttrType::Complex;
        let mut v = value.clone();
        match sub {
            Some(s) => prepare(s, &mut v, true),
            None => prepare(attr, &mut v, false),
        }
        if sub.is_none() && complex && !v.is_object() {
            return Err(ScimError::invalid_value(format!(
                "the elements of \"{}\" are objects: the value must be an object",
                attr.name
            )));
        }
        let c = container_mut(doc, t.container.as_deref(), true)?;
        let mut arr = take_array(c, &attr.name);
        let hits = matching(attr, filter, &arr);
        let mut changed = vec![false; arr.len()];
        if hits.iter().any(|h| *h) {
            for ((el, hit), ch) in arr.iter_mut().zip(&hits).zip(changed.iter_mut()) {
                if !*hit {
                    continue;
                }
                *ch = true;
                match (sub, &mut *el, &v) {
                    (Some(s), Value::Object(obj), _) => {
                        obj.insert(s.name.clone(), v.clone());
                    }
                    (Some(s), _, _) => {
                        return Err(ScimError::invalid_value(format!(
                            "an element of \"{}\" is not an object: cannot set \"{}\" on it",
                            attr.name, s.name
                        )))
                    }
                    (None, Value::Object(obj), Value::Object(new)) if kind == PatchOpKind::Add => {
                        for (k, nv) in new {
                            obj.insert(k.clone(), nv.clone());
                        }
                    }
                    (None, el, _) => *el = v.clone(),
                }
            }
        } else {
            let mut base = Map::new();
            let describable = complex
                && match filter {
                    None => true,
                    Some(f) => type_eq_element(f, attr, &mut base),
                };
            if !describable {
                put_array(c, &attr.name, arr);
                return Err(ScimError::no_target(format!("no element of \"{}\" matches the filter", attr.name)));
            }
            match (sub, v) {
                (Some(s), v) => {
                    base.insert(s.name.clone(), v);
                }
                (None, Value::Object(new)) => base.extend(new),
                (None, _) => {}
            }
            arr.push(Value::Object(base));
            changed.push(true);
        }
        single_primary(&mut arr, &changed);
        put_array(c, &attr.name, arr);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------------
// Document helpers

/// Merges `m` (canonical sub-attribute names) into the single-valued complex attribute of `t`.
fn merge_into_attr(doc: &mut Value, t: &Target<'_, '_>, m: Map<String, Value>) -> ScimResult<()> {
    if m.is_empty() {
        return Ok(());
    }
    let c = container_mut(doc, t.container.as_deref(), true)?;
    let slot = c.entry(t.attr.name.clone()).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    if let Value::Object(obj) = slot {
        obj.extend(m);
    }
    Ok(())
}

/// The object holding an attribute: the document itself, or the extension object `urn` (created,
/// and listed in `schemas`, when `create`; an absent extension reads as an empty object).
fn container_mut<'d>(doc: &'d mut Value, urn: Option<&str>, create: bool) -> ScimResult<&'d mut Map<String, Value>> {
    let root =
        doc.as_object_mut().ok_or_else(|| ScimError::internal("stored resource document is not a JSON object"))?;
    let Some(urn) = urn else {
        return Ok(root);
    };
    if !matches!(root.get(urn), Some(Value::Object(_))) {
        root.insert(urn.to_string(), Value::Object(Map::new()));
        if create {
            add_schema_urn(root, urn);
        }
    }
    match root.get_mut(urn) {
        Some(Value::Object(m)) => Ok(m),
        _ => Err(ScimError::internal("extension object vanished")),
    }
}

fn attr_value<'d>(doc: &'d Value, urn: Option<&str>, name: &str) -> Option<&'d Value> {
    match urn {
        None => doc.get(name),
        Some(u) => doc.get(u)?.get(name),
    }
}

/// Takes a multi-valued attribute's elements out of `c` (absent or null: none).
fn take_array(c: &mut Map<String, Value>, name: &str) -> Vec<Value> {
    match c.remove(name) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        // The stored document is normalised: a single value here would be a bug, but keep it.
        Some(other) => vec![other],
    }
}

/// Puts elements back; an empty list is stored as an absent attribute (RFC 7643 §2.5).
fn put_array(c: &mut Map<String, Value>, name: &str, items: Vec<Value>) {
    if !items.is_empty() {
        c.insert(name.to_string(), Value::Array(items));
    }
}

/// Which elements a filter (none: all) selects. Case sensitivity follows the sub-attribute's
/// `caseExact`.
fn matching(attr: &AttrDef, filter: Option<&Filter>, arr: &[Value]) -> Vec<bool> {
    let case_exact = |name: &str| attr.sub(name).is_some_and(|d| d.case_exact);
    arr.iter().map(|el| filter.is_none_or(|f| matches_element(f, el, &case_exact))).collect()
}

/// Collects `sub eq literal` terms joined by `and` into `out`; false for any other filter shape.
/// The element a filter describes when it is `type eq "…"` and the attribute has a `type` sub-attribute:
/// Entra ID's shape (`emails[type eq "work"].value`), the one filter that creates a missing element (project
/// decision; RFC 7644 §3.5.2.3 would answer every filter that matches nothing with `noTarget`).
fn type_eq_element(f: &Filter, attr: &AttrDef, out: &mut Map<String, Value>) -> bool {
    match f {
        Filter::Compare(p, CompareOp::Eq, Literal::String(s))
            if p.urn.is_none() && p.sub_attr.is_none() && p.attr.eq_ignore_ascii_case("type") =>
        {
            let Some(sub) = attr.sub("type") else {
                return false;
            };
            out.insert(sub.name.clone(), Value::String(s.clone()));
            true
        }
        _ => false,
    }
}

/// RFC 7643 §2.4: "primary" true appears at most once. When a changed element is primary, the
/// others lose it.
fn single_primary(arr: &mut [Value], changed: &[bool]) {
    let is_primary = |el: &Value| el.get("primary") == Some(&Value::Bool(true));
    let any = arr.iter().zip(changed).any(|(el, ch)| *ch && is_primary(el));
    if !any {
        return;
    }
    for (el, ch) in arr.iter_mut().zip(changed) {
        if !*ch && is_primary(el) {
            if let Value::Object(obj) = el {
                obj.insert("primary".to_string(), Value::Bool(false));
            }
        }
    }
}

/// An element to remove matches when equal, or when both carry the same `value`.
fn same_element(el: &Value, wanted: &Value) -> bool {
    if el == wanted {
        return true;
    }
    let wanted_value = wanted.as_object().and_then(|m| get_ci(m, "value"));
    match (el.get("value"), wanted_value) {
        (Some(a), Some(b)) => !a.is_null() && a == b,
        _ => false,
    }
}

fn add_schema_urn(root: &mut Map<String, Value>, urn: &str) {
    if let Some(Value::Array(list)) = root.get_mut("schemas") {
        if !list.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn))) {
            list.push(Value::String(urn.to_string()));
        }
    }
}

fn remove_extension(doc: &mut Value, urn: &str) -> ScimResult<()> {
    let root =
        doc.as_object_mut().ok_or_else(|| ScimError::internal("stored resource document is not a JSON object"))?;
    root.remove(urn);
    if let Some(Value::Array(list)) = root.get_mut("schemas") {
        list.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
    }
    Ok(())
}

/// An extension object left empty is dropped, with its URN in `schemas`.
fn drop_empty_extension(doc: &mut Value, urn: &str) -> ScimResult<()> {
    let empty = match doc.get(urn) {
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Null) => true,
        _ => false,
    };
    if empty {
        remove_extension(doc, urn)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Values

/// RFC 7643 §2.5: unassigned, null and an empty array are the same state.
fn is_unassigned(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(m)) => m.is_empty(),
        _ => false,
    }
}

fn watches_immutable(attr: &AttrDef) -> bool {
    attr.mutability == Mutability::Immutable
        || (!attr.multi_valued && attr.sub_attributes.iter().any(|s| s.mutability == Mutability::Immutable))
}

/// RFC 7643 §7: an immutable attribute that has a value cannot change.
fn check_immutable(attr: &AttrDef, before: Option<&Value>, after: Option<&Value>) -> ScimResult<()> {
    if attr.mutability == Mutability::Immutable {
        if !is_unassigned(before) && !same_value(attr, before, after) {
            return Err(ScimError::mutability(format!("\"{}\" is immutable and already has a value", attr.name)));
        }
        return Ok(());
    }
    for sub in &attr.sub_attributes {
        if sub.mutability != Mutability::Immutable {
            continue;
        }
        let b = before.and_then(|v| v.get(&sub.name));
        let a = after.and_then(|v| v.get(&sub.name));
        if !is_unassigned(b) && !same_value(sub, b, a) {
            return Err(ScimError::mutability(format!(
                "\"{}.{}\" is immutable and already has a value",
                attr.name, sub.name
            )));
        }
    }
    Ok(())
}

/// Equality for immutability; strings of a caseExact=false attribute compare case-insensitively
/// (RFC 7643 §2.2).
fn same_value(def: &AttrDef, a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::String(x)), Some(Value::String(y))) if !def.case_exact => x.to_lowercase() == y.to_lowercase(),
        _ => a == b,
    }
}

/// The elements given for a multi-valued attribute: an array, or one element.
fn elements_of(attr: &AttrDef, value: &Value) -> Vec<Value> {
    let mut items = match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    for item in &mut items {
        prepare(attr, item, false);
    }
    items
}

/// The object of sub-attributes given for a single-valued complex attribute.
fn complex_object(attr: &AttrDef, value: &Value) -> ScimResult<Map<String, Value>> {
    let mut v = value.clone();
    prepare(attr, &mut v, false);
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(ScimError::invalid_value(format!(
            "\"{}\" is complex: the value must be an object of its sub-attributes",
            attr.name
        ))),
    }
}

/// Makes a value follow the schema where PATCH semantics depend on it: sub-attribute names become
/// canonical, booleans sent as strings ("True"/"False", Entra ID) become JSON booleans, and a bare
/// scalar given for a single-valued complex attribute with a `value` sub-attribute becomes
/// `{"value": ...}` (Entra ID's manager). `whole`: `v` is the whole (possibly multi-valued) attribute rather than one
/// element. Recursion follows the schema's sub-attributes, never the input's nesting.
fn prepare(def: &AttrDef, v: &mut Value, whole: bool) {
    if whole && def.multi_valued {
        if let Value::Array(items) = v {
            for item in items {
                prepare_one(def, item);
            }
            return;
        }
    }
    prepare_one(def, v);
}

fn prepare_one(def: &AttrDef, v: &mut Value) {
    match def.attr_type {
        AttrType::Boolean => {
            if let Value::String(s) = v {
                if s.eq_ignore_ascii_case("true") {
                    *v = Value::Bool(true);
                } else if s.eq_ignore_ascii_case("false") {
                    *v = Value::Bool(false);
                }
            }
        }
        AttrType::Complex => {
            if !def.multi_valued && matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
                if let Some(value_sub) = def.sub("value") {
                    let mut m = Map::new();
                    m.insert(value_sub.name.clone(), v.take());
                    *v = Value::Object(m);
                }
            }
            if let Value::Object(m) = v {
                let old = std::mem::take(m);
                for (k, mut sv) in old {
                    match def.sub(&k) {
                        Some(sub) => {
                            prepare(sub, &mut sv, true);
                            m.insert(sub.name.clone(), sv);
                        }
                        None => {
                            m.insert(k, sv);
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------------
// Small helpers

/// Looks a member up by exact name, then case-insensitively (RFC 7643 §2.1).
fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

fn at_op(i: usize, e: ScimError) -> ScimError {
    ScimError { detail: format!("Operations[{i}]: {}", e.detail), ..e }
}

fn shorten(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use serde_json::json;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    const OWN_ID: &str = "a1f0c3e2-5b7d-4c1e-9f8a-2d3b4c5e6f70";

    fn fixture(name: &str) -> Value {
        let text = match name {
            "deactivate" => include_str!("../../tests/fixtures/okta/patch-deactivate.json"),
            "entra-quirks" => include_str!("../../tests/fixtures/okta/patch-entra-quirks.json"),
            "entra-remove-member" => {
                include_str!("../../tests/fixtures/okta/patch-entra-remove-member.json")
            }
            "members-replace-empty" => {
                include_str!("../../tests/fixtures/okta/patch-group-members-replace-empty.json")
            }
            "members" => include_str!("../../tests/fixtures/okta/patch-group-members.json"),
            "rename" => include_str!("../../tests/fixtures/okta/patch-group-rename.json"),
            "password" => include_str!("../../tests/fixtures/okta/patch-password.json"),
            _ => panic!("no fixture {name}"),
        };
        serde_json::from_str(text).expect("fixture is JSON")
    }

    fn body(ops: Value) -> Value {
        json!({ "schemas": [PATCH_OP_SCHEMA], "Operations": ops })
    }

    fn user_doc() -> Value {
        json!({
            "schemas": [USER],
            "userName": "jane.doe@example.com",
            "name": { "givenName": "Jane", "familyName": "Doe" },
            "emails": [{ "value": "jane@work.example", "type": "work", "primary": true }],
            "active": true
        })
    }

    fn group_doc() -> Value {
        json!({ "schemas": [GROUP_SCHEMA], "displayName": "Engineering" })
    }

    fn rt(name: &str) -> &'static ResourceType {
        Schemas::embedded().resource_type(name).expect("embedded resource type")
    }

    /// Parses `body` and applies it to a clone of `doc` as resource type `rt_name`.
    fn patch_as(rt_name: &str, doc: &Value, body: &Value) -> ScimResult<Value> {
        let ops = parse_patch_request(body)?;
        let mut out = doc.clone();
        apply_operations(Schemas::embedded(), rt(rt_name), OWN_ID, &mut out, &ops)?;
        Ok(out)
    }

    fn patch_user(ops: Value) -> ScimResult<Value> {
        patch_as("User", &user_doc(), &body(ops))
    }

    fn ok_user(ops: Value) -> Value {
        let out = patch_user(ops).expect("patch applies");
        // Whatever PATCH produces for a valid request must also pass normalisation.
        Schemas::embedded().normalize(rt("User"), &out).expect("result normalises");
        out
    }

    fn err_user(ops: Value) -> ScimError {
        patch_user(ops).expect_err("patch must fail")
    }

    fn kind(e: &ScimError) -> Option<ScimType> {
        e.scim_type
    }

    // --- parsing -----------------------------------------------------------------------------

    #[test]
    fn parses_okta_deactivate() {
        let ops = parse_patch_request(&fixture("deactivate")).expect("parses");
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].op, PatchOpKind::Replace);
        assert!(ops[0].path.is_none());
        assert_eq!(ops[0].value, Some(json!({ "active": false })));
    }

    #[test]
    fn parses_capitalised_ops_and_keys() {
        let ops = parse_patch_request(&fixture("entra-quirks")).expect("parses");
        let kinds: Vec<_> = ops.iter().map(|o| o.op).collect();
        assert_eq!(kinds, [PatchOpKind::Replace, PatchOpKind::Replace, PatchOpKind::Add]);
        let path = ops[2].path.as_ref().expect("path");
        assert_eq!(path.attr.attr, "emails");
        assert_eq!(path.sub_attr.as_deref(), Some("value"));
        // Member names of the body and the operations are case-insensitive.
        let ops = parse_patch_request(&json!({
            "Schemas": [PATCH_OP_SCHEMA],
            "operations": [{ "OP": "REMOVE", "Path": "title" }]
        }))
        .expect("parses");
        assert_eq!(ops[0].op, PatchOpKind::Remove);
        assert_eq!(ops[0].value, None);
    }

    #[test]
    fn explicit_null_value_is_kept() {
        let ops = parse_patch_request(&body(json!([
            { "op": "replace", "path": "title", "value": null }
        ])))
        .expect("parses");
        assert_eq!(ops[0].value, Some(Value::Null));
    }

    #[test]
    fn rejects_malformed_requests() {
        let cases: Vec<(Value, ScimType, &str)> = vec![
            (json!([]), ScimType::InvalidValue, "JSON object"),
            (json!({ "Operations": [{ "op": "remove", "path": "title" }] }), ScimType::InvalidValue, PATCH_OP_SCHEMA),
            (
                json!({ "schemas": [USER], "Operations": [{ "op": "remove", "path": "title" }] }),
                ScimType::InvalidValue,
                PATCH_OP_SCHEMA,
            ),
            (json!({ "schemas": [PATCH_OP_SCHEMA] }), ScimType::InvalidValue, "Operations"),
            (body(json!({})), ScimType::InvalidValue, "array"),
            (body(json!([])), ScimType::InvalidValue, "at least one"),
            (
                body(json!([{ "op": "merge", "path": "title", "value": "x" }])),
                ScimType::InvalidValue,
                "unknown op \"merge\"",
            ),
            (body(json!([{ "op": 1, "path": "title" }])), ScimType::InvalidValue, "\"op\""),
            (body(json!([{ "path": "title" }])), ScimType::InvalidValue, "\"op\""),
            (body(json!(["add"])), ScimType::InvalidValue, "object"),
            (body(json!([{ "op": "add", "path": "title" }])), ScimType::InvalidValue, "requires a \"value\""),
            (body(json!([{ "op": "replace", "path": "title" }])), ScimType::InvalidValue, "requires a \"value\""),
            (body(json!([{ "op": "add", "value": "x" }])), ScimType::InvalidValue, "object of attributes"),
            (body(json!([{ "op": "remove" }])), ScimType::NoTarget, "\"path\""),
            (body(json!([{ "op": "remove", "path": "" }])), ScimType::NoTarget, "\"path\""),
            (
                body(json!([{ "op": "remove", "path": "emails[type eq \"work\"" }])),
                ScimType::InvalidPath,
                "no matching ']'",
            ),
            (body(json!([{ "op": "remove", "path": "emails..value" }])), ScimType::InvalidPath, "invalid"),
            (body(json!([{ "op": "remove", "path": 7 }])), ScimType::InvalidPath, "string"),
        ];
        for (input, want, needle) in cases {
            let e = parse_patch_request(&input).expect_err(&input.to_string());
            assert_eq!(e.status, 400, "{input}");
            assert_eq!(kind(&e), Some(want), "{input}: {e}");
            assert!(e.detail.contains(needle), "{input}: {}", e.detail);
        }
    }

    #[test]
    fn error_names_the_operation() {
        let e = parse_patch_request(&body(json!([
            { "op": "remove", "path": "title" },
            { "op": "add", "path": "title" }
        ])))
        .expect_err("second op has no value");
        assert!(e.detail.starts_with("Operations[1]: "), "{}", e.detail);
    }

    #[test]
    fn caps_the_number_of_operations() {
        let op = json!({ "op": "remove", "path": "title" });
        let ops = parse_patch_request(&body(Value::Array(vec![op.clone(); MAX_OPERATIONS])))
            .expect("1000 operations are fine");
        assert_eq!(ops.len(), MAX_OPERATIONS);
        let e = parse_patch_request(&body(Value::Array(vec![op; MAX_OPERATIONS + 1]))).expect_err("1001 operations");
        assert_eq!(kind(&e), Some(ScimType::TooMany));
        assert!(e.detail.contains("1001"), "{}", e.detail);
    }

    // --- add ---------------------------------------------------------------------------------

    #[test]
    fn add_without_path_merges() {
        let out = ok_user(json!([{ "op": "add", "value": {
            "nickName": "JD",
            "name": { "MiddleName": "Q" },
            "emails": [
                { "value": "jane@work.example", "type": "work", "primary": true },
                { "value": "jane@home.example", "type": "home" }
            ]
        }}]));
        assert_eq!(out["nickName"], "JD");
        assert_eq!(out["name"], json!({ "givenName": "Jane", "familyName": "Doe", "middleName": "Q" }));
        let emails = out["emails"].as_array().expect("emails");
        assert_eq!(emails.len(), 2, "the equal element is not appended twice");
        assert_eq!(emails[1]["value"], "jane@home.example");
        assert_eq!(emails[0]["primary"], true);
    }

    #[test]
    fn add_of_existing_values_is_a_no_op() {
        let out = ok_user(json!([
            { "op": "add", "path": "emails",
              "value": [{ "value": "jane@work.example", "type": "work", "primary": true }] },
            { "op": "add", "path": "name", "value": { "givenName": "Jane" } }
        ]));
        assert_eq!(out, user_doc());
    }

    #[test]
    fn add_with_path() {
        let out = ok_user(json!([
            { "op": "add", "path": "title", "value": "Engineer" },
            { "op": "add", "path": "NAME.honorificPrefix", "value": "Dr." },
            { "op": "add", "path": "name", "value": { "formatted": "Dr. Jane Doe" } },
            { "op": "add", "path": "phoneNumbers", "value": { "value": "+1 555", "type": "work" } },
            { "op": "add", "path": "emails", "value": [{ "value": "j@other.example", "type": "other" }] }
        ]));
        assert_eq!(out["title"], "Engineer");
        assert_eq!(out["name"]["honorificPrefix"], "Dr.");
        assert_eq!(out["name"]["formatted"], "Dr. Jane Doe");
        assert_eq!(out["name"]["givenName"], "Jane");
        assert_eq!(out["phoneNumbers"], json!([{ "value": "+1 555", "type": "work" }]));
        assert_eq!(out["emails"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn added_primary_takes_over() {
        let out = ok_user(json!([{ "op": "add", "path": "emails",
            "value": [{ "value": "jane@home.example", "type": "home", "primary": "True" }] }]));
        assert_eq!(out["emails"][0]["primary"], false);
        assert_eq!(out["emails"][1]["primary"], true);
    }

    #[test]
    fn add_on_filtered_path_creates_or_updates() {
        // No match: a `type eq` filter describes the element to create (Entra ID).
        let out = ok_user(json!([{ "op": "add", "path": "emails[type eq \"home\"].value",
            "value": "jane@home.example" }]));
        assert_eq!(out["emails"][1], json!({ "type": "home", "value": "jane@home.example" }));
        // Any other filter that matches nothing, even one made of eq terms, is noTarget (project decision).
        for path in [
            "emails[type eq \"home\" and display eq \"Home\"].value",
            "emails[display eq \"Home\"].value",
            "emails[type eq 42].value",
        ] {
            let e = err_user(json!([{ "op": "add", "path": path, "value": "jane@home.example" }]));
            assert_eq!(kind(&e), Some(ScimType::NoTarget), "{path}");
        }
        // Match: the sub-attribute is set on it.
        let out = ok_user(json!([{ "op": "add", "path": "emails[type eq \"WORK\"].display",
            "value": "Work mail" }]));
        assert_eq!(out["emails"].as_array().map(Vec::len), Some(1));
        assert_eq!(out["emails"][0]["display"], "Work mail");
        // No match and a filter that does not describe an element.
        let e = err_user(json!([{ "op": "add", "path": "emails[value co \"home\"].type",
            "value": "home" }]));
        assert_eq!(kind(&e), Some(ScimType::NoTarget));
    }

    #[test]
    fn add_null_changes_nothing() {
        let out = ok_user(json!([{ "op": "add", "path": "title", "value": null }]));
        assert_eq!(out, user_doc());
    }

    // --- replace -----------------------------------------------------------------------------

    #[test]
    fn replace_without_path() {
        let out = ok_user(json!([{ "op": "replace", "value": {
            "emails": [{ "value": "new@work.example", "type": "work" }],
            "name": { "familyName": "Roe" },
            "displayName": "Jane Roe"
        }}]));
        assert_eq!(out["emails"], json!([{ "value": "new@work.example", "type": "work" }]));
        assert_eq!(out["name"], json!({ "givenName": "Jane", "familyName": "Roe" }));
        assert_eq!(out["displayName"], "Jane Roe");
    }

    #[test]
    fn replace_with_path() {
        let out = ok_user(json!([
            { "op": "replace", "path": "emails", "value": [{ "value": "x@y.example" }] },
            { "op": "replace", "path": "name.familyName", "value": "Roe" },
            { "op": "replace", "path": "userName", "value": "jane.roe@example.com" }
        ]));
        assert_eq!(out["emails"], json!([{ "value": "x@y.example" }]));
        assert_eq!(out["name"]["familyName"], "Roe");
        assert_eq!(out["userName"], "jane.roe@example.com");
    }

    #[test]
    fn replace_on_filtered_path() {
        let out = ok_user(json!([
            { "op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@work.example" }
        ]));
        assert_eq!(out["emails"][0]["value"], "new@work.example");
        assert_eq!(out["emails"][0]["primary"], true);

        let out = ok_user(json!([
            { "op": "replace", "path": "emails[type eq \"work\"]",
              "value": { "value": "other@work.example", "type": "work" } }
        ]));
        assert_eq!(out["emails"], json!([{ "value": "other@work.example", "type": "work" }]));

        // No match, eq filter: created like add.
        let out = ok_user(json!([
            { "op": "replace", "path": "emails[type eq \"home\"].value", "value": "h@home.example" }
        ]));
        assert_eq!(out["emails"][1], json!({ "type": "home", "value": "h@home.example" }));

        // No match, other filter: noTarget.
        let e = err_user(json!([
            { "op": "replace", "path": "emails[type ne \"work\"].value", "value": "h@home.example" }
        ]));
        assert_eq!(kind(&e), Some(ScimType::NoTarget));
        assert!(e.detail.contains("emails"), "{}", e.detail);
    }

    #[test]
    fn primary_set_by_filter_moves() {
        let out = ok_user(json!([
            { "op": "add", "path": "emails", "value": [{ "value": "h@home.example", "type": "home" }] },
            { "op": "replace", "path": "emails[type eq \"home\"].primary", "value": "TRUE" }
        ]));
        assert_eq!(out["emails"][0]["primary"], false);
        assert_eq!(out["emails"][1]["primary"], true);
    }

    #[test]
    fn replace_with_null_or_empty_removes() {
        let out = ok_user(json!([
            { "op": "replace", "path": "emails", "value": [] },
            { "op": "replace", "path": "name.givenName", "value": null },
            { "op": "replace", "value": { "active": null } }
        ]));
        assert!(out.get("emails").is_none());
        assert!(out.get("active").is_none());
        assert_eq!(out["name"], json!({ "familyName": "Doe" }));
    }

    // --- remove ------------------------------------------------------------------------------

    #[test]
    fn remove_attribute_sub_attribute_and_elements() {
        let out = ok_user(json!([{ "op": "remove", "path": "active" }]));
        assert!(out.get("active").is_none());

        let out = ok_user(json!([{ "op": "remove", "path": "name.givenName" }]));
        assert_eq!(out["name"], json!({ "familyName": "Doe" }));

        // The last sub-attribute gone: the attribute is gone.
        let out = ok_user(json!([
            { "op": "remove", "path": "name.givenName" },
            { "op": "remove", "path": "name.familyName" }
        ]));
        assert!(out.get("name").is_none());

        let out = ok_user(json!([{ "op": "remove", "path": "emails[type eq \"work\"]" }]));
        assert!(out.get("emails").is_none());

        let out = ok_user(json!([{ "op": "remove", "path": "emails[type eq \"work\"].primary" }]));
        assert_eq!(out["emails"], json!([{ "value": "jane@work.example", "type": "work" }]));

        // No match is a no-op (RFC 7644 §3.5.2.2), as is removing an absent attribute.
        let out = ok_user(json!([
            { "op": "remove", "path": "emails[type eq \"home\"]" },
            { "op": "remove", "path": "title" },
            { "op": "remove", "path": "addresses[type eq \"work\"].locality" }
        ]));
        assert_eq!(out, user_doc());
    }

    #[test]
    fn remove_with_value_removes_only_those_elements() {
        let out = ok_user(json!([
            { "op": "add", "path": "emails", "value": [{ "value": "h@home.example", "type": "home" }] },
            { "op": "remove", "path": "emails", "value": [{ "value": "jane@work.example" }] }
        ]));
        assert_eq!(out["emails"], json!([{ "value": "h@home.example", "type": "home" }]));
    }

    #[test]
    fn removing_required_attribute_is_mutability() {
        for ops in [
            json!([{ "op": "remove", "path": "userName" }]),
            json!([{ "op": "replace", "path": "username", "value": null }]),
            json!([{ "op": "replace", "value": { "userName": null } }]),
        ] {
            let e = err_user(ops);
            assert_eq!(kind(&e), Some(ScimType::Mutability));
            assert!(e.detail.contains("\"userName\" is required"), "{}", e.detail);
        }
        let e = patch_as("Group", &group_doc(), &body(json!([{ "op": "remove", "path": "displayName" }])))
            .expect_err("displayName is required");
        assert_eq!(kind(&e), Some(ScimType::Mutability));
        assert!(e.detail.contains("displayName"), "{}", e.detail);
    }

    // --- mutability --------------------------------------------------------------------------

    #[test]
    fn read_only_targets_are_mutability_errors() {
        for ops in [
            json!([{ "op": "replace", "path": "meta.lastModified", "value": "2024-01-01T00:00:00Z" }]),
            json!([{ "op": "remove", "path": "meta" }]),
            json!([{ "op": "add", "path": "groups", "value": [{ "value": "g1" }] }]),
            json!([{ "op": "replace", "value": { "groups": [] } }]),
            json!([{ "op": "replace", "path": "id", "value": "other" }]),
            json!([{ "op": "remove", "path": "id" }]),
            json!([{ "op": "add", "path": format!("{ENT}:manager.displayName"), "value": "Boss" }]),
        ] {
            let e = err_user(ops.clone());
            assert_eq!(kind(&e), Some(ScimType::Mutability), "{ops}: {e}");
            assert!(e.detail.contains("readOnly"), "{}", e.detail);
        }
    }

    #[test]
    fn immutable_attribute_cannot_change_once_set() {
        let schema = json!({
            "id": "urn:example:Badge", "name": "Badge",
            "attributes": [
                { "name": "badge", "type": "string", "mutability": "immutable" },
                { "name": "label", "type": "string", "required": true },
                { "name": "card", "type": "complex", "subAttributes": [
                    { "name": "serial", "type": "string", "mutability": "immutable" },
                    { "name": "note", "type": "string" }
                ]}
            ]
        });
        let ext = json!({
            "id": "urn:example:Ext", "name": "Ext",
            "attributes": [{ "name": "code", "type": "string", "required": true }]
        });
        let rts = json!([{ "name": "Badge", "endpoint": "/Badges", "schema": "urn:example:Badge",
                           "schemaExtensions": [{ "schema": "urn:example:Ext", "required": false }] }]);
        let schemas = Schemas::from_json(&[&schema.to_string(), &ext.to_string()], &rts.to_string()).expect("schemas");
        let rt = schemas.resource_type("Badge").expect("rt");
        let run = |doc: &Value, ops: Value| {
            let ops = parse_patch_request(&body(ops))?;
            let mut out = doc.clone();
            apply_operations(&schemas, rt, OWN_ID, &mut out, &ops).map(|()| out)
        };
        let empty = json!({ "schemas": ["urn:example:Badge"], "label": "x" });
        let set = run(
            &empty,
            json!([{ "op": "add", "path": "badge", "value": "B1" },
                                     { "op": "add", "path": "card.serial", "value": "S1" }]),
        )
        .expect("setting an unset immutable attribute is fine");
        assert_eq!(set["badge"], "B1");
        assert_eq!(set["card"]["serial"], "S1");
        // The same value again is not a change.
        assert!(run(&set, json!([{ "op": "replace", "path": "badge", "value": "B1" }])).is_ok());
        // caseExact=false: a change of case is no change (RFC 7643 §2.2).
        assert!(run(&set, json!([{ "op": "replace", "path": "badge", "value": "b1" }])).is_ok());
        // A mutable sibling of an immutable sub-attribute may change.
        assert!(run(&set, json!([{ "op": "add", "path": "card.note", "value": "n" }])).is_ok());
        for ops in [
            json!([{ "op": "replace", "path": "badge", "value": "B2" }]),
            json!([{ "op": "remove", "path": "badge" }]),
            json!([{ "op": "replace", "value": { "card": { "serial": "S2" } } }]),
            json!([{ "op": "remove", "path": "card" }]),
        ] {
            let e = run(&set, ops.clone()).expect_err("immutable");
            assert_eq!(kind(&e), Some(ScimType::Mutability), "{ops}: {e}");
            assert!(e.detail.contains("immutable"), "{}", e.detail);
        }
        // Removing a whole extension is removing each of its attributes.
        let with_ext = json!({ "schemas": ["urn:example:Badge", "urn:example:Ext"], "label": "x",
                               "urn:example:Ext": { "code": "c" } });
        for ops in [
            json!([{ "op": "remove", "path": "urn:example:Ext" }]),
            json!([{ "op": "replace", "value": { "urn:example:Ext": null } }]),
        ] {
            let e = run(&with_ext, ops.clone()).expect_err("required");
            assert_eq!(kind(&e), Some(ScimType::Mutability), "{ops}: {e}");
            assert!(e.detail.contains("urn:example:Ext:code\" is required"), "{}", e.detail);
        }
    }

    // --- extensions, dotted keys, client quirks ----------------------------------------------

    #[test]
    fn extension_paths_and_keys() {
        let out = ok_user(json!([
            { "op": "add", "path": format!("{ENT}:department"), "value": "Sales" },
            { "op": "replace", "path": format!("{ENT}:manager.value"), "value": "m-1" }
        ]));
        assert_eq!(out[ENT], json!({ "department": "Sales", "manager": { "value": "m-1" } }));
        assert!(out["schemas"].as_array().is_some_and(|s| s.contains(&json!(ENT))));

        // The extension URN as a path or a no-path key, with an object of attributes.
        let out = ok_user(json!([
            { "op": "add", "path": ENT, "value": { "employeeNumber": "E-1", "Division": "R&D" } },
            { "op": "replace", "value": { ENT: { "costCenter": "CC-7" } } }
        ]));
        assert_eq!(out[ENT], json!({ "employeeNumber": "E-1", "division": "R&D", "costCenter": "CC-7" }));

        // Removing the last attribute (or the whole extension) drops it from `schemas` too.
        for remove in [format!("{ENT}:costCenter"), ENT.to_string()] {
            let out = patch_as(
                "User",
                &out,
                &body(json!([
                    { "op": "remove", "path": format!("{ENT}:employeeNumber") },
                    { "op": "remove", "path": format!("{ENT}:division") },
                    { "op": "remove", "path": remove }
                ])),
            )
            .expect("removes");
            assert!(out.get(ENT).is_none(), "{out}");
            assert_eq!(out["schemas"], json!([USER]));
        }
    }

    #[test]
    fn entra_manager_as_bare_id() {
        let out = ok_user(json!([
            { "op": "Add", "path": format!("{ENT}:manager"), "value": "2819c223" }
        ]));
        assert_eq!(out[ENT]["manager"], json!({ "value": "2819c223" }));
    }

    #[test]
    fn dotted_and_qualified_keys() {
        let out = ok_user(json!([{ "op": "replace", "value": {
            "name.GivenName": "Janet",
            "urn:ietf:params:scim:schemas:core:2.0:User:title": "CTO",
            "emails[type eq \"work\"].display": "Work"
        }}]));
        assert_eq!(out["name"]["givenName"], "Janet");
        assert_eq!(out["title"], "CTO");
        assert_eq!(out["emails"][0]["display"], "Work");
    }

    #[test]
    fn okta_deactivate() {
        let out = patch_as("User", &user_doc(), &fixture("deactivate")).expect("applies");
        assert_eq!(out["active"], false);
        let mut want = user_doc();
        want["active"] = json!(false);
        assert_eq!(out, want);
    }

    #[test]
    fn entra_quirks() {
        let out = patch_as("User", &user_doc(), &fixture("entra-quirks")).expect("applies");
        let out = Schemas::embedded().normalize(rt("User"), &out).expect("normalises");
        assert_eq!(out["active"], false);
        assert_eq!(out["name"]["givenName"], "Jan");
        assert_eq!(out["name"]["familyName"], "Doe");
        assert_eq!(out[ENT]["department"], "Sales");
        assert_eq!(
            out["emails"],
            json!([
                { "value": "jane@work.example", "type": "work", "primary": true },
                { "value": "jan@example.org", "type": "home" }
            ])
        );
        assert_eq!(out["schemas"], json!([USER, ENT]));
    }

    #[test]
    fn string_booleans_are_coerced_but_numbers_are_not() {
        let out = ok_user(json!([{ "op": "replace", "value": {
            "active": "fAlSe",
            "emails": [{ "value": "x@y.example", "primary": "True" }]
        }}]));
        assert_eq!(out["active"], false);
        assert_eq!(out["emails"][0]["primary"], true);
        // Only "true"/"false" are booleans; anything else is left for validation to reject.
        let out = patch_user(json!([{ "op": "replace", "path": "active", "value": "1" }])).expect("applies");
        assert_eq!(out["active"], "1");
        assert!(Schemas::embedded().normalize(rt("User"), &out).is_err());
    }

    #[test]
    fn password_is_accepted() {
        let out = patch_as("User", &user_doc(), &fixture("password")).expect("applies");
        assert_eq!(out["password"], "new-Secret-9182");
        let stored = Schemas::embedded().normalize(rt("User"), &out).expect("normalises");
        assert_eq!(stored, user_doc(), "normalize drops the password");
    }

    #[test]
    fn group_rename_repeating_own_id() {
        let out = patch_as("Group", &group_doc(), &fixture("rename")).expect("own id accepted");
        assert_eq!(out["displayName"], "Engineering (all)");
        assert!(out.get("id").is_none());

        let mut foreign = fixture("rename");
        foreign["Operations"][0]["value"]["id"] = json!("someone-else");
        let e = patch_as("Group", &group_doc(), &foreign).expect_err("foreign id");
        assert_eq!(kind(&e), Some(ScimType::Mutability));
        assert!(e.detail.contains("\"id\""), "{}", e.detail);
    }

    #[test]
    fn bad_shapes_are_errors_not_panics() {
        let cases: Vec<(Value, ScimType)> = vec![
            (json!({ "op": "add", "path": "name", "value": "Jane" }), ScimType::InvalidValue),
            (json!({ "op": "replace", "path": "emails[type eq \"work\"]", "value": "x" }), ScimType::InvalidValue),
            (json!({ "op": "add", "path": ENT, "value": "x" }), ScimType::InvalidValue),
            (json!({ "op": "add", "path": "userName[value eq \"x\"]", "value": "x" }), ScimType::InvalidPath),
            (json!({ "op": "add", "path": "userName.first", "value": "x" }), ScimType::InvalidPath),
            (json!({ "op": "add", "path": "emails[type eq \"work\"].nope", "value": "x" }), ScimType::InvalidPath),
            (json!({ "op": "add", "path": "nope", "value": "x" }), ScimType::InvalidPath),
            (json!({ "op": "add", "value": { "nope": 1 } }), ScimType::InvalidValue),
            // A key of the value that is no attribute is a bad value, not a bad path (RFC 7644 §3.12).
            (json!({ "op": "add", "value": { "bad key!": 1 } }), ScimType::InvalidValue),
            (json!({ "op": "add", "path": ENT, "value": { "bad key!": 1 } }), ScimType::InvalidValue),
            (json!({ "op": "add", "path": format!("{ENT}[value eq \"x\"]"), "value": "x" }), ScimType::InvalidPath),
        ];
        for (op, want) in cases {
            let e = err_user(json!([op.clone()]));
            assert_eq!(kind(&e), Some(want), "{op}: {e}");
        }
        // Odd but harmless shapes against odd documents: no panic, whatever the outcome.
        let docs = [
            user_doc(),
            json!({ "schemas": [USER], "userName": "u", "emails": "not-an-array", "name": 5, ENT: [] }),
            json!({ "schemas": [USER], "userName": "u", "emails": [1, null, [], { "type": 3 }] }),
        ];
        let values = [
            json!(null),
            json!(1),
            json!("s"),
            json!([]),
            json!([1, [2]]),
            json!({}),
            json!({ "value": { "deep": [1] } }),
            json!([{ "primary": "true" }, { "primary": true }]),
        ];
        let paths = [
            "emails",
            "emails[type eq \"work\"]",
            "emails[type eq \"work\"].value",
            "emails.value",
            "name",
            "name.givenName",
            "active",
            ENT,
            &format!("{ENT}:manager"),
            &format!("{ENT}:manager.value"),
            "emails[not (type pr)].primary",
        ];
        for doc in &docs {
            for path in paths {
                for value in &values {
                    for op in ["add", "replace", "remove"] {
                        let ops = body(json!([{ "op": op, "path": path, "value": value }]));
                        let _ = patch_as("User", doc, &ops);
                    }
                }
            }
        }
        let out = patch_as(
            "User",
            &docs[1],
            &body(json!([{ "op": "add", "path": "emails[type eq \"x\"].value", "value": "v" }])),
        )
        .expect("a stored scalar is kept as one element");
        assert_eq!(out["emails"], json!(["not-an-array", { "type": "x", "value": "v" }]));
        // Removing a sub-attribute from every element keeps scalar elements.
        let out =
            patch_as("User", &docs[2], &body(json!([{ "op": "remove", "path": "emails.type" }]))).expect("applies");
        assert_eq!(out["emails"], json!([1, null, []]));
    }

    // --- group membership --------------------------------------------------------------------

    fn split(body: &Value) -> ScimResult<(Vec<PatchOperation>, Vec<MemberPatch>)> {
        split_member_ops(parse_patch_request(body)?)
    }

    #[test]
    fn splits_okta_membership_patch() {
        let (doc_ops, members) = split(&fixture("members")).expect("splits");
        assert!(doc_ops.is_empty());
        assert_eq!(
            members,
            vec![
                MemberPatch::RemoveValues(vec!["2819c223-7f76-453a-919d-413861904646".into()]),
                MemberPatch::Add(vec![json!({
                    "value": "902c246b-6245-4190-8e05-00816be7344a",
                    "display": "john.roe@example.com"
                })]),
            ]
        );
    }

    #[test]
    fn splits_replace_empty_and_entra_remove() {
        let (doc_ops, members) = split(&fixture("members-replace-empty")).expect("splits");
        assert!(doc_ops.is_empty());
        assert_eq!(members, vec![MemberPatch::Replace(vec![])]);

        let (doc_ops, members) = split(&fixture("entra-remove-member")).expect("splits");
        assert!(doc_ops.is_empty());
        assert_eq!(members, vec![MemberPatch::RemoveValues(vec!["902c246b-6245-4190-8e05-00816be7344a".into()])]);
    }

    #[test]
    fn rename_has_no_member_patch() {
        let (doc_ops, members) = split(&fixture("rename")).expect("splits");
        assert!(members.is_empty());
        assert_eq!(doc_ops, parse_patch_request(&fixture("rename")).expect("parses"));
    }

    #[test]
    fn no_path_members_key_is_split_off() {
        let (doc_ops, members) = split(&body(json!([
            { "op": "replace", "value": { "displayName": "Ops", "Members": [{ "Value": "u1" }] } },
            { "op": "add", "value": { "members": { "value": "u2", "type": "User" } } }
        ])))
        .expect("splits");
        assert_eq!(doc_ops.len(), 1);
        assert_eq!(doc_ops[0].value, Some(json!({ "displayName": "Ops" })));
        assert_eq!(
            members,
            vec![
                MemberPatch::Replace(vec![json!({ "value": "u1" })]),
                MemberPatch::Add(vec![json!({ "value": "u2", "type": "User" })]),
            ]
        );
        // The document part still applies (with the group's own id ignored).
        let out = patch_as(
            "Group",
            &group_doc(),
            &body(json!([
                { "op": "replace", "value": { "displayName": "Ops", "id": OWN_ID } }
            ])),
        )
        .expect("applies");
        assert_eq!(out["displayName"], "Ops");
    }

    #[test]
    fn member_paths() {
        let (_, members) = split(&body(json!([
            { "op": "remove", "path": "Members" },
            { "op": "remove", "path": "members[value eq \"a\" or value eq \"b\"]" },
            { "op": "remove", "path": "members[type eq \"Group\"]" },
            { "op": "add", "path": format!("{GROUP_SCHEMA}:members"), "value": [] },
            { "op": "remove", "path": "members", "value": [] }
        ])))
        .expect("splits");
        assert_eq!(members.len(), 5);
        assert_eq!(members[0], MemberPatch::RemoveAll);
        assert_eq!(members[1], MemberPatch::RemoveValues(vec!["a".into(), "b".into()]));
        assert!(
            matches!(&members[2], MemberPatch::RemoveWhere(Filter::Compare(p, CompareOp::Eq, _)) if p.attr == "type")
        );
        assert_eq!(members[3], MemberPatch::Add(vec![]));
        // An empty list of members to remove removes none, never all.
        assert_eq!(members[4], MemberPatch::RemoveValues(vec![]));
    }

    #[test]
    fn unsupported_member_patches_are_rejected() {
        for (ops, want, needle) in [
            (
                json!([{ "op": "replace", "path": "members[value eq \"a\"].display", "value": "x" }]),
                ScimType::InvalidPath,
                "sub-attributes",
            ),
            (
                json!([{ "op": "add", "path": "members[value eq \"a\"]", "value": { "value": "a" } }]),
                ScimType::InvalidPath,
                "not supported",
            ),
            (json!([{ "op": "remove", "path": "members.value" }]), ScimType::InvalidPath, "sub-attributes"),
            (json!([{ "op": "add", "path": "members", "value": ["u1"] }]), ScimType::InvalidValue, "object"),
            (
                json!([{ "op": "add", "path": "members", "value": [{ "display": "x" }] }]),
                ScimType::InvalidValue,
                "\"value\"",
            ),
            (
                json!([{ "op": "add", "path": "members", "value": [{ "value": 7 }] }]),
                ScimType::InvalidValue,
                "\"value\"",
            ),
            (json!([{ "op": "replace", "path": "members", "value": "u1" }]), ScimType::InvalidValue, "array"),
            (
                json!([{ "op": "remove", "path": "members", "value": [{ "value": "" }] }]),
                ScimType::InvalidValue,
                "non-empty",
            ),
        ] {
            let e = split(&body(ops.clone())).expect_err("rejected");
            assert_eq!(kind(&e), Some(want), "{ops}: {e}");
            assert!(e.detail.contains(needle), "{ops}: {}", e.detail);
        }
    }

    #[test]
    fn multi_valued_attributes_are_capped() {
        let many: Vec<Value> = (0..MAX_MULTI_VALUES).map(|i| json!({"value": format!("e{i}@x.org")})).collect();
        let full = ok_user(json!([{"op": "replace", "path": "emails", "value": many}]));
        assert_eq!(full["emails"].as_array().map(Vec::len), Some(MAX_MULTI_VALUES));
        let body = json!({"schemas": [PATCH_OP_SCHEMA],
                          "Operations": [{"op": "add", "path": "emails", "value": [{"value": "one-more@x.org"}]}]});
        let e = patch_as("User", &full, &body).expect_err("over the cap");
        assert_eq!(kind(&e), Some(ScimType::InvalidValue));
        assert!(e.detail.contains("emails"), "{}", e.detail);
        // normalize enforces the same bound on POST/PUT bodies, but never on Group members.
        let mut user = full.clone();
        user["emails"].as_array_mut().unwrap().push(json!({"value": "x@y.org"}));
        assert!(Schemas::embedded().normalize(rt("User"), &user).is_err());
        let members: Vec<Value> = (0..MAX_MULTI_VALUES + 5).map(|i| json!({"value": format!("id{i}")})).collect();
        let group = json!({"schemas": [GROUP_SCHEMA], "displayName": "Big", "members": members});
        assert!(Schemas::embedded().normalize(rt("Group"), &group).is_ok());
    }

    #[test]
    fn removing_members_with_a_null_value_is_refused() {
        let ops = parse_patch_request(&body(json!([{"op": "remove", "path": "members", "value": null}]))).unwrap();
        let e = split_member_ops(ops).expect_err("ambiguous");
        assert_eq!(kind(&e), Some(ScimType::InvalidValue));
        let ops = parse_patch_request(&body(json!([{"op": "remove", "path": "members"}]))).unwrap();
        assert_eq!(split_member_ops(ops).unwrap().1, vec![MemberPatch::RemoveAll]);
    }
}
