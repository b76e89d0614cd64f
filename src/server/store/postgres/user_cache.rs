//! The users that bearer-token requests name, kept in memory while this
//! instance is sure to hear of every change to them.
//!
//! Every request with an access token reads its user (a disabled user or a
//! lowered role must take effect at once, not when the token expires). On
//! PostgreSQL that read is a round trip and a backend's CPU on every write
//! request, a large share of what a durable create costs (figures in
//! docs/benchmarks.md).
//!
//! A user change commits together with a `NOTIFY itemserve_users` (see
//! `users.rs`), which PostgreSQL delivers to every listening instance once
//! the change is committed; `listen.rs` hears it and empties this cache.
//! The cache answers only while that listening connection is up — it is
//! emptied and bypassed from the moment the connection is found broken
//! until a new `LISTEN` is in place — and an entry older than [`TTL`] is
//! read again as a safety net (a user changed by hand in SQL sends no
//! notification). A lookup that raced with a change (it read the database
//! before the change, and the notification arrived before it could store
//! its answer) does not store it: every change moves an epoch, and a
//! lookup stores only if the epoch it started under is still current.
//!
//! What is left: on the instance that made the change, it takes effect
//! before the change is answered; on the others, as soon as they hear the
//! notification (a millisecond or so on one network).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::User;

/// How long an entry is used before the user is read again, even though no
/// change was heard.
pub(super) const TTL: Duration = Duration::from_secs(5);

/// Most users kept; beyond it the cache starts again empty (it refills
/// with the users that are active).
const MOST: usize = 10_000;

/// The channel user changes are announced on.
pub(super) const CHANNEL: &str = "itemserve_users";

#[derive(Default)]
pub(super) struct UserCache {
    entries: Mutex<HashMap<i64, (User, Instant)>>,
    /// Moves on every change heard (and every loss of the connection).
    epoch: AtomicU64,
    /// Whether this instance is listening for user changes right now.
    listening: AtomicBool,
}

impl UserCache {
    /// The cached user `id`, if there is a fresh entry and changes can be
    /// heard.
    pub fn get(&self, id: i64) -> Option<User> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(&id)
            .filter(|(_, read)| read.elapsed() < TTL)
            .map(|(user, _)| user.clone())
    }

    /// Where changes stand: pass it to [`UserCache::put`] with what was
    /// read after taking it.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Keeps `user`, read from the database after [`UserCache::epoch`]
    /// answered `epoch`, unless a change was heard since.
    pub fn put(&self, user: &User, epoch: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Checked under the lock that `forget_all` takes after moving the
        // epoch: either this sees the new epoch, or the entry is cleared.
        if self.epoch.load(Ordering::Acquire) != epoch || !self.listening.load(Ordering::Acquire) {
            return;
        }
        if entries.len() >= MOST {
            entries.clear();
        }
        entries.insert(user.id, (user.clone(), Instant::now()));
    }

    /// A user changed (here or on another instance): nothing cached so far
    /// is used again.
    pub fn forget_all(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The listening connection is up (a `LISTEN` is in place) or lost.
    pub fn set_listening(&self, listening: bool) {
        if !listening {
            self.listening.store(false, Ordering::Release);
            self.forget_all();
        } else {
            self.forget_all();
            self.listening.store(true, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    fn user(id: i64, role: Role) -> User {
        User {
            id,
            name: format!("user {id}"),
            role,
            disabled: false,
            created_at: String::new(),
            updated_at: String::new(),
            token_generation: 0,
        }
    }

    #[test]
    fn nothing_is_kept_or_answered_while_not_listening() {
        let cache = UserCache::default();
        cache.put(&user(1, Role::Editor), cache.epoch());
        assert!(cache.get(1).is_none());
        cache.set_listening(true);
        cache.put(&user(1, Role::Editor), cache.epoch());
        assert_eq!(cache.get(1).map(|u| u.role), Some(Role::Editor));
        cache.set_listening(false);
        assert!(cache.get(1).is_none());
        cache.set_listening(true);
        assert!(
            cache.get(1).is_none(),
            "entries from before a loss are gone"
        );
    }

    #[test]
    fn a_lookup_that_raced_with_a_change_is_not_kept() {
        let cache = UserCache::default();
        cache.set_listening(true);
        let before = cache.epoch();
        cache.forget_all(); // the change is heard while the lookup runs
        cache.put(&user(1, Role::Admin), before);
        assert!(cache.get(1).is_none());
        cache.put(&user(1, Role::Viewer), cache.epoch());
        assert_eq!(cache.get(1).map(|u| u.role), Some(Role::Viewer));
    }
}
