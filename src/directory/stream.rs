//! Streamed responses: a representation is rendered in a short read transaction, then written out while no
//! database connection is held; a Group's members follow in keyset batches, each read in a transaction of its
//! own. However slowly a client reads, it pins no pool connection and no WAL snapshot. (A membership changed
//! while it is being streamed shows each member at most once; the batches are not one snapshot.)

use super::{BodyPart, Directory, Kind, PageGroups};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::list::LIST_RESPONSE_SUFFIX;
use crate::scim::schema::{AttrSelection, Schemas};
use crate::store::resources::ResourceRow;
use crate::store::{groups, users, Conn};
use serde_json::{json, Value};

/// Members read per transaction while streaming a Group.
const MEMBER_BATCH: usize = 1000;

/// Body bytes handed on at a time when streaming a large membership.
const STREAM_CHUNK: usize = 64 * 1024;

/// Collects a response body and hands it on in chunks of about `STREAM_CHUNK` bytes.
pub(super) struct BodyWriter<'e> {
    buffer: Vec<u8>,
    emit: &'e mut dyn FnMut(BodyPart) -> bool,
    /// False once the receiver went away: producing more is pointless.
    open: bool,
}

impl<'e> BodyWriter<'e> {
    pub(super) fn new(emit: &'e mut dyn FnMut(BodyPart) -> bool) -> Self {
        BodyWriter { buffer: Vec::with_capacity(STREAM_CHUNK), emit, open: true }
    }

    pub(super) fn is_open(&self) -> bool {
        self.open
    }

    pub(super) fn write(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
        self.flush_if_full();
    }

    pub(super) fn write_json(&mut self, value: &impl serde::Serialize) -> ScimResult<()> {
        serde_json::to_writer(&mut self.buffer, value).map_err(ScimError::internal)?;
        self.flush_if_full();
        Ok(())
    }

    fn flush_if_full(&mut self) {
        if self.open && self.buffer.len() >= STREAM_CHUNK {
            self.open = (self.emit)(BodyPart::Bytes(std::mem::take(&mut self.buffer)));
        }
    }

    pub(super) fn finish(self) {
        if self.open && !self.buffer.is_empty() {
            (self.emit)(BodyPart::Bytes(self.buffer));
        }
    }
}

/// A rendered resource up to where a Group's members go; those are read and written after it.
pub(super) struct Head {
    bytes: Vec<u8>,
    members: Option<MemberStream>,
}

struct MemberStream {
    group_id: String,
    /// The sub-attributes of an element that survive `attributes`/`excludedAttributes`.
    keep: Vec<String>,
}

impl Directory {
    /// Renders a resource inside the caller's read transaction; a Group's members (when returned) are left for
    /// `write_head`.
    pub(super) fn head(
        &self,
        conn: &mut Conn,
        sc: &Schemas,
        kind: Kind,
        row: &ResourceRow,
        sel: &AttrSelection,
        prefetched: Option<&mut PageGroups>,
    ) -> ScimResult<Head> {
        let rt = kind.resource_type(sc);
        let stream_members = kind == Kind::Group && sc.is_returned(rt, "members", sel);
        let rendered = self.render_parts(conn, sc, kind, row, sel, !stream_members, prefetched)?;
        let mut bytes = serde_json::to_vec(&rendered.body).map_err(ScimError::internal)?;
        if !stream_members {
            return Ok(Head { bytes, members: None });
        }
        let sample = json!({"members": [{"$ref": "", "display": "", "type": "", "value": ""}]});
        let keep: Vec<String> = sc
            .project(rt, &sample, sel)
            .pointer("/members/0")
            .and_then(Value::as_object)
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        bytes.pop(); // reopen the object: members go last
        Ok(Head { bytes, members: Some(MemberStream { group_id: row.id.clone(), keep }) })
    }

    /// The heads of a list page, read in the caller's transaction (the users' groups in one query).
    pub(super) fn heads(
        &self,
        conn: &mut Conn,
        sc: &Schemas,
        rows: &[(Kind, ResourceRow)],
        sel: &AttrSelection,
    ) -> ScimResult<Vec<Head>> {
        let user_ids: Vec<String> = rows.iter().filter(|(k, _)| *k == Kind::User).map(|(_, r)| r.id.clone()).collect();
        let mut page_groups = if !user_ids.is_empty() && sc.is_returned(Kind::User.resource_type(sc), "groups", sel) {
            Some(users::groups_of_many(conn, &user_ids)?)
        } else {
            None
        };
        rows.iter().map(|(kind, row)| self.head(conn, sc, *kind, row, sel, page_groups.as_mut())).collect()
    }

    /// Writes a head, then a Group's members batch by batch, each batch read in a short transaction of its own.
    pub(super) fn write_head(&self, head: Head, out: &mut BodyWriter<'_>) -> ScimResult<()> {
        out.write(&head.bytes);
        let Some(stream) = head.members else { return Ok(()) };
        let mut after: Option<String> = None;
        let mut count = 0usize;
        loop {
            let batch =
                self.store.read(|conn| groups::members_page(conn, &stream.group_id, after.as_deref(), MEMBER_BATCH))?;
            let full = batch.len() == MEMBER_BATCH;
            after = batch.last().map(|m| m.member_id.clone());
            for m in batch {
                let mut element = self.member_json(m);
                element.retain(|k, _| stream.keep.contains(k));
                out.write(if count == 0 { b",\"members\":[" } else { b"," });
                count += 1;
                out.write_json(&element)?;
            }
            if !out.is_open() {
                return Ok(());
            }
            if !full {
                break;
            }
        }
        out.write(if count > 0 { b"]}" } else { b"}" });
        Ok(())
    }

    /// Writes a ListResponse from rendered heads: no database connection is held while the client reads.
    pub(super) fn stream_list(
        &self,
        heads: Vec<Head>,
        prefix: String,
        emit: &mut dyn FnMut(BodyPart) -> bool,
    ) -> ScimResult<()> {
        if !emit(BodyPart::Start { version: 0 }) {
            return Ok(());
        }
        let mut out = BodyWriter::new(emit);
        out.write(prefix.as_bytes());
        for (i, head) in heads.into_iter().enumerate() {
            if i > 0 {
                out.write(b",");
            }
            self.write_head(head, &mut out)?;
            if !out.is_open() {
                return Ok(());
            }
        }
        out.write(LIST_RESPONSE_SUFFIX.as_bytes());
        out.finish();
        Ok(())
    }
}
