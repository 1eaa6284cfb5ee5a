//! The connection against a scripted peer on an in-memory pipe.

use super::*;
use kafka_protocol::messages::{MetadataRequest, MetadataResponse};
use tokio::io::DuplexStream;

/// Reads one request frame from the peer side: (correlation id, api key).
async fn read_request(peer: &mut DuplexStream) -> (i32, i16) {
    let len = peer.read_i32().await.unwrap();
    let mut buf = vec![0u8; usize::try_from(len).unwrap()];
    peer.read_exact(&mut buf).await.unwrap();
    let mut b = Bytes::from(buf);
    let key = b.get_i16();
    let _version = b.get_i16();
    (b.get_i32(), key)
}

/// Writes a Metadata v1 response (header v0) with `controller` as its controller id.
async fn write_metadata(peer: &mut DuplexStream, id: i32, controller: i32) {
    let mut body = BytesMut::new();
    ResponseHeader::default()
        .with_correlation_id(id)
        .encode(&mut body, 0)
        .unwrap();
    MetadataResponse::default()
        .with_controller_id(kafka_protocol::messages::BrokerId(controller))
        .encode(&mut body, 1)
        .unwrap();
    peer.write_i32(i32::try_from(body.len()).unwrap())
        .await
        .unwrap();
    peer.write_all(&body).await.unwrap();
}

fn pair() -> (Connection, DuplexStream) {
    let (ours, peer) = tokio::io::duplex(1 << 16);
    (Connection::start(ours, "b1:9092".into(), "test"), peer)
}

const LONG: Duration = Duration::from_secs(5);

#[tokio::test]
async fn pipelined_answers_reach_their_own_requests() {
    let (conn, mut peer) = pair();
    let req = MetadataRequest::default();
    let a = conn.send(&req, 1, LONG);
    let b = conn.send(&req, 1, LONG);
    let server = async {
        let (id1, key) = read_request(&mut peer).await;
        assert_eq!(key, 3);
        let (id2, _) = read_request(&mut peer).await;
        // Answered out of order: each response still reaches the request that asked.
        write_metadata(&mut peer, id2, 22).await;
        write_metadata(&mut peer, id1, 11).await;
        peer
    };
    let (ra, rb, _peer) = tokio::join!(a, b, server);
    assert_eq!(ra.unwrap().controller_id.0, 11);
    assert_eq!(rb.unwrap().controller_id.0, 22);
}

#[tokio::test]
async fn a_closed_socket_fails_every_waiting_request_at_once() {
    let (conn, mut peer) = pair();
    let req = MetadataRequest::default();
    let started = std::time::Instant::now();
    let a = conn.send(&req, 1, LONG);
    let b = conn.send(&req, 1, LONG);
    let server = async move {
        read_request(&mut peer).await;
        read_request(&mut peer).await;
        drop(peer);
    };
    let (ra, rb, ()) = tokio::join!(a, b, server);
    for r in [ra, rb] {
        let e = r.unwrap_err().to_string();
        assert!(e.contains("b1:9092") && e.contains("closed"), "{e}");
    }
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(!conn.is_usable());
    // Later requests fail at once too, naming the first cause.
    let e = conn.send(&req, 1, LONG).await.unwrap_err().to_string();
    assert!(e.contains("closed by the broker"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn a_request_past_its_deadline_poisons_the_connection() {
    let (conn, mut peer) = pair();
    let req = MetadataRequest::default();
    let slow = conn.send(&req, 1, Duration::from_secs(3));
    let other = conn.send(&req, 1, Duration::from_secs(60));
    let server = async {
        read_request(&mut peer).await;
        read_request(&mut peer).await;
        peer // never answers
    };
    let (rs, ro, _peer) = tokio::join!(slow, other, server);
    let e = rs.unwrap_err().to_string();
    assert!(e.contains("Metadata timed out after 3s"), "{e}");
    // The other request did not wait out its own minute: it failed with the poison.
    let e = ro.unwrap_err().to_string();
    assert!(e.contains("timed out"), "{e}");
    assert!(!conn.is_usable());
}

#[tokio::test]
async fn a_dropped_request_leaves_the_stream_whole() {
    let (conn, mut peer) = pair();
    let req = MetadataRequest::default();
    {
        // Polled once (the frame is queued whole), then dropped before its answer.
        let fut = conn.send(&req, 1, LONG);
        let _ = tokio::time::timeout(Duration::from_millis(1), fut).await;
    }
    let (id1, _) = read_request(&mut peer).await;
    let next = conn.send(&req, 1, LONG);
    let server = async {
        let (id2, _) = read_request(&mut peer).await;
        assert_eq!(id2, id1 + 1);
        write_metadata(&mut peer, id2, 7).await;
        peer
    };
    let (r, _peer) = tokio::join!(next, server);
    assert_eq!(r.unwrap().controller_id.0, 7);
}

#[tokio::test]
async fn an_oversized_frame_is_refused() {
    let (conn, mut peer) = pair();
    let req = MetadataRequest::default();
    let a = conn.send(&req, 1, LONG);
    let server = async {
        read_request(&mut peer).await;
        peer.write_i32(i32::MAX).await.unwrap();
        peer
    };
    let (r, _peer) = tokio::join!(a, server);
    let e = r.unwrap_err().to_string();
    assert!(e.contains("out of range"), "{e}");
}
