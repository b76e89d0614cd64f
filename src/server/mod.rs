//! Everything that runs only on the server (feature `ssr`).

pub mod assets;
pub mod auth;
pub mod compression;
pub mod config;
pub mod forwarded;
pub mod inference;
pub mod limits;
pub mod page_cache;
pub mod rest;
pub mod rpc;
pub mod security;
pub mod serve;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
