//! Progress reporting without I/O: the CLI implements it with indicatif.

/// Receives progress of a run; every method defaults to doing nothing.
pub trait Progress: Sync {
    fn start(&self, _total: u64) {}
    fn advance(&self, _n: u64) {}
    fn finish(&self) {}
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {}
