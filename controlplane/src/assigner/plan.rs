//! The zone assigner's decision, sans-IO: live nodes + current assignment + configured zones in,
//! this round's moves out. Deterministic (ordered maps, ties broken by id), so a standby that takes
//! over computes what the old leader would have.

use std::collections::{BTreeMap, BTreeSet};

use crate::registry::{Placement, ZoneId};

/// What an empty zone costs, in players: it still ticks its NPCs and loot. A guess until the zone
/// tick report measures the fixed cost per zone; it also makes empty zones spread evenly.
pub const ZONE_BASE_COST_PLAYERS: u64 = 4;
/// A rebalancing move must lower the busier node's utilisation by at least this share of it (per
/// mille), so load reports that wobble by a few players do not move zones back and forth.
pub const REBALANCE_GAIN_MIN_PERMILLE: u64 = 20;
/// Configured zones per cluster; beyond this a round's arithmetic and etcd transactions grow past
/// what one leader should do at once.
pub const ZONES_MAX: usize = 65_536;

/// A node whose lease is alive, with what it reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveNode {
    pub id: String,
    pub workers: u32,
    /// 0 = draining: receives nothing, and its zones leave it first.
    pub capacity_players: u32,
    /// From its load record; zones it does not list count as empty.
    pub players_per_zone: BTreeMap<ZoneId, u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MoveReason {
    /// The zone had no assignment.
    Unassigned,
    /// Its node's lease is gone (or the node no longer has that worker).
    OwnerGone,
    /// Load balancing or draining; counted against `moves_per_round_max`.
    Rebalance,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    pub zone: ZoneId,
    /// The placement the move replaces (`None` for an unassigned zone); the applier compares it.
    pub from: Option<Placement>,
    pub to: Placement,
    pub reason: MoveReason,
}

#[derive(Clone, Debug)]
pub struct ZoneAssigner {
    /// Rebalancing moves per round. Zones without a live owner are placed regardless: they are
    /// down until placed, so delaying them only lengthens the outage; a round that places many of
    /// them rebalances nothing.
    pub moves_per_round_max: usize,
}

struct NodeLoad {
    capacity: u64,
    worker_cost: Vec<u64>,
    cost: u64,
    /// zone → (worker, weight)
    zones: BTreeMap<ZoneId, (u32, u64)>,
}

impl NodeLoad {
    fn eligible(&self) -> bool {
        self.capacity > 0 && !self.worker_cost.is_empty()
    }

    fn least_loaded_worker(&self) -> u32 {
        let (index, _) = self
            .worker_cost
            .iter()
            .enumerate()
            .min_by_key(|(i, c)| (**c, *i))
            .expect("eligible nodes have workers");
        u32::try_from(index).expect("worker count fits u32")
    }

    fn add(&mut self, zone: ZoneId, worker: u32, weight: u64) {
        self.cost += weight;
        self.worker_cost[worker as usize] += weight;
        self.zones.insert(zone, (worker, weight));
    }

    fn remove(&mut self, zone: ZoneId) -> u64 {
        let (worker, weight) = self.zones.remove(&zone).expect("zone on node");
        self.cost -= weight;
        self.worker_cost[worker as usize] -= weight;
        weight
    }
}

/// Utilisation in parts per million of capacity (fine enough that one empty zone on a 100,000-player
/// node still registers); a draining node is infinitely full.
fn util_ppm(cost: u64, capacity: u64) -> u64 {
    if capacity == 0 {
        return u64::MAX;
    }
    cost.saturating_mul(1_000_000) / capacity
}

impl ZoneAssigner {
    pub fn new(moves_per_round_max: usize) -> Self {
        Self { moves_per_round_max }
    }

    /// This round's moves. Every configured zone without a live owner gets one if any node can take
    /// it; then at most `moves_per_round_max` minus those placements rebalance, each from the
    /// busiest node to the idlest. No zone appears twice.
    pub fn plan(&self, zones: &[ZoneId], nodes: &[LiveNode], current: &BTreeMap<ZoneId, Placement>) -> Vec<Move> {
        debug_assert!(zones.len() <= ZONES_MAX);
        let mut loads: BTreeMap<&str, NodeLoad> = nodes
            .iter()
            .map(|n| {
                let load = NodeLoad {
                    capacity: u64::from(n.capacity_players),
                    worker_cost: vec![0; n.workers as usize],
                    cost: 0,
                    zones: BTreeMap::new(),
                };
                (n.id.as_str(), load)
            })
            .collect();
        let players: BTreeMap<&str, &BTreeMap<ZoneId, u32>> =
            nodes.iter().map(|n| (n.id.as_str(), &n.players_per_zone)).collect();

        let mut orphans: Vec<(u64, ZoneId, Option<Placement>, MoveReason)> = Vec::new();
        for zone in zones.iter().copied().collect::<BTreeSet<_>>() {
            match current.get(&zone) {
                Some(placement) => match loads.get_mut(placement.node.as_str()) {
                    Some(load) if (placement.worker as usize) < load.worker_cost.len() => {
                        let reported = players[placement.node.as_str()].get(&zone).copied().unwrap_or(0);
                        load.add(zone, placement.worker, ZONE_BASE_COST_PLAYERS + u64::from(reported));
                    }
                    _ => orphans.push((
                        ZONE_BASE_COST_PLAYERS,
                        zone,
                        Some(placement.clone()),
                        MoveReason::OwnerGone,
                    )),
                },
                None => orphans.push((ZONE_BASE_COST_PLAYERS, zone, None, MoveReason::Unassigned)),
            }
        }
        // Heaviest first places best; equal weights in zone order.
        orphans.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));

        let mut moves = Vec::new();
        let mut moved = BTreeSet::new();
        for (weight, zone, from, reason) in orphans {
            let target = loads
                .iter()
                .filter(|(_, l)| l.eligible())
                .min_by_key(|(id, l)| (util_ppm(l.cost + weight, l.capacity), **id))
                .map(|(id, _)| *id);
            let Some(target) = target else { break };
            let load = loads.get_mut(target).expect("target exists");
            let worker = load.least_loaded_worker();
            load.add(zone, worker, weight);
            moved.insert(zone);
            moves.push(Move {
                zone,
                from,
                to: Placement {
                    node: target.to_owned(),
                    worker,
                },
                reason,
            });
        }

        let budget = self.moves_per_round_max.saturating_sub(moves.len());
        for _ in 0..budget {
            let Some(step) = rebalance_step(&loads, &moved) else {
                break;
            };
            let (zone, source, target) = step;
            let from_worker = loads[source].zones[&zone].0;
            let weight = loads.get_mut(source).expect("source exists").remove(zone);
            let load = loads.get_mut(target).expect("target exists");
            let worker = load.least_loaded_worker();
            load.add(zone, worker, weight);
            moved.insert(zone);
            moves.push(Move {
                zone,
                from: Some(Placement {
                    node: source.to_owned(),
                    worker: from_worker,
                }),
                to: Placement {
                    node: target.to_owned(),
                    worker,
                },
                reason: MoveReason::Rebalance,
            });
        }
        moves
    }
}

/// The single best move from the busiest node to the idlest eligible one, if it helps enough.
fn rebalance_step<'a>(
    loads: &BTreeMap<&'a str, NodeLoad>,
    moved: &BTreeSet<ZoneId>,
) -> Option<(ZoneId, &'a str, &'a str)> {
    let (source, src) = loads
        .iter()
        .filter(|(_, l)| !l.zones.is_empty())
        .max_by_key(|(id, l)| (util_ppm(l.cost, l.capacity), std::cmp::Reverse(**id)))?;
    let (target, dst) = loads
        .iter()
        .filter(|(id, l)| l.eligible() && *id != source)
        .min_by_key(|(id, l)| (util_ppm(l.cost, l.capacity), **id))?;
    let before = util_ppm(src.cost, src.capacity);
    let candidates = src.zones.iter().filter(|(zone, _)| !moved.contains(zone));
    if src.capacity == 0 {
        // Draining: any zone leaves, lightest first so the idlest node stays idle longest.
        let (zone, _) = candidates.min_by_key(|(zone, (_, weight))| (*weight, **zone))?;
        return Some((*zone, source, target));
    }
    let (zone, after) = candidates
        .map(|(zone, (_, weight))| {
            let after = util_ppm(src.cost - weight, src.capacity).max(util_ppm(dst.cost + weight, dst.capacity));
            (*zone, after)
        })
        .min_by_key(|(zone, after)| (*after, *zone))?;
    let gain = before.saturating_sub(after);
    (gain > 0 && gain.saturating_mul(1000) >= before.saturating_mul(REBALANCE_GAIN_MIN_PERMILLE))
        .then_some((zone, source, target))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, workers: u32, capacity_players: u32) -> LiveNode {
        LiveNode {
            id: id.to_owned(),
            workers,
            capacity_players,
            players_per_zone: BTreeMap::new(),
        }
    }

    fn place(node: &str, worker: u32) -> Placement {
        Placement {
            node: node.to_owned(),
            worker,
        }
    }

    fn apply(current: &mut BTreeMap<ZoneId, Placement>, moves: &[Move]) {
        for m in moves {
            assert_eq!(
                current.get(&m.zone),
                m.from.as_ref(),
                "move {m:?} must start from the current placement"
            );
            current.insert(m.zone, m.to.clone());
        }
    }

    fn zones_on(current: &BTreeMap<ZoneId, Placement>, node: &str) -> usize {
        current.values().filter(|p| p.node == node).count()
    }

    #[test]
    fn fresh_cluster_spreads_every_zone_over_nodes_and_workers() {
        let nodes = [node("a", 2, 1000), node("b", 2, 1000)];
        let zones: Vec<ZoneId> = (1..=8).collect();
        let moves = ZoneAssigner::new(0).plan(&zones, &nodes, &BTreeMap::new());
        assert_eq!(moves.len(), 8);
        assert!(moves.iter().all(|m| m.reason == MoveReason::Unassigned));
        let mut current = BTreeMap::new();
        apply(&mut current, &moves);
        assert_eq!(zones_on(&current, "a"), 4);
        assert_eq!(zones_on(&current, "b"), 4);
        for n in ["a", "b"] {
            for w in 0..2 {
                let on_worker = current.values().filter(|p| p.node == n && p.worker == w).count();
                assert_eq!(on_worker, 2, "node {n} worker {w}");
            }
        }
        // A balanced cluster is left alone.
        assert!(ZoneAssigner::new(8).plan(&zones, &nodes, &current).is_empty());
    }

    #[test]
    fn a_dead_nodes_zones_all_move_even_with_no_move_budget() {
        let zones: Vec<ZoneId> = (1..=6).collect();
        let mut current: BTreeMap<ZoneId, Placement> = zones
            .iter()
            .map(|z| (*z, place(if z % 2 == 0 { "a" } else { "b" }, 0)))
            .collect();
        let nodes = [node("a", 1, 1000)];
        let moves = ZoneAssigner::new(0).plan(&zones, &nodes, &current);
        assert_eq!(moves.len(), 3);
        assert!(
            moves
                .iter()
                .all(|m| m.reason == MoveReason::OwnerGone && m.to.node == "a")
        );
        apply(&mut current, &moves);
        assert_eq!(zones_on(&current, "a"), 6);
    }

    #[test]
    fn a_joining_node_receives_zones_at_most_budget_per_round_until_balanced() {
        let zones: Vec<ZoneId> = (1..=8).collect();
        let mut current: BTreeMap<ZoneId, Placement> = zones.iter().map(|z| (*z, place("a", 0))).collect();
        let nodes = [node("a", 1, 1000), node("b", 1, 1000)];
        let assigner = ZoneAssigner::new(2);
        let mut rounds = 0;
        loop {
            let moves = assigner.plan(&zones, &nodes, &current);
            if moves.is_empty() {
                break;
            }
            assert!(moves.len() <= 2, "round {rounds}: {} moves", moves.len());
            assert!(
                moves
                    .iter()
                    .all(|m| m.reason == MoveReason::Rebalance && m.to.node == "b")
            );
            apply(&mut current, &moves);
            rounds += 1;
            assert!(rounds <= 4, "did not converge");
        }
        assert_eq!(rounds, 2);
        assert_eq!(zones_on(&current, "a"), 4);
        assert_eq!(zones_on(&current, "b"), 4);
    }

    #[test]
    fn reported_load_moves_a_busy_zone_to_the_idle_node() {
        let zones: Vec<ZoneId> = vec![1, 2, 3, 4];
        let current: BTreeMap<ZoneId, Placement> = [
            (1, place("a", 0)),
            (2, place("a", 0)),
            (3, place("b", 0)),
            (4, place("b", 0)),
        ]
        .into();
        let mut a = node("a", 1, 1000);
        a.players_per_zone = [(1, 400), (2, 300)].into();
        let b = node("b", 1, 1000);
        let moves = ZoneAssigner::new(4).plan(&zones, &[a, b], &current);
        // Costs a 708, b 8. Moving zone 2 (304) leaves max(404, 312) = 404; zone 1 (404) would leave
        // max(304, 412) = 412. After it, moving zone 1 as well would only swap the imbalance.
        assert_eq!(moves.len(), 1, "{moves:?}");
        assert_eq!(moves[0].zone, 2);
        assert_eq!(moves[0].to.node, "b");
    }

    #[test]
    fn capacity_is_weighed_not_zone_count() {
        let zones: Vec<ZoneId> = (1..=9).collect();
        let nodes = [node("big", 1, 2000), node("small", 1, 1000)];
        let mut current = BTreeMap::new();
        let moves = ZoneAssigner::new(0).plan(&zones, &nodes, &current);
        apply(&mut current, &moves);
        assert_eq!(zones_on(&current, "big"), 6);
        assert_eq!(zones_on(&current, "small"), 3);
    }

    #[test]
    fn a_draining_node_is_emptied_within_the_budget_and_never_receives() {
        let zones: Vec<ZoneId> = (1..=4).collect();
        let mut current: BTreeMap<ZoneId, Placement> = zones.iter().map(|z| (*z, place("old", 0))).collect();
        let nodes = [node("old", 1, 0), node("new", 2, 1000)];
        let moves = ZoneAssigner::new(3).plan(&zones, &nodes, &current);
        assert_eq!(moves.len(), 3);
        apply(&mut current, &moves);
        let moves = ZoneAssigner::new(3).plan(&zones, &nodes, &current);
        assert_eq!(moves.len(), 1);
        apply(&mut current, &moves);
        assert_eq!(zones_on(&current, "old"), 0);
    }

    #[test]
    fn without_capacity_zones_stay_unassigned() {
        let moves = ZoneAssigner::new(4).plan(&[1, 2], &[node("a", 1, 0), node("b", 0, 100)], &BTreeMap::new());
        assert!(moves.is_empty());
    }

    /// Random clusters (seeded): every zone ends placed on an eligible node's real worker, no zone
    /// moves twice in a round, rebalancing stays within budget, and the plan is deterministic.
    #[test]
    fn random_clusters_keep_the_invariants() {
        let mut seed: u64 = 0x5eed_0010;
        let mut next = |bound: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % bound
        };
        for case in 0..300 {
            let node_count = 1 + next(5);
            let nodes: Vec<LiveNode> = (0..node_count)
                .map(|i| {
                    let mut n = node(&format!("n{i}"), 1 + next(4) as u32, next(4) as u32 * 500);
                    for z in 0..8 {
                        if next(2) == 0 {
                            n.players_per_zone.insert(z, next(300) as u32);
                        }
                    }
                    n
                })
                .collect();
            let zones: Vec<ZoneId> = (0..1 + next(20) as u32).collect();
            let mut current = BTreeMap::new();
            for z in &zones {
                if next(3) > 0 {
                    // Some owners are dead nodes (ids past node_count), some workers out of range.
                    current.insert(*z, place(&format!("n{}", next(node_count + 2)), next(5) as u32));
                }
            }
            let budget = next(4) as usize;
            let assigner = ZoneAssigner::new(budget);
            let moves = assigner.plan(&zones, &nodes, &current);
            assert_eq!(
                moves,
                assigner.plan(&zones, &nodes, &current),
                "case {case}: deterministic"
            );
            let distinct: BTreeSet<ZoneId> = moves.iter().map(|m| m.zone).collect();
            assert_eq!(distinct.len(), moves.len(), "case {case}: a zone moved twice");
            let rebalanced = moves.iter().filter(|m| m.reason == MoveReason::Rebalance).count();
            assert!(rebalanced <= budget, "case {case}");
            apply(&mut current, &moves);
            let any_eligible = nodes.iter().any(|n| n.capacity_players > 0 && n.workers > 0);
            for z in &zones {
                let placed = current
                    .get(z)
                    .and_then(|p| nodes.iter().find(|n| n.id == p.node && p.worker < n.workers).map(|_| p));
                if any_eligible {
                    assert!(placed.is_some(), "case {case}: zone {z} left without a live owner");
                }
            }
            for m in &moves {
                let target = nodes.iter().find(|n| n.id == m.to.node).expect("target is live");
                assert!(target.capacity_players > 0, "case {case}: moved onto a draining node");
                assert!(m.to.worker < target.workers, "case {case}");
            }
        }
    }
}
