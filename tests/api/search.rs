use serde_json::{json, Value};

use crate::helpers::{error_locs, pairs, status_and_json, TestApp};

async fn catalogue() -> TestApp {
    let app = TestApp::with().empty().start().await;
    for (name, description, category, price) in [
        ("Desk lamp", "Warm LED light", "Lighting", 25.0),
        ("Floor lamp", "Tall and bright", "Lighting", 80.0),
        ("Oak desk", "Solid wood", "Furniture", 300.0),
        (
            "Chair",
            "Ergonomic office chair with LAMP holder",
            "Furniture",
            150.0,
        ),
        ("100% cotton rug", "Soft", "Textiles", 60.0),
    ] {
        app.create(
            json!({"name": name, "description": description, "category": category, "price": price}),
        )
        .await;
    }
    app.create(json!({"name": "Mystery box"})).await;
    app
}

fn names(items: &Value) -> Vec<&str> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn q_matches_name_or_description_ignoring_case() {
    let app = catalogue().await;
    let (status, items) = status_and_json(app.get("/items/?q=LAMP").await).await;
    assert_eq!(status, 200);
    assert_eq!(names(&items), ["Desk lamp", "Floor lamp", "Chair"]);
}

#[tokio::test]
async fn like_wildcards_in_q_are_matched_literally() {
    let app = catalogue().await;
    let (_, items) = status_and_json(app.get("/items/?q=100%25").await).await;
    assert_eq!(names(&items), ["100% cotton rug"]);
    let (_, items) = status_and_json(app.get("/items/?q=_").await).await;
    assert_eq!(names(&items), Vec::<&str>::new());
}

#[tokio::test]
async fn skip_and_limit_page_through_the_items() {
    let app = catalogue().await;
    let (_, items) = status_and_json(app.get("/items/?skip=2&limit=2").await).await;
    assert_eq!(names(&items), ["Oak desk", "Chair"]);
}

#[tokio::test]
async fn category_and_price_filters_combine() {
    let app = catalogue().await;
    let (_, items) = status_and_json(app.get("/items/?category=lighting&price_lt=50").await).await;
    assert_eq!(names(&items), ["Desk lamp"]);
}

#[tokio::test]
async fn sort_orders_by_a_field_and_a_minus_reverses_it() {
    let app = catalogue().await;
    let (_, items) = status_and_json(app.get("/items/?sort=-price").await).await;
    assert_eq!(
        names(&items),
        [
            "Oak desk",
            "Chair",
            "Floor lamp",
            "100% cotton rug",
            "Desk lamp",
            "Mystery box"
        ],
        "items without a price come last"
    );
    let (_, items) = status_and_json(app.get("/items/?sort=name&limit=2").await).await;
    assert_eq!(names(&items), ["100% cotton rug", "Chair"]);
}

#[tokio::test]
async fn every_sort_in_both_directions_keeps_missing_values_last_and_breaks_ties_by_id() {
    let app = TestApp::with().empty().start().await;
    // Ties, missing values, bytes that differ only in case or accent, and
    // the longest description in a script of four-byte characters (8 000
    // bytes: more than a PostgreSQL index entry may hold).
    let longest = "𝔸".repeat(2000);
    for (name, description, category, price) in [
        ("b", Some("same"), Some("Tools"), Some(5.0)),
        ("a", None, Some("tools"), Some(5.0)),
        ("B", Some("same"), None, None),
        ("é", Some(longest.as_str()), Some("Tools"), Some(0.0)),
        ("a", Some("Same"), None, Some(12.5)),
        ("e", None, Some("Éclairage"), None),
        ("b", Some("same"), Some("Tools"), Some(5.0)),
    ] {
        app.create(
            json!({"name": name, "description": description, "category": category, "price": price}),
        )
        .await;
    }
    let id = |item: &Value| item["id"].as_i64().unwrap();
    for field in [
        "id",
        "name",
        "description",
        "category",
        "price",
        "created_at",
        "updated_at",
        "version",
    ] {
        for descending in [false, true] {
            let sort = if descending {
                format!("-{field}")
            } else {
                field.to_owned()
            };
            let (status, all) =
                status_and_json(app.get(&format!("/items/?sort={sort}")).await).await;
            assert_eq!(status, 200, "{sort}");
            let all = all.as_array().unwrap().clone();
            assert_eq!(all.len(), 7, "{sort}");
            // The reference order: present values by value (text byte by
            // byte), then missing ones, ties by id, all in the direction asked.
            let mut expected = all.clone();
            expected.sort_by(|a, b| {
                let (x, y) = (&a[field], &b[field]);
                let by_value = match (x.is_null(), y.is_null()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => return std::cmp::Ordering::Greater,
                    (false, true) => return std::cmp::Ordering::Less,
                    _ => match (x.as_str(), y.as_str()) {
                        (Some(x), Some(y)) => x.cmp(y),
                        _ => x.as_f64().unwrap().total_cmp(&y.as_f64().unwrap()),
                    },
                };
                let order = by_value.then(id(a).cmp(&id(b)));
                if descending {
                    order.reverse()
                } else {
                    order
                }
            });
            let ids = |items: &[Value]| items.iter().map(id).collect::<Vec<_>>();
            assert_eq!(ids(&all), ids(&expected), "sort={sort}");
            // Page by page, the same order.
            let mut paged = Vec::new();
            for skip in (0..7).step_by(3) {
                let (_, page) = status_and_json(
                    app.get(&format!("/items/?sort={sort}&skip={skip}&limit=3"))
                        .await,
                )
                .await;
                paged.extend(page.as_array().unwrap().clone());
            }
            assert_eq!(ids(&paged), ids(&expected), "sort={sort}, page by page");
        }
    }
}

#[tokio::test]
async fn bad_list_parameters_return_422_naming_each() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(
        app.get("/items/?skip=-1&limit=5000&price_lt=abc&sort=colour")
            .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        error_locs(&body),
        pairs(&[
            ("query.skip", "greater_than_equal"),
            ("query.limit", "less_than_equal"),
            ("query.price_lt", "float_parsing"),
            ("query.sort", "enum"),
        ])
    );
    assert_eq!(body["detail"][1]["input"], "5000");
    let (status, body) = status_and_json(app.get("/items/?limit=ten").await).await;
    assert_eq!(status, 422);
    assert_eq!(error_locs(&body), pairs(&[("query.limit", "int_parsing")]));
}

#[tokio::test]
async fn search_returns_its_parameters_the_total_and_a_page() {
    let app = catalogue().await;
    let (status, body) = status_and_json(app.get("/search/?q=lamp&limit=2").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["q"], "lamp");
    assert_eq!(body["skip"], 0);
    assert_eq!(body["limit"], 2);
    assert_eq!(body["total"], 3);
    assert_eq!(names(&body["items"]), ["Desk lamp", "Floor lamp"]);
}

#[tokio::test]
async fn search_without_q_returns_everything() {
    let app = catalogue().await;
    let (status, body) = status_and_json(app.get("/search").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["q"], json!(null));
    assert_eq!(body["total"], 6);
}

#[tokio::test]
async fn search_rejects_bad_parameters() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(app.get("/search/?q=x&limit=-3").await).await;
    assert_eq!(status, 422);
    assert_eq!(
        error_locs(&body),
        pairs(&[("query.limit", "greater_than_equal")])
    );
}

#[tokio::test]
async fn filter_returns_the_category_and_price_bound() {
    let app = catalogue().await;
    let (status, body) =
        status_and_json(app.get("/filter/?category=Furniture&price_lt=200").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["category"], "Furniture");
    assert_eq!(body["price_less_than"], 200.0);
    assert_eq!(names(&body["items"]), ["Chair"]);
}

#[tokio::test]
async fn filter_rejects_a_non_numeric_or_infinite_price() {
    let app = TestApp::spawn().await;
    for (query, kind) in [
        ("price_lt=cheap", "float_parsing"),
        ("price_lt=inf", "finite_number"),
    ] {
        let (status, body) = status_and_json(app.get(&format!("/filter/?{query}")).await).await;
        assert_eq!(status, 422, "{query}");
        assert_eq!(error_locs(&body), pairs(&[("query.price_lt", kind)]));
    }
}

#[tokio::test]
async fn q_ignores_case_beyond_ascii() {
    let app = TestApp::with().empty().start().await;
    for (name, description) in [
        ("Café crème", "Petit déjeuner"),
        ("äöü Schokolade", "süß"),
        ("Straße", "ΟΔΟΣ sign"),
        ("Plain", "nothing special"),
    ] {
        app.create(json!({"name": name, "description": description}))
            .await;
    }
    for (q, expected) in [
        ("CAFÉ", vec!["Café crème"]),
        ("café CRÈME", vec!["Café crème"]),
        ("ÄÖÜ", vec!["äöü Schokolade"]),
        ("SÜSS", vec!["äöü Schokolade"]),
        ("strasse", vec!["Straße"]),
        ("οδος", vec!["Straße"]),
        ("DÉJEUNER", vec!["Café crème"]),
    ] {
        let path = format!("/search/?q={}", urlencode(q));
        let (status, body) = status_and_json(app.get(&path).await).await;
        assert_eq!(status, 200);
        assert_eq!(names(&body["items"]), expected, "q={q}");
    }
}

#[tokio::test]
async fn the_category_filter_ignores_case_beyond_ascii() {
    let app = TestApp::with().empty().start().await;
    app.create(json!({"name": "Espresso", "category": "Café"}))
        .await;
    app.create(json!({"name": "Tea", "category": "Tee"})).await;
    let (_, body) = status_and_json(app.get("/filter/?category=CAF%C3%89").await).await;
    assert_eq!(names(&body["items"]), ["Espresso"]);
    let (_, items) = status_and_json(app.get("/items/?category=caf%C3%A9").await).await;
    assert_eq!(names(&items), ["Espresso"]);
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn invented_categories_cannot_push_used_ones_out_of_the_menu() {
    let app = TestApp::with().empty().start().await;
    // One client invents 600 categories that sort before everything else...
    let creates = (0..600).map(|i| {
        let client = app.client.clone();
        let url = app.url("/items/");
        async move {
            let body = json!({"name": "junk", "category": format!("!{i:03}")});
            let response = client.post(&url).json(&body).send().await.unwrap();
            assert_eq!(response.status(), 201);
        }
    });
    futures::future::join_all(creates).await;
    // ...while a category in real use has a few items.
    for name in ["Desk lamp", "Floor lamp"] {
        app.create(json!({"name": name, "category": "Lighting"}))
            .await;
    }
    let (status, menu) =
        status_and_json(app.post_json("/rpc/items/categories", &json!({})).await).await;
    assert_eq!(status, 200, "{menu}");
    let menu: Vec<&str> = menu
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(menu.len(), 500);
    assert!(menu.contains(&"Lighting"), "{menu:?}");
    let mut sorted = menu.clone();
    sorted.sort();
    assert_eq!(menu, sorted, "the menu is sorted by name");
}

/// The menu as the UI reads it.
async fn menu(app: &TestApp) -> Vec<String> {
    let (status, menu) =
        status_and_json(app.post_json("/rpc/items/categories", &json!({})).await).await;
    assert_eq!(status, 200, "{menu}");
    serde_json::from_value(menu).unwrap()
}

/// `(total, total_exact)` of a `/search/` or `/filter/` answer.
async fn total(app: &TestApp, path: &str) -> (u64, bool) {
    let (status, body) = status_and_json(app.get(path).await).await;
    assert_eq!(status, 200, "{path}: {body}");
    (
        body["total"].as_u64().unwrap(),
        body["total_exact"].as_bool().unwrap(),
    )
}

#[tokio::test]
async fn totals_and_the_menu_follow_every_create_update_and_delete() {
    let app = TestApp::with().empty().start().await;
    let lamp = app
        .create(json!({"name": "Desk lamp", "category": "lighting"}))
        .await;
    app.create(json!({"name": "Floor lamp", "category": "Lighting"}))
        .await;
    let desk = app
        .create(json!({"name": "Oak desk", "category": "Furniture"}))
        .await;
    app.create(json!({"name": "Mystery box"})).await;
    assert_eq!(total(&app, "/search/").await, (4, true));
    assert_eq!(total(&app, "/filter/?category=LIGHTING").await, (2, true));
    // One spelling per category, the least of them.
    assert_eq!(menu(&app).await, ["Furniture", "Lighting"]);

    // Moved to another category, then out of every category.
    let moved = app
        .put_json(
            &format!("/items/{}", lamp["id"]),
            &json!({"name": "Desk lamp", "category": "Furniture"}),
        )
        .await;
    assert_eq!(moved.status(), 200);
    assert_eq!(total(&app, "/filter/?category=lighting").await, (1, true));
    assert_eq!(total(&app, "/filter/?category=furniture").await, (2, true));
    let cleared = app
        .put_json(
            &format!("/items/{}", lamp["id"]),
            &json!({"name": "Desk lamp"}),
        )
        .await;
    assert_eq!(cleared.status(), 200);
    assert_eq!(total(&app, "/filter/?category=furniture").await, (1, true));
    assert_eq!(total(&app, "/search/").await, (4, true));

    // The last item of a category leaves the menu with it.
    let deleted = app.delete(&format!("/items/{}", desk["id"])).await;
    assert_eq!(deleted.status(), 200);
    assert_eq!(total(&app, "/filter/?category=furniture").await, (0, true));
    assert_eq!(total(&app, "/search/").await, (3, true));
    assert_eq!(menu(&app).await, ["Lighting"]);
    // A category nobody uses, and one with a NUL, count nothing.
    assert_eq!(total(&app, "/filter/?category=garden").await, (0, true));
    assert_eq!(total(&app, "/filter/?category=a%00b").await, (0, true));
}

#[tokio::test]
async fn concurrent_writes_keep_the_totals_exact() {
    let app = TestApp::with().empty().start().await;
    let creates = (0..60).map(|i| {
        let client = app.client.clone();
        let url = app.url("/items/");
        async move {
            let category = ["red", "Green", "BLUE"][i % 3];
            let body = json!({"name": format!("item {i}"), "category": category});
            let response = client.post(&url).json(&body).send().await.unwrap();
            assert_eq!(response.status(), 201);
            response.json::<Value>().await.unwrap()["id"]
                .as_i64()
                .unwrap()
        }
    });
    let ids = futures::future::join_all(creates).await;
    // Every fourth one deleted and every fifth moved to "red", at once.
    let writes = ids.iter().enumerate().map(|(i, id)| {
        let client = app.client.clone();
        let url = app.url(&format!("/items/{id}"));
        async move {
            let response = match (i % 4, i % 5) {
                (0, _) => client.delete(&url).send().await.unwrap(),
                (_, 0) => {
                    let body = json!({"name": format!("item {i}"), "category": "red"});
                    client.put(&url).json(&body).send().await.unwrap()
                }
                _ => return,
            };
            assert_eq!(response.status(), 200);
        }
    });
    futures::future::join_all(writes).await;
    let (_, listing) = status_and_json(app.get("/items/?limit=1000").await).await;
    let listing = listing.as_array().unwrap();
    assert_eq!(total(&app, "/search/").await, (listing.len() as u64, true));
    for category in ["red", "green", "blue"] {
        let counted = listing
            .iter()
            .filter(|i| {
                i["category"]
                    .as_str()
                    .unwrap()
                    .eq_ignore_ascii_case(category)
            })
            .count() as u64;
        assert_eq!(
            total(&app, &format!("/filter/?category={category}")).await,
            (counted, true),
            "{category}"
        );
    }
}

#[tokio::test]
async fn counts_past_the_bound_say_there_are_more() {
    let app = TestApp::with()
        .empty()
        .configure(|config| config.count_bound = 3)
        .start()
        .await;
    for i in 0..5 {
        app.create(json!({"name": format!("lamp {i}"), "category": "Lighting", "price": i}))
            .await;
    }
    app.create(json!({"name": "desk", "price": 100})).await;
    // Searches and price filters stop counting past the bound...
    assert_eq!(total(&app, "/search/?q=lamp").await, (3, false));
    assert_eq!(total(&app, "/filter/?price_lt=50").await, (3, false));
    assert_eq!(total(&app, "/search/?q=desk").await, (1, true));
    assert_eq!(total(&app, "/search/?q=lamp%203").await, (1, true));
    // ...while everything and a category are kept exact.
    assert_eq!(total(&app, "/search/").await, (6, true));
    assert_eq!(total(&app, "/filter/?category=lighting").await, (5, true));
    // The page itself is whole either way.
    let (_, body) = status_and_json(app.get("/search/?q=lamp&limit=10").await).await;
    assert_eq!(body["items"].as_array().unwrap().len(), 5);
    // The UI is told the same.
    let query = itemserve::domain::ItemQuery {
        q: Some("lamp".into()),
        ..Default::default()
    };
    let (status, page) = status_and_json(
        app.post_json("/rpc/items/list", &json!({ "query": query }))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], json!({"n": 3, "exact": false}));
}

/// Pieces of text whose case folding is easy to get wrong (ß and SS, the
/// three sigmas, the Kelvin sign, the dotted capital I, a ligature, a
/// titlecase digraph) and the characters SQL patterns treat specially.
const PIECES: &[&str] = &[
    "a", "B", "ß", "SS", "ss", "é", "É", "Σ", "σ", "ς", "K", "\u{212A}", "İ", "i", "ﬁ", "FI", "ǅ",
    "ǆ", "Ω", "%", "_", "\\", "'", " ", "1", "語",
];

fn text_of(pieces: &[usize]) -> String {
    pieces.iter().map(|&i| PIECES[i]).collect()
}

/// The search's meaning, written out: a trimmed query matches an item whose
/// name or description contains it once both are case-folded.
fn reference_matches(items: &[Value], q: &str) -> Vec<i64> {
    let q = caseless::default_case_fold_str(q.trim());
    let holds = |text: &Value| {
        text.as_str()
            .is_some_and(|t| caseless::default_case_fold_str(t).contains(&q))
    };
    items
        .iter()
        .filter(|item| holds(&item["name"]) || holds(&item["description"]))
        .map(|item| item["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn search_finds_exactly_the_items_whose_folded_text_contains_the_folded_query() {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let app = TestApp::with().empty().start().await;
    let mut runner = TestRunner::deterministic();
    let piece = 0..PIECES.len();
    // A name starts with a piece that is not a space (a blank name is
    // refused); a description may be missing.
    let item = (
        (
            0..PIECES.len() - 4,
            prop::collection::vec(piece.clone(), 0..6),
        ),
        prop::option::of(prop::collection::vec(piece.clone(), 1..8)),
    );
    let mut items = Vec::new();
    for _ in 0..60 {
        let ((first, rest), description) = item.new_tree(&mut runner).unwrap().current();
        let name = format!("{}{}", PIECES[first], text_of(&rest));
        let body = json!({"name": name, "description": description.map(|d| text_of(&d))});
        items.push(app.create(body).await);
    }
    // Queries of one to three pieces, and pieces of stored names in another
    // case, so that both misses and hits are tried.
    let queries = prop::collection::vec(piece, 1..4).prop_map(|q| text_of(&q));
    let mut tried = Vec::new();
    // Right after the writes (on SQLite the index has not taken them in
    // yet: they are read directly), and again once it has.
    for i in 0..240 {
        if i == 120 {
            tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        }
        let q = if i % 3 == 0 {
            let name = items[i % items.len()]["name"].as_str().unwrap();
            let chars: Vec<char> = name.chars().collect();
            let start = i % chars.len();
            let end = (start + 1 + i % 3).min(chars.len());
            let part: String = chars[start..end].iter().collect();
            if i % 2 == 0 {
                part.to_uppercase()
            } else {
                part.to_lowercase()
            }
        } else {
            queries.new_tree(&mut runner).unwrap().current()
        };
        let path = format!("/search/?q={}&limit=1000", urlencode(&q));
        let (status, body) = status_and_json(app.get(&path).await).await;
        assert_eq!(status, 200, "q={q:?}: {body}");
        let found: Vec<i64> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_i64().unwrap())
            .collect();
        let expected = reference_matches(&items, &q);
        assert_eq!(found, expected, "q={q:?}");
        assert_eq!(body["total"], json!(expected.len()), "q={q:?}");
        // The same rows in the other orders a search is read in (the index
        // drives the id order either way; a name order sorts its matches).
        let ids = |body: &Value| -> Vec<i64> {
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| item["id"].as_i64().unwrap())
                .collect()
        };
        let (_, body) = status_and_json(app.get(&format!("{path}&sort=-id")).await).await;
        assert_eq!(
            ids(&body),
            expected.iter().rev().copied().collect::<Vec<_>>(),
            "q={q:?}"
        );
        let (_, body) = status_and_json(app.get(&format!("{path}&sort=name")).await).await;
        let mut by_name = expected.clone();
        by_name.sort_by_key(|id| {
            let item = items.iter().find(|i| i["id"] == json!(id)).unwrap();
            (item["name"].as_str().unwrap().to_owned(), *id)
        });
        assert_eq!(ids(&body), by_name, "q={q:?}");
        tried.push(expected.len());
    }
    // The queries found something now and then, and not everything always.
    assert!(tried.iter().any(|&n| n > 0) && tried.iter().any(|&n| n < items.len()));
}

/// The items of every page of `route` (which has no cursor), following
/// each answer's `next` cursor to the end.
async fn walk_items(app: &TestApp, route: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut path = route.to_owned();
    loop {
        let (status, body) = status_and_json(app.get(&path).await).await;
        assert_eq!(status, 200, "{path}: {body}");
        items.extend(body["items"].as_array().unwrap().iter().cloned());
        match body["next"].as_str() {
            Some(cursor) => path = format!("{route}&cursor={cursor}"),
            None => return items,
        }
    }
}

/// The ids of every page of `route`, as [`walk_items`] reads them.
async fn walk(app: &TestApp, route: &str) -> Vec<i64> {
    let items = walk_items(app, route).await;
    items.iter().map(|i| i["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn a_search_matching_more_than_a_thousand_items_pages_through_each_once() {
    // Over a thousand matches: PostgreSQL plans such a search as usual
    // rather than through its few matches (see `search_page`), and SQLite
    // reads its index in pages.
    let app = TestApp::with().empty().start().await;
    let mut csv = String::from("name,description\n");
    for i in 0..1_200 {
        csv += &format!("Lamp {:04},\n", (i * 7) % 1_200);
    }
    for i in 0..300 {
        let description = if i % 6 == 0 { "with a LAMP holder" } else { "" };
        csv += &format!("desk {i},{description}\n");
    }
    let (status, body) = crate::transfer::import(&app, "", "text/csv", &csv).await;
    assert_eq!(status, 200, "{body}");
    let everything = walk_items(&app, "/search/?limit=1000").await;
    assert_eq!(everything.len(), 1_500);
    let mut expected = reference_matches(&everything, "lamp");
    assert_eq!(expected.len(), 1_250);
    assert_eq!(total(&app, "/search/?q=lamp").await, (1_250, true));

    expected.sort_unstable();
    assert_eq!(walk(&app, "/search/?q=lamp&limit=100").await, expected);
    let mut descending = expected.clone();
    descending.reverse();
    assert_eq!(
        walk(&app, "/search/?q=LAMP&sort=-id&limit=100").await,
        descending
    );
    // By name: the name as stored (ordered by its characters), then the id.
    let name_of = |id: i64| {
        let item = everything.iter().find(|i| i["id"] == id).unwrap();
        item["name"].as_str().unwrap().to_owned()
    };
    let mut by_name = expected.clone();
    by_name.sort_by_key(|id| (name_of(*id), *id));
    assert_eq!(
        walk(&app, "/search/?q=lamp&sort=name&limit=100").await,
        by_name
    );
}
