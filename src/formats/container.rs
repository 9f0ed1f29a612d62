//! What holds a dataset's records, told by its bytes rather than its name: JSON Lines or one
//! top-level JSON array (as LLaMA-Factory's data files and many hub datasets are), each
//! plain or compressed with gzip or zstd. Read streaming: an array is turned into one record
//! a line as it is read, so a 1 GB array is never held whole, and every reader downstream
//! sees JSON Lines. In an array, a record's "line" is its position in the array.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::{Arc, Mutex};

const GZIP: &[u8] = &[0x1f, 0x8b];
const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packing {
    Plain,
    Gzip,
    Zstd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Lines,
    Array,
}

/// How a file holds its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Container {
    pub packing: Packing,
    pub shape: Shape,
}

impl Container {
    /// "gzip-compressed JSON array", for messages.
    pub fn describe(self) -> String {
        let packing = match self.packing {
            Packing::Plain => "",
            Packing::Gzip => "gzip-compressed ",
            Packing::Zstd => "zstd-compressed ",
        };
        let shape = match self.shape {
            Shape::Lines => "JSON Lines",
            Shape::Array => "JSON array",
        };
        format!("{packing}{shape}")
    }
}

/// Where each element of an array began in the source (1-based line numbers, in element
/// order), filled in as the array is read; empty for JSON Lines. Record k of the JSON
/// Lines stream (1-based) is element k-1.
#[derive(Clone, Debug, Default)]
pub struct ElementLines(Arc<Mutex<Vec<u64>>>);

impl ElementLines {
    /// The source line where record `record` (1-based) began, for an array.
    pub fn line_of(&self, record: u64) -> Option<u64> {
        let lines = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        lines.get(usize::try_from(record).ok()?.checked_sub(1)?).copied()
    }
}

/// The records of `input` as JSON Lines, and how they were held.
pub fn open(input: impl Read + Send + 'static) -> io::Result<(Box<dyn Read + Send>, Container)> {
    open_tracked(input).map(|(r, c, _)| (r, c))
}

/// `open`, and where each array element began in the source.
pub fn open_tracked(input: impl Read + Send + 'static) -> io::Result<(Box<dyn Read + Send>, Container, ElementLines)> {
    let mut raw = BufReader::with_capacity(64 << 10, input);
    let head = raw.fill_buf()?;
    let (packing, decoded): (Packing, Box<dyn Read + Send>) = if head.starts_with(GZIP) {
        (Packing::Gzip, Box::new(flate2::read::MultiGzDecoder::new(raw)))
    } else if head.starts_with(ZSTD) {
        (Packing::Zstd, Box::new(zstd::stream::read::Decoder::with_buffer(raw)?))
    } else {
        (Packing::Plain, Box::new(raw))
    };
    let mut r = BufReader::with_capacity(64 << 10, decoded);
    let head = r.fill_buf()?;
    let head = head.strip_prefix(super::BOM).unwrap_or(head);
    let first = head.iter().find(|b| !b.is_ascii_whitespace());
    let lines = ElementLines::default();
    if first == Some(&b'[') {
        let c = Container { packing, shape: Shape::Array };
        return Ok((Box::new(ArrayLines::new(r, lines.clone())), c, lines));
    }
    Ok((Box::new(r), Container { packing, shape: Shape::Lines }, lines))
}

#[derive(PartialEq)]
enum State {
    Before,
    Inside,
    Done,
}

/// A top-level JSON array read as one element a line: commas between elements become
/// newlines, newlines outside strings become spaces (a JSON string can't hold a raw one).
struct ArrayLines<R> {
    inner: R,
    state: State,
    in_string: bool,
    escape: bool,
    depth: usize,
    /// The source line being read.
    line: u64,
    /// The next byte that is not blank starts an element.
    element_next: bool,
    starts: ElementLines,
}

impl<R> ArrayLines<R> {
    fn new(inner: R, starts: ElementLines) -> ArrayLines<R> {
        ArrayLines {
            inner,
            state: State::Before,
            in_string: false,
            escape: false,
            depth: 0,
            line: 1,
            element_next: false,
            starts,
        }
    }
}

impl<R: BufRead> Read for ArrayLines<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < out.len() && self.state != State::Done {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                // An array that never closes: what was read is what there is.
                self.state = State::Done;
                break;
            }
            let mut used = 0;
            while used < buf.len() && n < out.len() {
                // Inside a string, copy up to its closing quote in one go, escapes and all:
                // that is where the bytes of a dataset are, and JSON inside a string (a tool
                // list, a call) has an escape every 14 bytes or so. What is left at the end of
                // either buffer (a quote, or an escape cut by it) goes byte by byte below.
                if self.in_string && !self.escape {
                    let limit = (buf.len() - used).min(out.len() - n);
                    let hay = &buf[used..used + limit];
                    let mut at = 0;
                    let run = loop {
                        let Some(k) = memchr::memchr2(b'"', b'\\', &hay[at..]) else { break limit };
                        let j = at + k;
                        if hay[j] == b'"' || j + 1 >= limit || hay[j + 1] == b'\n' {
                            break j;
                        }
                        at = j + 2;
                    };
                    out[n..n + run].copy_from_slice(&hay[..run]);
                    n += run;
                    used += run;
                    if run == limit {
                        continue;
                    }
                } else if self.state == State::Inside && buf[used] == b' ' {
                    // Indentation between tokens, which goes: skipped as a run.
                    used += buf[used..].iter().position(|&c| c != b' ').unwrap_or(buf.len() - used);
                    continue;
                }
                let b = buf[used];
                used += 1;
                if b == b'\n' {
                    self.line += 1;
                }
                if self.element_next && !b.is_ascii_whitespace() && b != b']' {
                    self.element_next = false;
                    self.starts.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(self.line);
                }
                let emit = match self.state {
                    State::Before => {
                        if b == b'[' {
                            self.state = State::Inside;
                            self.element_next = true;
                        }
                        None
                    }
                    State::Done => None,
                    State::Inside if self.in_string => {
                        if self.escape {
                            self.escape = false;
                        } else if b == b'\\' {
                            self.escape = true;
                        } else if b == b'"' {
                            self.in_string = false;
                        }
                        Some(b)
                    }
                    State::Inside => match b {
                        b'"' => {
                            self.in_string = true;
                            Some(b)
                        }
                        b'{' | b'[' => {
                            self.depth += 1;
                            Some(b)
                        }
                        b']' if self.depth == 0 => {
                            self.state = State::Done;
                            Some(b'\n')
                        }
                        b'}' | b']' => {
                            self.depth = self.depth.saturating_sub(1);
                            Some(b)
                        }
                        b',' if self.depth == 0 => {
                            self.element_next = true;
                            Some(b'\n')
                        }
                        // Blanks between tokens go: each element comes out compact, as
                        // `jq -c` prints it, which is also the record an export gives back.
                        b' ' | b'\t' | b'\n' | b'\r' => None,
                        _ => Some(b),
                    },
                };
                if let Some(e) = emit {
                    out[n] = e;
                    n += 1;
                }
                if self.state == State::Done {
                    break;
                }
            }
            self.inner.consume(used);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(bytes: Vec<u8>) -> (Vec<String>, Container) {
        let (mut r, c) = open(std::io::Cursor::new(bytes)).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        (s.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect(), c)
    }

    #[test]
    fn an_array_reads_as_one_element_a_line_whatever_its_strings_hold() {
        let text = "\u{feff}\n[\n  {\"a\": \"x, [y]\\n\\\"}\", \"b\": [1, {\"c\": 2}]},\n  {\"a\": \"z\"}\n]\n";
        let (lines, c) = lines_of(text.as_bytes().to_vec());
        assert_eq!(c, Container { packing: Packing::Plain, shape: Shape::Array });
        assert_eq!(lines.len(), 2, "{lines:?}");
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(first["a"], "x, [y]\n\"}");
        assert_eq!(first["b"][1]["c"], 2);
        assert_eq!(lines[1], "{\"a\":\"z\"}");
    }

    #[test]
    fn each_array_element_knows_the_line_it_began_on() {
        let text = "[\n  {\"a\": 1},\n  {\"a\":\n    2},\n\n  {\"a\": \"x,\\n\"}]";
        let (mut r, _, starts) = open_tracked(std::io::Cursor::new(text.as_bytes().to_vec())).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!((1..=3).map(|k| starts.line_of(k)).collect::<Vec<_>>(), [Some(2), Some(3), Some(6)]);
        assert_eq!(starts.line_of(4), None);
    }

    #[test]
    fn an_element_comes_out_without_the_blanks_between_its_tokens_and_strings_intact() {
        let text = "[ { \"a b\" : [ 1.50 , \"x\\\" \\n y\" ],\n  \"c\": { } } ,\r\n\t{\"d\":\"  \"} ]";
        let (lines, _) = lines_of(text.as_bytes().to_vec());
        assert_eq!(lines, ["{\"a b\":[1.50,\"x\\\" \\n y\"],\"c\":{}}", "{\"d\":\"  \"}"]);
    }

    #[test]
    fn tiny_buffers_on_either_side_give_the_same_lines() {
        let text = "[{\"k\": \"a\\\\\\\"b\\\\\", \"l\": [1, {\"m\": \"]},[\"}]},\n {\"n\": \"\\u00e9t\u{e9}\"}]";
        let whole = {
            let (mut r, _) = open(std::io::Cursor::new(text.as_bytes().to_vec())).unwrap();
            let mut s = String::new();
            r.read_to_string(&mut s).unwrap();
            s
        };
        for inner_cap in [1, 2, 3, 7] {
            for out_cap in [1, 2, 5] {
                let inner = BufReader::with_capacity(inner_cap, std::io::Cursor::new(text.as_bytes().to_vec()));
                let mut r = ArrayLines::new(inner, ElementLines::default());
                let mut got = Vec::new();
                let mut chunk = vec![0u8; out_cap];
                loop {
                    let k = r.read(&mut chunk).unwrap();
                    if k == 0 {
                        break;
                    }
                    got.extend_from_slice(&chunk[..k]);
                }
                assert_eq!(String::from_utf8(got).unwrap(), whole, "inner {inner_cap}, out {out_cap}");
                assert_eq!(r.starts.line_of(2), Some(2));
            }
        }
        let lines: Vec<serde_json::Value> = whole.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["k"], "a\\\"b\\");
        assert_eq!(lines[0]["l"][1]["m"], "]},[");
        assert_eq!(lines[1]["n"], "\u{e9}t\u{e9}");
    }

    #[test]
    fn gzip_and_zstd_are_told_by_their_bytes() {
        use std::io::Write;
        let jsonl = b"{\"a\": 1}\n{\"a\": 2}\n".to_vec();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"[{\"a\": 1}, {\"a\": 2}]").unwrap();
        let (lines, c) = lines_of(gz.finish().unwrap());
        assert_eq!((lines.len(), c.packing, c.shape), (2, Packing::Gzip, Shape::Array));
        let zs = zstd::stream::encode_all(&jsonl[..], 1).unwrap();
        let (lines, c) = lines_of(zs);
        assert_eq!((lines.len(), c.packing, c.shape), (2, Packing::Zstd, Shape::Lines));
        assert_eq!(c.describe(), "zstd-compressed JSON Lines");
    }
}
