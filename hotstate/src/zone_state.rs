//! `ZoneState:<zone>`: the newest [`ZoneSnapshot`] of a zone, as a Redis hash of two fields, `token`
//! (the writer's fencing token, in decimal so the script can compare it) and `state` (the flatbuffers
//! blob). `save` runs one Lua script that compares the tokens and writes, so two owners racing (the
//! old one not yet aware it lost the zone) cannot interleave: the older token is refused.
//!
//! No TTL: the number of zones is bounded, a zone's key is overwritten every few seconds while it
//! runs, and a state is only useful while it is the newest.

use redis::Script;

use crate::link::RedisLink;
use crate::snapshot::ZoneSnapshot;
use crate::{HotStateError, token_arg};

pub const ZONE_STATE_KEY_PREFIX: &str = "ZoneState:";

/// KEYS[1] zone key; ARGV: token, blob. Returns {'1'} when written, {'0', stored_token} when fenced.
const SAVE_SCRIPT: &str = r"
local stored = redis.call('HGET', KEYS[1], 'token')
if stored then
  local older = (#ARGV[1] < #stored) or (#ARGV[1] == #stored and ARGV[1] < stored)
  if older then return {'0', stored} end
end
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'state', ARGV[2])
return {'1'}
";

/// The zone state store (see the module comment).
#[derive(Clone, Debug)]
pub struct ZoneStateStore {
    link: RedisLink,
    save: Script,
}

impl ZoneStateStore {
    pub fn new(link: RedisLink) -> Self {
        Self {
            link,
            save: Script::new(SAVE_SCRIPT),
        }
    }

    pub fn key(zone_id: u32) -> String {
        format!("{ZONE_STATE_KEY_PREFIX}{zone_id}")
    }

    /// Encodes and writes `snapshot` unless a newer token is stored (then `Fenced`: this process no
    /// longer owns the zone). The snapshot must name `zone_id` and `fencing_token`.
    pub async fn save(&self, zone_id: u32, fencing_token: u64, snapshot: &ZoneSnapshot) -> Result<(), HotStateError> {
        if snapshot.zone_id != zone_id || snapshot.fencing_token != fencing_token {
            return Err(HotStateError::InvalidArgument(format!(
                "snapshot of zone {} token {} saved as zone {zone_id} token {fencing_token}",
                snapshot.zone_id, snapshot.fencing_token
            )));
        }
        let blob = snapshot.encode()?;
        self.save_encoded(zone_id, fencing_token, &blob).await
    }

    /// Writes an already encoded blob (the writer encodes off the caller's thread).
    pub(crate) async fn save_encoded(
        &self,
        zone_id: u32,
        fencing_token: u64,
        blob: &[u8],
    ) -> Result<(), HotStateError> {
        let key = Self::key(zone_id);
        let reply: Vec<String> = self
            .link
            .run(|mut conn| {
                let key = key.clone();
                async move {
                    self.save
                        .key(key)
                        .arg(token_arg(fencing_token))
                        .arg(blob)
                        .invoke_async(&mut conn)
                        .await
                }
            })
            .await?;
        match reply.as_slice() {
            [code] if code == "1" => Ok(()),
            [code, stored] if code == "0" => Err(HotStateError::Fenced {
                stored_zone: zone_id,
                stored_token: stored.parse().map_err(|_| HotStateError::Corrupt {
                    key: key.clone(),
                    reason: format!("stored token {stored:?} is not a number"),
                })?,
                offered_token: fencing_token,
            }),
            _ => Err(HotStateError::Corrupt {
                key,
                reason: format!("unexpected script reply {reply:?}"),
            }),
        }
    }

    /// The newest saved state of the zone, or `None` (never saved). `Unavailable` when Redis is
    /// down: the zone then restores from Postgres or its initial state.
    pub async fn load(&self, zone_id: u32) -> Result<Option<ZoneSnapshot>, HotStateError> {
        let key = Self::key(zone_id);
        let (token, blob): (Option<String>, Option<Vec<u8>>) = self
            .link
            .run(|mut conn| {
                let key = key.clone();
                async move {
                    redis::cmd("HMGET")
                        .arg(key)
                        .arg(&["token", "state"][..])
                        .query_async(&mut conn)
                        .await
                }
            })
            .await?;
        let (token, blob) = match (token, blob) {
            (None, None) => return Ok(None),
            (Some(token), Some(blob)) => (token, blob),
            _ => {
                return Err(HotStateError::Corrupt {
                    key,
                    reason: "one of the fields token, state is missing".into(),
                });
            }
        };
        let snapshot = ZoneSnapshot::decode(&blob).map_err(|error| HotStateError::Corrupt {
            key: key.clone(),
            reason: error.to_string(),
        })?;
        if snapshot.zone_id != zone_id || token != snapshot.fencing_token.to_string() {
            return Err(HotStateError::Corrupt {
                key,
                reason: format!(
                    "blob of zone {} token {} stored under token {token}",
                    snapshot.zone_id, snapshot.fencing_token
                ),
            });
        }
        Ok(Some(snapshot))
    }

    /// The token stored for the zone, for tests and diagnostics.
    pub async fn stored_token(&self, zone_id: u32) -> Result<Option<u64>, HotStateError> {
        let key = Self::key(zone_id);
        let token: Option<String> = self
            .link
            .run(|mut conn| {
                let key = key.clone();
                async move { redis::cmd("HGET").arg(key).arg("token").query_async(&mut conn).await }
            })
            .await?;
        token
            .map(|token| {
                token.parse().map_err(|_| HotStateError::Corrupt {
                    key: key.clone(),
                    reason: format!("stored token {token:?} is not a number"),
                })
            })
            .transpose()
    }
}
