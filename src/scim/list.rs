//! Query (list/search) parameters and the ListResponse (RFC 7644 §3.4.2, §3.4.3).

use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::{parse_attr_path, parse_filter, AttrPath, Filter};
use crate::scim::schema::AttrSelection;
use serde_json::{json, Value};

pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

pub fn list_response(total: usize, start_index: usize, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// A ListResponse written out piece by piece: this prefix, the resources separated by commas, then
/// `LIST_RESPONSE_SUFFIX`. The same document as `list_response`.
pub fn list_response_prefix(total: usize, start_index: usize, items: usize) -> String {
    format!(
        "{{\"schemas\":[\"{LIST_RESPONSE_SCHEMA}\"],\"totalResults\":{total},\"startIndex\":{start_index},\
         \"itemsPerPage\":{items},\"Resources\":["
    )
}

/// The head of a cursor page's ListResponse (RFC 9865 §2): no `startIndex`; `totalResults` when given;
/// `nextCursor` on every page but the last, `previousCursor` on every page but the first.
pub fn cursor_page_prefix(total: Option<usize>, items: usize, next: Option<&str>, previous: Option<&str>) -> String {
    let mut head = format!("{{\"schemas\":[\"{LIST_RESPONSE_SCHEMA}\"],");
    if let Some(total) = total {
        head.push_str(&format!("\"totalResults\":{total},"));
    }
    head.push_str(&format!("\"itemsPerPage\":{items},"));
    // Cursors hold only RFC 3986 unreserved characters: nothing to escape.
    if let Some(c) = next {
        head.push_str(&format!("\"nextCursor\":\"{c}\","));
    }
    if let Some(c) = previous {
        head.push_str(&format!("\"previousCursor\":\"{c}\","));
    }
    head.push_str("\"Resources\":[");
    head
}

pub const LIST_RESPONSE_SUFFIX: &str = "]}";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Ascending,
    Descending,
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    /// 1-based.
    pub start_index: usize,
    pub count: usize,
    pub sort_by: Option<AttrPath>,
    pub sort_order: SortOrder,
    pub selection: AttrSelection,
    /// RFC 9865: `Some("")` asks for the first page of a cursor walk, `Some(c)` for the page `c` names.
    pub cursor: Option<String>,
}

#[derive(Default)]
struct RawParams {
    filter: Option<String>,
    start_index: Option<String>,
    count: Option<String>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    attributes: Option<String>,
    excluded: Option<String>,
    cursor: Option<String>,
}

fn parse_int(name: &str, text: &str) -> ScimResult<i64> {
    text.trim()
        .parse::<i64>()
        .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer, got \"{text}\"")))
}

impl RawParams {
    /// The slot of a query/SearchRequest parameter, by name (case-insensitive), if it is one we know.
    fn slot(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name.to_ascii_lowercase().as_str() {
            "filter" => &mut self.filter,
            "startindex" => &mut self.start_index,
            "count" => &mut self.count,
            "sortby" => &mut self.sort_by,
            "sortorder" => &mut self.sort_order,
            "attributes" => &mut self.attributes,
            "excludedattributes" => &mut self.excluded,
            "cursor" => &mut self.cursor,
            _ => return None,
        })
    }

    fn build(self, max_results: usize) -> ScimResult<ListQuery> {
        let filter = match self.filter.as_deref().map(str::trim) {
            Some(f) if !f.is_empty() => Some(parse_filter(f)?),
            _ => None,
        };
        // RFC 7644 §3.4.2.4: a startIndex below 1 is read as 1; a negative count as 0; a count above the
        // server's maximum is capped to it.
        let start_index = match self.start_index.as_deref() {
            Some(s) => parse_int("startIndex", s)?.max(1) as usize,
            None => 1,
        };
        let count = match self.count.as_deref() {
            Some(s) => (parse_int("count", s)?.max(0) as usize).min(max_results),
            None => max_results,
        };
        let sort_by = match self.sort_by.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => Some(parse_attr_path(s)?),
            _ => None,
        };
        let sort_order = match self.sort_order.as_deref().map(str::trim) {
            None | Some("") => SortOrder::Ascending,
            Some(s) if s.eq_ignore_ascii_case("ascending") => SortOrder::Ascending,
            Some(s) if s.eq_ignore_ascii_case("descending") => SortOrder::Descending,
            Some(s) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be \"ascending\" or \"descending\", got \"{s}\""
                )))
            }
        };
        let selection = AttrSelection::parse(self.attributes.as_deref(), self.excluded.as_deref())?;
        let cursor = self.cursor.map(|c| c.trim().to_string());
        if cursor.is_some() && self.start_index.is_some() {
            return Err(ScimError::invalid_value(
                "startIndex and cursor cannot be combined: page by index or by cursor (RFC 9865 §2)",
            ));
        }
        Ok(ListQuery { filter, start_index, count, sort_by, sort_order, selection, cursor })
    }
}

impl ListQuery {
    /// From URL query pairs (already percent-decoded). Parameter names are matched case-insensitively.
    pub fn from_query_pairs(pairs: &[(String, String)], max_results: usize) -> ScimResult<Self> {
        let mut raw = RawParams::default();
        for (name, value) in pairs {
            // Unknown query parameters are ignored.
            if let Some(slot) = raw.slot(name) {
                *slot = Some(value.clone());
            }
        }
        raw.build(max_results)
    }

    /// From a `POST /.search` SearchRequest body (RFC 7644 §3.4.3).
    pub fn from_search_request(body: &Value, max_results: usize) -> ScimResult<Self> {
        let obj = body.as_object().ok_or_else(|| ScimError::invalid_syntax("a SearchRequest must be an object"))?;
        let mut raw = RawParams::default();
        let mut has_schema = false;
        for (name, value) in obj {
            let text = |v: &Value| -> ScimResult<String> {
                match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    // RFC 7644 §3.4.3: only `attributes` and `excludedAttributes` are lists.
                    Value::Array(items)
                        if name.eq_ignore_ascii_case("attributes")
                            || name.eq_ignore_ascii_case("excludedAttributes") =>
                    {
                        items
                            .iter()
                            .map(|i| {
                                i.as_str().map(str::to_owned).ok_or_else(|| {
                                    ScimError::invalid_value(format!("\"{name}\" must be a list of attribute names"))
                                })
                            })
                            .collect::<ScimResult<Vec<_>>>()
                            .map(|v| v.join(","))
                    }
                    _ => Err(ScimError::invalid_value(format!("\"{name}\" has the wrong type"))),
                }
            };
            if name.eq_ignore_ascii_case("schemas") {
                has_schema = value.as_array().is_some_and(|a| {
                    a.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(SEARCH_REQUEST_SCHEMA)))
                });
                continue;
            }
            let slot = raw
                .slot(name)
                .ok_or_else(|| ScimError::invalid_value(format!("unknown SearchRequest attribute \"{name}\"")))?;
            // RFC 7643 §2.5: null means "not given".
            if !value.is_null() {
                *slot = Some(text(value)?);
            }
        }
        if !has_schema {
            return Err(ScimError::invalid_value(format!(
                "a SearchRequest must list the schema {SEARCH_REQUEST_SCHEMA}"
            )));
        }
        raw.build(max_results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn paging_defaults_and_caps() {
        let q = ListQuery::from_query_pairs(&[], 100).unwrap();
        assert_eq!((q.start_index, q.count), (1, 100));
        let q = ListQuery::from_query_pairs(&pairs(&[("startIndex", "0"), ("count", "5000")]), 100).unwrap();
        assert_eq!((q.start_index, q.count), (1, 100));
        let q = ListQuery::from_query_pairs(&pairs(&[("STARTINDEX", "101"), ("count", "-3")]), 100).unwrap();
        assert_eq!((q.start_index, q.count), (101, 0));
        let e = ListQuery::from_query_pairs(&pairs(&[("count", "ten")]), 100).unwrap_err();
        assert_eq!(e.status, 400);
    }

    #[test]
    fn sort_and_filter_are_parsed() {
        let q = ListQuery::from_query_pairs(
            &pairs(&[("filter", "userName eq \"a\""), ("sortBy", "name.familyName"), ("sortOrder", "DESCENDING")]),
            10,
        )
        .unwrap();
        assert!(q.filter.is_some());
        assert_eq!(q.sort_by.unwrap().sub_attr.as_deref(), Some("familyName"));
        assert_eq!(q.sort_order, SortOrder::Descending);
        assert!(ListQuery::from_query_pairs(&pairs(&[("sortOrder", "up")]), 10).is_err());
        assert!(ListQuery::from_query_pairs(&pairs(&[("filter", "userName eq")]), 10).is_err());
    }

    #[test]
    fn search_request_body() {
        let body = json!({"schemas": [SEARCH_REQUEST_SCHEMA], "filter": "userName pr", "startIndex": 2, "count": 3,
                          "attributes": ["userName", "name.givenName"]});
        let q = ListQuery::from_search_request(&body, 10).unwrap();
        assert_eq!((q.start_index, q.count), (2, 3));
        assert_eq!(q.selection.attributes.len(), 2);
        assert!(ListQuery::from_search_request(&json!({"filter": "userName pr"}), 10).is_err());
        let nulls = json!({"schemas": [SEARCH_REQUEST_SCHEMA], "count": null, "filter": null});
        let q = ListQuery::from_search_request(&nulls, 10).unwrap();
        assert_eq!(q.count, 10);
        assert!(q.filter.is_none());
        assert!(ListQuery::from_search_request(&json!({"schemas": [SEARCH_REQUEST_SCHEMA], "bogus": 1}), 10).is_err());
    }

    #[test]
    fn streamed_list_response_is_the_same_document() {
        let resources = vec![json!({"id": "a"}), json!({"id": "b"})];
        let mut text = list_response_prefix(7, 3, 2);
        text.push_str(&resources.iter().map(Value::to_string).collect::<Vec<_>>().join(","));
        text.push_str(LIST_RESPONSE_SUFFIX);
        let streamed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(streamed, list_response(7, 3, resources));
    }

    #[test]
    fn list_response_shape() {
        let v = list_response(5, 2, vec![json!({"id": "a"})]);
        assert_eq!(v["totalResults"], 5);
        assert_eq!(v["itemsPerPage"], 1);
        assert_eq!(v["startIndex"], 2);
        assert_eq!(v["Resources"][0]["id"], "a");
    }
}
