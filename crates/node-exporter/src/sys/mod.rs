//! What the collectors share, none of it a collector: reading `/proc` and `/sys` files
//! ([`read`]), a netlink client ([`netlink`]), Go's path globbing ([`glob`]) and other
//! Go-compatible conversions ([`go`]), the kernel's CPU lists ([`cpu`]), the NFS statistics
//! lines ([`rpc`]), a blocking HTTP POST for local daemons ([`http`]) and a D-Bus connection
//! ([`dbus`]). A collector never imports another collector; what two of them need lives here.

pub mod cpu;
pub mod dbus;
pub mod glob;
pub mod go;
pub mod http;
pub mod netlink;
pub mod read;
pub mod rpc;
