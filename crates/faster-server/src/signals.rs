//! SIGINT and SIGTERM as a shutdown request.

use tokio::signal::unix::{SignalKind, signal};

/// Completes at the first SIGINT or SIGTERM when `enabled`; never otherwise. Once it has
/// completed it must not be polled again.
pub(crate) async fn wait(enabled: bool) {
    if !enabled {
        return std::future::pending().await;
    }
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut interrupt), Ok(mut terminate)) => {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!("faster-server: cannot listen for signals: {e}");
            std::future::pending().await
        }
    }
}
