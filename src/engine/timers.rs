//! At most one pending timer per slot, with the earliest found in O(1) and
//! any slot re-armed in O(log n): a tournament tree over slots.
//!
//! The event loop keeps each replica's "iteration ends" here instead of in
//! the general calendar: one replica's timer changes every iteration, and a
//! leaf update with small keys is much cheaper than a heap pop plus push.
//! Keys are (time, sequence) with the sequence drawn from the calendar's
//! counter, so ties order exactly as they would in the calendar.

use crate::units::Seconds;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Key {
    time: Seconds,
    seq: u64,
}

impl Key {
    const NONE: Key = Key {
        time: f64::INFINITY,
        seq: u64::MAX,
    };

    #[inline]
    fn before(&self, other: &Key) -> bool {
        match self.time.total_cmp(&other.time) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Greater => false,
            std::cmp::Ordering::Equal => self.seq < other.seq,
        }
    }
}

/// Timers indexed by slot `0..len`.
#[derive(Debug, Clone)]
pub struct Timers {
    /// Leaves at `[width, 2 width)`; internal node i holds the winning slot
    /// of its subtree. Slot numbers are leaf offsets.
    winners: Vec<u32>,
    keys: Vec<Key>,
    width: usize,
}

impl Default for Timers {
    fn default() -> Self {
        Self::new()
    }
}

impl Timers {
    pub fn new() -> Self {
        Timers {
            winners: vec![0; 2],
            keys: vec![Key::NONE; 1],
            width: 1,
        }
    }

    /// Makes room for slots `0..n`.
    fn grow(&mut self, n: usize) {
        if n <= self.width {
            return;
        }
        let width = n.next_power_of_two();
        self.keys.resize(width, Key::NONE);
        self.width = width;
        self.winners = vec![0; 2 * width];
        for i in 0..width {
            self.winners[width + i] = i as u32;
        }
        for node in (1..width).rev() {
            self.winners[node] = self.winner_of(node);
        }
    }

    #[inline]
    fn winner_of(&self, node: usize) -> u32 {
        let (a, b) = (self.winners[2 * node], self.winners[2 * node + 1]);
        if self.keys[b as usize].before(&self.keys[a as usize]) {
            b
        } else {
            a
        }
    }

    fn update(&mut self, slot: usize, key: Key) {
        self.grow(slot + 1);
        self.keys[slot] = key;
        let mut node = (self.width + slot) / 2;
        while node >= 1 {
            self.winners[node] = self.winner_of(node);
            node /= 2;
        }
    }

    /// Arms slot's timer at `time` with tie-break sequence `seq`.
    pub fn set(&mut self, slot: usize, time: Seconds, seq: u64) {
        self.update(slot, Key { time, seq });
    }

    /// Disarms slot's timer.
    pub fn clear(&mut self, slot: usize) {
        if slot < self.width {
            self.update(slot, Key::NONE);
        }
    }

    /// The earliest armed timer: (slot, time, seq).
    #[inline]
    pub fn earliest(&self) -> Option<(usize, Seconds, u64)> {
        let slot = if self.width == 1 {
            0
        } else {
            self.winners[1] as usize
        };
        let k = self.keys[slot];
        (k.time.is_finite()).then_some((slot, k.time, k.seq))
    }

    /// Whether slot's timer is armed.
    pub fn is_set(&self, slot: usize) -> bool {
        slot < self.width && self.keys[slot].time.is_finite()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn earliest_with_ties_by_sequence() {
        let mut t = Timers::new();
        assert_eq!(t.earliest(), None);
        t.set(3, 2.0, 10);
        t.set(0, 1.0, 11);
        t.set(5, 1.0, 9);
        assert_eq!(t.earliest(), Some((5, 1.0, 9)));
        t.clear(5);
        assert_eq!(t.earliest(), Some((0, 1.0, 11)));
        t.set(0, 3.0, 12);
        assert_eq!(t.earliest(), Some((3, 2.0, 10)));
        assert!(t.is_set(3) && !t.is_set(5) && !t.is_set(100));
    }

    proptest! {
        #[test]
        fn matches_a_linear_scan(ops in proptest::collection::vec((0usize..40, proptest::option::of(0.0f64..100.0)), 1..200)) {
            let mut t = Timers::new();
            let mut model: Vec<Option<(f64, u64)>> = vec![None; 40];
            for (seq, (slot, time)) in ops.into_iter().enumerate() {
                match time {
                    Some(x) => { t.set(slot, x, seq as u64); model[slot] = Some((x, seq as u64)); }
                    None => { t.clear(slot); model[slot] = None; }
                }
                let expect = model.iter().enumerate().filter_map(|(i, k)| k.map(|(x, s)| (i, x, s)))
                    .min_by(|a, b| a.1.total_cmp(&b.1).then(a.2.cmp(&b.2)));
                prop_assert_eq!(t.earliest(), expect);
            }
        }
    }
}
