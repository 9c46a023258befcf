//! A frozen player as bytes: the zone's own, exact encoding of a [`PlayerHandoff`], which travels in
//! the handoff ticket's opaque `extra_state` when the new zone runs on another worker or node. The
//! ticket's typed fields (position, health, inventory, last input tick, quantised pending inputs)
//! are for the control plane and tools; this is what the new zone resumes from, so nothing is lost
//! to quantisation: the jitter buffer (queued inputs with their arrival times and playback state),
//! the lag-compensation history and the facing carry on bit for bit, and a handoff between workers
//! plays exactly what a handoff inside one host would.
//!
//! Layout: little-endian, fixed order, a version byte first. Decoding is total and bounded.

use std::collections::BTreeMap;
use std::sync::Arc;

use thiserror::Error;

use super::handoff::PlayerHandoff;
use super::{ClientId, PartyId};
use crate::input::{
    Action, CHAT_BYTES_MAX, INPUT_BUFFER_TICKS_MAX, InputBuffer, InputBufferState, MoveIntent, PlayerInput,
};
use crate::lag::{HISTORY_TICKS, LagCompensationHistory};

/// Version 2 added the inventory version after the inventory; version 1 is still read (as
/// inventory version 0), so a node one release behind can hand players over during an upgrade.
const VERSION: u8 = 2;
const VERSION_WITHOUT_INVENTORY_VERSION: u8 = 1;
/// Inventory entries one frozen player carries at most (the ticket's own limit is 512 items).
const INVENTORY_ENTRIES_MAX: usize = 512;
/// Largest encoding: the history (64 × 12 B), a full jitter buffer with chat actions, an inventory.
pub const HANDOFF_STATE_BYTES_MAX: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandoffStateError {
    #[error("player state ends early")]
    Truncated,
    #[error("player state version {0} is not known")]
    Version(u8),
    #[error("player state field {0} is out of range")]
    Field(&'static str),
    #[error("player state has {0} bytes left over")]
    Trailing(usize),
    #[error("player state of {0} bytes exceeds {HANDOFF_STATE_BYTES_MAX}")]
    TooLarge(usize),
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f32s(&mut self, v: &[f32]) {
        v.iter().for_each(|x| self.f32(*x));
    }
    fn opt_u32(&mut self, v: Option<u32>) {
        self.u8(u8::from(v.is_some()));
        self.u32(v.unwrap_or(0));
    }
    fn opt_u64(&mut self, v: Option<u64>) {
        self.u8(u8::from(v.is_some()));
        self.u64(v.unwrap_or(0));
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], HandoffStateError> {
        let (head, rest) = self.0.split_at_checked(N).ok_or(HandoffStateError::Truncated)?;
        self.0 = rest;
        Ok(head.try_into().expect("split at N"))
    }
    fn u8(&mut self) -> Result<u8, HandoffStateError> {
        Ok(self.take::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, HandoffStateError> {
        Ok(u16::from_le_bytes(self.take()?))
    }
    fn u32(&mut self) -> Result<u32, HandoffStateError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64, HandoffStateError> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    fn f32(&mut self) -> Result<f32, HandoffStateError> {
        Ok(f32::from_le_bytes(self.take()?))
    }
    fn f32s<const N: usize>(&mut self) -> Result<[f32; N], HandoffStateError> {
        let mut out = [0.0; N];
        for v in &mut out {
            *v = self.f32()?;
        }
        Ok(out)
    }
    fn flag(&mut self, field: &'static str) -> Result<bool, HandoffStateError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(HandoffStateError::Field(field)),
        }
    }
    fn opt_u32(&mut self, field: &'static str) -> Result<Option<u32>, HandoffStateError> {
        let some = self.flag(field)?;
        let v = self.u32()?;
        Ok(some.then_some(v))
    }
    fn opt_u64(&mut self, field: &'static str) -> Result<Option<u64>, HandoffStateError> {
        let some = self.flag(field)?;
        let v = self.u64()?;
        Ok(some.then_some(v))
    }
}

fn write_input(w: &mut Writer, input: &PlayerInput, arrival_us: u64) {
    w.u32(input.client_tick);
    w.u64(arrival_us);
    match &input.movement {
        Some(movement) => {
            w.u8(1);
            w.f32s(&movement.direction);
            w.f32(movement.yaw);
            w.u8(u8::from(movement.claimed_position_m.is_some()));
            w.f32s(&movement.claimed_position_m.unwrap_or_default());
        }
        None => w.u8(0),
    }
    match &input.action {
        None => w.u8(0),
        Some(Action::Attack { target, direction }) => {
            w.u8(1);
            w.u32(*target);
            w.f32s(direction);
        }
        Some(Action::PickUp { loot }) => {
            w.u8(2);
            w.u32(*loot);
        }
        Some(Action::Chat { text }) => {
            w.u8(3);
            w.u16(text.len() as u16);
            w.0.extend_from_slice(text.as_bytes());
        }
        Some(Action::TradeOffer {
            target,
            give_item,
            want_item,
        }) => {
            w.u8(4);
            w.u32(*target);
            w.u32(*give_item);
            w.u32(*want_item);
        }
        Some(Action::TradeAccept { from }) => {
            w.u8(5);
            w.u32(*from);
        }
    }
}

fn read_input(r: &mut Reader) -> Result<(PlayerInput, u64), HandoffStateError> {
    let client_tick = r.u32()?;
    let arrival_us = r.u64()?;
    let movement = if r.flag("movement")? {
        let direction = r.f32s::<2>()?;
        let yaw = r.f32()?;
        let claimed = r.flag("claimed_position")?;
        let position = r.f32s::<3>()?;
        Some(MoveIntent {
            direction,
            yaw,
            claimed_position_m: claimed.then_some(position),
        })
    } else {
        None
    };
    let action = match r.u8()? {
        0 => None,
        1 => Some(Action::Attack {
            target: r.u32()?,
            direction: r.f32s::<3>()?,
        }),
        2 => Some(Action::PickUp { loot: r.u32()? }),
        3 => {
            let len = usize::from(r.u16()?);
            if len > CHAT_BYTES_MAX {
                return Err(HandoffStateError::Field("chat"));
            }
            let (text, rest) = r.0.split_at_checked(len).ok_or(HandoffStateError::Truncated)?;
            r.0 = rest;
            let text = std::str::from_utf8(text).map_err(|_| HandoffStateError::Field("chat"))?;
            Some(Action::Chat { text: Arc::from(text) })
        }
        4 => Some(Action::TradeOffer {
            target: r.u32()?,
            give_item: r.u32()?,
            want_item: r.u32()?,
        }),
        5 => Some(Action::TradeAccept { from: r.u32()? }),
        _ => return Err(HandoffStateError::Field("action")),
    };
    Ok((
        PlayerInput {
            client_tick,
            movement,
            action,
        },
        arrival_us,
    ))
}

impl PlayerHandoff {
    /// The exact encoding of this frozen player (everything but the zone-local client id, which
    /// the receiving host assigns).
    pub fn encode_state(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(1024));
        w.u8(VERSION);
        w.u64(self.character_id);
        w.opt_u32(self.party.map(|party| party.0));
        w.u32(self.entity);
        w.f32s(&self.position_m);
        w.f32s(&self.velocity_m_per_s);
        w.f32(self.yaw);
        w.u16(self.health);
        w.u16(self.health_max);
        w.u64(self.attack_ready_tick);
        w.u64(self.rtt_us);
        w.f32s(&self.last_direction);
        w.u16(self.inventory.len() as u16);
        for (item, count) in &self.inventory {
            w.u32(*item);
            w.u32(*count);
        }
        w.u64(self.inventory_version);
        let inputs = self.inputs.state();
        w.opt_u32(inputs.next_tick);
        w.u32(inputs.jitter_ticks);
        w.u8(u8::from(inputs.playing));
        w.u32(inputs.steps_since_catch_up);
        w.opt_u32(inputs.last_passed_tick);
        w.u8(inputs.queued.len() as u8);
        for (input, arrival_us) in &inputs.queued {
            write_input(&mut w, input, *arrival_us);
        }
        let (positions_m, newest_tick, len) = self.history.parts();
        w.opt_u64(newest_tick);
        w.u8(len as u8);
        for position_m in positions_m {
            w.f32s(position_m);
        }
        w.0
    }

    /// Decodes [`Self::encode_state`]'s bytes for a player that is `client` on this host.
    pub fn decode_state(client: ClientId, bytes: &[u8]) -> Result<Self, HandoffStateError> {
        if bytes.len() > HANDOFF_STATE_BYTES_MAX {
            return Err(HandoffStateError::TooLarge(bytes.len()));
        }
        let mut r = Reader(bytes);
        let version = r.u8()?;
        if version != VERSION && version != VERSION_WITHOUT_INVENTORY_VERSION {
            return Err(HandoffStateError::Version(version));
        }
        let character_id = r.u64()?;
        let party = r.opt_u32("party")?.map(PartyId);
        let entity = r.u32()?;
        let position_m = r.f32s::<3>()?;
        let velocity_m_per_s = r.f32s::<3>()?;
        let yaw = r.f32()?;
        let health = r.u16()?;
        let health_max = r.u16()?;
        let attack_ready_tick = r.u64()?;
        let rtt_us = r.u64()?;
        let last_direction = r.f32s::<2>()?;
        if !position_m.iter().chain(&velocity_m_per_s).all(|v| v.is_finite()) {
            return Err(HandoffStateError::Field("position"));
        }
        let entries = usize::from(r.u16()?);
        if entries > INVENTORY_ENTRIES_MAX {
            return Err(HandoffStateError::Field("inventory"));
        }
        let mut inventory = BTreeMap::new();
        for _ in 0..entries {
            let item = r.u32()?;
            inventory.insert(item, r.u32()?);
        }
        let inventory_version = if version == VERSION { r.u64()? } else { 0 };
        let next_tick = r.opt_u32("next_tick")?;
        let jitter_ticks = r.u32()?;
        let playing = r.flag("playing")?;
        let steps_since_catch_up = r.u32()?;
        let last_passed_tick = r.opt_u32("last_passed_tick")?;
        let queued_len = r.u8()?;
        if u32::from(queued_len) > INPUT_BUFFER_TICKS_MAX {
            return Err(HandoffStateError::Field("queued inputs"));
        }
        let mut queued = Vec::with_capacity(usize::from(queued_len));
        for _ in 0..queued_len {
            queued.push(read_input(&mut r)?);
        }
        let inputs = InputBuffer::from_state(InputBufferState {
            queued,
            next_tick,
            jitter_ticks,
            playing,
            steps_since_catch_up,
            last_passed_tick,
        })
        .ok_or(HandoffStateError::Field("jitter buffer"))?;
        let newest_tick = r.opt_u64("history tick")?;
        let len = usize::from(r.u8()?);
        let mut positions_m = [[0.0f32; 3]; HISTORY_TICKS];
        for position_m in &mut positions_m {
            *position_m = r.f32s::<3>()?;
        }
        if !r.0.is_empty() {
            return Err(HandoffStateError::Trailing(r.0.len()));
        }
        Ok(PlayerHandoff {
            client,
            character_id,
            party,
            entity,
            position_m,
            velocity_m_per_s,
            yaw,
            health,
            health_max,
            attack_ready_tick,
            rtt_us,
            last_direction,
            inventory,
            inventory_version,
            inputs,
            history: Box::new(LagCompensationHistory::from_parts(positions_m, newest_tick, len)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::test_support::{STEP_US, join};
    use crate::zone::*;

    /// Where the inventory ends in an encoding (the fixed fields, then count and entries).
    fn frozen_inventory_end(bytes: &[u8]) -> usize {
        // version, character, party (flag + u32), entity, position, velocity, yaw, health,
        // health max, attack-ready tick, rtt, last direction.
        let fixed = 1 + 8 + 5 + 4 + 12 + 12 + 4 + 2 + 2 + 8 + 8 + 8;
        let entries = u16::from_le_bytes([bytes[fixed], bytes[fixed + 1]]) as usize;
        fixed + 2 + entries * 8
    }

    #[test]
    fn a_frozen_player_round_trips_exactly_and_bad_bytes_are_refused() {
        let mut zone = Zone::new(ZoneConfig::default(), 0, 7, 0).unwrap();
        let mut out = ZoneOutput::default();
        zone.tick(STEP_US, None, [join(1, [100.0, 100.0, 0.0])], &mut out);
        for tick in 0..6u32 {
            let now = (2 + u64::from(tick)) * STEP_US;
            let input = ZoneInput::Input {
                client: ClientId(1),
                input: PlayerInput {
                    client_tick: tick,
                    movement: Some(MoveIntent {
                        direction: [0.6, -0.3],
                        yaw: 1.25,
                        claimed_position_m: None,
                    }),
                    action: (tick == 5).then(|| Action::Chat { text: Arc::from("hi") }),
                },
                received_us: now,
            };
            zone.tick(now, None, [input], &mut out);
        }
        let frozen = zone.freeze_player(ClientId(1)).unwrap();
        assert!(frozen.pending_inputs() > 0);
        let bytes = frozen.encode_state();
        let back = PlayerHandoff::decode_state(ClientId(9), &bytes).unwrap();
        assert_eq!(back.client, ClientId(9));
        assert_eq!(back.encode_state(), bytes, "every field carried");
        assert_eq!(back.inputs.state(), frozen.inputs.state());
        for cut in [0, 1, 40, bytes.len() - 1] {
            assert!(PlayerHandoff::decode_state(ClientId(9), &bytes[..cut]).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            PlayerHandoff::decode_state(ClientId(9), &longer).unwrap_err(),
            HandoffStateError::Trailing(1)
        );
        // Version 1 (no inventory version) is still read, as version 0 of the inventory.
        let mut frozen = frozen;
        frozen.inventory.insert(42, 3);
        frozen.inventory_version = 5;
        let bytes = frozen.encode_state();
        let back = PlayerHandoff::decode_state(ClientId(9), &bytes).unwrap();
        assert_eq!((back.inventory.get(&42), back.inventory_version), (Some(&3), 5));
        let inventory_end = frozen_inventory_end(&bytes);
        let mut v1 = bytes[..inventory_end].to_vec();
        v1.extend_from_slice(&bytes[inventory_end + 8..]);
        v1[0] = 1;
        let back = PlayerHandoff::decode_state(ClientId(9), &v1).unwrap();
        assert_eq!((back.inventory.get(&42), back.inventory_version), (Some(&3), 0));
        let mut bad = bytes;
        bad[0] = 9;
        assert_eq!(
            PlayerHandoff::decode_state(ClientId(9), &bad).unwrap_err(),
            HandoffStateError::Version(9)
        );
    }

    /// Totality: every single-byte change and every cut of a valid encoding decodes or is refused,
    /// never panics (a ticket's bytes come from another node).
    #[test]
    fn any_corruption_of_a_frozen_player_is_refused_or_decoded_never_a_panic() {
        let mut zone = Zone::new(ZoneConfig::default(), 0, 7, 0).unwrap();
        let mut out = ZoneOutput::default();
        zone.tick(STEP_US, None, [join(1, [10.0, 10.0, 0.0])], &mut out);
        let mut frozen = zone.freeze_player(ClientId(1)).unwrap();
        frozen.inventory.insert(7, 1);
        frozen.inventory_version = 1;
        let bytes = frozen.encode_state();
        let mut decoded = 0;
        for at in 0..bytes.len() {
            for value in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut changed = bytes.clone();
                changed[at] = value;
                decoded += usize::from(PlayerHandoff::decode_state(ClientId(1), &changed).is_ok());
            }
            assert!(PlayerHandoff::decode_state(ClientId(1), &bytes[..at]).is_err());
        }
        assert!(decoded > 0, "most single-byte changes are still a valid player");
    }
}
