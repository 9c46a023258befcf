//! Which game address serves each zone, kept current from etcd: the zone's assignment
//! (`/meridian/assign/<zone>` → node) joined with the node's record (`/meridian/nodes/<node>` → game
//! address). The login API asks it where to send a player; it is read far more often than it
//! changes, so readers take a lock for a map lookup and two watch tasks apply the changes.
//!
//! Both prefixes are read once at a single revision, then watched from the next one (the resilient
//! watch of `watch.rs`); a compacted history triggers a fresh read of that prefix.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use etcd_client::{Client, GetOptions};

use super::watch::{WatchEvent, WatchItem, watch_prefix};
use super::{ASSIGN_PREFIX, NODES_PREFIX, NodeRecord, Placement, RegistryError, ZoneId, decode, zone_of_assign_key};
use crate::auth::ZoneServer;
use crate::routes::Route;

#[derive(Debug, Default)]
struct DirectoryState {
    /// Zone → the node and worker assigned to serve it, and the assignment's fencing token.
    placements: BTreeMap<ZoneId, (Placement, i64)>,
    /// Live node → the address its clients send game datagrams to.
    game_addresses: BTreeMap<String, SocketAddr>,
    /// Live node → its node link address and underlay IPv4 address, when it advertises them.
    link_addresses: BTreeMap<String, SocketAddr>,
    underlay_addresses: BTreeMap<String, std::net::Ipv4Addr>,
    /// Live node → its WebSocket gateway URL (nodes without one are absent).
    websockets: BTreeMap<String, String>,
}

/// Zone → game address, from etcd, kept current by the watches its [`DirectoryHandle`] owns.
#[derive(Clone)]
pub struct GameDirectory {
    state: Arc<RwLock<DirectoryState>>,
}

/// Keeps the directory's watches running; dropping it stops them (the directory then stops
/// changing).
pub struct DirectoryHandle {
    watches: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for DirectoryHandle {
    fn drop(&mut self) {
        for task in &self.watches {
            task.abort();
        }
    }
}

impl GameDirectory {
    /// Reads the assignments and node records and starts watching both. Call inside a tokio runtime.
    pub async fn start(mut client: Client) -> Result<(Self, DirectoryHandle), RegistryError> {
        let state = Arc::new(RwLock::new(DirectoryState::default()));
        let assign_revision = load_prefix(&mut client, ASSIGN_PREFIX, &state).await?;
        let nodes_revision = load_prefix(&mut client, NODES_PREFIX, &state).await?;
        let mut tasks = Vec::new();
        for (prefix, revision) in [(ASSIGN_PREFIX, assign_revision), (NODES_PREFIX, nodes_revision)] {
            let (state, mut client) = (Arc::clone(&state), client.clone());
            let mut events = watch_prefix(client.clone(), prefix.to_string(), revision + 1);
            tasks.push(tokio::spawn(async move {
                while let Some(item) = events.recv().await {
                    match item {
                        WatchItem::Event(event) => apply(&state, &event),
                        WatchItem::Compacted { .. } => {
                            if let Err(error) = load_prefix(&mut client, prefix, &state).await {
                                tracing::warn!(%error, prefix, "directory: re-reading after compaction failed");
                            }
                        }
                    }
                }
            }));
        }
        Ok((GameDirectory { state }, DirectoryHandle { watches: tasks }))
    }

    /// The game address of the node serving `zone`, if a live node serves it.
    pub fn game_address(&self, zone: ZoneId) -> Option<SocketAddr> {
        self.locate(zone).map(|server| server.address)
    }

    /// Where `zone` is served: the live node's game address, and the route a session of it gets.
    pub fn locate(&self, zone: ZoneId) -> Option<ZoneServer> {
        let state = self.state.read().ok()?;
        let (placement, token) = state.placements.get(&zone)?;
        let address = *state.game_addresses.get(&placement.node)?;
        Some(ZoneServer {
            address,
            websocket: state.websockets.get(&placement.node).cloned(),
            route: Some(Route {
                node: placement.node.clone(),
                worker: placement.worker,
                zone,
                token: *token,
            }),
        })
    }

    /// Every zone with a live server, and its address.
    pub fn zones(&self) -> BTreeMap<ZoneId, SocketAddr> {
        let Ok(state) = self.state.read() else {
            return BTreeMap::new();
        };
        state
            .placements
            .iter()
            .filter_map(|(zone, (placement, _))| Some((*zone, *state.game_addresses.get(&placement.node)?)))
            .collect()
    }
}

impl GameDirectory {
    /// Every live node's node link address (for the node link's peers).
    pub fn link_addresses(&self) -> BTreeMap<String, SocketAddr> {
        self.state
            .read()
            .map(|state| state.link_addresses.clone())
            .unwrap_or_default()
    }

    /// A live node's game address (where its clients send).
    pub fn node_game_address(&self, node: &str) -> Option<SocketAddr> {
        self.state.read().ok()?.game_addresses.get(node).copied()
    }

    /// A live node's underlay IPv4 address (where an edge encapsulates datagrams to it).
    pub fn underlay_address(&self, node: &str) -> Option<std::net::Ipv4Addr> {
        self.state.read().ok()?.underlay_addresses.get(node).copied()
    }
}

/// The login API's view: a player of `zone` is sent to this address.
impl crate::auth::ZoneDirectory for GameDirectory {
    fn locate(&self, zone_id: u32) -> Option<ZoneServer> {
        GameDirectory::locate(self, zone_id)
    }
}

/// Replaces what the directory knows under `prefix` with a fresh read; returns the read's revision.
async fn load_prefix(
    client: &mut Client,
    prefix: &'static str,
    state: &RwLock<DirectoryState>,
) -> Result<i64, RegistryError> {
    let response = client.get(prefix, Some(GetOptions::new().with_prefix())).await?;
    let revision = response.header().map_or(0, |header| header.revision());
    let mut fresh = DirectoryState::default();
    for kv in response.kvs() {
        let event = WatchEvent::Put {
            key: kv.key().to_vec(),
            value: kv.value().to_vec(),
            mod_revision: kv.mod_revision(),
        };
        apply_to(&mut fresh, &event);
    }
    if let Ok(mut state) = state.write() {
        replace_prefix(&mut state, prefix, fresh);
    }
    Ok(revision)
}

/// Takes from a fresh read everything the directory derives from keys under `prefix` (every field
/// fed by node records when `prefix` is the nodes' prefix), leaving the rest as it was.
fn replace_prefix(state: &mut DirectoryState, prefix: &str, fresh: DirectoryState) {
    if prefix == ASSIGN_PREFIX {
        state.placements = fresh.placements;
    } else {
        state.game_addresses = fresh.game_addresses;
        state.link_addresses = fresh.link_addresses;
        state.underlay_addresses = fresh.underlay_addresses;
        state.websockets = fresh.websockets;
    }
}

fn apply(state: &RwLock<DirectoryState>, event: &WatchEvent) {
    if let Ok(mut state) = state.write() {
        apply_to(&mut state, event);
    }
}

fn apply_to(state: &mut DirectoryState, event: &WatchEvent) {
    let key = event.key();
    if let Some(zone) = zone_of_assign_key(key) {
        match event {
            WatchEvent::Put {
                value, mod_revision, ..
            } => match decode::<Placement>(key, value) {
                Ok(placement) => {
                    // The assignment's revision is the zone's fencing token (see `assigner`).
                    state.placements.insert(zone, (placement, *mod_revision));
                }
                Err(error) => tracing::warn!(%error, "directory: unreadable assignment"),
            },
            WatchEvent::Delete { .. } => {
                state.placements.remove(&zone);
            }
        }
        return;
    }
    let Some(node) = key.strip_prefix(NODES_PREFIX.as_bytes()) else {
        return;
    };
    let node = String::from_utf8_lossy(node).into_owned();
    match event {
        WatchEvent::Put { value, .. } => match decode::<NodeRecord>(key, value) {
            Ok(record) => match record.game_addr.parse::<SocketAddr>() {
                Ok(address) => {
                    match record.websocket {
                        Some(url) => state.websockets.insert(node.clone(), url),
                        None => state.websockets.remove(&node),
                    };
                    match record.link_addr.as_deref().map(str::parse::<SocketAddr>) {
                        Some(Ok(link)) => state.link_addresses.insert(node.clone(), link),
                        _ => state.link_addresses.remove(&node),
                    };
                    match record.underlay_addr.as_deref().map(str::parse::<std::net::Ipv4Addr>) {
                        Some(Ok(underlay)) => state.underlay_addresses.insert(node.clone(), underlay),
                        _ => state.underlay_addresses.remove(&node),
                    };
                    state.game_addresses.insert(node, address);
                }
                Err(_) => tracing::warn!(node, game_addr = record.game_addr, "directory: bad game address"),
            },
            Err(error) => tracing::warn!(%error, "directory: unreadable node record"),
        },
        WatchEvent::Delete { .. } => {
            state.websockets.remove(&node);
            state.game_addresses.remove(&node);
            state.link_addresses.remove(&node);
            state.underlay_addresses.remove(&node);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{assign_key, encode, node_key};

    fn put<T: serde::Serialize>(key: String, value: &T) -> WatchEvent {
        WatchEvent::Put {
            key: key.into_bytes(),
            value: encode(value),
            mod_revision: 1,
        }
    }

    #[test]
    fn a_zone_has_an_address_only_while_its_node_is_registered() {
        let mut state = DirectoryState::default();
        let record = NodeRecord {
            id: "a".into(),
            game_addr: "127.0.0.1:7777".into(),
            workers: 2,
            capacity_players: 100,
            build: "test".into(),
            websocket: Some("wss://a.example:7443/".into()),
            metrics_addr: None,
            link_addr: None,
            underlay_addr: None,
        };
        apply_to(
            &mut state,
            &put(
                assign_key(3),
                &Placement {
                    node: "a".into(),
                    worker: 1,
                },
            ),
        );
        assert_eq!(
            state.placements.get(&3).map(|(p, token)| (p.node.as_str(), *token)),
            Some(("a", 1))
        );
        assert!(state.game_addresses.is_empty(), "assigned to a node not (yet) seen");
        apply_to(&mut state, &put(node_key("a"), &record));
        assert_eq!(state.game_addresses.get("a"), Some(&"127.0.0.1:7777".parse().unwrap()));
        assert_eq!(
            state.websockets.get("a").map(String::as_str),
            Some("wss://a.example:7443/")
        );
        apply_to(
            &mut state,
            &WatchEvent::Delete {
                key: node_key("a").into_bytes(),
                mod_revision: 2,
            },
        );
        assert!(state.game_addresses.is_empty(), "the node's lease ended");
        assert!(state.websockets.is_empty(), "the node's gateway went with it");
        // A fresh read of the nodes' prefix (after a compaction) brings the gateway back with the
        // node and leaves the assignments alone.
        let mut fresh = DirectoryState::default();
        apply_to(&mut fresh, &put(node_key("a"), &record));
        replace_prefix(&mut state, NODES_PREFIX, fresh);
        assert_eq!(
            state.websockets.get("a").map(String::as_str),
            Some("wss://a.example:7443/")
        );
        assert_eq!(state.game_addresses.len(), 1);
        assert_eq!(state.placements.len(), 1, "the assignments were not part of that read");
        replace_prefix(&mut state, NODES_PREFIX, DirectoryState::default());
        assert!(state.websockets.is_empty() && state.game_addresses.is_empty());
        apply_to(
            &mut state,
            &WatchEvent::Delete {
                key: assign_key(3).into_bytes(),
                mod_revision: 3,
            },
        );
        assert!(state.placements.is_empty());
    }

    #[test]
    fn a_nodes_link_and_underlay_addresses_follow_its_record() {
        let mut state = DirectoryState::default();
        let mut record = NodeRecord {
            id: "b".into(),
            game_addr: "127.0.0.1:7777".into(),
            workers: 1,
            capacity_players: 100,
            build: "test".into(),
            metrics_addr: None,
            websocket: None,
            link_addr: Some("127.0.0.1:7801".into()),
            underlay_addr: Some("10.10.0.2".into()),
        };
        apply_to(&mut state, &put(node_key("b"), &record));
        assert_eq!(state.link_addresses.get("b"), Some(&"127.0.0.1:7801".parse().unwrap()));
        assert_eq!(state.underlay_addresses.get("b"), Some(&"10.10.0.2".parse().unwrap()));
        record.underlay_addr = Some("not an address".into());
        apply_to(&mut state, &put(node_key("b"), &record));
        assert!(
            state.underlay_addresses.is_empty(),
            "an unreadable underlay is no underlay"
        );
        record.link_addr = None;
        record.underlay_addr = None;
        apply_to(&mut state, &put(node_key("b"), &record));
        assert!(state.link_addresses.is_empty(), "restarted without a link");
        assert_eq!(state.game_addresses.len(), 1);
    }
}
