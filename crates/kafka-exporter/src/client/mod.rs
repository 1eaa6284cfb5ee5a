//! kafka-exporter's own Kafka admin client: the nine requests an exporter needs, over the
//! `kafka-protocol` crate's codecs, on tokio.
//!
//! Why not librdkafka: its coordinator-request path aborts the process when a group's coordinator
//! dies (librdkafka #4605) and keeps waiting for a dead coordinator (crate README, "Kafka
//! client"). Here every retry and coordinator decision is ours to see and test:
//! - [`connection`]: one socket per broker, requests pipelined by correlation id, poisoned on any
//!   error so that no request waits out a timeout on a dead socket;
//! - [`auth`]: TLS and SASL ([`gssapi`]: Kerberos through MIT's library, loaded at run time); [`token`]: bearer tokens for OAUTHBEARER, cached until near expiry;
//! - [`cluster`]: brokers from metadata, connections by broker, the coordinator cache, and the
//!   batched requests the collector makes.

pub mod auth;
pub mod aws_iam;
pub mod cluster;
pub mod connection;
pub mod gssapi;
pub mod oidc;
pub mod token;

use std::time::Duration;

pub use cluster::Cluster;

/// Why a request failed. Every variant names the broker; none carries a credential.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    #[error("{broker}: connecting: {cause}")]
    Connect { broker: String, cause: String },
    #[error("{broker}: TLS: {cause}")]
    Tls { broker: String, cause: String },
    #[error("{broker}: SASL authentication failed: {cause}")]
    Auth { broker: String, cause: String },
    #[error("{broker}: connection lost: {cause}")]
    Connection { broker: String, cause: String },
    #[error("{broker}: {request} timed out after {after:?}")]
    Timeout {
        broker: String,
        request: &'static str,
        after: Duration,
    },
    #[error("{broker}: {request}: {cause}")]
    Protocol {
        broker: String,
        request: &'static str,
        cause: String,
    },
    #[error("{broker}: {request}: error code {code} ({})", error_name(*code))]
    Broker {
        broker: String,
        request: &'static str,
        code: i16,
    },
    #[error("{broker}: the broker does not support a version of {request} we speak")]
    Unsupported {
        broker: String,
        request: &'static str,
    },
    #[error("no broker reachable (tried {tried})")]
    NoBroker { tried: String },
}

/// The name of a Kafka error code, for messages.
pub fn error_name(code: i16) -> String {
    use kafka_protocol::error::ParseResponseErrorCode;
    match code.err() {
        Some(e) => format!("{e:?}"),
        None => "NONE".into(),
    }
}

/// Error codes that mean "ask the coordinator again": COORDINATOR_LOAD_IN_PROGRESS,
/// COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR.
pub fn is_coordinator_error(code: i16) -> bool {
    matches!(code, 14..=16)
}
