//! `Session:<token-id>`: who a connect token belongs to and where it plays, so the node that takes a
//! zone over after a failover can resume the session without a new login.
//!
//! Stored as a Redis hash (readable with `redis-cli HGETALL`) with a TTL that `refresh` extends
//! while the player is connected. Every write runs in a Lua script that compares fencing tokens on
//! the server: a write for the zone the record names, carrying an older token than the stored one,
//! is refused (a stale owner of that zone). A write for another zone is a handoff or a new login and
//! is accepted; `refresh` and `delete` must name the stored zone (a node that no longer serves the
//! session cannot keep it alive or end it).
//!
//! For a resume after a failover (PROTOCOL.md, "Session resume after failover") the record also
//! holds the session's keys sealed with the cluster key (`keys`, hex: Redis never holds usable key
//! material) and hints refreshed every few seconds with the TTL: the client's address (`addr`), the
//! newest client→server sequence seen (`c2s`), the next server→client sequence (`s2c`) and the
//! player's position (`pos`). The same scripts keep `ZoneSessions:<zone>`, a set of the session ids
//! a zone's records name, so the node taking a zone over reads every record in one round trip
//! ([`SessionStore::load_zone`]). The scripts touch the old zone's set by a name built inside the
//! script: fine on one Redis, not on Redis Cluster (which the deployment does not use).

use std::net::SocketAddr;
use std::time::Duration;

use redis::Script;

use crate::link::RedisLink;
use crate::{HotStateError, token_arg};

pub const SESSION_KEY_PREFIX: &str = "Session:";
pub const ZONE_SESSIONS_KEY_PREFIX: &str = "ZoneSessions:";
/// Records one zone load reads at most: a zone holds about 2,000 players; a set grown beyond this
/// (a bug) is read in part rather than blocking Redis for long in one script.
pub const ZONE_SESSIONS_MAX: usize = 16_384;
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
    /// What another node needs to resume the session (`None`: written without, not resumable).
    pub resume: Option<SessionResume>,
}

/// The resume part of a record.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionResume {
    /// The session keys sealed with the cluster key (`meridian_proto::endpoint::SessionKeys::seal`);
    /// opaque here.
    pub sealed_keys: Vec<u8>,
    pub hints: ResumeHints,
}

/// Where the session stood when the record was last refreshed; hints only (the server may have
/// moved on since).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ResumeHints {
    pub client_address: Option<SocketAddr>,
    /// Newest client→server sequence the server had seen.
    pub received_sequence: Option<u64>,
    /// Next server→client sequence.
    pub sent_sequence: u64,
    /// The player's position (`None`: not placed yet).
    pub position_m: Option<[f32; 3]>,
    /// The player's entity id in the zone.
    pub entity: Option<u32>,
}

impl Eq for SessionResume {}

/// Which of a zone's records a new owner under `own_token` may resume, and why the others not.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZoneSessions {
    pub usable: Vec<SessionRecord>,
    /// Written by an owner older than the zone's newest one before `own_token` (a stale owner).
    pub stale: usize,
    /// Written under a token newer than `own_token` (this node is the stale one).
    pub newer: usize,
    /// Without keys (written by a node that does not seal them).
    pub without_keys: usize,
    /// Fields that do not parse.
    pub corrupt: usize,
}

impl ZoneSessions {
    /// The rule: the zone's newest owner before `own_token` is the highest token among the records
    /// and `zone_state_token` (the owner that last saved the zone's state); only its records are
    /// resumed. A zombie of an older owner that kept writing cannot make the new owner accept its
    /// sessions, and nothing written under a newer token is touched.
    pub fn select(records: Vec<SessionRecord>, own_token: u64, zone_state_token: Option<u64>) -> ZoneSessions {
        let mut out = ZoneSessions::default();
        let newest = records
            .iter()
            .map(|record| record.fencing_token)
            .chain(zone_state_token)
            .filter(|token| *token <= own_token)
            .max();
        for record in records {
            if record.fencing_token > own_token {
                out.newer += 1;
            } else if Some(record.fencing_token) != newest {
                out.stale += 1;
            } else if record.resume.is_none() {
                out.without_keys += 1;
            } else {
                out.usable.push(record);
            }
        }
        out
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

/// The hint fields as script arguments: addr, c2s, s2c, pos, entity ("" = none).
fn hint_args(hints: &ResumeHints) -> [String; 5] {
    [
        hints.client_address.map(|a| a.to_string()).unwrap_or_default(),
        hints.received_sequence.map(|s| s.to_string()).unwrap_or_default(),
        hints.sent_sequence.to_string(),
        hints
            .position_m
            .map(|[x, y, z]| format!("{x},{y},{z}"))
            .unwrap_or_default(),
        hints.entity.map(|e| e.to_string()).unwrap_or_default(),
    ]
}

const RECORD_FIELDS: [&str; 12] = [
    "zone",
    "token",
    "character",
    "account",
    "node",
    "session",
    "keys",
    "addr",
    "c2s",
    "s2c",
    "pos",
    "entity",
];

// Tokens compare as decimal strings, length first (no leading zeros), so u64 tokens stay exact.
const LUA_OLDER: &str = r"
local function older(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end
";

/// KEYS[1] session key, KEYS[2] the zone's session set; ARGV: zone, token, ttl_ms, character,
/// account, node, session, keys, addr, c2s, s2c, pos, entity (keys "" = none: the resume fields are
/// removed), token id (the set's member). Returns {1} when written, {0, stored_zone, stored_token} when fenced.
const PUT_SCRIPT: &str = r"
local stored = redis.call('HMGET', KEYS[1], 'zone', 'token')
if stored[1] and stored[1] == ARGV[1] and older(ARGV[2], stored[2]) then
  return {'0', stored[1], stored[2]}
end
if stored[1] and stored[1] ~= ARGV[1] then
  redis.call('SREM', 'ZoneSessions:' .. stored[1], ARGV[14])
end
redis.call('HSET', KEYS[1], 'zone', ARGV[1], 'token', ARGV[2], 'character', ARGV[4], 'account', ARGV[5],
  'node', ARGV[6], 'session', ARGV[7])
if ARGV[8] == '' then
  redis.call('HDEL', KEYS[1], 'keys', 'addr', 'c2s', 's2c', 'pos', 'entity')
else
  redis.call('HSET', KEYS[1], 'keys', ARGV[8], 'addr', ARGV[9], 'c2s', ARGV[10], 's2c', ARGV[11],
    'pos', ARGV[12], 'entity', ARGV[13])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[14])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return {'1'}
";

/// KEYS[1] session key, KEYS[2] the zone's session set; ARGV: zone, token, ttl_ms (empty: delete),
/// session, then optionally addr, c2s, s2c, pos, entity (hints written with the refresh). Returns
/// {1} done, {2} missing, {0, stored_zone, stored_token} fenced (another zone holds it, or a newer
/// token of this zone).
const TOUCH_SCRIPT: &str = r"
local stored = redis.call('HMGET', KEYS[1], 'zone', 'token')
if not stored[1] then
  redis.call('SREM', KEYS[2], ARGV[4])
  return {'2'}
end
if stored[1] ~= ARGV[1] or older(ARGV[2], stored[2]) then
  return {'0', stored[1], stored[2]}
end
if ARGV[3] == '' then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[4])
else
  if ARGV[5] then
    redis.call('HSET', KEYS[1], 'addr', ARGV[5], 'c2s', ARGV[6], 's2c', ARGV[7], 'pos', ARGV[8], 'entity', ARGV[9])
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return {'1'}
";

/// KEYS[1] session key, KEYS[2] the old zone's set, KEYS[3] the new zone's set; ARGV: from zone,
/// from token, to zone, to token, to node, ttl_ms, token id (the sets' member), pos, entity ("" =
/// keep). Returns {1} moved (or the new owner already wrote it there), {2} missing, {0,
/// stored_zone, stored_token} fenced (a newer owner of the old zone, or another zone, holds it).
const MOVE_SCRIPT: &str = r"
local stored = redis.call('HMGET', KEYS[1], 'zone', 'token')
if not stored[1] then
  return {'2'}
end
if stored[1] == ARGV[3] and not older(stored[2], ARGV[4]) then
  return {'1'}
end
if stored[1] ~= ARGV[1] or older(ARGV[2], stored[2]) then
  return {'0', stored[1], stored[2]}
end
redis.call('HSET', KEYS[1], 'zone', ARGV[3], 'token', ARGV[4], 'node', ARGV[5])
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[1], 'pos', ARGV[8], 'entity', ARGV[9])
end
redis.call('SREM', KEYS[2], ARGV[7])
redis.call('SADD', KEYS[3], ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIRE', KEYS[3], ARGV[6])
return {'1'}
";

/// KEYS[1] the zone's session set; ARGV: zone, limit. Returns every record the set names that still
/// names this zone, as RECORD_FIELDS values in order (false = missing field); members whose record
/// expired or moved to another zone are removed from the set on the way.
const LOAD_ZONE_SCRIPT: &str = r"
local out = {}
local members = redis.call('SMEMBERS', KEYS[1])
local taken = 0
for _, id in ipairs(members) do
  if taken >= tonumber(ARGV[2]) then break end
  local fields = redis.call('HMGET', 'Session:' .. id, 'zone', 'token', 'character', 'account', 'node',
    'session', 'keys', 'addr', 'c2s', 's2c', 'pos', 'entity')
  if fields[1] == ARGV[1] then
    for i = 1, 12 do out[#out + 1] = fields[i] end
    taken = taken + 1
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return out
";

/// Sessions in Redis (see the module comment for the fencing rules).
#[derive(Clone, Debug)]
pub struct SessionStore {
    link: RedisLink,
    ttl: Duration,
    put: Script,
    touch: Script,
    load_zone: Script,
    move_zone: Script,
}

impl SessionStore {
    /// `ttl`: how long a record lives without a refresh (clamped to one millisecond .. one day).
    pub fn new(link: RedisLink, ttl: Duration) -> Self {
        Self {
            link,
            ttl: ttl.clamp(Duration::from_millis(1), SESSION_TTL_MAX),
            put: Script::new(&format!("{LUA_OLDER}{PUT_SCRIPT}")),
            touch: Script::new(&format!("{LUA_OLDER}{TOUCH_SCRIPT}")),
            load_zone: Script::new(LOAD_ZONE_SCRIPT),
            move_zone: Script::new(&format!("{LUA_OLDER}{MOVE_SCRIPT}")),
        }
    }

    pub fn key(token_id: u64) -> String {
        format!("{SESSION_KEY_PREFIX}{token_id}")
    }

    pub fn zone_key(zone_id: u32) -> String {
        format!("{ZONE_SESSIONS_KEY_PREFIX}{zone_id}")
    }

    /// Writes the record (at login, and at a handoff to another zone) and starts its TTL.
    pub async fn put(&self, token_id: u64, record: &SessionRecord) -> Result<(), HotStateError> {
        let key = Self::key(token_id);
        let zone_key = Self::zone_key(record.zone_id);
        let ttl_ms = self.ttl.as_millis().to_string();
        let (keys, hints) = match &record.resume {
            Some(resume) => (hex(&resume.sealed_keys), hint_args(&resume.hints)),
            None => (String::new(), Default::default()),
        };
        let reply: Vec<String> = self
            .link
            .run(|mut conn| async move {
                self.put
                    .key(&key)
                    .key(&zone_key)
                    .arg(record.zone_id)
                    .arg(token_arg(record.fencing_token))
                    .arg(ttl_ms)
                    .arg(record.character_id)
                    .arg(record.account_id)
                    .arg(&record.node_id)
                    .arg(record.session_id)
                    .arg(&keys)
                    .arg(&hints[..])
                    // The set's members are token ids: what names the record's key.
                    .arg(token_id)
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
                        .arg(&RECORD_FIELDS[..])
                        .query_async(&mut conn)
                        .await
                }
            })
            .await?;
        if fields.iter().all(Option::is_none) {
            return Ok(None);
        }
        parse_record(&key, &fields).map(Some)
    }

    /// Every record `ZoneSessions:<zone>` names that still names the zone, in one round trip.
    /// Records that do not parse are counted in `ZoneSessions::corrupt`; choosing which of the
    /// others to resume is [`ZoneSessions::select`].
    pub async fn load_zone(&self, zone_id: u32) -> Result<(Vec<SessionRecord>, usize), HotStateError> {
        let zone_key = Self::zone_key(zone_id);
        let flat: Vec<Option<String>> = self
            .link
            .run(|mut conn| {
                let zone_key = zone_key.clone();
                async move {
                    self.load_zone
                        .key(zone_key)
                        .arg(zone_id)
                        .arg(ZONE_SESSIONS_MAX)
                        .invoke_async(&mut conn)
                        .await
                }
            })
            .await?;
        let mut records = Vec::new();
        let mut corrupt = 0;
        for fields in flat.chunks(RECORD_FIELDS.len()) {
            let key = format!("{SESSION_KEY_PREFIX}{}", fields[5].as_deref().unwrap_or("?"));
            match parse_record(&key, fields) {
                Ok(record) => records.push(record),
                Err(_) => corrupt += 1,
            }
        }
        Ok((records, corrupt))
    }

    /// Extends the TTL and writes the resume hints (every few seconds while the session plays).
    /// `Ok(false)`: the record is gone. Fenced as `refresh`.
    pub async fn refresh_hints(
        &self,
        token_id: u64,
        zone_id: u32,
        fencing_token: u64,
        hints: &ResumeHints,
    ) -> Result<bool, HotStateError> {
        let ttl_ms = self.ttl.as_millis().to_string();
        self.touch_with(token_id, zone_id, fencing_token, ttl_ms, Some(hint_args(hints)))
            .await
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

    /// Moves the record to the zone a handoff committed the session to, written by the zone that
    /// let the player go (it knows the commit first, and it is the one that may outlive the new
    /// owner): from then on the new zone's owner refreshes it, and whoever takes that zone over after
    /// a crash finds the session in `ZoneSessions:<to zone>` — including when the new owner died
    /// between etcd's commit and its own first write. The keys do not change (a handoff carries the
    /// session, keys and all); the position and entity become the frozen player's. A record the new
    /// owner already wrote is left as it is; one a newer owner of the old zone wrote is fenced.
    #[allow(clippy::too_many_arguments)]
    pub async fn move_zone(
        &self,
        token_id: u64,
        from: (u32, u64),
        to: (u32, u64),
        to_node: &str,
        position_m: Option<[f32; 3]>,
        entity: Option<u32>,
    ) -> Result<bool, HotStateError> {
        let key = Self::key(token_id);
        let ttl_ms = self.ttl.as_millis().to_string();
        let hints = hint_args(&ResumeHints {
            position_m,
            entity,
            ..ResumeHints::default()
        });
        let reply: Vec<String> = self
            .link
            .run(|mut conn| {
                let (key, ttl_ms) = (key.clone(), ttl_ms.clone());
                let (pos, entity) = (hints[3].clone(), hints[4].clone());
                async move {
                    self.move_zone
                        .key(key)
                        .key(Self::zone_key(from.0))
                        .key(Self::zone_key(to.0))
                        .arg(from.0)
                        .arg(token_arg(from.1))
                        .arg(to.0)
                        .arg(token_arg(to.1))
                        .arg(to_node)
                        .arg(ttl_ms)
                        .arg(token_id)
                        .arg(pos)
                        .arg(entity)
                        .invoke_async(&mut conn)
                        .await
                }
            })
            .await?;
        outcome(&key, &reply, from.1)
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
        self.touch_with(token_id, zone_id, fencing_token, ttl_ms, None).await
    }

    async fn touch_with(
        &self,
        token_id: u64,
        zone_id: u32,
        fencing_token: u64,
        ttl_ms: String,
        hints: Option<[String; 5]>,
    ) -> Result<bool, HotStateError> {
        let key = Self::key(token_id);
        let zone_key = Self::zone_key(zone_id);
        let reply: Vec<String> = self
            .link
            .run(|mut conn| {
                let (key, zone_key, ttl_ms, hints) = (key.clone(), zone_key.clone(), ttl_ms.clone(), hints.clone());
                async move {
                    let mut invocation = self.touch.key(key);
                    invocation
                        .key(zone_key)
                        .arg(zone_id)
                        .arg(token_arg(fencing_token))
                        .arg(ttl_ms)
                        .arg(token_id);
                    if let Some(hints) = &hints {
                        invocation.arg(&hints[..]);
                    }
                    invocation.invoke_async(&mut conn).await
                }
            })
            .await?;
        outcome(&key, &reply, fencing_token)
    }
}

/// Reads a record from its `RECORD_FIELDS` values.
fn parse_record(key: &str, fields: &[Option<String>]) -> Result<SessionRecord, HotStateError> {
    let corrupt = |reason: String| HotStateError::Corrupt {
        key: key.to_owned(),
        reason,
    };
    let field = |index: usize| -> Option<&str> { fields.get(index).and_then(Option::as_deref) };
    let required = |index: usize| -> Result<&str, HotStateError> {
        field(index).ok_or_else(|| corrupt(format!("field {} is missing", RECORD_FIELDS[index])))
    };
    fn parse<T: std::str::FromStr>(text: &str, name: &str, key: &str) -> Result<T, HotStateError> {
        text.parse().map_err(|_| HotStateError::Corrupt {
            key: key.to_owned(),
            reason: format!("field {name} is not valid: {text:?}"),
        })
    }
    // An empty hint is "none"; a missing one too (records written before the field existed).
    fn optional<T: std::str::FromStr>(text: Option<&str>, name: &str, key: &str) -> Result<Option<T>, HotStateError> {
        match text {
            None | Some("") => Ok(None),
            Some(text) => parse(text, name, key).map(Some),
        }
    }
    let resume = match field(6).filter(|keys| !keys.is_empty()) {
        None => None,
        Some(keys) => {
            let sealed_keys = unhex(keys).ok_or_else(|| corrupt("field keys is not hex".into()))?;
            let position_m = match field(10).filter(|pos| !pos.is_empty()) {
                None => None,
                Some(pos) => {
                    let parts: Vec<f32> = pos
                        .split(',')
                        .map(|part| parse(part, "pos", key))
                        .collect::<Result<_, _>>()?;
                    let position: [f32; 3] = parts
                        .try_into()
                        .map_err(|_| corrupt(format!("field pos is not x,y,z: {pos:?}")))?;
                    Some(position)
                }
            };
            Some(SessionResume {
                sealed_keys,
                hints: ResumeHints {
                    client_address: optional::<SocketAddr>(field(7), "addr", key)?,
                    received_sequence: optional(field(8), "c2s", key)?,
                    sent_sequence: optional(field(9), "s2c", key)?.unwrap_or(0),
                    position_m,
                    entity: optional(field(11), "entity", key)?,
                },
            })
        }
    };
    Ok(SessionRecord {
        zone_id: parse(required(0)?, "zone", key)?,
        fencing_token: parse(required(1)?, "token", key)?,
        character_id: parse(required(2)?, "character", key)?,
        account_id: parse(required(3)?, "account", key)?,
        node_id: required(4)?.to_owned(),
        session_id: parse(required(5)?, "session", key)?,
        resume,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(session_id: u64, token: u64, keys: bool) -> SessionRecord {
        SessionRecord {
            character_id: session_id,
            account_id: 0,
            node_id: "node-a".into(),
            zone_id: 4,
            session_id,
            fencing_token: token,
            resume: keys.then(|| SessionResume {
                sealed_keys: vec![1, 2, 3],
                hints: ResumeHints::default(),
            }),
        }
    }

    #[test]
    fn only_the_newest_owner_before_this_one_is_resumed() {
        // Tokens: a zombie of owner 3 kept writing, owner 5 is the one that died, this node is 9;
        // 11 is a newer owner than this node.
        let records = vec![
            record(1, 3, true),
            record(2, 5, true),
            record(3, 5, false),
            record(4, 11, true),
        ];
        let selected = ZoneSessions::select(records.clone(), 9, None);
        assert_eq!(selected.usable, vec![record(2, 5, true)]);
        assert_eq!((selected.stale, selected.newer, selected.without_keys), (1, 1, 1));
        // The zone state saved under 7 says owner 5 is stale too: nothing is resumed.
        let selected = ZoneSessions::select(records, 9, Some(7));
        assert!(selected.usable.is_empty());
        assert_eq!(selected.stale, 3);
    }

    #[test]
    fn hex_round_trips_and_refuses_bad_text() {
        assert_eq!(unhex(&hex(&[0, 1, 0xab, 0xff])), Some(vec![0, 1, 0xab, 0xff]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
