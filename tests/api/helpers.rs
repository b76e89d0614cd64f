use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use itemserve::server::config::{Config, Switch};

pub use crate::common::{test_config, TEST_ADMIN_PASSWORD};
use itemserve::server::startup::Application;
use reqwest::{Client, Response};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;

/// The PostgreSQL server the tests run against, from
/// `ITEMSERVE_TEST_POSTGRES` (`postgres://user@host:port/database`); when
/// unset they run on SQLite. `scripts/test` runs them both ways.
pub fn postgres_server() -> Option<String> {
    std::env::var("ITEMSERVE_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
}

/// Whether this run is against PostgreSQL; tests of SQLite's own file
/// handling skip themselves then (and say so).
pub fn skip_unless_sqlite(test: &str) -> bool {
    let skip = postgres_server().is_some();
    if skip {
        eprintln!("{test}: skipped, it tests the SQLite backend's own file");
    }
    skip
}

/// A database of a test's own: a SQLite file in a temporary folder, or a
/// new PostgreSQL database that is dropped afterwards.
pub enum TestDatabase {
    Sqlite(TempDir),
    Postgres { server: String, name: String },
}

impl TestDatabase {
    pub async fn new() -> TestDatabase {
        let Some(server) = postgres_server() else {
            return TestDatabase::Sqlite(tempfile::tempdir().expect("temp dir"));
        };
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "itemserve_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let (client, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at ITEMSERVE_TEST_POSTGRES={server}: {e}"));
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create a test database");
        TestDatabase::Postgres { server, name }
    }

    /// The `DATABASE_URL` of this database.
    pub fn url(&self) -> String {
        match self {
            TestDatabase::Sqlite(dir) => {
                format!("sqlite://{}", dir.path().join("items.db").display())
            }
            TestDatabase::Postgres { server, name } => {
                let (base, query) = server.split_once('?').unwrap_or((server, ""));
                let (host, _) = base.rsplit_once('/').expect("a database in the URL");
                let query = if query.is_empty() {
                    String::new()
                } else {
                    format!("?{query}")
                };
                format!("{host}/{name}{query}")
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let TestDatabase::Postgres { server, name } = self else {
            return;
        };
        let (server, name) = (server.clone(), name.clone());
        // Drop runs inside the test's runtime; a thread of its own may block.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&server, tokio_postgres::NoTls).await
                {
                    tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A running server with its own database.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _db: Option<TestDatabase>,
}

/// How a test server starts, from [`TestApp::with`]: a new database of
/// its own with the three demo items, unless told otherwise.
pub struct Spawn<'a> {
    seed: bool,
    database_url: Option<String>,
    adjust: Vec<Box<dyn FnOnce(&mut Config) + 'a>>,
}

impl<'a> Spawn<'a> {
    /// Without the demo items.
    pub fn empty(mut self) -> Self {
        self.seed = false;
        self
    }

    /// With logins on; the first user is `admin` with
    /// [`TEST_ADMIN_PASSWORD`].
    pub fn auth(self) -> Self {
        self.configure(|c| c.auth = Switch::On)
    }

    /// With the models in `dir`.
    pub fn models(self, dir: &std::path::Path) -> Self {
        let dir = dir.to_owned();
        self.configure(move |c| c.models_dir = dir)
    }

    /// With `adjust` applied to the test configuration (limits, timeouts).
    pub fn configure(mut self, adjust: impl FnOnce(&mut Config) + 'a) -> Self {
        self.adjust.push(Box::new(adjust));
        self
    }

    /// On an existing database (for restarts), which outlives the server.
    pub fn database(mut self, url: &str) -> Self {
        self.database_url = Some(url.to_owned());
        self
    }

    pub async fn start(self) -> TestApp {
        let (db, url) = match self.database_url {
            Some(url) => (None, url),
            None => {
                let db = TestDatabase::new().await;
                let url = db.url();
                (Some(db), url)
            }
        };
        let mut config = test_config(&url);
        config.seed_demo_items = self.seed;
        for adjust in self.adjust {
            adjust(&mut config);
        }
        let mut app = TestApp::start_with(&config).await;
        app._db = db;
        app
    }
}

impl TestApp {
    /// A server on a new database holding the three demo items.
    pub async fn spawn() -> TestApp {
        Self::with().start().await
    }

    /// A server to be described, then started (see [`Spawn`]).
    pub fn with<'a>() -> Spawn<'a> {
        Spawn {
            seed: true,
            database_url: None,
            adjust: Vec::new(),
        }
    }

    /// A server with exactly this configuration.
    pub async fn start_with(config: &Config) -> TestApp {
        let app = Application::build(config).await.expect("app starts");
        let addr = app.addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app.run_until(async {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
        });
        TestApp {
            addr,
            client: Client::builder().build().unwrap(),
            stop: Some(stop),
            server: Some(server),
            _db: None,
        }
    }

    /// Stops the server gracefully and waits until it is gone; the
    /// database stays so that it can be reopened.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task ends cleanly");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The database the server was started on, when it made its own.
    pub fn database(&self) -> Option<&TestDatabase> {
        self._db.as_ref()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .put(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.client
            .delete(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// Sends a raw body with the given content type.
    pub async fn send_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Response {
        self.client
            .request(method, self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request")
    }

    /// POSTs a raw body with exactly these headers (none added, not even a
    /// content type).
    pub async fn post_with_headers(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Response {
        let mut request = self.client.post(self.url(path)).body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.send().await.expect("request")
    }

    /// Logs in through `POST /auth/token` (the OAuth2 form) and returns
    /// the whole answer.
    pub async fn login(&self, name: &str, password: &str) -> Response {
        self.client
            .post(self.url("/auth/token"))
            .form(&[("username", name), ("password", password)])
            .send()
            .await
            .expect("request")
    }

    /// An access token for `name`.
    pub async fn token(&self, name: &str, password: &str) -> String {
        let response = self.login(name, password).await;
        assert_eq!(response.status(), 200, "logging in as {name}");
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// An access token for the first admin.
    pub async fn admin_token(&self) -> String {
        self.token("admin", TEST_ADMIN_PASSWORD).await
    }

    /// Adds a user with `role` (password `password-of-NAME`) and returns an
    /// access token for them.
    pub async fn user_token(&self, admin: &str, name: &str, role: &str) -> String {
        let password = format!("password-of-{name}");
        let response = self
            .client
            .post(self.url("/users"))
            .bearer_auth(admin)
            .json(&serde_json::json!({"name": name, "password": password, "role": role}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "adding {name}");
        self.token(name, &password).await
    }

    /// Changes user `id` as `admin` (`PATCH /users/{id}`); expects 200.
    pub async fn change_user(&self, admin: &str, id: &Value, changes: Value) {
        let response = self
            .call(
                reqwest::Method::PATCH,
                &format!("/users/{id}"),
                Some(admin),
                Some(&changes),
            )
            .await;
        assert_eq!(response.status(), 200, "changing user {id}: {changes}");
    }

    /// Sends `method path` with a JSON body and an optional bearer token.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request")
    }

    /// Creates an item and returns its JSON.
    pub async fn create(&self, body: Value) -> Value {
        let response = self.post_json("/items/", &body).await;
        assert_eq!(response.status(), 201, "creating {body}");
        response.json().await.unwrap()
    }
}

/// Every row of a paged listing under `key` (`items`, `entries`),
/// following `next` from `path` as `token`; each `next` must also be the
/// page's `Link` header, and the last page has neither.
pub async fn all_pages(app: &TestApp, path: &str, token: Option<&str>, key: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut path = path.to_owned();
    loop {
        let response = app.call(reqwest::Method::GET, &path, token, None).await;
        let link = response
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_owned());
        let (status, page) = status_and_json(response).await;
        assert_eq!(status, 200, "{path}: {page}");
        rows.extend(page[key].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => {
                assert_eq!(link, Some(format!("<{next}>; rel=\"next\"")));
                path = next.to_owned();
            }
            None => {
                assert_eq!(link, None, "the last page links nowhere");
                return rows;
            }
        }
    }
}

/// The nonce a page's Content-Security-Policy names (`'nonce-…'`).
pub fn page_nonce(response: &Response) -> String {
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    csp.split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no nonce in {csp}"))
        .to_owned()
}

/// Status and JSON body of a response.
pub async fn status_and_json(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, json)
}

/// The `(loc, type)` pairs of a 422 body.
pub fn error_locs(body: &Value) -> Vec<(String, String)> {
    body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("no detail list in {body}"))
        .iter()
        .map(|d| {
            let loc: Vec<String> = d["loc"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    p.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| p.to_string())
                })
                .collect();
            (loc.join("."), d["type"].as_str().unwrap().to_owned())
        })
        .collect()
}

pub fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}
