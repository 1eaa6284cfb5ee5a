//! D-Bus for the `systemd` and `logind` collectors, on zbus. Like node_exporter, each scrape opens
//! its own connection to the system bus (`$DBUS_SYSTEM_BUS_ADDRESS`, else
//! `/run/dbus/system_bus_socket`) and closes it after; the collectors run on worker threads, so
//! [`block_on`] drives a small current-thread runtime per scrape.

use std::future::Future;
use std::time::Duration;

use zbus::zvariant::OwnedValue;
use zbus::Connection;

/// Runs `f` to completion on a fresh current-thread runtime, failing after `timeout`.
pub fn block_on<T>(
    timeout: Duration,
    f: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        tokio::time::timeout(timeout, f)
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {timeout:?}"))?
    })
}

/// A connection to the system bus.
pub async fn system_bus() -> zbus::Result<Connection> {
    zbus::connection::Builder::system()?
        .method_timeout(Duration::from_secs(10))
        .build()
        .await
}

/// A direct (peer-to-peer, no bus) connection to a Unix socket such as systemd's
/// `/run/systemd/private`.
pub async fn private(path: &std::path::Path) -> zbus::Result<Connection> {
    let stream = tokio::net::UnixStream::connect(path).await?;
    zbus::connection::Builder::unix_stream(stream)
        .p2p()
        .method_timeout(Duration::from_secs(10))
        .build()
        .await
}

/// `org.freedesktop.DBus.Properties.Get(interface, name)` on `path` of `destination`. `None` as
/// the destination is a peer-to-peer connection's only peer.
pub async fn get_property(
    conn: &Connection,
    destination: Option<&str>,
    path: &str,
    interface: &str,
    name: &str,
) -> zbus::Result<OwnedValue> {
    let reply = conn
        .call_method(
            destination,
            path,
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &(interface, name),
        )
        .await?;
    reply.body().deserialize::<OwnedValue>()
}
