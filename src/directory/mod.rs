//! The directory: Users and Groups as SCIM resources. Each operation validates with the protocol layer
//! (`scim`), changes the store in one transaction (all of it or nothing), and renders the result.

use crate::caller::Caller;
use crate::scim::cursor::{query_fingerprint, Cursor, CursorCodec, Side};
use crate::scim::error::{ScimError, ScimResult, ScimType};
use crate::scim::filter::matches_element;
use crate::scim::list::{cursor_page_prefix, list_response_prefix, ListQuery, SortOrder};
use crate::scim::meta::{etag_matches, meta};
use crate::scim::patch::{apply_operations, parse_patch_request, split_member_ops, MemberPatch, PatchOperation};
use crate::scim::schema::{AttrSelection, ResourceType, Schemas, ENTERPRISE_USER_SCHEMA};
use crate::store::keyset::KeyedRow;
use crate::store::listing::Listing;
use crate::store::resources::{self, ResourceRow, Table};
use crate::store::{fold_case, groups, now_timestamp, users, Conn, Store};
use serde_json::{json, Map, Value};

mod bulk;
mod export;
mod stream;

use stream::BodyWriter;
pub mod schemas;

pub use schemas::SchemaRegistry;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }

    /// The endpoint segment, e.g. `Users` in `/Users/{id}`.
    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::User => "Users",
            Kind::Group => "Groups",
        }
    }

    fn table(self) -> Table {
        match self {
            Kind::User => Table::Users,
            Kind::Group => Table::Groups,
        }
    }

    fn of_table(table: Table) -> Kind {
        match table {
            Table::Users => Kind::User,
            Table::Groups => Kind::Group,
        }
    }

    pub fn resource_type(self, sc: &Schemas) -> &ResourceType {
        sc.resource_type(self.name()).expect("User and Group are embedded resource types")
    }
}

/// A resource as it goes back to the client.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub id: String,
    pub version: i64,
    pub body: Value,
}

/// A part of a response body produced by `Directory::get_streamed` / `list_streamed`.
#[derive(Debug)]
pub enum BodyPart {
    /// The request succeeded: comes first, before any bytes. `version` is the resource's (for its ETag);
    /// 0 for a list.
    Start {
        version: i64,
    },
    Bytes(Vec<u8>),
}

/// The groups of the users on one list page, by user id.
pub(crate) type PageGroups = HashMap<String, Vec<users::GroupOfUser>>;

/// The result of a PATCH: the new version, and the representation when one was asked for.
#[derive(Debug, Clone)]
pub struct Patched {
    pub version: i64,
    pub rendered: Option<Rendered>,
}

/// The enterprise extension's `manager` of a user as rendered: `$ref` and `displayName` come from the
/// referenced user (RFC 7643 §4.3), looked up when the user is read. A `value` that names no user here is kept
/// as sent and rendered alone: Okta sends its own user id of the manager (its `managerId`), which only names
/// a scimd user when the admin maps it so.
struct Manager {
    id: String,
    /// None: no user has that id (any more).
    display_name: Option<Option<String>>,
}

/// `manager.value` of a stored or normalised user document.
fn manager_id(doc: &Value) -> Option<&str> {
    doc.get(ENTERPRISE_USER_SCHEMA)?.get("manager")?.get("value")?.as_str()
}

/// Which write a document is being finished for.
#[derive(Clone, Copy)]
enum Write<'a> {
    Create,
    /// PUT over the stored document.
    Replace(&'a Value),
    Patch,
}

/// A validated POST body, ready to insert.
struct NewResource {
    doc: Value,
    members: Vec<MemberRef>,
    row: ResourceRow,
}

impl NewResource {
    fn prepare(sc: &Schemas, kind: Kind, body: &Value) -> ScimResult<NewResource> {
        let (doc, members) = Directory::prepare(sc, kind, body)?;
        let now = now_timestamp();
        let row = ResourceRow {
            id: uuid::Uuid::new_v4().to_string(),
            created: now.clone(),
            last_modified: now,
            version: 1,
            resource: doc.to_string(),
        };
        Ok(NewResource { doc, members, row })
    }
}

/// A reference to a group member, as parsed from `members[]` (RFC 7643 §4.2).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct MemberRef {
    id: String,
    member_type: Option<&'static str>,
}

/// The net effect of one request's membership changes: whether each touched member was present before
/// and is present after. Operations that cancel out leave the group (and its version) unchanged.
#[derive(Default)]
struct MembershipDelta {
    before: HashMap<String, bool>,
    after: HashMap<String, bool>,
}

impl MembershipDelta {
    fn record(&mut self, member_id: &str, was_present: bool, is_present: bool) {
        self.before.entry(member_id.to_string()).or_insert(was_present);
        self.after.insert(member_id.to_string(), is_present);
    }

    fn changed(&self) -> bool {
        self.after.iter().any(|(id, now)| self.before.get(id) != Some(now))
    }
}

#[derive(Clone)]
pub struct Directory {
    store: Store,
    base_url: String,
    cursors: CursorCodec,
    schemas: Arc<SchemaRegistry>,
}

fn not_found(kind: Kind, id: &str) -> ScimError {
    ScimError::not_found(format!("{} \"{}\" not found", kind.name(), id))
}

fn check_if_match(if_match: Option<&str>, version: i64) -> ScimResult<()> {
    match if_match {
        Some(h) if !etag_matches(h, version) => Err(ScimError::precondition_failed(
            "the resource has changed since the version given in If-Match (RFC 7644 §3.14)",
        )),
        _ => Ok(()),
    }
}

fn str_attr<'a>(doc: &'a Value, name: &str) -> Option<&'a str> {
    doc.get(name).and_then(Value::as_str)
}

fn parse_member(value: &Value) -> ScimResult<MemberRef> {
    let id =
        value.get("value").and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or_else(|| {
            ScimError::invalid_value("each member needs a non-empty string \"value\" (the member's id)")
        })?;
    let member_type = match value.get("type") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if t.eq_ignore_ascii_case("user") => Some("User"),
        Some(Value::String(t)) if t.eq_ignore_ascii_case("group") => Some("Group"),
        Some(other) => {
            return Err(ScimError::invalid_value(format!(
                "member \"{id}\" has type {other}; a member's type is \"User\" or \"Group\""
            )))
        }
    };
    Ok(MemberRef { id: id.to_string(), member_type })
}

fn parse_members(values: &[Value]) -> ScimResult<Vec<MemberRef>> {
    values.iter().map(parse_member).collect()
}

impl Directory {
    pub fn new(store: Store, base_url: &str, cursors: CursorCodec, schemas: Arc<SchemaRegistry>) -> Self {
        Directory { store, base_url: base_url.trim_end_matches('/').to_string(), cursors, schemas }
    }

    /// The schemas in force now (admin-defined extensions included).
    pub fn schemas(&self) -> Arc<Schemas> {
        self.schemas.current()
    }

    pub fn location(&self, kind: Kind, id: &str) -> String {
        format!("{}/{}/{}", self.base_url, kind.endpoint(), id)
    }

    /// Validates and normalises a POST/PUT body; for a Group, takes `members` out of the document.
    fn prepare(sc: &Schemas, kind: Kind, body: &Value) -> ScimResult<(Value, Vec<MemberRef>)> {
        let mut doc = sc.normalize(kind.resource_type(sc), body)?;
        let members = Self::finish_document(kind, &mut doc, Write::Create)?;
        Ok((doc, members))
    }

    /// Server defaults and the split between the JSON document and the membership table.
    fn finish_document(kind: Kind, doc: &mut Value, write: Write<'_>) -> ScimResult<Vec<MemberRef>> {
        let obj = doc.as_object_mut().ok_or_else(|| ScimError::invalid_syntax("a resource must be a JSON object"))?;
        match kind {
            Kind::User => {
                // `active` is true for a new user that leaves it out, and a PUT that leaves it out keeps the
                // stored value: a profile update must not re-enable a user the IdP deactivated. A PATCH
                // starts from the stored document, so only an explicit remove takes it away (RFC 7644
                // §3.5.2.2: it is then unassigned).
                let default = match write {
                    Write::Create => Some(Value::Bool(true)),
                    Write::Replace(stored) => stored.get("active").cloned(),
                    Write::Patch => None,
                };
                if let Some(default) = default {
                    obj.entry("active").or_insert(default);
                }
                // The manager's `$ref` is the server's to give (from `value`), like a member's.
                if let Some(Value::Object(manager)) =
                    obj.get_mut(ENTERPRISE_USER_SCHEMA).and_then(|e| e.get_mut("manager"))
                {
                    manager.remove("$ref");
                }
                Ok(Vec::new())
            }
            Kind::Group => match obj.remove("members") {
                Some(Value::Array(values)) => parse_members(&values),
                _ => Ok(Vec::new()),
            },
        }
    }

    /// The manager of a stored user, resolved (RFC 7643 §4.3), if it has one.
    fn resolve_manager(conn: &mut Conn, row: &ResourceRow) -> ScimResult<Option<Manager>> {
        // Most users have none: skip the parse unless the text can hold one.
        if !row.resource.contains("\"manager\"") {
            return Ok(None);
        }
        let doc: Value = serde_json::from_str(&row.resource).map_err(ScimError::internal)?;
        let Some(id) = manager_id(&doc) else { return Ok(None) };
        let display_name = users::display_name_by_id(conn, id)?;
        Ok(Some(Manager { id: id.to_string(), display_name }))
    }

    fn check_unique(conn: &mut Conn, sc: &Schemas, kind: Kind, doc: &Value, self_id: Option<&str>) -> ScimResult<()> {
        Self::check_extension_uniqueness(conn, sc, kind, doc, self_id)?;
        let (attr, taken_by) = match kind {
            Kind::User => {
                let name = str_attr(doc, "userName").unwrap_or_default();
                ("userName", users::id_by_user_name(conn, name)?.map(|id| (name, id)))
            }
            Kind::Group => {
                let name = str_attr(doc, "displayName").unwrap_or_default();
                ("displayName", groups::id_by_display_name(conn, name)?.map(|id| (name, id)))
            }
        };
        match taken_by {
            Some((name, id)) if Some(id.as_str()) != self_id => Err(ScimError::uniqueness(format!(
                "{attr} \"{name}\" is already taken by {} {id} (compared case-insensitively)",
                kind.name()
            ))),
            _ => Ok(()),
        }
    }

    /// Writes `envelope` (whose `resource` is `doc` serialised) with the hot columns taken from `doc`.
    fn write_row(conn: &mut Conn, kind: Kind, envelope: &ResourceRow, doc: &Value, insert: bool) -> ScimResult<()> {
        let resource = envelope.resource.as_str();
        match kind {
            Kind::User => {
                let display_name_folded = str_attr(doc, "displayName").map(fold_case);
                let row = users::UserColumns {
                    id: &envelope.id,
                    user_name_folded: &fold_case(str_attr(doc, "userName").unwrap_or_default()),
                    external_id: str_attr(doc, "externalId"),
                    display_name_folded: display_name_folded.as_deref(),
                    active: doc.get("active").and_then(Value::as_bool),
                    created: &envelope.created,
                    last_modified: &envelope.last_modified,
                    version: envelope.version,
                    resource,
                };
                if insert {
                    users::insert(conn, &row)
                } else {
                    users::update(conn, &row)
                }
            }
            Kind::Group => {
                let row = groups::GroupColumns {
                    id: &envelope.id,
                    display_name_folded: &fold_case(str_attr(doc, "displayName").unwrap_or_default()),
                    external_id: str_attr(doc, "externalId"),
                    created: &envelope.created,
                    last_modified: &envelope.last_modified,
                    version: envelope.version,
                    resource,
                };
                if insert {
                    groups::insert(conn, &row)
                } else {
                    groups::update(conn, &row)
                }
            }
        }
    }

    /// Checks that a member names an existing resource of its stated type and would not close a cycle.
    /// Returns the member's type.
    fn resolve_member(conn: &mut Conn, group_id: &str, member: &MemberRef) -> ScimResult<&'static str> {
        let found = match member.member_type {
            Some("User") => resources::exists_for_share(conn, Table::Users, &member.id)?.then_some("User"),
            Some(_) => resources::exists_for_share(conn, Table::Groups, &member.id)?.then_some("Group"),
            None => {
                if resources::exists_for_share(conn, Table::Users, &member.id)? {
                    Some("User")
                } else if resources::exists_for_share(conn, Table::Groups, &member.id)? {
                    Some("Group")
                } else {
                    None
                }
            }
        };
        let member_type = found.ok_or_else(|| {
            ScimError::invalid_value(format!(
                "member \"{}\" names no existing {}",
                member.id,
                member.member_type.unwrap_or("User or Group")
            ))
        })?;
        if member_type == "Group" && groups::contains_group(conn, &member.id, group_id)? {
            return Err(ScimError::invalid_value(format!(
                "group \"{}\" cannot be a member of group \"{group_id}\": that would make a group contain itself",
                member.id
            )));
        }
        Ok(member_type)
    }

    fn add_members(
        conn: &mut Conn,
        group_id: &str,
        members: &[MemberRef],
        delta: &mut MembershipDelta,
    ) -> ScimResult<()> {
        for m in members {
            let member_type = Self::resolve_member(conn, group_id, m)?;
            let inserted = groups::add_member(conn, group_id, &m.id, member_type)?;
            delta.record(&m.id, !inserted, true);
        }
        Ok(())
    }

    fn remove_members<'a>(
        conn: &mut Conn,
        group_id: &str,
        ids: impl IntoIterator<Item = &'a str>,
        delta: &mut MembershipDelta,
    ) -> ScimResult<()> {
        for id in ids {
            let removed = groups::remove_member(conn, group_id, id)?;
            delta.record(id, removed, false);
        }
        Ok(())
    }

    /// Makes the membership exactly `members`, touching only the rows that differ.
    fn replace_members(
        conn: &mut Conn,
        group_id: &str,
        members: &[MemberRef],
        delta: &mut MembershipDelta,
    ) -> ScimResult<()> {
        let current: BTreeSet<String> = groups::member_ids(conn, group_id)?.into_iter().collect();
        let wanted: BTreeSet<&str> = members.iter().map(|m| m.id.as_str()).collect();
        let gone = current.iter().map(String::as_str).filter(|id| !wanted.contains(id));
        Self::remove_members(conn, group_id, gone, delta)?;
        let new: Vec<MemberRef> = members.iter().filter(|m| !current.contains(&m.id)).cloned().collect();
        Self::add_members(conn, group_id, &new, delta)
    }

    fn apply_member_patch(
        conn: &mut Conn,
        group_id: &str,
        patch: &MemberPatch,
        delta: &mut MembershipDelta,
    ) -> ScimResult<()> {
        match patch {
            MemberPatch::Add(values) => Self::add_members(conn, group_id, &parse_members(values)?, delta),
            MemberPatch::Replace(values) => Self::replace_members(conn, group_id, &parse_members(values)?, delta),
            MemberPatch::RemoveAll => {
                let ids = groups::member_ids(conn, group_id)?;
                Self::remove_members(conn, group_id, ids.iter().map(String::as_str), delta)
            }
            MemberPatch::RemoveValues(ids) => {
                Self::remove_members(conn, group_id, ids.iter().map(String::as_str), delta)
            }
            MemberPatch::RemoveWhere(filter) => {
                // A filter other than `value eq` (which arrives as RemoveValues) is rare; it is evaluated on
                // this one group's member rows.
                let matched: Vec<String> = groups::members(conn, group_id)?
                    .into_iter()
                    .filter(|m| {
                        let element = json!({"value": m.member_id, "type": m.member_type, "display": m.display});
                        matches_element(filter, &element, &|sub| sub.eq_ignore_ascii_case("value"))
                    })
                    .map(|m| m.member_id)
                    .collect();
                Self::remove_members(conn, group_id, matched.iter().map(String::as_str), delta)
            }
        }
    }

    /// The full representation of a row (id, meta and computed attributes added), projected by `sel`.
    fn render(
        &self,
        conn: &mut Conn,
        sc: &Schemas,
        kind: Kind,
        row: &ResourceRow,
        sel: &AttrSelection,
    ) -> ScimResult<Rendered> {
        self.render_parts(conn, sc, kind, row, sel, true, None)
    }

    /// `render`, optionally leaving out a Group's members (for `write_resource`, which streams them itself)
    /// and taking a User's groups from `prefetched` (a list page's, read in one query) when given.
    #[allow(clippy::too_many_arguments)]
    fn render_parts(
        &self,
        conn: &mut Conn,
        sc: &Schemas,
        kind: Kind,
        row: &ResourceRow,
        sel: &AttrSelection,
        with_members: bool,
        mut prefetched: Option<&mut PageGroups>,
    ) -> ScimResult<Rendered> {
        let rt = kind.resource_type(sc);
        let schemas = sc;
        let computed = match kind {
            Kind::User if schemas.is_returned(rt, "groups", sel) => {
                let groups = match prefetched.as_mut().and_then(|p| p.remove(&row.id).map(Ok)) {
                    Some(found) => found,
                    None if prefetched.is_some() => Ok(Vec::new()),
                    None => users::groups_of(conn, &row.id),
                }?;
                let groups: Vec<Value> = groups
                    .into_iter()
                    .map(|g| {
                        json!({"value": g.group_id, "$ref": self.location(Kind::Group, &g.group_id),
                               "display": g.display_name, "type": g.kind})
                    })
                    .collect();
                Some(("groups", groups))
            }
            Kind::Group if with_members && schemas.is_returned(rt, "members", sel) => {
                let members: Vec<Value> =
                    groups::members(conn, &row.id)?.into_iter().map(|m| Value::Object(self.member_json(m))).collect();
                Some(("members", members))
            }
            _ => None,
        };
        let manager = if kind == Kind::User { Self::resolve_manager(conn, row)? } else { None };
        self.assemble(sc, kind, row, sel, computed, manager)
    }

    /// The representation of a row with id, meta and a computed attribute (`groups` or `members`, omitted
    /// when empty), projected by `sel`. Touches no database.
    fn assemble(
        &self,
        sc: &Schemas,
        kind: Kind,
        row: &ResourceRow,
        sel: &AttrSelection,
        computed: Option<(&str, Vec<Value>)>,
        manager: Option<Manager>,
    ) -> ScimResult<Rendered> {
        let mut doc: Map<String, Value> = serde_json::from_str(&row.resource).map_err(ScimError::internal)?;
        if let Some(Manager { id, display_name: Some(display_name) }) = manager {
            if let Some(Value::Object(m)) = doc.get_mut(ENTERPRISE_USER_SCHEMA).and_then(|e| e.get_mut("manager")) {
                m.insert("$ref".into(), Value::String(self.location(Kind::User, &id)));
                if let Some(name) = display_name {
                    m.insert("displayName".into(), Value::String(name));
                }
            }
        }
        doc.insert("id".into(), Value::String(row.id.clone()));
        let location = self.location(kind, &row.id);
        doc.insert("meta".into(), meta(kind.name(), &row.created, &row.last_modified, &location, row.version));
        if let Some((name, values)) = computed.filter(|(_, values)| !values.is_empty()) {
            doc.insert(name.into(), Value::Array(values));
        }
        let body = sc.project(kind.resource_type(sc), &Value::Object(doc), sel);
        Ok(Rendered { id: row.id.clone(), version: row.version, body })
    }

    /// One element of a Group's `members` (RFC 7643 §4.2); `display` and `$ref` are the server's.
    fn member_json(&self, m: groups::MemberRow) -> Map<String, Value> {
        let kind = if m.member_type == "Group" { Kind::Group } else { Kind::User };
        let mut element = Map::new();
        element.insert("$ref".into(), Value::String(self.location(kind, &m.member_id)));
        element.insert("display".into(), Value::String(m.display));
        element.insert("type".into(), Value::String(m.member_type));
        element.insert("value".into(), Value::String(m.member_id));
        element
    }

    /// `load` inside a write that modifies the row (locked until the transaction ends where the store needs it).
    fn load_for_write(conn: &mut Conn, kind: Kind, id: &str) -> ScimResult<ResourceRow> {
        resources::get_for_update(conn, kind.table(), id)?.ok_or_else(|| not_found(kind, id))
    }

    fn load(conn: &mut Conn, kind: Kind, id: &str) -> ScimResult<ResourceRow> {
        resources::get(conn, kind.table(), id)?.ok_or_else(|| not_found(kind, id))
    }

    pub fn create(&self, caller: &Caller, kind: Kind, body: &Value, sel: &AttrSelection) -> ScimResult<Rendered> {
        caller.may_write("POST")?;
        // Validation runs before the writer is taken: the single writer only does the writing.
        let sc = self.schemas.current();
        let new = NewResource::prepare(&sc, kind, body)?;
        self.store.write(|conn| Self::insert_new(conn, &sc, kind, &new))?;
        match kind {
            // A new user belongs to no group yet and, without a manager, needs nothing read back.
            Kind::User if manager_id(&new.doc).is_none() => self.assemble(&sc, kind, &new.row, sel, None, None),
            Kind::User => self.store.read(|conn| self.render(conn, &sc, kind, &new.row, sel)),
            // Rendered after the commit, off the single writer: nobody else knows the new id yet, so this
            // read sees exactly what was written.
            Kind::Group => self.store.read(|conn| self.render(conn, &sc, kind, &new.row, sel)),
        }
    }

    /// POST inside a write transaction: checks uniqueness and members, inserts.
    fn insert_new(conn: &mut Conn, sc: &Schemas, kind: Kind, new: &NewResource) -> ScimResult<()> {
        Self::check_unique(conn, sc, kind, &new.doc, None)?;
        Self::write_row(conn, kind, &new.row, &new.doc, true)?;
        if kind == Kind::Group {
            Self::add_members(conn, &new.row.id, &new.members, &mut MembershipDelta::default())?;
        }
        Ok(())
    }

    /// GET of one resource, produced in parts: a Group's members are written out in chunks straight from the
    /// database, inside the same read transaction as the rest, so that a group of 100 000 members is never
    /// held in memory whole. `emit` receives `Start` first, then the body's bytes in order; when it returns
    /// false (the client went away) production stops.
    pub fn get_streamed(
        &self,
        kind: Kind,
        id: &str,
        sel: &AttrSelection,
        emit: &mut dyn FnMut(BodyPart) -> bool,
    ) -> ScimResult<()> {
        let sc = self.schemas.current();
        // A short read for the resource; a Group's members follow in short reads of their own, so a client that
        // reads slowly holds no database connection and no snapshot.
        let (version, head) = self.store.read(|conn| {
            let row = Self::load(conn, kind, id)?;
            Ok((row.version, self.head(conn, &sc, kind, &row, sel, None)?))
        })?;
        if !emit(BodyPart::Start { version }) {
            return Ok(());
        }
        let mut out = BodyWriter::new(emit);
        self.write_head(head, &mut out)?;
        out.finish();
        Ok(())
    }

    /// A page of resources matching the query as a ListResponse (RFC 7644 §3.4.2), produced in parts like
    /// `get_streamed`: a page holding a very large group streams its members too. `kinds` is one resource
    /// type for `/Users` and `/Groups`, both for a search at the root (RFC 7644 §3.4.3). With a `cursor` the
    /// page is an RFC 9865 keyset page, else an index page (`startIndex`).
    pub fn list_streamed(
        &self,
        kinds: &[Kind],
        query: &ListQuery,
        emit: &mut dyn FnMut(BodyPart) -> bool,
    ) -> ScimResult<()> {
        let sc = self.schemas.current();
        let types: Vec<&ResourceType> = kinds.iter().map(|k| k.resource_type(&sc)).collect();
        let descending = query.sort_order == SortOrder::Descending;
        let listing =
            Listing::new(&sc, &types, query.filter.as_ref(), query.sort_by.as_ref(), descending, self.store.dialect())?;
        if let Some(cursor) = &query.cursor {
            // A cursor is only good for the query it came from (RFC 9865 §2.1).
            let fingerprint =
                query_fingerprint(&format!("{kinds:?}|{:?}|{:?}|{:?}", query.filter, query.sort_by, query.sort_order));
            return self.cursor_page(&sc, &listing, &fingerprint, query, cursor, emit);
        }
        let (prefix, heads) = self.store.read(|conn| {
            let (total, rows) = listing.index_page(conn, query.start_index - 1, query.count)?;
            let rows: Vec<(Kind, ResourceRow)> = rows.into_iter().map(|(t, r)| (Kind::of_table(t), r)).collect();
            let prefix = list_response_prefix(total, query.start_index, rows.len());
            Ok((prefix, self.heads(conn, &sc, &rows, &query.selection)?))
        })?;
        self.stream_list(heads, prefix, emit)
    }

    /// An RFC 9865 cursor page: `cursor` is empty for the first page, else a `nextCursor`/`previousCursor`
    /// this server issued for the same query.
    fn cursor_page(
        &self,
        sc: &Schemas,
        listing: &Listing,
        fingerprint: &str,
        query: &ListQuery,
        cursor: &str,
        emit: &mut dyn FnMut(BodyPart) -> bool,
    ) -> ScimResult<()> {
        let now = chrono::Utc::now().timestamp();
        let (position, side) = if cursor.is_empty() {
            (None, Side::After)
        } else {
            let c = self.cursors.decode(cursor, fingerprint, now)?;
            if !listing.fits(&c.position) {
                return Err(ScimError::new(400, Some(ScimType::InvalidCursor), "the cursor does not fit this query"));
            }
            (Some(c.position), c.side)
        };
        self.store
            .read(|conn| {
                // RFC 9865 §2 makes totalResults optional on cursor pages. It is given whenever it is cheap (no
                // filter: trigger-kept counts) and on the first page of a filtered walk; later pages of a
                // filtered walk leave it out, so that every page of a walk costs the same.
                let total =
                    if position.is_none() || !listing.is_filtered() { Some(listing.total(conn)?) } else { None };
                let limit = query.count;
                let mut rows = if limit == 0 {
                    Vec::new()
                } else {
                    // One row more than the page shows whether another page follows it.
                    listing.keyset_page(conn, position.as_deref(), side, limit + 1)?
                };
                let more = rows.len() > limit;
                if more {
                    match side {
                        Side::After => rows.truncate(limit),
                        Side::Before => drop(rows.remove(0)),
                    }
                }
                let (has_next, has_previous) = match side {
                    Side::After => (more, position.is_some()),
                    Side::Before => (true, more),
                };
                let issue = |side: Side, row: Option<&KeyedRow>| {
                    row.map(|r| self.cursors.encode(&Cursor::new(fingerprint, now, side, r.key.clone())))
                };
                let next = if has_next { issue(Side::After, rows.last()) } else { None };
                let previous = if has_previous { issue(Side::Before, rows.first()) } else { None };
                let prefix = cursor_page_prefix(total, rows.len(), next.as_deref(), previous.as_deref());
                let rows: Vec<(Kind, ResourceRow)> =
                    rows.into_iter().map(|r| (Kind::of_table(r.table), r.row)).collect();
                Ok((prefix, self.heads(conn, sc, &rows, &query.selection)?))
            })
            .and_then(|(prefix, heads)| self.stream_list(heads, prefix, emit))
    }

    /// PUT (RFC 7644 §3.5.1): the body replaces every writable attribute; read-only ones are ignored.
    pub fn replace(
        &self,
        caller: &Caller,
        kind: Kind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        sel: &AttrSelection,
    ) -> ScimResult<Rendered> {
        caller.may_write("PUT")?;
        let sc = self.schemas.current();
        let doc = sc.normalize(kind.resource_type(&sc), body)?;
        self.store
            .write(|conn| self.replace_in(conn, &sc, kind, id, &doc, if_match, Some(sel)))?
            .rendered
            .ok_or_else(|| ScimError::internal("PUT rendered nothing"))
    }

    /// PUT inside a write transaction, with the body already normalised; renders when `sel` is given.
    #[allow(clippy::too_many_arguments)]
    fn replace_in(
        &self,
        conn: &mut Conn,
        sc: &Schemas,
        kind: Kind,
        id: &str,
        doc: &Value,
        if_match: Option<&str>,
        sel: Option<&AttrSelection>,
    ) -> ScimResult<Patched> {
        // Re-runnable: the transaction works on its own copy of the document.
        let mut doc = doc.clone();
        let row = Self::load_for_write(conn, kind, id)?;
        check_if_match(if_match, row.version)?;
        let old: Value = serde_json::from_str(&row.resource).map_err(ScimError::internal)?;
        let members = Self::finish_document(kind, &mut doc, Write::Replace(&old))?;
        sc.check_immutable(kind.resource_type(sc), &old, &doc)?;
        Self::check_unique(conn, sc, kind, &doc, Some(id))?;
        let mut delta = MembershipDelta::default();
        if kind == Kind::Group {
            Self::replace_members(conn, id, &members, &mut delta)?;
        }
        let changed = old != doc || delta.changed();
        self.finish_write(conn, sc, kind, row, &doc, changed, sel)
    }

    /// Writes the document when something changed (new version and lastModified), then renders if asked.
    #[allow(clippy::too_many_arguments)]
    fn finish_write(
        &self,
        conn: &mut Conn,
        sc: &Schemas,
        kind: Kind,
        mut row: ResourceRow,
        doc: &Value,
        changed: bool,
        sel: Option<&AttrSelection>,
    ) -> ScimResult<Patched> {
        if changed {
            row.version += 1;
            row.last_modified = now_timestamp();
            row.resource = doc.to_string();
            Self::write_row(conn, kind, &row, doc, false)?;
        }
        let rendered = match sel {
            Some(sel) => Some(self.render(conn, sc, kind, &row, sel)?),
            None => None,
        };
        Ok(Patched { version: row.version, rendered })
    }

    /// PATCH (RFC 7644 §3.5.2): all operations apply, or none. A PATCH that changes nothing keeps the version.
    pub fn patch(
        &self,
        caller: &Caller,
        kind: Kind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        sel: Option<&AttrSelection>,
    ) -> ScimResult<Patched> {
        caller.may_write("PATCH")?;
        let ops = parse_patch_request(body)?;
        let sc = self.schemas.current();
        self.store.write(|conn| self.patch_in(conn, &sc, kind, id, &ops, if_match, sel))
    }

    /// PATCH inside a write transaction.
    #[allow(clippy::too_many_arguments)]
    fn patch_in(
        &self,
        conn: &mut Conn,
        sc: &Schemas,
        kind: Kind,
        id: &str,
        ops: &[PatchOperation],
        if_match: Option<&str>,
        sel: Option<&AttrSelection>,
    ) -> ScimResult<Patched> {
        // Re-runnable: the operations are read, never consumed.
        let (doc_ops, member_ops) = match kind {
            Kind::Group => split_member_ops(ops.to_vec())?,
            Kind::User => (ops.to_vec(), Vec::new()),
        };
        let schemas = sc;
        let rt = kind.resource_type(sc);
        let row = Self::load_for_write(conn, kind, id)?;
        check_if_match(if_match, row.version)?;
        let old: Value = serde_json::from_str(&row.resource).map_err(ScimError::internal)?;
        let mut doc = old.clone();
        apply_operations(schemas, rt, id, &mut doc, &doc_ops)?;
        let mut doc = schemas.normalize(rt, &doc)?;
        Self::finish_document(kind, &mut doc, Write::Patch)?;
        schemas.check_immutable(rt, &old, &doc)?;
        Self::check_unique(conn, sc, kind, &doc, Some(id))?;
        let mut delta = MembershipDelta::default();
        for member_patch in &member_ops {
            Self::apply_member_patch(conn, id, member_patch, &mut delta)?;
        }
        // A request whose operations cancel out (add then remove one member) is a no-op too.
        let changed = old != doc || delta.changed();
        self.finish_write(conn, sc, kind, row, &doc, changed, sel)
    }

    pub fn delete(&self, caller: &Caller, kind: Kind, id: &str, if_match: Option<&str>) -> ScimResult<()> {
        caller.may_write("DELETE")?;
        self.store.write(|conn| Self::delete_in(conn, kind, id, if_match))
    }

    /// DELETE inside a write transaction.
    fn delete_in(conn: &mut Conn, kind: Kind, id: &str, if_match: Option<&str>) -> ScimResult<()> {
        let row = Self::load_for_write(conn, kind, id)?;
        check_if_match(if_match, row.version)?;
        // Memberships go in the same transaction: no group keeps pointing at a deleted resource. A deleted
        // group's own member rows go with it (ON DELETE CASCADE on group_members.group_id).
        resources::drop_memberships_of(conn, id, &now_timestamp())?;
        resources::delete(conn, kind.table(), id)?;
        Ok(())
    }
}
