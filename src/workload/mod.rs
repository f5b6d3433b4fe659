//! Traffic: arrival processes and token lengths, generated lazily.
//!
//! A [`TrafficSource`] yields requests one at a time in arrival order, so
//! memory does not grow with the horizon. Arrivals, prompt lengths and
//! output lengths each draw from their own random stream: every strategy of
//! a replication (and every variant of a scenario that keeps the same
//! workload) sees exactly the same requests.

pub mod arrivals;
pub mod lengths;

pub use arrivals::ArrivalProcess;
pub use lengths::LengthSampler;

use rand::RngExt;

use crate::engine::rng::{SimRng, Stream, stream};
use crate::scenario::{Draws, Scenario};
use crate::units::Seconds;

/// One inference call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    /// Arrival order, from 0.
    pub id: u64,
    pub arrival_s: Seconds,
    pub prompt_tokens: u32,
    pub output_tokens: u32,
    /// What its prompt shares with other requests (for a prefix cache).
    pub prefix: Prefix,
    /// Turns of its conversation still to come after it (0 outside
    /// `workload.sessions`).
    pub turns_left: u32,
}

/// What a request's prompt shares with others. A prefix cache keys each
/// full KV block by it; blocks past the shared part belong to the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Prefix {
    #[default]
    None,
    /// The first `tokens` of the prompt are the same for every request with
    /// this `key`: a group's system prompt, or a conversation's earlier turns.
    Shared { key: u64, tokens: u32 },
    /// Prefix-block hashes of a trace row (Mooncake `hash_ids`): `len`
    /// hashes from `start` in the trace's hash pool, each naming a block of
    /// the trace's block size; equal hashes mean equal prefixes.
    Hashes { start: u32, len: u32 },
    /// A turn of a conversation: its first `group_tokens` are its group's
    /// system prompt (`group`, 0 for none), and its first `tokens` (the
    /// whole conversation so far: this turn's prompt and answer) are the
    /// beginning of the conversation's next turn.
    Session {
        group: u64,
        group_tokens: u32,
        key: u64,
        tokens: u32,
    },
}

/// Namespace of shared-prefix group keys.
const GROUP_KEYS: u64 = 0x5EED_0000_0000_0000;
/// Namespace of conversation keys.
const SESSION_KEYS: u64 = 0x7A1C_0000_0000_0000;

/// The requests of one replication, in arrival order.
pub struct TrafficSource {
    process: ArrivalProcess,
    prompt: Option<LengthSampler>,
    output: Option<LengthSampler>,
    arrivals_rng: SimRng,
    prompt_rng: SimRng,
    output_rng: SimRng,
    /// Shared-prefix groups: (number of groups, shared tokens, assigned in
    /// turn rather than at random) and their stream.
    groups: Option<(u64, u32, bool)>,
    groups_rng: SimRng,
    /// Conversations: turns per conversation, think time, and the stream of
    /// turn counts; each later turn draws from its own substream.
    sessions: Option<(LengthSampler, Seconds, u32)>,
    sessions_rng: SimRng,
    seed: u64,
    replication: u64,
    next_id: u64,
    last_s: Seconds,
    horizon_s: Seconds,
}

impl TrafficSource {
    pub fn new(scenario: &Scenario, draws: &Draws, seed: u64, replication: u64) -> Self {
        let mut arrivals_rng = stream(seed, replication, Stream::Arrivals);
        let demand_scale = scenario.demand_scale.value(draws);
        let process = ArrivalProcess::new(
            &scenario.workload.arrivals,
            demand_scale,
            draws,
            &mut arrivals_rng,
        );
        TrafficSource {
            process,
            prompt: scenario
                .workload
                .prompt_tokens
                .as_ref()
                .map(|d| LengthSampler::new(d, draws)),
            output: scenario
                .workload
                .output_tokens
                .as_ref()
                .map(|d| LengthSampler::new(d, draws)),
            arrivals_rng,
            prompt_rng: stream(seed, replication, Stream::PromptTokens),
            output_rng: stream(seed, replication, Stream::OutputTokens),
            groups: scenario.workload.shared_prefix.map(|s| {
                (
                    s.groups.value(draws).round().max(1.0) as u64,
                    s.tokens.value(draws).round().max(0.0) as u32,
                    s.round_robin,
                )
            }),
            groups_rng: stream(seed, replication, Stream::PrefixGroups),
            sessions: scenario.workload.sessions.as_ref().map(|s| {
                (
                    LengthSampler::new(&s.turns, draws),
                    s.think_s.value(draws),
                    s.max_context.value(draws).round() as u32,
                )
            }),
            sessions_rng: stream(seed, replication, Stream::Sessions),
            seed,
            replication,
            next_id: 0,
            last_s: 0.0,
            horizon_s: scenario.horizon_s,
        }
    }

    /// Closed loop: the client of a request answered at `t` sends again.
    pub fn client_returns(&mut self, t: Seconds) {
        self.process.client_returns(t);
    }

    /// Whether more requests may follow answers (closed loop).
    pub fn awaits_departures(&self) -> bool {
        self.process.awaits_departures()
    }

    /// The next request, or `None` once arrivals have stopped (the horizon).
    pub fn next_request(&mut self) -> Option<Request> {
        let (t, row) = self
            .process
            .next(self.last_s, self.horizon_s, &mut self.arrivals_rng)?;
        debug_assert!(t >= self.last_s, "arrivals out of order");
        self.last_s = t;
        let prompt_tokens = match (&self.prompt, row) {
            (Some(s), _) => s.sample(&mut self.prompt_rng),
            (None, Some(r)) => r.prompt_tokens,
            (None, None) => unreachable!("resolve gives lengths when the trace has none"),
        };
        let output_tokens = match (&self.output, row) {
            (Some(s), _) => s.sample(&mut self.output_rng),
            (None, Some(r)) => r.output_tokens.max(1),
            (None, None) => unreachable!("resolve gives lengths when the trace has none"),
        };
        let prefix = match (row, self.groups) {
            // A trace's own prefix-block hashes come first.
            (Some(r), _) if r.hashes.1 > 0 => Prefix::Hashes {
                start: r.hashes.0,
                len: r.hashes.1,
            },
            (_, Some((n, tokens, round_robin))) => {
                let g = if round_robin {
                    self.next_id % n
                } else {
                    self.groups_rng.random_range(0..n)
                };
                Prefix::Shared {
                    key: GROUP_KEYS ^ g,
                    tokens: tokens.min(prompt_tokens),
                }
            }
            _ => Prefix::None,
        };
        let id = self.next_id;
        self.next_id += 1;
        let (prefix, turns_left) = match &self.sessions {
            None => (prefix, 0),
            Some((turns, _, _)) => {
                let (group, group_tokens) = match prefix {
                    Prefix::Shared { key, tokens } => (key, tokens),
                    _ => (0, 0),
                };
                let prefix = Prefix::Session {
                    group,
                    group_tokens,
                    key: SESSION_KEYS ^ id,
                    tokens: prompt_tokens.saturating_add(output_tokens),
                };
                (prefix, turns.sample(&mut self.sessions_rng).max(1) - 1)
            }
        };
        Some(Request {
            id,
            arrival_s: t,
            prompt_tokens,
            output_tokens,
            prefix,
            turns_left,
        })
    }

    /// Think time between an answer and a conversation's next turn.
    pub fn think_s(&self) -> Option<Seconds> {
        self.sessions.as_ref().map(|s| s.1)
    }

    /// The next turn of the conversation `prev` belongs to, sent at `t`:
    /// its prompt is the conversation so far (`prev`'s prompt and answer)
    /// plus a new message. `None` when the conversation is over, or when the
    /// prompt would exceed `max_context`. Its id is set when it arrives.
    pub fn follow_up(&self, prev: &Request, t: Seconds) -> Option<Request> {
        let Prefix::Session {
            group,
            group_tokens,
            key,
            ..
        } = prev.prefix
        else {
            return None;
        };
        if prev.turns_left == 0 {
            return None;
        }
        let (prompt, output) = (self.prompt.as_ref()?, self.output.as_ref()?);
        // Each turn draws from its own substream: what it draws does not
        // depend on when other conversations' turns were drawn.
        let mut rng = crate::engine::rng::substream(
            self.seed,
            self.replication,
            Stream::Sessions,
            key ^ ((prev.turns_left as u64) << 48),
        );
        let message = prompt.sample(&mut rng);
        let prompt_tokens = prev
            .prompt_tokens
            .checked_add(prev.output_tokens)?
            .checked_add(message)?;
        let max_context = self.sessions.as_ref().map_or(u32::MAX, |s| s.2);
        if prompt_tokens > max_context {
            return None;
        }
        let output_tokens = output.sample(&mut rng);
        Some(Request {
            id: u64::MAX,
            arrival_s: t,
            prompt_tokens,
            output_tokens,
            prefix: Prefix::Session {
                group,
                group_tokens,
                key,
                tokens: prompt_tokens.saturating_add(output_tokens),
            },
            turns_left: prev.turns_left - 1,
        })
    }
}
