//! The mailbox store from outside: durability across restarts and crashes, and data
//! directories written by earlier versions of redb still opening and reading back exactly.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

mod durability;
mod format;
