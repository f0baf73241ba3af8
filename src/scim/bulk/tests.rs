use super::*;
use serde_json::json;

fn request(ops: Value) -> Value {
    json!({"schemas": [BULK_REQUEST_SCHEMA], "Operations": ops})
}

fn post(bulk_id: &str, path: &str, data: Value) -> Value {
    json!({"method": "POST", "bulkId": bulk_id, "path": path, "data": data})
}

fn err_of(op: &Operation) -> (u16, Option<ScimType>) {
    let e = op.checked.as_ref().unwrap_err();
    (e.status, e.scim_type)
}

#[test]
fn whole_request_errors() {
    let e = parse_bulk_request(&json!({"Operations": []}), 10).unwrap_err();
    assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidSyntax)));
    let e = parse_bulk_request(&json!({"schemas": [BULK_REQUEST_SCHEMA]}), 10).unwrap_err();
    assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidSyntax)));
    let ops: Vec<Value> = (0..11).map(|i| post(&format!("b{i}"), "/Users", json!({}))).collect();
    let e = parse_bulk_request(&request(json!(ops)), 10).unwrap_err();
    assert_eq!((e.status, e.scim_type), (413, Some(ScimType::TooMany)));
    assert!(e.detail.contains("10"), "{}", e.detail);
    let twice = request(json!([post("a", "/Users", json!({})), post("a", "/Groups", json!({}))]));
    assert_eq!(parse_bulk_request(&twice, 10).unwrap_err().scim_type, Some(ScimType::InvalidValue));
    for bad in [json!(0), json!(-1), json!("1"), json!(1.5)] {
        let body = json!({"schemas": [BULK_REQUEST_SCHEMA], "failOnErrors": bad, "Operations": []});
        assert_eq!(parse_bulk_request(&body, 10).unwrap_err().scim_type, Some(ScimType::InvalidValue), "{bad}");
    }
}

#[test]
fn malformed_operations_fail_alone() {
    let body = request(json!([
        "not an object",
        {"method": "GET", "path": "/Users/x"},
        {"path": "/Users/x"},
        {"method": "POST", "path": "/Users", "data": {}},
        {"method": "POST", "bulkId": "p", "path": "/Users/x", "data": {}},
        {"method": "PUT", "path": "/Users", "data": {}},
        {"method": "DELETE", "path": "/Users/../Groups/x"},
        {"method": "DELETE", "path": "/Users/a\u{0}b"},
        {"method": "DELETE", "path": "/Users/a?x=1"},
        {"method": "DELETE", "path": "/Users/a%2Fb"},
        {"method": "DELETE", "path": "/Schemas/x"},
        {"method": "DELETE", "path": "Users/x"},
        {"method": "PATCH", "path": "/Users/x"},
        {"method": "PUT", "path": "/Users/x", "data": [1]},
        {"method": "delete", "path": "/Groups/bulkId:q"},
    ]));
    let req = parse_bulk_request(&body, 100).unwrap();
    let kinds: Vec<_> = req.operations[..14].iter().map(err_of).collect();
    use ScimType::*;
    assert_eq!(
        kinds,
        vec![
            (400, Some(InvalidSyntax)),
            (400, Some(InvalidSyntax)),
            (400, Some(InvalidSyntax)),
            (400, Some(InvalidSyntax)),
            (400, Some(InvalidPath)),
            (400, Some(InvalidPath)),
            (400, Some(InvalidPath)),
            (400, Some(InvalidPath)),
            (400, Some(InvalidPath)),
            (400, Some(InvalidPath)),
            (400, Some(InvalidPath)),
            (400, Some(InvalidPath)),
            (400, Some(InvalidSyntax)),
            (400, Some(InvalidSyntax)),
        ]
    );
    let last = req.operations[14].checked.as_ref().unwrap();
    assert_eq!(last.method, Method::Delete);
    assert_eq!(last.target, Target { endpoint: Endpoint::Groups, id: Some("bulkId:q".into()) });
    assert_eq!(last.refs.iter().collect::<Vec<_>>(), vec!["q"]);
}

#[test]
fn references_are_found_in_paths_and_data() {
    let body = request(json!([
        {"method": "PATCH", "path": "/Groups/bulkId:g", "data": {"Operations": [
            {"op": "add", "path": "members", "value": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]}]}},
    ]));
    let req = parse_bulk_request(&body, 10).unwrap();
    let refs: Vec<_> = req.operations[0].checked.as_ref().unwrap().refs.iter().cloned().collect();
    assert_eq!(refs, vec!["g", "u1", "u2"]);
    let mut data = json!({"members": [{"value": "bulkId:u1"}, {"value": "bulkId:nope"}], "x": "bulkId:u1 "});
    substitute(&mut data, &HashMap::from([("u1".to_string(), "id-1".to_string())]));
    assert_eq!(data, json!({"members": [{"value": "id-1"}, {"value": "bulkId:nope"}], "x": "bulkId:u1 "}));
}

#[test]
fn plan_runs_definitions_first_and_keeps_request_order_otherwise() {
    // A group that names users created later in the request; an unrelated op in between.
    let body = request(json!([
        post("g", "/Groups", json!({"members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]})),
        {"method": "DELETE", "path": "/Users/x"},
        post("u2", "/Users", json!({"userName": "b"})),
        post("u1", "/Users", json!({"userName": "a"})),
        {"method": "PATCH", "path": "/Groups/bulkId:g", "data": {}},
    ]));
    let p = plan(&parse_bulk_request(&body, 10).unwrap().operations);
    assert_eq!(p.order, vec![1, 2, 3, 0, 4]);
    assert!(p.doomed.is_empty());
}

#[test]
fn cycles_and_unknown_references_are_doomed_in_bounded_time() {
    let body = request(json!([
        post("a", "/Groups", json!({"members": [{"value": "bulkId:b"}]})),
        post("b", "/Groups", json!({"members": [{"value": "bulkId:a"}]})),
        post("c", "/Groups", json!({"members": [{"value": "bulkId:a"}]})),
        post("d", "/Groups", json!({"members": [{"value": "bulkId:nobody"}]})),
        post("e", "/Groups", json!({"members": [{"value": "bulkId:e"}]})),
        post("f", "/Users", json!({"userName": "f"})),
    ]));
    let p = plan(&parse_bulk_request(&body, 10).unwrap().operations);
    assert_eq!(p.order, vec![3, 5, 0, 1, 2, 4]);
    let status = |i: usize| p.doomed.get(&i).map(|e| (e.status, e.scim_type));
    assert_eq!(status(0), Some((409, None)));
    assert_eq!(status(1), Some((409, None)));
    assert_eq!(status(2), Some((409, None)));
    assert_eq!(status(3), Some((400, Some(ScimType::InvalidValue))));
    assert_eq!(status(4), Some((409, None)));
    assert_eq!(status(5), None);

    // A long ring of 1000 references is planned at once.
    let ring: Vec<Value> = (0..1000)
        .map(|i| {
            post(&format!("r{i}"), "/Groups", json!({"members": [{"value": format!("bulkId:r{}", (i + 1) % 1000)}]}))
        })
        .collect();
    let started = std::time::Instant::now();
    let p = plan(&parse_bulk_request(&request(json!(ring)), 1000).unwrap().operations);
    assert_eq!(p.doomed.len(), 1000);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn response_shape() {
    let ok = OpResult {
        method: "POST".into(),
        bulk_id: Some("q".into()),
        location: Some("https://x/Users/1".into()),
        version: Some("W/\"1\"".into()),
        status: 201,
        error: None,
    };
    let failed = OpResult {
        method: "POST".into(),
        bulk_id: Some("r".into()),
        location: None,
        version: None,
        status: 409,
        error: Some(ScimError::uniqueness("taken")),
    };
    let v = bulk_response(&[ok, failed]);
    assert_eq!(v["schemas"], json!([BULK_RESPONSE_SCHEMA]));
    assert_eq!(
        v["Operations"][0],
        json!({"method": "POST", "bulkId": "q", "location": "https://x/Users/1", "version": "W/\"1\"", "status": "201"})
    );
    assert_eq!(v["Operations"][1]["status"], "409");
    assert_eq!(v["Operations"][1]["response"]["scimType"], "uniqueness");
    assert!(v["Operations"][1].get("location").is_none());
}
