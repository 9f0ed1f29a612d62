//! Streaming JSONL: one thread reads lines in batches, workers map them, the caller's
//! sink sees the results in file order. Memory stays bounded by the channel depths, not
//! by the file.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// A line longer than this is reported and skipped, never buffered whole.
pub const MAX_LINE: usize = 64 << 20;

const BATCH_BYTES: usize = 1 << 20;
const BATCH_LINES: usize = 2048;

/// One line as the reader saw it.
pub enum Line<'a> {
    Text(&'a [u8]),
    TooLong(usize),
}

enum Span {
    Text(usize, usize),
    TooLong(usize),
}

struct Batch {
    seq: u64,
    first_line: u64,
    buf: Vec<u8>,
    spans: Vec<Span>,
}

pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get).clamp(1, 8)
}

/// Reads `input` line by line (1-based line numbers), calls `map` on every line on a pool
/// of `workers` threads, and hands each `Some` result to `sink` in file order. Blank lines
/// are the mapper's to skip (return None). A sink error stops everything and is returned.
pub fn par_map_lines<R, T, E, M, S>(input: R, workers: usize, map: M, mut sink: S) -> Result<(), E>
where
    R: Read + Send,
    T: Send,
    E: From<std::io::Error> + Send,
    M: Fn(u64, Line<'_>) -> Option<T> + Sync,
    S: FnMut(u64, T) -> Result<(), E>,
{
    let workers = workers.max(1);
    std::thread::scope(|scope| {
        // One queue that all workers take from: whichever is free takes the next batch (with
        // a batch dealt to each in turn, a worker whose core a neighbour took held up the
        // rest). The last worker to stop drops it, so the reader's next send fails and it
        // stops too.
        let (to_workers, from_reader) = sync_channel::<Batch>(workers * 2);
        let from_reader = std::sync::Arc::new(std::sync::Mutex::new(from_reader));
        // Room for the workers to go on while the sink pauses: an import's sink writes 2,000
        // samples in one transaction now and then, and with 2 slots per worker the workers
        // sat idle through it (63% busy; 16 slots: an import of 100,000 records 11-15%
        // faster, 50 MB more at the peak).
        let (out_tx, out_rx) = sync_channel::<(u64, Vec<(u64, T)>)>(workers * 16);
        // Batch buffers go back to the reader: fresh megabytes each time cost page faults.
        let (recycle_tx, recycle_rx) = sync_channel::<Vec<u8>>(workers * 4);
        for _ in 0..workers {
            let out_tx = out_tx.clone();
            let recycle_tx = recycle_tx.clone();
            let (map, from_reader) = (&map, std::sync::Arc::clone(&from_reader));
            scope.spawn(move || worker(&from_reader, out_tx, recycle_tx, map));
        }
        drop(from_reader);
        drop(out_tx);
        drop(recycle_tx);
        let reader = scope.spawn(move || read_batches(input, to_workers, recycle_rx));

        let mut pending: BTreeMap<u64, Vec<(u64, T)>> = BTreeMap::new();
        let mut next = 0u64;
        let mut result: Result<(), E> = Ok(());
        'recv: for (seq, items) in &out_rx {
            pending.insert(seq, items);
            while let Some(items) = pending.remove(&next) {
                next += 1;
                for (line, item) in items {
                    if let Err(e) = sink(line, item) {
                        result = Err(e);
                        break 'recv;
                    }
                }
            }
        }
        // Dropping the receiver makes the workers' sends fail, which ends them, which
        // ends the reader's sends: nobody is left blocked.
        drop(out_rx);
        let read = reader.join().expect("the line reader panicked");
        result?;
        read.map_err(E::from)
    })
}

fn worker<T, M>(
    rx: &std::sync::Mutex<Receiver<Batch>>,
    out: SyncSender<(u64, Vec<(u64, T)>)>,
    recycle: SyncSender<Vec<u8>>,
    map: &M,
) where
    M: Fn(u64, Line<'_>) -> Option<T>,
{
    // The lock is held only while waiting for the next batch.
    while let Ok(batch) = rx.lock().map_or(Err(std::sync::mpsc::RecvError), |rx| rx.recv()) {
        let mut items = Vec::with_capacity(batch.spans.len());
        for (i, span) in batch.spans.iter().enumerate() {
            let line_no = batch.first_line + i as u64;
            let line = match *span {
                Span::Text(a, b) => Line::Text(&batch.buf[a..b]),
                Span::TooLong(n) => Line::TooLong(n),
            };
            if let Some(v) = map(line_no, line) {
                items.push((line_no, v));
            }
        }
        let mut buf = batch.buf;
        buf.clear();
        let _ = recycle.try_send(buf);
        if out.send((batch.seq, items)).is_err() {
            return;
        }
    }
}

fn read_batches<R: Read>(input: R, workers: SyncSender<Batch>, recycled: Receiver<Vec<u8>>) -> std::io::Result<()> {
    let mut r = BufReader::with_capacity(1 << 20, input);
    let mut seq = 0u64;
    let mut line_no = 1u64;
    let new_batch = |seq: u64, first_line: u64| Batch {
        seq,
        first_line,
        buf: recycled.try_recv().unwrap_or_else(|_| Vec::with_capacity(BATCH_BYTES + 4096)),
        spans: Vec::new(),
    };
    let mut batch = new_batch(seq, line_no);
    let mut start = 0usize;
    let mut too_long: Option<usize> = None;
    let send = |batch: Batch| -> bool { workers.send(batch).is_ok() };
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            let has_partial = too_long.is_some() || batch.buf.len() > start;
            if has_partial {
                end_line(&mut batch, start, too_long.take());
            }
            if !batch.spans.is_empty() {
                send(batch);
            }
            return Ok(());
        }
        let (chunk, consumed, line_ends) = match memchr::memchr(b'\n', avail) {
            Some(i) => (&avail[..i], i + 1, true),
            None => (avail, avail.len(), false),
        };
        match too_long.as_mut() {
            Some(n) => *n += chunk.len(),
            None => {
                if batch.buf.len() - start + chunk.len() > MAX_LINE {
                    too_long = Some(batch.buf.len() - start + chunk.len());
                    batch.buf.truncate(start);
                } else {
                    batch.buf.extend_from_slice(chunk);
                }
            }
        }
        r.consume(consumed);
        if line_ends {
            end_line(&mut batch, start, too_long.take());
            line_no += 1;
            if batch.buf.len() >= BATCH_BYTES || batch.spans.len() >= BATCH_LINES {
                seq += 1;
                let full = std::mem::replace(&mut batch, new_batch(seq, line_no));
                if !send(full) {
                    return Ok(());
                }
            }
            start = batch.buf.len();
        }
    }
}

fn end_line(batch: &mut Batch, start: usize, too_long: Option<usize>) {
    if let Some(n) = too_long {
        batch.spans.push(Span::TooLong(n));
    } else {
        let mut end = batch.buf.len();
        if end > start && batch.buf[end - 1] == b'\r' {
            end -= 1;
        }
        batch.spans.push(Span::Text(start, end));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    fn collect(input: &[u8], workers: usize) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        par_map_lines::<_, _, std::io::Error, _, _>(
            input,
            workers,
            |n, line| {
                Some(match line {
                    Line::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    Line::TooLong(len) => format!("<too long: {len}>"),
                })
                .filter(|_| n > 0)
            },
            |n, s| {
                out.push((n, s));
                Ok(())
            },
        )
        .unwrap();
        out
    }

    #[test]
    fn lines_come_back_in_order_with_their_numbers() {
        let text: String = (1..=10_000).fold(String::new(), |mut t, i| {
            let _ = writeln!(t, "line {i}");
            t
        });
        for workers in [1, 2, 3] {
            let got = collect(text.as_bytes(), workers);
            assert_eq!(got.len(), 10_000);
            for (i, (n, s)) in got.iter().enumerate() {
                assert_eq!(*n, i as u64 + 1);
                assert_eq!(s, &format!("line {}", i + 1));
            }
        }
    }

    #[test]
    fn last_line_without_newline_and_crlf_are_read() {
        let got = collect(b"a\r\nb\n\nc", 2);
        assert_eq!(got, vec![(1, "a".into()), (2, "b".into()), (3, String::new()), (4, "c".into())]);
    }

    #[test]
    fn a_sink_error_stops_the_scan_without_hanging() {
        let text: String = (1..=100_000).fold(String::new(), |mut t, i| {
            let _ = writeln!(t, "{i}");
            t
        });
        let mut seen = 0;
        let r = par_map_lines(
            text.as_bytes(),
            2,
            |_, _| Some(()),
            |n, ()| {
                seen += 1;
                if n == 5000 { Err(std::io::Error::other("stop")) } else { Ok(()) }
            },
        );
        assert_eq!(r.unwrap_err().to_string(), "stop");
        assert_eq!(seen, 5000);
    }
}
