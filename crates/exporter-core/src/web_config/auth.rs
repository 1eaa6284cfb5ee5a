//! `basic_auth_users`: bcrypt hashes checked at load, `Authorization: Basic` read as Go reads
//! it, a cache of verified pairs so a scrape every 15 s does not pay bcrypt each time, and a
//! cache of refused pairs so a client repeating a wrong password does not either.
//!
//! bcrypt runs on a thread of its own behind a short queue ([`BcryptPool`]), never on the
//! runtime's blocking pool: there, 100 clients with wrong passwords took every blocking thread
//! (each waiting its turn for bcrypt) and a scrape's collectors, which run on that pool, waited
//! seconds behind them. When the queue is full a new, uncached pair is refused at once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{mpsc, Arc, Mutex};

use base64::Engine as _;
use hyper::header::{self, HeaderMap};

/// A bcrypt hash of "fakepassword" at cost 10, checked for unknown users so that a wrong user
/// name takes as long as a wrong password (no user enumeration by timing), as upstream does.
pub(super) const DUMMY_HASH: &str = "$2b$10$hLXluntsILZDdZCVsZp6eOzgGPiaAV/xXX.uOpjA3h.S5Ogs5T9gC";

/// Most distinct (user, password) pairs remembered as verified.
pub(super) const CACHE_SIZE: usize = 100;
/// Most distinct pairs remembered as refused: more, as they are what a flood sends.
pub(super) const REFUSED_CACHE_SIZE: usize = 1024;
/// bcrypt checks waiting for the bcrypt thread at most; more are refused without one.
const BCRYPT_QUEUE: usize = 32;

pub(super) struct BasicAuth {
    /// user -> bcrypt hash.
    pub(super) users: HashMap<String, String>,
    /// HMAC-SHA256 of (user, hash, password) for the pairs bcrypt has accepted: a scrape every
    /// 15 s must not pay bcrypt each time, and no password is kept. The HMAC key is random per
    /// process, so the digests are no use for an offline guess elsewhere.
    cache: Mutex<HashSet<[u8; 32]>>,
    /// The same for pairs bcrypt refused, kept apart so that a flood of wrong passwords cannot
    /// push the right ones out.
    refused: Mutex<HashSet<[u8; 32]>>,
    cache_key: ring::hmac::Key,
    /// The one thread bcrypt runs on: one at a time, as upstream (it is CPU-heavy by design).
    pool: BcryptPool,
}

type Job = Box<dyn FnOnce() + Send>;

/// One thread for bcrypt with a bounded queue in front of it. The thread ends when the
/// configuration holding the pool is dropped.
struct BcryptPool {
    queue: Mutex<mpsc::SyncSender<Job>>,
}

impl BcryptPool {
    fn start() -> Result<Self, String> {
        let (tx, rx) = mpsc::sync_channel::<Job>(BCRYPT_QUEUE);
        std::thread::Builder::new()
            .name("bcrypt".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job();
                }
            })
            .map_err(|e| format!("cannot start the bcrypt thread: {e}"))?;
        Ok(Self {
            queue: Mutex::new(tx),
        })
    }

    /// Queues `job`; false when the queue is full.
    fn try_run(&self, job: Job) -> bool {
        match self.queue.lock() {
            Ok(q) => q.try_send(job).is_ok(),
            Err(_) => false,
        }
    }
}

impl BasicAuth {
    pub(super) fn new(users: BTreeMap<String, Option<String>>) -> Result<Option<Self>, String> {
        if users.is_empty() {
            return Ok(None);
        }
        let mut map = HashMap::with_capacity(users.len());
        for (user, hash) in users {
            let hash = hash.unwrap_or_default();
            check_bcrypt_hash(&hash)
                .map_err(|why| format!("basic_auth_users: user {user:?}: {why}"))?;
            map.insert(user, hash);
        }
        let rng = ring::rand::SystemRandom::new();
        let cache_key = ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng)
            .map_err(|_| "cannot get random bytes for the basic auth cache".to_string())?;
        Ok(Some(Self {
            users: map,
            cache: Mutex::new(HashSet::new()),
            refused: Mutex::new(HashSet::new()),
            cache_key,
            pool: BcryptPool::start()?,
        }))
    }

    fn hash_for(&self, user: &[u8]) -> (&str, bool) {
        match std::str::from_utf8(user)
            .ok()
            .and_then(|u| self.users.get(u))
        {
            Some(h) => (h.as_str(), true),
            None => (DUMMY_HASH, false),
        }
    }

    pub(super) fn cache_key(&self, user: &[u8], pass: &[u8]) -> [u8; 32] {
        let (hash, _) = self.hash_for(user);
        let mut ctx = ring::hmac::Context::with_key(&self.cache_key);
        // Length-prefixed so ("ab", "c") and ("a", "bc") differ.
        for part in [user, hash.as_bytes(), pass] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    /// What bcrypt said of this pair before, if it is still remembered.
    pub(super) fn cached(&self, key: &[u8; 32]) -> Option<bool> {
        if self.cache.lock().map(|c| c.contains(key)).unwrap_or(false) {
            return Some(true);
        }
        if self
            .refused
            .lock()
            .map(|c| c.contains(key))
            .unwrap_or(false)
        {
            return Some(false);
        }
        None
    }

    /// Remembers bcrypt's answer for a pair, in a bounded set.
    pub(super) fn remember(&self, key: [u8; 32], ok: bool) {
        let (set, size) = if ok {
            (&self.cache, CACHE_SIZE)
        } else {
            (&self.refused, REFUSED_CACHE_SIZE)
        };
        if let Ok(mut set) = set.lock() {
            if set.len() >= size {
                // Drop a tenth; which ones hardly matters (a dropped pair costs one bcrypt).
                let drop: Vec<_> = set.iter().take(size / 10).copied().collect();
                for k in drop {
                    set.remove(&k);
                }
            }
            set.insert(key);
        }
    }

    #[cfg(test)]
    pub(super) fn cache_len(&self) -> usize {
        self.cache.lock().map(|c| c.len()).unwrap_or(0)
            + self.refused.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// [`BasicAuth::verify`] on the bcrypt thread; `None` when its queue is full.
    pub(super) fn verify_queued(
        self: &Arc<Self>,
        user: Vec<u8>,
        pass: Vec<u8>,
        key: [u8; 32],
    ) -> Option<tokio::sync::oneshot::Receiver<bool>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let auth = self.clone();
        let job: Job = Box::new(move || {
            let _ = tx.send(auth.verify(&user, &pass, key));
        });
        self.pool.try_run(job).then_some(rx)
    }

    /// The slow path: bcrypt, then remember the answer.
    pub(super) fn verify(&self, user: &[u8], pass: &[u8], key: [u8; 32]) -> bool {
        let (hash, known) = self.hash_for(user);
        // bcrypt's own comparison of the digests is constant-time.
        let ok = bcrypt::verify(pass, hash).unwrap_or(false) && known;
        self.remember(key, ok);
        ok
    }
}

/// Checks the shape of a bcrypt hash at load time, as upstream's `bcrypt.Cost` does, so a typo
/// is a startup error rather than every request failing. Never echoes the hash.
pub(super) fn check_bcrypt_hash(hash: &str) -> Result<(), &'static str> {
    const WANT: &str = "malformed bcrypt hash (want $2a$, $2b$ or $2y$, a two-digit cost from 04 to 31, then 53 characters of salt and hash)";
    let rest = ["$2a$", "$2b$", "$2y$", "$2x$"]
        .iter()
        .find_map(|p| hash.strip_prefix(p))
        .ok_or(WANT)?;
    let (cost, rest) = rest.split_once('$').ok_or(WANT)?;
    if cost.len() != 2 || !cost.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WANT);
    }
    let cost: u32 = cost.parse().map_err(|_| WANT)?;
    if !(4..=31).contains(&cost) || rest.len() != 53 || !rest.is_char_boundary(22) {
        return Err(WANT);
    }
    let salt = bcrypt::BASE_64.decode(&rest[..22]).map_err(|_| WANT)?;
    let digest = bcrypt::BASE_64.decode(&rest[22..]).map_err(|_| WANT)?;
    if salt.len() != 16 || digest.len() != 23 {
        return Err(WANT);
    }
    Ok(())
}

/// `Authorization: Basic base64(user:password)`, as Go's `Request.BasicAuth`: the scheme is
/// case-insensitive, the password is everything after the first colon.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(Vec<u8>, Vec<u8>)> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    if value.len() < 6 || !value[..6].eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&value[6..])
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}
