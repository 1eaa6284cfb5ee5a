//! One HTTP/1.1 POST on the workspace's hyper client, for collectors that call a local daemon
//! (supervisord's XML-RPC). Blocking: collectors run on worker threads, so each call drives a
//! small current-thread runtime of its own.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

/// Where to connect: a TCP address (`host:port`) or a Unix socket path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tcp(String),
    Unix(std::path::PathBuf),
}

/// POSTs `body` to `path` (with `host` as the Host header) and returns the status and body.
/// `authorization`, when given, is sent as is and never logged.
pub fn post(
    target: &Target,
    host: &str,
    path: &str,
    authorization: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
    timeout: Duration,
) -> anyhow::Result<(u16, Bytes)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        tokio::time::timeout(timeout, async {
            let mut req = hyper::Request::post(path)
                .header(hyper::header::HOST, host)
                .header(hyper::header::CONTENT_TYPE, content_type);
            if let Some(a) = authorization {
                req = req.header(hyper::header::AUTHORIZATION, a);
            }
            let req = req.body(Full::new(Bytes::from(body)))?;
            let resp = match target {
                Target::Tcp(addr) => {
                    let s = tokio::net::TcpStream::connect(addr.as_str()).await?;
                    send(TokioIo::new(s), req).await?
                }
                Target::Unix(p) => {
                    let s = tokio::net::UnixStream::connect(p).await?;
                    send(TokioIo::new(s), req).await?
                }
            };
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await?.to_bytes();
            Ok((status, body))
        })
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {timeout:?}"))?
    })
}

async fn send<T>(
    io: T,
    req: hyper::Request<Full<Bytes>>,
) -> anyhow::Result<hyper::Response<hyper::body::Incoming>>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender.send_request(req).await?)
}
