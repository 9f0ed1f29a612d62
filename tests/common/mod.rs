//! Helpers shared by the integration tests.

use std::collections::BTreeMap;
use std::path::Path;

use button::serve::{ServeConfig, serve};
use button::sim::Simulator;
use button::store::{StatusFilter, Store};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Samples by stage and failure reason ("complete", "failed `filter:filtered_out")`: what two
/// runs must agree on, and where a run left its samples.
pub fn outcome_counts(ws: &Path) -> BTreeMap<String, usize> {
    let store = Store::open(ws, false).unwrap();
    let mut m = BTreeMap::new();
    store
        .list(StatusFilter::All, |r| {
            let key = format!("{} {}", r.summary.stage, r.summary.failure_reason.unwrap_or_default());
            *m.entry(key.trim().to_string()).or_insert(0) += 1;
        })
        .unwrap();
    m
}

/// sim-serve on its own runtime thread; stopping it returns the requests it answered.
#[allow(dead_code)]
pub struct SimServe {
    pub url: String,
    stop: CancellationToken,
    done: std::sync::mpsc::Receiver<u64>,
}

#[allow(dead_code)]
impl SimServe {
    pub fn start(cfg: ServeConfig) -> SimServe {
        SimServe::with(Simulator { seed: 0, malformed_rate: 0.02 }, cfg)
    }

    /// sim-serve with its own simulator (a share of malformed replies, a seed).
    pub fn with(sim: Simulator, cfg: ServeConfig) -> SimServe {
        let (tx, done) = std::sync::mpsc::channel();
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let stop = CancellationToken::new();
        let s = stop.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                url_tx.send(format!("http://{}/v1", listener.local_addr().unwrap())).unwrap();
                let n = serve(listener, sim, cfg, s).await;
                let _ = tx.send(n);
            });
        });
        SimServe { url: url_rx.recv().unwrap(), stop, done }
    }

    pub fn stop(self) -> u64 {
        self.stop.cancel();
        self.done.recv_timeout(Duration::from_secs(30)).unwrap()
    }
}
