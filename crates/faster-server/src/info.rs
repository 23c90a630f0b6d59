//! `INFO`: the server's and the store's state as `field:value` lines in sections (`server`,
//! `clients`, `stats`, `memory`, `persistence`), from the server's counters and the store's
//! statistics.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::commands::REDIS_VERSION;
use crate::state::Shared;

/// The sections `INFO` knows, in the order it writes them.
const SECTIONS: &[&str] = &["server", "clients", "stats", "memory", "persistence"];

/// The text of `INFO` with `asked` sections (none, `all`, `default` or `everything`: every
/// section). Takes the store's statistics, which scan its index: call off the runtime.
pub(crate) fn render(shared: &Shared, asked: &[Vec<u8>]) -> Vec<u8> {
    let asked: Vec<String> = asked
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let every = asked.is_empty()
        || asked
            .iter()
            .any(|a| a == "all" || a == "default" || a == "everything");
    let mut text = String::new();
    for section in SECTIONS {
        if !every && !asked.iter().any(|a| a == section) {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        let mut title = section.to_string();
        if let Some(first) = title.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        let _ = write!(text, "# {title}\r\n");
        for (field, value) in fields(shared, section) {
            let _ = write!(text, "{field}:{value}\r\n");
        }
    }
    text.into_bytes()
}

fn fields(shared: &Shared, section: &str) -> Vec<(&'static str, String)> {
    let load = |n: &std::sync::atomic::AtomicU64| n.load(Ordering::Relaxed).to_string();
    match section {
        "server" => vec![
            ("redis_version", REDIS_VERSION.to_owned()),
            ("faster_rs_version", env!("CARGO_PKG_VERSION").to_owned()),
            ("redis_mode", "standalone".to_owned()),
            ("os", std::env::consts::OS.to_owned()),
            ("process_id", std::process::id().to_string()),
            ("tcp_port", shared.local_addr.port().to_string()),
            (
                "uptime_in_seconds",
                shared.started.elapsed().as_secs().to_string(),
            ),
            ("store_workers", shared.shards.len().to_string()),
        ],
        "clients" => vec![
            (
                "connected_clients",
                shared.clients.load(Ordering::Relaxed).to_string(),
            ),
            ("maxclients", shared.config.max_clients.to_string()),
        ],
        "stats" => {
            let stats = shared.store.stats();
            vec![
                (
                    "total_connections_received",
                    load(&shared.connections_received),
                ),
                ("total_commands_processed", load(&shared.commands_processed)),
                ("rejected_connections", load(&shared.connections_rejected)),
                ("store_reads", stats.reads.to_string()),
                ("store_reads_found", stats.reads_found.to_string()),
                ("store_upserts", stats.upserts.to_string()),
                ("store_rmws", stats.rmws.to_string()),
                ("store_deletes", stats.deletes.to_string()),
                ("store_in_place_updates", stats.in_place_updates.to_string()),
                ("store_appends", stats.appends.to_string()),
                ("store_pending", stats.pending.to_string()),
                ("store_device_reads", stats.device_reads.to_string()),
                ("store_retries", stats.retries.to_string()),
            ]
        }
        "memory" => {
            let memory = shared.store.memory();
            let regions = shared.store.regions();
            let used = memory
                .log_bytes
                .saturating_add(memory.index_bytes)
                .saturating_add(memory.read_cache_bytes);
            vec![
                ("used_memory", used.to_string()),
                ("store_log_budget", memory.log_budget.to_string()),
                ("store_log_bytes", memory.log_bytes.to_string()),
                ("store_index_bytes", memory.index_bytes.to_string()),
                (
                    "store_read_cache_bytes",
                    memory.read_cache_bytes.to_string(),
                ),
                ("store_log_begin", regions.begin.raw().to_string()),
                ("store_log_head", regions.head.raw().to_string()),
                ("store_log_tail", regions.tail.raw().to_string()),
            ]
        }
        _ => {
            let stats = shared.store.stats();
            let saving = shared.saving.load(Ordering::Relaxed);
            let mut fields = vec![
                ("loading", "0".to_owned()),
                ("rdb_bgsave_in_progress", u8::from(saving).to_string()),
                ("rdb_last_save_time", load(&shared.last_save)),
                (
                    "store_checkpoints_completed",
                    stats.checkpoints.completed.to_string(),
                ),
                (
                    "store_checkpoints_failed",
                    stats.checkpoints.failed.to_string(),
                ),
                ("aof_enabled", u8::from(shared.aof.is_some()).to_string()),
            ];
            if let Some(aof) = &shared.aof {
                fields.extend(aof.info());
            }
            fields
        }
    }
}
