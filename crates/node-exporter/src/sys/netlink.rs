//! A minimal netlink client: one dump request, its replies handed to a callback. The `netdev`
//! (link statistics), `netclass` (link attributes), `arp` (neighbour table), `network_route`
//! (routes) and `qdisc` (queueing disciplines) collectors use it on rtnetlink, `tcpstat` on
//! sock_diag, `wifi` on generic netlink (nl80211). Callers match attributes with libc's
//! `IFLA_*`/`RTA_*` constants.
//!
//! Hand-written rather than on the `netlink-packet-*` crates: every caller needs one dump of
//! fixed-layout headers and flat attributes, which is the hundred lines below; the crates would
//! add a dozen dependencies for what these collectors read.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub use libc::{RTM_GETLINK, RTM_GETNEIGH, RTM_NEWLINK, RTM_NEWNEIGH};

// libc declares these as c_int; the header's fields are u16.
const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
const NLMSG_DONE: u16 = libc::NLMSG_DONE as u16;
const NLM_F_REQUEST: u16 = libc::NLM_F_REQUEST as u16;
const NLM_F_DUMP: u16 = libc::NLM_F_DUMP as u16;
/// `sizeof(struct nlmsghdr)`.
const NLMSG_HDRLEN: usize = std::mem::size_of::<libc::nlmsghdr>();

/// Sends a dump request of `msg_type` with `body` (the family header, e.g. an all-zero
/// `ifinfomsg`) and calls `f(type, body)` for every reply message until the dump ends.
pub fn dump(msg_type: u16, body: &[u8], f: impl FnMut(u16, &[u8])) -> io::Result<()> {
    dump_on(libc::NETLINK_ROUTE, msg_type, body, f)
}

/// [`dump`] on another netlink protocol (`libc::NETLINK_SOCK_DIAG`, ...).
pub fn dump_on(
    protocol: i32,
    msg_type: u16,
    body: &[u8],
    f: impl FnMut(u16, &[u8]),
) -> io::Result<()> {
    exchange(protocol, msg_type, NLM_F_DUMP, body, f)
}

/// One plain (non-dump) request, e.g. generic netlink's `CTRL_CMD_GETFAMILY`: `f` sees the
/// single reply.
pub fn request_on(
    protocol: i32,
    msg_type: u16,
    body: &[u8],
    f: impl FnMut(u16, &[u8]),
) -> io::Result<()> {
    exchange(protocol, msg_type, 0, body, f)
}

fn exchange(
    protocol: i32,
    msg_type: u16,
    flags: u16,
    body: &[u8],
    mut f: impl FnMut(u16, &[u8]),
) -> io::Result<()> {
    // SAFETY: plain socket(2); the fd is owned below.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            protocol,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };

    let len = NLMSG_HDRLEN + body.len();
    let mut req = Vec::with_capacity(len);
    req.extend_from_slice(&(len as u32).to_ne_bytes());
    req.extend_from_slice(&msg_type.to_ne_bytes());
    req.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
    req.extend_from_slice(&SEQ.to_ne_bytes()); // sequence number
    req.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
    req.extend_from_slice(body);
    // SAFETY: zeroed sockaddr_nl addresses the kernel.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    // SAFETY: req and addr outlive the call.
    let sent = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            req.as_ptr().cast(),
            req.len(),
            0,
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }

    // Dump replies come in datagrams of at most a page or so each; 64 KiB always holds one.
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: zeroed sockaddr_nl, filled in by recvfrom.
        let mut from: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        let mut from_len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: buf is writable for its length; from and from_len outlive the call.
        let n = unsafe {
            libc::recvfrom(
                sock.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                (&mut from as *mut libc::sockaddr_nl).cast(),
                &mut from_len,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        // Without NLM_F_DUMP (and no NLM_F_ACK asked) the reply is one message.
        let mut answered = false;
        let mut g = |kind: u16, payload: &[u8]| {
            answered = true;
            f(kind, payload);
        };
        if read_datagram(&buf[..n as usize], from.nl_pid, SEQ, &mut g)? {
            return Ok(());
        }
        if answered && flags & NLM_F_DUMP == 0 {
            return Ok(());
        }
    }
}

/// Every link's name by interface index, from one `RTM_GETLINK` dump.
pub fn link_names() -> io::Result<std::collections::HashMap<i32, String>> {
    let mut names = std::collections::HashMap::new();
    dump(RTM_GETLINK, &[0u8; 16], |kind, body| {
        if kind != RTM_NEWLINK || body.len() < 16 {
            return;
        }
        // ifinfomsg: family, pad, type (u16), index (i32), flags, change.
        let index = i32::from_ne_bytes([body[4], body[5], body[6], body[7]]);
        for (t, data) in attrs(&body[16..]) {
            if t == libc::IFLA_IFNAME {
                names.insert(index, c_string(data));
            }
        }
    })?;
    Ok(names)
}

/// The sequence number of our one request.
const SEQ: u32 = 1;

/// Hands the messages of one datagram from port `sender` to `f`; `Ok(true)` once the dump is
/// over (`NLMSG_DONE`, or an `NLMSG_ERROR` of 0).
///
/// Only the kernel (port 0) answers a dump: any local process may send datagrams to our port,
/// so those from another sender are dropped whole, as are messages answering another sequence
/// number than our request's (they cannot end our dump or add to it).
pub fn read_datagram(
    datagram: &[u8],
    sender: u32,
    seq: u32,
    f: &mut impl FnMut(u16, &[u8]),
) -> io::Result<bool> {
    if sender != 0 {
        return Ok(false);
    }
    let mut rest = datagram;
    while rest.len() >= NLMSG_HDRLEN {
        let mlen = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let kind = u16::from_ne_bytes([rest[4], rest[5]]);
        if mlen < NLMSG_HDRLEN || mlen > rest.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "truncated netlink message",
            ));
        }
        let payload = &rest[NLMSG_HDRLEN..mlen];
        let msg_seq = u32::from_ne_bytes([rest[8], rest[9], rest[10], rest[11]]);
        if msg_seq != seq {
            rest = &rest[align(mlen).min(rest.len())..];
            continue;
        }
        match kind {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => {
                let code = payload
                    .get(..4)
                    .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                    .unwrap_or(0);
                if code == 0 {
                    return Ok(true);
                }
                // saturating: -i32::MIN overflows (found by the netlink fuzz target).
                return Err(io::Error::from_raw_os_error(code.saturating_neg()));
            }
            _ => f(kind, payload),
        }
        rest = &rest[align(mlen).min(rest.len())..];
    }
    Ok(false)
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// The `rtattr`s of a message body: `(type, payload)`; a malformed one ends the list.
pub fn attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if buf.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        // The top bits of the type are the nested/byte-order flags.
        let kind = u16::from_ne_bytes([buf[2], buf[3]]) & 0x3fff;
        if len < 4 || len > buf.len() {
            return None;
        }
        let data = &buf[4..len];
        buf = &buf[align(len).min(buf.len())..];
        Some((kind, data))
    })
}

/// A NUL-terminated string attribute.
pub fn c_string(data: &[u8]) -> String {
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    String::from_utf8_lossy(&data[..end]).into_owned()
}

/// Builds an attribute (requests, and tests).
pub fn attr(kind: u16, data: &[u8]) -> Vec<u8> {
    let len = 4 + data.len();
    let mut v = Vec::with_capacity(align(len));
    v.extend_from_slice(&(len as u16).to_ne_bytes());
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(data);
    v.resize(align(len), 0);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let len = NLMSG_HDRLEN + payload.len();
        let mut m = Vec::new();
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(payload);
        m.resize(align(len), 0);
        m
    }

    #[test]
    fn replies_from_another_process_or_another_request_are_ignored() {
        let mut seen = Vec::new();
        let mut f = |k: u16, p: &[u8]| seen.push((k, p.to_vec()));
        // Another local process (port 4242) can send to our socket: not a kernel reply.
        let mut spoof = message(RTM_NEWLINK, 7, b"evil");
        spoof.extend(message(NLMSG_DONE, 7, &[0; 4]));
        assert!(!read_datagram(&spoof, 4242, 7, &mut f).unwrap());
        // From the kernel, but answering another sequence number.
        let mut stale = message(RTM_NEWLINK, 6, b"old!");
        stale.extend(message(NLMSG_DONE, 6, &[0; 4]));
        assert!(!read_datagram(&stale, 0, 7, &mut f).unwrap());
        // Ours.
        let mut ours = message(RTM_NEWLINK, 7, b"good");
        ours.extend(message(NLMSG_DONE, 7, &[0; 4]));
        assert!(read_datagram(&ours, 0, 7, &mut f).unwrap());
        assert_eq!(seen, vec![(RTM_NEWLINK, b"good".to_vec())]);
    }

    #[test]
    fn an_error_code_of_i32_min_is_an_error_not_an_overflow() {
        // fuzz/corpus/netlink/error_i32_min
        let m = message(NLMSG_ERROR, 1, &i32::MIN.to_ne_bytes());
        assert!(read_datagram(&m, 0, 1, &mut |_, _| {}).is_err());
    }

    #[test]
    fn truncated_messages_are_errors() {
        let mut m = message(RTM_NEWLINK, 1, b"abcd");
        m[0] = 200;
        assert!(read_datagram(&m, 0, 1, &mut |_, _| {}).is_err());
    }
}
