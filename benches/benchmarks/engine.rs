//! One replication of the reference engine (docs/model.md §3, linear step model,
//! `reserve` admission) for one simulated hour, lognormal lengths (prompt
//! median 512, σ 0.8; output median 200, σ 1.0):
//! - 20 req/s on 1 replica,
//! - 160 req/s on 8 replicas (overloaded: the queue grows all hour),
//! - 112 req/s on 8 replicas (sustainable),
//! - bursty MMPP traffic on an autoscaled fleet with API overflow;
//!
//! and the default engine (engine-faithful scheduler, calibrated step model,
//! Llama-3.1-70B FP8 on 2 x H100) on the same lengths at a sustainable
//! load (~9 req/s per replica, mean batch ~80).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group};
use fleetsim::scenario::{Scenario, parse};
use fleetsim::simulation::{SimOptions, simulate};

pub fn reference(rate: f64, replicas: u32, horizon: &str) -> Scenario {
    let text = format!(
        r#"name = "bench"
horizon = "{horizon}"
[workload]
arrivals = {{ process = "poisson", rate = {rate} }}
prompt_tokens = {{ dist = "lognormal", median = 512, sigma = 0.8, min = 1, max = 32768 }}
output_tokens = {{ dist = "lognormal", median = 200, sigma = 1.0, min = 1, max = 4096 }}
[engine]
admission = "reserve"
chunked_prefill_tokens = 0
max_batch = 256
kv_capacity_tokens = 1_000_000
step_time = {{ model = "linear", fixed_s = 0.005, prefill_per_token_s = 2e-5, decode_per_seq_s = 1e-4, kv_per_token_s = 2e-8 }}
[[strategy]]
pools = [ {{ kind = "reserved", replicas = {replicas}, price_per_gpu_hour = 2.0 }} ]
"#
    );
    parse(&text, "bench", &mut |_| Err("no files".into())).expect("bench scenario parses")
}

/// The reference engine under bursty traffic (MMPP, ~107 req/s mean) with
/// a reserved base of 4 replicas, up to 6 autoscaled on-demand replicas and
/// API overflow after 30 s in queue.
pub fn autoscaled(horizon: &str) -> Scenario {
    let text = format!(
        r#"name = "bench-autoscaled"
horizon = "{horizon}"
[workload]
arrivals = {{ process = "mmpp", rates = [200.0, 60.0], mean_sojourn = ["2m", "4m"] }}
prompt_tokens = {{ dist = "lognormal", median = 512, sigma = 0.8, min = 1, max = 32768 }}
output_tokens = {{ dist = "lognormal", median = 200, sigma = 1.0, min = 1, max = 4096 }}
[engine]
admission = "reserve"
chunked_prefill_tokens = 0
max_batch = 256
kv_capacity_tokens = 1_000_000
step_time = {{ model = "linear", fixed_s = 0.005, prefill_per_token_s = 2e-5, decode_per_seq_s = 1e-4, kv_per_token_s = 2e-8 }}
[slo]
max_queue = "30s"
[[strategy]]
overflow = "api"
autoscale = {{ interval = "10s", target_inflight_per_replica = 128, scale_down_delay = "2m" }}
pools = [
  {{ kind = "reserved", replicas = 4, price_per_gpu_hour = 2.0 }},
  {{ kind = "on_demand", min_replicas = 0, max_replicas = 6, price_per_gpu_hour = 3.0, provisioning = {{ uniform = [60.0, 120.0] }}, load_time = 30 }},
]
"#
    );
    parse(&text, "bench", &mut |_| Err("no files".into())).expect("bench scenario parses")
}

/// The default engine (`admission = "vllm"`, calibrated step model) with
/// the same lengths, `rate` req/s over `replicas` replicas.
pub fn engine_faithful(rate: f64, replicas: u32, horizon: &str) -> Scenario {
    let text = format!(
        r#"name = "bench-vllm"
horizon = "{horizon}"
[workload]
arrivals = {{ process = "poisson", rate = {rate} }}
prompt_tokens = {{ dist = "lognormal", median = 512, sigma = 0.8, min = 1, max = 32768 }}
output_tokens = {{ dist = "lognormal", median = 200, sigma = 1.0, min = 1, max = 4096 }}
[engine]
admission = "vllm"
max_num_batched_tokens = 8192
step_time = {{ model = "calibrated" }}
[[strategy]]
pools = [ {{ kind = "reserved", replicas = {replicas}, price_per_gpu_hour = 2.0 }} ]
"#
    );
    parse(&text, "bench", &mut |_| Err("no files".into())).expect("bench scenario parses")
}

fn bench_case(c: &mut Criterion, name: &str, rate: f64, replicas: u32) {
    bench_scenario(c, name, reference(rate, replicas, "1h"));
}

fn bench_scenario(c: &mut Criterion, name: &str, s: Scenario) {
    let draws = Default::default();
    let opts = SimOptions::default();
    let requests = simulate(&s, 0, &draws, 42, 0, &opts, &mut ())
        .by_name("requests_arrived")
        .unwrap();
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(requests as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function(name, |b| {
        b.iter(|| black_box(simulate(&s, 0, &draws, 42, 0, &opts, &mut ())))
    });
    g.finish();
}

fn engine_benches(c: &mut Criterion) {
    bench_case(c, "reference_20rps_1replica_1h", 20.0, 1);
    bench_case(c, "reference_160rps_8replicas_1h", 160.0, 8);
    // 160 req/s overloads 8 reference replicas (the queue grows all hour);
    // 112 req/s is the same engine at a sustainable load (ρ ≈ 0.9).
    bench_case(c, "reference_112rps_8replicas_1h_sustainable", 112.0, 8);
    bench_scenario(c, "autoscaled_bursty_107rps_1h", autoscaled("1h"));
    bench_scenario(
        c,
        "engine_faithful_9rps_1replica_1h",
        engine_faithful(9.0, 1, "1h"),
    );
    bench_scenario(
        c,
        "engine_faithful_72rps_8replicas_1h",
        engine_faithful(72.0, 8, "1h"),
    );
}

criterion_group!(engine, engine_benches);
