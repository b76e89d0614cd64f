//! Everything that runs only on the server (feature `ssr`).

pub mod assets;
pub mod auth;
pub mod cache;
pub mod commands;
pub mod config;
pub mod http;
pub mod inference;
pub mod page_cache;
pub mod pages;
pub mod rate;
pub mod rest;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod transfer;
