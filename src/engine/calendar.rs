//! The event calendar: a priority queue with a total, deterministic order.
//!
//! Events pop by (time, class, insertion sequence). The class lets the
//! simulation state what happens first at one instant (an iteration ends
//! before arrivals at that instant are routed, and iterations start after
//! them); the sequence number makes equal (time, class) pairs pop FIFO.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::units::Seconds;

struct Scheduled<E> {
    time: Seconds,
    class: u8,
    seq: u64,
    event: E,
}

impl<E> Scheduled<E> {
    fn key_cmp(&self, other: &Self) -> Ordering {
        self.time
            .total_cmp(&other.time)
            .then(self.class.cmp(&other.class))
            .then(self.seq.cmp(&other.seq))
    }
}

impl<E> PartialEq for Scheduled<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key_cmp(other) == Ordering::Equal
    }
}
impl<E> Eq for Scheduled<E> {}
impl<E> PartialOrd for Scheduled<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Scheduled<E> {
    // Reversed: `BinaryHeap` is a max-heap and we want the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key_cmp(self)
    }
}

/// Future events of one simulated history.
pub struct Calendar<E> {
    heap: BinaryHeap<Scheduled<E>>,
    next_seq: u64,
}

impl<E> Default for Calendar<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Calendar<E> {
    pub fn new() -> Self {
        Self {
            heap: BinaryHeap::with_capacity(64),
            next_seq: 0,
        }
    }

    /// Schedules `event` at `time`; among equal times, lower `class` pops first.
    pub fn schedule(&mut self, time: Seconds, class: u8, event: E) {
        debug_assert!(time.is_finite(), "event scheduled at non-finite time");
        self.heap.push(Scheduled {
            time,
            class,
            seq: self.next_seq,
            event,
        });
        self.next_seq += 1;
    }

    /// Allocates a tie-break sequence number for an event kept elsewhere
    /// (see `Timers`), so it orders with calendar events as if scheduled here.
    pub fn take_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq - 1
    }

    /// (time, class, sequence) of the earliest event.
    pub fn peek_key(&self) -> Option<(Seconds, u8, u64)> {
        self.heap.peek().map(|s| (s.time, s.class, s.seq))
    }

    /// Removes and returns the earliest event.
    pub fn pop(&mut self) -> Option<(Seconds, E)> {
        self.heap.pop().map(|s| (s.time, s.event))
    }

    /// Time of the earliest event, if any.
    pub fn next_time(&self) -> Option<Seconds> {
        self.heap.peek().map(|s| s.time)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_class_then_fifo() {
        let mut c = Calendar::new();
        c.schedule(2.0, 0, "late");
        c.schedule(1.0, 2, "start-1");
        c.schedule(1.0, 1, "arrival-a");
        c.schedule(1.0, 0, "end");
        c.schedule(1.0, 1, "arrival-b");
        c.schedule(0.5, 9, "early");
        let order: Vec<_> = std::iter::from_fn(|| c.pop().map(|(_, e)| e)).collect();
        assert_eq!(
            order,
            ["early", "end", "arrival-a", "arrival-b", "start-1", "late"]
        );
    }

    #[test]
    fn next_time_peeks_without_removing() {
        let mut c = Calendar::new();
        assert_eq!(c.next_time(), None);
        c.schedule(3.0, 0, ());
        c.schedule(1.5, 0, ());
        assert_eq!(c.next_time(), Some(1.5));
        assert_eq!(c.len(), 2);
    }
}
