//! The workspace's log file, `button.log`: every command, run, call failure and retry,
//! re-ask, verdict, edit, undo and error, with its sample id and step where it has them, so
//! what a toast or a line on the terminal said can be read again (`button log`). Never the
//! API key (the client scrubs what servers echo) and never prompt or reply text.
//!
//! Rotated by size when a command starts: past 4 MiB, `button.log` becomes `button.log.1`
//! (and that one `button.log.2`; older ones go).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

pub const FILE: &str = "button.log";
const ROTATE_AT: u64 = 4 << 20;
const KEEP: usize = 2;

static STARTED: OnceLock<PathBuf> = OnceLock::new();
static COMMAND: OnceLock<String> = OnceLock::new();

/// Names the command this process runs: the log's first line says it, whenever logging
/// starts (a command that creates its workspace starts logging once it exists).
pub fn set_command(name: &str) {
    let _ = COMMAND.set(name.to_string());
}

pub fn path(workspace: &Path) -> PathBuf {
    workspace.join(FILE)
}

/// Starts logging into the workspace's `button.log`, once per process; a workspace folder
/// that does not exist yet is not created for it (call again once it is). Logging that
/// can't start (a read-only folder) is left off: the command goes on.
pub fn init(workspace: &Path) {
    if STARTED.get().is_some() || !workspace.is_dir() {
        return;
    }
    let path = path(workspace);
    rotate(&path);
    let Ok(file) = OpenOptions::new().create(true).append(true).open(&path) else { return };
    let subscriber = tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_target(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    if tracing::subscriber::set_global_default(subscriber).is_ok() {
        let _ = STARTED.set(path);
        if let Some(name) = COMMAND.get() {
            tracing::info!("command: {name}");
        }
    }
}

fn rotate(path: &Path) {
    let big = std::fs::metadata(path).is_ok_and(|m| m.len() > ROTATE_AT);
    if !big {
        return;
    }
    let numbered = |k: usize| PathBuf::from(format!("{}.{k}", path.display()));
    let _ = std::fs::remove_file(numbered(KEEP));
    for k in (1..KEEP).rev() {
        let _ = std::fs::rename(numbered(k), numbered(k + 1));
    }
    let _ = std::fs::rename(path, numbered(1));
}

/// The last `n` lines of the workspace's log (of the rotated one before it too, when the
/// current one is shorter).
pub fn tail(workspace: &Path, n: usize) -> std::io::Result<Vec<String>> {
    let path = path(workspace);
    let mut lines = Vec::new();
    for p in [PathBuf::from(format!("{}.1", path.display())), path] {
        match File::open(&p) {
            Ok(f) => {
                for line in BufReader::new(f).lines() {
                    lines.push(line?);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    let skip = lines.len().saturating_sub(n);
    Ok(lines.split_off(skip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_big_log_is_rotated_and_tail_reads_across_the_two() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path());
        std::fs::write(&p, "old 1\nold 2\n".to_string() + &"x".repeat(ROTATE_AT as usize)).unwrap();
        rotate(&p);
        assert!(!p.exists());
        std::fs::write(&p, "new 1\n").unwrap();
        let last = tail(dir.path(), 2).unwrap();
        assert_eq!(last.len(), 2);
        assert_eq!(last[1], "new 1");
        assert!(last[0].starts_with("xxx"));
        std::fs::write(&p, "x".repeat(ROTATE_AT as usize + 1)).unwrap();
        rotate(&p);
        assert!(PathBuf::from(format!("{}.2", p.display())).exists(), "the older one moves on");
    }
}
