//! The `uname` collector: `node_uname_info`, labelled with the fields of uname(2).
//!
//! As node_exporter, this asks the kernel rather than reading files under `--path.rootfs`: the
//! kernel fields are the host's anyway, and `nodename`/`domainname` are those of the UTS
//! namespace the exporter runs in (run it with the host's UTS namespace to get the host name).

use exporter_core::cli::UsageError;
use exporter_core::Exposition;

use super::{CollectResult, Collector, Paths};

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {}

pub fn build(_paths: &Paths, _args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Uname))
}

struct Uname;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Utsname {
    pub sysname: String,
    pub nodename: String,
    pub release: String,
    pub version: String,
    pub machine: String,
    pub domainname: String,
}

impl Collector for Uname {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        let u = uname().map_err(|e| anyhow::anyhow!("uname: {e}"))?;
        write(out, &u);
        Ok(())
    }
}

fn write(out: &mut Exposition, u: &Utsname) {
    out.gauge(
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
        &[
            ("sysname", &u.sysname),
            ("release", &u.release),
            ("version", &u.version),
            ("machine", &u.machine),
            ("nodename", &u.nodename),
            ("domainname", &u.domainname),
        ],
        1.0,
    );
}

fn uname() -> std::io::Result<Utsname> {
    // SAFETY: utsname is arrays of c_char, valid when zeroed; uname fills them with
    // NUL-terminated strings.
    let u = unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        u
    };
    Ok(Utsname {
        sysname: field(&u.sysname),
        nodename: field(&u.nodename),
        release: field(&u.release),
        version: field(&u.version),
        machine: field(&u.machine),
        domainname: field(&u.domainname),
    })
}

/// A NUL-terminated utsname field as a string (the whole array if there is no NUL).
fn field(chars: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = chars
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::text;

    #[test]
    fn field_stops_at_nul() {
        let raw: Vec<libc::c_char> = b"Linux\0junk".iter().map(|&b| b as libc::c_char).collect();
        assert_eq!(field(&raw), "Linux");
        let raw: Vec<libc::c_char> = b"abc".iter().map(|&b| b as libc::c_char).collect();
        assert_eq!(field(&raw), "abc");
    }

    #[test]
    fn writes_labels() {
        let u = Utsname {
            sysname: "Linux".into(),
            nodename: "vm".into(),
            release: "6.18.44".into(),
            version: "#1 SMP PREEMPT_DYNAMIC @0".into(),
            machine: "x86_64".into(),
            domainname: "(none)".into(),
        };
        let mut out = Exposition::new();
        write(&mut out, &u);
        assert_eq!(
            text(out),
            "# HELP node_uname_info Labeled system information as provided by the uname system call.\n\
             # TYPE node_uname_info gauge\n\
             node_uname_info{domainname=\"(none)\",machine=\"x86_64\",nodename=\"vm\",release=\"6.18.44\",sysname=\"Linux\",version=\"#1 SMP PREEMPT_DYNAMIC @0\"} 1\n"
        );
    }

    #[test]
    fn reads_this_host() {
        let u = uname().unwrap();
        assert_eq!(u.sysname, "Linux");
        assert!(!u.release.is_empty());
    }
}
