//! `rate_limit`: upstream's token bucket in front of every request (429 when empty).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::schema::RawRateLimit;

/// golang.org/x/time/rate's token bucket: starts full with `burst` tokens, one token back every
/// `interval`.
#[derive(Debug)]
pub(super) struct RateLimiter {
    pub(super) interval: Duration,
    burst: u32,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    pub(super) fn from_raw(raw: RawRateLimit) -> Result<Option<Self>, String> {
        let interval = match raw.interval {
            None | Some(serde_yaml_ng::Value::Null) => Duration::ZERO,
            Some(serde_yaml_ng::Value::Number(n)) => n
                .as_u64()
                .map(Duration::from_nanos)
                .ok_or_else(|| format!("rate_limit: bad interval {n}"))?,
            Some(serde_yaml_ng::Value::String(s)) => parse_go_duration(&s)
                .ok_or_else(|| format!("rate_limit: bad interval {s:?} (want e.g. 1s, 500ms)"))?,
            Some(_) => return Err("rate_limit: interval must be a duration such as 1s".into()),
        };
        // Upstream: an interval of 0 disables the limiter.
        if interval.is_zero() {
            return Ok(None);
        }
        let burst = raw.burst.unwrap_or(0);
        Ok(Some(Self {
            interval,
            burst,
            state: Mutex::new((f64::from(burst), Instant::now())),
        }))
    }

    pub(super) fn allow(&self) -> bool {
        let Ok(mut s) = self.state.lock() else {
            return true;
        };
        let now = Instant::now();
        let refill = now.duration_since(s.1).as_secs_f64() / self.interval.as_secs_f64();
        s.0 = (s.0 + refill).min(f64::from(self.burst));
        s.1 = now;
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Go's `time.ParseDuration` for non-negative values: `1h2m3.5s`, `300ms`, `10us`, `5ns`.
pub(super) fn parse_go_duration(s: &str) -> Option<Duration> {
    crate::cli::parse_duration(s).ok()
}
