//! Keeping an etcd lease alive: the node agent's registration lease and the assigner's election
//! lease are kept by the same loop, which differs only in how early it gives up.

use std::time::Duration;

use etcd_client::Client;
use tokio::time::Instant;

/// Pause before reopening a broken keep-alive stream.
const REOPEN_PAUSE: Duration = Duration::from_millis(50);

/// Why a kept lease ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseEnd {
    /// No keep-alive was acknowledged before the local deadline.
    NotAcknowledged,
    /// etcd answered TTL 0: the lease is gone (revoked or expired).
    Revoked,
}

/// Keeps `lease_id` (granted at `granted_at` with `ttl`) alive, a keep-alive every third of the TTL,
/// until it is lost. The local deadline is the last acknowledged keep-alive's send time plus the
/// granted TTL minus `safety_margin`: etcd cannot expire the lease sooner than a TTL after it
/// received that keep-alive, so a holder that stops at the deadline has stopped before anyone else
/// can be given what the lease guarded. A broken stream (etcd restarting, a reset connection) is
/// reopened at once; the deadline still bounds how long it is retried.
pub async fn keep_lease_alive(
    client: Client,
    lease_id: i64,
    ttl: Duration,
    granted_at: Instant,
    safety_margin: Duration,
) -> LeaseEnd {
    let interval = ttl / 3;
    let mut deadline = granted_at + ttl.saturating_sub(safety_margin);
    let mut stream = None;
    loop {
        let sent_at = Instant::now();
        let attempt = async {
            if stream.is_none() {
                stream = Some(client.lease_client().keep_alive(lease_id).await?);
            }
            let (keeper, answers) = stream.as_mut().expect("opened above");
            keeper.keep_alive().await?;
            answers.message().await
        };
        match tokio::time::timeout_at(deadline, attempt).await {
            Err(_elapsed) => return LeaseEnd::NotAcknowledged,
            Ok(Ok(Some(answer))) if answer.ttl() > 0 => {
                let granted = Duration::from_secs(answer.ttl().unsigned_abs());
                deadline = sent_at + granted.saturating_sub(safety_margin);
            }
            Ok(Ok(Some(_))) => return LeaseEnd::Revoked,
            Ok(Ok(None) | Err(_)) => {
                stream = None;
                tokio::time::sleep(REOPEN_PAUSE).await;
                continue;
            }
        }
        tokio::time::sleep_until((sent_at + interval).min(deadline)).await;
    }
}
