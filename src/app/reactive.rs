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

/// `resource.await`, or `None` once the resource was disposed.
pub async fn try_await<T, Ser>(resource: Resource<T, Ser>) -> Option<T>
where
    T: Clone + Send + Sync + 'static,
{
    if resource.is_disposed() {
        return None;
    }
    Some(resource.await)
}
