//! `Session:<token-id>`: who a connect token belongs to and where it plays, so the node that takes a
//! zone over after a failover can resume the session without a new login.
//!
//! Stored as a Redis hash (readable with `redis-cli HGETALL`) with a TTL that `refresh` extends
//! while the player is connected. Every write runs in a Lua script that compares fencing tokens on
//! the server: a write for the zone the record names, carrying an older token than the stored one,
//! is refused (a stale owner of that zone). A write for another zone is a handoff or a new login and
//! is accepted; `refresh` and `delete` must name the stored zone (a node that no longer serves the
//! session cannot keep it alive or end it).

use std::time::Duration;

use redis::Script;

use crate::link::RedisLink;
use crate::{HotStateError, token_arg};

pub const SESSION_KEY_PREFIX: &str = "Session:";
/// Longest session TTL accepted; a session lives as long as it is refreshed, and a day bounds what
/// an abandoned record costs.
const SESSION_TTL_MAX: Duration = Duration::from_secs(24 * 3600);

/// What `Session:<token-id>` holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub character_id: u64,
    pub account_id: i64,
    /// The node serving the session (its registry id).
    pub node_id: String,
    pub zone_id: u32,
    /// The protocol session id (`ConnectToken::session_id`).
    pub session_id: u64,
    /// The zone's fencing token (assignment revision) of the writer.
    pub fencing_token: u64,
}

// Tokens compare as decimal strings, length first (no leading zeros), so u64 tokens stay exact.
const LUA_OLDER: &str = r"
local function older(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end
";

/// KEYS[1] session key; ARGV: zone, token, ttl_ms, character, account, node, session.
/// Returns {1} when written, {0, stored_zone, stored_token} when fenced.
const PUT_SCRIPT: &str = r"
local stored = redis.call('HMGET', KEYS[1], 'zone', 'token')
if stored[1] and stored[1] == ARGV[1] and older(ARGV[2], stored[2]) then
  return {'0', stored[1], stored[2]}
end
redis.call('HSET', KEYS[1], 'zone', ARGV[1], 'token', ARGV[2], 'character', ARGV[4], 'account', ARGV[5],
  'node', ARGV[6], 'session', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'1'}
";

/// KEYS[1] session key; ARGV: zone, token, ttl_ms (empty: delete). Returns {1} done, {2} missing,
/// {0, stored_zone, stored_token} fenced (another zone holds it, or a newer token of this zone).
const TOUCH_SCRIPT: &str = r"
local stored = redis.call('HMGET', KEYS[1], 'zone', 'token')
if not stored[1] then return {'2'} end
if stored[1] ~= ARGV[1] or older(ARGV[2], stored[2]) then
  return {'0', stored[1], stored[2]}
end
if ARGV[3] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {'1'}
";

/// Sessions in Redis (see the module comment for the fencing rules).
#[derive(Clone, Debug)]
pub struct SessionStore {
    link: RedisLink,
    ttl: Duration,
    put: Script,
    touch: Script,
}

impl SessionStore {
    /// `ttl`: how long a record lives without a refresh (clamped to one millisecond .. one day).
    pub fn new(link: RedisLink, ttl: Duration) -> Self {
        Self {
            link,
            ttl: ttl.clamp(Duration::from_millis(1), SESSION_TTL_MAX),
            put: Script::new(&format!("{LUA_OLDER}{PUT_SCRIPT}")),
            touch: Script::new(&format!("{LUA_OLDER}{TOUCH_SCRIPT}")),
        }
    }

    pub fn key(token_id: u64) -> String {
        format!("{SESSION_KEY_PREFIX}{token_id}")
    }

    /// Writes the record (at login, and at a handoff to another zone) and starts its TTL.
    pub async fn put(&self, token_id: u64, record: &SessionRecord) -> Result<(), HotStateError> {
        let key = Self::key(token_id);
        let ttl_ms = self.ttl.as_millis().to_string();
        let reply: Vec<String> = self
            .link
            .run(|mut conn| async move {
                self.put
                    .key(&key)
                    .arg(record.zone_id)
                    .arg(token_arg(record.fencing_token))
                    .arg(ttl_ms)
                    .arg(record.character_id)
                    .arg(record.account_id)
                    .arg(&record.node_id)
                    .arg(record.session_id)
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        outcome(&Self::key(token_id), &reply, record.fencing_token).map(|_| ())
    }

    /// The record, or `None` when there is none (never written, expired, deleted).
    pub async fn get(&self, token_id: u64) -> Result<Option<SessionRecord>, HotStateError> {
        let key = Self::key(token_id);
        let fields: Vec<Option<String>> = self
            .link
            .run(|mut conn| {
                let key = key.clone();
                async move {
                    redis::cmd("HMGET")
                        .arg(key)
                        .arg(&["zone", "token", "character", "account", "node", "session"][..])
                        .query_async(&mut conn)
                        .await
                }
            })
            .await?;
        if fields.iter().all(Option::is_none) {
            return Ok(None);
        }
        let corrupt = |reason: &str| HotStateError::Corrupt {
            key: key.clone(),
            reason: reason.to_owned(),
        };
        let field = |index: usize, name: &str| -> Result<&str, HotStateError> {
            fields
                .get(index)
                .and_then(Option::as_deref)
                .ok_or_else(|| corrupt(&format!("field {name} is missing")))
        };
        fn parse<T: std::str::FromStr>(text: &str, name: &str, key: &str) -> Result<T, HotStateError> {
            text.parse().map_err(|_| HotStateError::Corrupt {
                key: key.to_owned(),
                reason: format!("field {name} is not a number: {text:?}"),
            })
        }
        Ok(Some(SessionRecord {
            zone_id: parse(field(0, "zone")?, "zone", &key)?,
            fencing_token: parse(field(1, "token")?, "token", &key)?,
            character_id: parse(field(2, "character")?, "character", &key)?,
            account_id: parse(field(3, "account")?, "account", &key)?,
            node_id: field(4, "node")?.to_owned(),
            session_id: parse(field(5, "session")?, "session", &key)?,
        }))
    }

    /// Extends the TTL. `Ok(false)`: the record is gone (expired: the player must log in again).
    pub async fn refresh(&self, token_id: u64, zone_id: u32, fencing_token: u64) -> Result<bool, HotStateError> {
        let ttl_ms = self.ttl.as_millis().to_string();
        self.touch(token_id, zone_id, fencing_token, ttl_ms).await
    }

    /// Deletes the record (logout). `Ok(false)`: there was none.
    pub async fn delete(&self, token_id: u64, zone_id: u32, fencing_token: u64) -> Result<bool, HotStateError> {
        self.touch(token_id, zone_id, fencing_token, String::new()).await
    }

    /// Milliseconds the record has left (`None`: no record), for tests and diagnostics.
    pub async fn ttl_ms(&self, token_id: u64) -> Result<Option<u64>, HotStateError> {
        let key = Self::key(token_id);
        let ttl: i64 = self
            .link
            .run(|mut conn| async move { redis::cmd("PTTL").arg(key).query_async(&mut conn).await })
            .await?;
        Ok(u64::try_from(ttl).ok())
    }

    async fn touch(
        &self,
        token_id: u64,
        zone_id: u32,
        fencing_token: u64,
        ttl_ms: String,
    ) -> Result<bool, HotStateError> {
        let key = Self::key(token_id);
        let reply: Vec<String> = self
            .link
            .run(|mut conn| {
                let key = key.clone();
                async move {
                    self.touch
                        .key(key)
                        .arg(zone_id)
                        .arg(token_arg(fencing_token))
                        .arg(ttl_ms)
                        .invoke_async(&mut conn)
                        .await
                }
            })
            .await?;
        outcome(&key, &reply, fencing_token)
    }
}

/// Reads a script's `{1}` / `{2}` / `{0, zone, token}` reply: `Ok(true)` done, `Ok(false)` missing.
fn outcome(key: &str, reply: &[String], offered_token: u64) -> Result<bool, HotStateError> {
    let corrupt = || HotStateError::Corrupt {
        key: key.to_owned(),
        reason: format!("unexpected script reply {reply:?}"),
    };
    match reply {
        [code] if code == "1" => Ok(true),
        [code] if code == "2" => Ok(false),
        [code, zone, token] if code == "0" => Err(HotStateError::Fenced {
            stored_zone: zone.parse().map_err(|_| corrupt())?,
            stored_token: token.parse().map_err(|_| corrupt())?,
            offered_token,
        }),
        _ => Err(corrupt()),
    }
}
