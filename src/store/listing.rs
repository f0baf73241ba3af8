//! A list or search query compiled for the store: per resource table, its filter as SQL and its sort key.
//! Pages come as index pages (`startIndex`) or keyset pages (RFC 9865 cursors, see `keyset`).

use super::filter_sql::{filter_to_sql, filter_to_sql_across_types, order_by_sql, sort_key_of, SortKey, SqlFragment};
use super::keyset::{self, KeyPart, KeyedRow, Side};
use super::resources::{self, ResourceRow, Table};
use super::{Conn, Dialect};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::{AttrPath, Filter};
use crate::scim::schema::{ResourceType, Schemas};

pub struct Listing {
    tables: Vec<Table>,
    filters: Vec<Option<SqlFragment>>,
    /// `ORDER BY` terms for index pages of one table.
    order: Vec<Option<SqlFragment>>,
    sort_keys: Vec<Option<SortKey>>,
    descending: bool,
}

fn table_of(rt: &ResourceType) -> ScimResult<Table> {
    match rt.name.as_str() {
        "User" => Ok(Table::Users),
        "Group" => Ok(Table::Groups),
        other => Err(ScimError::internal(format!("no table for resource type {other}"))),
    }
}

impl Listing {
    /// Compiles a query over `types` (one for `/Users` or `/Groups`, several for a search at the root).
    pub fn new(
        schemas: &Schemas,
        types: &[&ResourceType],
        filter: Option<&Filter>,
        sort_by: Option<&AttrPath>,
        descending: bool,
        d: Dialect,
    ) -> ScimResult<Listing> {
        let tables = types.iter().map(|rt| table_of(rt)).collect::<ScimResult<Vec<_>>>()?;
        let across = types.len() > 1;
        // Across resource types (RFC 7644 §3.4.3) an attribute one type lacks is absent on its resources;
        // a filter or sortBy that fits none of them is still an error.
        let fits_one = |compile: &dyn Fn(&ResourceType) -> ScimResult<SqlFragment>| -> ScimResult<Vec<bool>> {
            let results: Vec<ScimResult<SqlFragment>> = types.iter().map(|rt| compile(rt)).collect();
            match results.iter().find_map(|r| r.as_ref().err()) {
                Some(e) if results.iter().all(Result::is_err) => Err(e.clone()),
                _ => Ok(results.iter().map(Result::is_ok).collect()),
            }
        };
        let filters = match filter {
            None => types.iter().map(|_| None).collect(),
            Some(f) if across => {
                fits_one(&|rt| filter_to_sql(schemas, rt, f, d))?;
                types
                    .iter()
                    .map(|rt| filter_to_sql_across_types(schemas, rt, f, d).map(Some))
                    .collect::<ScimResult<_>>()?
            }
            Some(f) => types.iter().map(|rt| filter_to_sql(schemas, rt, f, d).map(Some)).collect::<ScimResult<_>>()?,
        };
        let (order, sort_keys) = match sort_by {
            None => (types.iter().map(|_| None).collect(), types.iter().map(|_| None).collect()),
            Some(path) => {
                let fits = fits_one(&|rt| sort_key_of(schemas, rt, path, d).map(|k| k.expr))?;
                let mut order = Vec::new();
                let mut sort_keys = Vec::new();
                for (rt, fits) in types.iter().zip(fits) {
                    if fits {
                        sort_keys.push(Some(sort_key_of(schemas, rt, path, d)?));
                        order.push(Some(order_by_sql(schemas, rt, path, descending, d)?));
                    } else {
                        // Only across types: this type lacks the attribute, so all of its resources sort as
                        // having no value.
                        sort_keys.push(Some(SortKey::absent()));
                        order.push(None);
                    }
                }
                (order, sort_keys)
            }
        };
        Ok(Listing { tables, filters, order, sort_keys, descending })
    }

    fn sources(&self) -> Vec<keyset::Source<'_>> {
        (0..self.tables.len())
            .map(|i| keyset::Source {
                table: self.tables[i],
                filter: self.filters[i].as_ref(),
                sort: self.sort_keys[i].as_ref(),
            })
            .collect()
    }

    pub fn is_filtered(&self) -> bool {
        self.filters.iter().any(Option::is_some)
    }

    /// The exact number of matching resources: O(1) without a filter (trigger-kept counts).
    pub fn total(&self, conn: &mut Conn) -> ScimResult<usize> {
        let mut total = 0;
        for (table, filter) in self.tables.iter().zip(&self.filters) {
            total += resources::count(conn, *table, filter.as_ref())?;
        }
        Ok(total)
    }

    /// Rows `offset..offset + limit` and the exact total (RFC 7644 §3.4.2.4 index paging).
    pub fn index_page(
        &self,
        conn: &mut Conn,
        offset: usize,
        limit: usize,
    ) -> ScimResult<(usize, Vec<(Table, ResourceRow)>)> {
        if let ([table], [filter], [order]) = (&self.tables[..], &self.filters[..], &self.order[..]) {
            // One table: the narrow-index OFFSET of `resources::list`.
            let (total, rows) = resources::list(conn, *table, filter.as_ref(), order.as_ref(), offset, limit)?;
            return Ok((total, rows.into_iter().map(|r| (*table, r)).collect()));
        }
        let total = self.total(conn)?;
        if limit == 0 || offset >= total {
            return Ok((total, Vec::new()));
        }
        let rows = keyset::page_at_offset(conn, &self.sources(), self.descending, offset, limit)?;
        Ok((total, rows.into_iter().map(|r| (r.table, r.row)).collect()))
    }

    /// Up to `limit` rows on `side` of `position` (from the start without one), in listing order.
    pub fn keyset_page(
        &self,
        conn: &mut Conn,
        position: Option<&[KeyPart]>,
        side: Side,
        limit: usize,
    ) -> ScimResult<Vec<KeyedRow>> {
        keyset::page(conn, &self.sources(), self.descending, position, side, limit)
    }

    /// Whether `position` can be a position of this listing.
    pub fn fits(&self, position: &[KeyPart]) -> bool {
        keyset::fits(&self.sources(), position)
    }
}
