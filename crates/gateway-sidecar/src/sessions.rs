//! Active sessions, counted without keeping secrets.
//!
//! A request's session key comes from, in order of preference, the first configured session
//! cookie it carries, else its bearer token. A value that is a JWT is identified by its `sid`
//! claim when it has one (payload decoded only: this is counting, not authentication), so the
//! access token and the refresh cookie of one session count once; any other value is used whole.
//! Only HMAC-SHA256(per-process random key, value), cut to 128 bits, is ever stored: raw tokens
//! and cookies are not kept, logged or put in labels.
//!
//! The table is bounded: at `max_entries` the least recently seen session is evicted (and
//! counted). Sessions end on a successful logout, on a cookie cleared with `Max-Age=0` (or an
//! `Expires` in the past), after `idle_timeout` without a request, or at the JWT's `exp`.
//!
//! Each proxy worker also keeps a 512-slot cache of the credentials it saw lately, found by a
//! keyed SipHash (random per process) of the raw value and holding only the derived key, so a
//! client repeating its token costs neither HMAC nor JWT decoding, and the shared table is
//! touched at most once a second per session and worker.
//!
//! Memory: each session is one 32-byte slot in a dense slab plus a 4-byte index and a control
//! byte in a hash table kept at most 7/8 full; with power-of-two growth that is at most
//! 32 + 2 × 8/7 × 5 ≈ 44 bytes per session, about 44 MiB at the default 1,000,000.
//!
//! Each replica of a service sees only its own share of the traffic, so the sum of
//! `auth_active_sessions` over replicas is an upper bound: a client whose requests are spread
//! over replicas is counted by each.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hashbrown::HashTable;
use hyper::header::{HeaderMap, AUTHORIZATION, COOKIE};
use ring::hmac;

/// A session's identity: the first 128 bits of the HMAC of its key material.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionKey([u64; 2]);

/// A credential seen on a request or response, already reduced to its key.
#[derive(Clone, Copy, Debug)]
pub struct Credential {
    pub key: SessionKey,
    /// The JWT `exp` (Unix seconds), when the value was a JWT that has one.
    pub exp: Option<i64>,
    /// Which configured cookie it came from; `None` for a bearer token.
    pub cookie: Option<usize>,
}

/// Derives keys: HMAC-SHA256 with a key drawn at start and never shown.
pub struct Keyer {
    key: hmac::Key,
}

impl Keyer {
    pub fn random() -> anyhow::Result<Self> {
        let rng = ring::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map_err(|_| anyhow::anyhow!("no randomness for the session key"))?;
        Ok(Self { key })
    }

    fn key(&self, domain: &[u8], value: &[u8]) -> SessionKey {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(domain);
        ctx.update(value);
        let tag = ctx.sign();
        let b = tag.as_ref();
        let mut a = [0u8; 8];
        let mut c = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        c.copy_from_slice(&b[8..16]);
        SessionKey([u64::from_le_bytes(a), u64::from_le_bytes(c)])
    }

    /// The credential of a raw cookie value or bearer token.
    pub fn credential(&self, value: &str, cookie: Option<usize>) -> Credential {
        let claims = jwt_claims(value);
        let key = match claims.as_ref().and_then(|c| c.sid.as_deref()) {
            Some(sid) => self.key(b"sid\0", sid.as_bytes()),
            None => self.key(b"tok\0", value.as_bytes()),
        };
        Credential {
            key,
            exp: claims.and_then(|c| c.exp),
            cookie,
        }
    }
}

/// The raw session value of a request: the first configured cookie it carries (and which), else
/// its bearer token. Never stored: callers derive a [`Credential`] from it.
pub fn raw_credential<'a>(
    headers: &'a HeaderMap,
    cookies: &[String],
) -> Option<(Option<usize>, &'a str)> {
    {
        if !cookies.is_empty() {
            // The first configured name that is present wins, whatever the header order.
            let mut best: Option<(usize, &str)> = None;
            for h in headers.get_all(COOKIE) {
                let Ok(h) = h.to_str() else { continue };
                for pair in h.split(';') {
                    let Some((name, value)) = pair.split_once('=') else {
                        continue;
                    };
                    let value = value.trim().trim_matches('"');
                    if value.is_empty() {
                        continue;
                    }
                    if let Some(i) = cookies.iter().position(|c| c == name.trim()) {
                        if best.is_none_or(|(b, _)| i < b) {
                            best = Some((i, value));
                        }
                    }
                }
            }
            if let Some((i, v)) = best {
                return Some((Some(i), v));
            }
        }
        let auth = headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = auth.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let token = token.trim();
        (!token.is_empty()).then_some((None, token))
    }
}

#[derive(serde::Deserialize)]
struct Claims {
    #[serde(default, deserialize_with = "string_or_number")]
    sid: Option<String>,
    #[serde(default)]
    exp: Option<f64>,
}

struct ClaimsOut {
    sid: Option<String>,
    exp: Option<i64>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::Deserialize;
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// The `sid` and `exp` of a JWT's payload, when `value` is shaped like a JWT. The signature is
/// not checked: a forged token can only make itself counted as some session, which any client
/// can do by sending any token.
fn jwt_claims(value: &str) -> Option<ClaimsOut> {
    let mut parts = value.split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || payload.is_empty() || payload.len() > 8192 {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let c: Claims = serde_json::from_slice(&bytes).ok()?;
    Some(ClaimsOut {
        sid: c.sid,
        exp: c
            .exp
            .filter(|e| e.is_finite())
            .map(|e| e.clamp(i64::MIN as f64, i64::MAX as f64) as i64),
    })
}

/// What a `Set-Cookie` does to a tracked cookie.
#[derive(Debug, PartialEq, Eq)]
pub enum CookieChange<'a> {
    /// A new value: the cookie's index and value.
    Set(usize, &'a str),
    /// Cleared: empty value, `Max-Age` ≤ 0 or `Expires` in the past.
    Cleared(usize),
}

/// Reads one `Set-Cookie` header value; `None` when it is not one of `cookies`.
pub fn set_cookie<'a>(
    header: &'a str,
    cookies: &[String],
    now_unix: i64,
) -> Option<CookieChange<'a>> {
    let mut attrs = header.split(';');
    let (name, value) = attrs.next()?.split_once('=')?;
    let idx = cookies.iter().position(|c| c == name.trim())?;
    let value = value.trim().trim_matches('"');
    let mut cleared = value.is_empty();
    let mut max_age_seen = false;
    for a in attrs {
        let (k, v) = a.split_once('=').unwrap_or((a, ""));
        let k = k.trim();
        if k.eq_ignore_ascii_case("max-age") {
            max_age_seen = true;
            // RFC 6265: Max-Age wins over Expires; zero or negative deletes the cookie, however
            // many digits the negative has.
            let v = v.trim();
            match v.parse::<i64>() {
                Ok(n) => cleared |= n <= 0,
                Err(_) => {
                    cleared |= v
                        .strip_prefix('-')
                        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                }
            }
        } else if k.eq_ignore_ascii_case("expires") && !max_age_seen {
            if let Some(t) = parse_http_date(v.trim()) {
                cleared |= t <= now_unix;
            }
        }
    }
    Some(if cleared {
        CookieChange::Cleared(idx)
    } else {
        CookieChange::Set(idx, value)
    })
}

/// An HTTP date (IMF-fixdate `Thu, 01 Jan 1970 00:00:00 GMT`, RFC 850, asctime) as Unix
/// seconds, read by the `httpdate` crate; also the Netscape cookie form with dashes and a
/// four-digit year (`Thu, 01-Jan-1970 00:00:00 GMT`), which is an IMF-fixdate once the dashes are
/// spaces.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let t = httpdate::parse_http_date(s)
        .or_else(|_| httpdate::parse_http_date(&s.replace('-', " ")))
        .ok()?;
    // httpdate only accepts years 1970 to 9999, but convert without wrapping all the same.
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).ok(),
        Err(e) => i64::try_from(e.duration().as_secs()).ok().map(|s| -s),
    }
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

const NIL: u32 = u32::MAX;
/// Time in the table is counted in ticks of 100 ms from the table's creation: 32 bits last
/// 13 years, and idle timeouts are honoured to a tenth of a second.
const TICK_MS: u128 = 100;

#[derive(Clone, Copy)]
struct Entry {
    key: SessionKey,
    seen: u32,
    /// Expiry tick from the JWT `exp`; 0 for none.
    exp: u32,
    /// Neighbours in recency order: `prev` is more recent, `next` less.
    prev: u32,
    next: u32,
}

struct Inner {
    slab: Vec<Entry>,
    index: HashTable<u32>,
    /// Most recently seen.
    head: u32,
    /// Least recently seen: the next to evict or to idle out.
    tail: u32,
    max: usize,
    idle_ticks: u32,
    with_exp: usize,
}

/// The bounded table of active sessions.
pub struct SessionTable {
    inner: Mutex<Inner>,
    epoch: Instant,
    epoch_unix: i64,
    len: AtomicUsize,
    evicted: AtomicU64,
    expired: AtomicU64,
}

impl SessionTable {
    pub fn new(max_entries: usize, idle_timeout: Duration) -> Self {
        Self {
            inner: Mutex::new(Inner {
                slab: Vec::new(),
                index: HashTable::new(),
                head: NIL,
                tail: NIL,
                max: max_entries.clamp(1, NIL as usize - 1),
                idle_ticks: idle_ticks(idle_timeout),
                with_exp: 0,
            }),
            epoch: Instant::now(),
            epoch_unix: unix_now(),
            len: AtomicUsize::new(0),
            evicted: AtomicU64::new(0),
            expired: AtomicU64::new(0),
        }
    }

    /// Applies new limits (a reloaded rules file); a smaller cap evicts the least recent.
    pub fn configure(&self, max_entries: usize, idle_timeout: Duration) {
        let mut t = self.lock();
        t.max = max_entries.clamp(1, NIL as usize - 1);
        t.idle_ticks = idle_ticks(idle_timeout);
        let mut evicted = 0;
        while t.slab.len() > t.max {
            let tail = t.tail;
            t.remove_at(tail);
            evicted += 1;
        }
        self.evicted.fetch_add(evicted, Ordering::Relaxed);
        self.len.store(t.slab.len(), Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the table half-updated in a way that
        // matters more than losing the count, so keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The table's clock: ticks of 100 ms since it was made, from 1.
    pub fn tick(&self) -> u32 {
        self.now()
    }

    fn now(&self) -> u32 {
        let t = self.epoch.elapsed().as_millis() / TICK_MS;
        // Counted from 1: 0 marks "no exp".
        (t as u32).saturating_add(1)
    }

    /// Converts a JWT `exp` into a tick; `Some(0)`-like results mean already expired.
    fn exp_tick(&self, exp: Option<i64>, now: u32) -> Option<u32> {
        let exp = exp?;
        // Saturating: an `exp` of -1e300 arrives here as i64::MIN.
        let ahead_s = exp.saturating_sub(self.epoch_unix);
        if ahead_s <= 0 {
            return Some(0);
        }
        let t = (ahead_s as u128 * 1000 / TICK_MS).min(u32::MAX as u128 - 1) as u32;
        Some(if t <= now { 0 } else { t })
    }

    /// A session starts (a successful login or callback, or a new cookie value).
    pub fn start(&self, c: &Credential) {
        self.upsert(c, true);
    }

    /// An authenticated request: refreshes its session, creating it when unknown.
    pub fn touch(&self, c: &Credential) {
        self.upsert(c, true);
    }

    /// Activity of a session already open; never creates one.
    pub fn refresh(&self, c: &Credential) {
        self.upsert(c, false);
    }

    fn upsert(&self, c: &Credential, create: bool) {
        let now = self.now();
        let exp = self.exp_tick(c.exp, now);
        let mut guard = self.lock();
        let t = &mut *guard;
        let found = t.find(c.key);
        if exp == Some(0) {
            // The token says the session is over.
            if let Some(i) = found {
                t.remove_at(i);
                self.expired.fetch_add(1, Ordering::Relaxed);
                self.len.store(t.slab.len(), Ordering::Relaxed);
            }
            return;
        }
        match found {
            Some(i) => {
                let e = &mut t.slab[i as usize];
                e.seen = now;
                if let Some(x) = exp {
                    if e.exp == 0 {
                        e.exp = x;
                        t.with_exp += 1;
                    } else {
                        e.exp = x;
                    }
                }
                t.move_to_front(i);
            }
            None if create => {
                if t.slab.len() >= t.max {
                    let tail = t.tail;
                    t.remove_at(tail);
                    self.evicted.fetch_add(1, Ordering::Relaxed);
                }
                t.insert_front(c.key, now, exp.unwrap_or(0));
                self.len.store(t.slab.len(), Ordering::Relaxed);
            }
            None => {}
        }
    }

    /// A session ends (a successful logout, a cleared cookie, a rotated cookie).
    pub fn end(&self, key: SessionKey) {
        let mut t = self.lock();
        if let Some(i) = t.find(key) {
            t.remove_at(i);
            self.len.store(t.slab.len(), Ordering::Relaxed);
        }
    }

    /// Drops idle sessions (cheap: from the least recent end) and, when `full` and any session
    /// has a JWT expiry, those past it (a scan of the table, in slices so requests waiting for
    /// the lock wait for a slice, not for the whole table).
    pub fn sweep(&self, full: bool) {
        const SLICE: usize = 8192;
        let now = self.now();
        let mut n = 0;
        let mut t = self.lock();
        while t.tail != NIL {
            let e = t.slab[t.tail as usize];
            if now.saturating_sub(e.seen) < t.idle_ticks {
                break;
            }
            let tail = t.tail;
            t.remove_at(tail);
            n += 1;
        }
        if full && t.with_exp > 0 {
            // Backwards, so the entry swapped into a freed slot has already been looked at.
            // Between slices the table may change; an entry missed now is caught next time.
            let mut i = t.slab.len();
            while i > 0 {
                let stop = i.saturating_sub(SLICE);
                while i > stop {
                    i -= 1;
                    if i >= t.slab.len() {
                        continue;
                    }
                    let e = t.slab[i];
                    if e.exp != 0 && e.exp <= now {
                        t.remove_at(i as u32);
                        n += 1;
                    }
                }
                if i > 0 {
                    self.len.store(t.slab.len(), Ordering::Relaxed);
                    drop(t);
                    std::thread::yield_now();
                    t = self.lock();
                }
            }
        }
        self.expired.fetch_add(n, Ordering::Relaxed);
        self.len.store(t.slab.len(), Ordering::Relaxed);
    }

    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    pub fn expired(&self) -> u64 {
        self.expired.load(Ordering::Relaxed)
    }

    pub fn capacity(&self) -> usize {
        self.lock().max
    }
}

fn idle_ticks(d: Duration) -> u32 {
    (d.as_millis() / TICK_MS).clamp(1, u32::MAX as u128) as u32
}

impl Inner {
    fn find(&self, key: SessionKey) -> Option<u32> {
        let slab = &self.slab;
        self.index
            .find(key.0[0], |&i| slab[i as usize].key == key)
            .copied()
    }

    fn insert_front(&mut self, key: SessionKey, now: u32, exp: u32) {
        let i = self.slab.len() as u32;
        self.slab.push(Entry {
            key,
            seen: now,
            exp,
            prev: NIL,
            next: self.head,
        });
        if exp != 0 {
            self.with_exp += 1;
        }
        if self.head != NIL {
            self.slab[self.head as usize].prev = i;
        }
        self.head = i;
        if self.tail == NIL {
            self.tail = i;
        }
        let slab = &self.slab;
        // The HMAC's first word is already uniformly distributed: it is the hash.
        self.index
            .insert_unique(key.0[0], i, |&j| slab[j as usize].key.0[0]);
    }

    fn unlink(&mut self, i: u32) {
        let Entry { prev, next, .. } = self.slab[i as usize];
        if prev != NIL {
            self.slab[prev as usize].next = next;
        } else {
            self.head = next;
        }
        if next != NIL {
            self.slab[next as usize].prev = prev;
        } else {
            self.tail = prev;
        }
    }

    fn move_to_front(&mut self, i: u32) {
        if self.head == i {
            return;
        }
        self.unlink(i);
        let old = self.head;
        {
            let e = &mut self.slab[i as usize];
            e.prev = NIL;
            e.next = old;
        }
        if old != NIL {
            self.slab[old as usize].prev = i;
        }
        self.head = i;
        if self.tail == NIL {
            self.tail = i;
        }
    }

    /// Removes slot `i`, moving the last slot into it so the slab stays dense.
    fn remove_at(&mut self, i: u32) {
        if i == NIL {
            return;
        }
        self.unlink(i);
        let key = self.slab[i as usize].key;
        if self.slab[i as usize].exp != 0 {
            self.with_exp -= 1;
        }
        if let Ok(e) = self.index.find_entry(key.0[0], |&j| j == i) {
            e.remove();
        }
        let last = (self.slab.len() - 1) as u32;
        if i != last {
            let moved = self.slab[last as usize];
            self.slab[i as usize] = moved;
            if moved.prev != NIL {
                self.slab[moved.prev as usize].next = i;
            } else {
                self.head = i;
            }
            if moved.next != NIL {
                self.slab[moved.next as usize].prev = i;
            } else {
                self.tail = i;
            }
            if let Some(slot) = self.index.find_mut(moved.key.0[0], |&j| j == last) {
                *slot = i;
            }
        }
        self.slab.pop();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    fn jwt(payload: &str) -> String {
        format!("{}.{}.sig", b64(r#"{"alg":"HS256"}"#), b64(payload))
    }

    #[test]
    fn jwt_sid_and_exp() {
        let c = jwt_claims(&jwt(r#"{"sub":"u1","sid":"s-9","exp":1700000000}"#)).unwrap();
        assert_eq!(c.sid.as_deref(), Some("s-9"));
        assert_eq!(c.exp, Some(1_700_000_000));
        let c = jwt_claims(&jwt(r#"{"sid":42}"#)).unwrap();
        assert_eq!(c.sid.as_deref(), Some("42"));
        assert!(jwt_claims("opaque-token").is_none());
        assert!(jwt_claims("a.b.c").is_none());
        assert!(jwt_claims(&format!("x.{}.y", b64("not json"))).is_none());
    }

    #[test]
    fn keys_follow_sid_then_token() {
        let k = Keyer::random().unwrap();
        let a = k.credential(&jwt(r#"{"sid":"s1","iat":1}"#), None);
        let b = k.credential(&jwt(r#"{"sid":"s1","iat":2}"#), Some(0));
        assert_eq!(a.key, b.key, "same sid, same session");
        assert_ne!(
            k.credential("tok-a", None).key,
            k.credential("tok-b", None).key
        );
        // Another process (another random key) derives other keys.
        let k2 = Keyer::random().unwrap();
        assert_ne!(
            k.credential("tok-a", None).key,
            k2.credential("tok-a", None).key
        );
    }

    #[test]
    fn request_credential_prefers_configured_cookie_order() {
        let k = Keyer::random().unwrap();
        let from_request = |h: &HeaderMap, cookies: &[String]| {
            let (cookie, value) = raw_credential(h, cookies)?;
            Some(k.credential(value, cookie))
        };
        let cookies = vec!["sid".to_string(), "refresh".to_string()];
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(from_request(&h, &cookies).unwrap().cookie, None);
        h.append(COOKIE, HeaderValue::from_static("theme=dark; refresh=r1"));
        h.append(COOKIE, HeaderValue::from_static("sid=s1"));
        let c = from_request(&h, &cookies).unwrap();
        assert_eq!(c.cookie, Some(0));
        assert_eq!(c.key, k.credential("s1", None).key);
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic dXNlcjpw"));
        assert!(from_request(&h, &cookies).is_none());
    }

    #[test]
    fn set_cookie_changes() {
        let c = vec!["refresh_token".to_string()];
        let now = 1_700_000_000;
        assert_eq!(
            set_cookie("refresh_token=abc; Path=/; HttpOnly", &c, now),
            Some(CookieChange::Set(0, "abc"))
        );
        assert_eq!(
            set_cookie("refresh_token=; Max-Age=0", &c, now),
            Some(CookieChange::Cleared(0))
        );
        assert_eq!(
            set_cookie("refresh_token=x; Max-Age=0; Path=/", &c, now),
            Some(CookieChange::Cleared(0))
        );
        assert_eq!(
            set_cookie(
                "refresh_token=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                &c,
                now
            ),
            Some(CookieChange::Cleared(0))
        );
        assert_eq!(
            set_cookie(
                "refresh_token=x; Expires=Thu, 01 Jan 2099 00:00:00 GMT",
                &c,
                now
            ),
            Some(CookieChange::Set(0, "x"))
        );
        assert_eq!(set_cookie("other=x", &c, now), None);
    }

    #[test]
    fn http_dates() {
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("Thu, 01-Jan-1970 00:00:10 GMT"), Some(10));
        assert_eq!(parse_http_date("garbage"), None);
    }

    #[test]
    fn http_date_extremes_do_not_overflow() {
        // The last second httpdate accepts, and the first; a cookie date beyond either is no
        // date (the cookie is then kept, as with a missing Expires).
        assert_eq!(
            parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT"),
            Some(253_402_300_799)
        );
        assert_eq!(
            parse_http_date("Fri, 31-Dec-9999 23:59:59 GMT"),
            Some(253_402_300_799)
        );
        for s in [
            "Sat, 01 Jan 10000 00:00:00 GMT",
            "Wed, 31 Dec 1969 23:59:59 GMT",
            "Thu, 01 Jan 1970 00:00:00 GMT-----------",
            "Thu, 99 Jan 1970 99:99:99 GMT",
            "Thu, 01-Jan-1970 00:00:00 GMT-",
            "-",
            "",
        ] {
            let _ = parse_http_date(s);
        }
        let cookies = vec!["sid".to_string()];
        assert_eq!(
            set_cookie(
                "sid=x; Expires=Fri, 31 Dec 9999 23:59:59 GMT",
                &cookies,
                i64::MAX
            ),
            Some(CookieChange::Cleared(0))
        );
        assert_eq!(
            set_cookie(
                "sid=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                &cookies,
                i64::MIN
            ),
            Some(CookieChange::Set(0, "x"))
        );
        assert_eq!(
            set_cookie(&format!("sid=x; Max-Age={}", i128::MIN), &cookies, 0),
            Some(CookieChange::Cleared(0))
        );
    }

    #[test]
    fn jwt_exp_extremes_do_not_overflow() {
        let k = Keyer::random().unwrap();
        let t = SessionTable::new(10, Duration::from_secs(60));
        // -1e300 is long past: never a session; 1e300 is far ahead: a session, like no exp.
        for (exp, want) in [("-1e300", 0), ("1e300", 1), ("-9.3e18", 1), ("9.3e18", 2)] {
            let c = k.credential(&jwt(&format!(r#"{{"sid":"s{exp}","exp":{exp}}}"#)), None);
            t.start(&c);
            t.sweep(true);
            assert_eq!(t.len(), want, "exp {exp}");
        }
    }

    fn cred(k: &Keyer, s: &str) -> Credential {
        k.credential(s, None)
    }

    #[test]
    fn lru_eviction_and_end() {
        let k = Keyer::random().unwrap();
        let t = SessionTable::new(3, Duration::from_secs(60));
        for s in ["a", "b", "c"] {
            t.start(&cred(&k, s));
        }
        t.touch(&cred(&k, "a")); // b is now the least recent
        t.start(&cred(&k, "d"));
        assert_eq!(t.len(), 3);
        assert_eq!(t.evicted(), 1);
        let inner = t.lock();
        assert!(inner.find(cred(&k, "b").key).is_none());
        assert!(inner.find(cred(&k, "a").key).is_some());
        drop(inner);
        t.end(cred(&k, "a").key);
        t.end(cred(&k, "zzz").key);
        assert_eq!(t.len(), 2);
        t.configure(1, Duration::from_secs(60));
        assert_eq!(t.len(), 1);
        assert!(t.lock().find(cred(&k, "d").key).is_some());
    }

    #[test]
    fn many_inserts_and_removals_keep_the_structure_consistent() {
        let k = Keyer::random().unwrap();
        let t = SessionTable::new(500, Duration::from_secs(60));
        for i in 0..3000u32 {
            t.touch(&cred(&k, &format!("s{}", i % 700)));
            if i % 7 == 0 {
                t.end(cred(&k, &format!("s{}", (i * 13) % 700)).key);
            }
        }
        let inner = t.lock();
        assert!(inner.slab.len() <= 500);
        assert_eq!(inner.index.len(), inner.slab.len());
        // Walk the recency list both ways.
        let mut n = 0;
        let mut i = inner.head;
        let mut prev = NIL;
        while i != NIL {
            assert_eq!(inner.slab[i as usize].prev, prev);
            assert_eq!(inner.find(inner.slab[i as usize].key), Some(i));
            prev = i;
            i = inner.slab[i as usize].next;
            n += 1;
        }
        assert_eq!(prev, inner.tail);
        assert_eq!(n, inner.slab.len());
    }

    #[test]
    fn idle_expiry() {
        let k = Keyer::random().unwrap();
        let t = SessionTable::new(10, Duration::from_secs(1));
        t.start(&cred(&k, "a"));
        let later = unix_now() + 100;
        t.start(&k.credential(&jwt(&format!(r#"{{"sid":"j","exp":{later}}}"#)), None));
        // Already expired: never counted.
        t.start(&k.credential(&jwt(r#"{"sid":"old","exp":1000}"#), None));
        assert_eq!(t.len(), 2);
        std::thread::sleep(Duration::from_millis(600));
        t.touch(&cred(&k, "a"));
        std::thread::sleep(Duration::from_millis(600));
        t.sweep(true);
        // "j" has been idle for 1.2 s, "a" for 0.6 s.
        assert_eq!(t.len(), 1);
        assert!(t.lock().find(cred(&k, "a").key).is_some());
        std::thread::sleep(Duration::from_millis(600));
        t.sweep(false);
        assert_eq!(t.len(), 0);
        assert_eq!(t.expired(), 2);
    }

    #[test]
    fn jwt_exp_ends_a_session_before_idle() {
        let k = Keyer::random().unwrap();
        let t = SessionTable::new(10, Duration::from_secs(600));
        let exp = unix_now() + 1;
        t.start(&k.credential(&jwt(&format!(r#"{{"sid":"j","exp":{exp}}}"#)), None));
        assert_eq!(t.len(), 1);
        std::thread::sleep(Duration::from_millis(2100));
        t.sweep(false);
        assert_eq!(t.len(), 1, "the cheap sweep only looks at idle time");
        t.sweep(true);
        assert_eq!(t.len(), 0);
    }
}
