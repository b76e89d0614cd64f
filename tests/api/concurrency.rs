use futures::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{status_and_json, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_creates_are_all_stored_with_distinct_ids() {
    let app = TestApp::with().empty().start().await;
    let creates = (0..100).map(|i| {
        let app = &app;
        async move {
            let (status, body) = status_and_json(
                app.post_json("/items/", &json!({"name": format!("item {i}")}))
                    .await,
            )
            .await;
            assert_eq!(status, 201);
            body["id"].as_i64().unwrap()
        }
    });
    let mut ids = join_all(creates).await;
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 100, "every create got its own id");
    let (_, body) = status_and_json(app.get("/search/?limit=1000").await).await;
    assert_eq!(body["total"], 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_updates_of_one_item_are_all_counted() {
    let app = TestApp::spawn().await;
    let updates = (0..50).map(|i| {
        let app = &app;
        async move {
            let response = app
                .put_json("/items/1", &json!({"name": format!("writer {i}")}))
                .await;
            assert_eq!(response.status(), 200);
        }
    });
    join_all(updates).await;
    let (_, item) = status_and_json(app.get("/items/1").await).await;
    assert_eq!(
        item["version"], 51,
        "each of the 50 updates bumped the version once"
    );
    assert!(item["name"].as_str().unwrap().starts_with("writer "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_if_match_exactly_one_of_racing_writers_wins() {
    let app = TestApp::spawn().await;
    let writers = (0..20).map(|i| {
        let app = &app;
        async move {
            app.client
                .put(app.url("/items/2"))
                .header("if-match", "\"1\"")
                .json(&json!({"name": format!("racer {i}")}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = join_all(writers).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        19,
        "{statuses:?}"
    );
    let (_, item) = status_and_json(app.get("/items/2").await).await;
    assert_eq!(item["version"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_during_writes_always_see_whole_items() {
    let app = TestApp::spawn().await;
    let writes = (0..40).map(|i| {
        let app = &app;
        async move {
            let body = json!({"name": format!("n{i}"), "description": format!("d{i}")});
            assert_eq!(app.put_json("/items/3", &body).await.status(), 200);
        }
    });
    let reads = (0..40).map(|_| {
        let app = &app;
        async move {
            let (status, item): (u16, Value) = status_and_json(app.get("/items/3").await).await;
            assert_eq!(status, 200);
            let name = item["name"].as_str().unwrap().to_owned();
            if let Some(n) = name.strip_prefix('n') {
                assert_eq!(
                    item["description"],
                    format!("d{n}"),
                    "name and description from one write"
                );
            }
        }
    });
    futures::join!(join_all(writes), join_all(reads));
}

/// Listings are reused between writes; none may show data older than a
/// write its client already saw acknowledged, while other clients write
/// and read the same pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn listings_always_reflect_every_acknowledged_write() {
    let app = TestApp::with().empty().start().await;
    let clients = (0..4).map(|c| {
        let app = &app;
        async move {
            let id = app.create(json!({"name": format!("c{c} v0")})).await["id"].clone();
            for v in 1..=25 {
                let name = format!("c{c} v{v}");
                let response = app
                    .put_json(&format!("/items/{id}"), &json!({"name": name}))
                    .await;
                assert_eq!(response.status(), 200);
                for path in ["/items/", "/search/?q=v", "/filter/"] {
                    let (_, body) = status_and_json(app.get(path).await).await;
                    let items = body.get("items").unwrap_or(&body).as_array().unwrap();
                    let mine = items.iter().find(|i| i["id"] == id).unwrap();
                    assert_eq!(mine["name"], name.as_str(), "{path} after the update");
                }
            }
            let response = app.delete(&format!("/items/{id}")).await;
            assert_eq!(response.status(), 200);
            let (_, items) = status_and_json(app.get("/items/").await).await;
            assert!(items.as_array().unwrap().iter().all(|i| i["id"] != id));
        }
    });
    join_all(clients).await;
    let (_, items) = status_and_json(app.get("/items/").await).await;
    assert_eq!(items, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_creates_choosing_one_id_store_exactly_one_and_the_rest_get_409() {
    let app = TestApp::with().empty().start().await;
    // Creates without an id race beside them: none may take the chosen id
    // or lose its own write.
    let creates = (0..40).map(|i| {
        let app = &app;
        async move {
            let body = if i % 2 == 0 {
                json!({"id": 7, "name": format!("racer {i}")})
            } else {
                json!({"name": format!("assigned {i}")})
            };
            let (status, body) = status_and_json(app.post_json("/items/", &body).await).await;
            (i, status, body)
        }
    });
    let answers = join_all(creates).await;
    let chosen: Vec<&(i32, u16, Value)> = answers.iter().filter(|(i, ..)| i % 2 == 0).collect();
    let winners: Vec<_> = chosen
        .iter()
        .filter(|(_, status, _)| *status == 201)
        .collect();
    assert_eq!(winners.len(), 1, "{chosen:?}");
    for (_, status, body) in chosen.iter().filter(|(_, status, _)| *status != 201) {
        assert_eq!(*status, 409, "{body}");
        assert_eq!(body, &json!({"detail": "Item with id 7 already exists"}));
    }
    let mut assigned: Vec<i64> = answers
        .iter()
        .filter(|(i, ..)| i % 2 == 1)
        .map(|(_, status, body)| {
            assert_eq!(*status, 201, "{body}");
            body["id"].as_i64().unwrap()
        })
        .collect();
    assigned.sort_unstable();
    assigned.dedup();
    assert_eq!(assigned.len(), 20, "every create without an id got its own");
    assert!(!assigned.contains(&7), "{assigned:?}");
    let (_, stored) = status_and_json(app.get("/items/7").await).await;
    assert_eq!(
        stored["name"], winners[0].2["name"],
        "the winner's item is stored"
    );
    let (_, body) = status_and_json(app.get("/search/?limit=1000").await).await;
    assert_eq!(body["total"], 21);
}

/// The writer first runs a group of waiting writes without a savepoint
/// each, then again with them when one fails: a failing write must leave
/// nothing behind (not even what it wrote before it failed), and the
/// writes run twice must each be stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_writes_amid_parallel_ones_leave_nothing_and_the_rest_are_stored_once() {
    let app = TestApp::with().empty().start().await;
    let target = app.create(json!({"name": "Target"})).await["id"]
        .as_i64()
        .unwrap();
    let kept: Vec<i64> = join_all((0..2).map(|i| app.create(json!({"name": format!("Kept {i}")}))))
        .await
        .iter()
        .map(|item| item["id"].as_i64().unwrap())
        .collect();
    enum Outcome {
        Updated,
        Created(i64, String),
        Refused(u16),
    }
    let writes = (0..160).map(|i| {
        let (app, kept) = (&app, &kept);
        async move {
            match i % 4 {
                0 => {
                    let path = format!("/items/{target}");
                    let response = app
                        .put_json(&path, &json!({"name": format!("Target {i}")}))
                        .await;
                    assert_eq!(response.status(), 200);
                    Outcome::Updated
                }
                1 => {
                    let name = format!("New {i}");
                    let (status, body) =
                        status_and_json(app.post_json("/items/", &json!({"name": name})).await)
                            .await;
                    assert_eq!(status, 201, "{body}");
                    Outcome::Created(body["id"].as_i64().unwrap(), name)
                }
                // Updates the kept items, then refuses on the missing one.
                2 => {
                    let body = json!({"action": "set", "ids": [kept[0], kept[1], 999_999],
                                      "values": {"name": "Overwritten"}});
                    let (status, body) =
                        status_and_json(app.post_json("/items/bulk", &body).await).await;
                    assert_eq!(status, 422, "{body}");
                    Outcome::Refused(status)
                }
                _ => {
                    let response = app
                        .put_json("/items/999999", &json!({"name": "Nobody"}))
                        .await;
                    Outcome::Refused(response.status().as_u16())
                }
            }
        }
    });
    let outcomes = join_all(writes).await;

    let mut created = Vec::new();
    for outcome in outcomes {
        match outcome {
            Outcome::Updated => {}
            Outcome::Created(id, name) => created.push((id, name)),
            Outcome::Refused(status) => assert!(status == 404 || status == 422),
        }
    }
    for (id, name) in &created {
        let (status, item) = status_and_json(app.get(&format!("/items/{id}")).await).await;
        assert_eq!((status, item["name"].as_str()), (200, Some(name.as_str())));
        assert_eq!(item["version"], 1);
    }
    let mut ids: Vec<i64> = created.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 40, "every create got its own id, once");
    let (_, listing) = status_and_json(app.get("/search/?limit=1000").await).await;
    assert_eq!(listing["total"], 43);

    let (_, item) = status_and_json(app.get(&format!("/items/{target}")).await).await;
    assert_eq!(item["version"], 41, "each of the 40 updates bumped it once");
    let (_, history) =
        status_and_json(app.get(&format!("/items/{target}/history?limit=100")).await).await;
    assert_eq!(history["revisions"].as_array().unwrap().len(), 41);
    for id in &kept {
        let (_, item) = status_and_json(app.get(&format!("/items/{id}")).await).await;
        assert_eq!(item["version"], 1, "{item}");
        assert!(
            item["name"].as_str().unwrap().starts_with("Kept "),
            "{item}"
        );
        let (_, history) = status_and_json(app.get(&format!("/items/{id}/history")).await).await;
        assert_eq!(
            history["revisions"].as_array().unwrap().len(),
            1,
            "{history}"
        );
    }
}
