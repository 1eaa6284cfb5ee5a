//! What the in-process server tests share: `server::serve` on 127.0.0.1:0 on a thread of its own,
//! stopped and joined when the returned guard drops.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use exporter_core::server::{self, App, Landing, Settings};

pub const LANDING: Landing = Landing {
    name: "test",
    description: "test",
    version: "0",
};

/// A server on its own thread and runtime; stopped and joined on drop.
pub struct Server {
    pub port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves `app` on a free loopback port: on a current-thread runtime when `workers` is 0, else
/// on that many worker threads (given 200 ms to wind down after the server returns).
pub fn serve(settings: Settings, app: Arc<dyn App>, workers: usize) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = if workers == 0 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
        }
        .unwrap();
        rt.block_on(server::serve(
            vec![listener],
            settings,
            app,
            exporter_core::Busy::new(),
            async {
                let _ = rx.await;
            },
        ))
        .unwrap();
        rt.shutdown_timeout(Duration::from_millis(200));
    });
    Server {
        port,
        stop: Some(tx),
        thread: Some(thread),
    }
}
