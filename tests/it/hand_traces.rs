//! Tiny traces whose every admission, first-token and completion time is
//! worked out by hand from the reference semantics (docs/model.md,
//! "Continuous batching"), checked through `--requests-out`. Every engine
//! here names its admission mode, chunking and step model.

use super::common::*;

/// (replica, admit, first token, done) per request, in id order.
type Expect = [(Option<u32>, Option<f64>, Option<f64>, f64)];

fn run_trace(engine: &str, requests: &str, replicas: u32, expect: &Expect) {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "name = \"hand\"\nhorizon = \"1h\"\n[workload]\narrivals = {{ process = \"trace\", requests = {requests} }}\n[engine]\n{engine}\n[[strategy]]\npools = [ {{ kind = \"reserved\", replicas = {replicas}, price_per_gpu_hour = 1.0 }} ]\n"
    );
    write_scenario(dir.path(), "s.toml", &text);
    let out = fleetsim(
        dir.path(),
        &["run", "s.toml", "--quiet", "--requests-out", "req.csv"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = read_requests_csv(&dir.path().join("req.csv"));
    assert_eq!(rows.len(), expect.len(), "one row per request");
    for (i, (row, (replica, admit, first, done))) in rows.iter().zip(expect).enumerate() {
        let opt = |s: &str| (!s.is_empty()).then(|| f(s));
        assert_eq!(row[0], i.to_string());
        assert_eq!(
            opt(&row[1]).map(|x| x as u32),
            *replica,
            "request {i} replica"
        );
        for (what, got, want) in [
            ("admit", opt(&row[5]), *admit),
            ("first token", opt(&row[6]), *first),
            ("done", opt(&row[7]), Some(*done)),
        ] {
            match (got, want) {
                (Some(g), Some(w)) => close(g, w, 1e-9, &format!("request {i} {what}")),
                (g, w) => assert_eq!(g, w, "request {i} {what}"),
            }
        }
    }
}

const LINEAR: &str = "admission = \"reserve\"\nchunked_prefill_tokens = 0\nmax_batch = 8\nkv_capacity_tokens = 100000\nstep_time = { model = \"linear\", fixed_s = 0.01, prefill_per_token_s = 0.001, decode_per_seq_s = 0.002, kv_per_token_s = 1e-4 }";

#[test]
fn two_requests_join_one_batch() {
    // A (P=10, O=3) at 0; B (P=5, O=2) at 0.015, during A's first iteration.
    // it1 [0, 0.021]:      fixed 0.01 + prefill 10×0.001 + kv 10×1e-4 → A's first token.
    // it2 [0.021, 0.0396]: admits B: 0.01 + 5×0.001 + 1 decode×0.002 + kv (11+5)×1e-4.
    // it3 [0.0396, 0.0554]: 0.01 + 2×0.002 + kv (12+6)×1e-4: A's 3rd and B's 2nd token.
    run_trace(
        LINEAR,
        "[[0.0, 10, 3], [0.015, 5, 2]]",
        1,
        &[
            (Some(0), Some(0.0), Some(0.021), 0.0554),
            (Some(0), Some(0.021), Some(0.0396), 0.0554),
        ],
    );
}

#[test]
fn kv_capacity_blocks_the_head_of_the_queue() {
    // Capacity 20 tokens, iterations of 1 s. A needs 15, B 7 (does not fit
    // beside A), C 3 (would fit, but waits behind B: head-of-line blocking).
    // A runs alone 0..5; B and C are admitted at 5; C (O=1) ends at 6, B at 8.
    let engine = "admission = \"reserve\"\nchunked_prefill_tokens = 0\nmax_batch = 8\nkv_capacity_tokens = 20\nstep_time = { model = \"linear\", fixed_s = 1.0 }";
    run_trace(
        engine,
        "[[0.0, 10, 5], [0.0, 4, 3], [0.0, 2, 1]]",
        1,
        &[
            (Some(0), Some(0.0), Some(1.0), 5.0),
            (Some(0), Some(5.0), Some(6.0), 8.0),
            (Some(0), Some(5.0), Some(6.0), 6.0),
        ],
    );
}

#[test]
fn least_loaded_routing_breaks_ties_to_the_lowest_index() {
    // Two replicas, max_batch 1, 1-s iterations. A, B at 0 → replicas 0, 1.
    // C at 0.5 sees loads (1, 1) → replica 0; D sees (2, 1) → replica 1.
    let engine = "admission = \"reserve\"\nchunked_prefill_tokens = 0\nmax_batch = 1\nkv_capacity_tokens = 1000\nstep_time = { model = \"linear\", fixed_s = 1.0 }";
    run_trace(
        engine,
        "[[0.0, 1, 2], [0.0, 1, 1], [0.5, 1, 1], [0.5, 1, 1]]",
        2,
        &[
            (Some(0), Some(0.0), Some(1.0), 2.0),
            (Some(1), Some(0.0), Some(1.0), 1.0),
            (Some(0), Some(2.0), Some(3.0), 3.0),
            (Some(1), Some(1.0), Some(2.0), 2.0),
        ],
    );
}

#[test]
fn an_arrival_at_an_iteration_boundary_joins_the_next_iteration() {
    // A (O=2) runs [0,1] and [1,2]; B arrives exactly at 1 and is admitted at 1.
    let engine = "admission = \"reserve\"\nchunked_prefill_tokens = 0\nmax_batch = 4\nkv_capacity_tokens = 1000\nstep_time = { model = \"linear\", fixed_s = 1.0 }";
    run_trace(
        engine,
        "[[0.0, 1, 2], [1.0, 1, 1]]",
        1,
        &[
            (Some(0), Some(0.0), Some(1.0), 2.0),
            (Some(0), Some(1.0), Some(2.0), 2.0),
        ],
    );
}

#[test]
fn chunked_prefill_spreads_a_prompt_over_iterations() {
    // At most 4 prompt tokens per iteration. A (P=10) prefills 4, 4, 2; B
    // (P=3) is admitted in A's last chunk iteration with the 2 tokens left,
    // finishes its prompt next iteration. First token at the end of the
    // iteration that completes the prompt.
    let engine = "admission = \"reserve\"\nmax_batch = 8\nkv_capacity_tokens = 1000\nchunked_prefill_tokens = 4\nstep_time = { model = \"linear\", fixed_s = 1.0 }";
    run_trace(
        engine,
        "[[0.0, 10, 2], [0.0, 3, 1]]",
        1,
        &[
            (Some(0), Some(0.0), Some(3.0), 4.0),
            (Some(0), Some(2.0), Some(4.0), 4.0),
        ],
    );
}

#[test]
fn paged_admission_preempts_the_newest_and_recomputes() {
    // Blocks of 2 tokens, 8 tokens of KV (4 blocks); 1 s + 0.1 s per prefill token.
    // it1 [0,1.6]: A, B (P=3 each, 2 blocks each) prefill 6 tokens.
    // it2 [1.6,2.6]: contexts 4, 4 fit their blocks.
    // it3: A's context 5 needs a 3rd block: B (newest) is preempted with 2
    //      tokens produced; nothing new admitted. [2.6,3.6] A alone.
    // it4 [3.6,4.6]: B needs ceil(5/2)=3 blocks, only 1 free: waits. A ends (O=4).
    // it5 [4.6,6.1]: B readmitted, recomputes 3+2=5 tokens, makes its 3rd token.
    // it6 [6.1,7.1]: B's 4th token.
    let engine = "chunked_prefill_tokens = 0\nmax_batch = 8\nkv_capacity_tokens = 8\nadmission = \"paged\"\nkv_block_tokens = 2\nstep_time = { model = \"linear\", fixed_s = 1.0, prefill_per_token_s = 0.1 }";
    run_trace(
        engine,
        "[[0.0, 3, 4], [0.0, 3, 4]]",
        1,
        &[
            (Some(0), Some(0.0), Some(1.6), 4.6),
            (Some(0), Some(0.0), Some(1.6), 7.1),
        ],
    );
}

#[test]
fn a_request_larger_than_the_kv_cache_is_dropped_on_arrival() {
    let engine = "admission = \"reserve\"\nchunked_prefill_tokens = 0\nmax_batch = 8\nkv_capacity_tokens = 10\nstep_time = { model = \"linear\", fixed_s = 1.0 }";
    run_trace(
        engine,
        "[[0.0, 2, 2], [0.5, 8, 3]]",
        1,
        &[
            (Some(0), Some(0.0), Some(1.0), 2.0),
            (None, None, None, 0.5),
        ],
    );
}
