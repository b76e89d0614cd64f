//! Black-box tests: each starts the real server on a random port with a
//! fresh database and talks HTTP to it. The database is SQLite, or a new
//! PostgreSQL database per test when `ITEMSERVE_TEST_POSTGRES` names a
//! server (`scripts/test` runs the suite both ways).

#[path = "../common/mod.rs"]
mod common;
mod helpers;

mod audit;
mod auth;
mod bulk;
mod concurrency;
mod docs;
mod drift;
mod errors;
mod events;
mod fuzz;
mod hardening;
mod history;
mod hot_reload;
mod ids;
mod items;
mod limits;
mod models;
mod observability;
mod pages;
mod paging;
mod patch;
mod persistence;
mod postgres;
mod repository;
mod rpc;
mod search;
mod transfer;
mod trash;
mod trees;
mod v2;
