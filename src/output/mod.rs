//! Everything fleetsim writes: exporters turn results into bytes; only
//! [`OutputDir`] and [`write_atomically`] touch the file system, so a
//! failed run never leaves a half-written file or directory behind.

pub mod csv;
pub mod html;
pub mod json;
pub mod table;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename, so readers see the old file or the whole new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> Result<()> {
        let mut f =
            fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.sync_all().ok();
        fs::rename(&tmp, path)
            .with_context(|| format!("cannot move {} to {}", tmp.display(), path.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The file in a results folder that lists what fleetsim wrote there.
pub const MANIFEST: &str = ".fleetsim-manifest.json";

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
struct Manifest {
    fleetsim: String,
    /// Files (relative paths) this folder holds from fleetsim.
    files: Vec<String>,
}

/// What a results folder holds before a run writes into it.
#[derive(Debug, Clone, PartialEq)]
pub enum Ownership {
    /// It does not exist yet.
    New,
    /// An empty folder.
    Empty,
    /// A folder fleetsim wrote: these files (from its manifest) are
    /// fleetsim's and may be replaced; anything else in it is kept.
    Ours(Vec<String>),
}

/// Whether `name` is a shard's part file (`part-K-of-N.json`).
fn is_part_file(name: &str) -> bool {
    name.strip_prefix("part-")
        .and_then(|r| r.strip_suffix(".json"))
        .and_then(|r| r.split_once("-of-"))
        .is_some_and(|(k, n)| {
            !k.is_empty()
                && !n.is_empty()
                && k.bytes().all(|b| b.is_ascii_digit())
                && n.bytes().all(|b| b.is_ascii_digit())
        })
}

/// What `target` holds, or why fleetsim must not write results there: it
/// is a file, a link, or a folder with files fleetsim did not write.
pub fn ownership(target: &Path) -> std::result::Result<Ownership, String> {
    let meta = match fs::symlink_metadata(target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ownership::New),
        Err(e) => return Err(format!("cannot inspect {}: {e}", target.display())),
        Ok(m) => m,
    };
    if meta.file_type().is_symlink() {
        return Err(format!(
            "{} is a symbolic link; give the folder itself, or a new folder",
            target.display()
        ));
    }
    if !meta.is_dir() {
        return Err(format!(
            "{} exists and is not a folder; give a new or empty folder for the results",
            target.display()
        ));
    }
    let mut foreign = Vec::new();
    let mut manifest = None;
    let mut parts = false;
    let entries =
        fs::read_dir(target).map_err(|e| format!("cannot read {}: {e}", target.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", target.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == MANIFEST {
            let text = fs::read(entry.path())
                .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
            manifest = Some(serde_json::from_slice::<Manifest>(&text).map_err(|e| {
                format!(
                    "{} is not a fleetsim manifest ({e}); fleetsim will not write into {}",
                    entry.path().display(),
                    target.display()
                )
            })?);
        } else if name == "parts" && entry.path().is_dir() && !entry.path().is_symlink() {
            // A sharded run's part files: fleetsim's, and kept.
            let all_parts = fs::read_dir(entry.path())
                .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?
                .all(|e| {
                    e.ok().is_some_and(|e| {
                        e.path().is_file() && is_part_file(&e.file_name().to_string_lossy())
                    })
                });
            if all_parts {
                parts = true;
            } else {
                foreign.push(name);
            }
        } else {
            foreign.push(name);
        }
    }
    match manifest {
        Some(m) => Ok(Ownership::Ours(m.files)),
        // Only a sharded run's parts: written into, parts kept.
        None if foreign.is_empty() && parts => Ok(Ownership::Ours(Vec::new())),
        None if foreign.is_empty() => Ok(Ownership::Empty),
        None => {
            foreign.sort();
            let shown: Vec<&str> = foreign.iter().take(3).map(String::as_str).collect();
            Err(format!(
                "{} already holds files fleetsim did not write ({}{}); give a new or empty folder, or one a previous fleetsim run wrote (results fleetsim wrote before it kept a manifest there: move or delete that folder yourself)",
                target.display(),
                shown.join(", "),
                if foreign.len() > 3 { ", ..." } else { "" }
            ))
        }
    }
}

/// Whether process `pid` is alive (Linux: /proc; elsewhere assume it is).
fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Removes the staging folders and temporary files that fleetsim processes
/// which are no longer running left beside `path` (named
/// `.{name}.staging-PID`, `.{name}.old-PID` or `.{name}.tmp-PID`).
pub fn remove_stale(path: &Path) {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&format!(".{name}.")) else {
            continue;
        };
        let pid = ["staging-", "old-", "tmp-"]
            .iter()
            .find_map(|k| rest.strip_prefix(k))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && pid != std::process::id()
            && !alive(pid)
        {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                let _ = fs::remove_dir_all(&p);
            } else {
                let _ = fs::remove_file(&p);
            }
        }
    }
}

/// The right to write results into a folder, taken before a run starts:
/// the folder is checked ([`ownership`]) and locked against other fleetsim
/// runs (`.{name}.lock` beside it) until the claim is dropped.
pub struct OutputClaim {
    target: PathBuf,
    ownership: Ownership,
    lock: PathBuf,
    created: Vec<PathBuf>,
}

impl OutputClaim {
    pub fn new(target: &Path) -> std::result::Result<OutputClaim, String> {
        remove_stale(target);
        let ownership = ownership(target)?;
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        // Folders this claim creates, deepest first: removed again if the
        // run ends without results in them.
        let created: Vec<PathBuf> = parent
            .ancestors()
            .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
            .map(Path::to_path_buf)
            .collect();
        fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create directory {}: {e}", parent.display()))?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let lock = parent.join(format!(".{name}.lock"));
        for _ in 0..2 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
            {
                Ok(mut f) => {
                    let _ = write!(f, "{}", std::process::id());
                    return Ok(OutputClaim {
                        target: target.to_path_buf(),
                        ownership,
                        lock,
                        created,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(&lock)
                        .ok()
                        .and_then(|t| t.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if alive(pid) => {
                            return Err(format!(
                                "another fleetsim run (process {pid}) is writing {}; wait for it or choose another folder",
                                target.display()
                            ));
                        }
                        // Left by a process that is gone: take it over.
                        _ => {
                            let _ = fs::remove_file(&lock);
                        }
                    }
                }
                Err(e) => return Err(format!("cannot create {}: {e}", lock.display())),
            }
        }
        Err(format!("cannot lock {}", target.display()))
    }

    pub fn target(&self) -> &Path {
        &self.target
    }
}

impl Drop for OutputClaim {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.lock);
        // Only empty folders go (remove_dir refuses any other).
        for d in &self.created {
            let _ = fs::remove_dir(d);
        }
    }
}

/// A results directory assembled in a hidden staging directory beside it
/// and moved in by [`OutputDir::commit`]: into a new or empty folder whole;
/// into a folder fleetsim wrote before file by file, replacing only
/// fleetsim's own files. Dropped without commit, the staging directory is
/// removed.
pub struct OutputDir<'c> {
    claim: &'c OutputClaim,
    staging: PathBuf,
    files: Vec<String>,
    committed: bool,
}

impl<'c> OutputDir<'c> {
    pub fn new(claim: &'c OutputClaim) -> Result<OutputDir<'c>> {
        let target = &claim.target;
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let staging = parent.join(format!(".{name}.staging-{}", std::process::id()));
        if staging.exists() {
            fs::remove_dir_all(&staging).ok();
        }
        fs::create_dir_all(&staging)
            .with_context(|| format!("cannot create {}", staging.display()))?;
        Ok(OutputDir {
            claim,
            staging,
            files: Vec::new(),
            committed: false,
        })
    }

    /// Adds a file (relative name) to the staged directory.
    pub fn add(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.staging.join(name);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        self.files.push(name.to_string());
        Ok(())
    }

    /// Moves the staged files into the target folder.
    pub fn commit(mut self) -> Result<PathBuf> {
        let target = self.claim.target.clone();
        let manifest = Manifest {
            fleetsim: env!("CARGO_PKG_VERSION").to_string(),
            files: self.files.clone(),
        };
        let mut bytes =
            serde_json::to_vec_pretty(&manifest).context("cannot write the manifest")?;
        bytes.push(b'\n');
        fs::write(self.staging.join(MANIFEST), &bytes)
            .with_context(|| format!("cannot write {}", self.staging.display()))?;
        match &self.claim.ownership {
            Ownership::New | Ownership::Empty => {
                // rename(2) replaces an empty folder: the results appear whole.
                fs::rename(&self.staging, &target)
                    .with_context(|| format!("cannot create {}", target.display()))?;
            }
            Ownership::Ours(old) => {
                fs::create_dir_all(&target)
                    .with_context(|| format!("cannot create {}", target.display()))?;
                for f in &self.files {
                    let to = target.join(f);
                    if let Some(dir) = to.parent() {
                        fs::create_dir_all(dir)?;
                    }
                    fs::rename(self.staging.join(f), &to)
                        .with_context(|| format!("cannot write {}", to.display()))?;
                }
                // fleetsim's files from the previous run that this one did
                // not write (e.g. the chart of a strategy since renamed).
                for f in old {
                    if !self.files.contains(f) && safe_relative(f) {
                        let _ = fs::remove_file(target.join(f));
                    }
                }
                write_atomically(&target.join(MANIFEST), &bytes)?;
                let _ = fs::remove_dir_all(&self.staging);
            }
        }
        self.committed = true;
        Ok(target)
    }
}

/// A manifest entry that stays inside its folder.
fn safe_relative(f: &str) -> bool {
    let p = Path::new(f);
    !f.is_empty()
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

impl Drop for OutputDir<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}
