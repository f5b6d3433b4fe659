//! Nelder–Mead minimization of a function of a few variables, for fitting
//! model constants to measurements (no derivatives needed; the simulator
//! is not differentiable).

/// Minimizes `f` from `start` with initial steps `step` along each axis;
/// stops after `iterations` or when the simplex's values agree to 1e-10.
/// Returns (argmin, min).
pub fn nelder_mead(
    f: &dyn Fn(&[f64]) -> f64,
    start: &[f64],
    step: f64,
    iterations: usize,
) -> (Vec<f64>, f64) {
    let n = start.len();
    let mut simplex: Vec<(Vec<f64>, f64)> = (0..=n)
        .map(|i| {
            let mut x = start.to_vec();
            if i > 0 {
                x[i - 1] += step;
            }
            let v = f(&x);
            (x, v)
        })
        .collect();
    for _ in 0..iterations {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        if (simplex[n].1 - simplex[0].1).abs() < 1e-10 {
            break;
        }
        let mut centroid = vec![0.0; n];
        for (x, _) in &simplex[..n] {
            for k in 0..n {
                centroid[k] += x[k] / n as f64;
            }
        }
        let worst = simplex[n].0.clone();
        let at = |t: f64| -> Vec<f64> {
            (0..n)
                .map(|k| centroid[k] + t * (worst[k] - centroid[k]))
                .collect()
        };
        let r = at(-1.0);
        let fr = f(&r);
        if fr < simplex[0].1 {
            let e = at(-2.0);
            let fe = f(&e);
            simplex[n] = if fe < fr { (e, fe) } else { (r, fr) };
        } else if fr < simplex[n - 1].1 {
            simplex[n] = (r, fr);
        } else {
            let c = at(0.5);
            let fc = f(&c);
            if fc < simplex[n].1 {
                simplex[n] = (c, fc);
            } else {
                let best = simplex[0].0.clone();
                for p in simplex.iter_mut().skip(1) {
                    for (x, b) in p.0.iter_mut().zip(&best) {
                        *x = b + 0.5 * (*x - b);
                    }
                    p.1 = f(&p.0);
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    simplex.swap_remove(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_a_quadratic_in_three_and_five_dimensions() {
        let (x, v) = nelder_mead(
            &|x| (x[0] - 1.0).powi(2) + (x[1] + 2.0).powi(2) + (x[2] - 0.5).powi(2),
            &[0.0, 0.0, 0.0],
            0.5,
            500,
        );
        assert!(v < 1e-8, "{v}");
        for (a, b) in x.iter().zip([1.0, -2.0, 0.5]) {
            assert!((a - b).abs() < 1e-3, "{x:?}");
        }
        let target = [3.0, -1.0, 0.25, 2.0, -4.0];
        let (x, _) = nelder_mead(
            &|x| x.iter().zip(&target).map(|(a, b)| (a - b).powi(2)).sum(),
            &[0.0; 5],
            1.0,
            3000,
        );
        for (a, b) in x.iter().zip(target) {
            assert!((a - b).abs() < 1e-3, "{x:?}");
        }
    }
}
