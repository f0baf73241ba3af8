//! Walking a whole resource type for the apps behind scimd (`scimd export`, `scimd users list`): keyset pages
//! in creation order, each page read in a transaction of its own and rendered exactly as the API renders it
//! (a user with its groups), handed on one resource at a time. Memory stays that of one page, whatever the
//! directory's size, and no read snapshot is held longer than a page takes.

use super::{Directory, Kind, PageGroups};
use crate::scim::cursor::Side;
use crate::scim::error::ScimResult;
use crate::scim::filter::Filter;
use crate::scim::schema::AttrSelection;
use crate::store::listing::Listing;
use crate::store::users;
use serde_json::Value;

/// Resources read per page (and per read transaction).
pub const EXPORT_PAGE: usize = 500;

impl Directory {
    /// Calls `visit` with the representation of every resource of `kind` matching `filter`, in creation order;
    /// stops early when `visit` returns false. Returns how many were visited.
    pub fn for_each(
        &self,
        kind: Kind,
        filter: Option<&Filter>,
        visit: &mut dyn FnMut(Value) -> ScimResult<bool>,
    ) -> ScimResult<usize> {
        let sc = self.schemas();
        let rt = kind.resource_type(&sc);
        let listing = Listing::new(&sc, &[rt], filter, None, false, self.store.dialect())?;
        let sel = AttrSelection::default();
        let mut position = None;
        let mut visited = 0;
        loop {
            let (last, more) = self.store.read(|conn| {
                let rows = listing.keyset_page(conn, position.as_deref(), Side::After, EXPORT_PAGE)?;
                let mut groups: Option<PageGroups> = if kind == Kind::User {
                    let ids: Vec<String> = rows.iter().map(|r| r.row.id.clone()).collect();
                    Some(users::groups_of_many(conn, &ids)?)
                } else {
                    None
                };
                for r in &rows {
                    let rendered = self.render_parts(conn, &sc, kind, &r.row, &sel, true, groups.as_mut())?;
                    visited += 1;
                    if !visit(rendered.body)? {
                        return Ok((None, false));
                    }
                }
                Ok((rows.last().map(|r| r.key.clone()), rows.len() == EXPORT_PAGE))
            })?;
            match (last, more) {
                (Some(key), true) => position = Some(key),
                _ => return Ok(visited),
            }
        }
    }

    /// How many resources of `kind` there are (O(1)).
    pub fn count(&self, kind: Kind) -> ScimResult<usize> {
        let sc = self.schemas();
        let listing = Listing::new(&sc, &[kind.resource_type(&sc)], None, None, false, self.store.dialect())?;
        self.store.read(|conn| listing.total(conn))
    }
}
