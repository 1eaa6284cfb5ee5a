//! Where collector work runs: on the runtime's blocking pool when there is one, else on a new
//! thread (unit tests without a runtime).
//!
//! The pool keeps idle threads for a while, so a scrape every 15 s reuses the same few threads
//! instead of paying for thread creation every time. A job stuck in the kernel (a hung NFS mount,
//! node_exporter issue #244) keeps its thread; the pool starts another one for the next job, so
//! later scrapes are not starved by it.

use std::io;

/// Runs `f` detached: nobody joins it, callers collect its result through a channel.
pub fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<()> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            drop(handle.spawn_blocking(f));
            Ok(())
        }
        Err(_) => std::thread::Builder::new()
            .name(name.to_string())
            .spawn(f)
            .map(drop),
    }
}
