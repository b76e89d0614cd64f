//! The post transforms of the tree ensemble operators (`post_transform`),
//! applied to a row's scores once the base values are added.

/// What is applied to a row's scores after the base values are added
/// (`post_transform`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostTransform {
    None,
    /// The logistic function of each score.
    Logistic,
    /// The softmax over the row's scores.
    Softmax,
    /// The softmax over the row's non-zero scores; zeros stay zero.
    SoftmaxZero,
    /// The inverse of the standard normal distribution function of each
    /// score.
    Probit,
}

impl PostTransform {
    /// Applies the transform to one row's scores in place.
    pub fn apply(self, scores: &mut [f64]) {
        match self {
            PostTransform::None => {}
            PostTransform::Logistic => scores.iter_mut().for_each(|s| *s = logistic(*s)),
            PostTransform::Softmax => softmax(scores, false),
            PostTransform::SoftmaxZero => softmax(scores, true),
            PostTransform::Probit => scores.iter_mut().for_each(|s| *s = probit(*s)),
        }
    }
}

pub(super) fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn softmax(scores: &mut [f64], keep_zeros: bool) {
    let counted = |s: &f64| !(keep_zeros && *s == 0.0);
    let max = scores
        .iter()
        .filter(|s| counted(s))
        .fold(f64::NEG_INFINITY, |m, s| m.max(*s));
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        if counted(s) {
            *s = (*s - max).exp();
            sum += *s;
        }
    }
    if sum > 0.0 {
        scores.iter_mut().for_each(|s| *s /= sum);
    }
}

/// The quantile of the standard normal distribution at `p`: the `x` with
/// Φ(x) = p, found by bisection safeguarded Newton steps on
/// Φ(x) = erfc(−x/√2)/2, which converge to the last bit in a few steps.
fn probit(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let cdf = |x: f64| 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2);
    let density = |x: f64| (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let (mut low, mut high) = (-40.0_f64, 40.0_f64);
    // A logistic approximation of the quantile as the first guess.
    let mut x = ((p / (1.0 - p)).ln() * (std::f64::consts::PI / 8.0).sqrt()).clamp(low, high);
    for _ in 0..100 {
        let error = cdf(x) - p;
        if error == 0.0 {
            break;
        }
        if error > 0.0 {
            high = x;
        } else {
            low = x;
        }
        let step = error / density(x);
        let next = x - step;
        let next = if next.is_finite() && next > low && next < high {
            next
        } else {
            0.5 * (low + high)
        };
        if (next - x).abs() <= f64::EPSILON * x.abs().max(1e-300) {
            x = next;
            break;
        }
        x = next;
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_transforms_follow_their_definitions() {
        let mut s = [0.0, 2.0];
        PostTransform::Logistic.apply(&mut s);
        assert_eq!(s[0], 0.5);
        assert!((s[1] - 0.880_797_077_977_882_3).abs() < 1e-15);

        let mut s = [1.0, 0.0, 3.0];
        PostTransform::SoftmaxZero.apply(&mut s);
        assert_eq!(s[1], 0.0);
        assert!((s[0] + s[2] - 1.0).abs() < 1e-15);
        let mut t = [1.0, 0.0, 3.0];
        PostTransform::Softmax.apply(&mut t);
        assert!(t[1] > 0.0 && (t.iter().sum::<f64>() - 1.0).abs() < 1e-15);

        // Quantiles of the standard normal distribution.
        for (p, x) in [
            (0.5, 0.0),
            (0.975, 1.959_963_984_540_054),
            (0.025, -1.959_963_984_540_054),
            (1e-10, -6.361_340_902_404_056),
        ] {
            let mut s = [p];
            PostTransform::Probit.apply(&mut s);
            assert!(
                (s[0] - x).abs() <= 1e-12 * x.abs().max(1.0),
                "probit({p}) = {}",
                s[0]
            );
        }
        let mut edge = [0.0, 1.0, 1.5];
        PostTransform::Probit.apply(&mut edge);
        assert_eq!(edge[0], f64::NEG_INFINITY);
        assert_eq!(edge[1], f64::INFINITY);
        assert!(edge[2].is_nan());
    }
}
