//! The `time` collector. STUB: reports no data until implemented.

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectError, CollectResult, Collector, Paths};

/// Flags of the `time` collector.
#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(_paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Stub))
}

struct Stub;

impl Collector for Stub {
    fn update(&self, _out: &mut Exposition) -> CollectResult {
        Err(CollectError::NoData("not implemented".into()))
    }
}
