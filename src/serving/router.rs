//! Chooses the replica for an arriving request among those ready to serve.

use rand::RngExt;

use crate::engine::rng::SimRng;
use crate::scenario::RouterKind;

pub struct Router {
    kind: RouterKind,
    /// Round robin: the last replica index chosen.
    last: Option<usize>,
    rng: SimRng,
}

impl Router {
    pub fn new(kind: RouterKind, rng: SimRng) -> Self {
        Router {
            kind,
            last: None,
            rng,
        }
    }

    pub fn kind(&self) -> RouterKind {
        self.kind
    }

    /// Picks among `(replica index, waiting + running)` of the ready replicas,
    /// given in increasing index order. `None` if there is none.
    pub fn pick(&mut self, ready: &[(usize, u32)]) -> Option<usize> {
        if ready.is_empty() {
            return None;
        }
        let choice = match self.kind {
            // Fewest (waiting + running); ties go to the lowest index. The
            // shared queue uses the same rule to pick among idle replicas.
            RouterKind::LeastLoaded | RouterKind::SharedQueue => {
                let mut best = ready[0];
                for &c in &ready[1..] {
                    if c.1 < best.1 {
                        best = c;
                    }
                }
                best.0
            }
            RouterKind::RoundRobin => {
                // The next ready index after the last one chosen, wrapping.
                let after = self.last.map_or(0, |l| l + 1);
                ready.iter().find(|c| c.0 >= after).unwrap_or(&ready[0]).0
            }
            RouterKind::Random => ready[self.rng.random_range(0..ready.len())].0,
        };
        self.last = Some(choice);
        Some(choice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::{Stream, stream};

    fn router(kind: RouterKind) -> Router {
        Router::new(kind, stream(1, 0, Stream::Routing))
    }

    #[test]
    fn least_loaded_breaks_ties_to_lowest_index() {
        let mut r = router(RouterKind::LeastLoaded);
        assert_eq!(r.pick(&[(0, 3), (1, 1), (2, 1)]), Some(1));
        assert_eq!(r.pick(&[(0, 0), (1, 0)]), Some(0));
        assert_eq!(r.pick(&[]), None);
    }

    #[test]
    fn round_robin_cycles_over_ready_replicas() {
        let mut r = router(RouterKind::RoundRobin);
        let ready = [(0, 9), (2, 0), (5, 0)];
        let picks: Vec<_> = (0..4).map(|_| r.pick(&ready).unwrap()).collect();
        assert_eq!(picks, vec![0, 2, 5, 0]);
    }

    #[test]
    fn random_spreads_evenly() {
        let mut r = router(RouterKind::Random);
        let ready = [(0, 0), (1, 0), (2, 0), (3, 0)];
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            counts[r.pick(&ready).unwrap()] += 1;
        }
        // Each share is 10,000 ± 4.3 standard deviations (sd ≈ 87).
        assert!(
            counts.iter().all(|&c| (9_625..=10_375).contains(&c)),
            "{counts:?}"
        );
    }
}
