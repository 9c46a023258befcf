//! `/ops/world.json`: etcd's assignments (who owns which zone) joined with every live node's
//! `GET /world` (what its workers see), for the map page.
//!
//! Read-only. One aggregate is shared by every operator for [`WORLD_CACHE_MS`], so a room of open
//! map pages costs the nodes one fetch each per period, not one per page.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use etcd_client::GetOptions;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::registry::{ASSIGN_PREFIX, NODES_PREFIX, NodeRecord, Placement, decode, zone_of_assign_key};

/// How long one aggregate is served before the nodes are asked again.
pub const WORLD_CACHE_MS: u64 = 250;
/// A node's `/world` must answer within this, or it is shown as unreachable.
pub const NODE_FETCH_TIMEOUT: Duration = Duration::from_secs(1);
/// Largest `/world` body read from a node (500 dots × a few dozen zones fits many times over).
pub const NODE_WORLD_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Where the map's data comes from.
#[derive(Clone)]
pub enum WorldSource {
    /// The control plane: assignments and node records in etcd, each node's advertised
    /// `metrics_addr`.
    /// (Boxed: an etcd client is a few kilobytes.)
    Etcd(Box<etcd_client::Client>),
    /// Standalone: one node, its metrics listener.
    Static { node_id: String, metrics_addr: String },
}

/// A zone rectangle (metres).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rect {
    pub min_m: [f32; 2],
    pub max_m: [f32; 2],
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dot {
    pub character_id: u64,
    pub x_m: f32,
    pub y_m: f32,
}

/// A zone as the node's `/world` reports it (the fields the map uses).
#[derive(Clone, Debug, Deserialize)]
pub struct NodeZone {
    pub zone_id: u32,
    pub worker: u32,
    pub rect: Rect,
    pub players: u32,
    pub tick_p99_us: u64,
    pub npcs: u32,
    pub loot: u32,
    pub handoffs_in: u64,
    pub handoffs_out: u64,
    pub aoi_radius_m: f32,
    pub dots: Vec<Dot>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct NodeWorker {
    pub published_at_ms: u64,
    pub zones: Vec<NodeZone>,
}

/// A node's `GET /world`.
#[derive(Clone, Debug, Deserialize)]
pub struct NodeWorld {
    pub world_size_m: Option<[f32; 2]>,
    pub workers: Vec<NodeWorker>,
}

/// One node as the map shows it.
#[derive(Clone, Debug, Serialize)]
pub struct NodeStatus {
    pub id: String,
    pub game_addr: String,
    pub metrics_addr: Option<String>,
    /// Why its world is missing (unreachable, not advertised, malformed); `None`: read.
    pub error: Option<String>,
}

/// One zone on the map.
#[derive(Clone, Debug, Serialize)]
pub struct MapZone {
    pub zone_id: u32,
    /// The owner etcd names (`None`: unassigned, or standalone without a registry).
    pub owner_node: Option<String>,
    pub owner_worker: Option<u32>,
    /// The node whose `/world` reports the zone and its worker there (`None`: no node reports it,
    /// e.g. the owner is down or starting).
    pub served_by: Option<String>,
    pub worker: Option<u32>,
    pub rect: Option<Rect>,
    pub players: u32,
    pub tick_p99_us: u64,
    pub npcs: u32,
    pub loot: u32,
    pub handoffs_in: u64,
    pub handoffs_out: u64,
    pub aoi_radius_m: f32,
    /// How old the worker's snapshot was when aggregated.
    pub age_ms: u64,
    pub dots: Vec<Dot>,
}

/// `/ops/world.json`.
#[derive(Clone, Debug, Serialize)]
pub struct WorldMap {
    pub generated_at_ms: u64,
    /// The seamless world's extent (the union of the zones' rectangles when no node says).
    pub world_size_m: Option<[f32; 2]>,
    pub nodes: Vec<NodeStatus>,
    pub zones: Vec<MapZone>,
}

/// Joins the registry's view with the nodes' worlds (pure; the I/O is in [`WorldCache`]).
/// `worlds` holds each node's `/world` or why it could not be read.
pub fn aggregate(
    now_ms: u64,
    placements: &BTreeMap<u32, Placement>,
    mut nodes: Vec<NodeStatus>,
    worlds: &BTreeMap<String, Result<NodeWorld, String>>,
) -> WorldMap {
    let mut zones: BTreeMap<u32, MapZone> = placements
        .iter()
        .map(|(zone_id, placement)| {
            (
                *zone_id,
                MapZone {
                    zone_id: *zone_id,
                    owner_node: Some(placement.node.clone()),
                    owner_worker: Some(placement.worker),
                    served_by: None,
                    worker: None,
                    rect: None,
                    players: 0,
                    tick_p99_us: 0,
                    npcs: 0,
                    loot: 0,
                    handoffs_in: 0,
                    handoffs_out: 0,
                    aoi_radius_m: 0.0,
                    age_ms: 0,
                    dots: Vec::new(),
                },
            )
        })
        .collect();
    let mut world_size_m = None;
    for node in &mut nodes {
        let world = match worlds.get(&node.id) {
            Some(Ok(world)) => world,
            Some(Err(error)) => {
                node.error = Some(error.clone());
                continue;
            }
            None => continue,
        };
        world_size_m = world_size_m.or(world.world_size_m);
        for worker in &world.workers {
            for zone in &worker.zones {
                // A zone etcd gives to another node, still reported by this one (a move under
                // way): the owner's report wins when both have one.
                let entry = zones.entry(zone.zone_id).or_insert_with(|| MapZone {
                    zone_id: zone.zone_id,
                    owner_node: None,
                    owner_worker: None,
                    served_by: None,
                    worker: None,
                    rect: None,
                    players: 0,
                    tick_p99_us: 0,
                    npcs: 0,
                    loot: 0,
                    handoffs_in: 0,
                    handoffs_out: 0,
                    aoi_radius_m: 0.0,
                    age_ms: 0,
                    dots: Vec::new(),
                });
                let owner_reports = entry.owner_node.as_deref() == Some(node.id.as_str());
                if entry.served_by.is_some() && !owner_reports {
                    continue;
                }
                entry.served_by = Some(node.id.clone());
                entry.worker = Some(zone.worker);
                entry.rect = Some(zone.rect);
                entry.players = zone.players;
                entry.tick_p99_us = zone.tick_p99_us;
                entry.npcs = zone.npcs;
                entry.loot = zone.loot;
                entry.handoffs_in = zone.handoffs_in;
                entry.handoffs_out = zone.handoffs_out;
                entry.aoi_radius_m = zone.aoi_radius_m;
                entry.age_ms = now_ms.saturating_sub(worker.published_at_ms);
                entry.dots = zone.dots.clone();
            }
        }
    }
    let world_size_m = world_size_m.or_else(|| {
        zones
            .values()
            .filter_map(|zone| zone.rect)
            .map(|rect| rect.max_m)
            .reduce(|a, b| [a[0].max(b[0]), a[1].max(b[1])])
    });
    WorldMap {
        generated_at_ms: now_ms,
        world_size_m,
        nodes,
        zones: zones.into_values().collect(),
    }
}

/// `GET /world` from a node's metrics listener: HTTP/1.0 (one request, the server closes), a
/// timeout and a body bound. Hand-written: the control plane has no HTTP client in its
/// dependencies, and this one request to a cluster-internal listener needs no pool, TLS or
/// redirects.
pub async fn fetch_node_world(metrics_addr: &str) -> Result<NodeWorld, String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(metrics_addr)
            .await
            .map_err(|error| format!("connecting to {metrics_addr}: {error}"))?;
        stream
            .write_all(format!("GET /world HTTP/1.0\r\nHost: {metrics_addr}\r\n\r\n").as_bytes())
            .await
            .map_err(|error| format!("sending to {metrics_addr}: {error}"))?;
        let mut response = Vec::new();
        (&mut stream)
            .take(NODE_WORLD_BYTES_MAX as u64 + 1)
            .read_to_end(&mut response)
            .await
            .map_err(|error| format!("reading from {metrics_addr}: {error}"))?;
        if response.len() > NODE_WORLD_BYTES_MAX {
            return Err(format!("{metrics_addr}: /world exceeds {NODE_WORLD_BYTES_MAX} bytes"));
        }
        Ok::<_, String>(response)
    };
    let response = tokio::time::timeout(NODE_FETCH_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("{metrics_addr}: no answer within {NODE_FETCH_TIMEOUT:?}"))??;
    let split = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| format!("{metrics_addr}: not an HTTP response"))?;
    let status_line = String::from_utf8_lossy(&response[..split]);
    if !status_line.lines().next().is_some_and(|line| line.contains(" 200 ")) {
        return Err(format!(
            "{metrics_addr}: {}",
            status_line.lines().next().unwrap_or("no status")
        ));
    }
    serde_json::from_slice(&response[split + 4..]).map_err(|error| format!("{metrics_addr}: malformed /world: {error}"))
}

/// The nodes and assignments, read at one revision each.
async fn read_registry(
    client: &mut etcd_client::Client,
) -> Result<(BTreeMap<u32, Placement>, Vec<NodeStatus>), String> {
    let assigned = client
        .get(ASSIGN_PREFIX, Some(GetOptions::new().with_prefix()))
        .await
        .map_err(|error| format!("etcd: {error}"))?;
    let mut placements = BTreeMap::new();
    for kv in assigned.kvs() {
        if let (Some(zone), Ok(placement)) = (zone_of_assign_key(kv.key()), decode::<Placement>(kv.key(), kv.value())) {
            placements.insert(zone, placement);
        }
    }
    let registered = client
        .get(NODES_PREFIX, Some(GetOptions::new().with_prefix()))
        .await
        .map_err(|error| format!("etcd: {error}"))?;
    let nodes = registered
        .kvs()
        .iter()
        .filter_map(|kv| decode::<NodeRecord>(kv.key(), kv.value()).ok())
        .map(|record| NodeStatus {
            id: record.id,
            game_addr: record.game_addr,
            metrics_addr: record.metrics_addr,
            error: None,
        })
        .collect();
    Ok((placements, nodes))
}

fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The last aggregate and when it was made; requests within [`WORLD_CACHE_MS`] share it (and a
/// request arriving while one is being made waits for it instead of asking the nodes again).
pub struct WorldCache {
    source: WorldSource,
    last: tokio::sync::Mutex<Option<(Instant, Arc<WorldMap>)>>,
}

impl WorldCache {
    pub fn new(source: WorldSource) -> Self {
        WorldCache {
            source,
            last: tokio::sync::Mutex::new(None),
        }
    }

    pub async fn get(&self) -> Result<Arc<WorldMap>, String> {
        let mut last = self.last.lock().await;
        if let Some((made, map)) = last.as_ref()
            && made.elapsed() < Duration::from_millis(WORLD_CACHE_MS)
        {
            return Ok(Arc::clone(map));
        }
        let map = Arc::new(self.make().await?);
        *last = Some((Instant::now(), Arc::clone(&map)));
        Ok(map)
    }

    async fn make(&self) -> Result<WorldMap, String> {
        let (placements, nodes) = match &self.source {
            WorldSource::Etcd(client) => read_registry(&mut client.as_ref().clone()).await?,
            WorldSource::Static { node_id, metrics_addr } => (
                BTreeMap::new(),
                vec![NodeStatus {
                    id: node_id.clone(),
                    game_addr: String::new(),
                    metrics_addr: Some(metrics_addr.clone()),
                    error: None,
                }],
            ),
        };
        let mut fetches = tokio::task::JoinSet::new();
        let mut worlds = BTreeMap::new();
        for node in &nodes {
            match &node.metrics_addr {
                Some(addr) => {
                    let (id, addr) = (node.id.clone(), addr.clone());
                    fetches.spawn(async move { (id, fetch_node_world(&addr).await) });
                }
                None => {
                    worlds.insert(
                        node.id.clone(),
                        Err("the node advertises no metrics address".to_owned()),
                    );
                }
            }
        }
        while let Some(done) = fetches.join_next().await {
            if let Ok((id, world)) = done {
                worlds.insert(id, world);
            }
        }
        Ok(aggregate(unix_now_ms(), &placements, nodes, &worlds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str) -> NodeStatus {
        NodeStatus {
            id: id.into(),
            game_addr: "127.0.0.1:7777".into(),
            metrics_addr: Some("127.0.0.1:9100".into()),
            error: None,
        }
    }

    fn world(zone_id: u32, players: u32) -> NodeWorld {
        serde_json::from_value(serde_json::json!({
            "node_id": "ignored",
            "world_size_m": null,
            "workers": [{"worker": 0, "published_at_ms": 900, "sessions": players, "handoffs": {},
                "zones": [{"zone_id": zone_id, "worker": 1, "rect": {"min_m": [0.0, 0.0], "max_m": [512.0, 256.0]},
                    "players": players, "layers": 1, "tick_p99_us": 1500, "tick_samples": 20, "npcs": 2, "loot": 3,
                    "handoffs_in": 4, "handoffs_out": 5, "aoi_radius_m": 32.0,
                    "dots": [{"character_id": 9, "x_m": 1.0, "y_m": 2.0}]}]}]
        }))
        .unwrap()
    }

    #[test]
    fn zones_carry_their_owner_from_etcd_and_their_numbers_from_the_node() {
        let placements = BTreeMap::from([
            (
                1,
                Placement {
                    node: "a".into(),
                    worker: 1,
                },
            ),
            (
                2,
                Placement {
                    node: "b".into(),
                    worker: 0,
                },
            ),
        ]);
        let worlds = BTreeMap::from([
            ("a".to_owned(), Ok(world(1, 20))),
            ("b".to_owned(), Err("b: no answer".to_owned())),
        ]);
        let map = aggregate(1_000, &placements, vec![node("a"), node("b")], &worlds);
        assert_eq!(map.zones.len(), 2);
        let one = &map.zones[0];
        assert_eq!(one.owner_node.as_deref(), Some("a"));
        assert_eq!(one.served_by.as_deref(), Some("a"));
        assert_eq!((one.players, one.tick_p99_us, one.npcs, one.loot), (20, 1500, 2, 3));
        assert_eq!((one.handoffs_in, one.handoffs_out, one.age_ms), (4, 5, 100));
        assert_eq!(one.dots.len(), 1);
        // Zone 2's owner did not answer: it is on the map, owned, without numbers.
        let two = &map.zones[1];
        assert_eq!((two.owner_node.as_deref(), two.served_by.as_deref()), (Some("b"), None));
        assert_eq!(map.nodes[1].error.as_deref(), Some("b: no answer"));
        assert_eq!(map.world_size_m, Some([512.0, 256.0]));
    }

    #[test]
    fn a_zone_reported_by_a_node_that_does_not_own_it_yields_to_the_owner() {
        let placements = BTreeMap::from([(
            1,
            Placement {
                node: "b".into(),
                worker: 0,
            },
        )]);
        let worlds = BTreeMap::from([("a".to_owned(), Ok(world(1, 3))), ("b".to_owned(), Ok(world(1, 7)))]);
        let map = aggregate(1_000, &placements, vec![node("a"), node("b")], &worlds);
        assert_eq!(map.zones[0].served_by.as_deref(), Some("b"));
        assert_eq!(map.zones[0].players, 7);
        // Standalone: no registry, the node's zones appear unowned.
        let map = aggregate(1_000, &BTreeMap::new(), vec![node("a")], &worlds);
        assert_eq!(map.zones[0].owner_node, None);
        assert_eq!(map.zones[0].served_by.as_deref(), Some("a"));
    }
}
