pub use root::*;

const _: () = ::planus::check_version_compatibility("planus-1.3.0");

/// The root namespace
///
/// Generated from these locations:
/// * File `fbs/zone_state.fbs`
#[no_implicit_prelude]
#[allow(clippy::needless_lifetimes)]
mod root {
    /// The namespace `meridian`
    ///
    /// Generated from these locations:
    /// * File `fbs/zone_state.fbs`
    pub mod meridian {
        /// The namespace `meridian.zonestate`
        ///
        /// Generated from these locations:
        /// * File `fbs/zone_state.fbs`
        pub mod zonestate {
            /// The struct `Position` in the namespace `meridian.zonestate`
            ///
            /// Generated from these locations:
            /// * Struct `Position` in the file `fbs/zone_state.fbs:9`
            #[derive(Copy, Clone, Debug, PartialEq, PartialOrd, Default, ::serde::Serialize, ::serde::Deserialize)]
            pub struct Position {
                /// The field `x` in the struct `Position`
                pub x: f32,

                /// The field `y` in the struct `Position`
                pub y: f32,

                /// The field `z` in the struct `Position`
                pub z: f32,
            }

            /// # Safety
            /// The Planus compiler correctly calculates `ALIGNMENT` and `SIZE`.
            unsafe impl ::planus::Primitive for Position {
                const ALIGNMENT: usize = 4;
                const SIZE: usize = 12;
            }

            #[allow(clippy::identity_op)]
            impl ::planus::WriteAsPrimitive<Position> for Position {
                #[inline]
                fn write<const N: usize>(&self, cursor: ::planus::Cursor<'_, N>, buffer_position: u32) {
                    let (cur, cursor) = cursor.split::<4, 8>();
                    self.x.write(cur, buffer_position - 0);
                    let (cur, cursor) = cursor.split::<4, 4>();
                    self.y.write(cur, buffer_position - 4);
                    let (cur, cursor) = cursor.split::<4, 0>();
                    self.z.write(cur, buffer_position - 8);
                    cursor.finish([]);
                }
            }

            impl ::planus::WriteAsOffset<Position> for Position {
                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<Position> {
                    unsafe {
                        builder.write_with(12, 3, |buffer_position, bytes| {
                            let bytes = bytes.as_mut_ptr();

                            ::planus::WriteAsPrimitive::write(
                                self,
                                ::planus::Cursor::new(&mut *(bytes as *mut [::core::mem::MaybeUninit<u8>; 12])),
                                buffer_position,
                            );
                        });
                    }
                    builder.current_offset()
                }
            }

            impl ::planus::WriteAs<Position> for Position {
                type Prepared = Self;
                #[inline]
                fn prepare(&self, _builder: &mut ::planus::Builder) -> Self {
                    *self
                }
            }

            impl ::planus::WriteAsOptional<Position> for Position {
                type Prepared = Self;
                #[inline]
                fn prepare(&self, _builder: &mut ::planus::Builder) -> ::core::option::Option<Self> {
                    ::core::option::Option::Some(*self)
                }
            }

            /// Reference to a deserialized [Position].
            #[derive(Copy, Clone)]
            pub struct PositionRef<'a>(::planus::ArrayWithStartOffset<'a, 12>);

            impl<'a> PositionRef<'a> {
                /// Getter for the [`x` field](Position#structfield.x).
                pub fn x(&self) -> f32 {
                    let buffer = self.0.advance_as_array::<4>(0).unwrap();

                    f32::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`y` field](Position#structfield.y).
                pub fn y(&self) -> f32 {
                    let buffer = self.0.advance_as_array::<4>(4).unwrap();

                    f32::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`z` field](Position#structfield.z).
                pub fn z(&self) -> f32 {
                    let buffer = self.0.advance_as_array::<4>(8).unwrap();

                    f32::from_le_bytes(*buffer.as_array())
                }
            }

            impl<'a> ::core::fmt::Debug for PositionRef<'a> {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    let mut f = f.debug_struct("PositionRef");
                    f.field("x", &self.x());
                    f.field("y", &self.y());
                    f.field("z", &self.z());
                    f.finish()
                }
            }

            impl<'a> ::core::convert::From<::planus::ArrayWithStartOffset<'a, 12>> for PositionRef<'a> {
                fn from(array: ::planus::ArrayWithStartOffset<'a, 12>) -> Self {
                    Self(array)
                }
            }

            impl<'a> ::core::convert::From<PositionRef<'a>> for Position {
                #[allow(unreachable_code)]
                fn from(value: PositionRef<'a>) -> Self {
                    Self {
                        x: value.x(),
                        y: value.y(),
                        z: value.z(),
                    }
                }
            }

            impl<'a, 'b> ::core::cmp::PartialEq<PositionRef<'a>> for PositionRef<'b> {
                fn eq(&self, other: &PositionRef<'_>) -> bool {
                    self.x() == other.x() && self.y() == other.y() && self.z() == other.z()
                }
            }

            impl<'a, 'b> ::core::cmp::PartialOrd<PositionRef<'a>> for PositionRef<'b> {
                fn partial_cmp(&self, other: &PositionRef<'_>) -> ::core::option::Option<::core::cmp::Ordering> {
                    match self.x().partial_cmp(&other.x()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    match self.y().partial_cmp(&other.y()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    self.z().partial_cmp(&other.z())
                }
            }

            impl<'a> ::planus::TableRead<'a> for PositionRef<'a> {
                #[inline]
                fn from_buffer(
                    buffer: ::planus::SliceWithStartOffset<'a>,
                    offset: usize,
                ) -> ::core::result::Result<Self, ::planus::errors::ErrorKind> {
                    let buffer = buffer.advance_as_array::<12>(offset)?;
                    ::core::result::Result::Ok(Self(buffer))
                }
            }

            impl<'a> ::planus::VectorRead<'a> for PositionRef<'a> {
                const STRIDE: usize = 12;

                #[inline]
                unsafe fn from_buffer(buffer: ::planus::SliceWithStartOffset<'a>, offset: usize) -> Self {
                    Self(unsafe { buffer.unchecked_advance_as_array(offset) })
                }
            }

            /// # Safety
            /// The planus compiler generates implementations that initialize
            /// the bytes in `write_values`.
            unsafe impl ::planus::VectorWrite<Position> for Position {
                const STRIDE: usize = 12;

                type Value = Position;

                #[inline]
                fn prepare(&self, _builder: &mut ::planus::Builder) -> Self::Value {
                    *self
                }

                #[inline]
                unsafe fn write_values(
                    values: &[Position],
                    bytes: *mut ::core::mem::MaybeUninit<u8>,
                    buffer_position: u32,
                ) {
                    let bytes = bytes as *mut [::core::mem::MaybeUninit<u8>; 12];
                    for (i, v) in ::core::iter::Iterator::enumerate(values.iter()) {
                        ::planus::WriteAsPrimitive::write(
                            v,
                            ::planus::Cursor::new(unsafe { &mut *bytes.add(i) }),
                            buffer_position - (12 * i) as u32,
                        );
                    }
                }
            }

            ///  One NPC as the zone's simulation holds it.
            ///
            /// Generated from these locations:
            /// * Struct `NpcState` in the file `fbs/zone_state.fbs:16`
            #[derive(Copy, Clone, Debug, PartialEq, PartialOrd, Default, ::serde::Serialize, ::serde::Deserialize)]
            pub struct NpcState {
                /// The field `npc_id` in the struct `NpcState`
                pub npc_id: u32,

                ///  Game-defined NPC kind (template).
                pub kind: u16,

                /// The field `health` in the struct `NpcState`
                pub health: u16,

                /// The field `health_max` in the struct `NpcState`
                pub health_max: u16,

                /// The field `position` in the struct `NpcState`
                pub position: self::Position,

                /// The field `yaw` in the struct `NpcState`
                pub yaw: f32,

                ///  Where it wanders around.
                pub home: self::Position,

                /// The field `loot_item_id` in the struct `NpcState`
                pub loot_item_id: u32,

                ///  0 when alive; otherwise the tick it respawns at.
                pub dead_until_tick: u64,
            }

            /// # Safety
            /// The Planus compiler correctly calculates `ALIGNMENT` and `SIZE`.
            unsafe impl ::planus::Primitive for NpcState {
                const ALIGNMENT: usize = 8;
                const SIZE: usize = 56;
            }

            #[allow(clippy::identity_op)]
            impl ::planus::WriteAsPrimitive<NpcState> for NpcState {
                #[inline]
                fn write<const N: usize>(&self, cursor: ::planus::Cursor<'_, N>, buffer_position: u32) {
                    let (cur, cursor) = cursor.split::<4, 52>();
                    self.npc_id.write(cur, buffer_position - 0);
                    let (cur, cursor) = cursor.split::<2, 50>();
                    self.kind.write(cur, buffer_position - 4);
                    let (cur, cursor) = cursor.split::<2, 48>();
                    self.health.write(cur, buffer_position - 6);
                    let (cur, cursor) = cursor.split::<2, 46>();
                    self.health_max.write(cur, buffer_position - 8);
                    let cursor = cursor.write::<2, 44>([0; 2]);
                    let (cur, cursor) = cursor.split::<12, 32>();
                    self.position.write(cur, buffer_position - 12);
                    let (cur, cursor) = cursor.split::<4, 28>();
                    self.yaw.write(cur, buffer_position - 24);
                    let (cur, cursor) = cursor.split::<12, 16>();
                    self.home.write(cur, buffer_position - 28);
                    let (cur, cursor) = cursor.split::<4, 12>();
                    self.loot_item_id.write(cur, buffer_position - 40);
                    let cursor = cursor.write::<4, 8>([0; 4]);
                    let (cur, cursor) = cursor.split::<8, 0>();
                    self.dead_until_tick.write(cur, buffer_position - 48);
                    cursor.finish([]);
                }
            }

            impl ::planus::WriteAsOffset<NpcState> for NpcState {
                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<NpcState> {
                    unsafe {
                        builder.write_with(56, 7, |buffer_position, bytes| {
                            let bytes = bytes.as_mut_ptr();

                            ::planus::WriteAsPrimitive::write(
                                self,
                                ::planus::Cursor::new(&mut *(bytes as *mut [::core::mem::MaybeUninit<u8>; 56])),
                                buffer_position,
                            );
                        });
                    }
                    builder.current_offset()
                }
            }

            impl ::planus::WriteAs<NpcState> for NpcState {
                type Prepared = Self;
                #[inline]
                fn prepare(&self, _builder: &mut ::planus::Builder) -> Self {
                    *self
                }
            }

            impl ::planus::WriteAsOptional<NpcState> for NpcState {
                type Prepared = Self;
                #[inline]
                fn prepare(&self, _builder: &mut ::planus::Builder) -> ::core::option::Option<Self> {
                    ::core::option::Option::Some(*self)
                }
            }

            /// Reference to a deserialized [NpcState].
            #[derive(Copy, Clone)]
            pub struct NpcStateRef<'a>(::planus::ArrayWithStartOffset<'a, 56>);

            impl<'a> NpcStateRef<'a> {
                /// Getter for the [`npc_id` field](NpcState#structfield.npc_id).
                pub fn npc_id(&self) -> u32 {
                    let buffer = self.0.advance_as_array::<4>(0).unwrap();

                    u32::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`kind` field](NpcState#structfield.kind).
                pub fn kind(&self) -> u16 {
                    let buffer = self.0.advance_as_array::<2>(4).unwrap();

                    u16::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`health` field](NpcState#structfield.health).
                pub fn health(&self) -> u16 {
                    let buffer = self.0.advance_as_array::<2>(6).unwrap();

                    u16::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`health_max` field](NpcState#structfield.health_max).
                pub fn health_max(&self) -> u16 {
                    let buffer = self.0.advance_as_array::<2>(8).unwrap();

                    u16::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`position` field](NpcState#structfield.position).
                pub fn position(&self) -> self::PositionRef<'a> {
                    let buffer = self.0.advance_as_array::<12>(12).unwrap();

                    ::core::convert::From::from(buffer)
                }

                /// Getter for the [`yaw` field](NpcState#structfield.yaw).
                pub fn yaw(&self) -> f32 {
                    let buffer = self.0.advance_as_array::<4>(24).unwrap();

                    f32::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`home` field](NpcState#structfield.home).
                pub fn home(&self) -> self::PositionRef<'a> {
                    let buffer = self.0.advance_as_array::<12>(28).unwrap();

                    ::core::convert::From::from(buffer)
                }

                /// Getter for the [`loot_item_id` field](NpcState#structfield.loot_item_id).
                pub fn loot_item_id(&self) -> u32 {
                    let buffer = self.0.advance_as_array::<4>(40).unwrap();

                    u32::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`dead_until_tick` field](NpcState#structfield.dead_until_tick).
                pub fn dead_until_tick(&self) -> u64 {
                    let buffer = self.0.advance_as_array::<8>(48).unwrap();

                    u64::from_le_bytes(*buffer.as_array())
                }
            }

            impl<'a> ::core::fmt::Debug for NpcStateRef<'a> {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    let mut f = f.debug_struct("NpcStateRef");
                    f.field("npc_id", &self.npc_id());
                    f.field("kind", &self.kind());
                    f.field("health", &self.health());
                    f.field("health_max", &self.health_max());
                    f.field("position", &self.position());
                    f.field("yaw", &self.yaw());
                    f.field("home", &self.home());
                    f.field("loot_item_id", &self.loot_item_id());
                    f.field("dead_until_tick", &self.dead_until_tick());
                    f.finish()
                }
            }

            impl<'a> ::core::convert::From<::planus::ArrayWithStartOffset<'a, 56>> for NpcStateRef<'a> {
                fn from(array: ::planus::ArrayWithStartOffset<'a, 56>) -> Self {
                    Self(array)
                }
            }

            impl<'a> ::core::convert::From<NpcStateRef<'a>> for NpcState {
                #[allow(unreachable_code)]
                fn from(value: NpcStateRef<'a>) -> Self {
                    Self {
                        npc_id: value.npc_id(),
                        kind: value.kind(),
                        health: value.health(),
                        health_max: value.health_max(),
                        position: ::core::convert::From::from(value.position()),
                        yaw: value.yaw(),
                        home: ::core::convert::From::from(value.home()),
                        loot_item_id: value.loot_item_id(),
                        dead_until_tick: value.dead_until_tick(),
                    }
                }
            }

            impl<'a, 'b> ::core::cmp::PartialEq<NpcStateRef<'a>> for NpcStateRef<'b> {
                fn eq(&self, other: &NpcStateRef<'_>) -> bool {
                    self.npc_id() == other.npc_id()
                        && self.kind() == other.kind()
                        && self.health() == other.health()
                        && self.health_max() == other.health_max()
                        && self.position() == other.position()
                        && self.yaw() == other.yaw()
                        && self.home() == other.home()
                        && self.loot_item_id() == other.loot_item_id()
                        && self.dead_until_tick() == other.dead_until_tick()
                }
            }

            impl<'a, 'b> ::core::cmp::PartialOrd<NpcStateRef<'a>> for NpcStateRef<'b> {
                fn partial_cmp(&self, other: &NpcStateRef<'_>) -> ::core::option::Option<::core::cmp::Ordering> {
                    match self.npc_id().partial_cmp(&other.npc_id()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    match self.kind().partial_cmp(&other.kind()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    match self.health().partial_cmp(&other.health()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    match self.health_max().partial_cmp(&other.health_max()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    match self.position().partial_cmp(&other.position()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    match self.yaw().partial_cmp(&other.yaw()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    match self.home().partial_cmp(&other.home()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    match self.loot_item_id().partial_cmp(&other.loot_item_id()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    self.dead_until_tick().partial_cmp(&other.dead_until_tick())
                }
            }

            impl<'a> ::planus::TableRead<'a> for NpcStateRef<'a> {
                #[inline]
                fn from_buffer(
                    buffer: ::planus::SliceWithStartOffset<'a>,
                    offset: usize,
                ) -> ::core::result::Result<Self, ::planus::errors::ErrorKind> {
                    let buffer = buffer.advance_as_array::<56>(offset)?;
                    ::core::result::Result::Ok(Self(buffer))
                }
            }

            impl<'a> ::planus::VectorRead<'a> for NpcStateRef<'a> {
                const STRIDE: usize = 56;

                #[inline]
                unsafe fn from_buffer(buffer: ::planus::SliceWithStartOffset<'a>, offset: usize) -> Self {
                    Self(unsafe { buffer.unchecked_advance_as_array(offset) })
                }
            }

            /// # Safety
            /// The planus compiler generates implementations that initialize
            /// the bytes in `write_values`.
            unsafe impl ::planus::VectorWrite<NpcState> for NpcState {
                const STRIDE: usize = 56;

                type Value = NpcState;

                #[inline]
                fn prepare(&self, _builder: &mut ::planus::Builder) -> Self::Value {
                    *self
                }

                #[inline]
                unsafe fn write_values(
                    values: &[NpcState],
                    bytes: *mut ::core::mem::MaybeUninit<u8>,
                    buffer_position: u32,
                ) {
                    let bytes = bytes as *mut [::core::mem::MaybeUninit<u8>; 56];
                    for (i, v) in ::core::iter::Iterator::enumerate(values.iter()) {
                        ::planus::WriteAsPrimitive::write(
                            v,
                            ::planus::Cursor::new(unsafe { &mut *bytes.add(i) }),
                            buffer_position - (56 * i) as u32,
                        );
                    }
                }
            }

            ///  One loot drop on the ground, with the idempotency key its pick-up claim carries (kept across a
            ///  failover so a claim made before it is not granted twice).
            ///
            /// Generated from these locations:
            /// * Struct `LootState` in the file `fbs/zone_state.fbs:33`
            #[derive(Copy, Clone, Debug, PartialEq, PartialOrd, Default, ::serde::Serialize, ::serde::Deserialize)]
            pub struct LootState {
                /// The field `loot_id` in the struct `LootState`
                pub loot_id: u32,

                /// The field `item_id` in the struct `LootState`
                pub item_id: u32,

                /// The field `quantity` in the struct `LootState`
                pub quantity: u16,

                /// The field `claimed` in the struct `LootState`
                pub claimed: bool,

                /// The field `position` in the struct `LootState`
                pub position: self::Position,

                /// The field `expires_tick` in the struct `LootState`
                pub expires_tick: u64,

                /// The field `key_epoch` in the struct `LootState`
                pub key_epoch: u64,

                /// The field `key_serial` in the struct `LootState`
                pub key_serial: u64,
            }

            /// # Safety
            /// The Planus compiler correctly calculates `ALIGNMENT` and `SIZE`.
            unsafe impl ::planus::Primitive for LootState {
                const ALIGNMENT: usize = 8;
                const SIZE: usize = 48;
            }

            #[allow(clippy::identity_op)]
            impl ::planus::WriteAsPrimitive<LootState> for LootState {
                #[inline]
                fn write<const N: usize>(&self, cursor: ::planus::Cursor<'_, N>, buffer_position: u32) {
                    let (cur, cursor) = cursor.split::<4, 44>();
                    self.loot_id.write(cur, buffer_position - 0);
                    let (cur, cursor) = cursor.split::<4, 40>();
                    self.item_id.write(cur, buffer_position - 4);
                    let (cur, cursor) = cursor.split::<2, 38>();
                    self.quantity.write(cur, buffer_position - 8);
                    let (cur, cursor) = cursor.split::<1, 37>();
                    self.claimed.write(cur, buffer_position - 10);
                    let cursor = cursor.write::<1, 36>([0; 1]);
                    let (cur, cursor) = cursor.split::<12, 24>();
                    self.position.write(cur, buffer_position - 12);
                    let (cur, cursor) = cursor.split::<8, 16>();
                    self.expires_tick.write(cur, buffer_position - 24);
                    let (cur, cursor) = cursor.split::<8, 8>();
                    self.key_epoch.write(cur, buffer_position - 32);
                    let (cur, cursor) = cursor.split::<8, 0>();
                    self.key_serial.write(cur, buffer_position - 40);
                    cursor.finish([]);
                }
            }

            impl ::planus::WriteAsOffset<LootState> for LootState {
                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<LootState> {
                    unsafe {
                        builder.write_with(48, 7, |buffer_position, bytes| {
                            let bytes = bytes.as_mut_ptr();

                            ::planus::WriteAsPrimitive::write(
                                self,
                                ::planus::Cursor::new(&mut *(bytes as *mut [::core::mem::MaybeUninit<u8>; 48])),
                                buffer_position,
                            );
                        });
                    }
                    builder.current_offset()
                }
            }

            impl ::planus::WriteAs<LootState> for LootState {
                type Prepared = Self;
                #[inline]
                fn prepare(&self, _builder: &mut ::planus::Builder) -> Self {
                    *self
                }
            }

            impl ::planus::WriteAsOptional<LootState> for LootState {
                type Prepared = Self;
                #[inline]
                fn prepare(&self, _builder: &mut ::planus::Builder) -> ::core::option::Option<Self> {
                    ::core::option::Option::Some(*self)
                }
            }

            /// Reference to a deserialized [LootState].
            #[derive(Copy, Clone)]
            pub struct LootStateRef<'a>(::planus::ArrayWithStartOffset<'a, 48>);

            impl<'a> LootStateRef<'a> {
                /// Getter for the [`loot_id` field](LootState#structfield.loot_id).
                pub fn loot_id(&self) -> u32 {
                    let buffer = self.0.advance_as_array::<4>(0).unwrap();

                    u32::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`item_id` field](LootState#structfield.item_id).
                pub fn item_id(&self) -> u32 {
                    let buffer = self.0.advance_as_array::<4>(4).unwrap();

                    u32::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`quantity` field](LootState#structfield.quantity).
                pub fn quantity(&self) -> u16 {
                    let buffer = self.0.advance_as_array::<2>(8).unwrap();

                    u16::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`claimed` field](LootState#structfield.claimed).
                pub fn claimed(&self) -> bool {
                    let buffer = self.0.advance_as_array::<1>(10).unwrap();

                    buffer.as_array()[0] != 0
                }

                /// Getter for the [`position` field](LootState#structfield.position).
                pub fn position(&self) -> self::PositionRef<'a> {
                    let buffer = self.0.advance_as_array::<12>(12).unwrap();

                    ::core::convert::From::from(buffer)
                }

                /// Getter for the [`expires_tick` field](LootState#structfield.expires_tick).
                pub fn expires_tick(&self) -> u64 {
                    let buffer = self.0.advance_as_array::<8>(24).unwrap();

                    u64::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`key_epoch` field](LootState#structfield.key_epoch).
                pub fn key_epoch(&self) -> u64 {
                    let buffer = self.0.advance_as_array::<8>(32).unwrap();

                    u64::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`key_serial` field](LootState#structfield.key_serial).
                pub fn key_serial(&self) -> u64 {
                    let buffer = self.0.advance_as_array::<8>(40).unwrap();

                    u64::from_le_bytes(*buffer.as_array())
                }
            }

            impl<'a> ::core::fmt::Debug for LootStateRef<'a> {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    let mut f = f.debug_struct("LootStateRef");
                    f.field("loot_id", &self.loot_id());
                    f.field("item_id", &self.item_id());
                    f.field("quantity", &self.quantity());
                    f.field("claimed", &self.claimed());
                    f.field("position", &self.position());
                    f.field("expires_tick", &self.expires_tick());
                    f.field("key_epoch", &self.key_epoch());
                    f.field("key_serial", &self.key_serial());
                    f.finish()
                }
            }

            impl<'a> ::core::convert::From<::planus::ArrayWithStartOffset<'a, 48>> for LootStateRef<'a> {
                fn from(array: ::planus::ArrayWithStartOffset<'a, 48>) -> Self {
                    Self(array)
                }
            }

            impl<'a> ::core::convert::From<LootStateRef<'a>> for LootState {
                #[allow(unreachable_code)]
                fn from(value: LootStateRef<'a>) -> Self {
                    Self {
                        loot_id: value.loot_id(),
                        item_id: value.item_id(),
                        quantity: value.quantity(),
                        claimed: value.claimed(),
                        position: ::core::convert::From::from(value.position()),
                        expires_tick: value.expires_tick(),
                        key_epoch: value.key_epoch(),
                        key_serial: value.key_serial(),
                    }
                }
            }

            impl<'a, 'b> ::core::cmp::PartialEq<LootStateRef<'a>> for LootStateRef<'b> {
                fn eq(&self, other: &LootStateRef<'_>) -> bool {
                    self.loot_id() == other.loot_id()
                        && self.item_id() == other.item_id()
                        && self.quantity() == other.quantity()
                        && self.claimed() == other.claimed()
                        && self.position() == other.position()
                        && self.expires_tick() == other.expires_tick()
                        && self.key_epoch() == other.key_epoch()
                        && self.key_serial() == other.key_serial()
                }
            }

            impl<'a, 'b> ::core::cmp::PartialOrd<LootStateRef<'a>> for LootStateRef<'b> {
                fn partial_cmp(&self, other: &LootStateRef<'_>) -> ::core::option::Option<::core::cmp::Ordering> {
                    match self.loot_id().partial_cmp(&other.loot_id()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    match self.item_id().partial_cmp(&other.item_id()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    match self.quantity().partial_cmp(&other.quantity()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    match self.claimed().partial_cmp(&other.claimed()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    match self.position().partial_cmp(&other.position()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    match self.expires_tick().partial_cmp(&other.expires_tick()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    match self.key_epoch().partial_cmp(&other.key_epoch()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    self.key_serial().partial_cmp(&other.key_serial())
                }
            }

            impl<'a> ::planus::TableRead<'a> for LootStateRef<'a> {
                #[inline]
                fn from_buffer(
                    buffer: ::planus::SliceWithStartOffset<'a>,
                    offset: usize,
                ) -> ::core::result::Result<Self, ::planus::errors::ErrorKind> {
                    let buffer = buffer.advance_as_array::<48>(offset)?;
                    ::core::result::Result::Ok(Self(buffer))
                }
            }

            impl<'a> ::planus::VectorRead<'a> for LootStateRef<'a> {
                const STRIDE: usize = 48;

                #[inline]
                unsafe fn from_buffer(buffer: ::planus::SliceWithStartOffset<'a>, offset: usize) -> Self {
                    Self(unsafe { buffer.unchecked_advance_as_array(offset) })
                }
            }

            /// # Safety
            /// The planus compiler generates implementations that initialize
            /// the bytes in `write_values`.
            unsafe impl ::planus::VectorWrite<LootState> for LootState {
                const STRIDE: usize = 48;

                type Value = LootState;

                #[inline]
                fn prepare(&self, _builder: &mut ::planus::Builder) -> Self::Value {
                    *self
                }

                #[inline]
                unsafe fn write_values(
                    values: &[LootState],
                    bytes: *mut ::core::mem::MaybeUninit<u8>,
                    buffer_position: u32,
                ) {
                    let bytes = bytes as *mut [::core::mem::MaybeUninit<u8>; 48];
                    for (i, v) in ::core::iter::Iterator::enumerate(values.iter()) {
                        ::planus::WriteAsPrimitive::write(
                            v,
                            ::planus::Cursor::new(unsafe { &mut *bytes.add(i) }),
                            buffer_position - (48 * i) as u32,
                        );
                    }
                }
            }

            /// The table `ZoneState` in the namespace `meridian.zonestate`
            ///
            /// Generated from these locations:
            /// * Table `ZoneState` in the file `fbs/zone_state.fbs:44`
            #[derive(Clone, Debug, PartialEq, PartialOrd, ::serde::Serialize, ::serde::Deserialize)]
            pub struct ZoneState {
                /// The field `zone_id` in the table `ZoneState`
                pub zone_id: u32,
                /// The field `layer` in the table `ZoneState`
                pub layer: u32,
                /// The field `tick` in the table `ZoneState`
                pub tick: u64,
                ///  The writer's fencing token (the zone's assignment revision).
                pub fencing_token: u64,
                /// The field `written_at_unix_ms` in the table `ZoneState`
                pub written_at_unix_ms: u64,
                /// The field `npcs` in the table `ZoneState`
                pub npcs: ::core::option::Option<::planus::alloc::vec::Vec<self::NpcState>>,
                /// The field `loot` in the table `ZoneState`
                pub loot: ::core::option::Option<::planus::alloc::vec::Vec<self::LootState>>,
            }

            #[allow(clippy::derivable_impls)]
            impl ::core::default::Default for ZoneState {
                fn default() -> Self {
                    Self {
                        zone_id: 0,
                        layer: 0,
                        tick: 0,
                        fencing_token: 0,
                        written_at_unix_ms: 0,
                        npcs: ::core::default::Default::default(),
                        loot: ::core::default::Default::default(),
                    }
                }
            }

            impl ZoneState {
                /// Creates a [ZoneStateBuilder] for serializing an instance of this table.
                #[inline]
                pub fn builder() -> ZoneStateBuilder<()> {
                    ZoneStateBuilder(())
                }

                #[allow(clippy::too_many_arguments)]
                pub fn create(
                    builder: &mut ::planus::Builder,
                    field_zone_id: impl ::planus::WriteAsDefault<u32, u32>,
                    field_layer: impl ::planus::WriteAsDefault<u32, u32>,
                    field_tick: impl ::planus::WriteAsDefault<u64, u64>,
                    field_fencing_token: impl ::planus::WriteAsDefault<u64, u64>,
                    field_written_at_unix_ms: impl ::planus::WriteAsDefault<u64, u64>,
                    field_npcs: impl ::planus::WriteAsOptional<::planus::Offset<[self::NpcState]>>,
                    field_loot: impl ::planus::WriteAsOptional<::planus::Offset<[self::LootState]>>,
                ) -> ::planus::Offset<Self> {
                    let prepared_zone_id = field_zone_id.prepare(builder, &0);
                    let prepared_layer = field_layer.prepare(builder, &0);
                    let prepared_tick = field_tick.prepare(builder, &0);
                    let prepared_fencing_token = field_fencing_token.prepare(builder, &0);
                    let prepared_written_at_unix_ms = field_written_at_unix_ms.prepare(builder, &0);
                    let prepared_npcs = field_npcs.prepare(builder);
                    let prepared_loot = field_loot.prepare(builder);

                    let mut table_writer: ::planus::table_writer::TableWriter<18> = ::core::default::Default::default();
                    if prepared_tick.is_some() {
                        table_writer.write_entry::<u64>(2);
                    }
                    if prepared_fencing_token.is_some() {
                        table_writer.write_entry::<u64>(3);
                    }
                    if prepared_written_at_unix_ms.is_some() {
                        table_writer.write_entry::<u64>(4);
                    }
                    if prepared_zone_id.is_some() {
                        table_writer.write_entry::<u32>(0);
                    }
                    if prepared_layer.is_some() {
                        table_writer.write_entry::<u32>(1);
                    }
                    if prepared_npcs.is_some() {
                        table_writer.write_entry::<::planus::Offset<[self::NpcState]>>(5);
                    }
                    if prepared_loot.is_some() {
                        table_writer.write_entry::<::planus::Offset<[self::LootState]>>(6);
                    }

                    unsafe {
                        table_writer.finish(builder, |object_writer| {
                            if let ::core::option::Option::Some(prepared_tick) = prepared_tick {
                                object_writer.write::<_, _, 8>(&prepared_tick);
                            }
                            if let ::core::option::Option::Some(prepared_fencing_token) = prepared_fencing_token {
                                object_writer.write::<_, _, 8>(&prepared_fencing_token);
                            }
                            if let ::core::option::Option::Some(prepared_written_at_unix_ms) =
                                prepared_written_at_unix_ms
                            {
                                object_writer.write::<_, _, 8>(&prepared_written_at_unix_ms);
                            }
                            if let ::core::option::Option::Some(prepared_zone_id) = prepared_zone_id {
                                object_writer.write::<_, _, 4>(&prepared_zone_id);
                            }
                            if let ::core::option::Option::Some(prepared_layer) = prepared_layer {
                                object_writer.write::<_, _, 4>(&prepared_layer);
                            }
                            if let ::core::option::Option::Some(prepared_npcs) = prepared_npcs {
                                object_writer.write::<_, _, 4>(&prepared_npcs);
                            }
                            if let ::core::option::Option::Some(prepared_loot) = prepared_loot {
                                object_writer.write::<_, _, 4>(&prepared_loot);
                            }
                        });
                    }
                    builder.current_offset()
                }
            }

            impl ::planus::WriteAs<::planus::Offset<ZoneState>> for ZoneState {
                type Prepared = ::planus::Offset<Self>;

                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<ZoneState> {
                    ::planus::WriteAsOffset::prepare(self, builder)
                }
            }

            impl ::planus::WriteAsOptional<::planus::Offset<ZoneState>> for ZoneState {
                type Prepared = ::planus::Offset<Self>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<::planus::Offset<ZoneState>> {
                    ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
                }
            }

            impl ::planus::WriteAsOffset<ZoneState> for ZoneState {
                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<ZoneState> {
                    ZoneState::create(
                        builder,
                        self.zone_id,
                        self.layer,
                        self.tick,
                        self.fencing_token,
                        self.written_at_unix_ms,
                        &self.npcs,
                        &self.loot,
                    )
                }
            }

            /// Builder for serializing an instance of the [ZoneState] type.
            ///
            /// Can be created using the [ZoneState::builder] method.
            #[derive(Debug)]
            #[must_use]
            pub struct ZoneStateBuilder<State>(State);

            impl ZoneStateBuilder<()> {
                /// Setter for the [`zone_id` field](ZoneState#structfield.zone_id).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn zone_id<T0>(self, value: T0) -> ZoneStateBuilder<(T0,)>
                where
                    T0: ::planus::WriteAsDefault<u32, u32>,
                {
                    ZoneStateBuilder((value,))
                }

                /// Sets the [`zone_id` field](ZoneState#structfield.zone_id) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn zone_id_as_default(self) -> ZoneStateBuilder<(::planus::DefaultValue,)> {
                    self.zone_id(::planus::DefaultValue)
                }
            }

            impl<T0> ZoneStateBuilder<(T0,)> {
                /// Setter for the [`layer` field](ZoneState#structfield.layer).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn layer<T1>(self, value: T1) -> ZoneStateBuilder<(T0, T1)>
                where
                    T1: ::planus::WriteAsDefault<u32, u32>,
                {
                    let (v0,) = self.0;
                    ZoneStateBuilder((v0, value))
                }

                /// Sets the [`layer` field](ZoneState#structfield.layer) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn layer_as_default(self) -> ZoneStateBuilder<(T0, ::planus::DefaultValue)> {
                    self.layer(::planus::DefaultValue)
                }
            }

            impl<T0, T1> ZoneStateBuilder<(T0, T1)> {
                /// Setter for the [`tick` field](ZoneState#structfield.tick).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn tick<T2>(self, value: T2) -> ZoneStateBuilder<(T0, T1, T2)>
                where
                    T2: ::planus::WriteAsDefault<u64, u64>,
                {
                    let (v0, v1) = self.0;
                    ZoneStateBuilder((v0, v1, value))
                }

                /// Sets the [`tick` field](ZoneState#structfield.tick) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn tick_as_default(self) -> ZoneStateBuilder<(T0, T1, ::planus::DefaultValue)> {
                    self.tick(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2> ZoneStateBuilder<(T0, T1, T2)> {
                /// Setter for the [`fencing_token` field](ZoneState#structfield.fencing_token).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn fencing_token<T3>(self, value: T3) -> ZoneStateBuilder<(T0, T1, T2, T3)>
                where
                    T3: ::planus::WriteAsDefault<u64, u64>,
                {
                    let (v0, v1, v2) = self.0;
                    ZoneStateBuilder((v0, v1, v2, value))
                }

                /// Sets the [`fencing_token` field](ZoneState#structfield.fencing_token) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn fencing_token_as_default(self) -> ZoneStateBuilder<(T0, T1, T2, ::planus::DefaultValue)> {
                    self.fencing_token(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2, T3> ZoneStateBuilder<(T0, T1, T2, T3)> {
                /// Setter for the [`written_at_unix_ms` field](ZoneState#structfield.written_at_unix_ms).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn written_at_unix_ms<T4>(self, value: T4) -> ZoneStateBuilder<(T0, T1, T2, T3, T4)>
                where
                    T4: ::planus::WriteAsDefault<u64, u64>,
                {
                    let (v0, v1, v2, v3) = self.0;
                    ZoneStateBuilder((v0, v1, v2, v3, value))
                }

                /// Sets the [`written_at_unix_ms` field](ZoneState#structfield.written_at_unix_ms) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn written_at_unix_ms_as_default(
                    self,
                ) -> ZoneStateBuilder<(T0, T1, T2, T3, ::planus::DefaultValue)> {
                    self.written_at_unix_ms(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2, T3, T4> ZoneStateBuilder<(T0, T1, T2, T3, T4)> {
                /// Setter for the [`npcs` field](ZoneState#structfield.npcs).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn npcs<T5>(self, value: T5) -> ZoneStateBuilder<(T0, T1, T2, T3, T4, T5)>
                where
                    T5: ::planus::WriteAsOptional<::planus::Offset<[self::NpcState]>>,
                {
                    let (v0, v1, v2, v3, v4) = self.0;
                    ZoneStateBuilder((v0, v1, v2, v3, v4, value))
                }

                /// Sets the [`npcs` field](ZoneState#structfield.npcs) to null.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn npcs_as_null(self) -> ZoneStateBuilder<(T0, T1, T2, T3, T4, ())> {
                    self.npcs(())
                }
            }

            impl<T0, T1, T2, T3, T4, T5> ZoneStateBuilder<(T0, T1, T2, T3, T4, T5)> {
                /// Setter for the [`loot` field](ZoneState#structfield.loot).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn loot<T6>(self, value: T6) -> ZoneStateBuilder<(T0, T1, T2, T3, T4, T5, T6)>
                where
                    T6: ::planus::WriteAsOptional<::planus::Offset<[self::LootState]>>,
                {
                    let (v0, v1, v2, v3, v4, v5) = self.0;
                    ZoneStateBuilder((v0, v1, v2, v3, v4, v5, value))
                }

                /// Sets the [`loot` field](ZoneState#structfield.loot) to null.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn loot_as_null(self) -> ZoneStateBuilder<(T0, T1, T2, T3, T4, T5, ())> {
                    self.loot(())
                }
            }

            impl<T0, T1, T2, T3, T4, T5, T6> ZoneStateBuilder<(T0, T1, T2, T3, T4, T5, T6)> {
                /// Finish writing the builder to get an [Offset](::planus::Offset) to a serialized [ZoneState].
                #[inline]
                pub fn finish(self, builder: &mut ::planus::Builder) -> ::planus::Offset<ZoneState>
                where
                    Self: ::planus::WriteAsOffset<ZoneState>,
                {
                    ::planus::WriteAsOffset::prepare(&self, builder)
                }
            }

            impl<
                    T0: ::planus::WriteAsDefault<u32, u32>,
                    T1: ::planus::WriteAsDefault<u32, u32>,
                    T2: ::planus::WriteAsDefault<u64, u64>,
                    T3: ::planus::WriteAsDefault<u64, u64>,
                    T4: ::planus::WriteAsDefault<u64, u64>,
                    T5: ::planus::WriteAsOptional<::planus::Offset<[self::NpcState]>>,
                    T6: ::planus::WriteAsOptional<::planus::Offset<[self::LootState]>>,
                > ::planus::WriteAs<::planus::Offset<ZoneState>> for ZoneStateBuilder<(T0, T1, T2, T3, T4, T5, T6)>
            {
                type Prepared = ::planus::Offset<ZoneState>;

                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<ZoneState> {
                    ::planus::WriteAsOffset::prepare(self, builder)
                }
            }

            impl<
                    T0: ::planus::WriteAsDefault<u32, u32>,
                    T1: ::planus::WriteAsDefault<u32, u32>,
                    T2: ::planus::WriteAsDefault<u64, u64>,
                    T3: ::planus::WriteAsDefault<u64, u64>,
                    T4: ::planus::WriteAsDefault<u64, u64>,
                    T5: ::planus::WriteAsOptional<::planus::Offset<[self::NpcState]>>,
                    T6: ::planus::WriteAsOptional<::planus::Offset<[self::LootState]>>,
                > ::planus::WriteAsOptional<::planus::Offset<ZoneState>>
                for ZoneStateBuilder<(T0, T1, T2, T3, T4, T5, T6)>
            {
                type Prepared = ::planus::Offset<ZoneState>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<::planus::Offset<ZoneState>> {
                    ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
                }
            }

            impl<
                    T0: ::planus::WriteAsDefault<u32, u32>,
                    T1: ::planus::WriteAsDefault<u32, u32>,
                    T2: ::planus::WriteAsDefault<u64, u64>,
                    T3: ::planus::WriteAsDefault<u64, u64>,
                    T4: ::planus::WriteAsDefault<u64, u64>,
                    T5: ::planus::WriteAsOptional<::planus::Offset<[self::NpcState]>>,
                    T6: ::planus::WriteAsOptional<::planus::Offset<[self::LootState]>>,
                > ::planus::WriteAsOffset<ZoneState> for ZoneStateBuilder<(T0, T1, T2, T3, T4, T5, T6)>
            {
                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<ZoneState> {
                    let (v0, v1, v2, v3, v4, v5, v6) = &self.0;
                    ZoneState::create(builder, v0, v1, v2, v3, v4, v5, v6)
                }
            }

            /// Reference to a deserialized [ZoneState].
            #[derive(Copy, Clone)]
            pub struct ZoneStateRef<'a>(#[allow(dead_code)] ::planus::table_reader::Table<'a>);

            impl<'a> ZoneStateRef<'a> {
                /// Getter for the [`zone_id` field](ZoneState#structfield.zone_id).
                #[inline]
                pub fn zone_id(&self) -> ::planus::Result<u32> {
                    ::core::result::Result::Ok(self.0.access(0, "ZoneState", "zone_id")?.unwrap_or(0))
                }

                /// Getter for the [`layer` field](ZoneState#structfield.layer).
                #[inline]
                pub fn layer(&self) -> ::planus::Result<u32> {
                    ::core::result::Result::Ok(self.0.access(1, "ZoneState", "layer")?.unwrap_or(0))
                }

                /// Getter for the [`tick` field](ZoneState#structfield.tick).
                #[inline]
                pub fn tick(&self) -> ::planus::Result<u64> {
                    ::core::result::Result::Ok(self.0.access(2, "ZoneState", "tick")?.unwrap_or(0))
                }

                /// Getter for the [`fencing_token` field](ZoneState#structfield.fencing_token).
                #[inline]
                pub fn fencing_token(&self) -> ::planus::Result<u64> {
                    ::core::result::Result::Ok(self.0.access(3, "ZoneState", "fencing_token")?.unwrap_or(0))
                }

                /// Getter for the [`written_at_unix_ms` field](ZoneState#structfield.written_at_unix_ms).
                #[inline]
                pub fn written_at_unix_ms(&self) -> ::planus::Result<u64> {
                    ::core::result::Result::Ok(self.0.access(4, "ZoneState", "written_at_unix_ms")?.unwrap_or(0))
                }

                /// Getter for the [`npcs` field](ZoneState#structfield.npcs).
                #[inline]
                pub fn npcs(
                    &self,
                ) -> ::planus::Result<::core::option::Option<::planus::Vector<'a, self::NpcStateRef<'a>>>>
                {
                    self.0.access(5, "ZoneState", "npcs")
                }

                /// Getter for the [`loot` field](ZoneState#structfield.loot).
                #[inline]
                pub fn loot(
                    &self,
                ) -> ::planus::Result<::core::option::Option<::planus::Vector<'a, self::LootStateRef<'a>>>>
                {
                    self.0.access(6, "ZoneState", "loot")
                }
            }

            impl<'a> ::core::fmt::Debug for ZoneStateRef<'a> {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    let mut f = f.debug_struct("ZoneStateRef");
                    f.field("zone_id", &self.zone_id());
                    f.field("layer", &self.layer());
                    f.field("tick", &self.tick());
                    f.field("fencing_token", &self.fencing_token());
                    f.field("written_at_unix_ms", &self.written_at_unix_ms());
                    if let ::core::option::Option::Some(field_npcs) = self.npcs().transpose() {
                        f.field("npcs", &field_npcs);
                    }
                    if let ::core::option::Option::Some(field_loot) = self.loot().transpose() {
                        f.field("loot", &field_loot);
                    }
                    f.finish()
                }
            }

            impl<'a> ::core::convert::TryFrom<ZoneStateRef<'a>> for ZoneState {
                type Error = ::planus::Error;

                #[allow(unreachable_code)]
                fn try_from(value: ZoneStateRef<'a>) -> ::planus::Result<Self> {
                    ::core::result::Result::Ok(Self {
                        zone_id: ::core::convert::TryInto::try_into(value.zone_id()?)?,
                        layer: ::core::convert::TryInto::try_into(value.layer()?)?,
                        tick: ::core::convert::TryInto::try_into(value.tick()?)?,
                        fencing_token: ::core::convert::TryInto::try_into(value.fencing_token()?)?,
                        written_at_unix_ms: ::core::convert::TryInto::try_into(value.written_at_unix_ms()?)?,
                        npcs: if let ::core::option::Option::Some(npcs) = value.npcs()? {
                            ::core::option::Option::Some(npcs.to_vec()?)
                        } else {
                            ::core::option::Option::None
                        },
                        loot: if let ::core::option::Option::Some(loot) = value.loot()? {
                            ::core::option::Option::Some(loot.to_vec()?)
                        } else {
                            ::core::option::Option::None
                        },
                    })
                }
            }

            impl<'a> ::planus::TableRead<'a> for ZoneStateRef<'a> {
                #[inline]
                fn from_buffer(
                    buffer: ::planus::SliceWithStartOffset<'a>,
                    offset: usize,
                ) -> ::core::result::Result<Self, ::planus::errors::ErrorKind> {
                    ::core::result::Result::Ok(Self(::planus::table_reader::Table::from_buffer(buffer, offset)?))
                }
            }

            impl<'a> ::planus::VectorReadInner<'a> for ZoneStateRef<'a> {
                type Error = ::planus::Error;
                const STRIDE: usize = 4;

                unsafe fn from_buffer(
                    buffer: ::planus::SliceWithStartOffset<'a>,
                    offset: usize,
                ) -> ::planus::Result<Self> {
                    ::planus::TableRead::from_buffer(buffer, offset).map_err(|error_kind| {
                        error_kind.with_error_location("[ZoneStateRef]", "get", buffer.offset_from_start)
                    })
                }
            }

            /// # Safety
            /// The planus compiler generates implementations that initialize
            /// the bytes in `write_values`.
            unsafe impl ::planus::VectorWrite<::planus::Offset<ZoneState>> for ZoneState {
                type Value = ::planus::Offset<ZoneState>;
                const STRIDE: usize = 4;
                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> Self::Value {
                    ::planus::WriteAs::prepare(self, builder)
                }

                #[inline]
                unsafe fn write_values(
                    values: &[::planus::Offset<ZoneState>],
                    bytes: *mut ::core::mem::MaybeUninit<u8>,
                    buffer_position: u32,
                ) {
                    let bytes = bytes as *mut [::core::mem::MaybeUninit<u8>; 4];
                    for (i, v) in ::core::iter::Iterator::enumerate(values.iter()) {
                        ::planus::WriteAsPrimitive::write(
                            v,
                            ::planus::Cursor::new(unsafe { &mut *bytes.add(i) }),
                            buffer_position - (Self::STRIDE * i) as u32,
                        );
                    }
                }
            }

            impl<'a> ::planus::ReadAsRoot<'a> for ZoneStateRef<'a> {
                fn read_as_root(slice: &'a [u8]) -> ::planus::Result<Self> {
                    ::planus::TableRead::from_buffer(
                        ::planus::SliceWithStartOffset {
                            buffer: slice,
                            offset_from_start: 0,
                        },
                        0,
                    )
                    .map_err(|error_kind| error_kind.with_error_location("[ZoneStateRef]", "read_as_root", 0))
                }
            }
        }
    }
}
