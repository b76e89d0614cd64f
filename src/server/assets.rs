//! The site's static files: the browser bundle (script, WASM and its
//! lazily loaded chunks, stylesheet) and the public folder, served with the
//! caching and compression a browser needs.
//!
//! The release build (`cargo xtask build`, or cargo-leptos with
//! `hash-files` in Cargo.toml) names every file of the bundle after a hash
//! of its content (`pkg/itemserve.mS1x….wasm`) and writes the hashes to
//! `hash.txt` beside the server binary, where Leptos reads the names the
//! page must load. Those files never change under their name, so
//! they may be cached for a year (`immutable`); pages are never cached, so a
//! new build is picked up on the next page load and an old WASM file is
//! never paired with new HTML. The bundle under plain names (builds without
//! hashes) revalidates (`no-cache`); the public folder's files (the icon)
//! stay fresh for an hour. A file with a `.br` or `.gz` sibling (made by
//! the release build) goes out compressed to clients that accept it.

use std::path::PathBuf;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, VARY};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use leptos::config::LeptosOptions;
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// Content-hashed names: the content never changes under them.
static IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
/// The bundle under plain names (a build without hashes, as in tests and
/// debug runs): ask the server each time (a 304 when unchanged).
static REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");
/// The public folder (the icon): fresh for an hour, so a reload does not
/// ask for it again; a changed icon shows within the hour.
static ONE_HOUR: HeaderValue = HeaderValue::from_static("public, max-age=3600");
static ACCEPT_ENCODING: HeaderValue = HeaderValue::from_static("accept-encoding");

/// The hashes the release build wrote, if it hashed file names:
/// `hash.txt` (or `LEPTOS_HASH_FILE_NAME`) beside the running binary.
pub fn build_hashes(hash_file: &str) -> Option<BuildHashes> {
    let path = std::env::current_exe().ok()?.parent()?.join(hash_file);
    let text = std::fs::read_to_string(path).ok()?;
    let mut hashes = BuildHashes::default();
    for line in text.lines() {
        if let Some((kind, hash)) = line.split_once(':') {
            let hash = hash.trim().to_owned();
            match kind.trim() {
                "js" => hashes.js = hash,
                "wasm" => hashes.wasm = hash,
                "css" => hashes.css = hash,
                _ => {}
            }
        }
    }
    (!hashes.js.is_empty() && !hashes.wasm.is_empty()).then_some(hashes)
}

/// The content hashes in the bundle's file names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildHashes {
    pub js: String,
    pub wasm: String,
    pub css: String,
}

/// The site's static files and how to cache them.
#[derive(Debug)]
pub struct SiteAssets {
    /// The site folder, with its precompressed copies.
    files: ServeDir,
    /// Where the site folder is.
    root: PathBuf,
    /// `/pkg/` (the bundle's folder, as a URL prefix).
    pkg_prefix: String,
    /// The bundle's base name (`itemserve`).
    name: String,
    /// Whether the bundle's files carry content hashes in their names.
    hashed: bool,
    /// The stylesheet's URL: hashed, or its plain name under `cargo leptos
    /// watch` (see [`SiteAssets::stylesheet`]).
    stylesheet: String,
    /// Under `cargo leptos watch` the bundle is rebuilt, and renamed, while
    /// the server runs: the hash file to read the current names from on
    /// each page (as Leptos does for the script and WASM).
    watched_hash_file: Option<String>,
    /// Under `cargo leptos watch`, the port of its live-reload websocket.
    live_reload_port: Option<u32>,
}

impl SiteAssets {
    /// The site under the site root of `options`; `hashes` are the build's
    /// content hashes when its file names carry them. A missing bundle is
    /// not an error (the REST API works without it), but is logged.
    pub fn new(options: &LeptosOptions, hashes: Option<&BuildHashes>) -> SiteAssets {
        let watched = std::env::var_os("LEPTOS_WATCH").is_some();
        SiteAssets::with_watch(options, hashes, watched)
    }

    /// As [`SiteAssets::new`], `watched` saying whether `cargo leptos watch`
    /// runs the server.
    fn with_watch(
        options: &LeptosOptions,
        hashes: Option<&BuildHashes>,
        watched: bool,
    ) -> SiteAssets {
        let root = PathBuf::from(options.site_root.as_ref());
        let pkg = options.site_pkg_dir.as_ref().trim_matches('/');
        let name = options.output_name.as_ref();
        let script = match hashes {
            Some(h) => format!("{name}.{}.js", h.js),
            None => format!("{name}.js"),
        };
        let script = root.join(pkg).join(script);
        if !script.is_file() {
            tracing::warn!(
                missing = %script.display(),
                "the site folder holds no browser bundle of this build: pages will not hydrate \
                 (build both with `cargo xtask build`, and point LEPTOS_SITE_ROOT at its site folder)"
            );
        }
        let pkg_prefix = format!("/{pkg}/");
        SiteAssets {
            stylesheet: stylesheet_url(&pkg_prefix, name, hashes.filter(|_| !watched)),
            files: ServeDir::new(&root)
                .append_index_html_on_directories(false)
                .precompressed_br()
                .precompressed_gzip(),
            root,
            pkg_prefix,
            name: name.to_owned(),
            hashed: hashes.is_some(),
            watched_hash_file: watched.then(|| options.hash_file.to_string()),
            live_reload_port: watched
                .then(|| options.reload_external_port.unwrap_or(options.reload_port)),
        }
    }

    /// Whether the bundle may be rebuilt under the running server
    /// (`cargo leptos watch`), so pages naming its files must not be kept.
    pub fn is_watched(&self) -> bool {
        self.watched_hash_file.is_some()
    }

    /// Under `cargo leptos watch`, the port its live-reload script connects
    /// to (on the page's host), which the page's policy must allow.
    pub fn live_reload_port(&self) -> Option<u32> {
        self.live_reload_port
    }

    /// The stylesheet's URL. Under `cargo leptos watch` it is the plain
    /// name, which Leptos's live-reload script looks for to swap in a
    /// rebuilt stylesheet (the page's link would never match a hashed name);
    /// [`SiteAssets::respond`] answers it with the current build's file.
    pub fn stylesheet(&self) -> &str {
        &self.stylesheet
    }

    /// Answers a GET or HEAD `request` from the site's files, or `None` when
    /// no file has its path (the caller renders the 404 page).
    pub async fn respond(&self, mut request: Request) -> Option<Response> {
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            return None;
        }
        let mut cache = match request.uri().path().starts_with(&self.pkg_prefix) {
            true if self.hashed => &IMMUTABLE,
            true => &REVALIDATE,
            false => &ONE_HOUR,
        };
        if let Some(file) = &self.watched_hash_file {
            // The stylesheet under its plain name (see `stylesheet`), asked
            // for again on every page: cargo-leptos writes a build's
            // stylesheet under its hashed name and a restyle alone under the
            // plain one; the newer of the two is current.
            let plain = &self.stylesheet;
            if request.uri().path() == plain {
                let hashed =
                    stylesheet_url(&self.pkg_prefix, &self.name, build_hashes(file).as_ref());
                let modified = |url: &str| {
                    let path = self.root.join(url.trim_start_matches('/'));
                    std::fs::metadata(path).and_then(|m| m.modified()).ok()
                };
                let newer_hashed = match (modified(plain), modified(&hashed)) {
                    (Some(plain), Some(hashed)) => hashed > plain,
                    (plain, _) => plain.is_none(),
                };
                if newer_hashed {
                    if let Ok(uri) = hashed.parse() {
                        *request.uri_mut() = uri;
                    }
                }
                cache = &REVALIDATE;
            }
        }
        let mut response = match self.files.clone().oneshot(request).await {
            Ok(response) => response.map(Body::new),
            Err(never) => match never {},
        };
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return None;
        }
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            let headers = response.headers_mut();
            headers.insert(CACHE_CONTROL, cache.clone());
            // The same URL answers brotli, gzip or plain bytes.
            headers.insert(VARY, ACCEPT_ENCODING.clone());
        }
        Some(response)
    }
}

/// `/pkg/itemserve.css`, with the build's hash when it has one.
fn stylesheet_url(pkg_prefix: &str, name: &str, hashes: Option<&BuildHashes>) -> String {
    match hashes {
        Some(h) if !h.css.is_empty() => format!("{pkg_prefix}{name}.{}.css", h.css),
        _ => format!("{pkg_prefix}{name}.css"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(root: &std::path::Path) -> LeptosOptions {
        LeptosOptions::builder()
            .output_name("itemserve")
            .site_root(root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .build()
    }

    #[test]
    fn the_stylesheet_is_named_by_the_build_hash() {
        let dir = tempfile::tempdir().unwrap();
        let hashes = BuildHashes {
            js: "a1".into(),
            wasm: "b2".into(),
            css: "c3".into(),
        };
        let assets = SiteAssets::new(&options(dir.path()), Some(&hashes));
        assert_eq!(assets.stylesheet(), "/pkg/itemserve.c3.css");
        let plain = SiteAssets::new(&options(dir.path()), None);
        assert_eq!(plain.stylesheet(), "/pkg/itemserve.css");
    }

    #[tokio::test]
    async fn under_watch_the_stylesheet_has_its_plain_name_and_the_current_content() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("pkg")).unwrap();
        std::fs::write(
            dir.path().join("pkg/itemserve.c3.css"),
            "body { color: red }",
        )
        .unwrap();
        // The hash file is read beside the running binary, as the server's is.
        let hash_file = format!("assets-test-hash-{}.txt", std::process::id());
        let hash_path = std::env::current_exe().unwrap().with_file_name(&hash_file);
        std::fs::write(&hash_path, "js: a1\nwasm: b2\ncss: c3\n").unwrap();
        let mut options = options(dir.path());
        options.hash_file = hash_file.into();
        let hashes = build_hashes(&options.hash_file);
        let assets = SiteAssets::with_watch(&options, hashes.as_ref(), true);
        assert_eq!(assets.stylesheet(), "/pkg/itemserve.css");
        assert_eq!(assets.live_reload_port(), Some(options.reload_port));
        let served = || async {
            let request = Request::get("/pkg/itemserve.css")
                .body(Body::empty())
                .unwrap();
            let response = assets.respond(request).await.expect("served");
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()[CACHE_CONTROL], "no-cache");
            axum::body::to_bytes(response.into_body(), 1024)
                .await
                .unwrap()
        };
        // Only the build's hashed file.
        assert_eq!(served().await, "body { color: red }");
        // A restyle: cargo-leptos writes the plain name, which is newer.
        let hashed = std::fs::File::options()
            .write(true)
            .open(dir.path().join("pkg/itemserve.c3.css"))
            .unwrap();
        let now = std::time::SystemTime::now();
        let minute = std::time::Duration::from_secs(60);
        hashed.set_modified(now - minute).unwrap();
        std::fs::write(dir.path().join("pkg/itemserve.css"), "body { color: blue }").unwrap();
        assert_eq!(served().await, "body { color: blue }");
        // A later build: the hashed file is newer again.
        hashed.set_modified(now + minute).unwrap();
        assert_eq!(served().await, "body { color: red }");
        std::fs::remove_file(&hash_path).unwrap();
        // Without watch the page names the hashed file.
        let plain = SiteAssets::with_watch(&options, hashes.as_ref(), false);
        assert_eq!(plain.stylesheet(), "/pkg/itemserve.c3.css");
        assert_eq!(plain.live_reload_port(), None);
    }

    #[test]
    fn no_hash_file_beside_a_test_binary() {
        assert_eq!(build_hashes("no-such-hash-file.txt"), None);
    }
}
