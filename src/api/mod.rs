//! Server functions: the UI's door to the same seams the REST API uses.
//!
//! Each function is thin: validate with the shared domain rules, call the
//! store, map its error. On the browser side the macro turns them into
//! HTTP calls under `/rpc/`, clear of the REST paths.

mod items;
mod models;

pub use items::*;
pub use models::*;
