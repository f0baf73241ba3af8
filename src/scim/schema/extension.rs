//! Admin-defined schema extensions (RFC 7643 §3.3): a schema document in RFC 7643 §7 form, attached to the
//! User or Group resource type. `scimd schema add` validates one with [`validate`]; the server builds its
//! schema set with [`Schemas::with_extensions`]; a changed definition is compared with the stored one by
//! [`diff`] to find what would no longer fit the data already stored.

use super::{find_attr, load_schema, AttrDef, AttrType, Returned, SchemaExtension, Schemas, Uniqueness};
use super::{ENTERPRISE_USER_SCHEMA, SCHEMA_SCHEMA};
use serde_json::{json, Map, Value};

/// Largest schema document accepted, in bytes.
pub const MAX_DEFINITION_BYTES: usize = 256 * 1024;
/// Most attributes in one extension, and most sub-attributes of one attribute.
pub const MAX_ATTRIBUTES: usize = 200;
const MAX_CANONICAL_VALUES: usize = 1000;
const MAX_URN_LEN: usize = 256;
const MAX_NAME_LEN: usize = 64;

/// URN prefixes that belong to the SCIM standard itself.
const RESERVED_PREFIXES: [&str; 2] = ["urn:ietf:params:scim:schemas:core:", "urn:ietf:params:scim:api:"];

/// The characteristics an attribute definition may carry (RFC 7643 §7).
const ATTRIBUTE_KEYS: [&str; 12] = [
    "name",
    "type",
    "subAttributes",
    "multiValued",
    "description",
    "required",
    "canonicalValues",
    "caseExact",
    "mutability",
    "returned",
    "uniqueness",
    "referenceTypes",
];

/// An extension as the server keeps it: its definition (normalised: every characteristic spelled out) and
/// how it is attached.
#[derive(Debug, Clone, PartialEq)]
pub struct Extension {
    pub urn: String,
    /// `User` or `Group`.
    pub resource_type: String,
    /// `schemaExtensions[].required` (RFC 7643 §6): every resource of the type must carry it.
    pub required: bool,
    pub definition: Value,
    /// Attributes (top level of the extension, single-valued, not complex) with an expression index.
    pub indexed: Vec<String>,
}

impl Extension {
    /// The attributes of the definition.
    pub fn attributes(&self) -> Vec<AttrDef> {
        serde_json::from_value(self.definition.get("attributes").cloned().unwrap_or(Value::Null)).unwrap_or_default()
    }
}

/// Parses a schema file's text: JSON, an object, not too large.
pub fn parse_definition(text: &str) -> Result<Value, String> {
    if text.len() > MAX_DEFINITION_BYTES {
        return Err(format!("the schema is {} bytes; at most {MAX_DEFINITION_BYTES} are accepted", text.len()));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| format!("the schema is not valid JSON: {e}"))?;
    if !value.is_object() {
        return Err("the schema must be a JSON object (RFC 7643 §7)".into());
    }
    Ok(value)
}

fn valid_urn(urn: &str) -> bool {
    let Some(rest) = urn.strip_prefix("urn:") else { return false };
    urn.len() <= MAX_URN_LEN
        && rest.split(':').count() >= 2
        && rest.split(':').all(|seg| !seg.is_empty())
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '-' | '_'))
}

/// RFC 7643 §2.1: ATTRNAME = ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_NAME_LEN
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Checks one attribute definition; `sub` for a sub-attribute. Returns it with every characteristic set.
fn check_attribute(v: &Value, urn: &str, sub: bool) -> Result<AttrDef, String> {
    let obj = v.as_object().ok_or(format!("{urn}: each attribute must be a JSON object"))?;
    let name = obj.get("name").and_then(Value::as_str).ok_or(format!("{urn}: an attribute has no \"name\""))?;
    if !valid_name(name) {
        return Err(format!(
            "{urn}: attribute name \"{name}\" is not valid: a letter, then letters, digits, '-' or '_', at most \
             {MAX_NAME_LEN} characters (RFC 7643 §2.1)"
        ));
    }
    if let Some(key) = obj.keys().find(|k| !ATTRIBUTE_KEYS.contains(&k.as_str())) {
        return Err(format!("{urn}:{name}: unknown characteristic \"{key}\" (RFC 7643 §7 lists the valid ones)"));
    }
    let def: AttrDef = serde_json::from_value(v.clone()).map_err(|e| {
        let e = e.to_string();
        let e = e.split(" at line").next().unwrap_or(&e).to_string();
        format!("{urn}:{name}: {e} (types: string, boolean, decimal, integer, dateTime, binary, reference, complex)")
    })?;
    let label = format!("{urn}:{name}");
    match (def.attr_type, def.sub_attributes.is_empty()) {
        (AttrType::Complex, true) => return Err(format!("{label}: a complex attribute needs \"subAttributes\"")),
        (AttrType::Complex, false) if sub => {
            return Err(format!("{label}: a sub-attribute cannot be complex (RFC 7643 §2.3.8)"))
        }
        (t, false) if t != AttrType::Complex => {
            return Err(format!("{label}: only a complex attribute has \"subAttributes\""))
        }
        _ => {}
    }
    if def.uniqueness == Uniqueness::Global {
        return Err(format!(
            "{label}: uniqueness \"global\" cannot be enforced by one service provider; use \"server\""
        ));
    }
    if def.uniqueness == Uniqueness::Server && (def.multi_valued || def.attr_type == AttrType::Complex) {
        return Err(format!("{label}: uniqueness \"server\" is for single-valued, non-complex attributes"));
    }
    if def.required && def.mutability == super::Mutability::ReadOnly {
        return Err(format!("{label}: a readOnly attribute cannot be required: clients could never set it"));
    }
    if def.required && def.returned == Returned::Never && def.mutability != super::Mutability::WriteOnly {
        return Err(format!("{label}: a required attribute that is never returned must be writeOnly"));
    }
    if def.canonical_values.len() > MAX_CANONICAL_VALUES {
        return Err(format!("{label}: at most {MAX_CANONICAL_VALUES} canonicalValues"));
    }
    let subs = obj.get("subAttributes").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    if subs.len() > MAX_ATTRIBUTES {
        return Err(format!("{label}: at most {MAX_ATTRIBUTES} sub-attributes"));
    }
    let mut checked = def.clone();
    checked.sub_attributes = Vec::new();
    for s in subs {
        let s = check_attribute(s, &label, true)?;
        if find_attr(&checked.sub_attributes, &s.name).is_some() {
            return Err(format!("{label}: sub-attribute \"{}\" is defined twice (names are case-insensitive)", s.name));
        }
        checked.sub_attributes.push(s);
    }
    Ok(checked)
}

/// Validates an extension schema document for attaching to `resource_type` (`User` or `Group`), against
/// `base`: the schema set it joins (without the extension itself when it replaces an earlier version).
/// `indexed` names attributes to index. Every refusal is one line naming what is wrong.
pub fn validate(
    doc: &Value,
    resource_type: &str,
    required: bool,
    indexed: &[String],
    base: &Schemas,
) -> Result<Extension, String> {
    let obj = doc.as_object().ok_or("the schema must be a JSON object (RFC 7643 §7)")?;
    let urn = obj.get("id").and_then(Value::as_str).ok_or("the schema has no \"id\" (its URN, RFC 7643 §7)")?;
    if !valid_urn(urn) {
        return Err(format!(
            "\"{urn}\" is not a URN: use the form urn:<namespace>:<...>, e.g. \
             urn:ietf:params:scim:schemas:extension:acme:2.0:User (letters, digits, ':', '.', '-', '_')"
        ));
    }
    let lower = urn.to_ascii_lowercase();
    if RESERVED_PREFIXES.iter().any(|p| lower.starts_with(p)) || lower == ENTERPRISE_USER_SCHEMA.to_ascii_lowercase() {
        return Err(format!("{urn} is reserved by the SCIM standard; choose a URN of your own"));
    }
    if let Some(other) = base.schemas.iter().find(|s| {
        let o = s.id.to_ascii_lowercase();
        o == lower || lower.starts_with(&format!("{o}:")) || o.starts_with(&format!("{lower}:"))
    }) {
        return Err(if other.id.eq_ignore_ascii_case(urn) {
            format!("{urn} is already defined")
        } else {
            format!("{urn} and {} would be ambiguous in attribute paths: one URN must not extend the other", other.id)
        });
    }
    let rt = base
        .resource_type(resource_type)
        .filter(|rt| rt.name == "User" || rt.name == "Group")
        .ok_or(format!("resource type \"{resource_type}\": extensions attach to User or Group"))?;
    let attrs = obj
        .get("attributes")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or(format!("{urn}: the schema needs a non-empty \"attributes\" array"))?;
    if attrs.len() > MAX_ATTRIBUTES {
        return Err(format!("{urn}: at most {MAX_ATTRIBUTES} attributes per extension"));
    }
    let sc = base.scope(rt).map_err(|e| e.detail)?;
    let mut defs: Vec<AttrDef> = Vec::with_capacity(attrs.len());
    for a in attrs {
        let def = check_attribute(a, urn, false)?;
        if find_attr(&defs, &def.name).is_some() {
            return Err(format!("{urn}: attribute \"{}\" is defined twice (names are case-insensitive)", def.name));
        }
        if def.name.eq_ignore_ascii_case("schemas") || sc.top(&def.name).is_some() {
            return Err(format!(
                "{urn}:{}: clashes with the core attribute \"{}\" of {}; choose another name",
                def.name, def.name, rt.name
            ));
        }
        if let Some((other, _)) = sc.exts.iter().find(|(e, _)| find_attr(&e.attributes, &def.name).is_some()) {
            return Err(format!(
                "{urn}:{}: clashes with \"{}:{}\", an attribute of another extension of {}; choose another name",
                def.name, other.id, def.name, rt.name
            ));
        }
        defs.push(def);
    }
    let mut index = Vec::new();
    for name in indexed {
        let def = find_attr(&defs, name).ok_or(format!("--index {name}: {urn} has no attribute \"{name}\""))?;
        if def.multi_valued || def.attr_type == AttrType::Complex {
            return Err(format!("--index {name}: only single-valued, non-complex attributes can be indexed"));
        }
        if !index.contains(&def.name) {
            index.push(def.name.clone());
        }
    }
    let name = obj.get("name").and_then(Value::as_str).map(str::to_string);
    let name = name.unwrap_or_else(|| urn.rsplit(':').next().unwrap_or(urn).to_string());
    let mut definition = Map::new();
    definition.insert("schemas".into(), json!([SCHEMA_SCHEMA]));
    definition.insert("id".into(), json!(urn));
    definition.insert("name".into(), json!(name));
    if let Some(d) = obj.get("description").and_then(Value::as_str) {
        definition.insert("description".into(), json!(d));
    }
    definition.insert("attributes".into(), serde_json::to_value(&defs).map_err(|e| e.to_string())?);
    definition.insert("meta".into(), json!({"resourceType": "Schema", "location": format!("/Schemas/{urn}")}));
    Ok(Extension {
        urn: urn.to_string(),
        resource_type: rt.name.clone(),
        required,
        definition: Value::Object(definition),
        indexed: index,
    })
}

impl Schemas {
    /// The embedded schemas with these extensions added: each served by `/Schemas` and listed in its
    /// resource type's `schemaExtensions`.
    pub fn with_extensions(extensions: &[Extension]) -> Result<Schemas, String> {
        let mut schemas = Schemas::embedded().clone();
        for ext in extensions {
            let mut def = load_schema(&ext.definition.to_string())?;
            for a in def.attributes.iter_mut() {
                a.indexed = ext.indexed.iter().any(|i| i.eq_ignore_ascii_case(&a.name));
            }
            def.whole.sub_attributes = def.attributes.clone();
            // After the resource schemas, before ServiceProviderConfig / ResourceType / Schema.
            let at = schemas.schemas.iter().position(|s| s.id.ends_with(":ServiceProviderConfig"));
            schemas.schemas.insert(at.unwrap_or(schemas.schemas.len()), def);
            let rt = schemas
                .resource_types
                .iter_mut()
                .find(|rt| rt.name == ext.resource_type)
                .ok_or(format!("extension {}: no resource type {}", ext.urn, ext.resource_type))?;
            rt.extensions.push(SchemaExtension { schema: ext.urn.clone(), required: ext.required });
            let listed = rt.json.as_object_mut().ok_or("resource type document is not an object")?;
            let list = listed.entry("schemaExtensions").or_insert_with(|| json!([]));
            if let Some(list) = list.as_array_mut() {
                list.push(json!({"schema": ext.urn, "required": ext.required}));
            }
        }
        Ok(schemas)
    }
}

/// What replacing `old` by `new` (the same URN) would do to stored resources.
#[derive(Debug, Default, PartialEq)]
pub struct Change {
    /// Attributes whose stored values no longer fit: removed, or with another type, multiValued or
    /// sub-attributes. Their values would be deleted.
    pub dropped: Vec<String>,
    /// Attributes that become required: resources without a value would no longer validate.
    pub now_required: Vec<String>,
    /// Attributes that become unique (`uniqueness: server`): stored duplicates would conflict.
    pub now_unique: Vec<String>,
    /// The extension becomes required on its resource type.
    pub extension_now_required: bool,
}

pub fn diff(old: &Extension, new: &Extension) -> Change {
    let (old_attrs, new_attrs) = (old.attributes(), new.attributes());
    let mut change = Change { extension_now_required: new.required && !old.required, ..Change::default() };
    for o in &old_attrs {
        let Some(n) = find_attr(&new_attrs, &o.name) else {
            change.dropped.push(o.name.clone());
            continue;
        };
        if !same_shape(o, n) {
            change.dropped.push(o.name.clone());
        }
        if n.required && !o.required {
            change.now_required.push(n.name.clone());
        }
        if n.uniqueness == Uniqueness::Server && o.uniqueness != Uniqueness::Server {
            change.now_unique.push(n.name.clone());
        }
    }
    for n in new_attrs.iter().filter(|n| find_attr(&old_attrs, &n.name).is_none()) {
        if n.required {
            change.now_required.push(n.name.clone());
        }
        if n.uniqueness == Uniqueness::Server {
            change.now_unique.push(n.name.clone());
        }
    }
    change
}

/// Whether values stored for `old` are still values of `new`.
fn same_shape(old: &AttrDef, new: &AttrDef) -> bool {
    old.attr_type == new.attr_type
        && old.multi_valued == new.multi_valued
        && old.sub_attributes.iter().all(|s| new.sub(&s.name).is_some_and(|n| same_shape(s, n)))
}

#[cfg(test)]
mod tests;
