//! `POST /Bulk` (RFC 7644 §3.7): the operations of one request run in dependency order, in write
//! transactions of up to `BULK_CHUNK` operations, each operation in a savepoint of its own. An operation is
//! atomic on its own; the request as a whole is not: a failed operation leaves the ones before it in place.
//! A chunk shares one COMMIT (one fsync), so 1,000 creates in a bulk cost what 1,000 POSTs cost in a few group
//! commits; chunks keep SQLite's savepoint journal (and so memory) small, and let other writers in between.

use super::{Directory, Kind, NewResource};
use crate::caller::Caller;
use crate::scim::bulk::{self, BulkRequest, Checked, Endpoint, Method, OpResult};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::meta::etag;
use crate::scim::patch::parse_patch_request;
use crate::scim::schema::Schemas;
use crate::store::{Conn, Store};
use std::collections::HashMap;

impl Kind {
    fn of_endpoint(endpoint: Endpoint) -> Kind {
        match endpoint {
            Endpoint::Users => Kind::User,
            Endpoint::Groups => Kind::Group,
        }
    }
}

/// Operations per write transaction.
const BULK_CHUNK: usize = 100;

/// What a successful operation reports.
struct Done {
    status: u16,
    location: String,
    version: Option<i64>,
}

impl Directory {
    /// Runs a parsed bulk request and returns one result per operation run, in the order they ran.
    /// Operations after the `failOnErrors`-th error are not run and not reported (RFC 7644 §3.7.3).
    pub fn bulk(&self, caller: &Caller, request: &BulkRequest) -> ScimResult<Vec<OpResult>> {
        caller.may_write("POST")?;
        let plan = bulk::plan(&request.operations);
        let sc = self.schemas.current();
        // bulkId -> the id of the resource its POST created, and the errors so far, across chunks.
        let mut created: HashMap<String, String> = HashMap::new();
        let mut errors = 0usize;
        let mut results = Vec::with_capacity(plan.order.len());
        for chunk in plan.order.chunks(BULK_CHUNK) {
            if request.fail_on_errors.is_some_and(|limit| errors >= limit) {
                break;
            }
            // A re-runnable write: it starts from the state before the chunk and hands back the state after.
            let (chunk_results, after, errors_after) = self.store.write(|conn| {
                let mut created = created.clone();
                let mut errors = errors;
                let mut chunk_results = Vec::with_capacity(chunk.len());
                for &i in chunk {
                    if request.fail_on_errors.is_some_and(|limit| errors >= limit) {
                        break;
                    }
                    let result = self.run_planned(conn, &sc, request, &plan, i, &mut created);
                    if result.error.is_some() {
                        errors += 1;
                    }
                    chunk_results.push(result);
                }
                Ok((chunk_results, created, errors))
            })?;
            created = after;
            errors = errors_after;
            results.extend(chunk_results);
        }
        Ok(results)
    }

    /// Runs operation `i` of the plan in a savepoint of its own and says how it went.
    fn run_planned(
        &self,
        conn: &mut Conn,
        sc: &Schemas,
        request: &BulkRequest,
        plan: &bulk::Plan,
        i: usize,
        created: &mut HashMap<String, String>,
    ) -> OpResult {
        let op = &request.operations[i];
        let method = op.checked.as_ref().map(|c| c.method.as_str().to_string());
        let mut result = OpResult {
            method: method.unwrap_or_else(|_| op.method_text.clone()),
            bulk_id: op.bulk_id.clone(),
            location: None,
            version: None,
            status: 0,
            error: None,
        };
        let outcome = match (&op.checked, plan.doomed.get(&i)) {
            (Err(e), _) | (Ok(_), Some(e)) => Err(e.clone()),
            (Ok(checked), None) => {
                // The location of the target, known before running unless a POST creates it.
                result.location = checked.target.id.as_deref().and_then(|id| {
                    let id = bulk::resolve_id(id, created)?;
                    Some(self.location(Kind::of_endpoint(checked.target.endpoint), &id))
                });
                Store::savepoint(conn, |c| {
                    self.run_operation(c, sc, checked, op.version.as_deref(), op.bulk_id.as_deref(), created)
                })
            }
        };
        match outcome {
            Ok(done) => {
                result.status = done.status;
                result.location = Some(done.location);
                result.version = done.version.map(etag);
            }
            Err(e) => {
                result.status = e.status;
                result.error = Some(e);
            }
        }
        result
    }

    fn run_operation(
        &self,
        conn: &mut Conn,
        sc: &Schemas,
        op: &Checked,
        version: Option<&str>,
        bulk_id: Option<&str>,
        created: &mut HashMap<String, String>,
    ) -> ScimResult<Done> {
        let kind = Kind::of_endpoint(op.target.endpoint);
        let mut data = op.data.clone();
        if let Some(d) = data.as_mut() {
            bulk::substitute(d, created);
        }
        let data = data.as_ref();
        let target_id = match op.target.id.as_deref() {
            Some(id) => Some(bulk::resolve_id(id, created).ok_or_else(|| {
                ScimError::invalid_value(format!("\"{id}\" cannot be resolved: the operation that defines it failed"))
            })?),
            None => None,
        };
        // A reference whose POST failed stays `bulkId:x` after substitution.
        if let Some(d) = data {
            let mut left = std::collections::BTreeSet::new();
            bulk::collect_refs(d, &mut left);
            if let Some(r) = left.into_iter().next() {
                return Err(ScimError::invalid_value(format!(
                    "\"bulkId:{r}\" cannot be resolved: the operation that defines it failed"
                )));
            }
        }
        let body = || data.ok_or_else(|| ScimError::internal("bulk operation without data"));
        let id = || target_id.clone().ok_or_else(|| ScimError::internal("bulk operation without a resource id"));
        match op.method {
            Method::Post => {
                let new = NewResource::prepare(sc, kind, body()?)?;
                Self::insert_new(conn, sc, kind, &new)?;
                if let Some(b) = bulk_id {
                    created.insert(b.to_string(), new.row.id.clone());
                }
                Ok(Done { status: 201, location: self.location(kind, &new.row.id), version: Some(1) })
            }
            Method::Put => {
                let id = id()?;
                let doc = sc.normalize(kind.resource_type(sc), body()?)?;
                let done = self.replace_in(conn, sc, kind, &id, &doc, version, None)?;
                Ok(Done { status: 200, location: self.location(kind, &id), version: Some(done.version) })
            }
            Method::Patch => {
                let id = id()?;
                let ops = parse_patch_request(body()?)?;
                let done = self.patch_in(conn, sc, kind, &id, &ops, version, None)?;
                // As for a single PATCH: a User answers 200, a Group 204 (see README).
                let status = if kind == Kind::User { 200 } else { 204 };
                Ok(Done { status, location: self.location(kind, &id), version: Some(done.version) })
            }
            Method::Delete => {
                let id = id()?;
                Self::delete_in(conn, kind, &id, version)?;
                Ok(Done { status: 204, location: self.location(kind, &id), version: None })
            }
        }
    }
}
