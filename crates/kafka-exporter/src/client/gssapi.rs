//! SASL GSSAPI (Kerberos V5, RFC 4752) through MIT's `libgssapi_krb5.so.2`, opened at run time.
//!
//! Why dlopen and a small hand-written binding rather than rsasl's `gssapi` feature (the
//! `libgssapi` crate): that one links libgssapi_krb5 at build time (and runs bindgen, so the
//! build needs libkrb5-dev and libclang), and then *every* deployment needs the library and its
//! five dependencies (libkrb5, libk5crypto, libkrb5support, libcom_err, libkeyutils: about 1.5
//! MB, none in the distroless image) before the binary even starts, though few users run
//! Kerberos. Opened at run time, only `--sasl.mechanism=gssapi` needs it, and its absence is one
//! line at start. The binding is the dozen RFC 2744 calls the exchange needs plus two MIT
//! extensions (`gss_acquire_cred_from` for a client keytab, `gss_acquire_cred_with_password`),
//! whose C declarations (MIT krb5 1.20, `gssapi/gssapi.h`, `gssapi/gssapi_ext.h`) are stable ABI.
//! No crate offers a run-time-loaded GSSAPI binding.
//!
//! The exchange (RFC 4752 section 3.1), each client message in a SaslAuthenticate request:
//! `gss_init_sec_context` rounds with mutual authentication for `<service>@<broker host>` until
//! the context is complete; then the broker sends a wrapped 4-byte offer of security layers,
//! which we unwrap and answer, wrapped, with "no security layer, no maximum size" and an empty
//! authorization id (as Kafka's Java client does: the broker then authorizes the authenticated
//! principal). Kafka never uses a SASL security layer: TLS is its channel protection.
//!
//! Every library call may block (the KDC is asked over the network), so each step runs on
//! tokio's blocking pool.

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::cli::{Kerberos, Secret};

/// MIT Kerberos's GSSAPI library, by its soname (Debian's libgssapi-krb5-2, RHEL's krb5-libs).
pub const LIBRARY: &str = "libgssapi_krb5.so.2";

type Om = u32;
type Name = *mut c_void;
type Cred = *mut c_void;
type Ctx = *mut c_void;

/// `gss_buffer_desc`.
#[repr(C)]
struct Buffer {
    length: usize,
    value: *mut c_void,
}

impl Buffer {
    fn empty() -> Self {
        Self {
            length: 0,
            value: std::ptr::null_mut(),
        }
    }

    /// A view of `bytes` for an input argument (the library does not write through it).
    fn of(bytes: &[u8]) -> Self {
        Self {
            length: bytes.len(),
            value: bytes.as_ptr() as *mut c_void,
        }
    }
}

/// `gss_OID_desc`.
#[repr(C)]
struct Oid {
    length: Om,
    elements: *mut c_void,
}

/// `gss_OID_set_desc`.
#[repr(C)]
struct OidSet {
    count: usize,
    elements: *mut Oid,
}

/// `gss_key_value_element_desc` and `gss_key_value_set_desc` (MIT's credential store).
#[repr(C)]
struct KeyValue {
    key: *const c_char,
    value: *const c_char,
}
#[repr(C)]
struct KeyValueSet {
    count: Om,
    elements: *mut KeyValue,
}

// DER bodies of the OIDs (RFC 1964, RFC 2744).
/// 1.2.840.113554.1.2.2: the Kerberos V5 mechanism.
const KRB5_MECH: &[u8] = b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02";
/// 1.2.840.113554.1.2.1.4: GSS_C_NT_HOSTBASED_SERVICE (`service@host`).
const NT_HOSTBASED_SERVICE: &[u8] = b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x04";
/// 1.2.840.113554.1.2.2.1: GSS_KRB5_NT_PRINCIPAL_NAME (`user@REALM`).
const NT_KRB5_PRINCIPAL: &[u8] = b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02\x01";

fn oid(der: &'static [u8]) -> Oid {
    Oid {
        length: der.len() as Om,
        elements: der.as_ptr() as *mut c_void,
    }
}

const GSS_S_COMPLETE: Om = 0;
const GSS_S_CONTINUE_NEEDED: Om = 1;
const GSS_C_GSS_CODE: c_int = 1;
const GSS_C_MECH_CODE: c_int = 2;
const GSS_C_INITIATE: c_int = 1;
const GSS_C_INDEFINITE: Om = 0xffff_ffff;
const GSS_C_MUTUAL_FLAG: Om = 2;
const GSS_C_SEQUENCE_FLAG: Om = 8;
const GSS_C_INTEG_FLAG: Om = 32;

/// The calling and routine error fields of a major status (RFC 2744 `GSS_ERROR`).
fn is_error(major: Om) -> bool {
    major & 0xffff_0000 != 0
}

type ImportName = unsafe extern "C" fn(*mut Om, *mut Buffer, *const Oid, *mut Name) -> Om;
type ReleaseName = unsafe extern "C" fn(*mut Om, *mut Name) -> Om;
type AcquireCredFrom = unsafe extern "C" fn(
    *mut Om,
    Name,
    Om,
    *const OidSet,
    c_int,
    *const KeyValueSet,
    *mut Cred,
    *mut *mut OidSet,
    *mut Om,
) -> Om;
type AcquireCredWithPassword = unsafe extern "C" fn(
    *mut Om,
    Name,
    *const Buffer,
    Om,
    *const OidSet,
    c_int,
    *mut Cred,
    *mut *mut OidSet,
    *mut Om,
) -> Om;
type ReleaseCred = unsafe extern "C" fn(*mut Om, *mut Cred) -> Om;
type InitSecContext = unsafe extern "C" fn(
    *mut Om,
    Cred,
    *mut Ctx,
    Name,
    *const Oid,
    Om,
    Om,
    *mut c_void,
    *mut Buffer,
    *mut *mut Oid,
    *mut Buffer,
    *mut Om,
    *mut Om,
) -> Om;
type DeleteSecContext = unsafe extern "C" fn(*mut Om, *mut Ctx, *mut Buffer) -> Om;
type Wrap =
    unsafe extern "C" fn(*mut Om, Ctx, c_int, Om, *mut Buffer, *mut c_int, *mut Buffer) -> Om;
type Unwrap =
    unsafe extern "C" fn(*mut Om, Ctx, *mut Buffer, *mut Buffer, *mut c_int, *mut Om) -> Om;
type ReleaseBuffer = unsafe extern "C" fn(*mut Om, *mut Buffer) -> Om;
type DisplayStatus =
    unsafe extern "C" fn(*mut Om, Om, c_int, *const Oid, *mut Om, *mut Buffer) -> Om;

/// The library's functions. The `Library` is kept alive (and never closed) for them.
struct Lib {
    _lib: libloading::Library,
    import_name: ImportName,
    release_name: ReleaseName,
    acquire_cred_from: AcquireCredFrom,
    acquire_cred_with_password: AcquireCredWithPassword,
    release_cred: ReleaseCred,
    init_sec_context: InitSecContext,
    delete_sec_context: DeleteSecContext,
    wrap: Wrap,
    unwrap: Unwrap,
    release_buffer: ReleaseBuffer,
    display_status: DisplayStatus,
}

impl Lib {
    fn open(path: &str) -> Result<Self, String> {
        // SAFETY: MIT's library runs no initialiser with preconditions of ours; the symbols'
        // types are MIT 1.20's declarations (see the module comment).
        unsafe {
            let lib = libloading::Library::new(path).map_err(|e| {
                format!("GSSAPI needs MIT Kerberos's {path} (Debian: libgssapi-krb5-2, RHEL: krb5-libs): {e}")
            })?;
            macro_rules! sym {
                ($name:literal) => {
                    *lib.get(concat!($name, "\0").as_bytes())
                        .map_err(|e| format!("{path}: {e}"))?
                };
            }
            Ok(Self {
                import_name: sym!("gss_import_name"),
                release_name: sym!("gss_release_name"),
                acquire_cred_from: sym!("gss_acquire_cred_from"),
                acquire_cred_with_password: sym!("gss_acquire_cred_with_password"),
                release_cred: sym!("gss_release_cred"),
                init_sec_context: sym!("gss_init_sec_context"),
                delete_sec_context: sym!("gss_delete_sec_context"),
                wrap: sym!("gss_wrap"),
                unwrap: sym!("gss_unwrap"),
                release_buffer: sym!("gss_release_buffer"),
                display_status: sym!("gss_display_status"),
                _lib: lib,
            })
        }
    }

    /// The library's own words for a failed call: the GSS-API status, then the mechanism's
    /// (Kerberos's: "Preauthentication failed", "Key table file '...' not found", ...).
    fn status(&self, what: &str, major: Om, minor: Om) -> String {
        let mut parts = vec![];
        for (code, kind) in [(major, GSS_C_GSS_CODE), (minor, GSS_C_MECH_CODE)] {
            if code == 0 {
                continue;
            }
            let mech = oid(KRB5_MECH);
            let mut more: Om = 0;
            // Bounded: a status has at most a few messages.
            for _ in 0..8 {
                let mut m: Om = 0;
                let mut out = Buffer::empty();
                // SAFETY: plain out-parameters; `out` is released below.
                let r = unsafe {
                    (self.display_status)(&mut m, code, kind, &mech, &mut more, &mut out)
                };
                if is_error(r) {
                    break;
                }
                let text = self.take(&mut out);
                let text = String::from_utf8_lossy(&text).trim().to_string();
                if !text.is_empty() && !parts.contains(&text) {
                    parts.push(text);
                }
                if more == 0 {
                    break;
                }
            }
        }
        if parts.is_empty() {
            parts.push(format!("major status {major:#x}, minor {minor}"));
        }
        format!("{what}: {}", parts.join(": "))
    }

    /// Copies out and releases a buffer the library allocated.
    fn take(&self, buf: &mut Buffer) -> Vec<u8> {
        if buf.value.is_null() {
            return Vec::new();
        }
        // SAFETY: the library returned `length` bytes at `value`; released once, right after.
        let bytes =
            unsafe { std::slice::from_raw_parts(buf.value as *const u8, buf.length) }.to_vec();
        let mut m: Om = 0;
        // SAFETY: a buffer the library allocated, released once.
        unsafe { (self.release_buffer)(&mut m, buf) };
        *buf = Buffer::empty();
        bytes
    }

    fn import_name(&self, text: &str, kind: &'static [u8]) -> Result<Name, String> {
        let mut m: Om = 0;
        let mut name: Name = std::ptr::null_mut();
        let mut buf = Buffer::of(text.as_bytes());
        let kind = oid(kind);
        // SAFETY: the name text is copied by the library; `name` is released by the caller.
        let major = unsafe { (self.import_name)(&mut m, &mut buf, &kind, &mut name) };
        if is_error(major) {
            return Err(self.status(&format!("the name {text:?}"), major, m));
        }
        Ok(name)
    }
}

/// GSSAPI authentication for every broker: the library and whose credentials to use.
pub struct Gssapi {
    lib: Arc<Lib>,
    kerberos: Kerberos,
    /// The userAuth password (unused with a keytab).
    password: Secret,
    /// The in-memory credential cache of this process: tickets from the keytab are kept there
    /// (and reused by later connections) rather than in the user's default cache on disk.
    ccache: String,
}

impl std::fmt::Debug for Gssapi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gssapi")
            .field("kerberos", &self.kerberos)
            .finish_non_exhaustive()
    }
}

impl Gssapi {
    /// Opens the library (`library`: normally [`LIBRARY`]). `--sasl.kerberos-config-path`
    /// becomes KRB5_CONFIG, which MIT reads when a context is made; this runs once at start,
    /// before the collector's thread exists, so no other thread reads the environment meanwhile.
    pub fn load(kerberos: &Kerberos, password: &Secret, library: &str) -> Result<Self, String> {
        if let Some(path) = &kerberos.config_path {
            std::env::set_var("KRB5_CONFIG", path);
        }
        let lib = Lib::open(library)?;
        Ok(Self {
            lib: Arc::new(lib),
            kerberos: kerberos.clone(),
            password: password.clone(),
            ccache: format!("MEMORY:kafka-exporter-{}", std::process::id()),
        })
    }

    /// Runs the RFC 4752 exchange with the broker at `host`. `round` sends one client message
    /// in a SaslAuthenticate request and returns the broker's answer with the session lifetime
    /// it granted; the last one is returned. Errors are one line, without the password.
    pub async fn authenticate<F, Fut, E>(
        &self,
        host: &str,
        mut round: F,
    ) -> Result<Duration, Failure<E>>
    where
        F: FnMut(Bytes) -> Fut,
        Fut: std::future::Future<Output = Result<(Bytes, Duration), E>>,
    {
        let mut session = {
            let lib = Arc::clone(&self.lib);
            let (principal, keytab) = (
                self.kerberos.principal.clone(),
                self.kerberos.keytab.clone(),
            );
            let password = self.password.clone();
            let ccache = self.ccache.clone();
            let target = format!("{}@{host}", self.kerberos.service_name);
            blocking(move || {
                Session::new(
                    lib,
                    &principal,
                    keytab.as_deref(),
                    &password,
                    &ccache,
                    &target,
                )
            })
            .await
            .map_err(Failure::Gss)?
        };
        let mut input: Option<Bytes> = None;
        // A Kerberos context takes one round trip (AP-REQ, AP-REP); a few more are allowed
        // for other mechanisms' sake, and then it is a broken peer.
        for _ in 0..8 {
            let (s, step) = blocking(move || {
                let mut s = session;
                let r = s.step(input.as_deref());
                (s, r)
            })
            .await;
            session = s;
            let (token, complete) = step.map_err(Failure::Gss)?;
            // When the context is complete without a last token, an empty message asks the
            // broker for its security-layer offer (RFC 4752 3.1).
            let (answer, _) = round(Bytes::from(token)).await.map_err(Failure::Broker)?;
            if complete {
                let (s, reply) = blocking(move || {
                    let s = session;
                    let r = s.security_layer(&answer);
                    (s, r)
                })
                .await;
                drop(s);
                let reply = reply.map_err(Failure::Gss)?;
                let (_, lifetime) = round(Bytes::from(reply)).await.map_err(Failure::Broker)?;
                return Ok(lifetime);
            }
            input = Some(answer);
        }
        Err(Failure::Gss(
            "the security context was not complete after 8 rounds".into(),
        ))
    }
}

/// Why [`Gssapi::authenticate`] failed: the Kerberos side (credentials, the KDC, the context),
/// or a SaslAuthenticate round.
#[derive(Debug)]
pub enum Failure<E> {
    Gss(String),
    Broker(E),
}

/// Runs `f` on tokio's blocking pool (a library call may wait on the KDC).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// One exchange's library state, released on drop.
struct Session {
    lib: Arc<Lib>,
    cred: Cred,
    target: Name,
    ctx: Ctx,
}

// SAFETY: MIT's credential, name and context handles are heap objects with no thread affinity;
// a Session is used by one thread at a time (it is moved into each blocking step).
unsafe impl Send for Session {}

impl Drop for Session {
    fn drop(&mut self) {
        let mut m: Om = 0;
        // SAFETY: each handle was made by the library and is released once.
        unsafe {
            if !self.ctx.is_null() {
                (self.lib.delete_sec_context)(&mut m, &mut self.ctx, std::ptr::null_mut());
            }
            if !self.cred.is_null() {
                (self.lib.release_cred)(&mut m, &mut self.cred);
            }
            if !self.target.is_null() {
                (self.lib.release_name)(&mut m, &mut self.target);
            }
        }
    }
}

impl Session {
    /// Acquires the credentials (from the keytab, or a ticket for the password) and names the
    /// broker's service.
    fn new(
        lib: Arc<Lib>,
        principal: &str,
        keytab: Option<&str>,
        password: &Secret,
        ccache: &str,
        target: &str,
    ) -> Result<Self, String> {
        let mut session = Session {
            lib: Arc::clone(&lib),
            cred: std::ptr::null_mut(),
            target: std::ptr::null_mut(),
            ctx: std::ptr::null_mut(),
        };
        let mut me = lib.import_name(principal, NT_KRB5_PRINCIPAL)?;
        let mut krb5 = oid(KRB5_MECH);
        let mechs = OidSet {
            count: 1,
            elements: &mut krb5,
        };
        let mut m: Om = 0;
        let source = match keytab {
            Some(k) => format!("from keytab {k:?}"),
            None => "from the password".into(),
        };
        let major = match keytab {
            Some(keytab) => {
                // A file the process cannot read gives MIT's "no credentials" message, which
                // does not name the file; say which one first.
                if let Err(e) = std::fs::File::open(keytab) {
                    // SAFETY: released once.
                    unsafe { (lib.release_name)(&mut m, &mut me) };
                    return Err(format!("--sasl.keytab-path {keytab:?}: {e}"));
                }
                let keytab = CString::new(format!("FILE:{keytab}")).map_err(|e| e.to_string())?;
                let cache = CString::new(ccache).map_err(|e| e.to_string())?;
                let mut elements = [
                    KeyValue {
                        key: c"client_keytab".as_ptr(),
                        value: keytab.as_ptr(),
                    },
                    KeyValue {
                        key: c"ccache".as_ptr(),
                        value: cache.as_ptr(),
                    },
                ];
                let store = KeyValueSet {
                    count: elements.len() as Om,
                    elements: elements.as_mut_ptr(),
                };
                // SAFETY: every pointer outlives the call; the library copies what it keeps.
                unsafe {
                    (lib.acquire_cred_from)(
                        &mut m,
                        me,
                        GSS_C_INDEFINITE,
                        &mechs,
                        GSS_C_INITIATE,
                        &store,
                        &mut session.cred,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                    )
                }
            }
            None => {
                let pw = Buffer::of(password.expose().as_bytes());
                // SAFETY: as above; MIT asks the KDC for a ticket here and keeps it in a
                // memory cache of its own.
                unsafe {
                    (lib.acquire_cred_with_password)(
                        &mut m,
                        me,
                        &pw,
                        GSS_C_INDEFINITE,
                        &mechs,
                        GSS_C_INITIATE,
                        &mut session.cred,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                    )
                }
            }
        };
        let mut m2: Om = 0;
        // SAFETY: released once.
        unsafe { (lib.release_name)(&mut m2, &mut me) };
        if is_error(major) {
            return Err(lib.status(&format!("credentials of {principal:?} {source}"), major, m));
        }
        session.target = lib.import_name(target, NT_HOSTBASED_SERVICE)?;
        Ok(session)
    }

    /// One `gss_init_sec_context` call: the token to send, and whether the context is complete.
    fn step(&mut self, input: Option<&[u8]>) -> Result<(Vec<u8>, bool), String> {
        let mut m: Om = 0;
        let mut input = input.map(Buffer::of);
        let mut out = Buffer::empty();
        let mut flags: Om = 0;
        let mech = oid(KRB5_MECH);
        // SAFETY: the handles are ours; `input` outlives the call; `out` is released by take().
        let major = unsafe {
            (self.lib.init_sec_context)(
                &mut m,
                self.cred,
                &mut self.ctx,
                self.target,
                &mech,
                GSS_C_MUTUAL_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_INTEG_FLAG,
                GSS_C_INDEFINITE,
                std::ptr::null_mut(),
                input
                    .as_mut()
                    .map_or(std::ptr::null_mut(), |b| b as *mut Buffer),
                std::ptr::null_mut(),
                &mut out,
                &mut flags,
                std::ptr::null_mut(),
            )
        };
        let token = self.lib.take(&mut out);
        if is_error(major) {
            return Err(self.lib.status("the security context", major, m));
        }
        match major & 0xffff {
            GSS_S_COMPLETE if flags & GSS_C_MUTUAL_FLAG == 0 => {
                Err("the broker did not authenticate itself (no mutual authentication)".into())
            }
            GSS_S_COMPLETE => Ok((token, true)),
            GSS_S_CONTINUE_NEEDED => Ok((token, false)),
            other => Err(format!(
                "the security context: unexpected status {other:#x}"
            )),
        }
    }

    /// The security-layer step: unwraps the broker's offer and answers, wrapped, that we take
    /// no security layer.
    fn security_layer(&self, offer: &[u8]) -> Result<Vec<u8>, String> {
        let mut m: Om = 0;
        let mut input = Buffer::of(offer);
        let mut plain = Buffer::empty();
        // SAFETY: as in step().
        let major = unsafe {
            (self.lib.unwrap)(
                &mut m,
                self.ctx,
                &mut input,
                &mut plain,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        let plain = self.lib.take(&mut plain);
        if is_error(major) {
            return Err(self
                .lib
                .status("the broker's security-layer offer", major, m));
        }
        let reply = security_layer_reply(&plain)?;
        let mut input = Buffer::of(&reply);
        let mut out = Buffer::empty();
        // SAFETY: as in step(). No confidentiality: integrity only, as RFC 4752 asks.
        let major = unsafe {
            (self.lib.wrap)(
                &mut m,
                self.ctx,
                0,
                0,
                &mut input,
                std::ptr::null_mut(),
                &mut out,
            )
        };
        let out = self.lib.take(&mut out);
        if is_error(major) {
            return Err(self
                .lib
                .status("wrapping our security-layer answer", major, m));
        }
        Ok(out)
    }
}

/// RFC 4752 3.1: the broker's unwrapped offer is 4 bytes, a bit mask of the security layers
/// it supports (1: none) and its maximum message size. Our answer: layer 1 (none), maximum size
/// 0, and an empty authorization id.
fn security_layer_reply(offer: &[u8]) -> Result<Vec<u8>, String> {
    if offer.len() != 4 {
        return Err(format!(
            "the broker's security-layer offer is {} bytes, not 4",
            offer.len()
        ));
    }
    if offer[0] & 0x01 == 0 {
        return Err(format!(
            "the broker requires a SASL security layer (offer {:#04x}); Kafka never does",
            offer[0]
        ));
    }
    Ok(vec![0x01, 0, 0, 0])
}

/// The host of a `host:port` broker address (IPv6 in brackets), for the service principal.
pub fn broker_host(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// How long the whole exchange may take: a KDC that does not answer makes MIT try each KDC
/// for a few seconds, so the request deadline of the broker alone is not enough.
pub fn deadline(request: Duration) -> Duration {
    request.max(Duration::from_secs(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_layer_answer() {
        // Kafka's broker offers "no security layer" and a 64 KiB maximum.
        assert_eq!(
            security_layer_reply(&[0x01, 0x01, 0x00, 0x00]).unwrap(),
            [0x01, 0, 0, 0]
        );
        assert_eq!(
            security_layer_reply(&[0x07, 0xff, 0xff, 0xff]).unwrap(),
            [0x01, 0, 0, 0]
        );
        let e = security_layer_reply(&[0x04, 0, 0, 0]).unwrap_err();
        assert!(e.contains("requires a SASL security layer"), "{e}");
        assert!(security_layer_reply(&[0x01]).is_err());
    }

    #[test]
    fn hosts_of_addresses() {
        assert_eq!(broker_host("localhost:9092"), "localhost");
        assert_eq!(broker_host("b-1.kafka.example:9096"), "b-1.kafka.example");
        assert_eq!(broker_host("[::1]:9092"), "::1");
        assert_eq!(broker_host("kafka"), "kafka");
    }

    #[test]
    fn a_missing_library_is_one_line_naming_it() {
        let k = Kerberos {
            service_name: "kafka".into(),
            config_path: None,
            principal: "exporter".into(),
            keytab: None,
        };
        let e = Gssapi::load(&k, &Secret::default(), "libgssapi_krb5-missing.so.9").unwrap_err();
        assert!(e.contains("libgssapi_krb5-missing.so.9"), "{e}");
        assert!(e.contains("libgssapi-krb5-2"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    /// When MIT's library is installed (as in CI), every symbol resolves and a name imports.
    #[test]
    fn the_library_binds_when_present() {
        let Ok(lib) = Lib::open(LIBRARY) else {
            eprintln!("{LIBRARY} is not installed here: skipped");
            return;
        };
        let mut name = lib
            .import_name("kafka@localhost", NT_HOSTBASED_SERVICE)
            .unwrap();
        assert!(!name.is_null());
        let mut m: Om = 0;
        // SAFETY: released once.
        unsafe { (lib.release_name)(&mut m, &mut name) };
        // A failed call reads as the library's words.
        let msg = lib.status("test", 0x000d_0000, 0);
        assert!(msg.starts_with("test: "), "{msg}");
    }
}
