//! The `wifi` collector (off by default): WiFi interfaces, the BSS each is joined to and its
//! stations, `node_wifi_*`, from nl80211 over generic netlink, as node_exporter's
//! `wifi_linux.go` does through mdlayher/wifi. With `--collector.wifi.fixtures=<dir>` the data
//! comes from mdlayher/wifi's structs as JSON instead (`interfaces.json`,
//! `<device>/bss.json`, `<device>/stationinfo.json`), the hook upstream's end-to-end test uses.
//!
//! No nl80211 family in the kernel (no cfg80211, as on most servers) is "no data", logged at
//! debug, as upstream does; a family with no interfaces is a successful scrape with no samples.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use exporter_core::cli::UsageError;
use exporter_core::{Exposition, MetricType};

use super::{CollectError, CollectResult, Collector, Paths};
use crate::sys::netlink as nl;

#[derive(clap::Args, Debug, Clone, Default)]
#[group(skip)]
pub struct Args {
    /// test fixtures to use for wifi collector metrics
    #[arg(long = "collector.wifi.fixtures", default_value = "")]
    pub wifi_fixtures: String,
}

pub fn build(_paths: &Paths, args: &Args) -> Result<Box<dyn Collector>, UsageError> {
    Ok(Box::new(Wifi {
        fixtures: (!args.wifi_fixtures.is_empty()).then(|| PathBuf::from(&args.wifi_fixtures)),
    }))
}

struct Wifi {
    fixtures: Option<PathBuf>,
}

/// mdlayher/wifi's `Interface`, the fields the metrics use.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Interface {
    pub index: i32,
    pub name: String,
    pub kind: u32,
    /// MHz.
    pub frequency: u64,
}

/// mdlayher/wifi's `BSS`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Bss {
    pub ssid: String,
    pub bssid: Vec<u8>,
    pub status: u32,
}

/// mdlayher/wifi's `StationInfo`; durations in seconds, bitrates in bits per second.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Station {
    pub mac: Vec<u8>,
    pub connected: f64,
    pub inactive: f64,
    pub receive_bitrate: u64,
    pub transmit_bitrate: u64,
    pub received_bytes: u64,
    pub transmitted_bytes: u64,
    pub signal: i64,
    pub transmit_retries: u64,
    pub transmit_failed: u64,
    pub beacon_loss: u64,
    pub transmitted_packets: u64,
    pub received_packets: u64,
}

/// Where the data comes from: the kernel or the fixtures. `None` from `bss`/`stations` is
/// mdlayher/wifi's `os.ErrNotExist`: nothing of that kind for this interface.
trait Source {
    fn interfaces(&self) -> anyhow::Result<Vec<Interface>>;
    fn bss(&self, ifi: &Interface) -> anyhow::Result<Option<Bss>>;
    fn stations(&self, ifi: &Interface) -> anyhow::Result<Option<Vec<Station>>>;
}

impl Collector for Wifi {
    fn update(&self, out: &mut Exposition) -> CollectResult {
        match &self.fixtures {
            Some(dir) => collect(&Fixtures(dir.clone()), out),
            None => {
                let family = match nl80211_family() {
                    Ok(Some(f)) => f,
                    Ok(None) => {
                        tracing::debug!("wifi collector metrics are not available for this system");
                        return Err(CollectError::NoData("no nl80211 family".into()));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                        tracing::debug!(
                            "wifi collector got permission denied when accessing metrics"
                        );
                        return Err(CollectError::NoData("permission denied".into()));
                    }
                    Err(e) => return Err(anyhow::anyhow!("failed to access wifi data: {e}").into()),
                };
                collect(&Kernel { family }, out)
            }
        }
    }
}

fn collect(src: &dyn Source, out: &mut Exposition) -> CollectResult {
    use MetricType::{Counter, Gauge};
    let ifis = src
        .interfaces()
        .map_err(|e| anyhow::anyhow!("failed to retrieve wifi interfaces: {e}"))?;
    for ifi in ifis.iter().filter(|i| !i.name.is_empty()) {
        tracing::debug!(wifi = %ifi.name, r#type = ifi.kind, "probing wifi device with type");
        out.family(
            "node_wifi_interface_frequency_hertz",
            "The current frequency a WiFi interface is operating at, in hertz.",
            Gauge,
        )
        .sample(&[("device", ifi.name.as_str())], ifi.frequency as f64 * 1e6);

        match src
            .bss(ifi)
            .map_err(|e| anyhow::anyhow!("failed to retrieve BSS for device {}: {e}", ifi.name))?
        {
            Some(bss) => {
                let bssid = mac(&bss.bssid);
                out.family(
                    "node_wifi_station_info",
                    "Labeled WiFi interface station information as provided by the operating system.",
                    Gauge,
                )
                .sample(
                    &[
                        ("device", ifi.name.as_str()),
                        ("bssid", bssid.as_str()),
                        ("ssid", bss.ssid.as_str()),
                        ("mode", bss_mode(bss.status)),
                    ],
                    1.0,
                );
            }
            None => tracing::debug!(name = %ifi.name, "BSS information not found for wifi device"),
        }

        let stations = src.stations(ifi).map_err(|e| {
            anyhow::anyhow!(
                "failed to retrieve station info for device {:?}: {e}",
                ifi.name
            )
        })?;
        let Some(stations) = stations else {
            tracing::debug!(name = %ifi.name, "station information not found for wifi device");
            continue;
        };
        for s in &stations {
            let addr = mac(&s.mac);
            let labels = [
                ("device", ifi.name.as_str()),
                ("mac_address", addr.as_str()),
            ];
            for (name, help, kind, v) in [
                (
                    "node_wifi_station_connected_seconds_total",
                    "The total number of seconds a station has been connected to an access point.",
                    Counter,
                    s.connected,
                ),
                (
                    "node_wifi_station_inactive_seconds",
                    "The number of seconds since any wireless activity has occurred on a station.",
                    Gauge,
                    s.inactive,
                ),
                (
                    "node_wifi_station_receive_bits_per_second",
                    "The current WiFi receive bitrate of a station, in bits per second.",
                    Gauge,
                    s.receive_bitrate as f64,
                ),
                (
                    "node_wifi_station_transmit_bits_per_second",
                    "The current WiFi transmit bitrate of a station, in bits per second.",
                    Gauge,
                    s.transmit_bitrate as f64,
                ),
                (
                    "node_wifi_station_receive_bytes_total",
                    "The total number of bytes received by a WiFi station.",
                    Counter,
                    s.received_bytes as f64,
                ),
                (
                    "node_wifi_station_transmit_bytes_total",
                    "The total number of bytes transmitted by a WiFi station.",
                    Counter,
                    s.transmitted_bytes as f64,
                ),
                (
                    "node_wifi_station_signal_dbm",
                    "The current WiFi signal strength, in decibel-milliwatts (dBm).",
                    Gauge,
                    s.signal as f64,
                ),
                (
                    "node_wifi_station_transmit_retries_total",
                    "The total number of times a station has had to retry while sending a packet.",
                    Counter,
                    s.transmit_retries as f64,
                ),
                (
                    "node_wifi_station_transmit_failed_total",
                    "The total number of times a station has failed to send a packet.",
                    Counter,
                    s.transmit_failed as f64,
                ),
                (
                    "node_wifi_station_beacon_loss_total",
                    "The total number of times a station has detected a beacon loss.",
                    Counter,
                    s.beacon_loss as f64,
                ),
                (
                    "node_wifi_station_transmitted_packets_total",
                    "The total number of packets transmitted by a station.",
                    Counter,
                    s.transmitted_packets as f64,
                ),
                (
                    "node_wifi_station_received_packets_total",
                    "The total number of packets received by a station.",
                    Counter,
                    s.received_packets as f64,
                ),
            ] {
                out.family(name, help, kind).sample(&labels, v);
            }
        }
    }
    Ok(())
}

/// mdlayher/wifi's `BSSStatus` (authenticated, associated, not associated, IBSS joined) as
/// upstream's `mode` label.
fn bss_mode(status: u32) -> &'static str {
    match status {
        0 | 1 => "client",
        3 => "ad-hoc",
        _ => "unknown",
    }
}

/// Go's `net.HardwareAddr.String()`: lowercase hex pairs with colons; empty for none.
fn mac(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

// ---- fixtures ----

struct Fixtures(PathBuf);

impl Fixtures {
    /// The file's JSON, `None` when it does not exist (Go's `os.ErrNotExist`).
    fn read(&self, rel: &Path) -> anyhow::Result<Option<serde_json::Value>> {
        let path = self.0.join(rel);
        match std::fs::read_to_string(&path) {
            Ok(t) => Ok(Some(
                serde_json::from_str(&t).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
        }
    }
}

/// A field of a Go-encoded struct: encoding/json matches keys case-insensitively.
fn field<'a>(o: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    o.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn num(o: &serde_json::Value, name: &str) -> f64 {
    field(o, name)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.0)
}

fn string(o: &serde_json::Value, name: &str) -> String {
    field(o, name)
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// A `[]byte` (`net.HardwareAddr`): base64 in Go's JSON.
fn bytes(o: &serde_json::Value, name: &str) -> anyhow::Result<Vec<u8>> {
    match field(o, name).and_then(serde_json::Value::as_str) {
        Some(s) => Ok(base64::engine::general_purpose::STANDARD.decode(s)?),
        None => Ok(Vec::new()),
    }
}

impl Source for Fixtures {
    fn interfaces(&self) -> anyhow::Result<Vec<Interface>> {
        let v = self
            .read(Path::new("interfaces.json"))?
            .ok_or_else(|| anyhow::anyhow!("{}/interfaces.json: not found", self.0.display()))?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .map(|o| Interface {
                        index: num(o, "index") as i32,
                        name: string(o, "name"),
                        kind: num(o, "type") as u32,
                        frequency: num(o, "frequency") as u64,
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    fn bss(&self, ifi: &Interface) -> anyhow::Result<Option<Bss>> {
        let Some(o) = self.read(&Path::new(&ifi.name).join("bss.json"))? else {
            return Ok(None);
        };
        Ok(Some(Bss {
            ssid: string(&o, "ssid"),
            bssid: bytes(&o, "bssid")?,
            status: num(&o, "status") as u32,
        }))
    }

    fn stations(&self, ifi: &Interface) -> anyhow::Result<Option<Vec<Station>>> {
        let Some(v) = self.read(&Path::new(&ifi.name).join("stationinfo.json"))? else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for o in v.as_array().into_iter().flatten() {
            out.push(Station {
                mac: bytes(o, "hardwareaddr")?,
                // time.Duration: nanoseconds.
                connected: num(o, "connected") / 1e9,
                inactive: num(o, "inactive") / 1e9,
                receive_bitrate: num(o, "receivebitrate") as u64,
                transmit_bitrate: num(o, "transmitbitrate") as u64,
                received_bytes: num(o, "receivedbytes") as u64,
                transmitted_bytes: num(o, "transmittedbytes") as u64,
                signal: num(o, "signal") as i64,
                transmit_retries: num(o, "transmitretries") as u64,
                transmit_failed: num(o, "transmitfailed") as u64,
                beacon_loss: num(o, "beaconloss") as u64,
                transmitted_packets: num(o, "transmittedpackets") as u64,
                received_packets: num(o, "receivedpackets") as u64,
            });
        }
        Ok(Some(out))
    }
}

// ---- nl80211 ----
// linux/genetlink.h and linux/nl80211.h numbers (not in libc).

const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;

const NL80211_CMD_GET_INTERFACE: u8 = 5;
const NL80211_CMD_GET_STATION: u8 = 17;
const NL80211_CMD_GET_SCAN: u8 = 32;

const NL80211_ATTR_IFINDEX: u16 = 3;
const NL80211_ATTR_IFNAME: u16 = 4;
const NL80211_ATTR_IFTYPE: u16 = 5;
const NL80211_ATTR_MAC: u16 = 6;
const NL80211_ATTR_STA_INFO: u16 = 21;
const NL80211_ATTR_WIPHY_FREQ: u16 = 38;
const NL80211_ATTR_BSS: u16 = 47;

const NL80211_BSS_BSSID: u16 = 1;
const NL80211_BSS_INFORMATION_ELEMENTS: u16 = 6;
const NL80211_BSS_STATUS: u16 = 9;

const NL80211_STA_INFO_INACTIVE_TIME: u16 = 1;
const NL80211_STA_INFO_RX_BYTES: u16 = 2;
const NL80211_STA_INFO_TX_BYTES: u16 = 3;
const NL80211_STA_INFO_SIGNAL: u16 = 7;
const NL80211_STA_INFO_TX_BITRATE: u16 = 8;
const NL80211_STA_INFO_RX_PACKETS: u16 = 9;
const NL80211_STA_INFO_TX_PACKETS: u16 = 10;
const NL80211_STA_INFO_TX_RETRIES: u16 = 11;
const NL80211_STA_INFO_TX_FAILED: u16 = 12;
const NL80211_STA_INFO_RX_BITRATE: u16 = 14;
const NL80211_STA_INFO_CONNECTED_TIME: u16 = 16;
const NL80211_STA_INFO_BEACON_LOSS: u16 = 18;
const NL80211_STA_INFO_RX_BYTES64: u16 = 23;
const NL80211_STA_INFO_TX_BYTES64: u16 = 24;

const NL80211_RATE_INFO_BITRATE: u16 = 1;
const NL80211_RATE_INFO_BITRATE32: u16 = 5;

/// The generic netlink header (`genlmsghdr`: command, version, reserved) and attributes.
fn genl_body(cmd: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
    let mut b = vec![cmd, 1, 0, 0];
    for a in attrs {
        b.extend_from_slice(a);
    }
    b
}

/// nl80211's family id, `None` when the kernel has no such family (ENOENT).
fn nl80211_family() -> std::io::Result<Option<u16>> {
    let body = genl_body(
        CTRL_CMD_GETFAMILY,
        &[nl::attr(CTRL_ATTR_FAMILY_NAME, b"nl80211\0")],
    );
    let mut id = None;
    let r = nl::request_on(libc::NETLINK_GENERIC, GENL_ID_CTRL, &body, |_, reply| {
        for (t, d) in nl::attrs(reply.get(4..).unwrap_or_default()) {
            if t == CTRL_ATTR_FAMILY_ID && d.len() >= 2 {
                id = Some(u16::from_ne_bytes([d[0], d[1]]));
            }
        }
    });
    match r {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
        Ok(()) => Ok(id),
    }
}

struct Kernel {
    family: u16,
}

impl Kernel {
    fn dump(&self, cmd: u8, attrs: &[Vec<u8>]) -> anyhow::Result<Vec<Vec<u8>>> {
        let mut msgs = Vec::new();
        nl::dump_on(
            libc::NETLINK_GENERIC,
            self.family,
            &genl_body(cmd, attrs),
            |_, body| msgs.push(body.get(4..).unwrap_or_default().to_vec()),
        )?;
        Ok(msgs)
    }
}

impl Source for Kernel {
    fn interfaces(&self) -> anyhow::Result<Vec<Interface>> {
        Ok(self
            .dump(NL80211_CMD_GET_INTERFACE, &[])?
            .iter()
            .map(|m| parse_interface(m))
            .collect())
    }

    fn bss(&self, ifi: &Interface) -> anyhow::Result<Option<Bss>> {
        let msgs = self.dump(
            NL80211_CMD_GET_SCAN,
            &[nl::attr(NL80211_ATTR_IFINDEX, &ifi.index.to_ne_bytes())],
        )?;
        // Like mdlayher/wifi: the BSS this interface has a status with is the one it is in.
        Ok(msgs.iter().find_map(|m| parse_bss(m)))
    }

    fn stations(&self, ifi: &Interface) -> anyhow::Result<Option<Vec<Station>>> {
        let msgs = self.dump(
            NL80211_CMD_GET_STATION,
            &[nl::attr(NL80211_ATTR_IFINDEX, &ifi.index.to_ne_bytes())],
        )?;
        let stations: Vec<Station> = msgs.iter().map(|m| parse_station(m)).collect();
        Ok((!stations.is_empty()).then_some(stations))
    }
}

fn u32_of(d: &[u8]) -> u32 {
    d.get(..4)
        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(0)
}

fn u64_of(d: &[u8]) -> u64 {
    d.get(..8)
        .map(|b| u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
        .unwrap_or(0)
}

/// One `NL80211_CMD_NEW_INTERFACE` reply's attributes.
pub fn parse_interface(attrs: &[u8]) -> Interface {
    let mut i = Interface::default();
    for (t, d) in nl::attrs(attrs) {
        match t {
            NL80211_ATTR_IFINDEX => i.index = u32_of(d) as i32,
            NL80211_ATTR_IFNAME => i.name = nl::c_string(d),
            NL80211_ATTR_IFTYPE => i.kind = u32_of(d),
            NL80211_ATTR_WIPHY_FREQ => i.frequency = u32_of(d) as u64,
            _ => {}
        }
    }
    i
}

/// One scan result; `Some` only for the BSS carrying a status (the one the interface is in).
pub fn parse_bss(attrs: &[u8]) -> Option<Bss> {
    let (_, nested) = nl::attrs(attrs).find(|(t, _)| *t == NL80211_ATTR_BSS)?;
    let mut bss = Bss::default();
    let mut status = None;
    for (t, d) in nl::attrs(nested) {
        match t {
            NL80211_BSS_BSSID => bss.bssid = d.to_vec(),
            NL80211_BSS_STATUS => status = Some(u32_of(d)),
            NL80211_BSS_INFORMATION_ELEMENTS => {
                // Information elements: id, length, data; the SSID is element 0.
                let mut ie = d;
                while ie.len() >= 2 {
                    let (id, len) = (ie[0], ie[1] as usize);
                    let Some(data) = ie.get(2..2 + len) else {
                        break;
                    };
                    if id == 0 {
                        bss.ssid = String::from_utf8_lossy(data).into_owned();
                    }
                    ie = &ie[2 + len..];
                }
            }
            _ => {}
        }
    }
    bss.status = status?;
    Some(bss)
}

/// A `NL80211_RATE_INFO_*` nest in bits per second (the kernel's unit is 100 kbit/s; the
/// 32-bit field wins over the 16-bit one, which saturates).
fn bitrate(nested: &[u8]) -> u64 {
    let mut r16 = 0u64;
    let mut r32 = None;
    for (t, d) in nl::attrs(nested) {
        match t {
            NL80211_RATE_INFO_BITRATE if d.len() >= 2 => {
                r16 = u16::from_ne_bytes([d[0], d[1]]) as u64
            }
            NL80211_RATE_INFO_BITRATE32 => r32 = Some(u32_of(d) as u64),
            _ => {}
        }
    }
    r32.unwrap_or(r16) * 100 * 1000
}

/// One `NL80211_CMD_NEW_STATION` reply's attributes.
pub fn parse_station(attrs: &[u8]) -> Station {
    let mut s = Station::default();
    let mut info: HashMap<u16, &[u8]> = HashMap::new();
    for (t, d) in nl::attrs(attrs) {
        match t {
            NL80211_ATTR_MAC => s.mac = d.to_vec(),
            NL80211_ATTR_STA_INFO => info.extend(nl::attrs(d)),
            _ => {}
        }
    }
    let get32 = |k| info.get(&k).map(|d| u32_of(d) as u64);
    s.inactive = get32(NL80211_STA_INFO_INACTIVE_TIME).unwrap_or(0) as f64 / 1000.0;
    s.connected = get32(NL80211_STA_INFO_CONNECTED_TIME).unwrap_or(0) as f64;
    // The 64-bit byte counters win where the kernel has them: the 32-bit ones wrap.
    s.received_bytes = info
        .get(&NL80211_STA_INFO_RX_BYTES64)
        .map(|d| u64_of(d))
        .or(get32(NL80211_STA_INFO_RX_BYTES))
        .unwrap_or(0);
    s.transmitted_bytes = info
        .get(&NL80211_STA_INFO_TX_BYTES64)
        .map(|d| u64_of(d))
        .or(get32(NL80211_STA_INFO_TX_BYTES))
        .unwrap_or(0);
    s.signal = info
        .get(&NL80211_STA_INFO_SIGNAL)
        .and_then(|d| d.first())
        .map(|&b| b as i8 as i64)
        .unwrap_or(0);
    s.received_packets = get32(NL80211_STA_INFO_RX_PACKETS).unwrap_or(0);
    s.transmitted_packets = get32(NL80211_STA_INFO_TX_PACKETS).unwrap_or(0);
    s.transmit_retries = get32(NL80211_STA_INFO_TX_RETRIES).unwrap_or(0);
    s.transmit_failed = get32(NL80211_STA_INFO_TX_FAILED).unwrap_or(0);
    s.beacon_loss = get32(NL80211_STA_INFO_BEACON_LOSS).unwrap_or(0);
    s.receive_bitrate = info
        .get(&NL80211_STA_INFO_RX_BITRATE)
        .map(|d| bitrate(d))
        .unwrap_or(0);
    s.transmit_bitrate = info
        .get(&NL80211_STA_INFO_TX_BITRATE)
        .map(|d| bitrate(d))
        .unwrap_or(0);
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::collector::testutil::{render as render_collector, write_files};
    use crate::sys::netlink::attr;

    /// Upstream's fixtures, collector/fixtures/wifi in node_exporter 1.12.1 (wlan1 has no
    /// files of its own: its BSS and stations do not exist; the nameless interface is skipped).
    const INTERFACES: &str = r#"[
	{"name": "wlan0", "type": 2, "frequency": 2412},
	{"name": "wlan1", "type": 3, "frequency": 2412},
	{"type": 10}
]"#;
    const BSS: &str = r#"{"ssid": "Example", "bssid": "ABEiM0RV", "status": 1}"#;
    const STATIONS: &str = r#"[
	{"hardwareaddr": "qrvM3e7/", "connected": 30000000000, "inactive": 400000000,
	 "receivebitrate": 128000000, "transmitbitrate": 164000000, "signal": -52,
	 "transmitretries": 10, "transmitfailed": 2, "beaconloss": 1},
	{"hardwareaddr": "AQIDBAUG", "connected": 60000000000, "inactive": 800000000,
	 "receivebitrate": 256000000, "transmitbitrate": 328000000, "signal": -26,
	 "transmitretries": 20, "transmitfailed": 4, "beaconloss": 2}
]"#;

    #[test]
    fn fixtures_as_upstreams_end_to_end_output() {
        let dir = tempfile::tempdir().unwrap();
        write_files(
            dir.path(),
            &[
                ("interfaces.json", INTERFACES),
                ("wlan0/bss.json", BSS),
                ("wlan0/stationinfo.json", STATIONS),
            ],
        );
        let args = Args {
            wifi_fixtures: dir.path().display().to_string(),
        };
        let t = render_collector(build(&Paths::default(), &args).unwrap().as_ref()).unwrap();
        // Lines of upstream's collector/fixtures/e2e-output.txt.
        for line in [
            "# TYPE node_wifi_interface_frequency_hertz gauge",
            "node_wifi_interface_frequency_hertz{device=\"wlan0\"} 2.412e+09",
            "node_wifi_interface_frequency_hertz{device=\"wlan1\"} 2.412e+09",
            "# TYPE node_wifi_station_beacon_loss_total counter",
            "node_wifi_station_beacon_loss_total{device=\"wlan0\",mac_address=\"01:02:03:04:05:06\"} 2",
            "node_wifi_station_connected_seconds_total{device=\"wlan0\",mac_address=\"aa:bb:cc:dd:ee:ff\"} 30",
            "node_wifi_station_inactive_seconds{device=\"wlan0\",mac_address=\"01:02:03:04:05:06\"} 0.8",
            "node_wifi_station_info{bssid=\"00:11:22:33:44:55\",device=\"wlan0\",mode=\"client\",ssid=\"Example\"} 1",
            "node_wifi_station_receive_bits_per_second{device=\"wlan0\",mac_address=\"01:02:03:04:05:06\"} 2.56e+08",
            "node_wifi_station_receive_bytes_total{device=\"wlan0\",mac_address=\"aa:bb:cc:dd:ee:ff\"} 0",
            "node_wifi_station_signal_dbm{device=\"wlan0\",mac_address=\"aa:bb:cc:dd:ee:ff\"} -52",
            "node_wifi_station_transmit_bits_per_second{device=\"wlan0\",mac_address=\"01:02:03:04:05:06\"} 3.28e+08",
            "node_wifi_station_transmit_failed_total{device=\"wlan0\",mac_address=\"01:02:03:04:05:06\"} 4",
            "node_wifi_station_transmit_retries_total{device=\"wlan0\",mac_address=\"aa:bb:cc:dd:ee:ff\"} 10",
            "node_wifi_station_transmitted_packets_total{device=\"wlan0\",mac_address=\"01:02:03:04:05:06\"} 0",
            "# HELP node_wifi_station_info Labeled WiFi interface station information as provided by the operating system.",
        ] {
            assert!(t.contains(&format!("{line}\n")), "missing {line:?} in\n{t}");
        }
        assert!(!t.contains("device=\"wlan1\",mac_address"), "{t}");
    }

    #[test]
    fn missing_fixture_interfaces_fail() {
        let dir = tempfile::tempdir().unwrap();
        let args = Args {
            wifi_fixtures: dir.path().display().to_string(),
        };
        assert!(render_collector(build(&Paths::default(), &args).unwrap().as_ref()).is_err());
    }

    #[test]
    fn parses_nl80211_messages() {
        let mut m = attr(NL80211_ATTR_IFINDEX, &3u32.to_ne_bytes());
        m.extend(attr(NL80211_ATTR_IFNAME, b"wlp2s0\0"));
        m.extend(attr(NL80211_ATTR_IFTYPE, &2u32.to_ne_bytes()));
        m.extend(attr(NL80211_ATTR_WIPHY_FREQ, &5180u32.to_ne_bytes()));
        assert_eq!(
            parse_interface(&m),
            Interface {
                index: 3,
                name: "wlp2s0".into(),
                kind: 2,
                frequency: 5180
            }
        );

        let mut b = attr(NL80211_BSS_BSSID, &[0, 0x11, 0x22, 0x33, 0x44, 0x55]);
        b.extend(attr(
            NL80211_BSS_INFORMATION_ELEMENTS,
            &[0, 4, b'h', b'o', b'm', b'e', 1, 1, 0x82],
        ));
        let no_status = attr(NL80211_ATTR_BSS, &b);
        assert_eq!(parse_bss(&no_status), None);
        b.extend(attr(NL80211_BSS_STATUS, &1u32.to_ne_bytes()));
        let bss = parse_bss(&attr(NL80211_ATTR_BSS, &b)).unwrap();
        assert_eq!(bss.ssid, "home");
        assert_eq!(mac(&bss.bssid), "00:11:22:33:44:55");

        let mut info = attr(NL80211_STA_INFO_INACTIVE_TIME, &400u32.to_ne_bytes());
        info.extend(attr(NL80211_STA_INFO_CONNECTED_TIME, &30u32.to_ne_bytes()));
        info.extend(attr(NL80211_STA_INFO_RX_BYTES, &7u32.to_ne_bytes()));
        info.extend(attr(
            NL80211_STA_INFO_RX_BYTES64,
            &(1u64 << 33).to_ne_bytes(),
        ));
        info.extend(attr(NL80211_STA_INFO_SIGNAL, &[(-52i8) as u8]));
        info.extend(attr(
            NL80211_STA_INFO_TX_BITRATE,
            &attr(NL80211_RATE_INFO_BITRATE, &1640u16.to_ne_bytes()),
        ));
        let mut m = attr(NL80211_ATTR_MAC, &[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
        m.extend(attr(NL80211_ATTR_STA_INFO, &info));
        let s = parse_station(&m);
        assert_eq!(mac(&s.mac), "aa:bb:cc:dd:ee:ff");
        assert_eq!(s.inactive, 0.4);
        assert_eq!(s.connected, 30.0);
        assert_eq!(s.received_bytes, 1 << 33);
        assert_eq!(s.signal, -52);
        assert_eq!(s.transmit_bitrate, 164_000_000);
    }

    /// Against this host's kernel: without cfg80211 there is no nl80211 family and the
    /// collector says "no data", as upstream's; with it and no device, no samples.
    #[test]
    fn this_host() {
        let c = build(&Paths::default(), &Args::default()).unwrap();
        match render_collector(c.as_ref()) {
            Ok(t) => assert!(!t.contains("mac_address"), "{t}"),
            Err(e) => assert!(e.to_string().contains("no data"), "{e}"),
        }
    }
}
