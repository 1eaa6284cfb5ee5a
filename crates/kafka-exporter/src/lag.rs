//! Lag in messages and in seconds.
//!
//! Lag in messages is `high watermark - committed`, never negative: the committed offset is read
//! after the high watermark, so a busy group can be ahead of the watermark we hold (upstream
//! exposes that as negative lag). Lag in seconds is estimated as kafka-lag-exporter does: keep a
//! short history of (time, high watermark) per partition, find when the head of the partition was
//! at the group's committed offset (interpolating between samples), and report how long ago that
//! was.

use std::collections::VecDeque;

/// Lag in messages for one partition: `None` when the committed offset is unknown (-1 and other
/// negative sentinels), otherwise `max(0, high - committed)`.
pub fn lag(high: i64, committed: i64) -> Option<i64> {
    (committed >= 0).then(|| (high - committed).max(0))
}

/// A bounded history of (unix time in seconds, high watermark) samples for one partition, in
/// increasing offset order.
#[derive(Debug, Clone)]
pub struct History {
    samples: VecDeque<(f64, i64)>,
    cap: usize,
}

impl History {
    /// A history keeping at most `cap` points (at least 2).
    pub fn new(cap: usize) -> Self {
        Self {
            samples: VecDeque::new(),
            cap: cap.max(2),
        }
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Records that the head was at `high` at time `t`. A flat head keeps only its latest time:
    /// the record at that offset did not exist yet then, so it was produced later (keeping the
    /// first time would make a topic that idled for an hour look an hour behind as soon as one
    /// record arrives). A head that went backwards (topic re-created, truncation) starts a new
    /// history.
    pub fn push(&mut self, t: f64, high: i64) {
        match self.samples.back_mut() {
            Some(last) if last.1 == high => {
                last.0 = t;
                return;
            }
            Some(&mut (_, last)) if last > high => self.samples.clear(),
            _ => {}
        }
        if self.samples.len() == self.cap {
            self.samples.pop_front();
        }
        self.samples.push_back((t, high));
    }

    /// When was the head at `offset`? Interpolated between the two samples around it; before the
    /// oldest sample, extrapolated with the average rate over the history. `None` without enough
    /// history.
    pub fn time_of(&self, offset: i64) -> Option<f64> {
        let (&(t_first, o_first), &(t_last, o_last)) =
            (self.samples.front()?, self.samples.back()?);
        if offset >= o_last {
            return Some(t_last);
        }
        if offset < o_first {
            if o_last == o_first {
                return None;
            }
            let rate = (o_last - o_first) as f64 / (t_last - t_first);
            if !(rate.is_finite() && rate > 0.0) {
                return None;
            }
            return Some(t_first - (o_first - offset) as f64 / rate);
        }
        // samples[i].offset <= offset < samples[i+1].offset
        let i = self.samples.partition_point(|&(_, o)| o <= offset) - 1;
        let (t0, o0) = self.samples[i];
        let (t1, o1) = self.samples[i + 1];
        Some(t0 + (offset - o0) as f64 / (o1 - o0) as f64 * (t1 - t0))
    }

    /// Seconds the group is behind at time `now`: 0 when it has consumed everything it was
    /// shown, `None` when the committed offset is unknown or there is not enough history.
    pub fn lag_seconds(&self, committed: i64, now: f64) -> Option<f64> {
        if committed < 0 {
            return None;
        }
        let &(_, head) = self.samples.back()?;
        if committed >= head {
            return Some(0.0);
        }
        self.time_of(committed).map(|t| (now - t).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_lag_is_never_negative() {
        assert_eq!(lag(100, 90), Some(10));
        assert_eq!(lag(100, 100), Some(0));
        // Committed read after the watermark: ahead of it.
        assert_eq!(lag(100, 105), Some(0));
        assert_eq!(lag(100, -1), None);
        assert_eq!(lag(0, -1001), None);
    }

    #[test]
    fn interpolates_between_samples() {
        let mut h = History::new(10);
        h.push(100.0, 0);
        h.push(110.0, 100);
        h.push(120.0, 300);
        // 200 is halfway from 100 (t=110) to 300 (t=120).
        assert_eq!(h.time_of(200), Some(115.0));
        assert_eq!(h.lag_seconds(200, 130.0), Some(15.0));
        assert_eq!(h.lag_seconds(100, 130.0), Some(20.0));
        assert_eq!(h.lag_seconds(0, 130.0), Some(30.0));
        assert_eq!(h.lag_seconds(300, 130.0), Some(0.0));
        assert_eq!(h.lag_seconds(400, 130.0), Some(0.0));
        assert_eq!(h.lag_seconds(-1, 130.0), None);
    }

    #[test]
    fn flat_head_keeps_latest_time_and_backwards_resets() {
        let mut h = History::new(10);
        // Idle at 50 for an hour, then 100 records within 10 s.
        h.push(100.0, 50);
        h.push(3700.0, 50);
        assert_eq!(h.len(), 1);
        h.push(3710.0, 150);
        // A group at 50 is about 10 s behind, not an hour.
        assert_eq!(h.lag_seconds(50, 3710.0), Some(10.0));
        assert_eq!(h.time_of(100), Some(3705.0));
        h.push(3720.0, 10);
        assert_eq!(h.len(), 1);
        assert_eq!(h.time_of(10), Some(3720.0));
    }

    #[test]
    fn extrapolates_before_history_and_is_bounded() {
        let mut h = History::new(3);
        h.push(100.0, 100);
        assert_eq!(h.lag_seconds(50, 105.0), None);
        h.push(110.0, 200);
        // 10 messages/s over the history: offset 50 was the head 5s before t=100.
        assert_eq!(h.time_of(50), Some(95.0));
        h.push(120.0, 300);
        h.push(130.0, 400);
        assert_eq!(h.len(), 3);
        assert_eq!(h.time_of(100), Some(100.0));
        assert_eq!(h.lag_seconds(400, 200.0), Some(0.0));
    }
}
