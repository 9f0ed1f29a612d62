//! The workspace: `<dir>/button.db`, `SQLite` in WAL mode (readers never wait for the
//! writer), schema migrations by `user_version`. It holds every sample's lineage, every LLM
//! call, and the append-only journal of human actions from which undo works, also after a
//! restart. Every change is one transaction: a kill at any moment leaves the last committed
//! state, never half a sample or half a verdict.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::compress::{self, Dictionary};
use crate::domain::{self, Parts, Stage, Verdict};
use crate::lint::{self, Code, Layout, Severity};
use crate::model::{FieldEdit, Review, Sample, SubTaskFunctions, Trajectory};

pub const DB_FILE: &str = "button.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no workspace in {0}: {DB_FILE} is not there (button import or button run creates one)")]
    Missing(PathBuf),
    #[error("cannot create the workspace folder {0}: {1}")]
    CreateDir(PathBuf, std::io::Error),
    #[error("the workspace {0} was written by a newer button (schema {1}, this one knows up to {2}): update button")]
    TooNew(PathBuf, i64, i64),
    #[error(
        "the workspace {0} needs an upgrade that a read-only open can't make: run a writing command once (button import, run or the TUI)"
    )]
    NeedsUpgrade(PathBuf),
    #[error("workspace database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("sample {0} is not in the workspace")]
    NoSample(String),
    #[error("LLM call #{0} is not in the workspace")]
    NoCall(i64),
    #[error("sample {0} has no kept version #{1}")]
    NoVersion(String, i64),
    #[error("sample {0} has no edit #{1} in the journal")]
    NoEdit(String, i64),
    #[error("sample {0}: the field {1} does not exist")]
    NoField(String, String),
    #[error(
        "the workspace holds another zstd dictionary with id {0} than the one this import learnt; nothing of this batch was written (import into another workspace)"
    )]
    DictionaryClash(u32),
    #[error("sample {0} holds unreadable data: {1}")]
    BadData(String, serde_json::Error),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Each entry moves the schema one version up; never edit an entry once released.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE samples (
    id TEXT NOT NULL UNIQUE,
    origin TEXT NOT NULL,
    source TEXT,
    stage TEXT NOT NULL,
    strategy TEXT,
    failure_reason TEXT,
    turns INTEGER NOT NULL DEFAULT 0,
    calls INTEGER NOT NULL DEFAULT 0,
    parallel_calls INTEGER NOT NULL DEFAULT 0,
    lint_errors INTEGER NOT NULL DEFAULT 0,
    lint_warnings INTEGER NOT NULL DEFAULT 0,
    lint_codes TEXT NOT NULL DEFAULT '',
    verdict TEXT,
    review TEXT,
    data BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX samples_verdict ON samples(verdict);
CREATE INDEX samples_stage ON samples(stage);
CREATE TABLE llm_calls (
    id INTEGER PRIMARY KEY,
    request_hash TEXT NOT NULL,
    run_id TEXT,
    sample_id TEXT,
    step TEXT NOT NULL,
    template_version TEXT,
    endpoint TEXT,
    model TEXT,
    prompt TEXT NOT NULL,
    raw_reply TEXT,
    parse_ok INTEGER,
    parse_result TEXT,
    error TEXT,
    latency_ms INTEGER,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    attempts INTEGER NOT NULL DEFAULT 1,
    started_at INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE INDEX llm_calls_request ON llm_calls(request_hash);
CREATE INDEX llm_calls_sample ON llm_calls(sample_id);
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    sample_id TEXT NOT NULL,
    action TEXT NOT NULL,
    payload TEXT NOT NULL,
    undone_by INTEGER
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
",
    r"
ALTER TABLE samples ADD COLUMN stale TEXT NOT NULL DEFAULT '';
ALTER TABLE samples ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX samples_unindexed ON samples(indexed) WHERE indexed = 0;
CREATE VIRTUAL TABLE sample_text USING fts5(
    text, content = '', contentless_delete = 1, detail = none, tokenize = 'unicode61 remove_diacritics 2'
);
",
    r"
ALTER TABLE llm_calls ADD COLUMN context TEXT;
CREATE TABLE versions (
    id INTEGER PRIMARY KEY,
    sample_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX versions_sample ON versions(sample_id);
",
    r"
ALTER TABLE journal ADD COLUMN client TEXT;
",
    r"
ALTER TABLE llm_calls ADD COLUMN reask INTEGER NOT NULL DEFAULT 0;
ALTER TABLE llm_calls ADD COLUMN wait_ms INTEGER NOT NULL DEFAULT 0;
",
    r"
ALTER TABLE samples ADD COLUMN raw BLOB;
",
    r"
ALTER TABLE journal ADD COLUMN redo_of INTEGER;
",
    r"
CREATE TABLE dictionaries (id INTEGER PRIMARY KEY, data BLOB NOT NULL, made_at INTEGER NOT NULL, source TEXT);
",
];

/// How long a writer waits for another one before giving up.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A path as the path part of an `SQLite` `file:` URI.
fn uri_path(p: &Path) -> String {
    let s = p.to_string_lossy();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '?' | '#' | '%' => {
                let _ = write!(out, "%{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

pub struct Store {
    conn: Connection,
    dir: PathBuf,
    /// Who writes the journal entries of this connection (a TUI session); its undo
    /// touches only its own. None: the command line, which undoes the newest of anyone's.
    client: Option<String>,
    /// The inspect view's groups, by what they group, with the workspace's state they were
    /// read at (`state()`): read again only after a write.
    groups: std::cell::RefCell<GroupsCache>,
}

/// The inspect groups read, by what they group, with the state (data version, change
/// count) they were read at.
type GroupsCache = std::collections::HashMap<crate::inspect::Browse, ((i64, u64), Vec<crate::inspect::Group>)>;

/// What the list, the filters and the stats need of a sample, without its JSON.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub stage: Stage,
    pub strategy: Option<String>,
    pub failure_reason: Option<String>,
    pub turns: usize,
    pub calls: usize,
    pub parallel_calls: bool,
    pub lint_errors: usize,
    pub lint_warnings: usize,
    pub lint_codes: Vec<Code>,
    /// The lineage parts made from something edited since.
    pub stale: Parts,
}

impl Summary {
    pub fn of(sample: &Sample) -> Summary {
        let mut s = Summary {
            stage: Stage::of(sample),
            strategy: sample.strategy().map(|s| s.as_str().to_string()),
            failure_reason: sample.failure.as_ref().map(|f| format!("{}:{}", f.stage, f.reason)),
            stale: domain::stale(sample),
            ..Summary::default()
        };
        if let Some(t) = &sample.trajectory {
            // Stored samples point into the BUTTON layout: the system message is index 0.
            s.add_trajectory(t, &sample.functions, &Layout::offset(1, t.messages.len()));
        }
        s
    }

    /// Fills the trajectory's counts and lint results in.
    pub fn add_trajectory(&mut self, t: &Trajectory, sub_tasks: &[SubTaskFunctions], layout: &Layout) {
        self.turns = t.assistant_turns();
        self.calls = t.call_count();
        self.parallel_calls = t.has_parallel_calls();
        for f in lint::lint(t, sub_tasks, layout) {
            match f.code.severity() {
                Severity::Error => self.lint_errors += 1,
                Severity::Warning => self.lint_warnings += 1,
            }
            if !self.lint_codes.contains(&f.code) {
                self.lint_codes.push(f.code);
            }
        }
        self.lint_codes.sort();
    }

    pub fn codes_text(&self) -> String {
        self.lint_codes.iter().map(|c| c.id()).collect::<Vec<_>>().join(" ")
    }
}

/// A sample ready to be written: its JSON already serialized (by a worker thread).
pub struct NewSample {
    pub id: String,
    pub origin: &'static str,
    pub source: String,
    /// The sample's JSON, compressed (see `pack`).
    pub data: Vec<u8>,
    pub summary: Summary,
    /// An imported sample's source record, compressed.
    pub raw: Option<Vec<u8>>,
}

impl NewSample {
    /// An imported sample: `trajectory_json` is the trajectory already serialized (its
    /// hash is the sample's id), spliced in rather than serialized a second time.
    /// `dict` is the import's zstd dictionary, once it has one; `learn` sees the sample's JSON
    /// before it is compressed.
    pub fn imported(
        mut sample: Sample,
        trajectory_json: &str,
        source: String,
        raw: Option<&str>,
        dict: Option<&Dictionary>,
        learn: impl FnOnce(&str),
    ) -> NewSample {
        let trajectory = sample.trajectory.take().expect("an imported sample has a trajectory");
        let mut data = serde_json::to_string(&sample).expect("a sample always serializes");
        data.pop();
        data.push_str(",\"trajectory\":");
        data.push_str(trajectory_json);
        data.push('}');
        learn(&data);
        let data = compress::pack(&data, dict);
        let mut summary = Summary::of(&sample);
        summary.stage = Stage::Complete;
        summary.add_trajectory(&trajectory, &sample.functions, &Layout::offset(1, trajectory.messages.len()));
        NewSample {
            id: sample.id,
            origin: "imported",
            source,
            data,
            summary,
            raw: raw.map(|r| compress::pack(r, dict)),
        }
    }

    pub fn new(sample: &Sample, source: String) -> NewSample {
        let origin = match sample.origin {
            crate::model::Origin::Imported { .. } => "imported",
            crate::model::Origin::Generated { .. } => "generated",
        };
        NewSample {
            id: sample.id.clone(),
            origin,
            source,
            data: pack(&serde_json::to_string(sample).expect("a sample always serializes")),
            summary: Summary::of(sample),
            raw: None,
        }
    }
}

/// Sample JSON is stored zstd-compressed (see `compress`): the benchmark's 100,000 records
/// (355 MB, each kept as a sample and as its source record) make a workspace of 64 MB, and
/// an import writes that many bytes (twice: WAL, then the database). Samples written
/// outside an import have no dictionary.
fn pack(json: &str) -> Vec<u8> {
    compress::pack(json, None)
}

/// A frame's text, or what is wrong with it, as the sample's error.
fn unpack_bytes(id: &str, data: &[u8]) -> Result<Vec<u8>> {
    compress::unpack(data).map_err(|e| StoreError::BadData(id.to_string(), serde_json::Error::io(e)))
}

pub fn unpack(id: &str, data: &[u8]) -> Result<Sample> {
    unpack_as(id, data)
}

/// Stored sample JSON read as `T` (a whole `Sample`, or only the fields `T` names).
fn unpack_as<T: serde::de::DeserializeOwned>(id: &str, data: &[u8]) -> Result<T> {
    let json = unpack_bytes(id, data)?;
    serde_json::from_slice(&json).map_err(|e| StoreError::BadData(id.to_string(), e))
}

/// A sample's data, review and source record, as stored.
type SampleRow = (Vec<u8>, Option<String>, Option<Vec<u8>>);

/// Text stored with `pack`.
fn unpack_text(id: &str, data: &[u8]) -> Result<String> {
    let bytes = unpack_bytes(id, data)?;
    String::from_utf8(bytes).map_err(|e| {
        StoreError::BadData(
            id.to_string(),
            serde_json::Error::io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        )
    })
}

/// One finished (or failed) LLM call, as the workspace keeps it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallRecord {
    pub request_hash: String,
    pub run_id: String,
    pub sample_id: String,
    pub step: String,
    pub template_version: String,
    pub endpoint: String,
    pub model: String,
    /// The rendered prompt: the chat messages as JSON.
    pub prompt: String,
    pub raw_reply: Option<String>,
    pub parse_ok: Option<bool>,
    pub parse_result: Option<String>,
    pub error: Option<String>,
    pub latency_ms: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub attempts: u32,
    pub started_at: i64,
    pub finished_at: i64,
    /// The template's variables as JSON, so the step can be asked again with an edited
    /// template; None for calls not made from a template alone.
    pub context: Option<String>,
    /// 0 for the first ask of a step; 1, 2, ... for its re-asks after replies that could
    /// not be used.
    pub reask: u32,
    /// How long the call waited for a slot under the concurrency limit before it went out
    /// (`latency_ms` is the time on the wire, after it).
    pub wait_ms: u64,
}

/// The identity of a trajectory's content: the same trajectory gets the same id whatever
/// file or line it came from.
pub fn content_id(trajectory_json: &str) -> String {
    let hash = blake3::hash(trajectory_json.as_bytes());
    let hex = hash.to_hex();
    format!("t{}", &hex.as_str()[..16])
}

/// Which samples an export or listing takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFilter {
    Accepted,
    Rejected,
    Pending,
    All,
}

impl std::str::FromStr for StatusFilter {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "accepted" => Ok(StatusFilter::Accepted),
            "rejected" => Ok(StatusFilter::Rejected),
            "pending" => Ok(StatusFilter::Pending),
            "all" => Ok(StatusFilter::All),
            other => Err(format!("unknown status {other:?}: use accepted, rejected, pending or all")),
        }
    }
}

impl StatusFilter {
    fn sql(self) -> &'static str {
        match self {
            StatusFilter::Accepted => "verdict = 'accepted'",
            StatusFilter::Rejected => "verdict = 'rejected'",
            StatusFilter::Pending => "(verdict IS NULL OR verdict = 'flagged')",
            StatusFilter::All => "1",
        }
    }
}

/// One row of the journal of human actions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Verdict {
        before: Option<Review>,
        after: Option<Review>,
    },
    /// `review`: the verdict the edit cleared (a changed sample is reviewed again); undo
    /// brings it back with the old value.
    Edit {
        path: String,
        before: Value,
        after: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        review: Option<Review>,
    },
    Undo {
        of: i64,
    },
    /// Several samples given one verdict (or cleared) at once; `before` holds each one's.
    Verdicts {
        after: Option<Review>,
        before: Vec<(String, Option<Review>)>,
    },
    /// The sample's content replaced by its kept version `from`; what it held is kept as
    /// version `saved`. A verdict it had is cleared (`review`), as by an edit.
    Restore {
        from: i64,
        saved: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        review: Option<Review>,
    },
}

impl Action {
    /// The action in words: `verdict accepted`, `verdict cleared`, `edit of /path`.
    pub fn describe(&self) -> String {
        match self {
            Action::Verdict { after: Some(r), .. } => format!("verdict {}", r.verdict.as_str()),
            Action::Verdict { after: None, .. } => "verdict cleared".into(),
            Action::Edit { path, .. } => format!("edit of {path}"),
            Action::Undo { of } => format!("undo of #{of}"),
            Action::Verdicts { after, before } => format!(
                "verdict {} of {} samples",
                after.as_ref().map_or("cleared", |r| r.verdict.as_str()),
                before.len()
            ),
            Action::Restore { from, .. } => format!("restore of version #{from}"),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Action::Verdict { .. } => "verdict",
            Action::Edit { .. } => "edit",
            Action::Undo { .. } => "undo",
            Action::Verdicts { .. } => "verdicts",
            Action::Restore { .. } => "restore",
        }
    }
}

/// One step of a sample's history, as `Store::history` lists it.
#[derive(Clone, Debug, PartialEq)]
pub enum HistoryItem {
    /// A verdict, edit, undo or restore of the sample (or a verdict of many including it).
    Journal(Box<JournalEntry>),
    /// A kept version: `previous` (before a regeneration), `failed` (an attempt that failed),
    /// `fork` (a branch of the dialogue), `replaced` (what a restore replaced).
    Version { id: i64, at: i64, kind: String },
}

impl HistoryItem {
    pub fn at(&self) -> i64 {
        match self {
            HistoryItem::Journal(e) => e.at,
            HistoryItem::Version { at, .. } => *at,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct JournalEntry {
    pub seq: i64,
    pub at: i64,
    pub sample_id: String,
    pub action: Action,
    pub undone_by: Option<i64>,
}

impl JournalEntry {
    /// The entry in words, with its sample: "verdict accepted on s0-000001", "verdict
    /// accepted of 19 samples".
    pub fn describe(&self) -> String {
        match self.action {
            Action::Verdicts { .. } => self.action.describe(),
            _ => format!("{} on {}", self.action.describe(), self.sample_id),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ListRow {
    pub rowid: i64,
    pub id: String,
    pub verdict: Option<Verdict>,
    pub source: Option<String>,
    pub summary: Summary,
}

const ROW_COLUMNS: &str = "id, verdict, source, stage, strategy, failure_reason, turns, calls, parallel_calls, \
    lint_errors, lint_warnings, lint_codes, stale, rowid";

fn list_row(r: &rusqlite::Row) -> rusqlite::Result<ListRow> {
    let codes: String = r.get(11)?;
    Ok(ListRow {
        rowid: r.get(13)?,
        id: r.get(0)?,
        verdict: r.get::<_, Option<String>>(1)?.as_deref().and_then(Verdict::from_id),
        source: r.get(2)?,
        summary: Summary {
            stage: Stage::from_stored(&r.get::<_, String>(3)?, r.get::<_, Option<String>>(5)?.as_deref())
                .unwrap_or_default(),
            strategy: r.get(4)?,
            failure_reason: r.get(5)?,
            turns: r.get::<_, i64>(6)? as usize,
            calls: r.get::<_, i64>(7)? as usize,
            parallel_calls: r.get(8)?,
            lint_errors: r.get::<_, i64>(9)? as usize,
            lint_warnings: r.get::<_, i64>(10)? as usize,
            lint_codes: codes.split_whitespace().filter_map(Code::from_id).collect(),
            stale: Parts::from_ids(&r.get::<_, String>(12)?),
        },
    })
}

/// How one step did with one version of its template.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepStat {
    pub step: String,
    pub template_version: String,
    pub calls: u64,
    pub parse_failed: u64,
    pub errors: u64,
    /// Samples it was asked for; of them, those that failed at this step.
    pub samples: u64,
    pub samples_failed: u64,
    /// Of those samples, reviewed (accepted or rejected), and rejected.
    pub reviewed: u64,
    pub rejected: u64,
    /// Re-asks after replies that could not be used, and the samples a re-ask got a usable
    /// reply for.
    pub reasks: u64,
    pub rescued: u64,
    /// Samples the filter judged incomplete (a verdict, not a failure to parse).
    pub filtered: u64,
}

/// One recorded LLM call: its row id and the call as it was recorded (its fields read
/// through, `row.step`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallRow {
    pub id: i64,
    pub call: CallRecord,
}

impl std::ops::Deref for CallRow {
    type Target = CallRecord;
    fn deref(&self) -> &CallRecord {
        &self.call
    }
}

impl std::ops::DerefMut for CallRow {
    fn deref_mut(&mut self) -> &mut CallRecord {
        &mut self.call
    }
}

const CALL_COLUMNS: &str = "id, request_hash, run_id, sample_id, step, template_version, endpoint, model, prompt, \
    raw_reply, parse_ok, parse_result, error, latency_ms, prompt_tokens, completion_tokens, attempts, started_at, \
    finished_at, context, reask, wait_ms";

fn call_row(r: &rusqlite::Row) -> rusqlite::Result<CallRow> {
    let text = |i: usize| r.get::<_, Option<String>>(i).map(Option::unwrap_or_default);
    let n = |i: usize| r.get::<_, Option<i64>>(i).map(|v| v.unwrap_or(0));
    Ok(CallRow {
        id: r.get(0)?,
        call: CallRecord {
            request_hash: r.get(1)?,
            run_id: text(2)?,
            sample_id: text(3)?,
            step: r.get(4)?,
            template_version: text(5)?,
            endpoint: text(6)?,
            model: text(7)?,
            prompt: r.get(8)?,
            raw_reply: r.get(9)?,
            parse_ok: r.get(10)?,
            parse_result: r.get(11)?,
            error: r.get(12)?,
            latency_ms: n(13)? as u64,
            prompt_tokens: n(14)? as u64,
            completion_tokens: n(15)? as u64,
            attempts: r.get::<_, i64>(16)? as u32,
            started_at: r.get(17)?,
            finished_at: n(18)?,
            context: r.get(19)?,
            reask: n(20)? as u32,
            wait_ms: n(21)? as u64,
        },
    })
}

/// Every string in a JSON document, space-separated, for the search index.
fn collect_text(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push(' ');
        }
        Value::Array(a) => a.iter().for_each(|x| collect_text(x, out)),
        Value::Object(m) => m.values().for_each(|x| collect_text(x, out)),
        Value::Number(n) => {
            out.push_str(&n.to_string());
            out.push(' ');
        }
        _ => {}
    }
}

/// An exported row: the sample, and its review if it has one.
pub struct Stored {
    pub sample: Sample,
    pub review: Option<Review>,
    /// An imported sample's source record, byte for byte (an array element with its line
    /// breaks as spaces); None for generated samples and workspaces made before it was kept.
    pub raw: Option<String>,
}

impl Store {
    pub fn db_path(dir: &Path) -> PathBuf {
        dir.join(DB_FILE)
    }

    /// Opens the workspace in `dir`, creating it when `create` is set.
    pub fn open(dir: &Path, create: bool) -> Result<Store> {
        let path = Store::db_path(dir);
        if !path.exists() {
            if !create {
                return Err(StoreError::Missing(dir.to_path_buf()));
            }
            std::fs::create_dir_all(dir).map_err(|e| StoreError::CreateDir(dir.to_path_buf(), e))?;
        }
        let conn = Connection::open(&path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        compress::remember_workspace(&path);
        // A sample's JSON is a few KB: 16 KiB pages keep most rows off overflow chains.
        // Only takes effect on a new database, before WAL is switched on.
        conn.pragma_update(None, "page_size", 16384)?;
        // Switching a new database to WAL takes an exclusive lock without the busy handler:
        // when two processes create the workspace at once, the loser waits here.
        let started = std::time::Instant::now();
        loop {
            match conn.pragma_update(None, "journal_mode", "WAL") {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy && started.elapsed() < BUSY_TIMEOUT =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                r => break r?,
            }
        }
        // With WAL, NORMAL loses nothing committed when the process dies (kill -9); only a
        // power cut may drop the last transactions.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Checkpoint every 64 MiB of WAL rather than every 4 MiB: fewer copies on imports.
        conn.pragma_update(None, "wal_autocheckpoint", 4096)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = Store { conn, dir: dir.to_path_buf(), client: None, groups: std::cell::RefCell::default() };
        store.migrate()?;
        Ok(store)
    }

    /// Opens the workspace for reading only, as the reading commands do: it works in a
    /// folder or on a database this user can't write. A workspace that needs a migration is
    /// opened for writing once, to migrate it; where that is refused, it says so.
    pub fn open_read_only(dir: &Path) -> Result<Store> {
        use rusqlite::OpenFlags;
        let path = Store::db_path(dir);
        if !path.exists() {
            return Err(StoreError::Missing(dir.to_path_buf()));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let open = |uri: String| -> Result<Connection> {
            let conn = Connection::open_with_flags(uri, flags)?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
            Ok(conn)
        };
        let uri = |extra: &str| format!("file:{}?mode=ro{extra}", uri_path(&path));
        // A WAL database needs its -shm file; where it can't be made (a read-only folder),
        // the database is read as it is on disk.
        let conn = open(uri("")).or_else(|_| open(uri("&immutable=1")))?;
        compress::remember_workspace(&path);
        let store = Store { conn, dir: dir.to_path_buf(), client: None, groups: std::cell::RefCell::default() };
        let version = store.schema_version()?;
        let latest = MIGRATIONS.len() as i64;
        if version > latest {
            return Err(StoreError::TooNew(dir.to_path_buf(), version, latest));
        }
        if version < latest {
            // An older workspace is upgraded once, which takes a writable open.
            drop(store);
            return Store::open(dir, false).map_err(|_| StoreError::NeedsUpgrade(dir.to_path_buf()));
        }
        Ok(store)
    }

    /// Names the client whose journal entries this connection writes and undoes.
    pub fn set_client(&mut self, client: impl Into<String>) {
        self.client = Some(client.into());
    }

    /// Changes when another connection commits: a cheap way to notice other processes.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self.conn.query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// The workspace folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Brings the schema up to date. Two processes may open a new workspace at once: each
    /// step reads the version inside a write transaction, so one of them migrates and the
    /// other waits, then finds nothing to do.
    fn migrate(&mut self) -> Result<()> {
        let latest = MIGRATIONS.len() as i64;
        loop {
            let version: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if version > latest {
                return Err(StoreError::TooNew(self.dir.clone(), version, latest));
            }
            if version == latest {
                return Ok(());
            }
            let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if version < latest {
                tx.execute_batch(MIGRATIONS[version as usize])?;
                tx.pragma_update(None, "user_version", version + 1)?;
            }
            tx.commit()?;
        }
    }

    pub fn schema_version(&self) -> Result<i64> {
        Ok(self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Writes samples in one transaction; those already present (same id) are left as they
    /// are. Returns how many were new.
    pub fn insert_samples(&mut self, samples: &[NewSample]) -> Result<usize> {
        self.insert_samples_with(samples, None)
    }

    /// `insert_samples`, keeping `dict` (the dictionary some of them are compressed with) in
    /// the same transaction, so that no sample is ever stored without its dictionary.
    /// `source` says what it was trained on.
    pub fn insert_samples_with(&mut self, samples: &[NewSample], dict: Option<(&Dictionary, &str)>) -> Result<usize> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if let Some((dict, source)) = dict {
            // zstd derives the id from the content: the same id with other bytes is a clash
            // (odds of 2^-31), and the samples would read through the wrong dictionary.
            let held: Option<Vec<u8>> =
                tx.query_row("SELECT data FROM dictionaries WHERE id = ?1", [dict.id], |r| r.get(0)).optional()?;
            match held {
                Some(bytes) if bytes != dict.bytes => return Err(StoreError::DictionaryClash(dict.id)),
                Some(_) => {}
                None => {
                    tx.execute(
                        "INSERT INTO dictionaries (id, data, made_at, source) VALUES (?1, ?2, ?3, ?4)",
                        params![dict.id, dict.bytes, now_ms(), source],
                    )?;
                }
            }
        }
        let inserted = write_samples(&tx, samples, "ON CONFLICT(id) DO NOTHING")?;
        tx.commit()?;
        Ok(inserted)
    }

    /// Writes generated samples and finished LLM calls in one transaction. A sample already
    /// there is updated (its review is never touched).
    pub fn write_progress(&mut self, samples: &[NewSample], calls: &[CallRecord]) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        write_samples(
            &tx,
            samples,
            "ON CONFLICT(id) DO UPDATE SET stage = excluded.stage, strategy = excluded.strategy,
                failure_reason = excluded.failure_reason, turns = excluded.turns, calls = excluded.calls,
                parallel_calls = excluded.parallel_calls, lint_errors = excluded.lint_errors,
                lint_warnings = excluded.lint_warnings, lint_codes = excluded.lint_codes, data = excluded.data,
                updated_at = excluded.updated_at, stale = excluded.stale, indexed = 0",
        )?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO llm_calls (request_hash, run_id, sample_id, step, template_version, endpoint, model, prompt,
                    raw_reply, parse_ok, parse_result, error, latency_ms, prompt_tokens, completion_tokens, attempts,
                    started_at, finished_at, context, reask, wait_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
            )?;
            for c in calls {
                stmt.execute(params![
                    c.request_hash,
                    c.run_id,
                    c.sample_id,
                    c.step,
                    c.template_version,
                    c.endpoint,
                    c.model,
                    c.prompt,
                    c.raw_reply,
                    c.parse_ok,
                    c.parse_result,
                    c.error,
                    c.latency_ms as i64,
                    c.prompt_tokens as i64,
                    c.completion_tokens as i64,
                    i64::from(c.attempts),
                    c.started_at,
                    c.finished_at,
                    c.context,
                    c.reask,
                    c.wait_ms as i64,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Finished replies by request hash, for a resumed run to reuse instead of asking again.
    pub fn finished_replies(&self) -> Result<std::collections::HashMap<String, String>> {
        let mut stmt = self.conn.prepare(
            "SELECT request_hash, raw_reply FROM llm_calls WHERE error IS NULL AND raw_reply IS NOT NULL ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut map = std::collections::HashMap::new();
        for row in rows {
            let (h, reply) = row?;
            map.insert(h, reply);
        }
        Ok(map)
    }

    /// Ids of the samples that reached an end (complete or failed).
    pub fn ended_ids(&self) -> Result<std::collections::HashSet<String>> {
        let mut stmt = self.conn.prepare("SELECT id FROM samples WHERE stage IN ('complete', 'failed')")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect::<std::result::Result<_, _>>().map_err(Into::into)
    }

    pub fn call_count(&self) -> Result<u64> {
        Ok(self.conn.query_row("SELECT count(*) FROM llm_calls", [], |r| r.get::<_, i64>(0))? as u64)
    }

    pub fn sample_count(&self) -> Result<u64> {
        Ok(self.conn.query_row("SELECT count(*) FROM samples", [], |r| r.get::<_, i64>(0))? as u64)
    }

    pub fn sample(&self, id: &str) -> Result<Stored> {
        let row: Option<SampleRow> = self
            .conn
            .query_row("SELECT data, review, raw FROM samples WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let (data, review, raw) = row.ok_or_else(|| StoreError::NoSample(id.to_string()))?;
        decode(id, &data, review.as_deref(), raw.as_deref())
    }

    pub fn review(&self, id: &str) -> Result<Option<Review>> {
        Ok(self.sample(id)?.review)
    }

    /// Streams the complete samples that pass `status`, in insertion order.
    pub fn for_each_sample(
        &self,
        status: StatusFilter,
        mut f: impl FnMut(Stored) -> std::result::Result<(), std::io::Error>,
    ) -> std::result::Result<usize, ExportError> {
        let sql = format!(
            "SELECT id, data, review, raw FROM samples WHERE stage = 'complete' AND {} ORDER BY rowid",
            status.sql()
        );
        let mut stmt = self.conn.prepare(&sql).map_err(StoreError::from)?;
        let mut rows = stmt.query([]).map_err(StoreError::from)?;
        let mut n = 0;
        while let Some(row) = rows.next().map_err(StoreError::from)? {
            let id: String = row.get(0).map_err(StoreError::from)?;
            let data: Vec<u8> = row.get(1).map_err(StoreError::from)?;
            let review: Option<String> = row.get(2).map_err(StoreError::from)?;
            let raw: Option<Vec<u8>> = row.get(3).map_err(StoreError::from)?;
            f(decode(&id, &data, review.as_deref(), raw.as_deref())?)?;
            n += 1;
        }
        Ok(n)
    }

    /// The groups of every sample (any stage) by part: see `inspect::group`.
    pub fn groups(&self, by: crate::inspect::Browse) -> Result<Vec<crate::inspect::Group>> {
        // Commits by other connections move the data version, this one's the change count.
        let state = (self.data_version()?, self.conn.total_changes());
        if let Some((at, g)) = self.groups.borrow().get(&by)
            && *at == state
        {
            return Ok(g.clone());
        }
        let g = self.read_groups(by)?;
        self.groups.borrow_mut().insert(by, (state, g.clone()));
        Ok(g)
    }

    fn read_groups(&self, by: crate::inspect::Browse) -> Result<Vec<crate::inspect::Group>> {
        let mut stmt = self.conn.prepare("SELECT id, stage, failure_reason, data FROM samples ORDER BY rowid")?;
        let mut rows = stmt.query([])?;
        let mut g = crate::inspect::Grouper::new(by);
        while let Some(row) = rows.next()? {
            let id: String = row.get(0)?;
            let stage: String = row.get(1)?;
            let reason: Option<String> = row.get(2)?;
            let data: Vec<u8> = row.get(3)?;
            let lineage: crate::inspect::Lineage = unpack_as(&id, &data)?;
            let stage =
                Stage::from_stored(&stage, reason.as_deref()).unwrap_or(Stage::At(crate::domain::Part::Scenario));
            g.add(&lineage, stage);
        }
        Ok(g.finish())
    }

    /// One row per sample that passes `status`, in insertion order: what lists, filters and
    /// stats need, without decoding any sample.
    pub fn list(&self, status: StatusFilter, mut f: impl FnMut(ListRow)) -> Result<()> {
        let sql = format!("SELECT {ROW_COLUMNS} FROM samples WHERE {} ORDER BY rowid", status.sql());
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            f(list_row(r)?);
        }
        Ok(())
    }

    /// The list row of one sample.
    pub fn row(&self, id: &str) -> Result<ListRow> {
        let sql = format!("SELECT {ROW_COLUMNS} FROM samples WHERE id = ?1");
        self.conn.query_row(&sql, [id], list_row).optional()?.ok_or_else(|| StoreError::NoSample(id.to_string()))
    }

    /// Sets (or clears, with None) a sample's review, and journals it. One transaction.
    pub fn set_review(&mut self, id: &str, review: Option<Review>) -> Result<i64> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let verdict = review.as_ref().map_or("cleared", |r| r.verdict.as_str());
        let action = do_verdict(&tx, id, review)?;
        let seq = append(&tx, id, &action, self.client.as_deref(), None)?;
        tx.commit()?;
        tracing::info!(sample = id, seq, "verdict: {verdict}");
        Ok(seq)
    }

    /// Sets the field at `path` (a JSON pointer into the sample, e.g.
    /// `/composition/task` or `/trajectory/messages/2/content`), keeping its original value
    /// in the sample's edits, and journals it. A verdict the sample had is cleared: what was
    /// reviewed is not what is there now. One transaction. Returns the journal entry's
    /// number and the verdict cleared, if any.
    pub fn edit_field(&mut self, id: &str, path: &str, value: Value) -> Result<(i64, Option<Verdict>)> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let action = do_edit(&tx, id, path, value)?;
        let cleared = match &action {
            Action::Edit { review, .. } => review.as_ref().map(|r| r.verdict),
            _ => None,
        };
        let seq = append(&tx, id, &action, self.client.as_deref(), None)?;
        tx.commit()?;
        tracing::info!(
            sample = id,
            seq,
            "edit: {path}{}",
            cleared.map(|v| format!(" (its {} verdict cleared)", v.as_str())).unwrap_or_default()
        );
        Ok((seq, cleared))
    }

    /// Clears the verdicts of these samples (their content is about to be made again), one
    /// journal entry each, so undo brings a verdict back. Returns how many had one.
    pub fn clear_reviews(&mut self, ids: &[String]) -> Result<usize> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut n = 0;
        for id in ids {
            let before = read_review(&tx, id)?;
            if before.is_some() {
                write_review(&tx, id, None)?;
                append(&tx, id, &Action::Verdict { before, after: None }, self.client.as_deref(), None)?;
                n += 1;
            }
        }
        tx.commit()?;
        if n > 0 {
            tracing::info!("{n} verdicts cleared: their samples are made again");
        }
        Ok(n)
    }

    /// Gives these samples one verdict (or clears theirs, with None) as one journal entry:
    /// one undo brings every one's verdict back. Returns the entry's number.
    pub fn set_reviews(&mut self, ids: &[String], review: Option<Review>) -> Result<i64> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let verdict = review.as_ref().map_or("cleared", |r| r.verdict.as_str());
        let action = do_verdicts(&tx, ids, review)?;
        let seq = append(&tx, &many(ids.len()), &action, self.client.as_deref(), None)?;
        tx.commit()?;
        tracing::info!(seq, "verdict {verdict} of {} samples at once", ids.len());
        Ok(seq)
    }

    /// Replaces a sample's content with its kept version `version` (a `previous` version
    /// after a regeneration, or any other kept one), keeping what it holds now as a
    /// version of its own: one journal entry, undone as one. Returns the entry's number.
    pub fn restore(&mut self, id: &str, version: i64) -> Result<i64> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let action = do_restore(&tx, id, version)?;
        let seq = append(&tx, id, &action, self.client.as_deref(), None)?;
        tx.commit()?;
        tracing::info!(sample = id, seq, "restore of version #{version}");
        Ok(seq)
    }

    /// A sample's history, newest first: its journal entries and its kept versions.
    pub fn history(&self, id: &str) -> Result<Vec<HistoryItem>> {
        let quoted = serde_json::to_string(id).expect("a string serializes");
        let mut out: Vec<HistoryItem> = journal_entries(
            &self.conn,
            "SELECT seq, at, sample_id, payload, undone_by FROM journal
             WHERE sample_id = ?1 OR (action = 'verdicts' AND instr(payload, ?2) > 0)",
            params![id, quoted],
        )?
        .into_iter()
        .map(|e| HistoryItem::Journal(Box::new(e)))
        .collect();
        let mut stmt = self.conn.prepare_cached("SELECT id, at, kind FROM versions WHERE sample_id = ?1")?;
        let rows =
            stmt.query_map([id], |r| Ok(HistoryItem::Version { id: r.get(0)?, at: r.get(1)?, kind: r.get(2)? }))?;
        for row in rows {
            out.push(row?);
        }
        // Newest first; at the same millisecond, the later entry or version first.
        out.sort_by_key(|h| {
            std::cmp::Reverse((
                h.at(),
                match h {
                    HistoryItem::Journal(e) => e.seq,
                    HistoryItem::Version { id, .. } => *id,
                },
            ))
        });
        Ok(out)
    }

    /// Puts a sample back as it was just before its edit `seq` (one journal entry, as
    /// `restore`): from the earliest version kept after that edit (or the sample as it is),
    /// every edit since that is still in effect is taken back, newest first.
    pub fn restore_before(&mut self, id: &str, seq: i64) -> Result<i64> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let at: i64 = tx
            .query_row(
                "SELECT at FROM journal WHERE seq = ?1 AND sample_id = ?2 AND action = 'edit'",
                params![seq, id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StoreError::NoEdit(id.to_string(), seq))?;
        // The content just before a later regeneration or restore, when there was one.
        let base: Option<(i64, Vec<u8>)> = tx
            .query_row(
                "SELECT at, data FROM versions WHERE sample_id = ?1 AND at >= ?2 AND kind NOT IN ('fork', 'before-edit')
                 ORDER BY at, id LIMIT 1",
                params![id, at],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (until, data) = match base {
            Some((t, data)) => (t, data),
            None => (
                i64::MAX,
                tx.query_row("SELECT data FROM samples WHERE id = ?1", [id], |r| r.get(0))
                    .optional()?
                    .ok_or_else(|| StoreError::NoSample(id.to_string()))?,
            ),
        };
        let mut doc = serde_json::to_value(unpack(id, &data)?).expect("a sample always serializes");
        let mut stmt = tx.prepare(
            "SELECT payload FROM journal WHERE sample_id = ?1 AND action = 'edit' AND undone_by IS NULL
             AND seq >= ?2 AND at <= ?3 ORDER BY seq DESC",
        )?;
        let payloads: Vec<String> =
            stmt.query_map(params![id, seq, until], |r| r.get(0))?.collect::<std::result::Result<_, _>>()?;
        drop(stmt);
        let mut taken_back = Vec::new();
        for p in payloads {
            if let Ok(Action::Edit { path, before, .. }) = serde_json::from_str::<Action>(&p)
                && let Some(slot) = doc.pointer_mut(&path)
            {
                let now = std::mem::replace(slot, before.clone());
                taken_back.push((path, now, before));
            }
        }
        let mut sample: Sample = serde_json::from_value(doc).map_err(|e| StoreError::BadData(id.to_string(), e))?;
        for (path, now, before) in taken_back {
            record_edit(&mut sample.edits, &path, &now, before);
        }
        let data = pack(&serde_json::to_string(&sample).expect("a sample always serializes"));
        let version = insert_version(&tx, id, "before-edit", now_ms(), &data)?;
        let action = replace_with(&tx, id, version, &sample)?;
        let entry = append(&tx, id, &action, self.client.as_deref(), None)?;
        tx.commit()?;
        tracing::info!(sample = id, seq = entry, "restore of the sample as it was before edit #{seq}");
        Ok(entry)
    }

    /// The action `redo` would do again now: the newest undo of this session not redone,
    /// when nothing new was done since. Its entry is the action undone.
    pub fn next_redo(&self) -> Result<Option<JournalEntry>> {
        Ok(newest_redoable(&self.conn, self.client.as_deref())?.map(|(_, e)| e))
    }

    /// Does again what the newest undo undid (see `next_redo`), as a new journal entry that
    /// undo undoes in turn. Returns the action done again, or None.
    pub fn redo(&mut self) -> Result<Option<JournalEntry>> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let Some((undo_seq, entry)) = newest_redoable(&tx, self.client.as_deref())? else { return Ok(None) };
        let id = entry.sample_id.as_str();
        let again = match &entry.action {
            Action::Verdict { after, .. } => do_verdict(&tx, id, after.clone())?,
            Action::Edit { path, after, .. } => do_edit(&tx, id, path, after.clone())?,
            Action::Verdicts { after, before } => {
                let ids: Vec<String> = before.iter().map(|(id, _)| id.clone()).collect();
                do_verdicts(&tx, &ids, after.clone())?
            }
            Action::Restore { from, .. } => do_restore(&tx, id, *from)?,
            Action::Undo { .. } => unreachable!("an undo row undoes an action, never an undo"),
        };
        let seq = append(&tx, id, &again, self.client.as_deref(), Some(undo_seq))?;
        tx.execute("UPDATE journal SET undone_by = ?1 WHERE seq = ?2", params![seq, undo_seq])?;
        tx.commit()?;
        tracing::info!(sample = id, seq, "redo of #{} ({})", entry.seq, entry.action.describe());
        Ok(Some(JournalEntry { seq, at: now_ms(), sample_id: entry.sample_id, action: again, undone_by: None }))
    }

    /// The action `undo` would undo now, without undoing it.
    pub fn next_undo(&self) -> Result<Option<JournalEntry>> {
        newest_undoable(&self.conn, self.client.as_deref())
    }

    /// Undoes the newest action not undone yet, however old; returns it, or None when there
    /// is nothing left to undo.
    pub fn undo(&mut self) -> Result<Option<JournalEntry>> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let Some(JournalEntry { seq, at, sample_id, action, .. }) = newest_undoable(&tx, self.client.as_deref())?
        else {
            return Ok(None);
        };
        match &action {
            Action::Verdict { before, .. } => write_review(&tx, &sample_id, before.as_ref())?,
            Action::Edit { path, before, review, .. } => {
                apply_edit(&tx, &sample_id, path, before.clone())?;
                if review.is_some() {
                    write_review(&tx, &sample_id, review.as_ref())?;
                }
            }
            Action::Verdicts { before, .. } => {
                for (id, review) in before {
                    write_review(&tx, id, review.as_ref())?;
                }
            }
            Action::Restore { saved, review, .. } => {
                let data: Vec<u8> = tx.query_row("SELECT data FROM versions WHERE id = ?1", [saved], |r| r.get(0))?;
                write_sample(&tx, &sample_id, &unpack(&sample_id, &data)?)?;
                if review.is_some() {
                    write_review(&tx, &sample_id, review.as_ref())?;
                }
            }
            Action::Undo { .. } => unreachable!("undo rows are never selected"),
        }
        let undo_seq = append(&tx, &sample_id, &Action::Undo { of: seq }, self.client.as_deref(), None)?;
        tx.execute("UPDATE journal SET undone_by = ?1 WHERE seq = ?2", params![undo_seq, seq])?;
        tx.commit()?;
        // The log names the kind of a verdict (its value is in the entry undone) and the field
        // of an edit.
        let what = if matches!(action, Action::Edit { .. }) { action.describe() } else { action.name().into() };
        tracing::info!(sample = %sample_id, seq = undo_seq, "undo of #{seq} ({what})");
        Ok(Some(JournalEntry { seq, at, sample_id, action, undone_by: Some(undo_seq) }))
    }

    pub fn journal(&self) -> Result<Vec<JournalEntry>> {
        journal_entries(&self.conn, "SELECT seq, at, sample_id, payload, undone_by FROM journal ORDER BY seq", [])
    }

    /// Samples whose text is not in the search index yet (new or changed since).
    pub fn unindexed_count(&self) -> Result<u64> {
        Ok(self.conn.query_row("SELECT count(*) FROM samples WHERE indexed = 0", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Puts the text of up to `limit` unindexed samples into the search index, in one
    /// transaction; returns how many. The index is built in the background by the TUI, so
    /// imports and runs stay as fast as they were.
    pub fn index_pending(&mut self, limit: usize) -> Result<usize> {
        type Pending = (i64, String, Vec<u8>, Option<String>, Option<String>);
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let rows: Vec<Pending> = {
            let mut stmt = tx.prepare_cached(
                "SELECT rowid, id, data, source, review FROM samples WHERE indexed = 0 ORDER BY rowid LIMIT ?1",
            )?;
            stmt.query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                .collect::<std::result::Result<_, _>>()?
        };
        {
            let mut del = tx.prepare_cached("DELETE FROM sample_text WHERE rowid = ?1")?;
            let mut ins = tx.prepare_cached("INSERT INTO sample_text (rowid, text) VALUES (?1, ?2)")?;
            let mut done = tx.prepare_cached("UPDATE samples SET indexed = 1 WHERE rowid = ?1")?;
            for (rowid, id, data, source, review) in &rows {
                let doc: Value = unpack_as(id, data)?;
                let mut text = format!("{id} {} ", source.as_deref().unwrap_or(""));
                collect_text(&doc, &mut text);
                if let Some(r) = review {
                    text.push_str(r);
                }
                del.execute([rowid])?;
                ins.execute(params![rowid, text])?;
                done.execute([rowid])?;
            }
        }
        tx.commit()?;
        Ok(rows.len())
    }

    /// The rowids of the samples whose text holds every word of `query` (each word also as
    /// a prefix: `weath` finds `weather`), by the search index. Samples not indexed yet are
    /// not found; `unindexed_count` says how many.
    pub fn search(&self, query: &str) -> Result<Vec<i64>> {
        let words: Vec<String> = query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| format!("\"{}\"*", w.to_lowercase()))
            .collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached("SELECT rowid FROM sample_text WHERE sample_text MATCH ?1")?;
        let rows = stmt.query_map([words.join(" ")], |r| r.get::<_, i64>(0))?;
        rows.collect::<std::result::Result<_, _>>().map_err(Into::into)
    }

    /// The LLM calls made for a sample, oldest first.
    pub fn calls_for(&self, sample_id: &str) -> Result<Vec<CallRow>> {
        let sql = format!("SELECT {CALL_COLUMNS} FROM llm_calls WHERE sample_id = ?1 ORDER BY id");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([sample_id], call_row)?;
        rows.collect::<std::result::Result<_, _>>().map_err(Into::into)
    }

    /// One recorded call.
    pub fn call(&self, id: i64) -> Result<CallRow> {
        let sql = format!("SELECT {CALL_COLUMNS} FROM llm_calls WHERE id = ?1");
        self.conn.query_row(&sql, [id], call_row).optional()?.ok_or(StoreError::NoCall(id))
    }

    /// The newest call asked again (`rerun`) of the same sample and step as call `old`,
    /// made after it.
    pub fn latest_rerun_of(&self, old: i64) -> Result<Option<CallRow>> {
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM llm_calls WHERE run_id = 'rerun' AND id > ?1
               AND (sample_id, step) = (SELECT sample_id, step FROM llm_calls WHERE id = ?1)
             ORDER BY id DESC LIMIT 1"
        );
        Ok(self.conn.query_row(&sql, [old], call_row).optional()?)
    }

    /// Per step and template version: how its calls went and how the samples they made
    /// fared, so a prompt change can be judged by numbers.
    pub fn step_stats(&self) -> Result<Vec<StepStat>> {
        let mut stmt = self.conn.prepare(
            "SELECT c.step, COALESCE(c.template_version, '-'), count(*),
                    sum(CASE WHEN c.parse_ok = 0 THEN 1 ELSE 0 END),
                    sum(CASE WHEN c.error IS NOT NULL THEN 1 ELSE 0 END),
                    count(DISTINCT c.sample_id),
                    count(DISTINCT CASE WHEN s.failure_reason LIKE c.step || ':%' THEN s.id END),
                    count(DISTINCT CASE WHEN s.verdict IN ('accepted', 'rejected') THEN s.id END),
                    count(DISTINCT CASE WHEN s.verdict = 'rejected' THEN s.id END),
                    sum(CASE WHEN c.reask > 0 THEN 1 ELSE 0 END),
                    count(DISTINCT CASE WHEN c.reask > 0 AND c.parse_ok = 1 THEN c.sample_id END),
                    count(DISTINCT CASE WHEN c.step = 'composition_filter'
                        AND s.failure_reason = 'filter:filtered_out' THEN s.id END)
             FROM llm_calls c LEFT JOIN samples s ON s.id = c.sample_id
             GROUP BY c.step, c.template_version ORDER BY c.step, min(c.id)",
        )?;
        let rows = stmt.query_map([], |r| {
            let n = |i: usize| r.get::<_, i64>(i).map(|v| v as u64);
            Ok(StepStat {
                step: r.get(0)?,
                template_version: r.get(1)?,
                calls: n(2)?,
                parse_failed: n(3)?,
                errors: n(4)?,
                samples: n(5)?,
                samples_failed: n(6)?,
                reviewed: n(7)?,
                rejected: n(8)?,
                reasks: n(9)?,
                rescued: n(10)?,
                filtered: n(11)?,
            })
        })?;
        rows.collect::<std::result::Result<_, _>>().map_err(Into::into)
    }

    /// Keeps a version of a sample: the one a regeneration replaced (`previous`), or a
    /// dialogue fork waiting to be compared (`fork`). Returns its id.
    pub fn add_version(&mut self, sample: &Sample, kind: &str) -> Result<i64> {
        self.add_version_at(sample, kind, now_ms())
    }

    /// A version taken at `at` (ms since the epoch).
    pub fn add_version_at(&mut self, sample: &Sample, kind: &str, at: i64) -> Result<i64> {
        let data = pack(&serde_json::to_string(sample).expect("a sample always serializes"));
        insert_version(&self.conn, &sample.id, kind, at, &data)
    }

    /// Makes failed samples unfinished again, so a run makes them anew: each one's failed
    /// attempt is kept as a `failed` version, in one transaction. Returns how many.
    pub fn retry_failed(&mut self, ids: &[String]) -> Result<usize> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut n = 0;
        for id in ids {
            let data: Option<Vec<u8>> = tx
                .query_row("SELECT data FROM samples WHERE id = ?1 AND stage = 'failed'", [id], |r| r.get(0))
                .optional()?;
            let Some(data) = data else { continue };
            insert_version(&tx, id, "failed", now_ms(), &data)?;
            let mut sample = unpack(id, &data)?;
            sample.failure = None;
            // A dialogue that stopped part way is not a trajectory to keep: the sample is
            // made again (the failed version above keeps it).
            sample.trajectory = None;
            let fresh = NewSample::new(&sample, String::new());
            tx.execute(
                "UPDATE samples SET stage = ?2, failure_reason = NULL, data = ?3, updated_at = ?4, indexed = 0
                 WHERE id = ?1",
                params![id, fresh.summary.stage.id(), fresh.data, now_ms()],
            )?;
            n += 1;
        }
        tx.commit()?;
        Ok(n)
    }

    /// How many failed attempts each retried sample has behind it.
    pub fn failed_rounds(&self) -> Result<std::collections::HashMap<String, u32>> {
        let mut stmt =
            self.conn.prepare("SELECT sample_id, count(*) FROM versions WHERE kind = 'failed' GROUP BY sample_id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))?;
        rows.collect::<std::result::Result<_, _>>().map_err(Into::into)
    }

    /// Ids of the failed samples.
    pub fn failed_ids(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("SELECT id FROM samples WHERE stage = 'failed' ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect::<std::result::Result<_, _>>().map_err(Into::into)
    }

    /// A sample's kept versions, newest first: (id, at, kind, sample).
    pub fn versions(&self, sample_id: &str) -> Result<Vec<(i64, i64, String, Sample)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, at, kind, data FROM versions WHERE sample_id = ?1 ORDER BY id DESC")?;
        let rows = stmt.query_map([sample_id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, Vec<u8>>(3)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, at, kind, data) = row?;
            out.push((id, at, kind, unpack(sample_id, &data)?));
        }
        Ok(out)
    }

    pub fn delete_version(&mut self, id: i64) -> Result<()> {
        self.conn.execute("DELETE FROM versions WHERE id = ?1", [id])?;
        Ok(())
    }

    pub fn integrity_ok(&self) -> Result<bool> {
        let r: String = self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        Ok(r == "ok")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write: {0}")]
    Io(#[from] std::io::Error),
}

/// Inserts sample rows; `on_conflict` says what happens to an id already there. Returns the
/// number of rows written.
fn write_samples(conn: &Connection, samples: &[NewSample], on_conflict: &str) -> Result<usize> {
    let now = now_ms();
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO samples (id, origin, source, stage, strategy, failure_reason, turns, calls,
            parallel_calls, lint_errors, lint_warnings, lint_codes, data, created_at, updated_at, stale, raw)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, ?15, ?16) {on_conflict}"
    ))?;
    let mut written = 0;
    for s in samples {
        let m = &s.summary;
        written += stmt.execute(params![
            s.id,
            s.origin,
            s.source,
            m.stage.id(),
            m.strategy,
            m.failure_reason,
            m.turns as i64,
            m.calls as i64,
            m.parallel_calls,
            m.lint_errors as i64,
            m.lint_warnings as i64,
            m.codes_text(),
            s.data,
            now,
            m.stale.ids(),
            s.raw,
        ])?;
    }
    Ok(written)
}

fn decode(id: &str, data: &[u8], review: Option<&str>, raw: Option<&[u8]>) -> Result<Stored> {
    let sample = unpack(id, data)?;
    let raw = raw.map(|r| unpack_text(id, r)).transpose()?;
    let review = match review {
        Some(r) => Some(serde_json::from_str(r).map_err(|e| StoreError::BadData(id.to_string(), e))?),
        None => None,
    };
    Ok(Stored { sample, review, raw })
}

fn read_review(conn: &Connection, id: &str) -> Result<Option<Review>> {
    // Cached: a verdict for every listed sample reads and writes 100,000 rows in one go.
    let row: Option<Option<String>> =
        conn.prepare_cached("SELECT review FROM samples WHERE id = ?1")?.query_row([id], |r| r.get(0)).optional()?;
    match row {
        None => Err(StoreError::NoSample(id.to_string())),
        Some(None) => Ok(None),
        Some(Some(text)) => Ok(Some(serde_json::from_str(&text).map_err(|e| StoreError::BadData(id.to_string(), e))?)),
    }
}

fn write_review(conn: &Connection, id: &str, review: Option<&Review>) -> Result<()> {
    let verdict = review.map(|r| r.verdict.as_str());
    let text = review.map(|r| serde_json::to_string(r).expect("a review always serializes"));
    let n = conn
        .prepare_cached("UPDATE samples SET verdict = ?2, review = ?3, updated_at = ?4 WHERE id = ?1")?
        .execute(params![id, verdict, text, now_ms()])?;
    if n == 0 {
        return Err(StoreError::NoSample(id.to_string()));
    }
    Ok(())
}

/// Sets one field of the stored sample and keeps the edit record; returns the value before.
fn apply_edit(conn: &Connection, id: &str, path: &str, value: Value) -> Result<Value> {
    let data: Option<Vec<u8>> =
        conn.query_row("SELECT data FROM samples WHERE id = ?1", [id], |r| r.get(0)).optional()?;
    let data = data.ok_or_else(|| StoreError::NoSample(id.to_string()))?;
    let mut doc = serde_json::to_value(unpack(id, &data)?).expect("a sample always serializes");
    let slot = doc.pointer_mut(path).ok_or_else(|| StoreError::NoField(id.to_string(), path.to_string()))?;
    let before = std::mem::replace(slot, value.clone());
    let mut sample: Sample = serde_json::from_value(doc).map_err(|e| StoreError::BadData(id.to_string(), e))?;
    record_edit(&mut sample.edits, path, &before, value);
    write_sample(conn, id, &sample)?;
    Ok(before)
}

/// Writes a sample's content and the columns read from it.
fn write_sample(conn: &Connection, id: &str, sample: &Sample) -> Result<()> {
    let summary = Summary::of(sample);
    conn.execute(
        "UPDATE samples SET data = ?2, stage = ?3, turns = ?4, calls = ?5, parallel_calls = ?6, lint_errors = ?7,
            lint_warnings = ?8, lint_codes = ?9, updated_at = ?10, stale = ?11, strategy = ?12,
            failure_reason = ?13, indexed = 0 WHERE id = ?1",
        params![
            id,
            pack(&serde_json::to_string(sample).expect("a sample always serializes")),
            summary.stage.id(),
            summary.turns as i64,
            summary.calls as i64,
            summary.parallel_calls,
            summary.lint_errors as i64,
            summary.lint_warnings as i64,
            summary.codes_text(),
            now_ms(),
            summary.stale.ids(),
            summary.strategy,
            summary.failure_reason,
        ],
    )?;
    Ok(())
}

/// How a journal entry of several samples names them.
fn many(n: usize) -> String {
    format!("({n} samples)")
}

fn do_verdict(conn: &Connection, id: &str, review: Option<Review>) -> Result<Action> {
    let before = read_review(conn, id)?;
    write_review(conn, id, review.as_ref())?;
    Ok(Action::Verdict { before, after: review })
}

fn do_verdicts(conn: &Connection, ids: &[String], review: Option<Review>) -> Result<Action> {
    let mut before = Vec::with_capacity(ids.len());
    for id in ids {
        before.push((id.clone(), read_review(conn, id)?));
        write_review(conn, id, review.as_ref())?;
    }
    Ok(Action::Verdicts { after: review, before })
}

/// An edit; the verdict it clears is kept in the action (undo brings it back).
fn do_edit(conn: &Connection, id: &str, path: &str, value: Value) -> Result<Action> {
    let before = apply_edit(conn, id, path, value.clone())?;
    let review = read_review(conn, id)?;
    if review.is_some() {
        write_review(conn, id, None)?;
    }
    Ok(Action::Edit { path: path.to_string(), before, after: value, review })
}

fn do_restore(conn: &Connection, id: &str, version: i64) -> Result<Action> {
    let found: Option<(String, Vec<u8>)> = conn
        .query_row("SELECT sample_id, data FROM versions WHERE id = ?1", [version], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((_, data)) = found.filter(|(owner, _)| owner == id) else {
        return Err(StoreError::NoVersion(id.to_string(), version));
    };
    replace_with(conn, id, version, &unpack(id, &data)?)
}

/// The sample's content becomes `sample` (its kept version `from`); what it held is kept as
/// a `replaced` version, and a verdict it had is cleared.
fn replace_with(conn: &Connection, id: &str, from: i64, sample: &Sample) -> Result<Action> {
    let now: Vec<u8> = conn
        .query_row("SELECT data FROM samples WHERE id = ?1", [id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NoSample(id.to_string()))?;
    let saved = insert_version(conn, id, "replaced", now_ms(), &now)?;
    write_sample(conn, id, sample)?;
    let review = read_review(conn, id)?;
    if review.is_some() {
        write_review(conn, id, None)?;
    }
    Ok(Action::Restore { from, saved, review })
}

/// Keeps a version of a sample (its data as stored); returns its id.
fn insert_version(conn: &Connection, id: &str, kind: &str, at: i64, data: &[u8]) -> Result<i64> {
    conn.prepare_cached("INSERT INTO versions (sample_id, at, kind, data) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![id, at, kind, data])?;
    Ok(conn.last_insert_rowid())
}

/// The newest undo of `client` not redone yet, when no new action came after it: (its
/// number, the entry it undid).
fn newest_redoable(conn: &Connection, client: Option<&str>) -> Result<Option<(i64, JournalEntry)>> {
    let entry = journal_entries(
        conn,
        "SELECT a.seq, a.at, a.sample_id, a.payload, a.undone_by FROM journal u JOIN journal a ON a.undone_by = u.seq
         WHERE u.action = 'undo' AND u.undone_by IS NULL AND (?1 IS NULL OR u.client = ?1)
           AND u.seq > COALESCE((SELECT max(seq) FROM journal WHERE action != 'undo' AND redo_of IS NULL
                                 AND (?1 IS NULL OR client = ?1)), 0)
         ORDER BY u.seq DESC LIMIT 1",
        [client],
    )?
    .pop();
    // The entry undone names the undo that undid it.
    Ok(entry.and_then(|e| Some((e.undone_by?, e))))
}

/// The first edit of a field keeps what it was; an edit back to the original drops the
/// record, so "edited" always means "differs from the original".
fn record_edit(edits: &mut Vec<FieldEdit>, path: &str, before: &Value, after: Value) {
    match edits.iter().position(|e| e.path == path) {
        Some(i) if edits[i].original == after => {
            edits.remove(i);
        }
        Some(i) => {
            edits[i].edited = after;
            edits[i].at = now_ms();
            edits[i].regenerated = false;
        }
        None if *before != after => edits.push(FieldEdit {
            path: path.to_string(),
            original: before.clone(),
            edited: after,
            at: now_ms(),
            regenerated: false,
        }),
        None => {}
    }
}

/// The newest action of `client` (of anyone, with None) not undone yet: what undo undoes.
fn newest_undoable(conn: &Connection, client: Option<&str>) -> Result<Option<JournalEntry>> {
    Ok(journal_entries(
        conn,
        "SELECT seq, at, sample_id, payload, undone_by FROM journal
         WHERE undone_by IS NULL AND action != 'undo' AND (?1 IS NULL OR client = ?1)
         ORDER BY seq DESC LIMIT 1",
        [client],
    )?
    .pop())
}

/// Journal entries of a query selecting `seq, at, sample_id, payload, undone_by`.
fn journal_entries(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<Vec<JournalEntry>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(p, |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get(4)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, at, sample_id, payload, undone_by) = row?;
        let action = serde_json::from_str(&payload).map_err(|e| StoreError::BadData(sample_id.clone(), e))?;
        out.push(JournalEntry { seq, at, sample_id, action, undone_by });
    }
    Ok(out)
}

/// Journals an action; `redo_of` is the undo a redo does again.
fn append(
    conn: &Connection,
    sample_id: &str,
    action: &Action,
    client: Option<&str>,
    redo_of: Option<i64>,
) -> Result<i64> {
    conn.execute(
        "INSERT INTO journal (at, sample_id, action, payload, client, redo_of) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            now_ms(),
            sample_id,
            action.name(),
            serde_json::to_string(action).expect("an action always serializes"),
            client,
            redo_of
        ],
    )?;
    Ok(conn.last_insert_rowid())
}
