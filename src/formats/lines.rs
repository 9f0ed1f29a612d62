//! Streaming JSONL: one thread reads lines in batches, workers map them, the caller's
//! sink sees the results in file order. Memory stays bounded by the channel depths, not
//! by the file.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// A line longer than this is reported and skipped, never buffered whole.
pub const MAX_LINE: usize = 64 << 20;

const BATCH_BYTES: usize = 1 << 20;
const BATCH_LINES: usize = 2048;
/// Bytes asked of the input at a time, read straight into a batch's buffer.
const READ_BYTES: usize = 256 << 10;

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
        let _ = recycle.try_send(batch.buf);
        if out.send((batch.seq, items)).is_err() {
            return;
        }
    }
}

fn read_batches<R: Read>(mut input: R, workers: SyncSender<Batch>, recycled: Receiver<Vec<u8>>) -> std::io::Result<()> {
    // A batch's buffer keeps its length (bytes once written, reused as they are): the
    // input is read into it directly, with no buffer in between. `filled` bytes of it hold
    // input; the line under way starts at `start`; `scan` is how far newlines were looked for.
    let new_batch = |seq: u64, first_line: u64| Batch {
        seq,
        first_line,
        // Room for a batch and a read past it, zeroed by the allocator (fresh pages).
        buf: recycled.try_recv().unwrap_or_else(|_| vec![0; BATCH_BYTES + 2 * READ_BYTES]),
        spans: Vec::new(),
    };
    let (mut seq, mut line_no) = (0u64, 1u64);
    let mut batch = new_batch(seq, line_no);
    let (mut filled, mut start, mut scan) = (0usize, 0usize, 0usize);
    // The length so far of a line past `MAX_LINE`, whose bytes are not kept.
    let mut too_long: Option<usize> = None;
    loop {
        while let Some(i) = memchr::memchr(b'\n', &batch.buf[scan..filled]) {
            let end = scan + i;
            match too_long.take() {
                Some(n) => batch.spans.push(Span::TooLong(n + (end - start))),
                None if end - start > MAX_LINE => batch.spans.push(Span::TooLong(end - start)),
                None => push_line(&mut batch, start, end),
            }
            line_no += 1;
            (start, scan) = (end + 1, end + 1);
            if batch.spans.len() >= BATCH_LINES {
                break;
            }
        }
        if batch.spans.len() < BATCH_LINES {
            scan = filled;
        }
        if batch.spans.len() >= BATCH_LINES || start >= BATCH_BYTES {
            // Full: the line under way (and what is not looked at yet) goes on in the next.
            seq += 1;
            let mut next = new_batch(seq, line_no);
            let rest = filled - start;
            if next.buf.len() < rest + READ_BYTES {
                next.buf.resize(rest + READ_BYTES, 0);
            }
            next.buf[..rest].copy_from_slice(&batch.buf[start..filled]);
            (filled, scan, start) = (rest, scan - start, 0);
            if workers.send(std::mem::replace(&mut batch, next)).is_err() {
                return Ok(());
            }
            continue;
        }
        if too_long.is_some() || filled - start > MAX_LINE {
            too_long = Some(too_long.unwrap_or(0) + (filled - start));
            (filled, scan) = (start, start);
        }
        if batch.buf.len() < filled + READ_BYTES {
            batch.buf.resize(filled + READ_BYTES, 0);
        }
        let n = match input.read(&mut batch.buf[filled..filled + READ_BYTES]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            // The end: a last line without its newline is a line too.
            match too_long.take() {
                Some(n) => batch.spans.push(Span::TooLong(n)),
                None if filled > start => push_line(&mut batch, start, filled),
                None => {}
            }
            if !batch.spans.is_empty() {
                let _ = workers.send(batch);
            }
            return Ok(());
        }
        filled += n;
    }
}

/// The line at `start..end` of the batch's buffer, without the `\r` of a CRLF ending.
fn push_line(batch: &mut Batch, start: usize, end: usize) {
    let end = if end > start && batch.buf[end - 1] == b'\r' { end - 1 } else { end };
    batch.spans.push(Span::Text(start, end));
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

    /// Hands out its bytes a few at a time, as a pipe or a decompressor may.
    struct Trickle<'a> {
        bytes: &'a [u8],
        sizes: std::iter::Cycle<std::slice::Iter<'a, usize>>,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = (*self.sizes.next().unwrap()).min(out.len()).min(self.bytes.len());
            out[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    #[test]
    fn lines_are_split_alike_whatever_the_reads_and_batches() {
        // Lines of every length up to past a batch, blank ones, CRLF endings, and a last
        // line with and without its newline; read in reads of 1 byte to 300 KB.
        let mut text = String::new();
        for i in 0..5000usize {
            let len = if i % 1000 == 999 { 1_300_000 } else { [0, 1, 7, 300, 900, 5000][i % 6] / (1 + i % 4) };
            text.push_str(&"x".repeat(len));
            text.push_str(&i.to_string());
            text.push_str(if i % 5 == 0 { "\r\n" } else { "\n" });
            if i % 11 == 0 {
                text.push('\n');
            }
        }
        // More short lines in a row than a batch takes.
        for i in 0..3000 {
            let _ = writeln!(text, "y{i}");
        }
        for tail in ["", "last line", "last\r"] {
            let input = format!("{text}{tail}");
            let expected: Vec<(u64, String)> = input
                .split_inclusive('\n')
                .map(|l| l.strip_suffix('\n').unwrap_or(l))
                .map(|l| l.strip_suffix('\r').unwrap_or(l))
                .enumerate()
                .map(|(i, l)| (i as u64 + 1, l.to_string()))
                .collect();
            for sizes in [&[1usize, 2, 4093][..], &[300_000], &[65_536, 7]] {
                let mut got = Vec::new();
                par_map_lines::<_, _, std::io::Error, _, _>(
                    Trickle { bytes: input.as_bytes(), sizes: sizes.iter().cycle() },
                    2,
                    |n, line| match line {
                        Line::Text(t) => Some((n, String::from_utf8(t.to_vec()).unwrap())),
                        Line::TooLong(_) => panic!("no line here is too long"),
                    },
                    |_, item| {
                        got.push(item);
                        Ok(())
                    },
                )
                .unwrap();
                assert_eq!(got.len(), expected.len(), "{sizes:?} {tail:?}");
                assert!(got == expected, "{sizes:?} {tail:?}");
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
