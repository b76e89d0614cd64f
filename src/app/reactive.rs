//! Reads that may run after their value was disposed. On the server, Leptos
//! can run a view closure, memo, derived signal or `Suspend` body after the
//! owner of what it reads was disposed (a `Suspend` re-rendered or
//! dry-resolved, a response finished while a resource task still runs);
//! `.get()`, `.with()`, `.read()` and `.await` then panic. Reads in code that
//! can run there use these (or a `try_` method) and fall back instead.

use leptos::prelude::*;

/// `.get()` that returns `fallback` once the value was disposed.
pub trait GetOr: Get {
    fn get_or(&self, fallback: <Self as Get>::Value) -> <Self as Get>::Value;
}

impl<S: Get> GetOr for S {
    #[track_caller]
    fn get_or(&self, fallback: <S as Get>::Value) -> <S as Get>::Value {
        self.try_get().unwrap_or(fallback)
    }
}

/// The value of `signal`, or `fallback` once it was disposed, for a view
/// that a server render resolves inside a `Suspend`. That can run on after
/// a cancelled request disposed of its page, on another thread, and
/// tracking a signal disposed at that very moment panics in Leptos (it
/// checks, then looks the signal up again). A server render reads each
/// value once, so the server reads without tracking; the browser, on one
/// thread, tracks.
pub fn suspended_get_or<T: Clone + Send + Sync + 'static>(signal: RwSignal<T>, fallback: T) -> T {
    if cfg!(feature = "ssr") {
        signal.try_get_untracked()
    } else {
        signal.try_get()
    }
    .unwrap_or(fallback)
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
