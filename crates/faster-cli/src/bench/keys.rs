//! Key choice for the benchmark: a fast per-thread generator, uniform ranks, and YCSB's
//! scrambled zipfian ranks (Gray et al., "Quickly generating billion-record synthetic
//! databases"), so that hot keys are spread over the key space rather than clustered.

/// xorshift64*: a fast, fixed-seed generator (benchmarks must repeat).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A float in [0, 1).
    #[inline]
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n).
    #[inline]
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// Precomputed constants of a zipfian distribution over `n` items.
#[derive(Debug, Clone)]
pub(crate) struct Zipf {
    n: u64,
    theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
    half_pow_theta: f64,
}

impl Zipf {
    /// A zipfian over `n >= 2` items with skew `theta` (0.99 in YCSB).
    pub(crate) fn new(n: u64, theta: f64) -> Self {
        let zeta = |count: u64| {
            (1..=count)
                .map(|i| 1.0 / (i as f64).powf(theta))
                .sum::<f64>()
        };
        let zetan = zeta(n);
        let zeta2 = zeta(2);
        Self {
            n,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            eta: (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta2 / zetan),
            half_pow_theta: 0.5f64.powf(theta),
        }
    }

    /// A rank in [0, n): 0 is the most popular.
    #[inline]
    pub(crate) fn rank(&self, rng: &mut Rng) -> u64 {
        let u = rng.next_f64();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + self.half_pow_theta {
            return 1;
        }
        let rank = (self.n as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        rank.min(self.n - 1)
    }

    pub(crate) fn theta(&self) -> f64 {
        self.theta
    }
}

/// FNV-1a over the rank's bytes: the YCSB scramble that turns a popularity rank into a key.
#[inline]
pub(crate) fn scramble(rank: u64, n: u64) -> u64 {
    let mut hash = 0xCBF2_9CE4_8422_2325u64;
    for byte in rank.to_le_bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01B3);
    }
    hash % n
}

/// How operations pick keys.
#[derive(Debug, Clone)]
pub(crate) enum Distribution {
    Uniform,
    Zipfian(Zipf),
}

impl Distribution {
    #[inline]
    pub(crate) fn key(&self, rng: &mut Rng, n: u64) -> u64 {
        match self {
            Self::Uniform => rng.below(n),
            Self::Zipfian(z) => scramble(z.rank(rng), n),
        }
    }

    pub(crate) fn name(&self) -> String {
        match self {
            Self::Uniform => "uniform".into(),
            Self::Zipfian(z) => format!("zipf {}", z.theta()),
        }
    }
}

/// The keys `0..n` in a shuffled order (Fisher–Yates, fixed seed): the load order.
pub(crate) fn shuffled(n: u64, seed: u64) -> Vec<u64> {
    let mut keys: Vec<u64> = (0..n).collect();
    let mut rng = Rng::new(seed);
    for i in (1..keys.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        keys.swap(i, j);
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_is_skewed_and_scrambled_keys_stay_in_range() {
        let n = 100_000;
        let zipf = Zipf::new(n, 0.99);
        let mut rng = Rng::new(7);
        let mut top = 0;
        for _ in 0..100_000 {
            let rank = zipf.rank(&mut rng);
            assert!(rank < n);
            if rank < 10 {
                top += 1;
            }
            assert!(scramble(rank, n) < n);
        }
        // With theta 0.99 the ten hottest of 100k items draw about a quarter of the picks.
        assert!((15_000..40_000).contains(&top), "top-10 share {top}");
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut keys = shuffled(10_000, 3);
        assert_ne!(keys[..10], (0..10).collect::<Vec<_>>()[..]);
        keys.sort_unstable();
        assert_eq!(keys, (0..10_000).collect::<Vec<_>>());
    }
}
