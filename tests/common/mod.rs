//! Helpers shared by the integration tests.

use std::collections::BTreeMap;
use std::path::Path;

use button::store::{StatusFilter, Store};

/// Samples by stage and failure reason ("complete", "failed filter:filtered_out"): what two
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
