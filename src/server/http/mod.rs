//! The front door: the accept loop ([`serve`]) and the layer every request
//! passes before it reaches a door ([`FrontLayer`]), one file per concern.
//!
//! It sits below the doors (REST, server functions, pages) and above the
//! seams: what it refuses it answers with its own [`Refusal`], which each
//! door renders in its own error shape ([`Doors`], given by startup).

mod compression;
pub mod forwarded;
mod front;
mod limits;
mod media_type;
mod refusal;
pub mod security;
mod serve;

pub use front::{request_id, FrontLayer, FrontService, LogSlot, RoutePatterns, REQUEST_ID};
pub use limits::{RequestLimits, MAX_BODY_BYTES};
pub use media_type::MediaType;
pub use refusal::{retry_after, Door, Doors, Refusal};
pub use serve::{serve, ConnectionLimits};
