//! Key expiry: `EXPIRE` and its variants, `TTL` and its variants, `PERSIST`, as operations a
//! store worker runs on one key. The expiry is the store's own (`faster_kv::Expiring`): an
//! expired key reads as absent everywhere and its record goes with the next compaction.

use faster_kv::{Expiring, OpError, Rmw, now_millis};

use crate::aof::PostImages;
use crate::keyops::{Value, Worker, present};
use crate::resp::Frame;

/// The condition of an `EXPIRE` (Redis 7's `NX`, `XX`, `GT`, `LT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExpireCond {
    /// Always.
    Always,
    /// Only when the key has no expiry.
    NoExpiry,
    /// Only when the key has one.
    HasExpiry,
    /// Only when the new expiry is later (no expiry counts as infinitely late).
    Later,
    /// Only when the new expiry is earlier (no expiry counts as infinitely late).
    Earlier,
}

/// Which of the four time commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeReply {
    /// `TTL`: seconds left, rounded.
    Seconds,
    /// `PTTL`: milliseconds left.
    Millis,
    /// `EXPIRETIME`: the expiry in seconds since the epoch.
    UnixSeconds,
    /// `PEXPIRETIME`: the expiry in milliseconds since the epoch.
    UnixMillis,
}

/// Sets the expiry of `key` to `at` when `cond` allows; 1 when it did, 0 when the key is
/// absent or the condition declined. An expiry in the past expires the key at once.
pub(crate) fn expire(
    p: &mut Worker<'_>,
    key: &[u8],
    at: u64,
    cond: ExpireCond,
    post: &mut PostImages,
) -> Result<Frame, OpError> {
    let mut rmw = SetExpiry {
        at: Some(at),
        cond,
        set: false,
    };
    if let Some(stored) = p.rmw(key, &mut rmw)? {
        post.put(key, &stored);
    }
    Ok(present(rmw.set))
}

/// Removes the expiry of `key`; 1 when it had one.
pub(crate) fn persist(
    p: &mut Worker<'_>,
    key: &[u8],
    post: &mut PostImages,
) -> Result<Frame, OpError> {
    let mut rmw = SetExpiry {
        at: None,
        cond: ExpireCond::HasExpiry,
        set: false,
    };
    if let Some(stored) = p.rmw(key, &mut rmw)? {
        post.put(key, &stored);
    }
    Ok(present(rmw.set))
}

/// -2 when `key` is absent, -1 when it has no expiry, else its expiry as `reply` asks.
pub(crate) fn time(p: &mut Worker<'_>, key: &[u8], reply: TimeReply) -> Result<Frame, OpError> {
    let Some(value) = p.read(key)? else {
        return Ok(Frame::Integer(-2));
    };
    let Some(at) = value.expires_at else {
        return Ok(Frame::Integer(-1));
    };
    let left = at.saturating_sub(now_millis());
    let n = match reply {
        TimeReply::Seconds => left.saturating_add(500) / 1000,
        TimeReply::Millis => left,
        TimeReply::UnixSeconds => at / 1000,
        TimeReply::UnixMillis => at,
    };
    Ok(Frame::Integer(i64::try_from(n).unwrap_or(i64::MAX)))
}

/// Replaces a present key's expiry by `at` (`None`: no expiry) when `cond` allows.
struct SetExpiry {
    at: Option<u64>,
    cond: ExpireCond,
    set: bool,
}

impl Rmw<Value> for &mut SetExpiry {
    fn apply(&mut self, current: Option<&Value>) -> Option<Value> {
        self.set = false;
        let current = current?;
        let old = current.expires_at;
        let new = self.at;
        // `None` is "never", later than any moment.
        let later = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => a > b,
            (None, Some(_)) => true,
            _ => false,
        };
        let allowed = match self.cond {
            ExpireCond::Always => true,
            ExpireCond::NoExpiry => old.is_none(),
            ExpireCond::HasExpiry => old.is_some(),
            ExpireCond::Later => later(new, old),
            ExpireCond::Earlier => later(old, new),
        };
        if !allowed {
            return None;
        }
        self.set = true;
        Some(Expiring {
            value: current.value.clone(),
            expires_at: new,
        })
    }
}

/// A time argument out of range for its command (`ERR invalid expire time in '<command>'
/// command`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidTime;

/// The absolute expiry, in milliseconds since the epoch, of the time argument `n` in units of
/// `unit_ms` milliseconds, relative to now or absolute; `positive` refuses `n <= 0` (as
/// `SET` and `SETEX` do). A moment before the epoch becomes 1, which has passed.
pub(crate) fn expiry_of(
    n: i64,
    unit_ms: i64,
    relative: bool,
    positive: bool,
) -> Result<u64, InvalidTime> {
    if positive && n <= 0 {
        return Err(InvalidTime);
    }
    let ms = n.checked_mul(unit_ms).ok_or(InvalidTime)?;
    let at = if relative {
        let now = i64::try_from(now_millis()).unwrap_or(i64::MAX);
        ms.checked_add(now).ok_or(InvalidTime)?
    } else {
        ms
    };
    Ok(u64::try_from(at).unwrap_or(0).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_become_absolute_milliseconds_and_out_of_range_ones_are_refused() {
        let now = now_millis();
        let at = expiry_of(10, 1000, true, true).unwrap();
        assert!(at >= now + 10_000 && at < now + 11_000, "{at} vs {now}");
        assert_eq!(
            expiry_of(1_700_000_000, 1000, false, true),
            Ok(1_700_000_000_000)
        );
        assert!(expiry_of(-5, 1000, true, false).unwrap() < now_millis());
        assert_eq!(expiry_of(-5, 1000, false, false), Ok(1));
        assert_eq!(expiry_of(0, 1000, true, true), Err(InvalidTime));
        assert_eq!(
            expiry_of(i64::MAX / 999, 1000, true, false),
            Err(InvalidTime)
        );
        assert_eq!(expiry_of(i64::MAX - 1, 1, true, false), Err(InvalidTime));
    }
}
