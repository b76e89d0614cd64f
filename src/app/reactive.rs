//! Reads that may run after their value was disposed. On the server, Leptos
//! can run a view closure, memo, derived signal or `Suspend` body after the
//! owner of what it reads was disposed (a `Suspend` re-rendered or
//! dry-resolved, a response finished or cancelled while a task still runs);
//! `.get()`, `.with()`, `.read()` and `.await` then panic. `Suspend` bodies
//! use [`suspend`], which keeps the page alive while they build it; reads
//! in closures that can run later use [`Live`] (or a `try_..._untracked`
//! read) and fall back instead.

use std::future::Future;
use std::ops::Deref;

use leptos::prelude::*;

/// Reads that fall back once the value was disposed, for views and
/// closures that a server render can run after their page was disposed
/// (a `Suspend` resolved after its request was cancelled, on another
/// thread). Leptos's own `try_` reads do not help there: they track, and
/// tracking checks that the value is alive and then looks it up again,
/// which panics if it was disposed in between. A server render reads each
/// value once, so on the server these read without tracking; the browser,
/// on one thread, tracks.
pub trait Live: Track + ReadUntracked {
    /// `try_with`, without the race on the server.
    #[track_caller]
    fn live_with<U>(&self, fun: impl FnOnce(&<Self::Value as Deref>::Target) -> U) -> Option<U> {
        if cfg!(feature = "ssr") {
            self.try_read_untracked().map(|value| fun(&value))
        } else {
            self.try_read().map(|value| fun(&value))
        }
    }

    /// `try_get`, without the race on the server.
    #[track_caller]
    fn live_get(&self) -> Option<<Self::Value as Deref>::Target>
    where
        <Self::Value as Deref>::Target: Clone,
    {
        self.live_with(Clone::clone)
    }

    /// `get`, or `fallback` once the value was disposed.
    #[track_caller]
    fn get_or(&self, fallback: <Self::Value as Deref>::Target) -> <Self::Value as Deref>::Target
    where
        <Self::Value as Deref>::Target: Clone + Sized,
    {
        self.live_get().unwrap_or(fallback)
    }
}

impl<S: Track + ReadUntracked> Live for S {}

/// `Suspend::new(body)` for a server render that a cancelled request can
/// dispose of while the body runs (Leptos resolves `Suspend`s in tasks of
/// their own, on any thread): the page (the request's root owner) is kept
/// alive while the body runs, so the components it builds never meet a
/// value disposed under them. The page is held weakly until the body
/// starts: a page already gone renders nothing. The bodies' views are
/// erased, so that they share one `Suspend` type.
pub fn suspend<V: IntoAny>(body: impl Future<Output = V> + Send + 'static) -> Suspend<AnyView> {
    let page = current_page();
    Suspend::new(async move {
        match keep(&page) {
            Some(_alive) => body.await.into_any(),
            None => ().into_any(),
        }
    })
}

/// The root owner of what is being built now, held weakly.
fn current_page() -> Option<WeakOwner> {
    let mut owner = Owner::current()?;
    while let Some(parent) = owner.parent() {
        owner = parent;
    }
    Some(owner.downgrade())
}

/// `Some` (holding the page alive if there is one) unless the page is gone.
fn keep(page: &Option<WeakOwner>) -> Option<Option<Owner>> {
    match page {
        Some(page) => page.upgrade().map(Some),
        None => Some(None),
    }
}

/// A resource that `Suspend`s await, as a `Copy` handle. The resource
/// itself is reference-counted (`ArcResource`): on the server a `Suspend`
/// can run on after its request was cancelled and its page disposed, from
/// another thread, and an arena-owned `Resource` can then be disposed
/// between checking it and awaiting it (Leptos panics on that await). Here
/// the handle is checked and the resource taken in one step, and once taken
/// it lives as long as the await needs it.
pub struct KeptResource<
    T: Send + Sync + 'static,
    Ser: 'static = leptos::server::codee::string::JsonSerdeCodec,
>(StoredValue<ArcResource<T, Ser>>);

impl<T: Send + Sync + 'static, Ser: 'static> Clone for KeptResource<T, Ser> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static, Ser: 'static> Copy for KeptResource<T, Ser> {}

impl<T: Send + Sync + 'static, Ser: Send + Sync + 'static> KeptResource<T, Ser> {
    pub fn new(resource: ArcResource<T, Ser>) -> Self {
        KeptResource(StoredValue::new(resource))
    }
}

/// `resource.await`, or `None` once its page was disposed.
pub async fn try_await<T, Ser>(resource: KeptResource<T, Ser>) -> Option<T>
where
    T: Clone + Send + Sync + 'static,
    Ser: Send + Sync + 'static,
{
    let resource = resource.0.try_get_value()?;
    Some(resource.await)
}
