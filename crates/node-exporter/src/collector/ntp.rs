//! The `ntp` collector (off by default, deprecated upstream): asks the local NTP server one SNTP
//! question per scrape and reports its stratum, leap indicator, offset, delays and an overall
//! `node_ntp_sanity`, as node_exporter's `ntp.go` does through beevik/ntp.
//!
//! The 48-byte SNTP packet is written here by hand: the maintained Rust SNTP client (`sntpc`)
//! answers only offset and round trip, not the root delay, root dispersion, reference time and
//! leap bits these metrics need, and the packet is a fixed header (RFC 5905 figure 8).
//! Like beevik/ntp, the request's transmit timestamp is random (a nonce the reply must echo as
//! its origin timestamp) and the local send time stands in for the origin in the arithmetic.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use exporter_core::cli::{parse_duration, UsageError};
use exporter_core::Exposition;

use super::{CollectResult, Collector, Paths};

/// Flags of the `ntp` collector, with upstream's defaults.
#[derive(clap::Args, Debug, Clone)]
#[group(skip)]
pub struct Args {
    /// NTP server to use for ntp collector
    #[arg(long = "collector.ntp.server", default_value = "127.0.0.1")]
    pub ntp_server: String,

    /// UDP port number to connect to on NTP server
    #[arg(long = "collector.ntp.server-port", default_value_t = 123)]
    pub ntp_server_port: i64,

    /// NTP protocol version
    #[arg(long = "collector.ntp.protocol-version", default_value_t = 4)]
    pub ntp_protocol_version: i64,

    /// Certify that collector.ntp.server address is not a public ntp server
    #[arg(long = "collector.ntp.server-is-local")]
    pub ntp_server_is_local: bool,

    /// IP TTL to use while sending NTP query
    #[arg(long = "collector.ntp.ip-ttl", default_value_t = 1)]
    pub ntp_ip_ttl: i64,

    /// Max accumulated distance to the root
    #[arg(long = "collector.ntp.max-distance", default_value = "3.46608s", value_parser = parse_duration)]
    pub ntp_max_distance: Duration,

    /// Offset between local clock and local ntpd time to tolerate
    #[arg(long = "collector.ntp.local-offset-tolerance", default_value = "1ms", value_parser = parse_duration)]
    pub ntp_local_offset_tolerance: Duration,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            ntp_server: "127.0.0.1".into(),
            ntp_server_port: 123,
            ntp_protocol_version: 4,
            ntp_server_is_local: false,
            ntp_ip_ttl: 1,
            ntp_max_distance: Duration::from_secs_f64(3.46608),
            ntp_local_offset_tolerance: Duration::from_millis(1),
        }
    }
}

pub fn build(_paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    let is_loopback = args
        .ntp_server
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback());
    if !args.ntp_server_is_local && !is_loopback {
        return Err(UsageError::new(
            "only IP address of local NTP server is valid for --collector.ntp.server",
        ));
    }
    if !(2..=4).contains(&args.ntp_protocol_version) {
        return Err(UsageError::new(format!(
            "invalid NTP protocol version {}; must be 2, 3, or 4",
            args.ntp_protocol_version
        )));
    }
    let port = u16::try_from(args.ntp_server_port)
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| {
            UsageError::new(format!(
                "invalid NTP port number {}; must be between 1 and 65535 inclusive",
                args.ntp_server_port
            ))
        })?;
    tracing::warn!(
        collector = "ntp",
        "This collector is deprecated and will be removed in the next major version release."
    );
    Ok(Box::new(Ntp {
        server: args.ntp_server.clone(),
        port,
        version: args.ntp_protocol_version as u8,
        ttl: args.ntp_ip_ttl,
        max_distance: args.ntp_max_distance.as_secs_f64(),
        offset_tolerance: args.ntp_local_offset_tolerance.as_secs_f64(),
        leap_midnight: Mutex::new(None),
    }))
}

struct Ntp {
    server: String,
    port: u16,
    version: u8,
    /// 0 leaves the system's default, as beevik/ntp does; a bad value fails each query.
    ttl: i64,
    max_distance: f64,
    offset_tolerance: f64,
    /// The midnight (Unix seconds) after the last leap warning seen: the server drops the flag
    /// right after the leap, but a smeared clock may still be off for a day around it.
    leap_midnight: Mutex<Option<f64>>,
}

const DAY: f64 = 86_400.0;

impl Collector for Ntp {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let r = self
            .query()
            .map_err(|e| anyhow::anyhow!("couldn't get SNTP reply: {e}"))?;
        out.gauge(
            "node_ntp_stratum",
            "NTPD stratum.",
            &[],
            f64::from(r.stratum),
        );
        out.gauge(
            "node_ntp_leap",
            "NTPD leap second indicator, 2 bits.",
            &[],
            f64::from(r.leap),
        );
        out.gauge("node_ntp_rtt_seconds", "RTT to NTPD.", &[], r.rtt);
        out.gauge(
            "node_ntp_offset_seconds",
            "ClockOffset between NTP and local clock.",
            &[],
            r.offset,
        );
        // Reference times before 1970 (an unset one is 1900) read 0, as upstream keeps them.
        let reftime = if r.reference_time >= 1.0 {
            r.reference_time
        } else {
            0.0
        };
        out.gauge(
            "node_ntp_reference_timestamp_seconds",
            "NTPD ReferenceTime, UNIX timestamp.",
            &[],
            reftime,
        );
        out.gauge(
            "node_ntp_root_delay_seconds",
            "NTPD RootDelay.",
            &[],
            r.root_delay,
        );
        out.gauge(
            "node_ntp_root_dispersion_seconds",
            "NTPD RootDispersion.",
            &[],
            r.root_dispersion,
        );

        let mut max_err = self.offset_tolerance;
        {
            let mut midnight = self.leap_midnight.lock().unwrap_or_else(|p| p.into_inner());
            if r.leap == 1 || r.leap == 2 {
                *midnight = Some((r.time / DAY).floor() * DAY + DAY);
            }
            if let Some(m) = *midnight {
                if m - DAY < r.time && r.time < m + DAY {
                    max_err += 1.0;
                }
            }
        }
        let sane = r.valid() && r.root_distance() <= self.max_distance && r.min_error <= max_err;
        out.gauge(
            "node_ntp_sanity",
            "NTPD sanity according to RFC5905 heuristics and configured limits.",
            &[],
            if sane { 1.0 } else { 0.0 },
        );
        Ok(())
    }
}

impl Ntp {
    fn query(&self) -> std::io::Result<Reply> {
        let addr: SocketAddr = (self.server.as_str(), self.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other("no address"))?;
        let bind: SocketAddr = if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        }
        .parse()
        .map_err(std::io::Error::other)?;
        let sock = UdpSocket::bind(bind)?;
        // ntpdate's default timeout, as upstream; TTL 1 keeps the question on this host's link.
        sock.set_read_timeout(Some(Duration::from_secs(1)))?;
        if self.ttl != 0 {
            let ttl = u32::try_from(self.ttl).map_err(std::io::Error::other)?;
            if addr.is_ipv4() {
                sock.set_ttl(ttl)?;
            } else {
                set_hop_limit(&sock, ttl)?;
            }
        }
        sock.connect(addr)?;
        let nonce = random_u64();
        let request = request_packet(self.version, nonce);
        let sent = SystemTime::now();
        sock.send(&request)?;
        let mut buf = [0u8; 1024];
        let n = sock.recv(&mut buf)?;
        let received = SystemTime::now().max(sent);
        parse_reply(&buf[..n], nonce, ntp_time(sent), ntp_time(received))
            .map_err(std::io::Error::other)
    }
}

fn set_hop_limit(sock: &UdpSocket, hops: u32) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let v = hops as libc::c_int;
    // SAFETY: setsockopt with a c_int option value that outlives the call.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_UNICAST_HOPS,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A nonce for the transmit timestamp; not secret, only unpredictable enough that a stray
/// datagram does not pass as the answer.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}

/// Seconds between 1900-01-01 (NTP era 0) and 1970-01-01.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// A 64-bit NTP timestamp (32.32 fixed point seconds since 1900) of a local time.
pub fn ntp_time(t: SystemTime) -> u64 {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() + NTP_UNIX_OFFSET;
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// Seconds of a 32.32 fixed-point duration (negative ones mirrored), truncated to whole
/// nanoseconds first as beevik/ntp's `time.Duration` values are, so the gauges print the same.
fn ntp_seconds(v: i64) -> f64 {
    let ns = |v: u64| (v >> 32) * 1_000_000_000 + (((v & 0xffff_ffff) * 1_000_000_000) >> 32);
    if v < 0 {
        -(ns(v.unsigned_abs()) as f64) / 1e9
    } else {
        ns(v as u64) as f64 / 1e9
    }
}

/// Seconds of a 16.16 fixed-point duration (root delay and dispersion), nanosecond-truncated.
fn short_seconds(v: u32) -> f64 {
    let v = u64::from(v);
    ((v >> 16) * 1_000_000_000 + (((v & 0xffff) * 1_000_000_000) >> 16)) as f64 / 1e9
}

/// The client's request: leap 0, the version, mode 3 (client), precision 0x20 as beevik sends,
/// and the nonce as transmit timestamp (bytes 40..48).
pub fn request_packet(version: u8, nonce: u64) -> [u8; 48] {
    let mut p = [0u8; 48];
    p[0] = (version & 7) << 3 | 3;
    p[3] = 0x20;
    p[40..48].copy_from_slice(&nonce.to_be_bytes());
    p
}

/// What the metrics need from one reply, in seconds (times as Unix seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub leap: u8,
    pub stratum: u8,
    pub root_delay: f64,
    pub root_dispersion: f64,
    pub reference_time: f64,
    /// The server's transmit time.
    pub time: f64,
    pub rtt: f64,
    pub offset: f64,
    pub min_error: f64,
}

impl Reply {
    /// beevik/ntp's `Validate`: not a kiss of death, a stratum below 16, a reference time at most
    /// 2^17 s old and not after the transmit time, a synchronization distance within 16 s, and
    /// a leap indicator other than "not in sync".
    pub fn valid(&self) -> bool {
        let freshness = self.time - self.reference_time;
        self.stratum != 0
            && self.stratum < 16
            && freshness <= f64::from(1u32 << 17)
            && self.root_delay / 2.0 + self.root_dispersion <= 16.0
            && self.time >= self.reference_time
            && self.leap != 3
    }

    /// RFC 5905's root distance for a single exchange: (rtt + root delay)/2 + root dispersion.
    pub fn root_distance(&self) -> f64 {
        (self.rtt + self.root_delay) / 2.0 + self.root_dispersion
    }
}

/// Checks and reads a server's reply to the request carrying `nonce`; `org` and `dst` are the
/// local send and receive times as NTP timestamps.
pub fn parse_reply(p: &[u8], nonce: u64, org: u64, dst: u64) -> Result<Reply, String> {
    if p.len() < 48 {
        return Err(format!("short reply of {} bytes", p.len()));
    }
    let u32_at = |i: usize| u32::from_be_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]);
    let u64_at = |i: usize| (u64::from(u32_at(i)) << 32) | u64::from(u32_at(i + 4));
    if p[0] & 7 != 4 {
        return Err("invalid mode in response".into());
    }
    let (reference, origin, rec, xmt) = (u64_at(16), u64_at(24), u64_at(32), u64_at(40));
    if xmt == 0 {
        return Err("invalid transmit time in response".into());
    }
    if origin != nonce {
        return Err("server response mismatch".into());
    }
    if rec > xmt {
        return Err("server clock ticked backwards".into());
    }
    // Differences as wrapping signed values, so that an era roll-over between them does not
    // matter (the same arithmetic as RFC 5905's).
    let diff = |a: u64, b: u64| a.wrapping_sub(b) as i64;
    let rtt = (diff(dst, org) - diff(xmt, rec)).max(0);
    let (a, b) = (diff(rec, org), diff(xmt, dst));
    let offset = a + (b - a) / 2;
    let err0 = org.saturating_sub(rec);
    let err1 = xmt.saturating_sub(dst);
    let unix =
        |t: u64| ntp_seconds(t as i64 & 0xffff_ffff) + (t >> 32) as f64 - NTP_UNIX_OFFSET as f64;
    Ok(Reply {
        leap: p[0] >> 6,
        stratum: p[1],
        root_delay: short_seconds(u32_at(4)),
        root_dispersion: short_seconds(u32_at(8)),
        reference_time: unix(reference),
        time: unix(xmt),
        rtt: ntp_seconds(rtt),
        offset: ntp_seconds(offset),
        min_error: ntp_seconds(err0.max(err1) as i64),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn reply(leap: u8, stratum: u8, nonce: u64, rec: u64, xmt: u64, reference: u64) -> Vec<u8> {
        let mut p = vec![0u8; 48];
        p[0] = leap << 6 | 4 << 3 | 4;
        p[1] = stratum;
        p[4..8].copy_from_slice(&0x0000_8000u32.to_be_bytes()); // 0.5 s root delay
        p[8..12].copy_from_slice(&0x0000_4000u32.to_be_bytes()); // 0.25 s root dispersion
        p[16..24].copy_from_slice(&reference.to_be_bytes());
        p[24..32].copy_from_slice(&nonce.to_be_bytes());
        p[32..40].copy_from_slice(&rec.to_be_bytes());
        p[40..48].copy_from_slice(&xmt.to_be_bytes());
        p
    }

    const S: u64 = 1 << 32;

    #[test]
    fn packet_and_arithmetic() {
        let req = request_packet(4, 0x0102_0304_0506_0708);
        assert_eq!(req[0], 0x23);
        assert_eq!(&req[40..], &[1, 2, 3, 4, 5, 6, 7, 8]);

        // Sent at 1000 s, the server received at 1002 s and answered at 1003 s, back at 1001 s:
        // the server is 2 s ahead and the round trip took 0 s net of the server's 1 s.
        let base = (NTP_UNIX_OFFSET + 1_700_000_000) * S;
        let (org, rec, xmt, dst) = (base, base + 2 * S, base + 3 * S, base + S);
        let r = parse_reply(&reply(0, 2, 7, rec, xmt, base - 10 * S), 7, org, dst).unwrap();
        assert_eq!(r.offset, 2.0);
        assert_eq!(r.rtt, 0.0);
        assert_eq!(r.stratum, 2);
        assert_eq!((r.root_delay, r.root_dispersion), (0.5, 0.25));
        assert_eq!(r.time, 1_700_000_003.0);
        assert_eq!(r.reference_time, 1_699_999_990.0);
        assert_eq!(r.min_error, 2.0); // the reply was sent "after" it arrived
        assert!(r.valid());
        assert_eq!(r.root_distance(), 0.5);

        assert!(parse_reply(&reply(0, 2, 8, rec, xmt, base), 7, org, dst).is_err());
        assert!(parse_reply(&reply(0, 2, 7, xmt, rec, base), 7, org, dst).is_err());
        assert!(parse_reply(&[0u8; 20], 7, org, dst).is_err());
        let unsynced = parse_reply(&reply(3, 2, 7, rec, xmt, base), 7, org, dst).unwrap();
        assert!(!unsynced.valid());
        let kod = parse_reply(&reply(0, 0, 7, rec, xmt, base), 7, org, dst).unwrap();
        assert!(!kod.valid());
    }

    #[test]
    fn flags_are_checked_like_upstream() {
        let ok = Args::default();
        assert!(build(&Paths::default(), &ok).is_ok());
        let public = Args {
            ntp_server: "192.0.2.1".into(),
            ..Args::default()
        };
        assert!(build(&Paths::default(), &public).is_err());
        let certified = Args {
            ntp_server_is_local: true,
            ..public
        };
        assert!(build(&Paths::default(), &certified).is_ok());
        let v5 = Args {
            ntp_protocol_version: 5,
            ..Args::default()
        };
        assert!(build(&Paths::default(), &v5).is_err());
        let port = Args {
            ntp_server_port: 70000,
            ..Args::default()
        };
        assert!(build(&Paths::default(), &port).is_err());
    }
}
