//! The engine-faithful scheduler (`admission = "vllm"`) on traces worked
//! out by hand (docs/model.md, "Engine-faithful scheduling"): the token
//! budget, running requests first, the prefix cache's hits and its eviction
//! order under KV pressure; and a real trace's prefix reuse counted offline.

use std::io::Read;
use std::path::Path;

use super::common::*;
use fleetsim::metrics::Metric;

/// (admit, first token, done) per request, in id order.
type Expect = [(f64, f64, f64)];

/// Runs inline requests through one replica and checks every time. The
/// traces are worked out for synchronous scheduling unless the engine says.
fn run_trace(engine: &str, workload_extra: &str, requests: &str, expect: &Expect) {
    let sync = if engine.contains("async_scheduling") {
        ""
    } else {
        "async_scheduling = false\n"
    };
    let engine = format!("{sync}{engine}");
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "name = \"ef\"\nhorizon = \"1h\"\n[workload]\narrivals = {{ process = \"trace\", requests = {requests} }}\n{workload_extra}\n[engine]\nadmission = \"vllm\"\n{engine}\n[[strategy]]\npools = [ {{ kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 }} ]\n"
    );
    write_scenario(dir.path(), "s.toml", &text);
    let out = fleetsim(
        dir.path(),
        &["run", "s.toml", "--quiet", "--requests-out", "req.csv"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(dir.path().join("req.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "id,replica,arrival_s,prompt_tokens,output_tokens,admit_s,first_token_s,done_s,front_end_s"
        ),
        "the engine-faithful mode adds the front-end column"
    );
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    assert_eq!(rows.len(), expect.len());
    for (i, (row, (admit, first, done))) in rows.iter().zip(expect).enumerate() {
        close(f(&row[5]), *admit, 1e-9, &format!("request {i} admitted"));
        close(
            f(&row[6]),
            *first,
            1e-9,
            &format!("request {i} first token"),
        );
        close(f(&row[7]), *done, 1e-9, &format!("request {i} done"));
        close(f(&row[8]), 0.0, 0.0, "no front-end latency here");
    }
}

/// Every step takes 1 s plus 0.1 s per prompt token computed; no front end.
const SLOW_STEPS: &str = "front_end_latency = 0\nstep_time = { model = \"linear\", fixed_s = 1.0, prefill_per_token_s = 0.1 }";

#[test]
fn asynchronous_scheduling_makes_an_arrival_wait_one_more_step_when_busy() {
    // Steps take 1 s plus 0.1 s per prompt token. A (P = 1, O = 4) at 0;
    // B (P = 1, O = 1) at 0.5, while step 1 runs; C (P = 1, O = 1) at 10,
    // when the replica is idle.
    // Synchronous: step 2 [1.1, 2.2] holds A's 2nd token and B's prompt (B
    // done at 2.2); A's 3rd at 3.2, 4th (done) at 4.2.
    // Asynchronous: step 2 was formed at 0, while step 1 ran, before B came:
    // [1.1, 2.1] holds A alone; B joins step 3 [2.1, 3.2] (done at 3.2);
    // A's 4th token at 4.2. C finds the replica idle: no wait in either.
    let engine = |asynchronous: bool| {
        format!(
            "async_scheduling = {asynchronous}\nmax_batch = 8\nmax_num_batched_tokens = 64\nkv_block_tokens = 4\nkv_capacity_tokens = 1000\nprefix_caching = false\n{SLOW_STEPS}"
        )
    };
    let requests = "[[0.0, 1, 4], [0.5, 1, 1], [10.0, 1, 1]]";
    run_trace(
        &engine(false),
        "",
        requests,
        &[(0.0, 1.1, 4.2), (1.1, 2.2, 2.2), (10.0, 11.1, 11.1)],
    );
    run_trace(
        &engine(true),
        "",
        requests,
        &[(0.0, 1.1, 4.2), (2.1, 3.2, 3.2), (10.0, 11.1, 11.1)],
    );
}

#[test]
fn the_token_budget_goes_to_running_requests_first() {
    // Budget 8 tokens per step. A (P = 10, O = 3) at 0; B (P = 6, O = 2) at 0.5.
    // step 1 [0, 1.8]:   A's first 8 prompt tokens (the budget).
    // step 2 [1.8, 3.6]: A's last 2 first (running first), then B's 6: both
    //                    prompts complete; first tokens at 3.6.
    // step 3 [3.6, 4.6]: a decode token each: B's 2nd (done), A's 2nd.
    // step 4 [4.6, 5.6]: A's 3rd (done).
    run_trace(
        &format!(
            "max_batch = 8\nmax_num_batched_tokens = 8\nkv_block_tokens = 4\nkv_capacity_tokens = 1000\nprefix_caching = false\n{SLOW_STEPS}"
        ),
        "",
        "[[0.0, 10, 3], [0.5, 6, 2]]",
        &[(0.0, 3.6, 5.6), (1.8, 3.6, 4.6)],
    );
}

#[test]
fn a_shared_prefix_is_computed_once_in_whole_blocks() {
    // Both requests share a 130-token system prompt; blocks hold 16 tokens,
    // so 8 full blocks (128 tokens) are cacheable, not 130.
    // A (P = 200, O = 2) at 0: step [0, 0.01 + 200 × 0.001 = 0.21], first
    // token; decode step [0.21, 0.22], done.
    // B (P = 200, O = 2) at 1: 128 tokens cached, 72 computed:
    // [1, 1.082], first token; [1.082, 1.092], done.
    run_trace(
        "max_batch = 8\nmax_num_batched_tokens = 8192\nkv_block_tokens = 16\nkv_capacity_tokens = 100000\nfront_end_latency = 0\nstep_time = { model = \"linear\", fixed_s = 0.01, prefill_per_token_s = 0.001 }",
        "shared_prefix = { groups = 1, tokens = 130 }",
        "[[0.0, 200, 2], [1.0, 200, 2]]",
        &[(0.0, 0.21, 0.22), (1.0, 1.082, 1.092)],
    );
}

#[test]
fn eviction_takes_a_finished_request_s_own_blocks_before_its_shared_ones() {
    // 12 blocks of 4 tokens. Two groups in turn (0, 1, 0), each with an
    // 8-token (two-block) system prompt.
    // R0 (group 0, P = 16, O = 1) at 0: blocks s0 s1 a2 a3; [0, 2.6]. When it
    //   ends its blocks are freed last first: the free queue is then
    //   [4..11, a3, a2, s1, s0].
    // R1 (group 1, P = 40, O = 1) at 3: nothing cached; 10 blocks from the
    //   head of the queue: 4..11, a3, a2 (R0's own blocks go first).
    //   [3, 3 + 1 + 4.0 = 8].
    // R2 (group 0, P = 12, O = 1) at 8.5: s0 and s1 are still cached: only
    //   4 tokens computed, [8.5, 8.5 + 1 + 0.4 = 9.9]. (Had the queue freed
    //   the shared blocks first, R1 would have evicted them and R2 would
    //   take 8.5 + 1 + 1.2 = 10.7.)
    run_trace(
        &format!(
            "max_batch = 8\nmax_num_batched_tokens = 100\nkv_block_tokens = 4\nkv_capacity_tokens = 48\nprefix_caching = true\n{SLOW_STEPS}"
        ),
        "shared_prefix = { groups = 2, tokens = 8, assign = \"round_robin\" }",
        "[[0.0, 16, 1], [3.0, 40, 1], [8.5, 12, 1]]",
        &[(0.0, 2.6, 2.6), (3.0, 8.0, 8.0), (8.5, 9.9, 9.9)],
    );
}

#[test]
fn preemption_frees_the_newest_request_and_it_recomputes() {
    // 4 blocks of 2 tokens (8 tokens of KV), every step 1 s. A and B
    // (P = 2, O = 5) both arrive at 0; A is admitted first.
    let dir = tempfile::tempdir().unwrap();
    let text = "name = \"pre\"\nhorizon = \"1h\"\n[workload]\narrivals = { process = \"trace\", requests = [[0.0, 2, 5], [0.0, 2, 5]] }\n[engine]\nadmission = \"vllm\"\nmax_batch = 8\nmax_num_batched_tokens = 100\nkv_block_tokens = 2\nkv_capacity_tokens = 8\nprefix_caching = false\nasync_scheduling = false\nfront_end_latency = 0\nstep_time = { model = \"linear\", fixed_s = 1.0 }\n[[strategy]]\npools = [ { kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 } ]\n";
    let s = scenario_in(text, dir.path());
    let (out, recs) = records(&s, 0, &Default::default());
    // step 1 [0, 1]: both prompts (1 block each); first tokens at 1.
    // step 2 [1, 2]: each needs KV for 3 tokens: a 2nd block each (all 4 used).
    // step 3 [2, 3]: 4 tokens each, still 2 blocks.
    // step 4 [3, 4]: A needs a 3rd block, none is free: B, the newest, is
    //   preempted (2 blocks freed, 3 tokens produced kept); A takes one.
    //   Having preempted, the step admits nothing.
    // step 5 [4, 5]: A's 5th token: done. B needs 3 blocks for prompt + 3
    //   tokens, 1 is free: it waits.
    // step 6 [5, 6]: B recomputes 5 tokens, producing its 4th;
    // step 7 [6, 7]: its 5th: done.
    assert_eq!(out.get(Metric::Preemptions), 1.0);
    close(recs[0].done_s, 5.0, 1e-12, "A undisturbed");
    assert_eq!(recs[0].restarts, 0);
    assert_eq!(recs[1].restarts, 1);
    close(
        recs[1].first_token_s,
        1.0,
        1e-12,
        "B's first token before the preemption",
    );
    close(recs[1].done_s, 7.0, 1e-12, "B recomputes, then finishes");
}

/// Offline count of a Mooncake trace's prefix reuse, in engine blocks of
/// `block` tokens: a block of a request is reusable when an earlier request
/// held the same block in full (same hash for its 512-token trace block,
/// same position in it); a request reuses its leading run of such blocks,
/// at most prompt − 1 tokens. Returns reused tokens / prompt tokens.
fn offline_reuse(path: &Path, block: u64, requests: usize) -> f64 {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let per = 512 / block;
    let mut seen = std::collections::HashSet::new();
    let (mut reused, mut total) = (0u64, 0u64);
    for line in text.lines().take(requests) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let p = v["input_length"].as_u64().unwrap();
        let hashes: Vec<u64> = v["hash_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_u64().unwrap())
            .collect();
        let key = |b: u64| (hashes[(b / per) as usize], b % per);
        let blocks_in_hashes = hashes.len() as u64 * per;
        let mut hit = 0;
        while hit < (p - 1) / block && hit < blocks_in_hashes && seen.contains(&key(hit)) {
            hit += 1;
        }
        reused += hit * block;
        total += p;
        // Its full prompt blocks are cached from now on.
        for b in 0..(p / block).min(blocks_in_hashes) {
            seen.insert(key(b));
        }
    }
    reused as f64 / total as f64
}

#[test]
fn mooncake_hash_ids_hit_the_cache_as_often_as_the_trace_reuses_prefixes() {
    // One replica with room for everything (nothing is ever evicted) that
    // serves one request at a time (so each finds every earlier request's
    // blocks cached): the simulated hit rate must equal the reuse counted
    // from the file itself.
    let traces = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/traces");
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(traces.join("mooncake_conversation.jsonl.gz")).unwrap(),
    )
    .read_to_string(&mut text)
    .unwrap();
    // The first n ≈ 2000 rows, cut between two timestamps (rows come in
    // ~3-s slots), in file order (which is time order).
    let times: Vec<f64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["timestamp"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "the file is in time order"
    );
    let n = (2000..times.len())
        .find(|&k| times[k] > times[k - 1])
        .unwrap();
    let horizon = ((times[n - 1] + times[n]) / 2.0 - times[0]) / 1000.0;
    let offline = offline_reuse(&traces.join("mooncake_conversation.jsonl.gz"), 16, n);
    let scenario_text = format!(
        "name = \"mc\"\nhorizon = {horizon}\n[workload]\narrivals = {{ process = \"trace\", path = \"mooncake_conversation.jsonl.gz\" }}\n[engine]\nadmission = \"vllm\"\nmax_batch = 1\nmax_num_batched_tokens = 1000000\nkv_block_tokens = 16\nkv_capacity_tokens = 1000000000000\nprefix_caching = true\nstep_time = {{ model = \"linear\", fixed_s = 0.001 }}\n[[strategy]]\npools = [ {{ kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 }} ]\n"
    );
    let s = scenario_in(&scenario_text, &traces);
    let (out, recs) = records(&s, 0, &Default::default());
    assert_eq!(recs.len(), n, "the first {n} rows arrive");
    let simulated = out.get(Metric::PrefixCacheHitRate);
    eprintln!("prefix reuse: offline {offline:.6}, simulated {simulated:.6}");
    assert!(
        offline > 0.2,
        "the conversation trace reuses prefixes ({offline})"
    );
    close(simulated, offline, 1e-12, "hit rate = offline reuse");
}

/// Runs a one-replica scenario with `workload` and returns its
/// `--requests-out` rows and `summary.json`.
fn run_rows(workload: &str, engine: &str, horizon: &str) -> (Vec<Vec<f64>>, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "name = \"ef\"\nhorizon = \"{horizon}\"\n[workload]\n{workload}\n[engine]\nadmission = \"vllm\"\nasync_scheduling = false\n{engine}\n[[strategy]]\npools = [ {{ kind = \"reserved\", replicas = 1, price_per_gpu_hour = 1.0 }} ]\n[montecarlo]\nreplications = 1\n"
    );
    write_scenario(dir.path(), "s.toml", &text);
    let out = fleetsim(
        dir.path(),
        &[
            "run",
            "s.toml",
            "--quiet",
            "--out",
            "o",
            "--requests-out",
            "req.csv",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(dir.path().join("req.csv")).unwrap();
    let rows = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(f).collect())
        .collect();
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("o/summary.json")).unwrap()).unwrap();
    (rows, summary)
}

const SESSION_ENGINE: &str = "max_batch = 8\nmax_num_batched_tokens = 8192\nkv_block_tokens = 16\nkv_capacity_tokens = 100000\nfront_end_latency = 0\nstep_time = { model = \"linear\", fixed_s = 0.01, prefill_per_token_s = 0.001 }";

#[test]
fn a_conversation_s_next_turn_reuses_its_whole_history_from_the_cache() {
    // One conversation of 2 turns, 1 s of think time; every message 100
    // tokens, every answer 28. Steps take 0.01 s + 0.001 s per prompt token.
    // Turn 1 (P = 100) at 0: prefill [0, 0.11], 27 decode steps, done 0.38.
    // Its KV holds P + O − 1 = 127 tokens: 7 full blocks (112 tokens).
    // Turn 2 at 0.38 + 1 = 1.38, prompt = 100 + 28 + 100 = 228: 112 tokens
    // cached, 116 computed: [1.38, 1.506], done 1.506 + 0.27 = 1.776.
    // Hit rate: 112 cached of 100 + 228 prompt tokens.
    let (rows, summary) = run_rows(
        "arrivals = { process = \"trace\", requests = [[0.0, 100, 28]] }\nprompt_tokens = 100\noutput_tokens = 28\nsessions = { turns = 2, think_time = \"1s\" }",
        SESSION_ENGINE,
        "1h",
    );
    assert_eq!(rows.len(), 2, "{rows:?}");
    let expect = [
        (0.0, 100.0, 0.0, 0.11, 0.38),
        (1.38, 228.0, 1.38, 1.506, 1.776),
    ];
    for (i, (row, (arrival, prompt, admit, first, done))) in rows.iter().zip(expect).enumerate() {
        close(row[2], arrival, 1e-9, &format!("turn {i} sent"));
        assert_eq!(row[3], prompt, "turn {i} prompt");
        close(row[5], admit, 1e-9, &format!("turn {i} admitted"));
        close(row[6], first, 1e-9, &format!("turn {i} first token"));
        close(row[7], done, 1e-9, &format!("turn {i} done"));
    }
    let hit = summary["strategies"][0]["metrics"]["prefix_cache_hit_rate"]["mean"]
        .as_f64()
        .unwrap();
    close(hit, 112.0 / 328.0, 1e-12, "prefix cache hit rate");
}

#[test]
fn conversations_stop_at_the_horizon_and_at_the_longest_prompt() {
    // Unlimited turns but prompts of at most 300 tokens: turn 2's prompt is
    // 228, turn 3's would be 356, so the conversation ends after 2 turns.
    let (rows, _) = run_rows(
        "arrivals = { process = \"trace\", requests = [[0.0, 100, 28]] }\nprompt_tokens = 100\noutput_tokens = 28\nsessions = { turns = 1000, think_time = \"1s\", max_context = 300 }",
        SESSION_ENGINE,
        "1h",
    );
    assert_eq!(rows.len(), 2, "{rows:?}");
    // Short messages and a 10 s horizon: turns every ~1.4 s until the next
    // would be sent at or after the horizon; every turn sent is answered.
    let (rows, summary) = run_rows(
        "arrivals = { process = \"trace\", requests = [[0.0, 10, 4]] }\nprompt_tokens = 10\noutput_tokens = 4\nsessions = { turns = 1000, think_time = \"1s\" }",
        SESSION_ENGINE,
        "10s",
    );
    assert!(rows.len() > 3, "{rows:?}");
    let last = rows.last().unwrap();
    assert!(
        last[2] < 10.0,
        "a turn sent at or after the horizon: {last:?}"
    );
    assert!(
        last[7] + 1.0 >= 10.0,
        "the conversation stopped early: {last:?}"
    );
    for w in rows.windows(2) {
        close(
            w[1][2],
            w[0][7] + 1.0,
            1e-9,
            "next turn one think time after the answer",
        );
        assert_eq!(
            w[1][3],
            w[0][3] + w[0][4] + 10.0,
            "the prompt carries the conversation"
        );
    }
    let m = &summary["strategies"][0]["metrics"];
    assert_eq!(
        m["requests_arrived"]["mean"].as_f64(),
        m["requests_completed"]["mean"].as_f64()
    );
    assert_eq!(
        m["requests_arrived"]["mean"].as_f64(),
        Some(rows.len() as f64)
    );
}
