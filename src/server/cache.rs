//! Answers reused until the next write: REST's JSON pages and the UI's
//! rendered HTML alike.
//!
//! A page of 100 items costs far more to read and serialize than to send,
//! and catalogue traffic is mostly reads; even a single item's read and
//! serialization cost about a third of its request. Every answer is stored with the
//! store's revision at the time it was read; a write moves the revision on
//! and so retires every stored page at once. A request never sees data
//! older than the last write acknowledged before it started: it reads the
//! revision before it queries, and the store advances the revision only
//! after the commit and before acknowledging the write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::http::{HeaderName, HeaderValue};

/// Bytes of pages kept at most; a full cache simply stops storing until
/// the next write empties it.
const BUDGET_BYTES: usize = 8 * 1024 * 1024;

/// Pages by key (route and canonical query), for one store revision.
/// Pages are JSON bytes by default; the UI's cache keeps rendered HTML.
pub struct PageCache<P = Bytes> {
    inner: Mutex<Pages<P>>,
}

/// What a cached page costs in memory.
pub trait Weigh: Clone {
    fn bytes(&self) -> usize;
}

impl Weigh for Bytes {
    fn bytes(&self) -> usize {
        self.len()
    }
}

struct Pages<P> {
    revision: u64,
    bytes: usize,
    pages: HashMap<String, P>,
}

impl<P> Default for PageCache<P> {
    fn default() -> Self {
        PageCache {
            inner: Mutex::new(Pages {
                revision: 0,
                bytes: 0,
                pages: HashMap::new(),
            }),
        }
    }
}

impl<P: Weigh> PageCache<P> {
    /// The page stored under `key` at `revision`, if any.
    pub fn get(&self, revision: u64, key: &str) -> Option<P> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.revision != revision {
            return None;
        }
        inner.pages.get(key).cloned()
    }

    /// Stores a page read at `revision`. Pages of an older revision than
    /// the cache's are dropped; a newer one replaces every stored page.
    pub fn put(&self, revision: u64, key: String, page: P) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if revision < inner.revision {
            return;
        }
        if revision > inner.revision {
            inner.pages.clear();
            inner.bytes = 0;
            inner.revision = revision;
        }
        let key_len = key.len();
        let size = page.bytes() + key_len;
        if inner.bytes + size > BUDGET_BYTES {
            return;
        }
        if let Some(old) = inner.pages.insert(key, page) {
            inner.bytes -= old.bytes() + key_len;
        }
        inner.bytes += size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_served_only_at_its_revision() {
        let cache = PageCache::<Bytes>::default();
        cache.put(3, "items?".into(), Bytes::from_static(b"[1]"));
        assert_eq!(cache.get(3, "items?").as_deref(), Some(&b"[1]"[..]));
        assert_eq!(cache.get(4, "items?"), None);
        assert_eq!(cache.get(3, "items?limit=5"), None);
    }

    #[test]
    fn a_newer_revision_retires_older_pages_and_stale_ones_are_refused() {
        let cache = PageCache::<Bytes>::default();
        cache.put(1, "a".into(), Bytes::from_static(b"old"));
        cache.put(2, "b".into(), Bytes::from_static(b"new"));
        assert_eq!(cache.get(2, "a"), None);
        // A slow reader that started before the write must not store its
        // page over the newer revision.
        cache.put(1, "a".into(), Bytes::from_static(b"old"));
        assert_eq!(cache.get(1, "a"), None);
        assert_eq!(cache.get(2, "a"), None);
        assert_eq!(cache.get(2, "b").as_deref(), Some(&b"new"[..]));
    }

    #[test]
    fn the_budget_bounds_memory() {
        let cache = PageCache::<Bytes>::default();
        let page = Bytes::from(vec![b'x'; BUDGET_BYTES / 3]);
        for key in ["a", "b", "c", "d"] {
            cache.put(1, key.into(), page.clone());
        }
        assert!(cache.get(1, "b").is_some());
        assert!(cache.get(1, "d").is_none(), "over budget: not stored");
        let inner = cache.inner.lock().unwrap();
        assert!(inner.bytes <= BUDGET_BYTES);
    }
}

/// A listing answer of REST: JSON, and the `Link` header naming the pages
/// beside it (RFC 8288) when there are any. Made by `rest::cache`.
#[derive(Clone)]
pub struct JsonPage {
    pub body: Bytes,
    pub link: Option<HeaderValue>,
}

impl Weigh for JsonPage {
    fn bytes(&self) -> usize {
        self.body.len() + self.link.as_ref().map_or(0, HeaderValue::len)
    }
}

/// An item as `GET /items/{id}` answers it: its JSON and its ETag. Made
/// by `rest::items`.
#[derive(Clone)]
pub struct CachedItem {
    pub(crate) etag: [(HeaderName, HeaderValue); 1],
    pub(crate) json: Bytes,
}

impl Weigh for CachedItem {
    fn bytes(&self) -> usize {
        self.json.len() + self.etag[0].1.len()
    }
}

/// A rendered page of the UI, split where its nonce was (each answer gets
/// a nonce of its own). Made by `page_cache`.
#[derive(Clone)]
pub struct CachedPage {
    pub(crate) parts: Arc<[Bytes]>,
}

impl Weigh for CachedPage {
    fn bytes(&self) -> usize {
        self.parts.iter().map(Bytes::len).sum()
    }
}
