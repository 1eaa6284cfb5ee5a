//! The Prometheus text format: the writer every daemon renders its metrics with ([`writer`]), a
//! strict parser for text that others wrote ([`parser`], node-exporter's textfile collector),
//! and text compressed once and served to many scrapes ([`shared`]).

pub mod go;
pub mod parser;
pub mod shared;
pub mod writer;

pub use shared::{SharedText, SharedTextWriter};
pub use writer::{format_float, Exposition, Family, MetricType, CONTENT_TYPE};
