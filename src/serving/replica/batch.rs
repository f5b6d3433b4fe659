//! The running batch as a linked list over the request table, and what
//! takes sequences out of it: paged KV growth with preemption (the newest
//! sequence goes first, as in vLLM) and eviction of everything when the
//! replica disappears.

use super::*;

impl Replica {
    /// Paged mode: every decoding sequence gets the KV block its context now
    /// needs; when none is free, the most recently admitted sequence is
    /// preempted (possibly the one growing). Returns whether any was.
    pub(super) fn grow_paged_kv(&mut self, block: u32, table: &mut RequestTable) -> bool {
        let block = block as u64;
        let mut preempted = false;
        let mut cur = self.head;
        while cur != NIL {
            let r = &table[cur];
            if r.phase == Phase::Decoding {
                let context = r.prompt_tokens as u64 + (self.iter as i64 - r.anchor) as u64;
                let need = context.div_ceil(block) * block;
                if need > r.kv_held {
                    let extra = need - r.kv_held;
                    let mut self_preempted = false;
                    while self.kv_used + extra > self.usable_kv {
                        let victim = self.tail;
                        self.preempt(victim, table);
                        preempted = true;
                        if victim == cur {
                            self_preempted = true;
                            break;
                        }
                    }
                    if self_preempted {
                        break; // `cur` was the newest; nothing runs after it
                    }
                    self.kv_used += extra;
                    table[cur].kv_held = need;
                }
            }
            cur = table[cur].next;
        }
        preempted
    }

    /// Takes a running sequence out of the batch; it keeps its produced
    /// tokens and will recompute prompt + those tokens when readmitted.
    pub(super) fn take_out(&mut self, slot: Slot, table: &mut RequestTable) {
        let r = &mut table[slot];
        match r.phase {
            Phase::Decoding => {
                let produced = (self.iter as i64 - r.anchor) as u32;
                self.decoding -= 1;
                self.decode_context -= (r.prompt_tokens + produced) as u64;
                r.generated = produced;
            }
            Phase::Prefilling => {
                if let Some(pos) = self.prefilling.iter().position(|&s| s == slot) {
                    self.prefilling.remove(pos);
                }
            }
            Phase::Queued | Phase::Done => unreachable!("not running"),
        }
        self.kv_used -= r.kv_held;
        r.kv_held = 0;
        r.epoch = r.epoch.wrapping_add(1);
        r.restarts += 1;
        r.phase = Phase::Queued;
        self.unlink(slot, table);
    }

    pub(super) fn preempt(&mut self, slot: Slot, table: &mut RequestTable) {
        self.take_out(slot, table);
        self.waiting.push_front(slot);
        self.stats.preemptions += 1;
    }

    /// The replica disappears (spot interruption): any iteration in progress
    /// is lost, and every request it held is returned, running ones first in
    /// admission order, then the waiting ones in queue order.
    pub fn evict_all(&mut self, table: &mut RequestTable) -> Vec<Slot> {
        let mut out = Vec::with_capacity(self.load() as usize);
        while self.head != NIL {
            let s = self.head;
            self.take_out(s, table);
            out.push(s);
        }
        out.extend(self.waiting.drain(..));
        self.prefilling.clear();
        self.finishing.clear();
        self.scheduled.clear();
        self.busy = false;
        debug_assert_eq!(
            (
                self.running,
                self.kv_used,
                self.decoding,
                self.decode_context
            ),
            (0, 0, 0, 0)
        );
        out
    }

    pub(super) fn link_back(&mut self, slot: Slot, table: &mut RequestTable) {
        table[slot].prev = self.tail;
        table[slot].next = NIL;
        if self.tail == NIL {
            self.head = slot;
        } else {
            table[self.tail].next = slot;
        }
        self.tail = slot;
        self.running += 1;
    }

    pub(super) fn unlink(&mut self, slot: Slot, table: &mut RequestTable) {
        let (prev, next) = (table[slot].prev, table[slot].next);
        if prev == NIL {
            self.head = next;
        } else {
            table[prev].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            table[next].prev = prev;
        }
        table[slot].prev = NIL;
        table[slot].next = NIL;
        self.running -= 1;
    }
}
