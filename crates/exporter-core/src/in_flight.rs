//! A gauge of things in progress (scrapes being served, connections open), counted by a guard:
//! up by one when the guard is made, down by one when it drops, on every path out (a return, an
//! early `?`, a panic, or a future dropped mid-await because its client went away). A pair of
//! hand-written `fetch_add`/`fetch_sub` calls misses the last two.

use std::sync::atomic::{AtomicI64, Ordering};

/// One unit of `gauge` for as long as this value lives.
#[must_use = "the gauge goes back down as soon as the guard is dropped"]
pub struct InFlight<'a>(&'a AtomicI64);

impl<'a> InFlight<'a> {
    pub fn enter(gauge: &'a AtomicI64) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        Self(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_while_held_and_on_unwind() {
        let gauge = AtomicI64::new(0);
        {
            let _a = InFlight::enter(&gauge);
            let _b = InFlight::enter(&gauge);
            assert_eq!(gauge.load(Ordering::Relaxed), 2);
        }
        assert_eq!(gauge.load(Ordering::Relaxed), 0);
        let r = std::panic::catch_unwind(|| {
            let _a = InFlight::enter(&gauge);
            panic!("a scrape that fails half way");
        });
        assert!(r.is_err());
        assert_eq!(gauge.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_dropped_future_gives_its_unit_back() {
        let gauge = std::sync::Arc::new(AtomicI64::new(0));
        let held = gauge.clone();
        let task = tokio::spawn(async move {
            let _held = InFlight::enter(&held);
            std::future::pending::<()>().await;
        });
        for _ in 0..1000 {
            if gauge.load(Ordering::Relaxed) == 1 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(gauge.load(Ordering::Relaxed), 1);
        task.abort();
        assert!(task.await.is_err());
        assert_eq!(gauge.load(Ordering::Relaxed), 0);
    }
}
