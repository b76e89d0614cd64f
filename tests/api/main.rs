//! Black-box tests: each starts the real server on a random port with a
//! fresh temporary database and talks HTTP to it.

mod helpers;

mod auth;
mod concurrency;
mod docs;
mod errors;
mod fuzz;
mod hot_reload;
mod ids;
mod items;
mod limits;
mod models;
mod observability;
mod pages;
mod patch;
mod persistence;
mod search;
mod v2;
