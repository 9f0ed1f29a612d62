//! How the workspace compresses sample JSON: zstd level 1, one frame a sample, and for an
//! import, a dictionary trained on the file's first records.
//!
//! A sample is a few KB, and a zstd frame that small spends much of its time building the
//! tables it then uses once; a dictionary carries tables and common strings made once for
//! the whole import. Every frame names the dictionary it needs by the id zstd derives from
//! the dictionary's content (frames without one name none, as every frame written before
//! dictionaries did), and the workspace keeps each dictionary in its `dictionaries` table.
//! Reading a frame looks its dictionary up in this process's registry, which loads it from
//! the workspaces this process opened when it is not there yet (another process may have
//! imported since).

use std::collections::{HashMap, HashSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use zstd::dict::DecoderDictionary;

/// zstd's level 1: its fastest that still entropy-codes.
const LEVEL: i32 = 1;

/// An import trains its dictionary on the records of its first lines (array elements)...
pub const TRAIN_LINES: u64 = 1000;
/// ...into at most this many bytes (zstd's own default size is 110 KB; 64 KB measured as
/// well on 100,000 generated records and on LLaMA-Factory's glaive demo).
const DICT_BYTES: usize = 64 << 10;
/// Below this much text to learn from, no dictionary is made: zstd's trainer wants about a
/// hundred times the dictionary's size, and a small import gains nothing worth its time.
const MIN_TRAINING_BYTES: usize = 1 << 20;

/// A zstd dictionary as the workspace keeps it.
pub struct Dictionary {
    pub id: u32,
    pub bytes: Vec<u8>,
    decoder: DecoderDictionary<'static>,
}

impl Dictionary {
    /// A dictionary read back from its bytes; None when they are not a zstd dictionary.
    pub fn from_bytes(bytes: Vec<u8>) -> Option<Dictionary> {
        let id = zstd::zstd_safe::get_dict_id_from_dict(&bytes)?.get();
        let decoder = DecoderDictionary::copy(&bytes);
        Some(Dictionary { id, bytes, decoder })
    }
}

impl std::fmt::Debug for Dictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dictionary({}, {} bytes)", self.id, self.bytes.len())
    }
}

/// Compresses `text` into one zstd frame, with `dict` when given.
pub fn pack(text: &str, dict: Option<&Dictionary>) -> Vec<u8> {
    thread_local! {
        static PLAIN: std::cell::RefCell<zstd::bulk::Compressor<'static>> =
            std::cell::RefCell::new(zstd::bulk::Compressor::new(LEVEL).expect("zstd level 1 exists"));
        /// The compressor with the dictionary this thread used last, and that dictionary's id.
        static WITH_DICT: std::cell::RefCell<Option<(u32, zstd::bulk::Compressor<'static>)>> =
            const { std::cell::RefCell::new(None) };
    }
    let done = |r: std::io::Result<Vec<u8>>| r.expect("compressing into a growable buffer");
    match dict {
        None => PLAIN.with(|c| done(c.borrow_mut().compress(text.as_bytes()))),
        Some(d) => WITH_DICT.with(|slot| {
            let mut slot = slot.borrow_mut();
            if slot.as_ref().is_none_or(|(id, _)| *id != d.id) {
                let mut c = zstd::bulk::Compressor::with_dictionary(LEVEL, &d.bytes)
                    .expect("a dictionary that zstd made loads into zstd");
                // A checksum of the text in each frame (4 bytes): were a frame ever read
                // through another dictionary under the same id, that is an error, not
                // other text, even where the other dictionary's tables happen to decode.
                c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true)).expect("zstd takes a checksum flag");
                *slot = Some((d.id, c));
            }
            let (_, c) = slot.as_mut().expect("set just above");
            done(c.compress(text.as_bytes()))
        }),
    }
}

/// Whether a frame written by `pack` was made with the dictionary `id`.
pub fn uses(data: &[u8], id: u32) -> bool {
    zstd::zstd_safe::get_dict_id_from_frame(data).is_some_and(|d| d.get() == id)
}

/// The text of one frame written by `pack`. The error says what is wrong in a sentence.
pub fn unpack(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let Some(id) = zstd::zstd_safe::get_dict_id_from_frame(data) else {
        return zstd::decode_all(data);
    };
    let id = id.get();
    let Some(dict) = registry().find(id) else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("it is compressed with zstd dictionary {id}, which the workspace does not hold"),
        ));
    };
    let mut out = Vec::new();
    zstd::stream::read::Decoder::with_prepared_dictionary(data, &dict.decoder)?.read_to_end(&mut out)?;
    Ok(out)
}

/// The dictionaries this process knows, by id, and the workspaces to look in for others.
#[derive(Default)]
struct Registry {
    dicts: Mutex<HashMap<u32, Arc<Dictionary>>>,
    workspaces: Mutex<HashSet<PathBuf>>,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

impl Registry {
    fn find(&self, id: u32) -> Option<Arc<Dictionary>> {
        if let Some(d) = self.dicts.lock().expect("registry lock").get(&id) {
            return Some(d.clone());
        }
        let workspaces: Vec<PathBuf> = self.workspaces.lock().expect("registry lock").iter().cloned().collect();
        let found = workspaces.iter().find_map(|db| read_dictionary(db, id))?;
        let found = Arc::new(found);
        remember(found.clone());
        Some(found)
    }
}

/// Makes a dictionary known to this process (a new one, or one read from a workspace).
pub fn remember(dict: Arc<Dictionary>) {
    registry().dicts.lock().expect("registry lock").entry(dict.id).or_insert(dict);
}

/// Names a workspace database to read dictionaries from when a frame needs one not known yet.
pub fn remember_workspace(db: &Path) {
    registry().workspaces.lock().expect("registry lock").insert(db.to_path_buf());
}

/// Dictionary `id` as a workspace database holds it; None when it holds no such dictionary,
/// predates them, or can't be read.
fn read_dictionary(db: &Path, id: u32) -> Option<Dictionary> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).ok()?;
    let bytes: Vec<u8> = conn.query_row("SELECT data FROM dictionaries WHERE id = ?1", [id], |r| r.get(0)).ok()?;
    Dictionary::from_bytes(bytes).filter(|d| d.id == id)
}

/// An import's dictionary in the making: the workers hand over the text they compress for
/// the records of the first `TRAIN_LINES` lines, and the one that hands over the last of
/// those lines trains the dictionary. Those records go without one; every record after them
/// waits for it (`dictionary_for`). The dictionary depends only on those records, not on
/// which worker saw what.
pub struct Trainer {
    lines: u64,
    collected: Mutex<Collected>,
    ready: OnceLock<Option<Arc<Dictionary>>>,
}

#[derive(Default)]
struct Collected {
    lines_seen: u64,
    texts: Vec<(u64, String)>,
}

impl Default for Trainer {
    fn default() -> Self {
        Trainer::new(TRAIN_LINES)
    }
}

impl Trainer {
    pub fn new(lines: u64) -> Trainer {
        Trainer { lines, collected: Mutex::default(), ready: OnceLock::new() }
    }

    /// The dictionary, once trained.
    pub fn dictionary(&self) -> Option<&Arc<Dictionary>> {
        self.ready.get().and_then(Option::as_ref)
    }

    /// The dictionary for the record of line `line_no`. A line past the ones it learns from
    /// waits until it is trained (by the worker that reads the last of them: every line is
    /// shown to `saw`), so every record after them uses it: when the other worker went on
    /// without it through the 0.3 s of training, the 100,000-record benchmark's workspace
    /// was 78 MB instead of 64.
    pub fn dictionary_for(&self, line_no: u64) -> Option<&Arc<Dictionary>> {
        if line_no > self.lines { self.ready.wait().as_ref() } else { self.dictionary() }
    }

    /// No dictionary after all: records waiting for one go on without it. For a worker that
    /// panics (`AbandonOnPanic`): the lines it held are never shown to `saw`, and the other
    /// worker would wait for the training for ever instead of the import failing.
    pub fn abandon(&self) {
        let _ = self.ready.set(None);
    }

    /// Line `line_no` was read; `texts` are what its record will be compressed as (none for a
    /// blank line or a record that can't be read). Trains when it was the last line to learn from.
    pub fn saw(&self, line_no: u64, texts: &[&str]) {
        if line_no > self.lines || self.ready.get().is_some() {
            return;
        }
        let texts = {
            let mut c = self.collected.lock().expect("trainer lock");
            c.texts.extend(texts.iter().map(|t| (line_no, (*t).to_string())));
            c.lines_seen += 1;
            if c.lines_seen < self.lines {
                return;
            }
            std::mem::take(&mut c.texts)
        };
        let _ = self.ready.set(train(texts));
    }
}

/// Abandons the trainer's dictionary if dropped while its thread panics.
pub struct AbandonOnPanic<'a>(pub &'a Trainer);

impl Drop for AbandonOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.abandon();
        }
    }
}

/// A dictionary learnt from `texts` (in line order, whatever order they came in); None when
/// they are too little to learn from or zstd's trainer gives up.
fn train(mut texts: Vec<(u64, String)>) -> Option<Arc<Dictionary>> {
    if texts.iter().map(|(_, t)| t.len()).sum::<usize>() < MIN_TRAINING_BYTES {
        return None;
    }
    texts.sort_by_key(|(line, _)| *line);
    let samples: Vec<&[u8]> = texts.iter().map(|(_, t)| t.as_bytes()).collect();
    let bytes = zstd::dict::from_samples(&samples, DICT_BYTES).ok()?;
    let dict = Arc::new(Dictionary::from_bytes(bytes)?);
    remember(dict.clone());
    Some(dict)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_that_panics_before_the_training_does_not_leave_the_other_waiting() {
        let trainer = Trainer::new(10);
        std::thread::scope(|scope| {
            let waiting = scope.spawn(|| trainer.dictionary_for(11).is_some());
            let panicking = scope.spawn(|| {
                let _guard = AbandonOnPanic(&trainer);
                trainer.saw(1, &["a record"]);
                panic!("a bug while reading line 2");
            });
            assert!(panicking.join().is_err());
            // Without the guard this join never returns.
            assert!(!waiting.join().unwrap(), "no dictionary: it was never trained");
        });
    }

    fn records(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                format!(
                    r#"{{"id":"s{i}","tools":[{{"name":"get_weather","description":"The weather forecast for a city on a given day, in degrees Celsius, with the chance of rain and the wind speed","parameters":{{"type":"object","properties":{{"city":{{"type":"string","description":"The city's name"}},"day":{{"type":"integer","description":"Days from today"}}}},"required":["city","day"]}}}}],"messages":[{{"role":"user","content":"What is the weather in city {} on day {}?"}},{{"role":"assistant","content":"","tool_calls":[{{"name":"get_weather","arguments":{{"city":"c{}","day":{}}}}}]}}],"note":"{}"}}"#,
                    i % 97,
                    i % 31,
                    i % 89,
                    i % 7,
                    "x".repeat(i % 50)
                )
            })
            .collect()
    }

    #[test]
    fn a_trained_dictionary_round_trips_and_frames_name_it() {
        let recs = records(2000);
        let trainer = Trainer::new(1000);
        // Lines arrive out of order, as from two workers.
        for (i, r) in recs.iter().enumerate().take(1000).rev() {
            assert!(trainer.dictionary().is_none());
            trainer.saw(i as u64 + 1, &[r, r]);
        }
        let dict = trainer.dictionary().expect("1,000 records of ~600 bytes, twice, train a dictionary").clone();
        let plain = pack(&recs[1500], None);
        let packed = pack(&recs[1500], Some(&dict));
        assert!(packed.len() < plain.len(), "{} vs {}", packed.len(), plain.len());
        assert_eq!(zstd::zstd_safe::get_dict_id_from_frame(&packed).map(std::num::NonZero::get), Some(dict.id));
        assert_eq!(zstd::zstd_safe::get_dict_id_from_frame(&plain), None);
        assert_eq!(unpack(&packed).unwrap(), recs[1500].as_bytes());
        assert_eq!(unpack(&plain).unwrap(), recs[1500].as_bytes());
        // The same records in another order give the same dictionary.
        let again = Trainer::new(1000);
        for (i, r) in recs.iter().enumerate().take(1000) {
            again.saw(i as u64 + 1, &[r, r]);
        }
        assert_eq!(again.dictionary().unwrap().bytes, dict.bytes);
    }

    #[test]
    fn a_frame_read_through_another_dictionary_under_its_id_is_an_error() {
        let recs = records(3000);
        let learn = |from: &[String]| {
            let samples: Vec<&[u8]> = from.iter().map(String::as_bytes).collect();
            zstd::dict::from_samples(&samples, 16 << 10).unwrap()
        };
        let ours = Dictionary::from_bytes(learn(&recs[..1000])).unwrap();
        let mut other = learn(&recs[1000..2000].iter().map(|r| r.replace("weather", "forecast")).collect::<Vec<_>>());
        assert_ne!(Dictionary::from_bytes(other.clone()).unwrap().id, ours.id);
        let packed = pack(&recs[2500], Some(&ours));
        // Another dictionary under our id (its header: 4 bytes of magic, then the id), known
        // to this process.
        other[4..8].copy_from_slice(&ours.id.to_le_bytes());
        let clash = Dictionary::from_bytes(other).unwrap();
        assert_eq!(clash.id, ours.id);
        remember(Arc::new(clash));
        // zstd finds this one corrupt without the checksum too (the test passes with it off:
        // tried); the checksum is for a frame whose tables happen to decode.
        match unpack(&packed) {
            Ok(text) => panic!("read as other text: {}", String::from_utf8_lossy(&text)),
            Err(e) => assert_eq!(e.to_string(), "Data corruption detected"),
        }
    }

    #[test]
    fn too_little_text_makes_no_dictionary_and_an_unknown_one_is_named() {
        let trainer = Trainer::new(10);
        for (i, r) in records(10).iter().enumerate() {
            trainer.saw(i as u64 + 1, &[r]);
        }
        assert!(trainer.ready.get().is_some(), "the tenth line ends the training");
        assert!(trainer.dictionary().is_none());
        // A frame whose dictionary nobody holds: its id, changed in the frame header.
        let recs = records(3000);
        let samples: Vec<&[u8]> = recs.iter().map(String::as_bytes).collect();
        let dict = Dictionary::from_bytes(zstd::dict::from_samples(&samples, 16 << 10).unwrap()).unwrap();
        let packed = pack(&recs[0], Some(&dict));
        let err = unpack(&packed).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("it is compressed with zstd dictionary {}, which the workspace does not hold", dict.id)
        );
    }
}
