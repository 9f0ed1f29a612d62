//! What the dataset subcommands do: import, export, lint, stats. The CLI prints; these
//! return what happened.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::compress;
use crate::domain::{Stage, Verdict};
use crate::formats::container::{Container, ElementLines, Shape};
use crate::formats::lines::{self, Line, MAX_LINE, par_map_lines};
use crate::formats::trainers::Target;
use crate::formats::{Format, line_text};
use crate::lint::{self, Code, Finding, Severity};
use crate::model::{Origin, Sample};
use crate::store::{ExportError, NewSample, StatusFilter, Store, StoreError, Summary, content_id};

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("{0}: no such file")]
    NotFound(PathBuf),
    #[error("{0} is a directory; give a dataset file (JSON Lines)")]
    IsDir(PathBuf),
    #[error("{0} is empty: there is nothing to read")]
    Empty(PathBuf),
    #[error(
        "cannot tell the format of {0} from its first lines; pass --format button, openai, sharegpt, hermes, xlam or glaive"
    )]
    Undetected(PathBuf),
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0} is a layout button reads but does not write; export as button, openai, sharegpt or hermes")]
    ReadOnlyLayout(Format),
    #[error("cannot write {0}: the folder {1} does not exist")]
    NoFolder(PathBuf, PathBuf),
    #[error("{0} is not a JSON object of datasets; it was left as it is (export elsewhere, or fix it)")]
    NotDatasetInfo(PathBuf),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `--format auto` or a named format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatChoice {
    Auto,
    Named(Format),
}

impl std::str::FromStr for FormatChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "auto" { Ok(FormatChoice::Auto) } else { s.parse().map(FormatChoice::Named) }
    }
}

/// A dataset file as the commands read it. Standard input (`-`) or a pipe is copied to a
/// temporary file so it can be read twice (once to tell its format, once for its records);
/// the copy goes on drop. `name` is what a person is shown and what imported samples record
/// as their origin: the name given (sanitized), `<stdin>` for `-`, never the copy's.
pub struct Spooled {
    pub path: PathBuf,
    pub name: String,
    temp: bool,
}

impl Drop for Spooled {
    fn drop(&mut self) {
        if self.temp {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Spooled {
    pub fn new(path: &Path) -> Result<Spooled, OpError> {
        let stdin = path == Path::new("-");
        let name =
            if stdin { "<stdin>".to_string() } else { crate::text::sanitize(&path.display().to_string()).into_owned() };
        let regular = !stdin && std::fs::metadata(path).map_or(true, |m| m.is_file() || m.is_dir());
        if regular {
            return Ok(Spooled { path: path.to_path_buf(), name, temp: false });
        }
        let copy =
            std::env::temp_dir().join(format!("button-input-{}-{}.jsonl", std::process::id(), crate::store::now_ms()));
        let spooled = Spooled { path: copy.clone(), name, temp: true };
        let mut out = File::create(&copy).map_err(|e| OpError::Write(copy.clone(), e))?;
        let copied = if stdin {
            std::io::copy(&mut std::io::stdin().lock(), &mut out)
        } else {
            File::open(path).and_then(|mut f| std::io::copy(&mut f, &mut out))
        };
        copied.map_err(|e| OpError::Read(path.to_path_buf(), e))?;
        Ok(spooled)
    }

    /// An error about the file, naming it as the person gave it (not the copy).
    pub fn explain(&self, e: &dyn std::fmt::Display) -> String {
        let text = e.to_string();
        if self.temp { text.replace(&self.path.display().to_string(), &self.name) } else { text }
    }

    pub fn starts_with_bom(&self) -> bool {
        let mut head = [0u8; 3];
        File::open(&self.path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && head == crate::formats::BOM
    }
}

/// Opens a dataset file for reading, with one plain sentence for each way it can't be.
pub fn open_input(path: &Path) -> Result<File, OpError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => OpError::NotFound(path.to_path_buf()),
        _ => OpError::Read(path.to_path_buf(), e),
    })?;
    if meta.is_dir() {
        return Err(OpError::IsDir(path.to_path_buf()));
    }
    if meta.len() == 0 {
        return Err(OpError::Empty(path.to_path_buf()));
    }
    File::open(path).map_err(|e| OpError::Read(path.to_path_buf(), e))
}

/// A dataset file's records as JSON Lines, however it holds them (JSON Lines or one JSON
/// array, plain, gzip or zstd), and how it held them.
pub fn open_records(path: &Path) -> Result<(Box<dyn Read + Send>, Container), OpError> {
    let file = open_input(path)?;
    crate::formats::container::open(file).map_err(|e| OpError::Read(path.to_path_buf(), e))
}

/// Settles the format: the named one, or the first of the file's first 100 non-blank
/// records that tells.
pub fn resolve_format(path: &Path, choice: FormatChoice) -> Result<Format, OpError> {
    if let FormatChoice::Named(f) = choice {
        return Ok(f);
    }
    let (records, _) = open_records(path)?;
    let mut r = BufReader::new(records.take(256 << 20));
    let mut buf = Vec::new();
    let mut seen = 0;
    while seen < 100 {
        buf.clear();
        let n = r.read_until(b'\n', &mut buf).map_err(|e| OpError::Read(path.to_path_buf(), e))?;
        if n == 0 {
            break;
        }
        if buf.len() > MAX_LINE || buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        seen += 1;
        if let Some(f) = line_text(&buf).ok().and_then(crate::formats::detect_line) {
            return Ok(f);
        }
    }
    if seen == 0 {
        return Err(OpError::Empty(path.to_path_buf()));
    }
    Err(OpError::Undetected(path.to_path_buf()))
}

fn is_blank(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_whitespace)
}

fn too_long(n: usize) -> Finding {
    Finding::new(Code::TooLong, format!("the line is {n} bytes, over the {} MiB limit", MAX_LINE >> 20))
}

/// Parses one line of `format`; None for a blank line. A record that can't be read has
/// an excerpt of what it held where it went wrong.
pub fn parse_line(format: Format, line: Line<'_>) -> Option<Result<crate::formats::Parsed, Finding>> {
    parse_record(format, line).map(|r| r.map(|(parsed, _)| parsed))
}

/// `parse_line`, with the record's text beside what was read from it.
fn parse_record(format: Format, line: Line<'_>) -> Option<Result<(crate::formats::Parsed, &str), Finding>> {
    match line {
        Line::TooLong(n) => Some(Err(too_long(n))),
        Line::Text(b) if is_blank(b) => None,
        Line::Text(b) => Some(line_text(b).and_then(|text| {
            format.parse_line(text).map(|parsed| (parsed, text)).map_err(|mut f| {
                f.excerpt = Some(excerpt(text, &f));
                f
            })
        })),
    }
}

const EXCERPT_CHARS: usize = 72;

/// What a record looked like where `f` says it is wrong: around the column of a JSON
/// syntax error, the message it names, or else its start; one line, at most 72 chars.
pub fn excerpt(text: &str, f: &Finding) -> String {
    let column = (f.code == Code::NotJson)
        .then(|| {
            f.message
                .rsplit_once(" column ")
                .and_then(|(_, c)| c.trim_end_matches(|c: char| !c.is_ascii_digit()).parse::<usize>().ok())
        })
        .flatten();
    let message = f.message_index.and_then(|i| {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let list = ["messages", "conversations"].iter().find_map(|k| v.get(*k).and_then(|l| l.as_array()))?;
        list.get(i).map(std::string::ToString::to_string)
    });
    // A finding about one top-level field (`answers`, `tools[2]`) shows that field.
    let message = message.or_else(|| {
        let field = f.field.as_deref().filter(|_| f.message_index.is_none())?;
        let key = field.split(['.', '[']).next()?;
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        v.get(key).map(|x| format!("\"{key}\": {x}"))
    });
    let (body, start) = match (message, column) {
        (Some(m), _) => (m, 0),
        (None, Some(c)) => (text.to_string(), c.saturating_sub(EXCERPT_CHARS / 2)),
        (None, None) => (text.trim_start().to_string(), 0),
    };
    let mut start = start.min(body.len());
    while !body.is_char_boundary(start) {
        start -= 1;
    }
    let shown: String =
        body[start..].chars().take(EXCERPT_CHARS).map(|c| if c.is_control() { ' ' } else { c }).collect();
    let more = body[start..].chars().nth(EXCERPT_CHARS).is_some();
    format!("{}{shown}{}", if start > 0 { "…" } else { "" }, if more { "…" } else { "" })
}

#[derive(Debug, Default)]
pub struct ImportReport {
    pub format: Option<Format>,
    /// How the file held its records (JSON Lines or an array, compressed or not).
    pub container: Option<Container>,
    pub lines_read: u64,
    pub imported: u64,
    /// Records that were in the workspace before this import (same content).
    pub already_present: u64,
    /// Records that repeat an earlier record of the same file: (record, the record it
    /// repeats), in file order. Each is imported once.
    pub repeats: Vec<(u64, u64)>,
    /// (line, finding) for every skipped line, in file order.
    pub skipped: Vec<(u64, Finding)>,
    /// Where each element of an array began (empty for JSON Lines).
    pub element_lines: ElementLines,
}

impl ImportReport {
    /// "<FILE:LINE>" for a JSON Lines record; "FILE[INDEX] (line N)" for an array element,
    /// with its 0-based index as in `data[i]`.
    pub fn place(&self, file: &str, record: u64) -> String {
        match self.container.map(|c| c.shape) {
            Some(Shape::Array) => match self.element_lines.line_of(record) {
                Some(line) => format!("{file}[{}] (line {line})", record - 1),
                None => format!("{file}[{}]", record - 1),
            },
            _ => format!("{file}:{record}"),
        }
    }
}

impl ImportReport {
    pub fn skipped_by_code(&self) -> BTreeMap<Code, usize> {
        let mut m = BTreeMap::new();
        for (_, f) in &self.skipped {
            *m.entry(f.code).or_insert(0) += 1;
        }
        m
    }
}

const INSERT_BATCH: usize = 2000;
/// Skipped records whose excerpt the import report keeps (the command shows 50).
pub const KEPT_EXCERPTS: usize = 100;

/// Imports every readable line of `path` as a sample awaiting review. Lines that can't be
/// read are reported in the report (`skipped`) and skipped; samples already in the workspace
/// (same content) are left alone, so running it again after an interruption imports only
/// what is missing. Each batch is one transaction.
pub fn import(store: &mut Store, path: &Path, choice: FormatChoice) -> Result<ImportReport, OpError> {
    import_named(store, path, &path.display().to_string(), choice)
}

/// `import`, with the samples' origin recorded as `file_name` (standard input's copy is
/// recorded as `<stdin>`).
pub fn import_named(
    store: &mut Store,
    path: &Path,
    file_name: &str,
    choice: FormatChoice,
) -> Result<ImportReport, OpError> {
    let format = resolve_format(path, choice)?;
    let (file, container, element_lines) =
        crate::formats::container::open_tracked(open_input(path)?).map_err(|e| OpError::Read(path.to_path_buf(), e))?;
    let file_name = file_name.to_string();
    let mut report =
        ImportReport { format: Some(format), container: Some(container), element_lines, ..ImportReport::default() };
    // Content id -> the first record that had it, to tell repeats within the file from
    // samples the workspace held before.
    // (The id is 64 bits of a hash, in hex: kept as the number, 16 bytes an entry.)
    let mut seen: HashMap<u64, u64> = HashMap::new();
    let key = |id: &str| u64::from_str_radix(id.trim_start_matches('t'), 16).unwrap_or_default();
    let mut batch: Vec<NewSample> = Vec::with_capacity(INSERT_BATCH);
    // The records are compressed with a dictionary learnt from the first ones (see
    // `compress`); it is stored with the first batch that holds a sample using it.
    let trainer = compress::Trainer::default();
    let mut dict_stored = false;
    let dict_source = format!("the records of {file_name}'s first {} lines", compress::TRAIN_LINES);
    let mut flush = |store: &mut Store, batch: &mut Vec<NewSample>, report: &mut ImportReport| -> Result<(), OpError> {
        let dict = trainer.dictionary().filter(|d| !dict_stored && batch.iter().any(|s| compress::uses(&s.data, d.id)));
        let n = store.insert_samples_with(batch, dict.map(|d| (&**d, dict_source.as_str())))? as u64;
        dict_stored |= dict.is_some();
        report.imported += n;
        report.already_present += batch.len() as u64 - n;
        batch.clear();
        Ok(())
    };
    let result = par_map_lines(
        file,
        lines::default_workers(),
        |line_no, line| {
            let _abandon = compress::AbandonOnPanic(&trainer);
            let dict = trainer.dictionary_for(line_no);
            let item = parse_record(format, line).map(|r| {
                r.map(|(parsed, text)| {
                    // The record as it came, for an export in its own layout to give it back
                    // byte for byte: a JSON Lines line without its line break, an array
                    // element without the blanks between its tokens (as the container hands
                    // it over: it must fit on one line). Not kept for layouts button reads
                    // but does not write.
                    let raw = format.writes().then(|| text.trim_end_matches(['\r', '\n']));
                    let trajectory_json = serde_json::to_string(&parsed.trajectory).expect("a trajectory serializes");
                    let origin =
                        Origin::Imported { file: file_name.clone(), line: line_no, format: format.to_string() };
                    let sample = Sample {
                        trajectory: Some(parsed.trajectory),
                        ..Sample::new(content_id(&trajectory_json), origin)
                    };
                    let source = format!("{file_name}:{line_no}");
                    let learn = |data: &str| match raw {
                        Some(raw) => trainer.saw(line_no, &[data, raw]),
                        None => trainer.saw(line_no, &[data]),
                    };
                    NewSample::imported(sample, &trajectory_json, source, raw, dict.map(|d| &**d), learn)
                })
            });
            if !matches!(item, Some(Ok(_))) {
                trainer.saw(line_no, &[]);
            }
            item
        },
        |line_no, item: Result<NewSample, Finding>| -> Result<(), ImportFail> {
            report.lines_read = line_no;
            match item {
                Ok(s) => {
                    if let Some(&first) = seen.get(&key(&s.id)) {
                        report.repeats.push((line_no, first));
                        return Ok(());
                    }
                    seen.insert(key(&s.id), line_no);
                    batch.push(s);
                    if batch.len() >= INSERT_BATCH {
                        flush(store, &mut batch, &mut report)?;
                    }
                }
                Err(mut f) => {
                    // Only the first records are shown with what they read: a file of a
                    // million bad lines keeps no million excerpts.
                    if report.skipped.len() >= KEPT_EXCERPTS {
                        f.excerpt = None;
                    }
                    report.skipped.push((line_no, f));
                }
            }
            Ok(())
        },
    );
    match result {
        Ok(()) => {}
        Err(ImportFail::Io(e)) => return Err(OpError::Read(path.to_path_buf(), e)),
        Err(ImportFail::Op(e)) => return Err(e),
    }
    flush(store, &mut batch, &mut report)?;
    Ok(report)
}

enum ImportFail {
    Io(std::io::Error),
    Op(OpError),
}

impl From<std::io::Error> for ImportFail {
    fn from(e: std::io::Error) -> Self {
        ImportFail::Io(e)
    }
}

impl From<OpError> for ImportFail {
    fn from(e: OpError) -> Self {
        ImportFail::Op(e)
    }
}

#[derive(Debug, Default)]
pub struct ExportReport {
    pub written: usize,
    pub provenance: Option<PathBuf>,
    /// LLaMA-Factory's `dataset_info.json`, when the export's entry was written into it.
    pub dataset_info: Option<PathBuf>,
}

/// The provenance of the output whose content hashes to `hash`: `OUT.HASH.provenance.jsonl`.
/// Named by the output's hash, so an output and a provenance file can never be mistaken for
/// each other's, whatever moment an export was killed at.
pub fn provenance_path(out: &Path, hash: &str) -> PathBuf {
    let mut name = out.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
    name.push(format!(".{hash}.provenance.jsonl"));
    out.with_file_name(name)
}

/// The first 16 hex digits of the BLAKE3 hash of a file's bytes: what names its provenance.
pub fn output_hash(bytes: &[u8]) -> String {
    short_hex(blake3::hash(bytes))
}

fn short_hex(h: blake3::Hash) -> String {
    h.to_hex()[..16].to_string()
}

/// A writer that hashes what goes through it.
struct Hashing<W> {
    inner: W,
    hasher: blake3::Hasher,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes the samples that pass `status` to `out` in `format` (to stdout for `-`), and
/// beside it `OUT.HASH.provenance.jsonl`: one line per written line with the sample id,
/// origin, strategy, edits and review, which trainers never see. The provenance is put in
/// place first, then the output, each by a rename: a kill at any moment leaves either the
/// old output with its own provenance, or the new output with its own. Provenance files of
/// earlier outputs, and temporary files of killed exports, are removed.
pub fn export(store: &Store, format: Format, out: &Path, status: StatusFilter) -> Result<ExportReport, OpError> {
    export_as(store, ExportAs::Format(format), out, status)
}

/// What an export writes: a dataset layout, or the layout a trainer reads correctly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportAs {
    Format(Format),
    For(Target),
}

impl ExportAs {
    fn line<'a>(self, stored: &'a crate::store::Stored, t: &crate::model::Trajectory) -> std::borrow::Cow<'a, str> {
        match self {
            ExportAs::Format(f) => match untouched_source(stored, f) {
                Some(raw) => std::borrow::Cow::Borrowed(raw),
                None => std::borrow::Cow::Owned(f.write_line(t)),
            },
            ExportAs::For(target) => std::borrow::Cow::Owned(target.write_line(t)),
        }
    }
}

/// `export` in a dataset layout or for a trainer. For LLaMA-Factory, the dataset's entry is
/// also put into `dataset_info.json` beside the output (created, or updated keeping the
/// other entries), named after the output's file name without its extension.
pub fn export_as(store: &Store, what: ExportAs, out: &Path, status: StatusFilter) -> Result<ExportReport, OpError> {
    if let ExportAs::Format(f) = what
        && !f.writes()
    {
        return Err(OpError::ReadOnlyLayout(f));
    }
    let file_name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let entry = match what {
        ExportAs::For(target) if out != Path::new("-") => target.dataset_info(&file_name),
        _ => None,
    };
    // Read before anything is written: a dataset_info.json we can't update stops the export.
    let info = entry.as_ref().map(|_| read_dataset_info(out)).transpose()?;
    let mut report = export_lines(store, what, out, status)?;
    if let (Some(entry), Some((path, mut info))) = (entry, info) {
        let name = out.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        info.insert(name, entry.into());
        let tmp = tmp_name(&path);
        let text = serde_json::to_string_pretty(&serde_json::Value::Object(info)).expect("JSON serializes") + "\n";
        std::fs::write(&tmp, text).map_err(|e| OpError::Write(tmp.clone(), e))?;
        std::fs::rename(&tmp, &path).map_err(|e| OpError::Write(path.clone(), e))?;
        report.dataset_info = Some(path);
    }
    Ok(report)
}

/// `dataset_info.json` beside `out`, and its datasets (none when it is not there yet).
fn read_dataset_info(out: &Path) -> Result<(PathBuf, serde_json::Map<String, serde_json::Value>), OpError> {
    let dir = out.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let path = dir.join("dataset_info.json");
    let info = match std::fs::read_to_string(&path) {
        Ok(text) => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(o)) => o,
            _ => return Err(OpError::NotDatasetInfo(path)),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Map::new(),
        Err(e) => return Err(OpError::Read(path, e)),
    };
    Ok((path, info))
}

fn export_lines(store: &Store, what: ExportAs, out: &Path, status: StatusFilter) -> Result<ExportReport, OpError> {
    if out == Path::new("-") {
        let stdout = std::io::stdout();
        let mut w = BufWriter::new(stdout.lock());
        let written = write_export(store, what, status, &mut w, None).map_err(|e| export_err(e, out))?;
        w.flush().map_err(|e| OpError::Write(out.to_path_buf(), e))?;
        return Ok(ExportReport { written, ..ExportReport::default() });
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(OpError::NoFolder(out.to_path_buf(), dir.to_path_buf()));
    }
    remove_leftovers(out);
    let tmp_out = tmp_name(out);
    let tmp_prov = tmp_name(&provenance_path(out, "new"));
    let create = |p: &Path| File::create(p).map(BufWriter::new).map_err(|e| OpError::Write(p.to_path_buf(), e));
    let mut w = Hashing { inner: create(&tmp_out)?, hasher: blake3::Hasher::new() };
    let mut pw = create(&tmp_prov)?;
    let cleanup = || {
        let _ = std::fs::remove_file(&tmp_out);
        let _ = std::fs::remove_file(&tmp_prov);
    };
    let written = match write_export(store, what, status, &mut w, Some(&mut pw)) {
        Ok(n) => n,
        Err(e) => {
            cleanup();
            return Err(export_err(e, out));
        }
    };
    let hash = short_hex(w.hasher.finalize());
    let prov = provenance_path(out, &hash);
    let result = (|| {
        for (writer, dest) in [(&mut pw, &prov), (&mut w.inner, &out.to_path_buf())] {
            writer.flush().map_err(|e| OpError::Write(dest.clone(), e))?;
            writer.get_ref().sync_all().map_err(|e| OpError::Write(dest.clone(), e))?;
        }
        std::fs::rename(&tmp_prov, &prov).map_err(|e| OpError::Write(prov.clone(), e))?;
        std::fs::rename(&tmp_out, out).map_err(|e| OpError::Write(out.to_path_buf(), e))
    })();
    if let Err(e) = result {
        cleanup();
        return Err(e);
    }
    // The output in place is now the new one: earlier provenance files describe nothing.
    for old in sidecars(out) {
        if old.file_name() != prov.file_name() && old.to_string_lossy().ends_with(".provenance.jsonl") {
            let _ = std::fs::remove_file(old);
        }
    }
    Ok(ExportReport { written, provenance: Some(prov), dataset_info: None })
}

/// Files beside `out` whose names start with its name and a dot.
fn sidecars(out: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (out.parent(), out.file_name()) else { return Vec::new() };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let prefix = format!("{}.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| dir.join(e.file_name()))
        .collect()
}

/// Removes the temporary files of exports to `out` that were killed: those whose process
/// is gone.
fn remove_leftovers(out: &Path) {
    for p in sidecars(out) {
        let name = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let Some(pid) = name.rsplit_once(".tmp-").map(|(_, pid)| pid) else { continue };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_file(&p);
        }
    }
}

fn export_err(e: ExportError, out: &Path) -> OpError {
    match e {
        ExportError::Store(s) => OpError::Store(s),
        ExportError::Io(e) => OpError::Write(out.to_path_buf(), e),
    }
}

fn tmp_name(p: &Path) -> PathBuf {
    let mut name = p.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
    name.push(format!(".tmp-{}", std::process::id()));
    p.with_file_name(name)
}

fn write_export(
    store: &Store,
    what: ExportAs,
    status: StatusFilter,
    w: &mut impl Write,
    mut prov: Option<&mut BufWriter<File>>,
) -> Result<usize, ExportError> {
    let mut line = 0usize;
    store.for_each_sample(status, |stored| {
        let Some(t) = &stored.sample.trajectory else { return Ok(()) };
        line += 1;
        w.write_all(what.line(&stored, t).as_bytes())?;
        w.write_all(b"\n")?;
        if let Some(p) = prov.as_deref_mut() {
            let s = &stored.sample;
            let final_thought = t.messages.iter().rev().find_map(|m| match m {
                crate::model::Message::Assistant { thought, final_answer: Some(_), .. } if !thought.is_empty() => {
                    Some(thought.as_str())
                }
                _ => None,
            });
            let record = json!({
                "line": line,
                "sample_id": s.id,
                "origin": s.origin,
                "strategy": s.strategy().map(super::model::Strategy::as_str),
                "review": stored.review,
                "edits": s.edits,
                "final_thought": final_thought,
            });
            p.write_all(record.to_string().as_bytes())?;
            p.write_all(b"\n")?;
        }
        Ok(())
    })
}

/// The source record of an imported sample exported in its own layout, when the sample is
/// as it was imported: its dialogue still hashes to its id (an edit changes the dialogue,
/// and undoing every edit brings the record back).
fn untouched_source(stored: &crate::store::Stored, format: Format) -> Option<&str> {
    let raw = stored.raw.as_deref()?;
    let Origin::Imported { format: source_format, .. } = &stored.sample.origin else { return None };
    if source_format != format.as_str() {
        return None;
    }
    let t = stored.sample.trajectory.as_ref()?;
    let json = serde_json::to_string(t).ok()?;
    (content_id(&json) == stored.sample.id).then_some(raw)
}

#[derive(Debug, Default)]
pub struct LintSummary {
    pub trajectories: u64,
    pub unreadable: u64,
    pub with_errors: u64,
    pub with_warnings: u64,
    pub errors: u64,
    pub warnings: u64,
    pub by_code: BTreeMap<Code, u64>,
}

impl LintSummary {
    fn add(&mut self, findings: &[Finding]) {
        let errors = findings.iter().filter(|f| f.code.severity() == Severity::Error).count() as u64;
        let warnings = findings.len() as u64 - errors;
        self.errors += errors;
        self.warnings += warnings;
        self.with_errors += u64::from(errors > 0);
        self.with_warnings += u64::from(warnings > 0);
        for f in findings {
            *self.by_code.entry(f.code).or_insert(0) += 1;
        }
    }
}

/// Lints every line of a dataset file; `on_line` sees each line's findings in file order.
pub fn lint_file(
    path: &Path,
    choice: FormatChoice,
    mut on_line: impl FnMut(u64, &[Finding]) -> std::io::Result<()>,
) -> Result<(Format, LintSummary), OpError> {
    let format = resolve_format(path, choice)?;
    let (file, _) = open_records(path)?;
    let mut summary = LintSummary::default();
    par_map_lines(
        file,
        lines::default_workers(),
        |_, line| {
            parse_line(format, line).map(|r| match r {
                Ok(p) => (true, lint::lint(&p.trajectory, &[], &p.layout)),
                Err(f) => (false, vec![f]),
            })
        },
        |line_no, (readable, findings): (bool, Vec<Finding>)| {
            if readable {
                summary.trajectories += 1;
            } else {
                summary.unreadable += 1;
            }
            summary.add(&findings);
            on_line(line_no, &findings)
        },
    )
    .map_err(|e| OpError::Read(path.to_path_buf(), e))?;
    Ok((format, summary))
}

/// Counts for `button stats`: of a workspace, or of a file.
#[derive(Debug, Default, PartialEq)]
pub struct Stats {
    pub samples: u64,
    pub unreadable: u64,
    pub by_status: BTreeMap<String, u64>,
    pub by_stage: BTreeMap<String, u64>,
    pub by_strategy: BTreeMap<String, u64>,
    pub by_failure: BTreeMap<String, u64>,
    pub by_turns: BTreeMap<usize, u64>,
    pub by_calls: BTreeMap<usize, u64>,
    pub with_parallel_calls: u64,
    pub with_trajectory: u64,
    pub lint_clean: u64,
    pub by_lint_code: BTreeMap<Code, u64>,
    /// Per step and template version (workspaces only).
    pub by_step: Vec<crate::store::StepStat>,
}

impl Stats {
    pub fn add(&mut self, s: &Summary, verdict: Option<Verdict>) {
        self.samples += 1;
        let status = verdict.map_or("pending", Verdict::as_str);
        *self.by_status.entry(status.to_string()).or_insert(0) += 1;
        *self.by_stage.entry(s.stage.id().to_string()).or_insert(0) += 1;
        let strategy = s.strategy.clone().unwrap_or_else(|| "unknown".into());
        *self.by_strategy.entry(strategy).or_insert(0) += 1;
        if let Some(r) = &s.failure_reason {
            *self.by_failure.entry(r.clone()).or_insert(0) += 1;
        }
        if s.stage.is_complete() {
            self.with_trajectory += 1;
            *self.by_turns.entry(s.turns).or_insert(0) += 1;
            *self.by_calls.entry(s.calls).or_insert(0) += 1;
            self.with_parallel_calls += u64::from(s.parallel_calls);
            if s.lint_codes.is_empty() {
                self.lint_clean += 1;
            }
            // Of trajectories only: a failed sample's dialogue stopped part way, and its
            // missing final answer is the failure, not a finding.
            for c in &s.lint_codes {
                *self.by_lint_code.entry(*c).or_insert(0) += 1;
            }
        }
    }

    pub fn render(&self, of_file: bool) -> String {
        use std::fmt::Write as _;
        let mut o = String::new();
        let pct = |n: u64, d: u64| if d == 0 { 0.0 } else { n as f64 * 100.0 / d as f64 };
        let _ = writeln!(o, "samples     {}", self.samples);
        if of_file {
            let _ = writeln!(o, "unreadable  {} lines", self.unreadable);
        } else {
            let _ = writeln!(o, "status      {}", join_counts(&self.by_status));
            let _ = writeln!(o, "stage       {}", join_counts(&self.by_stage));
            let _ = writeln!(o, "strategy    {}", join_counts(&self.by_strategy));
            if !self.by_failure.is_empty() {
                let _ = writeln!(o, "failures    {}", join_counts(&self.by_failure));
            }
        }
        let _ = writeln!(o, "turns       {}", histogram(&self.by_turns, 8));
        let _ = writeln!(o, "calls       {}", histogram(&self.by_calls, 8));
        let _ = writeln!(
            o,
            "parallel    {} of {} trajectories have parallel calls ({:.1}%)",
            self.with_parallel_calls,
            self.with_trajectory,
            pct(self.with_parallel_calls, self.with_trajectory)
        );
        let _ = writeln!(
            o,
            "lint        {} of {} trajectories clean ({:.1}%)",
            self.lint_clean,
            self.with_trajectory,
            pct(self.lint_clean, self.with_trajectory)
        );
        for (code, n) in &self.by_lint_code {
            let _ = writeln!(o, "  {} {:<22} {:>8} {}", code.id(), code.name(), n, code.severity().as_str());
        }
        if !self.by_step.is_empty() {
            let _ = writeln!(
                o,
                "steps       by template version: calls, replies that did not parse, re-asks (samples they rescued), call errors, samples that failed at the step, filtered out, rejected of reviewed"
            );
            for st in &self.by_step {
                let _ = writeln!(
                    o,
                    "  {:<28} {:<8} {:>7} calls  {:>5} unparsed ({:>4.1}%)  {:>5} re-asks ({:>5} samples rescued)  {:>4} errors  {:>5} of {:>6} samples failed ({:>4.1}%)  {:>5} filtered out  {:>4} of {:>5} rejected ({:>5.1}%)",
                    st.step,
                    st.template_version,
                    st.calls,
                    st.parse_failed,
                    pct(st.parse_failed, st.calls),
                    st.reasks,
                    st.rescued,
                    st.errors,
                    st.samples_failed,
                    st.samples,
                    pct(st.samples_failed, st.samples),
                    st.filtered,
                    st.rejected,
                    st.reviewed,
                    pct(st.rejected, st.reviewed)
                );
            }
        }
        o
    }
}

fn join_counts(m: &BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "-".into();
    }
    m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
}

/// "n: count" in numeric order, with everything from `max` up in one "max+" bucket.
fn histogram(m: &BTreeMap<usize, u64>, max: usize) -> String {
    let mut capped: BTreeMap<usize, u64> = BTreeMap::new();
    for (k, v) in m {
        *capped.entry((*k).min(max)).or_insert(0) += v;
    }
    if capped.is_empty() {
        return "-".into();
    }
    capped
        .iter()
        .map(|(k, v)| if *k == max { format!("{k}+: {v}") } else { format!("{k}: {v}") })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn stats_workspace(store: &Store) -> Result<Stats, OpError> {
    let mut stats = Stats::default();
    store.list(StatusFilter::All, |r| stats.add(&r.summary, r.verdict))?;
    stats.by_step = store.step_stats()?;
    Ok(stats)
}

pub fn stats_file(path: &Path, choice: FormatChoice) -> Result<Stats, OpError> {
    let format = resolve_format(path, choice)?;
    let (file, _) = open_records(path)?;
    let mut stats = Stats::default();
    par_map_lines(
        file,
        lines::default_workers(),
        |_, line| {
            parse_line(format, line).map(|r| {
                r.map(|p| {
                    let mut s = Summary { stage: Stage::Complete, ..Summary::default() };
                    s.add_trajectory(&p.trajectory, &[], &p.layout);
                    s
                })
            })
        },
        |_, r: Result<Summary, Finding>| {
            match r {
                Ok(s) => stats.add(&s, None),
                Err(_) => stats.unreadable += 1,
            }
            Ok::<(), std::io::Error>(())
        },
    )
    .map_err(|e| OpError::Read(path.to_path_buf(), e))?;
    Ok(stats)
}
