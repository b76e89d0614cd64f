//! Paging by cursor: the `Link` header of `GET /items/` and the `next` and
//! `prev` of `/search/` and `/filter/`.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::{json, Value};

use crate::helpers::{error_locs, pairs, status_and_json, TestApp};

const FIELDS: [&str; 8] = [
    "id",
    "name",
    "description",
    "category",
    "price",
    "created_at",
    "updated_at",
    "version",
];

/// The target of the `Link` entry with relation `rel`, if any.
fn link(response: &reqwest::Response, rel: &str) -> Option<String> {
    let header = response.headers().get("link")?.to_str().unwrap().to_owned();
    header.split(", ").find_map(|entry| {
        let (target, params) = entry.split_once(';')?;
        (params.trim() == format!("rel=\"{rel}\"")).then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

/// One page: its items and the `next` and `prev` links.
async fn page(app: &TestApp, path: &str) -> (Vec<Value>, Option<String>, Option<String>) {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    let (next, prev) = (link(&response, "next"), link(&response, "prev"));
    let items = response.json::<Value>().await.unwrap();
    (items.as_array().unwrap().clone(), next, prev)
}

/// The listing's order: present values by value (text byte by byte), then
/// missing ones, ties by id, all in the direction asked.
fn in_order(field: &str, descending: bool, a: &Value, b: &Value) -> Ordering {
    let (x, y) = (&a[field], &b[field]);
    let by_value = match (x.is_null(), y.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => match (x.as_str(), y.as_str()) {
            (Some(x), Some(y)) => x.cmp(y),
            _ => x.as_f64().unwrap().total_cmp(&y.as_f64().unwrap()),
        },
    };
    let order = by_value.then(a["id"].as_i64().cmp(&b["id"].as_i64()));
    if descending {
        order.reverse()
    } else {
        order
    }
}

/// Items with ties in every column and missing values in each that may
/// have none.
async fn catalogue(app: &TestApp, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        let name = ["b", "a", "B", "é"][i % 4];
        let description = [Some("same"), None, Some("Same"), Some("x")][i % 4];
        let category = [Some("Tools"), Some("tools"), None][i % 3];
        let price = [Some(5.0), None, Some(0.5), Some(12.25), None][i % 5];
        let item = app
            .create(json!({
                "name": name, "description": description, "category": category, "price": price,
            }))
            .await;
        ids.push(item["id"].as_i64().unwrap());
    }
    // Versions that differ: some items updated once or twice.
    for (i, id) in ids.iter().enumerate().filter(|(i, _)| i % 3 != 0) {
        for _ in 0..(i % 3) {
            let patch = json!({"description": format!("edited {i}")});
            let response = app
                .client
                .patch(app.url(&format!("/items/{id}")))
                .header("content-type", "application/merge-patch+json")
                .body(patch.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
    }
    ids
}

#[tokio::test]
async fn following_next_returns_every_item_once_in_order_for_every_sort_while_items_come_and_go() {
    let app = TestApp::with().empty().start().await;
    let originals = catalogue(&app, 30).await;
    let mut deleted: HashSet<i64> = HashSet::new();
    let mut created: HashSet<i64> = HashSet::new();
    let mut spare = originals.iter().rev().copied().take(20);
    let mut fresh: VecDeque<i64> = VecDeque::new();
    for field in FIELDS {
        for descending in [false, true] {
            let sort = if descending {
                format!("-{field}")
            } else {
                field.to_owned()
            };
            let mut seen: Vec<Value> = Vec::new();
            let mut path = Some(format!("/items/?sort={sort}&limit=4"));
            let mut pages = 0;
            while let Some(next) = path {
                let (items, following, _) = page(&app, &next).await;
                seen.extend(items);
                path = following;
                pages += 1;
                assert!(pages < 100, "sort={sort}: the walk does not end");
                // Between pages, an item comes and another goes (one of
                // the catalogue's while they last, then the oldest new one).
                let item = app
                    .create(json!({"name": "a", "price": 5.0, "category": "tools"}))
                    .await;
                let id = item["id"].as_i64().unwrap();
                created.insert(id);
                fresh.push_back(id);
                let gone = match spare.next() {
                    Some(id) => id,
                    None => fresh.pop_front().unwrap(),
                };
                let response = app.delete(&format!("/items/{gone}")).await;
                assert_eq!(response.status(), 200);
                deleted.insert(gone);
            }
            let ids: Vec<i64> = seen.iter().map(|i| i["id"].as_i64().unwrap()).collect();
            let unique: HashSet<i64> = ids.iter().copied().collect();
            assert_eq!(
                unique.len(),
                ids.len(),
                "sort={sort}: a row came twice: {ids:?}"
            );
            // Every item there all along is seen, and nothing but the
            // catalogue's items and those written during the walks.
            for id in originals.iter().filter(|id| !deleted.contains(id)) {
                assert!(unique.contains(id), "sort={sort}: item {id} was skipped");
            }
            for id in &unique {
                assert!(
                    originals.contains(id) || created.contains(id),
                    "sort={sort}: item {id} is not one of the catalogue's"
                );
            }
            // And in the listing's order (as each row was when read).
            for pair in seen.windows(2) {
                assert_eq!(
                    in_order(field, descending, &pair[0], &pair[1]),
                    Ordering::Less,
                    "sort={sort}: {} then {}",
                    pair[0],
                    pair[1]
                );
            }
        }
    }
}

#[tokio::test]
async fn following_prev_from_the_last_page_walks_back_to_the_first_for_every_sort() {
    let app = TestApp::with().empty().start().await;
    catalogue(&app, 13).await;
    for field in FIELDS {
        for descending in [false, true] {
            let sort = if descending {
                format!("-{field}")
            } else {
                field.to_owned()
            };
            let mut forward: Vec<Vec<Value>> = Vec::new();
            let mut path = Some(format!("/items/?sort={sort}&limit=3"));
            let mut last_prev = None;
            while let Some(next) = path {
                let (items, following, prev) = page(&app, &next).await;
                assert_eq!(prev.is_none(), forward.is_empty(), "sort={sort}: prev link");
                forward.push(items);
                path = following;
                last_prev = prev;
            }
            assert_eq!(forward.len(), 5, "sort={sort}: 13 items in pages of 3");
            let mut back = vec![forward.last().unwrap().clone()];
            let mut path = last_prev;
            while let Some(prev) = path {
                let (items, _, earlier) = page(&app, &prev).await;
                back.push(items);
                path = earlier;
            }
            back.reverse();
            assert_eq!(back, forward, "sort={sort}: the pages walked back");
        }
    }
}

#[tokio::test]
async fn search_and_filter_carry_next_and_prev_cursors_in_the_body_and_the_link_header() {
    let app = TestApp::with().empty().start().await;
    for i in 0..5 {
        app.create(json!({"name": format!("lamp {i}"), "category": "Lighting", "price": i}))
            .await;
    }
    let ascending = ["lamp 0", "lamp 1", "lamp 2", "lamp 3", "lamp 4"];
    let descending = ["lamp 4", "lamp 3", "lamp 2", "lamp 1", "lamp 0"];
    for (route, expected) in [
        ("/search/?q=LAMP&limit=2", ascending),
        ("/filter/?category=lighting&price_lt=10&limit=2", ascending),
        // Read from the search index backwards, and in two parts (the
        // items with a description, none here, and those without).
        ("/search/?q=lamp&sort=-id&limit=2", descending),
        ("/search/?q=lamp&sort=-description&limit=2", descending),
    ] {
        let mut path = route.to_owned();
        let mut names = Vec::new();
        for expected_prev in [false, true, true] {
            let response = app.get(&path).await;
            let next_link = link(&response, "next");
            let (status, body) = status_and_json(response).await;
            assert_eq!(status, 200, "{path}");
            assert_eq!(body["prev"].is_string(), expected_prev, "{path}: {body}");
            names.extend(
                body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["name"].as_str().unwrap().to_owned()),
            );
            match body["next"].as_str() {
                Some(cursor) => {
                    let link = next_link.expect("a Link to the next page");
                    assert!(link.contains(&format!("cursor={cursor}")), "{link}");
                    path = link;
                }
                None => assert!(next_link.is_none()),
            }
        }
        assert_eq!(names, expected, "{route}");
    }
}

#[tokio::test]
async fn a_cursor_of_another_listing_a_tampered_one_or_one_beside_skip_gets_422_saying_why() {
    let app = TestApp::with().empty().start().await;
    for name in ["a 1", "a 2", "a 3"] {
        app.create(json!({"name": name, "price": 1.0})).await;
    }
    let (_, next, _) = page(&app, "/items/?sort=-price&q=a&limit=1").await;
    let next = next.unwrap();
    let cursor = next
        .split("cursor=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let mut reasons: HashMap<&str, String> = HashMap::new();
    for (case, path) in [
        (
            "other sort",
            format!("/items/?sort=price&q=a&cursor={cursor}"),
        ),
        (
            "other filter",
            format!("/items/?sort=-price&q=b&cursor={cursor}"),
        ),
        (
            "tampered",
            format!("/items/?sort=-price&q=a&cursor=x{cursor}"),
        ),
        ("not base64", "/items/?cursor=%E2%9C%93".to_owned()),
        ("search", format!("/search/?q=a&cursor={cursor}")),
    ] {
        let (status, body) = status_and_json(app.get(&path).await).await;
        assert_eq!(status, 422, "{case}: {body}");
        assert_eq!(
            error_locs(&body),
            pairs(&[("query.cursor", "cursor_invalid")]),
            "{case}"
        );
        reasons.insert(case, body["detail"][0]["msg"].as_str().unwrap().to_owned());
    }
    assert!(
        reasons["other sort"].contains("sorted by -price, not by price"),
        "{reasons:?}"
    );
    assert!(
        reasons["other filter"].contains("other filters"),
        "{reasons:?}"
    );
    assert!(reasons["tampered"].contains("Not a cursor"), "{reasons:?}");
    assert!(
        reasons["not base64"].contains("Not a cursor"),
        "{reasons:?}"
    );
    assert!(
        reasons["search"].contains("sorted by -price, not by id"),
        "{reasons:?}"
    );

    let (status, body) = status_and_json(
        app.get(&format!("/items/?sort=-price&q=a&skip=1&cursor={cursor}"))
            .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        error_locs(&body),
        pairs(&[("query.skip", "skip_with_cursor")])
    );

    let (status, body) =
        status_and_json(app.get(&format!("/items/export?cursor={cursor}")).await).await;
    assert_eq!(status, 422);
    assert_eq!(
        error_locs(&body),
        pairs(&[("query.cursor", "extra_forbidden")])
    );
}

#[tokio::test]
async fn skip_pages_keep_working_and_link_to_cursor_pages_beside_them() {
    let app = TestApp::with().empty().start().await;
    for name in ["a", "b", "c", "d", "e"] {
        app.create(json!({"name": name})).await;
    }
    let (items, next, prev) = page(&app, "/items/?sort=name&skip=2&limit=2").await;
    let names = |items: &[Value]| -> Vec<String> {
        items
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&items), ["c", "d"]);
    let (after, last, _) = page(&app, &next.unwrap()).await;
    assert_eq!(names(&after), ["e"]);
    assert!(last.is_none(), "the last page links to no next page");
    let (before, _, first) = page(&app, &prev.unwrap()).await;
    assert_eq!(names(&before), ["a", "b"]);
    assert!(first.is_none(), "the first page links to no previous page");
    // A page of nothing links nowhere.
    let response = app.get("/items/?q=nothing").await;
    assert!(response.headers().get("link").is_none());
}
