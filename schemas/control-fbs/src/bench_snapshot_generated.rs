pub use root::*;

const _: () = ::planus::check_version_compatibility("planus-1.3.0");

/// The root namespace
///
/// Generated from these locations:
/// * File `fbs/bench_snapshot.fbs`
#[no_implicit_prelude]
#[allow(clippy::needless_lifetimes)]
mod root {
    /// The namespace `meridian`
    ///
    /// Generated from these locations:
    /// * File `fbs/bench_snapshot.fbs`
    pub mod meridian {
        /// The namespace `meridian.bench`
        ///
        /// Generated from these locations:
        /// * File `fbs/bench_snapshot.fbs`
        pub mod bench {
            /// The struct `EntityFb` in the namespace `meridian.bench`
            ///
            /// Generated from these locations:
            /// * Struct `EntityFb` in the file `fbs/bench_snapshot.fbs:7`
            #[derive(
                Copy,
                Clone,
                Debug,
                PartialEq,
                PartialOrd,
                Default,
                ::serde::Serialize,
                ::serde::Deserialize,
            )]
            pub struct EntityFb {
                /// The field `id` in the struct `EntityFb`
                pub id: u32,

                /// The field `kind` in the struct `EntityFb`
                pub kind: u8,

                /// The field `health` in the struct `EntityFb`
                pub health: u16,

                /// The field `flags` in the struct `EntityFb`
                pub flags: u16,

                /// The field `position_x` in the struct `EntityFb`
                pub position_x: f32,

                /// The field `position_y` in the struct `EntityFb`
                pub position_y: f32,

                /// The field `position_z` in the struct `EntityFb`
                pub position_z: f32,

                /// The field `yaw` in the struct `EntityFb`
                pub yaw: f32,

                /// The field `velocity_x` in the struct `EntityFb`
                pub velocity_x: f32,

                /// The field `velocity_y` in the struct `EntityFb`
                pub velocity_y: f32,

                /// The field `velocity_z` in the struct `EntityFb`
                pub velocity_z: f32,
            }

            /// # Safety
            /// The Planus compiler correctly calculates `ALIGNMENT` and `SIZE`.
            unsafe impl ::planus::Primitive for EntityFb {
                const ALIGNMENT: usize = 4;
                const SIZE: usize = 40;
            }

            #[allow(clippy::identity_op)]
            impl ::planus::WriteAsPrimitive<EntityFb> for EntityFb {
                #[inline]
                fn write<const N: usize>(
                    &self,
                    cursor: ::planus::Cursor<'_, N>,
                    buffer_position: u32,
                ) {
                    let (cur, cursor) = cursor.split::<4, 36>();
                    self.id.write(cur, buffer_position - 0);
                    let (cur, cursor) = cursor.split::<1, 35>();
                    self.kind.write(cur, buffer_position - 4);
                    let cursor = cursor.write::<1, 34>([0; 1]);
                    let (cur, cursor) = cursor.split::<2, 32>();
                    self.health.write(cur, buffer_position - 6);
                    let (cur, cursor) = cursor.split::<2, 30>();
                    self.flags.write(cur, buffer_position - 8);
                    let cursor = cursor.write::<2, 28>([0; 2]);
                    let (cur, cursor) = cursor.split::<4, 24>();
                    self.position_x.write(cur, buffer_position - 12);
                    let (cur, cursor) = cursor.split::<4, 20>();
                    self.position_y.write(cur, buffer_position - 16);
                    let (cur, cursor) = cursor.split::<4, 16>();
                    self.position_z.write(cur, buffer_position - 20);
                    let (cur, cursor) = cursor.split::<4, 12>();
                    self.yaw.write(cur, buffer_position - 24);
                    let (cur, cursor) = cursor.split::<4, 8>();
                    self.velocity_x.write(cur, buffer_position - 28);
                    let (cur, cursor) = cursor.split::<4, 4>();
                    self.velocity_y.write(cur, buffer_position - 32);
                    let (cur, cursor) = cursor.split::<4, 0>();
                    self.velocity_z.write(cur, buffer_position - 36);
                    cursor.finish([]);
                }
            }

            impl ::planus::WriteAsOffset<EntityFb> for EntityFb {
                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<EntityFb> {
                    unsafe {
                        builder.write_with(40, 3, |buffer_position, bytes| {
                            let bytes = bytes.as_mut_ptr();

                            ::planus::WriteAsPrimitive::write(
                                self,
                                ::planus::Cursor::new(
                                    &mut *(bytes as *mut [::core::mem::MaybeUninit<u8>; 40]),
                                ),
                                buffer_position,
                            );
                        });
                    }
                    builder.current_offset()
                }
            }

            impl ::planus::WriteAs<EntityFb> for EntityFb {
                type Prepared = Self;
                #[inline]
                fn prepare(&self, _builder: &mut ::planus::Builder) -> Self {
                    *self
                }
            }

            impl ::planus::WriteAsOptional<EntityFb> for EntityFb {
                type Prepared = Self;
                #[inline]
                fn prepare(
                    &self,
                    _builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<Self> {
                    ::core::option::Option::Some(*self)
                }
            }

            /// Reference to a deserialized [EntityFb].
            #[derive(Copy, Clone)]
            pub struct EntityFbRef<'a>(::planus::ArrayWithStartOffset<'a, 40>);

            impl<'a> EntityFbRef<'a> {
                /// Getter for the [`id` field](EntityFb#structfield.id).
                pub fn id(&self) -> u32 {
                    let buffer = self.0.advance_as_array::<4>(0).unwrap();

                    u32::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`kind` field](EntityFb#structfield.kind).
                pub fn kind(&self) -> u8 {
                    let buffer = self.0.advance_as_array::<1>(4).unwrap();

                    u8::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`health` field](EntityFb#structfield.health).
                pub fn health(&self) -> u16 {
                    let buffer = self.0.advance_as_array::<2>(6).unwrap();

                    u16::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`flags` field](EntityFb#structfield.flags).
                pub fn flags(&self) -> u16 {
                    let buffer = self.0.advance_as_array::<2>(8).unwrap();

                    u16::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`position_x` field](EntityFb#structfield.position_x).
                pub fn position_x(&self) -> f32 {
                    let buffer = self.0.advance_as_array::<4>(12).unwrap();

                    f32::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`position_y` field](EntityFb#structfield.position_y).
                pub fn position_y(&self) -> f32 {
                    let buffer = self.0.advance_as_array::<4>(16).unwrap();

                    f32::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`position_z` field](EntityFb#structfield.position_z).
                pub fn position_z(&self) -> f32 {
                    let buffer = self.0.advance_as_array::<4>(20).unwrap();

                    f32::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`yaw` field](EntityFb#structfield.yaw).
                pub fn yaw(&self) -> f32 {
                    let buffer = self.0.advance_as_array::<4>(24).unwrap();

                    f32::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`velocity_x` field](EntityFb#structfield.velocity_x).
                pub fn velocity_x(&self) -> f32 {
                    let buffer = self.0.advance_as_array::<4>(28).unwrap();

                    f32::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`velocity_y` field](EntityFb#structfield.velocity_y).
                pub fn velocity_y(&self) -> f32 {
                    let buffer = self.0.advance_as_array::<4>(32).unwrap();

                    f32::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`velocity_z` field](EntityFb#structfield.velocity_z).
                pub fn velocity_z(&self) -> f32 {
                    let buffer = self.0.advance_as_array::<4>(36).unwrap();

                    f32::from_le_bytes(*buffer.as_array())
                }
            }

            impl<'a> ::core::fmt::Debug for EntityFbRef<'a> {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    let mut f = f.debug_struct("EntityFbRef");
                    f.field("id", &self.id());
                    f.field("kind", &self.kind());
                    f.field("health", &self.health());
                    f.field("flags", &self.flags());
                    f.field("position_x", &self.position_x());
                    f.field("position_y", &self.position_y());
                    f.field("position_z", &self.position_z());
                    f.field("yaw", &self.yaw());
                    f.field("velocity_x", &self.velocity_x());
                    f.field("velocity_y", &self.velocity_y());
                    f.field("velocity_z", &self.velocity_z());
                    f.finish()
                }
            }

            impl<'a> ::core::convert::From<::planus::ArrayWithStartOffset<'a, 40>> for EntityFbRef<'a> {
                fn from(array: ::planus::ArrayWithStartOffset<'a, 40>) -> Self {
                    Self(array)
                }
            }

            impl<'a> ::core::convert::From<EntityFbRef<'a>> for EntityFb {
                #[allow(unreachable_code)]
                fn from(value: EntityFbRef<'a>) -> Self {
                    Self {
                        id: value.id(),
                        kind: value.kind(),
                        health: value.health(),
                        flags: value.flags(),
                        position_x: value.position_x(),
                        position_y: value.position_y(),
                        position_z: value.position_z(),
                        yaw: value.yaw(),
                        velocity_x: value.velocity_x(),
                        velocity_y: value.velocity_y(),
                        velocity_z: value.velocity_z(),
                    }
                }
            }

            impl<'a, 'b> ::core::cmp::PartialEq<EntityFbRef<'a>> for EntityFbRef<'b> {
                fn eq(&self, other: &EntityFbRef<'_>) -> bool {
                    self.id() == other.id()
                        && self.kind() == other.kind()
                        && self.health() == other.health()
                        && self.flags() == other.flags()
                        && self.position_x() == other.position_x()
                        && self.position_y() == other.position_y()
                        && self.position_z() == other.position_z()
                        && self.yaw() == other.yaw()
                        && self.velocity_x() == other.velocity_x()
                        && self.velocity_y() == other.velocity_y()
                        && self.velocity_z() == other.velocity_z()
                }
            }

            impl<'a, 'b> ::core::cmp::PartialOrd<EntityFbRef<'a>> for EntityFbRef<'b> {
                fn partial_cmp(
                    &self,
                    other: &EntityFbRef<'_>,
                ) -> ::core::option::Option<::core::cmp::Ordering> {
                    match self.id().partial_cmp(&other.id()) {
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

                    match self.flags().partial_cmp(&other.flags()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    match self.position_x().partial_cmp(&other.position_x()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    match self.position_y().partial_cmp(&other.position_y()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    match self.position_z().partial_cmp(&other.position_z()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    match self.yaw().partial_cmp(&other.yaw()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    match self.velocity_x().partial_cmp(&other.velocity_x()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    match self.velocity_y().partial_cmp(&other.velocity_y()) {
                        ::core::option::Option::Some(::core::cmp::Ordering::Equal) => (),
                        o => return o,
                    }

                    self.velocity_z().partial_cmp(&other.velocity_z())
                }
            }

            impl<'a> ::planus::TableRead<'a> for EntityFbRef<'a> {
                #[inline]
                fn from_buffer(
                    buffer: ::planus::SliceWithStartOffset<'a>,
                    offset: usize,
                ) -> ::core::result::Result<Self, ::planus::errors::ErrorKind> {
                    let buffer = buffer.advance_as_array::<40>(offset)?;
                    ::core::result::Result::Ok(Self(buffer))
                }
            }

            impl<'a> ::planus::VectorRead<'a> for EntityFbRef<'a> {
                const STRIDE: usize = 40;

                #[inline]
                unsafe fn from_buffer(
                    buffer: ::planus::SliceWithStartOffset<'a>,
                    offset: usize,
                ) -> Self {
                    Self(unsafe { buffer.unchecked_advance_as_array(offset) })
                }
            }

            /// # Safety
            /// The planus compiler generates implementations that initialize
            /// the bytes in `write_values`.
            unsafe impl ::planus::VectorWrite<EntityFb> for EntityFb {
                const STRIDE: usize = 40;

                type Value = EntityFb;

                #[inline]
                fn prepare(&self, _builder: &mut ::planus::Builder) -> Self::Value {
                    *self
                }

                #[inline]
                unsafe fn write_values(
                    values: &[EntityFb],
                    bytes: *mut ::core::mem::MaybeUninit<u8>,
                    buffer_position: u32,
                ) {
                    let bytes = bytes as *mut [::core::mem::MaybeUninit<u8>; 40];
                    for (i, v) in ::core::iter::Iterator::enumerate(values.iter()) {
                        ::planus::WriteAsPrimitive::write(
                            v,
                            ::planus::Cursor::new(unsafe { &mut *bytes.add(i) }),
                            buffer_position - (40 * i) as u32,
                        );
                    }
                }
            }

            /// The table `SnapshotFb` in the namespace `meridian.bench`
            ///
            /// Generated from these locations:
            /// * Table `SnapshotFb` in the file `fbs/bench_snapshot.fbs:21`
            #[derive(
                Clone, Debug, PartialEq, PartialOrd, ::serde::Serialize, ::serde::Deserialize,
            )]
            pub struct SnapshotFb {
                /// The field `tick` in the table `SnapshotFb`
                pub tick: u32,
                /// The field `entities` in the table `SnapshotFb`
                pub entities: ::core::option::Option<::planus::alloc::vec::Vec<self::EntityFb>>,
            }

            #[allow(clippy::derivable_impls)]
            impl ::core::default::Default for SnapshotFb {
                fn default() -> Self {
                    Self {
                        tick: 0,
                        entities: ::core::default::Default::default(),
                    }
                }
            }

            impl SnapshotFb {
                /// Creates a [SnapshotFbBuilder] for serializing an instance of this table.
                #[inline]
                pub fn builder() -> SnapshotFbBuilder<()> {
                    SnapshotFbBuilder(())
                }

                #[allow(clippy::too_many_arguments)]
                pub fn create(
                    builder: &mut ::planus::Builder,
                    field_tick: impl ::planus::WriteAsDefault<u32, u32>,
                    field_entities: impl ::planus::WriteAsOptional<::planus::Offset<[self::EntityFb]>>,
                ) -> ::planus::Offset<Self> {
                    let prepared_tick = field_tick.prepare(builder, &0);
                    let prepared_entities = field_entities.prepare(builder);

                    let mut table_writer: ::planus::table_writer::TableWriter<8> =
                        ::core::default::Default::default();
                    if prepared_tick.is_some() {
                        table_writer.write_entry::<u32>(0);
                    }
                    if prepared_entities.is_some() {
                        table_writer.write_entry::<::planus::Offset<[self::EntityFb]>>(1);
                    }

                    unsafe {
                        table_writer.finish(builder, |object_writer| {
                            if let ::core::option::Option::Some(prepared_tick) = prepared_tick {
                                object_writer.write::<_, _, 4>(&prepared_tick);
                            }
                            if let ::core::option::Option::Some(prepared_entities) =
                                prepared_entities
                            {
                                object_writer.write::<_, _, 4>(&prepared_entities);
                            }
                        });
                    }
                    builder.current_offset()
                }
            }

            impl ::planus::WriteAs<::planus::Offset<SnapshotFb>> for SnapshotFb {
                type Prepared = ::planus::Offset<Self>;

                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<SnapshotFb> {
                    ::planus::WriteAsOffset::prepare(self, builder)
                }
            }

            impl ::planus::WriteAsOptional<::planus::Offset<SnapshotFb>> for SnapshotFb {
                type Prepared = ::planus::Offset<Self>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<::planus::Offset<SnapshotFb>> {
                    ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
                }
            }

            impl ::planus::WriteAsOffset<SnapshotFb> for SnapshotFb {
                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<SnapshotFb> {
                    SnapshotFb::create(builder, self.tick, &self.entities)
                }
            }

            /// Builder for serializing an instance of the [SnapshotFb] type.
            ///
            /// Can be created using the [SnapshotFb::builder] method.
            #[derive(Debug)]
            #[must_use]
            pub struct SnapshotFbBuilder<State>(State);

            impl SnapshotFbBuilder<()> {
                /// Setter for the [`tick` field](SnapshotFb#structfield.tick).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn tick<T0>(self, value: T0) -> SnapshotFbBuilder<(T0,)>
                where
                    T0: ::planus::WriteAsDefault<u32, u32>,
                {
                    SnapshotFbBuilder((value,))
                }

                /// Sets the [`tick` field](SnapshotFb#structfield.tick) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn tick_as_default(self) -> SnapshotFbBuilder<(::planus::DefaultValue,)> {
                    self.tick(::planus::DefaultValue)
                }
            }

            impl<T0> SnapshotFbBuilder<(T0,)> {
                /// Setter for the [`entities` field](SnapshotFb#structfield.entities).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn entities<T1>(self, value: T1) -> SnapshotFbBuilder<(T0, T1)>
                where
                    T1: ::planus::WriteAsOptional<::planus::Offset<[self::EntityFb]>>,
                {
                    let (v0,) = self.0;
                    SnapshotFbBuilder((v0, value))
                }

                /// Sets the [`entities` field](SnapshotFb#structfield.entities) to null.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn entities_as_null(self) -> SnapshotFbBuilder<(T0, ())> {
                    self.entities(())
                }
            }

            impl<T0, T1> SnapshotFbBuilder<(T0, T1)> {
                /// Finish writing the builder to get an [Offset](::planus::Offset) to a serialized [SnapshotFb].
                #[inline]
                pub fn finish(self, builder: &mut ::planus::Builder) -> ::planus::Offset<SnapshotFb>
                where
                    Self: ::planus::WriteAsOffset<SnapshotFb>,
                {
                    ::planus::WriteAsOffset::prepare(&self, builder)
                }
            }

            impl<
                    T0: ::planus::WriteAsDefault<u32, u32>,
                    T1: ::planus::WriteAsOptional<::planus::Offset<[self::EntityFb]>>,
                > ::planus::WriteAs<::planus::Offset<SnapshotFb>> for SnapshotFbBuilder<(T0, T1)>
            {
                type Prepared = ::planus::Offset<SnapshotFb>;

                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<SnapshotFb> {
                    ::planus::WriteAsOffset::prepare(self, builder)
                }
            }

            impl<
                    T0: ::planus::WriteAsDefault<u32, u32>,
                    T1: ::planus::WriteAsOptional<::planus::Offset<[self::EntityFb]>>,
                > ::planus::WriteAsOptional<::planus::Offset<SnapshotFb>>
                for SnapshotFbBuilder<(T0, T1)>
            {
                type Prepared = ::planus::Offset<SnapshotFb>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<::planus::Offset<SnapshotFb>> {
                    ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
                }
            }

            impl<
                    T0: ::planus::WriteAsDefault<u32, u32>,
                    T1: ::planus::WriteAsOptional<::planus::Offset<[self::EntityFb]>>,
                > ::planus::WriteAsOffset<SnapshotFb> for SnapshotFbBuilder<(T0, T1)>
            {
                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<SnapshotFb> {
                    let (v0, v1) = &self.0;
                    SnapshotFb::create(builder, v0, v1)
                }
            }

            /// Reference to a deserialized [SnapshotFb].
            #[derive(Copy, Clone)]
            pub struct SnapshotFbRef<'a>(#[allow(dead_code)] ::planus::table_reader::Table<'a>);

            impl<'a> SnapshotFbRef<'a> {
                /// Getter for the [`tick` field](SnapshotFb#structfield.tick).
                #[inline]
                pub fn tick(&self) -> ::planus::Result<u32> {
                    ::core::result::Result::Ok(self.0.access(0, "SnapshotFb", "tick")?.unwrap_or(0))
                }

                /// Getter for the [`entities` field](SnapshotFb#structfield.entities).
                #[inline]
                pub fn entities(
                    &self,
                ) -> ::planus::Result<
                    ::core::option::Option<::planus::Vector<'a, self::EntityFbRef<'a>>>,
                > {
                    self.0.access(1, "SnapshotFb", "entities")
                }
            }

            impl<'a> ::core::fmt::Debug for SnapshotFbRef<'a> {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    let mut f = f.debug_struct("SnapshotFbRef");
                    f.field("tick", &self.tick());
                    if let ::core::option::Option::Some(field_entities) =
                        self.entities().transpose()
                    {
                        f.field("entities", &field_entities);
                    }
                    f.finish()
                }
            }

            impl<'a> ::core::convert::TryFrom<SnapshotFbRef<'a>> for SnapshotFb {
                type Error = ::planus::Error;

                #[allow(unreachable_code)]
                fn try_from(value: SnapshotFbRef<'a>) -> ::planus::Result<Self> {
                    ::core::result::Result::Ok(Self {
                        tick: ::core::convert::TryInto::try_into(value.tick()?)?,
                        entities: if let ::core::option::Option::Some(entities) =
                            value.entities()?
                        {
                            ::core::option::Option::Some(entities.to_vec()?)
                        } else {
                            ::core::option::Option::None
                        },
                    })
                }
            }

            impl<'a> ::planus::TableRead<'a> for SnapshotFbRef<'a> {
                #[inline]
                fn from_buffer(
                    buffer: ::planus::SliceWithStartOffset<'a>,
                    offset: usize,
                ) -> ::core::result::Result<Self, ::planus::errors::ErrorKind> {
                    ::core::result::Result::Ok(Self(::planus::table_reader::Table::from_buffer(
                        buffer, offset,
                    )?))
                }
            }

            impl<'a> ::planus::VectorReadInner<'a> for SnapshotFbRef<'a> {
                type Error = ::planus::Error;
                const STRIDE: usize = 4;

                unsafe fn from_buffer(
                    buffer: ::planus::SliceWithStartOffset<'a>,
                    offset: usize,
                ) -> ::planus::Result<Self> {
                    ::planus::TableRead::from_buffer(buffer, offset).map_err(|error_kind| {
                        error_kind.with_error_location(
                            "[SnapshotFbRef]",
                            "get",
                            buffer.offset_from_start,
                        )
                    })
                }
            }

            /// # Safety
            /// The planus compiler generates implementations that initialize
            /// the bytes in `write_values`.
            unsafe impl ::planus::VectorWrite<::planus::Offset<SnapshotFb>> for SnapshotFb {
                type Value = ::planus::Offset<SnapshotFb>;
                const STRIDE: usize = 4;
                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> Self::Value {
                    ::planus::WriteAs::prepare(self, builder)
                }

                #[inline]
                unsafe fn write_values(
                    values: &[::planus::Offset<SnapshotFb>],
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

            impl<'a> ::planus::ReadAsRoot<'a> for SnapshotFbRef<'a> {
                fn read_as_root(slice: &'a [u8]) -> ::planus::Result<Self> {
                    ::planus::TableRead::from_buffer(
                        ::planus::SliceWithStartOffset {
                            buffer: slice,
                            offset_from_start: 0,
                        },
                        0,
                    )
                    .map_err(|error_kind| {
                        error_kind.with_error_location("[SnapshotFbRef]", "read_as_root", 0)
                    })
                }
            }
        }
    }
}
