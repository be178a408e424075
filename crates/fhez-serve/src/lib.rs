#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod api;
pub mod cli;
pub mod client;
pub mod fixture;
pub mod latency;
pub mod server;
pub mod store;

pub use api::{
    KEY_ID_HEADER, KeyRegistered, LatencyInfo, Mode, ModelInfo, ModelList, OWNER_TOKEN_HEADER,
};
pub use client::{Client, ClientError, LatencySession, Retry, Rotation, SamplePrediction, Session};
pub use server::{ServeError, Server, ServerConfig, serve, shutdown_signal};
pub use store::{CacheLimits, KeyRecord, KeyStore, Quotas, Removal, StoreError, key_id_of};
