//! The ECS components of the zone's hecs world (replication reads them too).

use super::{ActorKind, ClientId, IdempotencyKey};

#[derive(Debug, Clone, Copy)]
pub(crate) struct NetId(pub u32);

#[derive(Debug, Clone, Copy)]
pub(crate) struct Kind(pub ActorKind);

#[derive(Debug, Clone, Copy)]
pub(crate) struct Body {
    pub position_m: [f32; 3],
    pub yaw: f32,
    pub velocity_m_per_s: [f32; 3],
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Vitals {
    pub health: u16,
    pub health_max: u16,
    pub dead_until_tick: Option<u64>,
    pub attack_ready_tick: u64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct PlayerOf {
    pub client: ClientId,
    pub character_id: u64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct NpcBrain {
    pub home_m: [f32; 3],
    pub target_m: [f32; 3],
    pub loot_item_id: u32,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct LootDrop {
    pub item_id: u32,
    pub quantity: u16,
    pub key: IdempotencyKey,
    pub claimed: bool,
    pub expires_tick: u64,
}
