//! RFC 7644 §3.7 bulk requests: parsing a `BulkRequest`, ordering its operations by their `bulkId`
//! references, substituting the ids those references stand for, and the `BulkResponse`. Running the
//! operations is the directory's business.

use crate::scim::error::{ScimError, ScimResult, ScimType};
use serde_json::{json, Map, Value};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const BULK_ID_PREFIX: &str = "bulkId:";
/// Longest `bulkId` accepted.
const MAX_BULK_ID_LEN: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// The resource endpoint an operation's `path` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Users,
    Groups,
}

/// The target of an operation: an endpoint, and for all but POST a resource id or a `bulkId` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub endpoint: Endpoint,
    pub id: Option<String>,
}

/// One operation as it stands in the request.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The method as sent (for the response when it is not a valid one).
    pub method_text: String,
    pub bulk_id: Option<String>,
    /// `version`, an ETag for If-Match (RFC 7644 §3.7: "used for conflict detection").
    pub version: Option<String>,
    /// What is wrong with the operation itself, if anything: it then fails without running.
    pub checked: ScimResult<Checked>,
}

/// The parts of a well-formed operation.
#[derive(Debug, Clone)]
pub struct Checked {
    pub method: Method,
    pub target: Target,
    pub data: Option<Value>,
    /// The bulkIds it refers to, in its path or anywhere in its data.
    pub refs: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub struct BulkRequest {
    /// RFC 7644 §3.7.3: stop after this many errors.
    pub fail_on_errors: Option<usize>,
    pub operations: Vec<Operation>,
}

fn syntax(detail: impl Into<String>) -> ScimError {
    ScimError::invalid_syntax(detail)
}

/// Parses a BulkRequest. Errors of the request as a whole (not a BulkRequest, too many operations, a
/// bulkId used twice) reject it before anything runs; an operation that is malformed only fails itself.
pub fn parse_bulk_request(body: &Value, max_operations: usize) -> ScimResult<BulkRequest> {
    let obj = body.as_object().ok_or_else(|| syntax("a BulkRequest must be a JSON object"))?;
    let field = |name: &str| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
    let has_schema = field("schemas")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(BULK_REQUEST_SCHEMA))));
    if !has_schema {
        return Err(syntax(format!("a BulkRequest must list the schema {BULK_REQUEST_SCHEMA}")));
    }
    let fail_on_errors = match field("failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => return Err(ScimError::invalid_value("failOnErrors must be an integer of at least 1")),
        },
    };
    let ops = field("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| syntax("a BulkRequest needs an \"Operations\" array"))?;
    if ops.len() > max_operations {
        return Err(ScimError::new(
            413,
            Some(ScimType::TooMany),
            format!(
                "a bulk request may hold at most {max_operations} operations (maxOperations); this one has {}",
                ops.len()
            ),
        ));
    }
    let operations: Vec<Operation> = ops.iter().map(parse_operation).collect();
    let mut seen = BTreeSet::new();
    for op in &operations {
        if let Some(id) = op.bulk_id.as_deref() {
            if !seen.insert(id) {
                return Err(ScimError::invalid_value(format!(
                    "bulkId \"{id}\" is used by more than one operation; each must be unique in the request"
                )));
            }
        }
    }
    Ok(BulkRequest { fail_on_errors, operations })
}

fn parse_operation(op: &Value) -> Operation {
    let Some(obj) = op.as_object() else {
        return Operation {
            method_text: String::new(),
            bulk_id: None,
            version: None,
            checked: Err(syntax("each operation must be a JSON object")),
        };
    };
    let field = |name: &str| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
    let method_text = field("method").and_then(Value::as_str).unwrap_or_default().to_string();
    let bulk_id = field("bulkId").and_then(Value::as_str).map(str::to_string);
    let version = field("version").and_then(Value::as_str).map(str::to_string);
    let checked = check_operation(&method_text, field("bulkId"), field("path"), field("data"), field("version"));
    Operation { method_text, bulk_id, version, checked }
}

fn check_operation(
    method: &str,
    bulk_id: Option<&Value>,
    path: Option<&Value>,
    data: Option<&Value>,
    version: Option<&Value>,
) -> ScimResult<Checked> {
    let method = match method.to_ascii_uppercase().as_str() {
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        "" => return Err(syntax("an operation needs a \"method\": POST, PUT, PATCH or DELETE")),
        other => {
            let shown: String = other.chars().take(20).collect();
            return Err(syntax(format!("unsupported method \"{shown}\": use POST, PUT, PATCH or DELETE")));
        }
    };
    match bulk_id {
        None | Some(Value::Null) if method == Method::Post => {
            // RFC 7644 §3.7: bulkId is REQUIRED when method is POST.
            return Err(syntax("a POST operation needs a \"bulkId\""));
        }
        None | Some(Value::Null) => {}
        Some(Value::String(id)) if valid_bulk_id(id) => {}
        Some(_) => {
            return Err(ScimError::invalid_value(format!(
                "a bulkId must be a non-empty string of at most {MAX_BULK_ID_LEN} characters without \
                 control characters"
            )))
        }
    }
    if !matches!(version, None | Some(Value::Null) | Some(Value::String(_))) {
        return Err(ScimError::invalid_value("\"version\" must be a string (an ETag such as W/\"3\")"));
    }
    let path = path.and_then(Value::as_str).ok_or_else(|| syntax("an operation needs a string \"path\""))?;
    let target = parse_path(path, method)?;
    let data = match (method, data) {
        (Method::Delete, _) => None,
        (_, Some(d @ Value::Object(_))) => Some(d.clone()),
        (_, _) => return Err(syntax(format!("a {} operation needs an object \"data\"", method.as_str()))),
    };
    let mut refs = BTreeSet::new();
    if let Some(id) = target.id.as_deref().and_then(|id| id.strip_prefix(BULK_ID_PREFIX)) {
        refs.insert(id.to_string());
    }
    if let Some(d) = &data {
        collect_refs(d, &mut refs);
    }
    Ok(Checked { method, target, data, refs })
}

fn valid_bulk_id(id: &str) -> bool {
    !id.is_empty() && id.chars().count() <= MAX_BULK_ID_LEN && !id.chars().any(char::is_control)
}

/// `/Users` or `/Groups` for POST; `/Users/{id}` or `/Groups/{id}` (or `.../bulkId:x`) for the others.
/// Anything else — another endpoint, more segments, dot segments, query strings, NUL or percent tricks —
/// is `invalidPath`.
fn parse_path(path: &str, method: Method) -> ScimResult<Target> {
    let bad = || {
        let shown: String = path.chars().filter(|c| !c.is_control()).take(80).collect();
        ScimError::invalid_path(format!(
            "\"{shown}\" is not a bulk path: use /Users or /Groups for POST, /Users/{{id}} or /Groups/{{id}} \
             otherwise"
        ))
    };
    let rest = path.strip_prefix('/').ok_or_else(bad)?;
    let (endpoint, id) = match rest.split_once('/') {
        Some((e, id)) => (e, Some(id)),
        None => (rest, None),
    };
    let endpoint = match endpoint {
        "Users" => Endpoint::Users,
        "Groups" => Endpoint::Groups,
        _ => return Err(bad()),
    };
    match (method, id) {
        (Method::Post, None) => Ok(Target { endpoint, id: None }),
        (Method::Post, Some(_)) | (_, None) => Err(bad()),
        (_, Some(id)) => {
            let plain = |c: char| !c.is_control() && !matches!(c, '/' | '?' | '#' | '%' | '\\');
            let reference = id.strip_prefix(BULK_ID_PREFIX);
            let ok = match reference {
                Some(r) => valid_bulk_id(r) && !r.contains(['/', '?', '#']),
                None => !id.is_empty() && id != "." && id != ".." && id.chars().all(plain),
            };
            if ok {
                Ok(Target { endpoint, id: Some(id.to_string()) })
            } else {
                Err(bad())
            }
        }
    }
}

/// Every string of the form `bulkId:x` in `value`, as `x`.
pub fn collect_refs(value: &Value, refs: &mut BTreeSet<String>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(BULK_ID_PREFIX) {
                refs.insert(id.to_string());
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        Value::Object(map) => map.values().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

/// Replaces every `bulkId:x` string in `value` by the id `x` was given.
pub fn substitute(value: &mut Value, ids: &HashMap<String, String>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(BULK_ID_PREFIX).and_then(|x| ids.get(x)) {
                *s = id.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, ids)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute(v, ids)),
        _ => {}
    }
}

/// The resource id a target names, with a `bulkId:x` reference resolved through `ids`.
pub fn resolve_id(id: &str, ids: &HashMap<String, String>) -> Option<String> {
    match id.strip_prefix(BULK_ID_PREFIX) {
        Some(r) => ids.get(r).cloned(),
        None => Some(id.to_string()),
    }
}

/// The order to run operations in, and why some can never run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Operation indexes in the order they run: every operation after the POSTs whose bulkIds it refers
    /// to, otherwise in request order. Operations caught in (or waiting on) a circular reference come
    /// last, and fail there.
    pub order: Vec<usize>,
    /// Operations that fail without running, by index.
    pub doomed: HashMap<usize, ScimError>,
}

/// Orders the operations by their bulkId references (Kahn's algorithm, smallest index first among those
/// ready: O(n log n + references), whatever the request holds — cycles end it, never loop it).
pub fn plan(ops: &[Operation]) -> Plan {
    let definer: HashMap<&str, usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| op.checked.as_ref().is_ok_and(|c| c.method == Method::Post))
        .filter_map(|(i, op)| op.bulk_id.as_deref().map(|id| (id, i)))
        .collect();
    let mut doomed = HashMap::new();
    let mut waiting_on = vec![0usize; ops.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    for (i, op) in ops.iter().enumerate() {
        let Ok(checked) = &op.checked else { continue };
        for r in &checked.refs {
            match definer.get(r.as_str()) {
                Some(&d) => {
                    waiting_on[i] += 1;
                    dependents[d].push(i);
                }
                None => {
                    doomed.entry(i).or_insert_with(|| {
                        ScimError::invalid_value(format!(
                            "\"bulkId:{r}\" names no POST operation of this request (RFC 7644 §3.7.2)"
                        ))
                    });
                }
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..ops.len()).filter(|&i| waiting_on[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(ops.len());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &d in &dependents[i] {
            waiting_on[d] -= 1;
            if waiting_on[d] == 0 {
                ready.push(Reverse(d));
            }
        }
    }
    // RFC 7644 §3.7.1: references that cannot be resolved because they go round in a circle are answered
    // with 409 Conflict.
    for i in 0..ops.len() {
        if waiting_on[i] > 0 {
            order.push(i);
            let own = ops[i].bulk_id.as_deref().map(|b| format!(" (bulkId \"{b}\")")).unwrap_or_default();
            doomed.entry(i).or_insert_with(|| {
                ScimError::new(
                    409,
                    None,
                    format!(
                        "operation {}{own} is part of, or waits on, a circular chain of bulkId references \
                         that cannot be resolved (RFC 7644 §3.7.1)",
                        i + 1
                    ),
                )
            });
        }
    }
    Plan { order, doomed }
}

/// The result of one operation (RFC 7644 §3.7.3).
#[derive(Debug, Clone)]
pub struct OpResult {
    pub method: String,
    pub bulk_id: Option<String>,
    pub location: Option<String>,
    pub version: Option<String>,
    pub status: u16,
    pub error: Option<ScimError>,
}

impl OpResult {
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("method".into(), Value::String(self.method.clone()));
        if let Some(b) = &self.bulk_id {
            out.insert("bulkId".into(), Value::String(b.clone()));
        }
        if let Some(l) = &self.location {
            out.insert("location".into(), Value::String(l.clone()));
        }
        if let Some(v) = &self.version {
            out.insert("version".into(), Value::String(v.clone()));
        }
        // RFC 7644 §3.7.3: status is a string ("201"), like an error's.
        out.insert("status".into(), Value::String(self.status.to_string()));
        if let Some(e) = &self.error {
            out.insert("response".into(), e.to_json());
        }
        Value::Object(out)
    }
}

pub fn bulk_response(results: &[OpResult]) -> Value {
    json!({
        "schemas": [BULK_RESPONSE_SCHEMA],
        "Operations": results.iter().map(OpResult::to_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests;
