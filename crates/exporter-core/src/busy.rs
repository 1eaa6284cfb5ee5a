//! What a daemon is busy with, by name, so that a shutdown which stops waiting can say what it
//! left behind: `collector textfile=1, connections=2`.
//!
//! Each kind of work is registered once, when the daemon is built (linkerd2-proxy's
//! `register(registry)` shape): either a counter that [`crate::InFlight`] guards move up and down
//! on every path out, or a probe read only when asked (a count the component keeps anyway).
//! Nothing is read on the hot path; [`Busy::summary`] is called at most twice per process.

use std::borrow::Cow;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

type ProbeFn = Box<dyn Fn() -> usize + Send + Sync>;

enum Source {
    Counter(Arc<AtomicI64>),
    Probe(ProbeFn),
}

impl Source {
    fn read(&self) -> usize {
        match self {
            Source::Counter(c) => usize::try_from(c.load(Ordering::Relaxed)).unwrap_or(0),
            Source::Probe(f) => f(),
        }
    }
}

/// The registry. Shared as an `Arc` between the server, the daemon's components and the signal
/// handler.
#[derive(Default)]
pub struct Busy {
    entries: Mutex<Vec<(Cow<'static, str>, Source)>>,
}

impl Busy {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A counter for one kind of work (`"collector textfile"`); hold an
    /// [`InFlight`](crate::InFlight) guard on it while the work runs.
    pub fn counter(&self, what: impl Into<Cow<'static, str>>) -> Arc<AtomicI64> {
        let counter = Arc::new(AtomicI64::new(0));
        self.push(what.into(), Source::Counter(counter.clone()));
        counter
    }

    /// A count the component keeps itself (open proxy connections, calls stuck in the kernel),
    /// read only by [`Busy::summary`].
    pub fn probe(
        &self,
        what: impl Into<Cow<'static, str>>,
        probe: impl Fn() -> usize + Send + Sync + 'static,
    ) {
        self.push(what.into(), Source::Probe(Box::new(probe)));
    }

    fn push(&self, what: Cow<'static, str>, source: Source) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.push((what, source));
    }

    /// The work still running, as `what=count` pairs in registration order; `None` when idle.
    pub fn summary(&self) -> Option<String> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let parts: Vec<String> = entries
            .iter()
            .filter_map(|(what, source)| match source.read() {
                0 => None,
                n => Some(format!("{what}={n}")),
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InFlight;

    #[test]
    fn names_only_what_is_running() {
        let busy = Busy::new();
        let textfile = busy.counter("collector textfile");
        let _cpu = busy.counter("collector cpu");
        let open = Arc::new(AtomicI64::new(0));
        let probed = open.clone();
        busy.probe("connections", move || {
            probed.load(Ordering::Relaxed) as usize
        });
        assert_eq!(busy.summary(), None);

        let guard = InFlight::enter(&textfile);
        open.store(2, Ordering::Relaxed);
        assert_eq!(
            busy.summary().as_deref(),
            Some("collector textfile=1, connections=2")
        );
        drop(guard);
        open.store(0, Ordering::Relaxed);
        assert_eq!(busy.summary(), None);
    }
}
