//! What the collectors share, none of it a collector: reading `/proc` and `/sys` files
//! ([`read`]), an rtnetlink client ([`netlink`]), Go's path globbing ([`glob`]) and other
//! Go-compatible conversions ([`go`]), the kernel's CPU lists ([`cpu`]) and the NFS statistics
//! lines ([`rpc`]). A collector never imports another collector; what two of them need lives here.

pub mod cpu;
pub mod glob;
pub mod go;
pub mod netlink;
pub mod read;
pub mod rpc;
