//! Fresh identities for new logs and stores (rule D8): 128 random bits from the operating
//! system.

use std::sync::atomic::{AtomicU64, Ordering};

/// A new identity: 128 bits from the operating system's random source. Should that source
/// fail (it does not on any supported Linux), the bits are hashed from the time, the process
/// id and a per-process counter instead, which still differ between any two calls.
pub fn fresh_identity() -> u128 {
    let mut bytes = [0u8; 16];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u128::from_le_bytes(bytes),
        Err(e) => {
            tracing::warn!(
                "no random bytes from the operating system ({e}); identity from the clock"
            );
            fallback_identity()
        }
    }
}

fn fallback_identity() -> u128 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut seed = Vec::with_capacity(32);
    seed.extend_from_slice(&nanos.to_le_bytes());
    seed.extend_from_slice(&std::process::id().to_le_bytes());
    seed.extend_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let low = twox_hash::XxHash3_64::oneshot_with_seed(1, &seed);
    let high = twox_hash::XxHash3_64::oneshot_with_seed(2, &seed);
    (u128::from(high) << 64) | u128::from(low)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_differ_from_call_to_call() {
        assert_ne!(fresh_identity(), fresh_identity());
        assert_ne!(fallback_identity(), fallback_identity());
    }
}
