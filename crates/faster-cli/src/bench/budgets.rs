//! `--memory-fraction`: the whole plan once per memory budget, each a multiple of the loaded
//! data's size — by default once in memory and once larger than memory, the case FASTER
//! exists for.

use super::{BenchArgs, log_budget};

/// The log's memory budget at least, in memory: small stores get pages enough for
/// their load to run at full speed.
const IN_MEMORY_FLOOR: u64 = 64 << 20;

/// The benchmark's settings for each plan to run: one per `--memory-fraction`, or the
/// arguments as they are when the budget is given (`--memory-budget`), when
/// `--checkpoint-every` sets its own, and in a peer's child process (which gets the budget
/// from its parent).
///
/// # Errors
/// A fraction that is not a positive number.
pub(super) fn plans(args: &BenchArgs) -> Result<Vec<BenchArgs>, String> {
    if args.child_peer.is_some() || args.memory_budget.is_some() || args.checkpoint_every.is_some()
    {
        return Ok(vec![args.clone()]);
    }
    if args.memory_fraction.is_empty() {
        return Err("--memory-fraction needs at least one fraction".into());
    }
    let data = log_budget(args).data_bytes;
    let page = 1u64 << args.page_size_bits.min(40);
    args.memory_fraction
        .iter()
        .map(|&fraction| {
            if !(fraction.is_finite() && fraction > 0.0) {
                return Err(format!(
                    "--memory-fraction {fraction}: a fraction must be a positive number"
                ));
            }
            let bytes = (data as f64 * fraction) as u64;
            // The store needs 4 pages at least; in memory, room for the load.
            let floor = if fraction >= 1.0 {
                IN_MEMORY_FLOOR
            } else {
                4 * page
            };
            Ok(BenchArgs {
                memory_budget: Some(bytes.max(floor)),
                memory_fraction: vec![fraction],
                ..args.clone()
            })
        })
        .collect()
}

/// What a plan's header line says about its memory: the budget, what it is of the data, and
/// whether the data fits.
pub(super) fn describe(args: &BenchArgs) -> String {
    let budget = log_budget(args);
    let of_data = budget.memory_bytes as f64 / budget.data_bytes.max(1) as f64;
    let mut text = format!(
        "memory budget {:.1} MiB of log pages, {of_data:.2} × the {:.1} MiB of loaded records: {}",
        budget.memory_bytes as f64 / f64::from(1 << 20),
        budget.data_bytes as f64 / f64::from(1 << 20),
        if of_data >= 1.0 {
            "in memory"
        } else {
            "larger than memory"
        }
    );
    if let ([asked], None) = (args.memory_fraction.as_slice(), args.checkpoint_every)
        && *asked < 1.0
        && of_data > asked * 1.01
    {
        text.push_str(&format!(
            " (asked: {asked} ×; the log needs 4 pages of 2^{} bytes: a lower --page-size-bits \
             keeps the fraction)",
            args.page_size_bits
        ));
    }
    text
}
