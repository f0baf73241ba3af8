//! SCIM schemas and resource types (RFC 7643 §2, §3, §6, §7, §8.7), loaded from the JSON documents in
//! `scim-schemas/` (the same documents `/Schemas` and `/ResourceTypes` serve), and everything the protocol
//! layer derives from them:
//!
//! * attribute-path resolution (case-insensitive, RFC 7643 §2.1) against a resource type's core schema,
//!   its extensions and the common attributes `id`, `externalId`, `meta` (RFC 7643 §3.1);
//! * validation and normalisation of client-supplied resources into the stored layout (canonical names,
//!   core attributes at the top level, extension attributes under their schema URN, no `id`/`meta`, no
//!   read-only or write-only attributes);
//! * immutability checks for PUT/PATCH (RFC 7644 §3.5.1);
//! * `attributes` / `excludedAttributes` projection (RFC 7644 §3.4.2.5, §3.9).
//!
//! Nothing here recurses on input beyond the depth of the schema itself (complex attributes nest at most
//! one level in the resource schemas), so hostile bodies cannot exhaust the stack.

use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::{parse_attr_path, AttrPath};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::OnceLock;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// Sanity cap on one string value in a resource (bytes).
pub const MAX_STRING_LEN: usize = 64 * 1024;
/// Most values one multi-valued attribute of a stored document may hold (emails, phoneNumbers, …): bounds
/// the document and the work of PATCH on it. Group `members` is exempt: it lives in its own table.
pub const MAX_MULTI_VALUES: usize = 1000;
/// Most names accepted in one `attributes` or `excludedAttributes` parameter.
pub const MAX_SELECTED_ATTRIBUTES: usize = 256;

/// The embedded schema documents, in the order `/Schemas` lists them.
const EMBEDDED_SCHEMAS: [&str; 6] = [
    include_str!("../../scim-schemas/user.json"),
    include_str!("../../scim-schemas/enterprise-user.json"),
    include_str!("../../scim-schemas/group.json"),
    include_str!("../../scim-schemas/service-provider-config-schema.json"),
    include_str!("../../scim-schemas/resource-type-schema.json"),
    include_str!("../../scim-schemas/schema-schema.json"),
];
const EMBEDDED_RESOURCE_TYPES: &str = include_str!("../../scim-schemas/resource-types.json");

mod extension;
pub use extension::{diff, parse_definition, validate, Change, Extension};

/// RFC 7643 §2.3 data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    /// The name used in schema documents (`"dateTime"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }

    fn expected(self) -> &'static str {
        match self {
            AttrType::String => "a string",
            AttrType::Boolean => "a boolean",
            AttrType::Decimal => "a number",
            AttrType::Integer => "an integer",
            AttrType::DateTime => "an RFC 3339 dateTime string",
            AttrType::Binary => "a base64 string",
            AttrType::Reference => "a reference (URI string)",
            AttrType::Complex => "a JSON object",
        }
    }
}

/// RFC 7643 §2.2 / §7 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    #[default]
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// RFC 7643 §2.2 / §7 `returned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    #[default]
    Default,
    Request,
}

/// RFC 7643 §2.2 / §7 `uniqueness`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    #[default]
    None,
    Server,
    Global,
}

/// One attribute definition (RFC 7643 §7 `attributes` / `subAttributes`). Defaults follow RFC 7643 §2.2.
/// Serialised, it is the attribute as `/Schemas` shows it, every characteristic spelled out.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttrDef {
    pub name: String,
    #[serde(rename = "type")]
    pub attr_type: AttrType,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub case_exact: bool,
    #[serde(default)]
    pub mutability: Mutability,
    #[serde(default)]
    pub returned: Returned,
    #[serde(default)]
    pub uniqueness: Uniqueness,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canonical_values: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reference_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_attributes: Vec<AttrDef>,
    /// scimd's own mark, not part of RFC 7643: the attribute has an expression index (admin-defined
    /// extensions, `scimd schema add --index`), so filters on it use the index.
    #[serde(skip)]
    pub indexed: bool,
}

impl AttrDef {
    fn new(name: &str, attr_type: AttrType) -> Self {
        AttrDef {
            name: name.to_string(),
            attr_type,
            description: String::new(),
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
            indexed: false,
        }
    }

    fn read_only(mut self) -> Self {
        self.mutability = Mutability::ReadOnly;
        self
    }

    fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }

    /// The sub-attribute called `name` (case-insensitive, RFC 7643 §2.1).
    pub fn sub(&self, name: &str) -> Option<&AttrDef> {
        find_attr(&self.sub_attributes, name)
    }
}

/// A schema (RFC 7643 §7). `json` is the document served at `/Schemas/<id>` (relative `meta.location`).
#[derive(Debug, Clone)]
pub struct SchemaDef {
    pub id: String,
    pub name: String,
    pub attributes: Vec<AttrDef>,
    pub json: Value,
    /// The schema seen as one complex attribute named by its URN (an extension addressed as a whole).
    whole: AttrDef,
}

/// A resource type (RFC 7643 §6). `json` is the document served at `/ResourceTypes/<name>`.
#[derive(Debug, Clone)]
pub struct ResourceType {
    pub name: String,
    pub endpoint: String,
    pub schema: String,
    pub extensions: Vec<SchemaExtension>,
    pub json: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaExtension {
    pub schema: String,
    pub required: bool,
}

/// All schemas and resource types the server knows.
#[derive(Debug, Clone)]
pub struct Schemas {
    schemas: Vec<SchemaDef>,
    resource_types: Vec<ResourceType>,
    common: Vec<AttrDef>,
    /// `serve --unknown-attributes ignore`: `normalize` drops undeclared attributes and schemas (logging each
    /// distinct one once) instead of refusing the resource.
    ignore_unknown: bool,
}

/// Logs an undeclared attribute or schema dropped under `--unknown-attributes ignore`, once per name (up to a
/// bound, so a client inventing names cannot grow the set without end).
fn note_ignored(resource_type: &str, name: &str) {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    const MAX_REMEMBERED: usize = 10_000;
    let key = format!("{resource_type}:{}", name.to_ascii_lowercase());
    let Ok(mut seen) = SEEN.get_or_init(Default::default).lock() else { return };
    if seen.len() < MAX_REMEMBERED && seen.insert(key) {
        log::warn!(
            "ignored the undeclared attribute or schema \"{name}\" on a {resource_type} \
             (--unknown-attributes ignore); declare it with `scimd schema add` to keep it"
        );
    }
}

/// An attribute path resolved against a resource type.
#[derive(Debug, Clone, Copy)]
pub struct ResolvedAttr<'a> {
    /// The schema that defines the attribute (the core schema for the common attributes).
    pub schema_urn: &'a str,
    /// Core schema or common attribute (stored at the top level), as opposed to an extension.
    pub is_core: bool,
    /// One of the common attributes `id`, `externalId`, `meta` (RFC 7643 §3.1).
    pub is_common: bool,
    /// The top-level attribute (for `whole_extension`: a complex pseudo-attribute named by the URN whose
    /// sub-attributes are the extension's attributes).
    pub attr: &'a AttrDef,
    pub sub: Option<&'a AttrDef>,
    /// The path is an extension schema URN alone (`urn:…:enterprise:2.0:User`).
    pub whole_extension: bool,
}

impl<'a> ResolvedAttr<'a> {
    /// Canonical keys into the stored document: `["name","familyName"]`, `[urn, "employeeNumber"]`,
    /// `["id"]`, `["meta","lastModified"]`, `[urn]` for a whole extension.
    pub fn json_path(&self) -> Vec<&'a str> {
        let mut path = Vec::with_capacity(3);
        if !self.is_core {
            path.push(self.schema_urn);
        }
        if !self.whole_extension {
            path.push(self.attr.name.as_str());
            if let Some(sub) = self.sub {
                path.push(sub.name.as_str());
            }
        }
        path
    }

    /// The definition the path ends at (the sub-attribute if there is one).
    pub fn leaf(&self) -> &'a AttrDef {
        self.sub.unwrap_or(self.attr)
    }

    /// Canonical spelling: `name.familyName`, `urn:…:User:manager.value`, `urn:…:User` (whole extension).
    pub fn dotted_name(&self) -> String {
        if self.whole_extension {
            return self.schema_urn.to_string();
        }
        let mut s = String::new();
        if !self.is_core {
            s.push_str(self.schema_urn);
            s.push(':');
        }
        s.push_str(&self.attr.name);
        if let Some(sub) = self.sub {
            s.push('.');
            s.push_str(&sub.name);
        }
        s
    }
}

/// The `attributes` / `excludedAttributes` query parameters (RFC 7644 §3.4.2.5).
#[derive(Debug, Clone, Default)]
pub struct AttrSelection {
    pub attributes: Vec<AttrPath>,
    pub excluded: Vec<AttrPath>,
}

impl AttrSelection {
    /// Parses the comma-separated parameter values. A malformed name is `invalidPath`; names are not
    /// checked against a schema here (unknown names are ignored when projecting).
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> ScimResult<Self> {
        Ok(AttrSelection {
            attributes: parse_path_list(attributes, "attributes")?,
            excluded: parse_path_list(excluded, "excludedAttributes")?,
        })
    }

    /// Neither parameter was given: the default attribute set.
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }
}

fn parse_path_list(list: Option<&str>, param: &str) -> ScimResult<Vec<AttrPath>> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if out.len() == MAX_SELECTED_ATTRIBUTES {
            return Err(ScimError::invalid_path(format!(
                "\"{param}\" names more than {MAX_SELECTED_ATTRIBUTES} attributes"
            )));
        }
        let path = parse_attr_path(name)
            .map_err(|e| ScimError::invalid_path(format!("invalid attribute name in \"{param}\": {}", e.detail)))?;
        out.push(path);
    }
    Ok(out)
}

/// A selection entry resolved to canonical names; `attr == None` selects a whole extension.
struct Sel<'a> {
    urn: &'a str,
    attr: Option<&'a str>,
    sub: Option<&'a str>,
}

/// The attribute namespaces of one resource type.
struct Scope<'a> {
    core: &'a SchemaDef,
    exts: Vec<(&'a SchemaDef, bool)>,
    common: &'a [AttrDef],
}

impl<'a> Scope<'a> {
    fn ext(&self, urn: &str) -> Option<&'a SchemaDef> {
        self.exts.iter().map(|(s, _)| *s).find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    fn ext_index(&self, urn: &str) -> Option<usize> {
        self.exts.iter().position(|(s, _)| s.id.eq_ignore_ascii_case(urn))
    }

    /// A top-level name of the stored document: a common attribute, then the core schema.
    fn top(&self, name: &str) -> Option<(&'a AttrDef, bool)> {
        if let Some(def) = find_attr(self.common, name) {
            return Some((def, true));
        }
        find_attr(&self.core.attributes, name).map(|def| (def, false))
    }
}

pub(crate) fn find_attr<'a>(attrs: &'a [AttrDef], name: &str) -> Option<&'a AttrDef> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// Case-insensitive object member lookup (RFC 7643 §2.1), exact match first.
fn get_ci<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    obj.get(key).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// Member `key` (case-insensitive) of an optional object.
fn member<'v>(v: Option<&'v Value>, key: &str) -> Option<&'v Value> {
    v.and_then(Value::as_object).and_then(|m| get_ci(m, key))
}

/// `rest` after a case-insensitive `prefix` followed by `:`.
pub(crate) fn strip_urn_prefix<'k>(key: &'k str, prefix: &str) -> Option<&'k str> {
    let head = key.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    key.get(prefix.len()..)?.strip_prefix(':')
}

/// RFC 7643 §3.1 common attributes. `meta` and its sub-attributes are assigned by the service provider.
fn common_attributes() -> Vec<AttrDef> {
    let mut id = AttrDef::new("id", AttrType::String).read_only().case_exact();
    id.returned = Returned::Always;
    id.uniqueness = Uniqueness::Server;
    let external_id = AttrDef::new("externalId", AttrType::String).case_exact();
    let mut location = AttrDef::new("location", AttrType::Reference).read_only().case_exact();
    location.reference_types = vec!["uri".to_string()];
    let mut meta = AttrDef::new("meta", AttrType::Complex).read_only();
    meta.sub_attributes = vec![
        AttrDef::new("resourceType", AttrType::String).read_only().case_exact(),
        AttrDef::new("created", AttrType::DateTime).read_only(),
        AttrDef::new("lastModified", AttrType::DateTime).read_only(),
        location,
        AttrDef::new("version", AttrType::String).read_only().case_exact(),
    ];
    vec![id, external_id, meta]
}

pub(crate) fn load_schema(text: &str) -> Result<SchemaDef, String> {
    let json: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let field = |k: &str| -> Result<String, String> {
        json.get(k).and_then(Value::as_str).map(str::to_string).ok_or(format!("schema without \"{k}\""))
    };
    let id = field("id")?;
    let name = field("name")?;
    let attributes: Vec<AttrDef> = serde_json::from_value(json.get("attributes").cloned().unwrap_or(Value::Null))
        .map_err(|e| format!("schema {id}: bad attributes: {e}"))?;
    let mut whole = AttrDef::new(&id, AttrType::Complex);
    whole.sub_attributes = attributes.clone();
    Ok(SchemaDef { id, name, attributes, json, whole })
}

fn load_resource_type(json: &Value) -> Result<ResourceType, String> {
    let field = |k: &str| -> Result<String, String> {
        json.get(k).and_then(Value::as_str).map(str::to_string).ok_or(format!("resource type without \"{k}\""))
    };
    let mut extensions = Vec::new();
    for ext in json.get("schemaExtensions").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]) {
        let schema = ext.get("schema").and_then(Value::as_str).ok_or("schema extension without \"schema\"")?;
        let required = ext.get("required").and_then(Value::as_bool).unwrap_or(false);
        extensions.push(SchemaExtension { schema: schema.to_string(), required });
    }
    Ok(ResourceType {
        name: field("name")?,
        endpoint: field("endpoint")?,
        schema: field("schema")?,
        extensions,
        json: json.clone(),
    })
}

impl Schemas {
    /// The schemas compiled into the binary from `scim-schemas/`. Panics only if that embedded JSON is
    /// broken, which the unit tests rule out.
    pub fn embedded() -> &'static Schemas {
        static EMBEDDED: OnceLock<Schemas> = OnceLock::new();
        EMBEDDED.get_or_init(|| match Schemas::from_json(&EMBEDDED_SCHEMAS, EMBEDDED_RESOURCE_TYPES) {
            Ok(s) => s,
            Err(e) => panic!("the embedded scim-schemas JSON is broken: {e}"),
        })
    }

    /// Builds a schema set from schema documents and a resource-types array document. Every schema a
    /// resource type names must be among `schemas`.
    pub fn from_json(schemas: &[&str], resource_types: &str) -> Result<Schemas, String> {
        let schemas = schemas.iter().map(|t| load_schema(t)).collect::<Result<Vec<_>, _>>()?;
        let rts: Value = serde_json::from_str(resource_types).map_err(|e| format!("resource types: {e}"))?;
        let rts = rts.as_array().ok_or("resource types: not an array")?;
        let resource_types = rts.iter().map(load_resource_type).collect::<Result<Vec<_>, _>>()?;
        for rt in &resource_types {
            let named = std::iter::once(&rt.schema).chain(rt.extensions.iter().map(|e| &e.schema));
            for urn in named {
                if !schemas.iter().any(|s| s.id.eq_ignore_ascii_case(urn)) {
                    return Err(format!("resource type {} names unknown schema {urn}", rt.name));
                }
            }
        }
        Ok(Schemas { schemas, resource_types, common: common_attributes(), ignore_unknown: false })
    }

    /// The same schemas, dropping undeclared attributes instead of refusing them when `ignore` is set.
    pub fn ignoring_unknown(mut self, ignore: bool) -> Schemas {
        self.ignore_unknown = ignore;
        self
    }

    /// By name (`"User"`, `"Group"`), case-insensitive.
    pub fn resource_type(&self, name: &str) -> Option<&ResourceType> {
        self.resource_types.iter().find(|rt| rt.name.eq_ignore_ascii_case(name))
    }

    /// By URN, case-insensitive.
    pub fn schema(&self, urn: &str) -> Option<&SchemaDef> {
        self.schemas.iter().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    pub fn all_schemas(&self) -> &[SchemaDef] {
        &self.schemas
    }

    pub fn all_resource_types(&self) -> &[ResourceType] {
        &self.resource_types
    }

    /// The common attributes `id`, `externalId`, `meta` (RFC 7643 §3.1).
    pub fn common_attributes(&self) -> &[AttrDef] {
        &self.common
    }

    fn scope(&self, rt: &ResourceType) -> ScimResult<Scope<'_>> {
        let core = self
            .schema(&rt.schema)
            .ok_or_else(|| ScimError::internal(format!("resource type {} has no schema {}", rt.name, rt.schema)))?;
        let mut exts = Vec::with_capacity(rt.extensions.len());
        for ext in &rt.extensions {
            let schema = self.schema(&ext.schema).ok_or_else(|| {
                ScimError::internal(format!("resource type {} has no schema {}", rt.name, ext.schema))
            })?;
            exts.push((schema, ext.required));
        }
        Ok(Scope { core, exts, common: &self.common })
    }

    /// Resolves a (case-insensitive) attribute path against the resource type's core schema, its
    /// extensions and the common attributes. An extension URN alone resolves to the whole extension.
    /// Unknown names are `invalidPath` naming the path (callers remap for filters).
    pub fn resolve(&self, rt: &ResourceType, path: &AttrPath) -> ScimResult<ResolvedAttr<'_>> {
        let sc = self.scope(rt)?;
        let unknown = || ScimError::invalid_path(format!("unknown attribute \"{path}\" for resource type {}", rt.name));

        // `urn:…:enterprise:2.0:User` parses as urn `urn:…:2.0` + attr `User`.
        if path.sub_attr.is_none() {
            let whole = match &path.urn {
                Some(urn) if path.attr.is_empty() => Some(urn.clone()),
                Some(urn) => Some(format!("{urn}:{}", path.attr)),
                None => Some(path.attr.clone()),
            };
            if let Some(ext) = whole.as_deref().and_then(|u| sc.ext(u)) {
                return Ok(ResolvedAttr {
                    schema_urn: &ext.id,
                    is_core: false,
                    is_common: false,
                    attr: &ext.whole,
                    sub: None,
                    whole_extension: true,
                });
            }
        }

        let (schema, attr, is_common) = match &path.urn {
            Some(urn) if !urn.eq_ignore_ascii_case(&sc.core.id) => {
                let ext = sc.ext(urn).ok_or_else(unknown)?;
                (ext, find_attr(&ext.attributes, &path.attr).ok_or_else(unknown)?, false)
            }
            _ => {
                let (def, is_common) = sc.top(&path.attr).ok_or_else(unknown)?;
                (sc.core, def, is_common)
            }
        };
        let sub = match &path.sub_attr {
            None => None,
            Some(name) => Some(attr.sub(name).ok_or_else(unknown)?),
        };
        Ok(ResolvedAttr {
            schema_urn: &schema.id,
            is_core: std::ptr::eq(schema, sc.core),
            is_common,
            attr,
            sub,
            whole_extension: false,
        })
    }

    /// Validates a client-supplied resource (POST, PUT, and the document after a PATCH) and returns it in
    /// the stored layout: canonical attribute names, core attributes at the top level, extension
    /// attributes under their URN, `schemas` = the core URN plus each extension present. `id`, `meta` and
    /// all other readOnly attributes are dropped (Okta echoes them back in PUT), as are writeOnly /
    /// returned-never attributes (`password`): scimd accepts a password and discards it, it stores none.
    /// `null` and `[]` mean "no value".
    pub fn normalize(&self, rt: &ResourceType, input: &Value) -> ScimResult<Value> {
        let sc = self.scope(rt)?;
        let obj = input.as_object().ok_or_else(|| ScimError::invalid_syntax("the resource must be a JSON object"))?;
        check_schemas_member(&sc, rt, obj, self.ignore_unknown)?;

        // An undeclared attribute or schema: refused (naming it and the way to declare it), or dropped.
        let unknown = |name: &str| -> ScimResult<()> {
            if self.ignore_unknown {
                note_ignored(&rt.name, name);
                return Ok(());
            }
            let what = if name.to_ascii_lowercase().starts_with("urn:") { "attribute or schema" } else { "attribute" };
            Err(ScimError::invalid_value(format!(
                "unknown {what} \"{name}\" for resource type {}: declare it in a schema extension with \
                 `scimd schema add FILE`, or start the server with --unknown-attributes ignore",
                rt.name
            )))
        };
        let mut top = Map::new();
        let mut exts: Vec<Map<String, Value>> = vec![Map::new(); sc.exts.len()];
        // (0 = top level, i + 1 = extension i, canonical name) of every attribute seen, to reject
        // the same attribute given twice under different spellings.
        let mut seen: Vec<(usize, &str)> = Vec::new();

        for (key, value) in obj {
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            if let Some((def, _)) = sc.top(key) {
                put_attr(&mut top, &mut seen, 0, def, value, &def.name)?;
            } else if let Some(i) = sc.ext_index(key) {
                let ext = sc.exts[i].0;
                if value.is_null() {
                    continue;
                }
                let members = value
                    .as_object()
                    .ok_or_else(|| ScimError::invalid_value(format!("\"{}\" must be a JSON object", ext.id)))?;
                for (k, v) in members {
                    // The extension's own URN in a `schemas` member of its object (sent by clients built on
                    // typed SCIM models): `schemas` belongs to the resource (RFC 7643 §3); ignored.
                    if k.eq_ignore_ascii_case("schemas") {
                        continue;
                    }
                    let Some(def) = find_attr(&ext.attributes, k) else {
                        unknown(&format!("{}:{k}", ext.id))?;
                        continue;
                    };
                    let label = format!("{}:{}", ext.id, def.name);
                    put_attr(&mut exts[i], &mut seen, i + 1, def, v, &label)?;
                }
            } else if let Some(name) = strip_urn_prefix(key, &sc.core.id) {
                // RFC 7644 §3.10: a fully qualified core attribute.
                let Some((def, _)) = sc.top(name) else {
                    unknown(key)?;
                    continue;
                };
                put_attr(&mut top, &mut seen, 0, def, value, &def.name)?;
            } else if let Some((i, name)) =
                sc.exts.iter().enumerate().find_map(|(i, (s, _))| strip_urn_prefix(key, &s.id).map(|n| (i, n)))
            {
                // `urn:…:enterprise:2.0:User:employeeNumber` at the top level goes into the extension.
                let ext = sc.exts[i].0;
                let Some(def) = find_attr(&ext.attributes, name) else {
                    unknown(key)?;
                    continue;
                };
                let label = format!("{}:{}", ext.id, def.name);
                put_attr(&mut exts[i], &mut seen, i + 1, def, value, &label)?;
            } else {
                unknown(key)?;
            }
        }

        check_required(&sc.core.attributes, &top, "")?;
        let mut schemas = vec![Value::String(sc.core.id.clone())];
        for (i, ext_obj) in exts.into_iter().enumerate() {
            let (ext, ext_required) = sc.exts[i];
            if ext_obj.is_empty() {
                if ext_required {
                    return Err(ScimError::invalid_value(format!(
                        "the schema extension {} is required for resource type {}",
                        ext.id, rt.name
                    )));
                }
                continue;
            }
            check_required(&ext.attributes, &ext_obj, &format!("{}:", ext.id))?;
            schemas.push(Value::String(ext.id.clone()));
            top.insert(ext.id.clone(), Value::Object(ext_obj));
        }
        top.insert("schemas".to_string(), Value::Array(schemas));
        Ok(Value::Object(top))
    }

    /// PUT/PATCH (RFC 7644 §3.5.1): a single-valued attribute (or a sub-attribute of a single-valued
    /// complex attribute) whose mutability is `immutable` and which has a value in `old` may not change.
    /// Both documents are in the stored layout. Per-element immutability inside multi-valued attributes
    /// (e.g. `members.value`) is not enforced here.
    pub fn check_immutable(&self, rt: &ResourceType, old: &Value, new: &Value) -> ScimResult<()> {
        let sc = self.scope(rt)?;
        let mut containers = vec![(String::new(), &sc.core.attributes, Some(old), Some(new))];
        for (ext, _) in &sc.exts {
            let prefix = format!("{}:", ext.id);
            containers.push((prefix, &ext.attributes, member(Some(old), &ext.id), member(Some(new), &ext.id)));
        }
        for (prefix, attrs, old, new) in containers {
            for def in attrs.iter().filter(|d| !d.multi_valued) {
                let label = format!("{prefix}{}", def.name);
                let (ov, nv) = (member(old, &def.name), member(new, &def.name));
                if def.mutability == Mutability::Immutable {
                    check_unchanged(def, ov, nv, &label)?;
                } else if def.attr_type == AttrType::Complex {
                    for sub in def.sub_attributes.iter().filter(|s| s.mutability == Mutability::Immutable) {
                        let sub_label = format!("{label}.{}", sub.name);
                        check_unchanged(sub, member(ov, &sub.name), member(nv, &sub.name), &sub_label)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) to a FULL representation
    /// (with `id`, `meta`, `schemas`, computed attributes filled in). returned=always attributes (`id`,
    /// `schemas`) are always kept, returned=never ones never, returned=request ones only when named in
    /// `attributes`. Names that do not resolve are ignored. When both lists are given, `attributes` picks
    /// and `excludedAttributes` then removes.
    pub fn project(&self, rt: &ResourceType, full: &Value, sel: &AttrSelection) -> Value {
        let (Ok(sc), Some(obj)) = (self.scope(rt), full.as_object()) else {
            return full.clone();
        };
        let inc = self.resolve_selection(rt, &sel.attributes);
        let exc = self.resolve_selection(rt, &sel.excluded);
        let picking = !sel.attributes.is_empty();
        let mut out = Map::new();
        for (key, value) in obj {
            if key.eq_ignore_ascii_case("schemas") {
                out.insert(key.clone(), value.clone());
            } else if let Some((def, _)) = sc.top(key) {
                if let Some(v) = project_attr(&sc.core.id, def, value, &inc, &exc, picking) {
                    out.insert(key.clone(), v);
                }
            } else if let Some(ext) = sc.ext(key) {
                let whole = |list: &[Sel]| list.iter().any(|s| s.urn == ext.id && s.attr.is_none());
                let Some(members) = value.as_object() else {
                    continue;
                };
                if whole(&exc) {
                    continue;
                }
                let ext_picking = picking && !whole(&inc);
                let mut ext_out = Map::new();
                for (k, v) in members {
                    let Some(def) = find_attr(&ext.attributes, k) else {
                        if !ext_picking {
                            ext_out.insert(k.clone(), v.clone());
                        }
                        continue;
                    };
                    if let Some(v) = project_attr(&ext.id, def, v, &inc, &exc, ext_picking) {
                        ext_out.insert(k.clone(), v);
                    }
                }
                if !ext_out.is_empty() {
                    out.insert(key.clone(), Value::Object(ext_out));
                }
            } else if !picking {
                // Not described by the schema (should not happen): part of the default view only.
                out.insert(key.clone(), value.clone());
            }
        }
        Value::Object(out)
    }

    /// Whether the top-level attribute `attr` (e.g. `members`, `groups`) appears in the projected output,
    /// so the store can skip computing it. Unknown names answer `true` (the projection decides).
    pub fn is_returned(&self, rt: &ResourceType, attr: &str, sel: &AttrSelection) -> bool {
        let Ok(path) = parse_attr_path(attr) else {
            return true;
        };
        let Ok(r) = self.resolve(rt, &path) else {
            return true;
        };
        let def = r.attr;
        match def.returned {
            Returned::Never => return false,
            Returned::Always => return true,
            Returned::Default | Returned::Request => {}
        }
        // Does a selection entry cover (part of) this attribute? With `whole_only`, only entries that
        // name all of it count (excluding `members.display` still returns `members`).
        let touches = |s: &Sel, whole_only: bool| {
            if s.urn != r.schema_urn {
                return false;
            }
            if r.whole_extension {
                return s.attr.is_none() || !whole_only;
            }
            s.attr.is_none() || (s.attr == Some(def.name.as_str()) && (!whole_only || s.sub.is_none()))
        };
        if !sel.attributes.is_empty() {
            let inc = self.resolve_selection(rt, &sel.attributes);
            if !inc.iter().any(|s| touches(s, false)) {
                return false;
            }
        } else if def.returned == Returned::Request {
            return false;
        }
        let exc = self.resolve_selection(rt, &sel.excluded);
        !exc.iter().any(|s| touches(s, true))
    }

    fn resolve_selection<'a>(&'a self, rt: &ResourceType, paths: &[AttrPath]) -> Vec<Sel<'a>> {
        paths
            .iter()
            .filter_map(|p| self.resolve(rt, p).ok())
            .map(|r| Sel {
                urn: r.schema_urn,
                attr: (!r.whole_extension).then_some(r.attr.name.as_str()),
                sub: r.sub.map(|s| s.name.as_str()),
            })
            .collect()
    }
}

/// RFC 7643 §3: `schemas` is a non-empty array of schema URIs; it must name the core schema and may name
/// only schemas of this resource type.
fn check_schemas_member(sc: &Scope<'_>, rt: &ResourceType, obj: &Map<String, Value>, ignore: bool) -> ScimResult<()> {
    let list = get_ci(obj, "schemas")
        .ok_or_else(|| ScimError::invalid_syntax("the resource has no \"schemas\" attribute"))?
        .as_array()
        .ok_or_else(|| ScimError::invalid_syntax("\"schemas\" must be an array of schema URIs"))?;
    let mut has_core = false;
    for urn in list {
        let urn =
            urn.as_str().ok_or_else(|| ScimError::invalid_syntax("\"schemas\" must be an array of schema URIs"))?;
        if urn.eq_ignore_ascii_case(&sc.core.id) {
            has_core = true;
        } else if sc.ext(urn).is_none() {
            if ignore {
                note_ignored(&rt.name, urn);
                continue;
            }
            return Err(ScimError::invalid_value(format!(
                "unknown schema \"{urn}\" in \"schemas\" for resource type {}: declare it with \
                 `scimd schema add FILE`, or start the server with --unknown-attributes ignore",
                rt.name
            )));
        }
    }
    if !has_core {
        return Err(ScimError::invalid_value(format!("\"schemas\" must contain \"{}\"", sc.core.id)));
    }
    Ok(())
}

/// Normalises `value` for `def` and stores it under the canonical name in `out` (unless it has no value
/// or is not stored).
fn put_attr<'d>(
    out: &mut Map<String, Value>,
    seen: &mut Vec<(usize, &'d str)>,
    container: usize,
    def: &'d AttrDef,
    value: &Value,
    label: &str,
) -> ScimResult<()> {
    if seen.contains(&(container, def.name.as_str())) {
        return Err(ScimError::invalid_value(format!("attribute \"{label}\" is given more than once")));
    }
    seen.push((container, def.name.as_str()));
    if let Some(v) = norm_attr(def, value, label)? {
        out.insert(def.name.clone(), v);
    }
    Ok(())
}

/// `Ok(None)`: nothing to store (no value, readOnly, or never stored).
fn norm_attr(def: &AttrDef, value: &Value, label: &str) -> ScimResult<Option<Value>> {
    // RFC 7643 §2.2: readOnly values supplied by a client are ignored (Okta PUTs back the whole GET).
    if def.mutability == Mutability::ReadOnly {
        return Ok(None);
    }
    let v = if def.multi_valued { norm_multi(def, value, label)? } else { norm_single(def, value, label)? };
    // returned=never (password): validated, then discarded. scimd stores no passwords.
    if def.returned == Returned::Never {
        return Ok(None);
    }
    Ok(v)
}

fn norm_multi(def: &AttrDef, value: &Value, label: &str) -> ScimResult<Option<Value>> {
    let items = match value {
        Value::Null => return Ok(None),
        Value::Array(items) => items,
        _ => return Err(ScimError::invalid_value(format!("\"{label}\" is multi-valued and must be an array"))),
    };
    if items.len() > MAX_MULTI_VALUES && def.name != "members" {
        return Err(ScimError::invalid_value(format!("\"{label}\" holds more than {MAX_MULTI_VALUES} values")));
    }
    let mut out = Vec::with_capacity(items.len());
    let mut primaries = 0usize;
    for item in items {
        if let Some(v) = norm_single(def, item, label)? {
            if v.get("primary") == Some(&Value::Bool(true)) {
                primaries += 1;
            }
            out.push(v);
        }
    }
    // RFC 7643 §2.4: the primary attribute value `true` MUST appear no more than once.
    if primaries > 1 {
        return Err(ScimError::invalid_value(format!("\"{label}\": at most one value may have \"primary\": true")));
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

fn norm_single(def: &AttrDef, value: &Value, label: &str) -> ScimResult<Option<Value>> {
    let wrong = || ScimError::invalid_value(format!("\"{label}\" must be {}", def.attr_type.expected()));
    let v = match (def.attr_type, value) {
        (_, Value::Null) => return Ok(None),
        (AttrType::Binary, Value::String(s)) => {
            // RFC 7643 §2.3.6: base64 (RFC 4648 §4), padded or not.
            use base64::Engine;
            let engines = [base64::engine::general_purpose::STANDARD, base64::engine::general_purpose::STANDARD_NO_PAD];
            if !engines.iter().any(|e| e.decode(s.trim()).is_ok()) {
                return Err(ScimError::invalid_value(format!("\"{label}\" must be base64 (RFC 7643 §2.3.6)")));
            }
            Value::String(norm_string(def, s, label)?)
        }
        (AttrType::String | AttrType::Reference, Value::String(s)) => Value::String(norm_string(def, s, label)?),
        (AttrType::Boolean, Value::Bool(b)) => Value::Bool(*b),
        // Microsoft Entra ID sends booleans as "True" / "False".
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => value.clone(),
        (AttrType::Decimal, Value::Number(_)) => value.clone(),
        (AttrType::DateTime, Value::String(s)) => {
            if s.len() > MAX_STRING_LEN || chrono::DateTime::parse_from_rfc3339(s).is_err() {
                return Err(wrong());
            }
            value.clone()
        }
        (AttrType::Complex, Value::Object(members)) => return norm_complex(def, members, label),
        _ => return Err(wrong()),
    };
    Ok(Some(v))
}

fn norm_string(def: &AttrDef, s: &str, label: &str) -> ScimResult<String> {
    if s.len() > MAX_STRING_LEN {
        return Err(ScimError::invalid_value(format!("\"{label}\" is longer than {MAX_STRING_LEN} bytes")));
    }
    // canonicalValues are advertised, not enforced, and any value is stored as sent: RFC 7643 §7 calls them
    // suggested values a provider MAY ignore, and identity providers send custom `type`s through attribute
    // mappings (refusing one would fail the whole push).
    let _ = def;
    Ok(s.to_string())
}

fn norm_complex(def: &AttrDef, members: &Map<String, Value>, label: &str) -> ScimResult<Option<Value>> {
    let mut out = Map::new();
    let mut seen: Vec<(usize, &str)> = Vec::new();
    for (key, value) in members {
        let sub = def
            .sub(key)
            .ok_or_else(|| ScimError::invalid_value(format!("unknown sub-attribute \"{key}\" of \"{label}\"")))?;
        put_attr(&mut out, &mut seen, 0, sub, value, &format!("{label}.{}", sub.name))?;
    }
    check_required(&def.sub_attributes, &out, &format!("{label}."))?;
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

/// Required attributes (RFC 7643 §2.2 `required`) that a client supplies must be present and, for
/// strings, non-empty. readOnly / never-returned ones are the service provider's business. `prefix` is
/// put before the name in the error (`""`, `"name."`, `"urn:…:User:"`).
fn check_required(attrs: &[AttrDef], out: &Map<String, Value>, prefix: &str) -> ScimResult<()> {
    let client_supplied =
        |d: &&AttrDef| d.required && d.mutability != Mutability::ReadOnly && d.returned != Returned::Never;
    for def in attrs.iter().filter(client_supplied) {
        let present = match out.get(&def.name) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
        };
        if !present {
            return Err(ScimError::invalid_value(format!(
                "the required attribute \"{prefix}{}\" is missing or empty",
                def.name
            )));
        }
    }
    Ok(())
}

fn check_unchanged(def: &AttrDef, old: Option<&Value>, new: Option<&Value>, label: &str) -> ScimResult<()> {
    let Some(old) = old.filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let new = new.unwrap_or(&Value::Null);
    let same = match (old, new) {
        (Value::String(a), Value::String(b)) if !def.case_exact => a.to_lowercase() == b.to_lowercase(),
        _ => old == new,
    };
    if same {
        Ok(())
    } else {
        Err(ScimError::mutability(format!("the attribute \"{label}\" is immutable and cannot be changed")))
    }
}

/// Projects one top-level (or top-level extension) attribute; `None` drops it.
fn project_attr(urn: &str, def: &AttrDef, value: &Value, inc: &[Sel], exc: &[Sel], picking: bool) -> Option<Value> {
    match def.returned {
        Returned::Never => return None,
        Returned::Always => return Some(strip_subs(def, value, &|s| s.returned != Returned::Never)),
        Returned::Default | Returned::Request => {}
    }
    let names_this = |s: &&Sel| s.urn == urn && s.attr == Some(def.name.as_str());
    let whole_inc = inc.iter().filter(names_this).any(|s| s.sub.is_none());
    let inc_subs: Vec<&str> = inc.iter().filter(names_this).filter_map(|s| s.sub).collect();
    if picking {
        if !whole_inc && inc_subs.is_empty() {
            return None;
        }
    } else if def.returned == Returned::Request && inc_subs.is_empty() && !whole_inc {
        return None;
    }
    if exc.iter().filter(names_this).any(|s| s.sub.is_none()) {
        return None;
    }
    if def.attr_type != AttrType::Complex {
        return Some(value.clone());
    }
    let exc_subs: Vec<&str> = exc.iter().filter(names_this).filter_map(|s| s.sub).collect();
    let only_named = picking && !whole_inc;
    let keep = |sub: &AttrDef| match sub.returned {
        Returned::Never => false,
        Returned::Always => true,
        Returned::Default | Returned::Request => {
            let named = inc_subs.contains(&sub.name.as_str());
            !exc_subs.contains(&sub.name.as_str())
                && if only_named { named } else { sub.returned == Returned::Default || named }
        }
    };
    let projected = strip_subs_keep_unknown(def, value, &keep, !only_named);
    let empty = match &projected {
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    };
    (!empty).then_some(projected)
}

fn strip_subs(def: &AttrDef, value: &Value, keep: &dyn Fn(&AttrDef) -> bool) -> Value {
    if def.attr_type != AttrType::Complex {
        return value.clone();
    }
    strip_subs_keep_unknown(def, value, keep, true)
}

/// Keeps the sub-attributes `keep` accepts in a complex value or in each element of a multi-valued one;
/// elements left empty are dropped.
fn strip_subs_keep_unknown(def: &AttrDef, value: &Value, keep: &dyn Fn(&AttrDef) -> bool, unknown: bool) -> Value {
    let one = |v: &Value| -> Option<Value> {
        let Value::Object(m) = v else {
            return Some(v.clone());
        };
        let out: Map<String, Value> =
            m.iter().filter(|(k, _)| def.sub(k).map_or(unknown, keep)).map(|(k, v)| (k.clone(), v.clone())).collect();
        (!out.is_empty()).then_some(Value::Object(out))
    };
    match value {
        Value::Array(items) => Value::Array(items.iter().filter_map(one).collect()),
        other => one(other).unwrap_or_else(|| Value::Object(Map::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::ScimType;
    use serde_json::json;

    fn schemas() -> &'static Schemas {
        Schemas::embedded()
    }
    fn user_rt() -> &'static ResourceType {
        schemas().resource_type("User").expect("User resource type")
    }
    fn group_rt() -> &'static ResourceType {
        schemas().resource_type("Group").expect("Group resource type")
    }
    fn path(s: &str) -> AttrPath {
        parse_attr_path(s).expect("valid path")
    }
    fn err_type(r: ScimResult<Value>) -> (ScimType, String) {
        let e = r.expect_err("expected an error");
        (e.scim_type.expect("a scimType"), e.detail)
    }

    /// /work/shared/okta/requests/create-user.json
    fn okta_create_user() -> Value {
        json!({
          "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
          "userName": "jane.doe@example.com",
          "name": { "givenName": "Jane", "familyName": "Doe" },
          "emails": [{ "primary": true, "value": "jane.doe@example.com", "type": "work" }],
          "displayName": "Jane Doe",
          "locale": "en-US",
          "externalId": "00u1abcd2EFGH3ijk4l5",
          "groups": [],
          "password": "xY7-random-placeholder",
          "active": true,
          ENTERPRISE_USER_SCHEMA: {
            "employeeNumber": "E-1042",
            "department": "Engineering",
            "manager": { "value": "00u9zyxw8VUTS7rqp6o5", "displayName": "Max Manager" }
          }
        })
    }

    /// /work/shared/okta/requests/put-user.json
    fn okta_put_user() -> Value {
        json!({
          "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
          "id": "2819c223-7f76-453a-919d-413861904646",
          "userName": "jane.doe@example.com",
          "name": { "givenName": "Janet", "familyName": "Doe", "middleName": "Q" },
          "emails": [{ "primary": true, "value": "jane.doe@example.com", "type": "work" }],
          "displayName": "Janet Doe",
          "title": "Staff Engineer",
          "locale": "en-US",
          "externalId": "00u1abcd2EFGH3ijk4l5",
          "groups": [],
          "active": true,
          ENTERPRISE_USER_SCHEMA: {
            "employeeNumber": "E-1042",
            "department": "Research",
            "manager": { "value": "00u9zyxw8VUTS7rqp6o5", "displayName": "Max Manager" }
          },
          "meta": {
            "resourceType": "User",
            "created": "2026-01-05T10:00:00Z",
            "lastModified": "2026-01-05T10:00:00Z",
            "location": "https://scim.example.com/scim/v2/Users/2819c223-7f76-453a-919d-413861904646",
            "version": "W/\"1\""
          }
        })
    }

    fn full_user() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "id": "u1",
            "externalId": "ext-1",
            "userName": "jane",
            "password": "leaked?",
            "name": { "givenName": "Jane", "familyName": "Doe" },
            "emails": [{ "value": "j@x", "type": "work", "primary": true }, { "value": "k@x", "type": "home" }],
            "active": true,
            "groups": [{ "value": "g1", "display": "Eng" }],
            "meta": { "resourceType": "User", "created": "2026-01-05T10:00:00Z", "lastModified": "2026-01-06T10:00:00Z",
                      "location": "/Users/u1", "version": "W/\"3\"" },
            ENTERPRISE_USER_SCHEMA: { "employeeNumber": "7", "department": "R&D", "manager": { "value": "m1" } }
        })
    }

    fn project(attributes: Option<&str>, excluded: Option<&str>) -> Value {
        let sel = AttrSelection::parse(attributes, excluded).expect("selection parses");
        schemas().project(user_rt(), &full_user(), &sel)
    }

    #[test]
    fn embedded_json_parses_and_ids_match() {
        let s = schemas();
        let ids: Vec<&str> = s.all_schemas().iter().map(|d| d.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                USER_SCHEMA,
                ENTERPRISE_USER_SCHEMA,
                GROUP_SCHEMA,
                SERVICE_PROVIDER_CONFIG_SCHEMA,
                RESOURCE_TYPE_SCHEMA,
                SCHEMA_SCHEMA
            ]
        );
        for d in s.all_schemas() {
            assert_eq!(d.json["id"], d.id.as_str());
            assert_eq!(d.json["schemas"], json!([SCHEMA_SCHEMA]));
            assert_eq!(d.json["meta"]["resourceType"], "Schema");
            assert_eq!(d.json["meta"]["location"], format!("/Schemas/{}", d.id));
            assert!(!d.attributes.is_empty(), "{} has attributes", d.id);
            // RFC 7643 §3.1: common attributes are not part of a resource schema.
            if d.id == USER_SCHEMA || d.id == GROUP_SCHEMA {
                assert!(d.attributes.iter().all(|a| !["id", "externalId", "meta"].contains(&a.name.as_str())));
            }
        }
        let names: Vec<&str> = s.all_resource_types().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["User", "Group"]);
        let user = s.resource_type("user").expect("case-insensitive lookup");
        assert_eq!(user.endpoint, "/Users");
        assert_eq!(user.schema, USER_SCHEMA);
        assert_eq!(user.extensions, [SchemaExtension { schema: ENTERPRISE_USER_SCHEMA.into(), required: false }]);
        assert_eq!(user.json["meta"]["location"], "/ResourceTypes/User");
        assert_eq!(user.json["schemas"], json!([RESOURCE_TYPE_SCHEMA]));
        let group = s.resource_type("Group").expect("Group");
        assert_eq!((group.endpoint.as_str(), group.extensions.len()), ("/Groups", 0));
        assert_eq!(group.json["meta"]["location"], "/ResourceTypes/Group");
        assert!(s.schema(&USER_SCHEMA.to_uppercase()).is_some(), "URN lookup is case-insensitive");
        assert!(s.schema("urn:nope").is_none());
        assert!(s.resource_type("Widget").is_none());
    }

    #[test]
    fn embedded_attribute_properties_follow_rfc7643_and_server_choices() {
        let s = schemas();
        let user = s.schema(USER_SCHEMA).expect("User");
        let un = find_attr(&user.attributes, "userName").expect("userName");
        assert!(un.required && !un.case_exact && un.uniqueness == Uniqueness::Server);
        let pw = find_attr(&user.attributes, "password").expect("password");
        assert_eq!((pw.mutability, pw.returned), (Mutability::WriteOnly, Returned::Never));
        let groups = find_attr(&user.attributes, "groups").expect("groups");
        assert!(groups.multi_valued && groups.mutability == Mutability::ReadOnly);
        let emails = find_attr(&user.attributes, "emails").expect("emails");
        assert_eq!(emails.sub("TYPE").expect("type").canonical_values, ["work", "home", "other"]);
        let photos = find_attr(&user.attributes, "photos").expect("photos");
        assert_eq!(photos.sub("value").expect("value").attr_type, AttrType::Reference);
        let certs = find_attr(&user.attributes, "x509Certificates").expect("x509Certificates");
        assert_eq!(certs.sub("value").expect("value").attr_type, AttrType::Binary);
        for name in [
            "name",
            "displayName",
            "nickName",
            "profileUrl",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
            "active",
            "phoneNumbers",
            "ims",
            "addresses",
            "entitlements",
            "roles",
        ] {
            assert!(find_attr(&user.attributes, name).is_some(), "User has {name}");
        }
        let group = s.schema(GROUP_SCHEMA).expect("Group");
        let dn = find_attr(&group.attributes, "displayName").expect("displayName");
        assert!(dn.required && dn.uniqueness == Uniqueness::Server);
        let members = find_attr(&group.attributes, "members").expect("members");
        let value = members.sub("value").expect("value");
        assert!(value.required && value.mutability == Mutability::Immutable);
        assert_eq!(members.sub("type").expect("type").canonical_values, ["User", "Group"]);
        assert_eq!(members.sub("$ref").expect("$ref").reference_types, ["User", "Group"]);
        assert!(members.sub("display").is_some());
        let ent = s.schema(ENTERPRISE_USER_SCHEMA).expect("enterprise");
        let manager = find_attr(&ent.attributes, "manager").expect("manager");
        assert_eq!(manager.sub("displayName").expect("displayName").mutability, Mutability::ReadOnly);
    }

    #[test]
    fn from_json_rejects_broken_documents() {
        assert!(Schemas::from_json(&["{"], "[]").is_err());
        assert!(Schemas::from_json(&[r#"{"id":"urn:x","name":"X","attributes":[{"name":"a","type":"nope"}]}"#], "[]")
            .is_err());
        let rt = r#"[{"name":"X","endpoint":"/X","schema":"urn:missing"}]"#;
        assert!(Schemas::from_json(&[r#"{"id":"urn:x","name":"X","attributes":[]}"#], rt).is_err());
    }

    #[test]
    fn resolve_core_sub_and_case_insensitive() {
        let s = schemas();
        let r = s.resolve(user_rt(), &path("USERNAME")).expect("userName");
        assert_eq!((r.json_path(), r.is_core, r.is_common), (vec!["userName"], true, false));
        assert_eq!(r.schema_urn, USER_SCHEMA);
        let r = s.resolve(user_rt(), &path("name.FAMILYNAME")).expect("name.familyName");
        assert_eq!(r.json_path(), ["name", "familyName"]);
        assert_eq!(r.dotted_name(), "name.familyName");
        assert_eq!(r.leaf().name, "familyName");
        let r = s.resolve(user_rt(), &path("emails.value")).expect("emails.value");
        assert!(r.attr.multi_valued && r.leaf().attr_type == AttrType::String);
        let r = s.resolve(user_rt(), &path(&format!("{USER_SCHEMA}:userName"))).expect("qualified core");
        assert_eq!(r.json_path(), ["userName"]);
        let r = s.resolve(group_rt(), &path("members.value")).expect("members.value");
        assert_eq!(r.leaf().mutability, Mutability::Immutable);
    }

    #[test]
    fn resolve_extensions() {
        let s = schemas();
        let lower = ENTERPRISE_USER_SCHEMA.to_lowercase();
        let r = s.resolve(user_rt(), &path(&format!("{lower}:EMPLOYEENUMBER"))).expect("employeeNumber");
        assert!(!r.is_core && !r.whole_extension);
        assert_eq!(r.json_path(), [ENTERPRISE_USER_SCHEMA, "employeeNumber"]);
        assert_eq!(r.dotted_name(), format!("{ENTERPRISE_USER_SCHEMA}:employeeNumber"));
        let r = s.resolve(user_rt(), &path(&format!("{ENTERPRISE_USER_SCHEMA}:manager.value"))).expect("manager");
        assert_eq!(r.json_path(), [ENTERPRISE_USER_SCHEMA, "manager", "value"]);
        let r = s.resolve(user_rt(), &path(ENTERPRISE_USER_SCHEMA)).expect("whole extension");
        assert!(r.whole_extension && !r.is_core);
        assert_eq!(r.json_path(), [ENTERPRISE_USER_SCHEMA]);
        assert_eq!(r.dotted_name(), ENTERPRISE_USER_SCHEMA);
        assert!(r.attr.sub("department").is_some());
        // Groups have no enterprise extension.
        assert!(s.resolve(group_rt(), &path(&format!("{ENTERPRISE_USER_SCHEMA}:department"))).is_err());
    }

    #[test]
    fn resolve_common_attributes() {
        let s = schemas();
        let id = s.resolve(user_rt(), &path("ID")).expect("id");
        assert!(id.is_common && id.is_core);
        assert_eq!(id.json_path(), ["id"]);
        assert!(
            id.attr.case_exact && id.attr.returned == Returned::Always && id.attr.mutability == Mutability::ReadOnly
        );
        let ext = s.resolve(group_rt(), &path("externalid")).expect("externalId");
        assert_eq!(ext.attr.name, "externalId");
        assert!(ext.attr.case_exact && ext.attr.mutability == Mutability::ReadWrite);
        let lm = s.resolve(user_rt(), &path("meta.LASTMODIFIED")).expect("meta.lastModified");
        assert_eq!(lm.json_path(), ["meta", "lastModified"]);
        assert_eq!((lm.leaf().attr_type, lm.leaf().mutability), (AttrType::DateTime, Mutability::ReadOnly));
        for sub in ["resourceType", "created", "location", "version"] {
            assert!(s.resolve(user_rt(), &path(&format!("meta.{sub}"))).is_ok(), "meta.{sub}");
        }
    }

    #[test]
    fn resolve_unknown_is_invalid_path_naming_it() {
        let s = schemas();
        for p in ["fooBar", "name.fooBar", "userName.x", "urn:example:unknown:1.0:User:x", "members"] {
            let e = s.resolve(user_rt(), &path(p)).expect_err(p);
            assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{p}");
            assert!(e.detail.contains(p), "{p}: {}", e.detail);
        }
        assert!(s.resolve(group_rt(), &path("userName")).is_err());
    }

    #[test]
    fn normalize_okta_create_user() {
        let out = schemas().normalize(user_rt(), &okta_create_user()).expect("valid");
        assert_eq!(out["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
        assert_eq!(out["userName"], "jane.doe@example.com");
        assert_eq!(out["externalId"], "00u1abcd2EFGH3ijk4l5");
        assert_eq!(out["name"], json!({"givenName": "Jane", "familyName": "Doe"}));
        assert_eq!(out["emails"], json!([{ "primary": true, "value": "jane.doe@example.com", "type": "work" }]));
        assert_eq!(out["active"], true);
        // readOnly groups and never-returned password are not stored.
        assert!(out.get("groups").is_none() && out.get("password").is_none());
        assert!(!out.to_string().contains("xY7-random-placeholder"));
        let ent = &out[ENTERPRISE_USER_SCHEMA];
        assert_eq!(ent["employeeNumber"], "E-1042");
        assert_eq!(ent["department"], "Engineering");
        // manager.displayName is readOnly (RFC 7643 §4.3).
        assert_eq!(ent["manager"], json!({"value": "00u9zyxw8VUTS7rqp6o5"}));
    }

    #[test]
    fn normalize_okta_put_user_drops_read_only() {
        let out = schemas().normalize(user_rt(), &okta_put_user()).expect("valid");
        assert!(out.get("id").is_none() && out.get("meta").is_none() && out.get("groups").is_none());
        assert_eq!(out["name"]["middleName"], "Q");
        assert_eq!(out["title"], "Staff Engineer");
        assert_eq!(out[ENTERPRISE_USER_SCHEMA]["department"], "Research");
        // Normalising the stored form again is a fixed point.
        assert_eq!(schemas().normalize(user_rt(), &out).expect("stored form is valid"), out);
    }

    #[test]
    fn normalize_rewrites_names_and_keeps_values_as_sent() {
        let ent_lower = ENTERPRISE_USER_SCHEMA.to_lowercase();
        let input = json!({
            "Schemas": [USER_SCHEMA.to_uppercase()],
            "USERNAME": "Bob",
            "Name": { "GivenName": "Bob" },
            "Emails": [{ "VALUE": "b@x", "Type": "WORK", "Primary": "True" }],
            "phoneNumbers": [{ "value": "+1", "type": "Mobile" }],
            "ACTIVE": "false",
            ent_lower.clone(): { "COSTCENTER": "42" },
            format!("{ent_lower}:Division"): "West",
            format!("{USER_SCHEMA}:nickName"): "Bobby"
        });
        let out = schemas().normalize(user_rt(), &input).expect("valid");
        assert_eq!(out["userName"], "Bob");
        assert_eq!(out["name"], json!({"givenName": "Bob"}));
        // canonicalValues are advertised, not enforced: a type is stored as sent (RFC 7643 §7).
        assert_eq!(out["emails"], json!([{ "value": "b@x", "type": "WORK", "primary": true }]));
        assert_eq!(out["phoneNumbers"][0]["type"], "Mobile");
        let custom = json!({"schemas": [USER_SCHEMA], "userName": "c", "ims": [{"value": "c", "type": "slack"}],
                            "emails": [{"value": "c@x", "type": "pager"}]});
        let out2 = schemas().normalize(user_rt(), &custom).expect("custom types are stored");
        assert_eq!(out2["ims"][0]["type"], "slack");
        assert_eq!(out2["emails"][0]["type"], "pager");
        // An extension object carrying its own URN in `schemas` (typed SCIM client libraries do).
        let with_schemas = json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "userName": "d",
                                  ENTERPRISE_USER_SCHEMA: {"schemas": [ENTERPRISE_USER_SCHEMA], "employeeNumber": "7"}});
        let out3 = schemas().normalize(user_rt(), &with_schemas).expect("schemas member ignored");
        assert_eq!(out3[ENTERPRISE_USER_SCHEMA], json!({"employeeNumber": "7"}));
        assert_eq!(out["active"], false);
        assert_eq!(out["nickName"], "Bobby");
        assert_eq!(out[ENTERPRISE_USER_SCHEMA], json!({"costCenter": "42", "division": "West"}));
        assert_eq!(out["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
        assert_eq!(out.as_object().map(|o| o.len()), Some(8));
    }

    #[test]
    fn normalize_no_value_forms_and_absent_extension() {
        let input = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "userName": "a", "displayName": null, "emails": [], "name": {}, "addresses": [null],
            ENTERPRISE_USER_SCHEMA: { "department": null }
        });
        let out = schemas().normalize(user_rt(), &input).expect("valid");
        assert_eq!(out, json!({"schemas": [USER_SCHEMA], "userName": "a"}));
    }

    #[test]
    fn normalize_rejects_unknown_attributes() {
        let s = schemas();
        let (t, d) = err_type(s.normalize(user_rt(), &json!({"schemas": [USER_SCHEMA], "userName": "a", "fooBar": 1})));
        assert_eq!(t, ScimType::InvalidValue);
        assert!(d.contains("\"fooBar\"") && d.contains("User"), "{d}");
        let (t, d) = err_type(
            s.normalize(user_rt(), &json!({"schemas": [USER_SCHEMA], "userName": "a", "name": {"nick": "x"}})),
        );
        assert_eq!(t, ScimType::InvalidValue);
        assert!(d.contains("nick"), "{d}");
        let (_, d) = err_type(
            s.normalize(user_rt(), &json!({"schemas": [USER_SCHEMA], "userName": "a", "name.givenName": "x"})),
        );
        assert!(d.contains("name.givenName"), "dotted keys are PATCH-only: {d}");
        let (_, d) = err_type(
            s.normalize(user_rt(), &json!({"schemas": [USER_SCHEMA], "userName": "a", "urn:example:ext:1.0:X": {}})),
        );
        assert!(d.contains("urn:example:ext:1.0:X"), "{d}");
        let ext_key = format!("{ENTERPRISE_USER_SCHEMA}:shoeSize");
        let (_, d) =
            err_type(s.normalize(user_rt(), &json!({"schemas": [USER_SCHEMA], "userName": "a", ext_key.clone(): 1})));
        assert!(d.contains("shoeSize"), "{d}");
        let (_, d) = err_type(s.normalize(
            user_rt(),
            &json!({"schemas": [USER_SCHEMA], "userName": "a", ENTERPRISE_USER_SCHEMA: {"shoeSize": 1}}),
        ));
        assert!(d.contains("shoeSize"), "{d}");
        // The same attribute twice under two spellings.
        let (t, _) =
            err_type(s.normalize(user_rt(), &json!({"schemas": [USER_SCHEMA], "userName": "a", "USERNAME": "b"})));
        assert_eq!(t, ScimType::InvalidValue);
        let dup = json!({"schemas": [USER_SCHEMA], "userName": "a", ENTERPRISE_USER_SCHEMA: {"division": "x"},
                         format!("{ENTERPRISE_USER_SCHEMA}:division"): "y"});
        assert!(s.normalize(user_rt(), &dup).is_err());
        // The enterprise extension is not a Group extension.
        let g = json!({"schemas": [GROUP_SCHEMA], "displayName": "g", ENTERPRISE_USER_SCHEMA: {"division": "x"}});
        assert!(s.normalize(group_rt(), &g).is_err());
    }

    #[test]
    fn normalize_rejects_wrong_types() {
        let s = schemas();
        let cases = [
            ("userName", json!(5), "userName"),
            ("active", json!("yes"), "active"),
            ("active", json!(1), "active"),
            ("name", json!("Jane Doe"), "name"),
            ("emails", json!({"value": "a@x"}), "emails"),
            ("emails", json!(["a@x"]), "emails"),
            ("emails", json!([{"value": 5}]), "emails.value"),
            ("emails", json!([{"value": "a@x", "primary": "maybe"}]), "emails.primary"),
            ("profileUrl", json!(["http://x"]), "profileUrl"),
            (ENTERPRISE_USER_SCHEMA, json!("E-1"), ENTERPRISE_USER_SCHEMA),
            (ENTERPRISE_USER_SCHEMA, json!({"manager": "m1"}), "manager"),
        ];
        for (key, value, named) in cases {
            let mut body = json!({"schemas": [USER_SCHEMA], "userName": "a"});
            body[key] = value;
            let (t, d) = err_type(s.normalize(user_rt(), &body));
            assert_eq!(t, ScimType::InvalidValue, "{key}");
            assert!(d.contains(named), "{key}: {d}");
        }
        let long = "x".repeat(MAX_STRING_LEN + 1);
        assert!(s.normalize(user_rt(), &json!({"schemas": [USER_SCHEMA], "userName": long})).is_err());
        let ok = "x".repeat(MAX_STRING_LEN);
        assert!(s.normalize(user_rt(), &json!({"schemas": [USER_SCHEMA], "userName": ok})).is_ok());
    }

    #[test]
    fn normalize_checks_other_types_with_a_test_schema() {
        let schema = r#"{"id":"urn:test:T","name":"T","attributes":[
            {"name":"n","type":"integer"},{"name":"d","type":"decimal"},{"name":"t","type":"dateTime"},
            {"name":"b","type":"binary"},{"name":"tags","type":"string","multiValued":true},
            {"name":"code","type":"string","mutability":"immutable"}]}"#;
        let rts = r#"[{"name":"T","endpoint":"/T","schema":"urn:test:T"}]"#;
        let s = Schemas::from_json(&[schema], rts).expect("test schema");
        let rt = s.resource_type("T").expect("T");
        let good = json!({"schemas": ["urn:test:T"], "n": 3, "d": 1.5, "t": "2026-01-05T10:00:00+01:00",
                          "b": "AAEC", "tags": ["a", null, "b"], "code": "X"});
        let out = s.normalize(rt, &good).expect("valid");
        assert_eq!(out["tags"], json!(["a", "b"]));
        assert_eq!(out["t"], "2026-01-05T10:00:00+01:00");
        for (k, v) in [
            ("n", json!(1.5)),
            ("n", json!("3")),
            ("d", json!("1.5")),
            ("t", json!("yesterday")),
            ("t", json!(5)),
            ("b", json!(true)),
            ("tags", json!("a")),
            ("tags", json!([1])),
        ] {
            let mut body = json!({"schemas": ["urn:test:T"]});
            body[k] = v;
            let (t, d) = err_type(s.normalize(rt, &body));
            assert_eq!(t, ScimType::InvalidValue);
            assert!(d.contains(&format!("\"{k}\"")), "{k}: {d}");
        }
        // check_immutable on a single-valued immutable attribute.
        let old = json!({"schemas": ["urn:test:T"], "code": "X"});
        assert!(s.check_immutable(rt, &old, &json!({"code": "x"})).is_ok(), "caseExact false");
        let e = s.check_immutable(rt, &old, &json!({"code": "Y"})).expect_err("changed");
        assert_eq!((e.status, e.scim_type), (400, Some(ScimType::Mutability)));
        assert!(e.detail.contains("code"));
        assert!(s.check_immutable(rt, &old, &json!({})).is_err(), "removal is a change");
        assert!(s.check_immutable(rt, &json!({}), &json!({"code": "Y"})).is_ok(), "first assignment");
    }

    #[test]
    fn normalize_rejects_two_primaries() {
        let body = json!({"schemas": [USER_SCHEMA], "userName": "a",
            "emails": [{"value": "a@x", "primary": true}, {"value": "b@x", "primary": true}]});
        let (t, d) = err_type(schemas().normalize(user_rt(), &body));
        assert_eq!(t, ScimType::InvalidValue);
        assert!(d.contains("emails") && d.contains("primary"), "{d}");
        let one = json!({"schemas": [USER_SCHEMA], "userName": "a",
            "emails": [{"value": "a@x", "primary": true}, {"value": "b@x", "primary": false}]});
        assert!(schemas().normalize(user_rt(), &one).is_ok());
    }

    #[test]
    fn normalize_requires_user_name() {
        let s = schemas();
        for body in [
            json!({"schemas": [USER_SCHEMA]}),
            json!({"schemas": [USER_SCHEMA], "userName": ""}),
            json!({"schemas": [USER_SCHEMA], "userName": null}),
        ] {
            let (t, d) = err_type(s.normalize(user_rt(), &body));
            assert_eq!(t, ScimType::InvalidValue);
            assert!(d.contains("userName"), "{d}");
        }
    }

    #[test]
    fn normalize_checks_schemas_member() {
        let s = schemas();
        let cases = [
            (json!({"userName": "a"}), ScimType::InvalidSyntax),
            (json!({"schemas": USER_SCHEMA, "userName": "a"}), ScimType::InvalidSyntax),
            (json!({"schemas": [5], "userName": "a"}), ScimType::InvalidSyntax),
            (json!({"schemas": [], "userName": "a"}), ScimType::InvalidValue),
            (json!({"schemas": [GROUP_SCHEMA], "userName": "a"}), ScimType::InvalidValue),
            (json!({"schemas": [USER_SCHEMA, "urn:example:nope"], "userName": "a"}), ScimType::InvalidValue),
            (json!({"schemas": [ENTERPRISE_USER_SCHEMA], "userName": "a"}), ScimType::InvalidValue),
        ];
        for (body, want) in cases {
            assert_eq!(err_type(s.normalize(user_rt(), &body)).0, want, "{body}");
        }
        assert_eq!(err_type(s.normalize(user_rt(), &json!([1]))).0, ScimType::InvalidSyntax);
    }

    #[test]
    fn normalize_groups() {
        let s = schemas();
        let okta = json!({"schemas": [GROUP_SCHEMA], "displayName": "Engineering", "members": []});
        assert_eq!(
            s.normalize(group_rt(), &okta).expect("valid"),
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Engineering"})
        );
        let body = json!({"schemas": [GROUP_SCHEMA], "displayName": "Eng", "id": "g1",
            "members": [{"value": "u1", "display": "john", "type": "user"}, {"VALUE": "g2", "$REF": "/Groups/g2", "type": "Group"}]});
        let out = s.normalize(group_rt(), &body).expect("valid");
        assert_eq!(
            out["members"],
            json!([{"value": "u1", "type": "user"}, {"value": "g2", "$ref": "/Groups/g2", "type": "Group"}])
        );
        assert!(out.get("id").is_none());
        for bad in [json!([{"display": "x"}]), json!([{"value": ""}]), json!(["u1"])] {
            let body = json!({"schemas": [GROUP_SCHEMA], "displayName": "Eng", "members": bad});
            assert_eq!(err_type(s.normalize(group_rt(), &body)).0, ScimType::InvalidValue, "{bad}");
        }
        let (t, d) = err_type(s.normalize(group_rt(), &json!({"schemas": [GROUP_SCHEMA], "members": []})));
        assert_eq!(t, ScimType::InvalidValue);
        assert!(d.contains("displayName"));
    }

    #[test]
    fn check_immutable_on_embedded_schemas_allows_ordinary_changes() {
        let s = schemas();
        let old = s.normalize(user_rt(), &okta_create_user()).expect("valid");
        let new = s.normalize(user_rt(), &okta_put_user()).expect("valid");
        assert!(s.check_immutable(user_rt(), &old, &new).is_ok());
        let g_old = json!({"schemas": [GROUP_SCHEMA], "displayName": "a", "members": [{"value": "u1"}]});
        let g_new = json!({"schemas": [GROUP_SCHEMA], "displayName": "b", "members": [{"value": "u2"}]});
        assert!(s.check_immutable(group_rt(), &g_old, &g_new).is_ok());
    }

    #[test]
    fn project_default_view() {
        let out = project(None, None);
        let mut want = full_user();
        want.as_object_mut().map(|o| o.remove("password"));
        assert_eq!(out, want, "everything but the never-returned password");
    }

    #[test]
    fn project_attributes() {
        let out = project(Some("userName"), None);
        assert_eq!(out, json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "id": "u1", "userName": "jane"}));
        let out = project(Some("NAME.givenName,emails.value,meta.lastModified,password"), None);
        assert_eq!(out["name"], json!({"givenName": "Jane"}));
        assert_eq!(out["emails"], json!([{"value": "j@x"}, {"value": "k@x"}]));
        assert_eq!(out["meta"], json!({"lastModified": "2026-01-06T10:00:00Z"}));
        assert!(out.get("password").is_none() && out.get("userName").is_none());
        assert_eq!(out["id"], "u1");
        let out = project(Some(&format!("{ENTERPRISE_USER_SCHEMA}:employeeNumber")), None);
        assert_eq!(out[ENTERPRISE_USER_SCHEMA], json!({"employeeNumber": "7"}));
        assert!(out.get("name").is_none());
        let out = project(Some(ENTERPRISE_USER_SCHEMA), None);
        assert_eq!(out[ENTERPRISE_USER_SCHEMA], full_user()[ENTERPRISE_USER_SCHEMA]);
        // Unknown names are ignored; the always-returned attributes remain.
        let out = project(Some("shoeSize"), None);
        assert_eq!(out, json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "id": "u1"}));
    }

    #[test]
    fn project_excluded_attributes() {
        let out = project(None, Some("id,name,emails.type,meta,groups"));
        assert_eq!(out["id"], "u1", "id is returned always");
        assert!(out.get("name").is_none() && out.get("meta").is_none() && out.get("groups").is_none());
        assert_eq!(out["emails"], json!([{"value": "j@x", "primary": true}, {"value": "k@x"}]));
        assert_eq!(out["userName"], "jane");
        assert!(out.get("password").is_none());
        let out = project(None, Some(&format!("{ENTERPRISE_USER_SCHEMA}:manager")));
        assert_eq!(out[ENTERPRISE_USER_SCHEMA], json!({"employeeNumber": "7", "department": "R&D"}));
        let out = project(None, Some(ENTERPRISE_USER_SCHEMA));
        assert!(out.get(ENTERPRISE_USER_SCHEMA).is_none());
        assert_eq!(out["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
        // attributes picks, excludedAttributes then removes.
        let out = project(Some("name,userName"), Some("name.familyName"));
        assert_eq!(out["name"], json!({"givenName": "Jane"}));
        assert_eq!(out["userName"], "jane");
    }

    #[test]
    fn is_returned_for_store_shortcuts() {
        let s = schemas();
        let sel = |a: Option<&str>, e: Option<&str>| AttrSelection::parse(a, e).expect("parses");
        assert!(s.is_returned(group_rt(), "members", &sel(None, None)));
        assert!(!s.is_returned(group_rt(), "members", &sel(None, Some("members"))));
        assert!(!s.is_returned(group_rt(), "members", &sel(None, Some("MEMBERS"))));
        assert!(s.is_returned(group_rt(), "members", &sel(None, Some("members.display"))));
        assert!(!s.is_returned(group_rt(), "members", &sel(Some("displayName"), None)));
        assert!(s.is_returned(group_rt(), "members", &sel(Some("members.value"), None)));
        assert!(s.is_returned(user_rt(), "groups", &sel(None, Some("emails"))));
        assert!(!s.is_returned(user_rt(), "groups", &sel(Some("userName"), None)));
        assert!(s.is_returned(user_rt(), "id", &sel(Some("userName"), Some("id"))));
        assert!(!s.is_returned(user_rt(), "password", &sel(Some("password"), None)));
        assert!(!s.is_returned(user_rt(), ENTERPRISE_USER_SCHEMA, &sel(Some("userName"), None)));
        assert!(s.is_returned(
            user_rt(),
            ENTERPRISE_USER_SCHEMA,
            &sel(Some(&format!("{ENTERPRISE_USER_SCHEMA}:division")), None)
        ));
    }

    #[test]
    fn attr_selection_parse() {
        let sel = AttrSelection::parse(Some(" userName , name.givenName,,"), None).expect("parses");
        assert_eq!(sel.attributes, vec![path("userName"), path("name.givenName")]);
        assert!(sel.excluded.is_empty() && !sel.is_empty());
        assert!(AttrSelection::parse(None, Some("")).expect("empty").is_empty());
        let e = AttrSelection::parse(Some("name..x"), None).expect_err("bad path");
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        let many = vec!["a"; MAX_SELECTED_ATTRIBUTES + 1].join(",");
        assert!(AttrSelection::parse(None, Some(&many)).is_err());
    }
}
