pub use root::*;

const _: () = ::planus::check_version_compatibility("planus-1.3.0");

/// The root namespace
///
/// Generated from these locations:
/// * File `fbs/control.fbs`
#[no_implicit_prelude]
#[allow(clippy::needless_lifetimes)]
mod root {
    /// The namespace `meridian`
    ///
    /// Generated from these locations:
    /// * File `fbs/control.fbs`
    pub mod meridian {
        /// The namespace `meridian.control`
        ///
        /// Generated from these locations:
        /// * File `fbs/control.fbs`
        pub mod control {
            /// The struct `Vec3` in the namespace `meridian.control`
            ///
            /// Generated from these locations:
            /// * Struct `Vec3` in the file `fbs/control.fbs:7`
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
            pub struct Vec3 {
                /// The field `x` in the struct `Vec3`
                pub x: f32,

                /// The field `y` in the struct `Vec3`
                pub y: f32,

                /// The field `z` in the struct `Vec3`
                pub z: f32,
            }

            /// # Safety
            /// The Planus compiler correctly calculates `ALIGNMENT` and `SIZE`.
            unsafe impl ::planus::Primitive for Vec3 {
                const ALIGNMENT: usize = 4;
                const SIZE: usize = 12;
            }

            #[allow(clippy::identity_op)]
            impl ::planus::WriteAsPrimitive<Vec3> for Vec3 {
                #[inline]
                fn write<const N: usize>(
                    &self,
                    cursor: ::planus::Cursor<'_, N>,
                    buffer_position: u32,
                ) {
                    let (cur, cursor) = cursor.split::<4, 8>();
                    self.x.write(cur, buffer_position - 0);
                    let (cur, cursor) = cursor.split::<4, 4>();
                    self.y.write(cur, buffer_position - 4);
                    let (cur, cursor) = cursor.split::<4, 0>();
                    self.z.write(cur, buffer_position - 8);
                    cursor.finish([]);
                }
            }

            impl ::planus::WriteAsOffset<Vec3> for Vec3 {
                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::Offset<Vec3> {
                    unsafe {
                        builder.write_with(12, 3, |buffer_position, bytes| {
                            let bytes = bytes.as_mut_ptr();

                            ::planus::WriteAsPrimitive::write(
                                self,
                                ::planus::Cursor::new(
                                    &mut *(bytes as *mut [::core::mem::MaybeUninit<u8>; 12]),
                                ),
                                buffer_position,
                            );
                        });
                    }
                    builder.current_offset()
                }
            }

            impl ::planus::WriteAs<Vec3> for Vec3 {
                type Prepared = Self;
                #[inline]
                fn prepare(&self, _builder: &mut ::planus::Builder) -> Self {
                    *self
                }
            }

            impl ::planus::WriteAsOptional<Vec3> for Vec3 {
                type Prepared = Self;
                #[inline]
                fn prepare(
                    &self,
                    _builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<Self> {
                    ::core::option::Option::Some(*self)
                }
            }

            /// Reference to a deserialized [Vec3].
            #[derive(Copy, Clone)]
            pub struct Vec3Ref<'a>(::planus::ArrayWithStartOffset<'a, 12>);

            impl<'a> Vec3Ref<'a> {
                /// Getter for the [`x` field](Vec3#structfield.x).
                pub fn x(&self) -> f32 {
                    let buffer = self.0.advance_as_array::<4>(0).unwrap();

                    f32::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`y` field](Vec3#structfield.y).
                pub fn y(&self) -> f32 {
                    let buffer = self.0.advance_as_array::<4>(4).unwrap();

                    f32::from_le_bytes(*buffer.as_array())
                }

                /// Getter for the [`z` field](Vec3#structfield.z).
                pub fn z(&self) -> f32 {
                    let buffer = self.0.advance_as_array::<4>(8).unwrap();

                    f32::from_le_bytes(*buffer.as_array())
                }
            }

            impl<'a> ::core::fmt::Debug for Vec3Ref<'a> {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    let mut f = f.debug_struct("Vec3Ref");
                    f.field("x", &self.x());
                    f.field("y", &self.y());
                    f.field("z", &self.z());
                    f.finish()
                }
            }

            impl<'a> ::core::convert::From<::planus::ArrayWithStartOffset<'a, 12>> for Vec3Ref<'a> {
                fn from(array: ::planus::ArrayWithStartOffset<'a, 12>) -> Self {
                    Self(array)
                }
            }

            impl<'a> ::core::convert::From<Vec3Ref<'a>> for Vec3 {
                #[allow(unreachable_code)]
                fn from(value: Vec3Ref<'a>) -> Self {
                    Self {
                        x: value.x(),
                        y: value.y(),
                        z: value.z(),
                    }
                }
            }

            impl<'a, 'b> ::core::cmp::PartialEq<Vec3Ref<'a>> for Vec3Ref<'b> {
                fn eq(&self, other: &Vec3Ref<'_>) -> bool {
                    self.x() == other.x() && self.y() == other.y() && self.z() == other.z()
                }
            }

            impl<'a, 'b> ::core::cmp::PartialOrd<Vec3Ref<'a>> for Vec3Ref<'b> {
                fn partial_cmp(
                    &self,
                    other: &Vec3Ref<'_>,
                ) -> ::core::option::Option<::core::cmp::Ordering> {
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

            impl<'a> ::planus::TableRead<'a> for Vec3Ref<'a> {
                #[inline]
                fn from_buffer(
                    buffer: ::planus::SliceWithStartOffset<'a>,
                    offset: usize,
                ) -> ::core::result::Result<Self, ::planus::errors::ErrorKind> {
                    let buffer = buffer.advance_as_array::<12>(offset)?;
                    ::core::result::Result::Ok(Self(buffer))
                }
            }

            impl<'a> ::planus::VectorRead<'a> for Vec3Ref<'a> {
                const STRIDE: usize = 12;

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
            unsafe impl ::planus::VectorWrite<Vec3> for Vec3 {
                const STRIDE: usize = 12;

                type Value = Vec3;

                #[inline]
                fn prepare(&self, _builder: &mut ::planus::Builder) -> Self::Value {
                    *self
                }

                #[inline]
                unsafe fn write_values(
                    values: &[Vec3],
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

            /// The table `InventoryItem` in the namespace `meridian.control`
            ///
            /// Generated from these locations:
            /// * Table `InventoryItem` in the file `fbs/control.fbs:13`
            #[derive(
                Clone,
                Debug,
                PartialEq,
                PartialOrd,
                Eq,
                Ord,
                Hash,
                ::serde::Serialize,
                ::serde::Deserialize,
            )]
            pub struct InventoryItem {
                /// The field `item_id` in the table `InventoryItem`
                pub item_id: u64,
                /// The field `template_id` in the table `InventoryItem`
                pub template_id: u32,
                /// The field `count` in the table `InventoryItem`
                pub count: u32,
            }

            #[allow(clippy::derivable_impls)]
            impl ::core::default::Default for InventoryItem {
                fn default() -> Self {
                    Self {
                        item_id: 0,
                        template_id: 0,
                        count: 0,
                    }
                }
            }

            impl InventoryItem {
                /// Creates a [InventoryItemBuilder] for serializing an instance of this table.
                #[inline]
                pub fn builder() -> InventoryItemBuilder<()> {
                    InventoryItemBuilder(())
                }

                #[allow(clippy::too_many_arguments)]
                pub fn create(
                    builder: &mut ::planus::Builder,
                    field_item_id: impl ::planus::WriteAsDefault<u64, u64>,
                    field_template_id: impl ::planus::WriteAsDefault<u32, u32>,
                    field_count: impl ::planus::WriteAsDefault<u32, u32>,
                ) -> ::planus::Offset<Self> {
                    let prepared_item_id = field_item_id.prepare(builder, &0);
                    let prepared_template_id = field_template_id.prepare(builder, &0);
                    let prepared_count = field_count.prepare(builder, &0);

                    let mut table_writer: ::planus::table_writer::TableWriter<10> =
                        ::core::default::Default::default();
                    if prepared_item_id.is_some() {
                        table_writer.write_entry::<u64>(0);
                    }
                    if prepared_template_id.is_some() {
                        table_writer.write_entry::<u32>(1);
                    }
                    if prepared_count.is_some() {
                        table_writer.write_entry::<u32>(2);
                    }

                    unsafe {
                        table_writer.finish(builder, |object_writer| {
                            if let ::core::option::Option::Some(prepared_item_id) = prepared_item_id
                            {
                                object_writer.write::<_, _, 8>(&prepared_item_id);
                            }
                            if let ::core::option::Option::Some(prepared_template_id) =
                                prepared_template_id
                            {
                                object_writer.write::<_, _, 4>(&prepared_template_id);
                            }
                            if let ::core::option::Option::Some(prepared_count) = prepared_count {
                                object_writer.write::<_, _, 4>(&prepared_count);
                            }
                        });
                    }
                    builder.current_offset()
                }
            }

            impl ::planus::WriteAs<::planus::Offset<InventoryItem>> for InventoryItem {
                type Prepared = ::planus::Offset<Self>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<InventoryItem> {
                    ::planus::WriteAsOffset::prepare(self, builder)
                }
            }

            impl ::planus::WriteAsOptional<::planus::Offset<InventoryItem>> for InventoryItem {
                type Prepared = ::planus::Offset<Self>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<::planus::Offset<InventoryItem>> {
                    ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
                }
            }

            impl ::planus::WriteAsOffset<InventoryItem> for InventoryItem {
                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<InventoryItem> {
                    InventoryItem::create(builder, self.item_id, self.template_id, self.count)
                }
            }

            /// Builder for serializing an instance of the [InventoryItem] type.
            ///
            /// Can be created using the [InventoryItem::builder] method.
            #[derive(Debug)]
            #[must_use]
            pub struct InventoryItemBuilder<State>(State);

            impl InventoryItemBuilder<()> {
                /// Setter for the [`item_id` field](InventoryItem#structfield.item_id).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn item_id<T0>(self, value: T0) -> InventoryItemBuilder<(T0,)>
                where
                    T0: ::planus::WriteAsDefault<u64, u64>,
                {
                    InventoryItemBuilder((value,))
                }

                /// Sets the [`item_id` field](InventoryItem#structfield.item_id) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn item_id_as_default(self) -> InventoryItemBuilder<(::planus::DefaultValue,)> {
                    self.item_id(::planus::DefaultValue)
                }
            }

            impl<T0> InventoryItemBuilder<(T0,)> {
                /// Setter for the [`template_id` field](InventoryItem#structfield.template_id).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn template_id<T1>(self, value: T1) -> InventoryItemBuilder<(T0, T1)>
                where
                    T1: ::planus::WriteAsDefault<u32, u32>,
                {
                    let (v0,) = self.0;
                    InventoryItemBuilder((v0, value))
                }

                /// Sets the [`template_id` field](InventoryItem#structfield.template_id) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn template_id_as_default(
                    self,
                ) -> InventoryItemBuilder<(T0, ::planus::DefaultValue)> {
                    self.template_id(::planus::DefaultValue)
                }
            }

            impl<T0, T1> InventoryItemBuilder<(T0, T1)> {
                /// Setter for the [`count` field](InventoryItem#structfield.count).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn count<T2>(self, value: T2) -> InventoryItemBuilder<(T0, T1, T2)>
                where
                    T2: ::planus::WriteAsDefault<u32, u32>,
                {
                    let (v0, v1) = self.0;
                    InventoryItemBuilder((v0, v1, value))
                }

                /// Sets the [`count` field](InventoryItem#structfield.count) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn count_as_default(
                    self,
                ) -> InventoryItemBuilder<(T0, T1, ::planus::DefaultValue)> {
                    self.count(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2> InventoryItemBuilder<(T0, T1, T2)> {
                /// Finish writing the builder to get an [Offset](::planus::Offset) to a serialized [InventoryItem].
                #[inline]
                pub fn finish(
                    self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<InventoryItem>
                where
                    Self: ::planus::WriteAsOffset<InventoryItem>,
                {
                    ::planus::WriteAsOffset::prepare(&self, builder)
                }
            }

            impl<
                    T0: ::planus::WriteAsDefault<u64, u64>,
                    T1: ::planus::WriteAsDefault<u32, u32>,
                    T2: ::planus::WriteAsDefault<u32, u32>,
                > ::planus::WriteAs<::planus::Offset<InventoryItem>>
                for InventoryItemBuilder<(T0, T1, T2)>
            {
                type Prepared = ::planus::Offset<InventoryItem>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<InventoryItem> {
                    ::planus::WriteAsOffset::prepare(self, builder)
                }
            }

            impl<
                    T0: ::planus::WriteAsDefault<u64, u64>,
                    T1: ::planus::WriteAsDefault<u32, u32>,
                    T2: ::planus::WriteAsDefault<u32, u32>,
                > ::planus::WriteAsOptional<::planus::Offset<InventoryItem>>
                for InventoryItemBuilder<(T0, T1, T2)>
            {
                type Prepared = ::planus::Offset<InventoryItem>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<::planus::Offset<InventoryItem>> {
                    ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
                }
            }

            impl<
                    T0: ::planus::WriteAsDefault<u64, u64>,
                    T1: ::planus::WriteAsDefault<u32, u32>,
                    T2: ::planus::WriteAsDefault<u32, u32>,
                > ::planus::WriteAsOffset<InventoryItem> for InventoryItemBuilder<(T0, T1, T2)>
            {
                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<InventoryItem> {
                    let (v0, v1, v2) = &self.0;
                    InventoryItem::create(builder, v0, v1, v2)
                }
            }

            /// Reference to a deserialized [InventoryItem].
            #[derive(Copy, Clone)]
            pub struct InventoryItemRef<'a>(#[allow(dead_code)] ::planus::table_reader::Table<'a>);

            impl<'a> InventoryItemRef<'a> {
                /// Getter for the [`item_id` field](InventoryItem#structfield.item_id).
                #[inline]
                pub fn item_id(&self) -> ::planus::Result<u64> {
                    ::core::result::Result::Ok(
                        self.0.access(0, "InventoryItem", "item_id")?.unwrap_or(0),
                    )
                }

                /// Getter for the [`template_id` field](InventoryItem#structfield.template_id).
                #[inline]
                pub fn template_id(&self) -> ::planus::Result<u32> {
                    ::core::result::Result::Ok(
                        self.0
                            .access(1, "InventoryItem", "template_id")?
                            .unwrap_or(0),
                    )
                }

                /// Getter for the [`count` field](InventoryItem#structfield.count).
                #[inline]
                pub fn count(&self) -> ::planus::Result<u32> {
                    ::core::result::Result::Ok(
                        self.0.access(2, "InventoryItem", "count")?.unwrap_or(0),
                    )
                }
            }

            impl<'a> ::core::fmt::Debug for InventoryItemRef<'a> {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    let mut f = f.debug_struct("InventoryItemRef");
                    f.field("item_id", &self.item_id());
                    f.field("template_id", &self.template_id());
                    f.field("count", &self.count());
                    f.finish()
                }
            }

            impl<'a> ::core::convert::TryFrom<InventoryItemRef<'a>> for InventoryItem {
                type Error = ::planus::Error;

                #[allow(unreachable_code)]
                fn try_from(value: InventoryItemRef<'a>) -> ::planus::Result<Self> {
                    ::core::result::Result::Ok(Self {
                        item_id: ::core::convert::TryInto::try_into(value.item_id()?)?,
                        template_id: ::core::convert::TryInto::try_into(value.template_id()?)?,
                        count: ::core::convert::TryInto::try_into(value.count()?)?,
                    })
                }
            }

            impl<'a> ::planus::TableRead<'a> for InventoryItemRef<'a> {
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

            impl<'a> ::planus::VectorReadInner<'a> for InventoryItemRef<'a> {
                type Error = ::planus::Error;
                const STRIDE: usize = 4;

                unsafe fn from_buffer(
                    buffer: ::planus::SliceWithStartOffset<'a>,
                    offset: usize,
                ) -> ::planus::Result<Self> {
                    ::planus::TableRead::from_buffer(buffer, offset).map_err(|error_kind| {
                        error_kind.with_error_location(
                            "[InventoryItemRef]",
                            "get",
                            buffer.offset_from_start,
                        )
                    })
                }
            }

            /// # Safety
            /// The planus compiler generates implementations that initialize
            /// the bytes in `write_values`.
            unsafe impl ::planus::VectorWrite<::planus::Offset<InventoryItem>> for InventoryItem {
                type Value = ::planus::Offset<InventoryItem>;
                const STRIDE: usize = 4;
                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> Self::Value {
                    ::planus::WriteAs::prepare(self, builder)
                }

                #[inline]
                unsafe fn write_values(
                    values: &[::planus::Offset<InventoryItem>],
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

            impl<'a> ::planus::ReadAsRoot<'a> for InventoryItemRef<'a> {
                fn read_as_root(slice: &'a [u8]) -> ::planus::Result<Self> {
                    ::planus::TableRead::from_buffer(
                        ::planus::SliceWithStartOffset {
                            buffer: slice,
                            offset_from_start: 0,
                        },
                        0,
                    )
                    .map_err(|error_kind| {
                        error_kind.with_error_location("[InventoryItemRef]", "read_as_root", 0)
                    })
                }
            }

            ///  A player frozen at a tick boundary, handed from the old zone to the new one.
            ///
            /// Generated from these locations:
            /// * Table `HandoffTicket` in the file `fbs/control.fbs:20`
            #[derive(
                Clone, Debug, PartialEq, PartialOrd, ::serde::Serialize, ::serde::Deserialize,
            )]
            pub struct HandoffTicket {
                /// The field `ticket_id` in the table `HandoffTicket`
                pub ticket_id: u64,
                /// The field `session_id` in the table `HandoffTicket`
                pub session_id: u64,
                /// The field `player_entity_id` in the table `HandoffTicket`
                pub player_entity_id: u32,
                /// The field `from_zone_id` in the table `HandoffTicket`
                pub from_zone_id: u32,
                /// The field `to_zone_id` in the table `HandoffTicket`
                pub to_zone_id: u32,
                ///  The old owner's assignment revision (fencing token).
                pub from_assignment_revision: i64,
                /// The field `freeze_tick` in the table `HandoffTicket`
                pub freeze_tick: u32,
                /// The field `position` in the table `HandoffTicket`
                pub position: ::core::option::Option<self::Vec3>,
                /// The field `yaw` in the table `HandoffTicket`
                pub yaw: f32,
                /// The field `velocity` in the table `HandoffTicket`
                pub velocity: ::core::option::Option<self::Vec3>,
                /// The field `health` in the table `HandoffTicket`
                pub health: u16,
                /// The field `flags` in the table `HandoffTicket`
                pub flags: u16,
                /// The field `inventory` in the table `HandoffTicket`
                pub inventory:
                    ::core::option::Option<::planus::alloc::vec::Vec<self::InventoryItem>>,
                ///  Opaque game state the zone serialises (buffs, cooldowns).
                pub extra_state: ::core::option::Option<::planus::alloc::vec::Vec<u8>>,
            }

            #[allow(clippy::derivable_impls)]
            impl ::core::default::Default for HandoffTicket {
                fn default() -> Self {
                    Self {
                        ticket_id: 0,
                        session_id: 0,
                        player_entity_id: 0,
                        from_zone_id: 0,
                        to_zone_id: 0,
                        from_assignment_revision: 0,
                        freeze_tick: 0,
                        position: ::core::default::Default::default(),
                        yaw: 0.0,
                        velocity: ::core::default::Default::default(),
                        health: 0,
                        flags: 0,
                        inventory: ::core::default::Default::default(),
                        extra_state: ::core::default::Default::default(),
                    }
                }
            }

            impl HandoffTicket {
                /// Creates a [HandoffTicketBuilder] for serializing an instance of this table.
                #[inline]
                pub fn builder() -> HandoffTicketBuilder<()> {
                    HandoffTicketBuilder(())
                }

                #[allow(clippy::too_many_arguments)]
                pub fn create(
                    builder: &mut ::planus::Builder,
                    field_ticket_id: impl ::planus::WriteAsDefault<u64, u64>,
                    field_session_id: impl ::planus::WriteAsDefault<u64, u64>,
                    field_player_entity_id: impl ::planus::WriteAsDefault<u32, u32>,
                    field_from_zone_id: impl ::planus::WriteAsDefault<u32, u32>,
                    field_to_zone_id: impl ::planus::WriteAsDefault<u32, u32>,
                    field_from_assignment_revision: impl ::planus::WriteAsDefault<i64, i64>,
                    field_freeze_tick: impl ::planus::WriteAsDefault<u32, u32>,
                    field_position: impl ::planus::WriteAsOptional<self::Vec3>,
                    field_yaw: impl ::planus::WriteAsDefault<f32, f32>,
                    field_velocity: impl ::planus::WriteAsOptional<self::Vec3>,
                    field_health: impl ::planus::WriteAsDefault<u16, u16>,
                    field_flags: impl ::planus::WriteAsDefault<u16, u16>,
                    field_inventory: impl ::planus::WriteAsOptional<
                        ::planus::Offset<[::planus::Offset<self::InventoryItem>]>,
                    >,
                    field_extra_state: impl ::planus::WriteAsOptional<::planus::Offset<[u8]>>,
                ) -> ::planus::Offset<Self> {
                    let prepared_ticket_id = field_ticket_id.prepare(builder, &0);
                    let prepared_session_id = field_session_id.prepare(builder, &0);
                    let prepared_player_entity_id = field_player_entity_id.prepare(builder, &0);
                    let prepared_from_zone_id = field_from_zone_id.prepare(builder, &0);
                    let prepared_to_zone_id = field_to_zone_id.prepare(builder, &0);
                    let prepared_from_assignment_revision =
                        field_from_assignment_revision.prepare(builder, &0);
                    let prepared_freeze_tick = field_freeze_tick.prepare(builder, &0);
                    let prepared_position = field_position.prepare(builder);
                    let prepared_yaw = field_yaw.prepare(builder, &0.0);
                    let prepared_velocity = field_velocity.prepare(builder);
                    let prepared_health = field_health.prepare(builder, &0);
                    let prepared_flags = field_flags.prepare(builder, &0);
                    let prepared_inventory = field_inventory.prepare(builder);
                    let prepared_extra_state = field_extra_state.prepare(builder);

                    let mut table_writer: ::planus::table_writer::TableWriter<32> =
                        ::core::default::Default::default();
                    if prepared_ticket_id.is_some() {
                        table_writer.write_entry::<u64>(0);
                    }
                    if prepared_session_id.is_some() {
                        table_writer.write_entry::<u64>(1);
                    }
                    if prepared_from_assignment_revision.is_some() {
                        table_writer.write_entry::<i64>(5);
                    }
                    if prepared_player_entity_id.is_some() {
                        table_writer.write_entry::<u32>(2);
                    }
                    if prepared_from_zone_id.is_some() {
                        table_writer.write_entry::<u32>(3);
                    }
                    if prepared_to_zone_id.is_some() {
                        table_writer.write_entry::<u32>(4);
                    }
                    if prepared_freeze_tick.is_some() {
                        table_writer.write_entry::<u32>(6);
                    }
                    if prepared_position.is_some() {
                        table_writer.write_entry::<self::Vec3>(7);
                    }
                    if prepared_yaw.is_some() {
                        table_writer.write_entry::<f32>(8);
                    }
                    if prepared_velocity.is_some() {
                        table_writer.write_entry::<self::Vec3>(9);
                    }
                    if prepared_inventory.is_some() {
                        table_writer.write_entry::<::planus::Offset<[::planus::Offset<self::InventoryItem>]>>(12);
                    }
                    if prepared_extra_state.is_some() {
                        table_writer.write_entry::<::planus::Offset<[u8]>>(13);
                    }
                    if prepared_health.is_some() {
                        table_writer.write_entry::<u16>(10);
                    }
                    if prepared_flags.is_some() {
                        table_writer.write_entry::<u16>(11);
                    }

                    unsafe {
                        table_writer.finish(builder, |object_writer| {
                            if let ::core::option::Option::Some(prepared_ticket_id) =
                                prepared_ticket_id
                            {
                                object_writer.write::<_, _, 8>(&prepared_ticket_id);
                            }
                            if let ::core::option::Option::Some(prepared_session_id) =
                                prepared_session_id
                            {
                                object_writer.write::<_, _, 8>(&prepared_session_id);
                            }
                            if let ::core::option::Option::Some(prepared_from_assignment_revision) =
                                prepared_from_assignment_revision
                            {
                                object_writer.write::<_, _, 8>(&prepared_from_assignment_revision);
                            }
                            if let ::core::option::Option::Some(prepared_player_entity_id) =
                                prepared_player_entity_id
                            {
                                object_writer.write::<_, _, 4>(&prepared_player_entity_id);
                            }
                            if let ::core::option::Option::Some(prepared_from_zone_id) =
                                prepared_from_zone_id
                            {
                                object_writer.write::<_, _, 4>(&prepared_from_zone_id);
                            }
                            if let ::core::option::Option::Some(prepared_to_zone_id) =
                                prepared_to_zone_id
                            {
                                object_writer.write::<_, _, 4>(&prepared_to_zone_id);
                            }
                            if let ::core::option::Option::Some(prepared_freeze_tick) =
                                prepared_freeze_tick
                            {
                                object_writer.write::<_, _, 4>(&prepared_freeze_tick);
                            }
                            if let ::core::option::Option::Some(prepared_position) =
                                prepared_position
                            {
                                object_writer.write::<_, _, 12>(&prepared_position);
                            }
                            if let ::core::option::Option::Some(prepared_yaw) = prepared_yaw {
                                object_writer.write::<_, _, 4>(&prepared_yaw);
                            }
                            if let ::core::option::Option::Some(prepared_velocity) =
                                prepared_velocity
                            {
                                object_writer.write::<_, _, 12>(&prepared_velocity);
                            }
                            if let ::core::option::Option::Some(prepared_inventory) =
                                prepared_inventory
                            {
                                object_writer.write::<_, _, 4>(&prepared_inventory);
                            }
                            if let ::core::option::Option::Some(prepared_extra_state) =
                                prepared_extra_state
                            {
                                object_writer.write::<_, _, 4>(&prepared_extra_state);
                            }
                            if let ::core::option::Option::Some(prepared_health) = prepared_health {
                                object_writer.write::<_, _, 2>(&prepared_health);
                            }
                            if let ::core::option::Option::Some(prepared_flags) = prepared_flags {
                                object_writer.write::<_, _, 2>(&prepared_flags);
                            }
                        });
                    }
                    builder.current_offset()
                }
            }

            impl ::planus::WriteAs<::planus::Offset<HandoffTicket>> for HandoffTicket {
                type Prepared = ::planus::Offset<Self>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<HandoffTicket> {
                    ::planus::WriteAsOffset::prepare(self, builder)
                }
            }

            impl ::planus::WriteAsOptional<::planus::Offset<HandoffTicket>> for HandoffTicket {
                type Prepared = ::planus::Offset<Self>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<::planus::Offset<HandoffTicket>> {
                    ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
                }
            }

            impl ::planus::WriteAsOffset<HandoffTicket> for HandoffTicket {
                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<HandoffTicket> {
                    HandoffTicket::create(
                        builder,
                        self.ticket_id,
                        self.session_id,
                        self.player_entity_id,
                        self.from_zone_id,
                        self.to_zone_id,
                        self.from_assignment_revision,
                        self.freeze_tick,
                        self.position,
                        self.yaw,
                        self.velocity,
                        self.health,
                        self.flags,
                        &self.inventory,
                        &self.extra_state,
                    )
                }
            }

            /// Builder for serializing an instance of the [HandoffTicket] type.
            ///
            /// Can be created using the [HandoffTicket::builder] method.
            #[derive(Debug)]
            #[must_use]
            pub struct HandoffTicketBuilder<State>(State);

            impl HandoffTicketBuilder<()> {
                /// Setter for the [`ticket_id` field](HandoffTicket#structfield.ticket_id).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn ticket_id<T0>(self, value: T0) -> HandoffTicketBuilder<(T0,)>
                where
                    T0: ::planus::WriteAsDefault<u64, u64>,
                {
                    HandoffTicketBuilder((value,))
                }

                /// Sets the [`ticket_id` field](HandoffTicket#structfield.ticket_id) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn ticket_id_as_default(
                    self,
                ) -> HandoffTicketBuilder<(::planus::DefaultValue,)> {
                    self.ticket_id(::planus::DefaultValue)
                }
            }

            impl<T0> HandoffTicketBuilder<(T0,)> {
                /// Setter for the [`session_id` field](HandoffTicket#structfield.session_id).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn session_id<T1>(self, value: T1) -> HandoffTicketBuilder<(T0, T1)>
                where
                    T1: ::planus::WriteAsDefault<u64, u64>,
                {
                    let (v0,) = self.0;
                    HandoffTicketBuilder((v0, value))
                }

                /// Sets the [`session_id` field](HandoffTicket#structfield.session_id) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn session_id_as_default(
                    self,
                ) -> HandoffTicketBuilder<(T0, ::planus::DefaultValue)> {
                    self.session_id(::planus::DefaultValue)
                }
            }

            impl<T0, T1> HandoffTicketBuilder<(T0, T1)> {
                /// Setter for the [`player_entity_id` field](HandoffTicket#structfield.player_entity_id).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn player_entity_id<T2>(self, value: T2) -> HandoffTicketBuilder<(T0, T1, T2)>
                where
                    T2: ::planus::WriteAsDefault<u32, u32>,
                {
                    let (v0, v1) = self.0;
                    HandoffTicketBuilder((v0, v1, value))
                }

                /// Sets the [`player_entity_id` field](HandoffTicket#structfield.player_entity_id) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn player_entity_id_as_default(
                    self,
                ) -> HandoffTicketBuilder<(T0, T1, ::planus::DefaultValue)> {
                    self.player_entity_id(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2> HandoffTicketBuilder<(T0, T1, T2)> {
                /// Setter for the [`from_zone_id` field](HandoffTicket#structfield.from_zone_id).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn from_zone_id<T3>(self, value: T3) -> HandoffTicketBuilder<(T0, T1, T2, T3)>
                where
                    T3: ::planus::WriteAsDefault<u32, u32>,
                {
                    let (v0, v1, v2) = self.0;
                    HandoffTicketBuilder((v0, v1, v2, value))
                }

                /// Sets the [`from_zone_id` field](HandoffTicket#structfield.from_zone_id) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn from_zone_id_as_default(
                    self,
                ) -> HandoffTicketBuilder<(T0, T1, T2, ::planus::DefaultValue)> {
                    self.from_zone_id(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2, T3> HandoffTicketBuilder<(T0, T1, T2, T3)> {
                /// Setter for the [`to_zone_id` field](HandoffTicket#structfield.to_zone_id).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn to_zone_id<T4>(self, value: T4) -> HandoffTicketBuilder<(T0, T1, T2, T3, T4)>
                where
                    T4: ::planus::WriteAsDefault<u32, u32>,
                {
                    let (v0, v1, v2, v3) = self.0;
                    HandoffTicketBuilder((v0, v1, v2, v3, value))
                }

                /// Sets the [`to_zone_id` field](HandoffTicket#structfield.to_zone_id) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn to_zone_id_as_default(
                    self,
                ) -> HandoffTicketBuilder<(T0, T1, T2, T3, ::planus::DefaultValue)>
                {
                    self.to_zone_id(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2, T3, T4> HandoffTicketBuilder<(T0, T1, T2, T3, T4)> {
                /// Setter for the [`from_assignment_revision` field](HandoffTicket#structfield.from_assignment_revision).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn from_assignment_revision<T5>(
                    self,
                    value: T5,
                ) -> HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5)>
                where
                    T5: ::planus::WriteAsDefault<i64, i64>,
                {
                    let (v0, v1, v2, v3, v4) = self.0;
                    HandoffTicketBuilder((v0, v1, v2, v3, v4, value))
                }

                /// Sets the [`from_assignment_revision` field](HandoffTicket#structfield.from_assignment_revision) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn from_assignment_revision_as_default(
                    self,
                ) -> HandoffTicketBuilder<(T0, T1, T2, T3, T4, ::planus::DefaultValue)>
                {
                    self.from_assignment_revision(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2, T3, T4, T5> HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5)> {
                /// Setter for the [`freeze_tick` field](HandoffTicket#structfield.freeze_tick).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn freeze_tick<T6>(
                    self,
                    value: T6,
                ) -> HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, T6)>
                where
                    T6: ::planus::WriteAsDefault<u32, u32>,
                {
                    let (v0, v1, v2, v3, v4, v5) = self.0;
                    HandoffTicketBuilder((v0, v1, v2, v3, v4, v5, value))
                }

                /// Sets the [`freeze_tick` field](HandoffTicket#structfield.freeze_tick) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn freeze_tick_as_default(
                    self,
                ) -> HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, ::planus::DefaultValue)>
                {
                    self.freeze_tick(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2, T3, T4, T5, T6> HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, T6)> {
                /// Setter for the [`position` field](HandoffTicket#structfield.position).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn position<T7>(
                    self,
                    value: T7,
                ) -> HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, T6, T7)>
                where
                    T7: ::planus::WriteAsOptional<self::Vec3>,
                {
                    let (v0, v1, v2, v3, v4, v5, v6) = self.0;
                    HandoffTicketBuilder((v0, v1, v2, v3, v4, v5, v6, value))
                }

                /// Sets the [`position` field](HandoffTicket#structfield.position) to null.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn position_as_null(
                    self,
                ) -> HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, T6, ())> {
                    self.position(())
                }
            }

            impl<T0, T1, T2, T3, T4, T5, T6, T7> HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, T6, T7)> {
                /// Setter for the [`yaw` field](HandoffTicket#structfield.yaw).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn yaw<T8>(
                    self,
                    value: T8,
                ) -> HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, T6, T7, T8)>
                where
                    T8: ::planus::WriteAsDefault<f32, f32>,
                {
                    let (v0, v1, v2, v3, v4, v5, v6, v7) = self.0;
                    HandoffTicketBuilder((v0, v1, v2, v3, v4, v5, v6, v7, value))
                }

                /// Sets the [`yaw` field](HandoffTicket#structfield.yaw) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn yaw_as_default(
                    self,
                ) -> HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, T6, T7, ::planus::DefaultValue)>
                {
                    self.yaw(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2, T3, T4, T5, T6, T7, T8>
                HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, T6, T7, T8)>
            {
                /// Setter for the [`velocity` field](HandoffTicket#structfield.velocity).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn velocity<T9>(
                    self,
                    value: T9,
                ) -> HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, T6, T7, T8, T9)>
                where
                    T9: ::planus::WriteAsOptional<self::Vec3>,
                {
                    let (v0, v1, v2, v3, v4, v5, v6, v7, v8) = self.0;
                    HandoffTicketBuilder((v0, v1, v2, v3, v4, v5, v6, v7, v8, value))
                }

                /// Sets the [`velocity` field](HandoffTicket#structfield.velocity) to null.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn velocity_as_null(
                    self,
                ) -> HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, T6, T7, T8, ())>
                {
                    self.velocity(())
                }
            }

            impl<T0, T1, T2, T3, T4, T5, T6, T7, T8, T9>
                HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, T6, T7, T8, T9)>
            {
                /// Setter for the [`health` field](HandoffTicket#structfield.health).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn health<T10>(
                    self,
                    value: T10,
                ) -> HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10)>
                where
                    T10: ::planus::WriteAsDefault<u16, u16>,
                {
                    let (v0, v1, v2, v3, v4, v5, v6, v7, v8, v9) = self.0;
                    HandoffTicketBuilder((v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, value))
                }

                /// Sets the [`health` field](HandoffTicket#structfield.health) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn health_as_default(
                    self,
                ) -> HandoffTicketBuilder<(
                    T0,
                    T1,
                    T2,
                    T3,
                    T4,
                    T5,
                    T6,
                    T7,
                    T8,
                    T9,
                    ::planus::DefaultValue,
                )> {
                    self.health(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>
                HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10)>
            {
                /// Setter for the [`flags` field](HandoffTicket#structfield.flags).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn flags<T11>(
                    self,
                    value: T11,
                ) -> HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11)>
                where
                    T11: ::planus::WriteAsDefault<u16, u16>,
                {
                    let (v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10) = self.0;
                    HandoffTicketBuilder((v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, value))
                }

                /// Sets the [`flags` field](HandoffTicket#structfield.flags) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn flags_as_default(
                    self,
                ) -> HandoffTicketBuilder<(
                    T0,
                    T1,
                    T2,
                    T3,
                    T4,
                    T5,
                    T6,
                    T7,
                    T8,
                    T9,
                    T10,
                    ::planus::DefaultValue,
                )> {
                    self.flags(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11>
                HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11)>
            {
                /// Setter for the [`inventory` field](HandoffTicket#structfield.inventory).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn inventory<T12>(
                    self,
                    value: T12,
                ) -> HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12)>
                where
                    T12: ::planus::WriteAsOptional<
                        ::planus::Offset<[::planus::Offset<self::InventoryItem>]>,
                    >,
                {
                    let (v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11) = self.0;
                    HandoffTicketBuilder((v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, value))
                }

                /// Sets the [`inventory` field](HandoffTicket#structfield.inventory) to null.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn inventory_as_null(
                    self,
                ) -> HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, ())>
                {
                    self.inventory(())
                }
            }

            impl<T0, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12>
                HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12)>
            {
                /// Setter for the [`extra_state` field](HandoffTicket#structfield.extra_state).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn extra_state<T13>(
                    self,
                    value: T13,
                ) -> HandoffTicketBuilder<(
                    T0,
                    T1,
                    T2,
                    T3,
                    T4,
                    T5,
                    T6,
                    T7,
                    T8,
                    T9,
                    T10,
                    T11,
                    T12,
                    T13,
                )>
                where
                    T13: ::planus::WriteAsOptional<::planus::Offset<[u8]>>,
                {
                    let (v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12) = self.0;
                    HandoffTicketBuilder((
                        v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, value,
                    ))
                }

                /// Sets the [`extra_state` field](HandoffTicket#structfield.extra_state) to null.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn extra_state_as_null(
                    self,
                ) -> HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, ())>
                {
                    self.extra_state(())
                }
            }

            impl<T0, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13>
                HandoffTicketBuilder<(T0, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11, T12, T13)>
            {
                /// Finish writing the builder to get an [Offset](::planus::Offset) to a serialized [HandoffTicket].
                #[inline]
                pub fn finish(
                    self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<HandoffTicket>
                where
                    Self: ::planus::WriteAsOffset<HandoffTicket>,
                {
                    ::planus::WriteAsOffset::prepare(&self, builder)
                }
            }

            impl<
                    T0: ::planus::WriteAsDefault<u64, u64>,
                    T1: ::planus::WriteAsDefault<u64, u64>,
                    T2: ::planus::WriteAsDefault<u32, u32>,
                    T3: ::planus::WriteAsDefault<u32, u32>,
                    T4: ::planus::WriteAsDefault<u32, u32>,
                    T5: ::planus::WriteAsDefault<i64, i64>,
                    T6: ::planus::WriteAsDefault<u32, u32>,
                    T7: ::planus::WriteAsOptional<self::Vec3>,
                    T8: ::planus::WriteAsDefault<f32, f32>,
                    T9: ::planus::WriteAsOptional<self::Vec3>,
                    T10: ::planus::WriteAsDefault<u16, u16>,
                    T11: ::planus::WriteAsDefault<u16, u16>,
                    T12: ::planus::WriteAsOptional<
                        ::planus::Offset<[::planus::Offset<self::InventoryItem>]>,
                    >,
                    T13: ::planus::WriteAsOptional<::planus::Offset<[u8]>>,
                > ::planus::WriteAs<::planus::Offset<HandoffTicket>>
                for HandoffTicketBuilder<(
                    T0,
                    T1,
                    T2,
                    T3,
                    T4,
                    T5,
                    T6,
                    T7,
                    T8,
                    T9,
                    T10,
                    T11,
                    T12,
                    T13,
                )>
            {
                type Prepared = ::planus::Offset<HandoffTicket>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<HandoffTicket> {
                    ::planus::WriteAsOffset::prepare(self, builder)
                }
            }

            impl<
                    T0: ::planus::WriteAsDefault<u64, u64>,
                    T1: ::planus::WriteAsDefault<u64, u64>,
                    T2: ::planus::WriteAsDefault<u32, u32>,
                    T3: ::planus::WriteAsDefault<u32, u32>,
                    T4: ::planus::WriteAsDefault<u32, u32>,
                    T5: ::planus::WriteAsDefault<i64, i64>,
                    T6: ::planus::WriteAsDefault<u32, u32>,
                    T7: ::planus::WriteAsOptional<self::Vec3>,
                    T8: ::planus::WriteAsDefault<f32, f32>,
                    T9: ::planus::WriteAsOptional<self::Vec3>,
                    T10: ::planus::WriteAsDefault<u16, u16>,
                    T11: ::planus::WriteAsDefault<u16, u16>,
                    T12: ::planus::WriteAsOptional<
                        ::planus::Offset<[::planus::Offset<self::InventoryItem>]>,
                    >,
                    T13: ::planus::WriteAsOptional<::planus::Offset<[u8]>>,
                > ::planus::WriteAsOptional<::planus::Offset<HandoffTicket>>
                for HandoffTicketBuilder<(
                    T0,
                    T1,
                    T2,
                    T3,
                    T4,
                    T5,
                    T6,
                    T7,
                    T8,
                    T9,
                    T10,
                    T11,
                    T12,
                    T13,
                )>
            {
                type Prepared = ::planus::Offset<HandoffTicket>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<::planus::Offset<HandoffTicket>> {
                    ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
                }
            }

            impl<
                    T0: ::planus::WriteAsDefault<u64, u64>,
                    T1: ::planus::WriteAsDefault<u64, u64>,
                    T2: ::planus::WriteAsDefault<u32, u32>,
                    T3: ::planus::WriteAsDefault<u32, u32>,
                    T4: ::planus::WriteAsDefault<u32, u32>,
                    T5: ::planus::WriteAsDefault<i64, i64>,
                    T6: ::planus::WriteAsDefault<u32, u32>,
                    T7: ::planus::WriteAsOptional<self::Vec3>,
                    T8: ::planus::WriteAsDefault<f32, f32>,
                    T9: ::planus::WriteAsOptional<self::Vec3>,
                    T10: ::planus::WriteAsDefault<u16, u16>,
                    T11: ::planus::WriteAsDefault<u16, u16>,
                    T12: ::planus::WriteAsOptional<
                        ::planus::Offset<[::planus::Offset<self::InventoryItem>]>,
                    >,
                    T13: ::planus::WriteAsOptional<::planus::Offset<[u8]>>,
                > ::planus::WriteAsOffset<HandoffTicket>
                for HandoffTicketBuilder<(
                    T0,
                    T1,
                    T2,
                    T3,
                    T4,
                    T5,
                    T6,
                    T7,
                    T8,
                    T9,
                    T10,
                    T11,
                    T12,
                    T13,
                )>
            {
                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<HandoffTicket> {
                    let (v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13) = &self.0;
                    HandoffTicket::create(
                        builder, v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13,
                    )
                }
            }

            /// Reference to a deserialized [HandoffTicket].
            #[derive(Copy, Clone)]
            pub struct HandoffTicketRef<'a>(#[allow(dead_code)] ::planus::table_reader::Table<'a>);

            impl<'a> HandoffTicketRef<'a> {
                /// Getter for the [`ticket_id` field](HandoffTicket#structfield.ticket_id).
                #[inline]
                pub fn ticket_id(&self) -> ::planus::Result<u64> {
                    ::core::result::Result::Ok(
                        self.0.access(0, "HandoffTicket", "ticket_id")?.unwrap_or(0),
                    )
                }

                /// Getter for the [`session_id` field](HandoffTicket#structfield.session_id).
                #[inline]
                pub fn session_id(&self) -> ::planus::Result<u64> {
                    ::core::result::Result::Ok(
                        self.0
                            .access(1, "HandoffTicket", "session_id")?
                            .unwrap_or(0),
                    )
                }

                /// Getter for the [`player_entity_id` field](HandoffTicket#structfield.player_entity_id).
                #[inline]
                pub fn player_entity_id(&self) -> ::planus::Result<u32> {
                    ::core::result::Result::Ok(
                        self.0
                            .access(2, "HandoffTicket", "player_entity_id")?
                            .unwrap_or(0),
                    )
                }

                /// Getter for the [`from_zone_id` field](HandoffTicket#structfield.from_zone_id).
                #[inline]
                pub fn from_zone_id(&self) -> ::planus::Result<u32> {
                    ::core::result::Result::Ok(
                        self.0
                            .access(3, "HandoffTicket", "from_zone_id")?
                            .unwrap_or(0),
                    )
                }

                /// Getter for the [`to_zone_id` field](HandoffTicket#structfield.to_zone_id).
                #[inline]
                pub fn to_zone_id(&self) -> ::planus::Result<u32> {
                    ::core::result::Result::Ok(
                        self.0
                            .access(4, "HandoffTicket", "to_zone_id")?
                            .unwrap_or(0),
                    )
                }

                /// Getter for the [`from_assignment_revision` field](HandoffTicket#structfield.from_assignment_revision).
                #[inline]
                pub fn from_assignment_revision(&self) -> ::planus::Result<i64> {
                    ::core::result::Result::Ok(
                        self.0
                            .access(5, "HandoffTicket", "from_assignment_revision")?
                            .unwrap_or(0),
                    )
                }

                /// Getter for the [`freeze_tick` field](HandoffTicket#structfield.freeze_tick).
                #[inline]
                pub fn freeze_tick(&self) -> ::planus::Result<u32> {
                    ::core::result::Result::Ok(
                        self.0
                            .access(6, "HandoffTicket", "freeze_tick")?
                            .unwrap_or(0),
                    )
                }

                /// Getter for the [`position` field](HandoffTicket#structfield.position).
                #[inline]
                pub fn position(
                    &self,
                ) -> ::planus::Result<::core::option::Option<self::Vec3Ref<'a>>> {
                    self.0.access(7, "HandoffTicket", "position")
                }

                /// Getter for the [`yaw` field](HandoffTicket#structfield.yaw).
                #[inline]
                pub fn yaw(&self) -> ::planus::Result<f32> {
                    ::core::result::Result::Ok(
                        self.0.access(8, "HandoffTicket", "yaw")?.unwrap_or(0.0),
                    )
                }

                /// Getter for the [`velocity` field](HandoffTicket#structfield.velocity).
                #[inline]
                pub fn velocity(
                    &self,
                ) -> ::planus::Result<::core::option::Option<self::Vec3Ref<'a>>> {
                    self.0.access(9, "HandoffTicket", "velocity")
                }

                /// Getter for the [`health` field](HandoffTicket#structfield.health).
                #[inline]
                pub fn health(&self) -> ::planus::Result<u16> {
                    ::core::result::Result::Ok(
                        self.0.access(10, "HandoffTicket", "health")?.unwrap_or(0),
                    )
                }

                /// Getter for the [`flags` field](HandoffTicket#structfield.flags).
                #[inline]
                pub fn flags(&self) -> ::planus::Result<u16> {
                    ::core::result::Result::Ok(
                        self.0.access(11, "HandoffTicket", "flags")?.unwrap_or(0),
                    )
                }

                /// Getter for the [`inventory` field](HandoffTicket#structfield.inventory).
                #[inline]
                pub fn inventory(
                    &self,
                ) -> ::planus::Result<
                    ::core::option::Option<
                        ::planus::Vector<'a, ::planus::Result<self::InventoryItemRef<'a>>>,
                    >,
                > {
                    self.0.access(12, "HandoffTicket", "inventory")
                }

                /// Getter for the [`extra_state` field](HandoffTicket#structfield.extra_state).
                #[inline]
                pub fn extra_state(&self) -> ::planus::Result<::core::option::Option<&'a [u8]>> {
                    self.0.access(13, "HandoffTicket", "extra_state")
                }
            }

            impl<'a> ::core::fmt::Debug for HandoffTicketRef<'a> {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    let mut f = f.debug_struct("HandoffTicketRef");
                    f.field("ticket_id", &self.ticket_id());
                    f.field("session_id", &self.session_id());
                    f.field("player_entity_id", &self.player_entity_id());
                    f.field("from_zone_id", &self.from_zone_id());
                    f.field("to_zone_id", &self.to_zone_id());
                    f.field("from_assignment_revision", &self.from_assignment_revision());
                    f.field("freeze_tick", &self.freeze_tick());
                    if let ::core::option::Option::Some(field_position) =
                        self.position().transpose()
                    {
                        f.field("position", &field_position);
                    }
                    f.field("yaw", &self.yaw());
                    if let ::core::option::Option::Some(field_velocity) =
                        self.velocity().transpose()
                    {
                        f.field("velocity", &field_velocity);
                    }
                    f.field("health", &self.health());
                    f.field("flags", &self.flags());
                    if let ::core::option::Option::Some(field_inventory) =
                        self.inventory().transpose()
                    {
                        f.field("inventory", &field_inventory);
                    }
                    if let ::core::option::Option::Some(field_extra_state) =
                        self.extra_state().transpose()
                    {
                        f.field("extra_state", &field_extra_state);
                    }
                    f.finish()
                }
            }

            impl<'a> ::core::convert::TryFrom<HandoffTicketRef<'a>> for HandoffTicket {
                type Error = ::planus::Error;

                #[allow(unreachable_code)]
                fn try_from(value: HandoffTicketRef<'a>) -> ::planus::Result<Self> {
                    ::core::result::Result::Ok(Self {
                        ticket_id: ::core::convert::TryInto::try_into(value.ticket_id()?)?,
                        session_id: ::core::convert::TryInto::try_into(value.session_id()?)?,
                        player_entity_id: ::core::convert::TryInto::try_into(
                            value.player_entity_id()?,
                        )?,
                        from_zone_id: ::core::convert::TryInto::try_into(value.from_zone_id()?)?,
                        to_zone_id: ::core::convert::TryInto::try_into(value.to_zone_id()?)?,
                        from_assignment_revision: ::core::convert::TryInto::try_into(
                            value.from_assignment_revision()?,
                        )?,
                        freeze_tick: ::core::convert::TryInto::try_into(value.freeze_tick()?)?,
                        position: value.position()?.map(::core::convert::Into::into),
                        yaw: ::core::convert::TryInto::try_into(value.yaw()?)?,
                        velocity: value.velocity()?.map(::core::convert::Into::into),
                        health: ::core::convert::TryInto::try_into(value.health()?)?,
                        flags: ::core::convert::TryInto::try_into(value.flags()?)?,
                        inventory: if let ::core::option::Option::Some(inventory) =
                            value.inventory()?
                        {
                            ::core::option::Option::Some(inventory.to_vec_result()?)
                        } else {
                            ::core::option::Option::None
                        },
                        extra_state: value.extra_state()?.map(|v| v.to_vec()),
                    })
                }
            }

            impl<'a> ::planus::TableRead<'a> for HandoffTicketRef<'a> {
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

            impl<'a> ::planus::VectorReadInner<'a> for HandoffTicketRef<'a> {
                type Error = ::planus::Error;
                const STRIDE: usize = 4;

                unsafe fn from_buffer(
                    buffer: ::planus::SliceWithStartOffset<'a>,
                    offset: usize,
                ) -> ::planus::Result<Self> {
                    ::planus::TableRead::from_buffer(buffer, offset).map_err(|error_kind| {
                        error_kind.with_error_location(
                            "[HandoffTicketRef]",
                            "get",
                            buffer.offset_from_start,
                        )
                    })
                }
            }

            /// # Safety
            /// The planus compiler generates implementations that initialize
            /// the bytes in `write_values`.
            unsafe impl ::planus::VectorWrite<::planus::Offset<HandoffTicket>> for HandoffTicket {
                type Value = ::planus::Offset<HandoffTicket>;
                const STRIDE: usize = 4;
                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> Self::Value {
                    ::planus::WriteAs::prepare(self, builder)
                }

                #[inline]
                unsafe fn write_values(
                    values: &[::planus::Offset<HandoffTicket>],
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

            impl<'a> ::planus::ReadAsRoot<'a> for HandoffTicketRef<'a> {
                fn read_as_root(slice: &'a [u8]) -> ::planus::Result<Self> {
                    ::planus::TableRead::from_buffer(
                        ::planus::SliceWithStartOffset {
                            buffer: slice,
                            offset_from_start: 0,
                        },
                        0,
                    )
                    .map_err(|error_kind| {
                        error_kind.with_error_location("[HandoffTicketRef]", "read_as_root", 0)
                    })
                }
            }

            /// The table `EntityRecord` in the namespace `meridian.control`
            ///
            /// Generated from these locations:
            /// * Table `EntityRecord` in the file `fbs/control.fbs:39`
            #[derive(
                Clone, Debug, PartialEq, PartialOrd, ::serde::Serialize, ::serde::Deserialize,
            )]
            pub struct EntityRecord {
                /// The field `entity_id` in the table `EntityRecord`
                pub entity_id: u32,
                /// The field `kind` in the table `EntityRecord`
                pub kind: u8,
                /// The field `position` in the table `EntityRecord`
                pub position: ::core::option::Option<self::Vec3>,
                /// The field `yaw` in the table `EntityRecord`
                pub yaw: f32,
                /// The field `health` in the table `EntityRecord`
                pub health: u16,
                /// The field `flags` in the table `EntityRecord`
                pub flags: u16,
            }

            #[allow(clippy::derivable_impls)]
            impl ::core::default::Default for EntityRecord {
                fn default() -> Self {
                    Self {
                        entity_id: 0,
                        kind: 0,
                        position: ::core::default::Default::default(),
                        yaw: 0.0,
                        health: 0,
                        flags: 0,
                    }
                }
            }

            impl EntityRecord {
                /// Creates a [EntityRecordBuilder] for serializing an instance of this table.
                #[inline]
                pub fn builder() -> EntityRecordBuilder<()> {
                    EntityRecordBuilder(())
                }

                #[allow(clippy::too_many_arguments)]
                pub fn create(
                    builder: &mut ::planus::Builder,
                    field_entity_id: impl ::planus::WriteAsDefault<u32, u32>,
                    field_kind: impl ::planus::WriteAsDefault<u8, u8>,
                    field_position: impl ::planus::WriteAsOptional<self::Vec3>,
                    field_yaw: impl ::planus::WriteAsDefault<f32, f32>,
                    field_health: impl ::planus::WriteAsDefault<u16, u16>,
                    field_flags: impl ::planus::WriteAsDefault<u16, u16>,
                ) -> ::planus::Offset<Self> {
                    let prepared_entity_id = field_entity_id.prepare(builder, &0);
                    let prepared_kind = field_kind.prepare(builder, &0);
                    let prepared_position = field_position.prepare(builder);
                    let prepared_yaw = field_yaw.prepare(builder, &0.0);
                    let prepared_health = field_health.prepare(builder, &0);
                    let prepared_flags = field_flags.prepare(builder, &0);

                    let mut table_writer: ::planus::table_writer::TableWriter<16> =
                        ::core::default::Default::default();
                    if prepared_entity_id.is_some() {
                        table_writer.write_entry::<u32>(0);
                    }
                    if prepared_position.is_some() {
                        table_writer.write_entry::<self::Vec3>(2);
                    }
                    if prepared_yaw.is_some() {
                        table_writer.write_entry::<f32>(3);
                    }
                    if prepared_health.is_some() {
                        table_writer.write_entry::<u16>(4);
                    }
                    if prepared_flags.is_some() {
                        table_writer.write_entry::<u16>(5);
                    }
                    if prepared_kind.is_some() {
                        table_writer.write_entry::<u8>(1);
                    }

                    unsafe {
                        table_writer.finish(builder, |object_writer| {
                            if let ::core::option::Option::Some(prepared_entity_id) =
                                prepared_entity_id
                            {
                                object_writer.write::<_, _, 4>(&prepared_entity_id);
                            }
                            if let ::core::option::Option::Some(prepared_position) =
                                prepared_position
                            {
                                object_writer.write::<_, _, 12>(&prepared_position);
                            }
                            if let ::core::option::Option::Some(prepared_yaw) = prepared_yaw {
                                object_writer.write::<_, _, 4>(&prepared_yaw);
                            }
                            if let ::core::option::Option::Some(prepared_health) = prepared_health {
                                object_writer.write::<_, _, 2>(&prepared_health);
                            }
                            if let ::core::option::Option::Some(prepared_flags) = prepared_flags {
                                object_writer.write::<_, _, 2>(&prepared_flags);
                            }
                            if let ::core::option::Option::Some(prepared_kind) = prepared_kind {
                                object_writer.write::<_, _, 1>(&prepared_kind);
                            }
                        });
                    }
                    builder.current_offset()
                }
            }

            impl ::planus::WriteAs<::planus::Offset<EntityRecord>> for EntityRecord {
                type Prepared = ::planus::Offset<Self>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<EntityRecord> {
                    ::planus::WriteAsOffset::prepare(self, builder)
                }
            }

            impl ::planus::WriteAsOptional<::planus::Offset<EntityRecord>> for EntityRecord {
                type Prepared = ::planus::Offset<Self>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<::planus::Offset<EntityRecord>> {
                    ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
                }
            }

            impl ::planus::WriteAsOffset<EntityRecord> for EntityRecord {
                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<EntityRecord> {
                    EntityRecord::create(
                        builder,
                        self.entity_id,
                        self.kind,
                        self.position,
                        self.yaw,
                        self.health,
                        self.flags,
                    )
                }
            }

            /// Builder for serializing an instance of the [EntityRecord] type.
            ///
            /// Can be created using the [EntityRecord::builder] method.
            #[derive(Debug)]
            #[must_use]
            pub struct EntityRecordBuilder<State>(State);

            impl EntityRecordBuilder<()> {
                /// Setter for the [`entity_id` field](EntityRecord#structfield.entity_id).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn entity_id<T0>(self, value: T0) -> EntityRecordBuilder<(T0,)>
                where
                    T0: ::planus::WriteAsDefault<u32, u32>,
                {
                    EntityRecordBuilder((value,))
                }

                /// Sets the [`entity_id` field](EntityRecord#structfield.entity_id) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn entity_id_as_default(
                    self,
                ) -> EntityRecordBuilder<(::planus::DefaultValue,)> {
                    self.entity_id(::planus::DefaultValue)
                }
            }

            impl<T0> EntityRecordBuilder<(T0,)> {
                /// Setter for the [`kind` field](EntityRecord#structfield.kind).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn kind<T1>(self, value: T1) -> EntityRecordBuilder<(T0, T1)>
                where
                    T1: ::planus::WriteAsDefault<u8, u8>,
                {
                    let (v0,) = self.0;
                    EntityRecordBuilder((v0, value))
                }

                /// Sets the [`kind` field](EntityRecord#structfield.kind) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn kind_as_default(self) -> EntityRecordBuilder<(T0, ::planus::DefaultValue)> {
                    self.kind(::planus::DefaultValue)
                }
            }

            impl<T0, T1> EntityRecordBuilder<(T0, T1)> {
                /// Setter for the [`position` field](EntityRecord#structfield.position).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn position<T2>(self, value: T2) -> EntityRecordBuilder<(T0, T1, T2)>
                where
                    T2: ::planus::WriteAsOptional<self::Vec3>,
                {
                    let (v0, v1) = self.0;
                    EntityRecordBuilder((v0, v1, value))
                }

                /// Sets the [`position` field](EntityRecord#structfield.position) to null.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn position_as_null(self) -> EntityRecordBuilder<(T0, T1, ())> {
                    self.position(())
                }
            }

            impl<T0, T1, T2> EntityRecordBuilder<(T0, T1, T2)> {
                /// Setter for the [`yaw` field](EntityRecord#structfield.yaw).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn yaw<T3>(self, value: T3) -> EntityRecordBuilder<(T0, T1, T2, T3)>
                where
                    T3: ::planus::WriteAsDefault<f32, f32>,
                {
                    let (v0, v1, v2) = self.0;
                    EntityRecordBuilder((v0, v1, v2, value))
                }

                /// Sets the [`yaw` field](EntityRecord#structfield.yaw) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn yaw_as_default(
                    self,
                ) -> EntityRecordBuilder<(T0, T1, T2, ::planus::DefaultValue)> {
                    self.yaw(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2, T3> EntityRecordBuilder<(T0, T1, T2, T3)> {
                /// Setter for the [`health` field](EntityRecord#structfield.health).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn health<T4>(self, value: T4) -> EntityRecordBuilder<(T0, T1, T2, T3, T4)>
                where
                    T4: ::planus::WriteAsDefault<u16, u16>,
                {
                    let (v0, v1, v2, v3) = self.0;
                    EntityRecordBuilder((v0, v1, v2, v3, value))
                }

                /// Sets the [`health` field](EntityRecord#structfield.health) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn health_as_default(
                    self,
                ) -> EntityRecordBuilder<(T0, T1, T2, T3, ::planus::DefaultValue)> {
                    self.health(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2, T3, T4> EntityRecordBuilder<(T0, T1, T2, T3, T4)> {
                /// Setter for the [`flags` field](EntityRecord#structfield.flags).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn flags<T5>(self, value: T5) -> EntityRecordBuilder<(T0, T1, T2, T3, T4, T5)>
                where
                    T5: ::planus::WriteAsDefault<u16, u16>,
                {
                    let (v0, v1, v2, v3, v4) = self.0;
                    EntityRecordBuilder((v0, v1, v2, v3, v4, value))
                }

                /// Sets the [`flags` field](EntityRecord#structfield.flags) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn flags_as_default(
                    self,
                ) -> EntityRecordBuilder<(T0, T1, T2, T3, T4, ::planus::DefaultValue)>
                {
                    self.flags(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2, T3, T4, T5> EntityRecordBuilder<(T0, T1, T2, T3, T4, T5)> {
                /// Finish writing the builder to get an [Offset](::planus::Offset) to a serialized [EntityRecord].
                #[inline]
                pub fn finish(
                    self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<EntityRecord>
                where
                    Self: ::planus::WriteAsOffset<EntityRecord>,
                {
                    ::planus::WriteAsOffset::prepare(&self, builder)
                }
            }

            impl<
                    T0: ::planus::WriteAsDefault<u32, u32>,
                    T1: ::planus::WriteAsDefault<u8, u8>,
                    T2: ::planus::WriteAsOptional<self::Vec3>,
                    T3: ::planus::WriteAsDefault<f32, f32>,
                    T4: ::planus::WriteAsDefault<u16, u16>,
                    T5: ::planus::WriteAsDefault<u16, u16>,
                > ::planus::WriteAs<::planus::Offset<EntityRecord>>
                for EntityRecordBuilder<(T0, T1, T2, T3, T4, T5)>
            {
                type Prepared = ::planus::Offset<EntityRecord>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<EntityRecord> {
                    ::planus::WriteAsOffset::prepare(self, builder)
                }
            }

            impl<
                    T0: ::planus::WriteAsDefault<u32, u32>,
                    T1: ::planus::WriteAsDefault<u8, u8>,
                    T2: ::planus::WriteAsOptional<self::Vec3>,
                    T3: ::planus::WriteAsDefault<f32, f32>,
                    T4: ::planus::WriteAsDefault<u16, u16>,
                    T5: ::planus::WriteAsDefault<u16, u16>,
                > ::planus::WriteAsOptional<::planus::Offset<EntityRecord>>
                for EntityRecordBuilder<(T0, T1, T2, T3, T4, T5)>
            {
                type Prepared = ::planus::Offset<EntityRecord>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<::planus::Offset<EntityRecord>> {
                    ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
                }
            }

            impl<
                    T0: ::planus::WriteAsDefault<u32, u32>,
                    T1: ::planus::WriteAsDefault<u8, u8>,
                    T2: ::planus::WriteAsOptional<self::Vec3>,
                    T3: ::planus::WriteAsDefault<f32, f32>,
                    T4: ::planus::WriteAsDefault<u16, u16>,
                    T5: ::planus::WriteAsDefault<u16, u16>,
                > ::planus::WriteAsOffset<EntityRecord>
                for EntityRecordBuilder<(T0, T1, T2, T3, T4, T5)>
            {
                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<EntityRecord> {
                    let (v0, v1, v2, v3, v4, v5) = &self.0;
                    EntityRecord::create(builder, v0, v1, v2, v3, v4, v5)
                }
            }

            /// Reference to a deserialized [EntityRecord].
            #[derive(Copy, Clone)]
            pub struct EntityRecordRef<'a>(#[allow(dead_code)] ::planus::table_reader::Table<'a>);

            impl<'a> EntityRecordRef<'a> {
                /// Getter for the [`entity_id` field](EntityRecord#structfield.entity_id).
                #[inline]
                pub fn entity_id(&self) -> ::planus::Result<u32> {
                    ::core::result::Result::Ok(
                        self.0.access(0, "EntityRecord", "entity_id")?.unwrap_or(0),
                    )
                }

                /// Getter for the [`kind` field](EntityRecord#structfield.kind).
                #[inline]
                pub fn kind(&self) -> ::planus::Result<u8> {
                    ::core::result::Result::Ok(
                        self.0.access(1, "EntityRecord", "kind")?.unwrap_or(0),
                    )
                }

                /// Getter for the [`position` field](EntityRecord#structfield.position).
                #[inline]
                pub fn position(
                    &self,
                ) -> ::planus::Result<::core::option::Option<self::Vec3Ref<'a>>> {
                    self.0.access(2, "EntityRecord", "position")
                }

                /// Getter for the [`yaw` field](EntityRecord#structfield.yaw).
                #[inline]
                pub fn yaw(&self) -> ::planus::Result<f32> {
                    ::core::result::Result::Ok(
                        self.0.access(3, "EntityRecord", "yaw")?.unwrap_or(0.0),
                    )
                }

                /// Getter for the [`health` field](EntityRecord#structfield.health).
                #[inline]
                pub fn health(&self) -> ::planus::Result<u16> {
                    ::core::result::Result::Ok(
                        self.0.access(4, "EntityRecord", "health")?.unwrap_or(0),
                    )
                }

                /// Getter for the [`flags` field](EntityRecord#structfield.flags).
                #[inline]
                pub fn flags(&self) -> ::planus::Result<u16> {
                    ::core::result::Result::Ok(
                        self.0.access(5, "EntityRecord", "flags")?.unwrap_or(0),
                    )
                }
            }

            impl<'a> ::core::fmt::Debug for EntityRecordRef<'a> {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    let mut f = f.debug_struct("EntityRecordRef");
                    f.field("entity_id", &self.entity_id());
                    f.field("kind", &self.kind());
                    if let ::core::option::Option::Some(field_position) =
                        self.position().transpose()
                    {
                        f.field("position", &field_position);
                    }
                    f.field("yaw", &self.yaw());
                    f.field("health", &self.health());
                    f.field("flags", &self.flags());
                    f.finish()
                }
            }

            impl<'a> ::core::convert::TryFrom<EntityRecordRef<'a>> for EntityRecord {
                type Error = ::planus::Error;

                #[allow(unreachable_code)]
                fn try_from(value: EntityRecordRef<'a>) -> ::planus::Result<Self> {
                    ::core::result::Result::Ok(Self {
                        entity_id: ::core::convert::TryInto::try_into(value.entity_id()?)?,
                        kind: ::core::convert::TryInto::try_into(value.kind()?)?,
                        position: value.position()?.map(::core::convert::Into::into),
                        yaw: ::core::convert::TryInto::try_into(value.yaw()?)?,
                        health: ::core::convert::TryInto::try_into(value.health()?)?,
                        flags: ::core::convert::TryInto::try_into(value.flags()?)?,
                    })
                }
            }

            impl<'a> ::planus::TableRead<'a> for EntityRecordRef<'a> {
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

            impl<'a> ::planus::VectorReadInner<'a> for EntityRecordRef<'a> {
                type Error = ::planus::Error;
                const STRIDE: usize = 4;

                unsafe fn from_buffer(
                    buffer: ::planus::SliceWithStartOffset<'a>,
                    offset: usize,
                ) -> ::planus::Result<Self> {
                    ::planus::TableRead::from_buffer(buffer, offset).map_err(|error_kind| {
                        error_kind.with_error_location(
                            "[EntityRecordRef]",
                            "get",
                            buffer.offset_from_start,
                        )
                    })
                }
            }

            /// # Safety
            /// The planus compiler generates implementations that initialize
            /// the bytes in `write_values`.
            unsafe impl ::planus::VectorWrite<::planus::Offset<EntityRecord>> for EntityRecord {
                type Value = ::planus::Offset<EntityRecord>;
                const STRIDE: usize = 4;
                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> Self::Value {
                    ::planus::WriteAs::prepare(self, builder)
                }

                #[inline]
                unsafe fn write_values(
                    values: &[::planus::Offset<EntityRecord>],
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

            impl<'a> ::planus::ReadAsRoot<'a> for EntityRecordRef<'a> {
                fn read_as_root(slice: &'a [u8]) -> ::planus::Result<Self> {
                    ::planus::TableRead::from_buffer(
                        ::planus::SliceWithStartOffset {
                            buffer: slice,
                            offset_from_start: 0,
                        },
                        0,
                    )
                    .map_err(|error_kind| {
                        error_kind.with_error_location("[EntityRecordRef]", "read_as_root", 0)
                    })
                }
            }

            ///  A zone's state every 30 s, written with the owner's fencing token.
            ///
            /// Generated from these locations:
            /// * Table `ZoneCheckpoint` in the file `fbs/control.fbs:49`
            #[derive(
                Clone, Debug, PartialEq, PartialOrd, ::serde::Serialize, ::serde::Deserialize,
            )]
            pub struct ZoneCheckpoint {
                /// The field `zone_id` in the table `ZoneCheckpoint`
                pub zone_id: u32,
                /// The field `layer` in the table `ZoneCheckpoint`
                pub layer: u16,
                /// The field `tick` in the table `ZoneCheckpoint`
                pub tick: u32,
                /// The field `assignment_revision` in the table `ZoneCheckpoint`
                pub assignment_revision: i64,
                /// The field `entities` in the table `ZoneCheckpoint`
                pub entities: ::core::option::Option<::planus::alloc::vec::Vec<self::EntityRecord>>,
            }

            #[allow(clippy::derivable_impls)]
            impl ::core::default::Default for ZoneCheckpoint {
                fn default() -> Self {
                    Self {
                        zone_id: 0,
                        layer: 0,
                        tick: 0,
                        assignment_revision: 0,
                        entities: ::core::default::Default::default(),
                    }
                }
            }

            impl ZoneCheckpoint {
                /// Creates a [ZoneCheckpointBuilder] for serializing an instance of this table.
                #[inline]
                pub fn builder() -> ZoneCheckpointBuilder<()> {
                    ZoneCheckpointBuilder(())
                }

                #[allow(clippy::too_many_arguments)]
                pub fn create(
                    builder: &mut ::planus::Builder,
                    field_zone_id: impl ::planus::WriteAsDefault<u32, u32>,
                    field_layer: impl ::planus::WriteAsDefault<u16, u16>,
                    field_tick: impl ::planus::WriteAsDefault<u32, u32>,
                    field_assignment_revision: impl ::planus::WriteAsDefault<i64, i64>,
                    field_entities: impl ::planus::WriteAsOptional<
                        ::planus::Offset<[::planus::Offset<self::EntityRecord>]>,
                    >,
                ) -> ::planus::Offset<Self> {
                    let prepared_zone_id = field_zone_id.prepare(builder, &0);
                    let prepared_layer = field_layer.prepare(builder, &0);
                    let prepared_tick = field_tick.prepare(builder, &0);
                    let prepared_assignment_revision =
                        field_assignment_revision.prepare(builder, &0);
                    let prepared_entities = field_entities.prepare(builder);

                    let mut table_writer: ::planus::table_writer::TableWriter<14> =
                        ::core::default::Default::default();
                    if prepared_assignment_revision.is_some() {
                        table_writer.write_entry::<i64>(3);
                    }
                    if prepared_zone_id.is_some() {
                        table_writer.write_entry::<u32>(0);
                    }
                    if prepared_tick.is_some() {
                        table_writer.write_entry::<u32>(2);
                    }
                    if prepared_entities.is_some() {
                        table_writer.write_entry::<::planus::Offset<[::planus::Offset<self::EntityRecord>]>>(4);
                    }
                    if prepared_layer.is_some() {
                        table_writer.write_entry::<u16>(1);
                    }

                    unsafe {
                        table_writer.finish(builder, |object_writer| {
                            if let ::core::option::Option::Some(prepared_assignment_revision) =
                                prepared_assignment_revision
                            {
                                object_writer.write::<_, _, 8>(&prepared_assignment_revision);
                            }
                            if let ::core::option::Option::Some(prepared_zone_id) = prepared_zone_id
                            {
                                object_writer.write::<_, _, 4>(&prepared_zone_id);
                            }
                            if let ::core::option::Option::Some(prepared_tick) = prepared_tick {
                                object_writer.write::<_, _, 4>(&prepared_tick);
                            }
                            if let ::core::option::Option::Some(prepared_entities) =
                                prepared_entities
                            {
                                object_writer.write::<_, _, 4>(&prepared_entities);
                            }
                            if let ::core::option::Option::Some(prepared_layer) = prepared_layer {
                                object_writer.write::<_, _, 2>(&prepared_layer);
                            }
                        });
                    }
                    builder.current_offset()
                }
            }

            impl ::planus::WriteAs<::planus::Offset<ZoneCheckpoint>> for ZoneCheckpoint {
                type Prepared = ::planus::Offset<Self>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<ZoneCheckpoint> {
                    ::planus::WriteAsOffset::prepare(self, builder)
                }
            }

            impl ::planus::WriteAsOptional<::planus::Offset<ZoneCheckpoint>> for ZoneCheckpoint {
                type Prepared = ::planus::Offset<Self>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<::planus::Offset<ZoneCheckpoint>> {
                    ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
                }
            }

            impl ::planus::WriteAsOffset<ZoneCheckpoint> for ZoneCheckpoint {
                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<ZoneCheckpoint> {
                    ZoneCheckpoint::create(
                        builder,
                        self.zone_id,
                        self.layer,
                        self.tick,
                        self.assignment_revision,
                        &self.entities,
                    )
                }
            }

            /// Builder for serializing an instance of the [ZoneCheckpoint] type.
            ///
            /// Can be created using the [ZoneCheckpoint::builder] method.
            #[derive(Debug)]
            #[must_use]
            pub struct ZoneCheckpointBuilder<State>(State);

            impl ZoneCheckpointBuilder<()> {
                /// Setter for the [`zone_id` field](ZoneCheckpoint#structfield.zone_id).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn zone_id<T0>(self, value: T0) -> ZoneCheckpointBuilder<(T0,)>
                where
                    T0: ::planus::WriteAsDefault<u32, u32>,
                {
                    ZoneCheckpointBuilder((value,))
                }

                /// Sets the [`zone_id` field](ZoneCheckpoint#structfield.zone_id) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn zone_id_as_default(
                    self,
                ) -> ZoneCheckpointBuilder<(::planus::DefaultValue,)> {
                    self.zone_id(::planus::DefaultValue)
                }
            }

            impl<T0> ZoneCheckpointBuilder<(T0,)> {
                /// Setter for the [`layer` field](ZoneCheckpoint#structfield.layer).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn layer<T1>(self, value: T1) -> ZoneCheckpointBuilder<(T0, T1)>
                where
                    T1: ::planus::WriteAsDefault<u16, u16>,
                {
                    let (v0,) = self.0;
                    ZoneCheckpointBuilder((v0, value))
                }

                /// Sets the [`layer` field](ZoneCheckpoint#structfield.layer) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn layer_as_default(
                    self,
                ) -> ZoneCheckpointBuilder<(T0, ::planus::DefaultValue)> {
                    self.layer(::planus::DefaultValue)
                }
            }

            impl<T0, T1> ZoneCheckpointBuilder<(T0, T1)> {
                /// Setter for the [`tick` field](ZoneCheckpoint#structfield.tick).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn tick<T2>(self, value: T2) -> ZoneCheckpointBuilder<(T0, T1, T2)>
                where
                    T2: ::planus::WriteAsDefault<u32, u32>,
                {
                    let (v0, v1) = self.0;
                    ZoneCheckpointBuilder((v0, v1, value))
                }

                /// Sets the [`tick` field](ZoneCheckpoint#structfield.tick) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn tick_as_default(
                    self,
                ) -> ZoneCheckpointBuilder<(T0, T1, ::planus::DefaultValue)> {
                    self.tick(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2> ZoneCheckpointBuilder<(T0, T1, T2)> {
                /// Setter for the [`assignment_revision` field](ZoneCheckpoint#structfield.assignment_revision).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn assignment_revision<T3>(
                    self,
                    value: T3,
                ) -> ZoneCheckpointBuilder<(T0, T1, T2, T3)>
                where
                    T3: ::planus::WriteAsDefault<i64, i64>,
                {
                    let (v0, v1, v2) = self.0;
                    ZoneCheckpointBuilder((v0, v1, v2, value))
                }

                /// Sets the [`assignment_revision` field](ZoneCheckpoint#structfield.assignment_revision) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn assignment_revision_as_default(
                    self,
                ) -> ZoneCheckpointBuilder<(T0, T1, T2, ::planus::DefaultValue)> {
                    self.assignment_revision(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2, T3> ZoneCheckpointBuilder<(T0, T1, T2, T3)> {
                /// Setter for the [`entities` field](ZoneCheckpoint#structfield.entities).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn entities<T4>(self, value: T4) -> ZoneCheckpointBuilder<(T0, T1, T2, T3, T4)>
                where
                    T4: ::planus::WriteAsOptional<
                        ::planus::Offset<[::planus::Offset<self::EntityRecord>]>,
                    >,
                {
                    let (v0, v1, v2, v3) = self.0;
                    ZoneCheckpointBuilder((v0, v1, v2, v3, value))
                }

                /// Sets the [`entities` field](ZoneCheckpoint#structfield.entities) to null.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn entities_as_null(self) -> ZoneCheckpointBuilder<(T0, T1, T2, T3, ())> {
                    self.entities(())
                }
            }

            impl<T0, T1, T2, T3, T4> ZoneCheckpointBuilder<(T0, T1, T2, T3, T4)> {
                /// Finish writing the builder to get an [Offset](::planus::Offset) to a serialized [ZoneCheckpoint].
                #[inline]
                pub fn finish(
                    self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<ZoneCheckpoint>
                where
                    Self: ::planus::WriteAsOffset<ZoneCheckpoint>,
                {
                    ::planus::WriteAsOffset::prepare(&self, builder)
                }
            }

            impl<
                    T0: ::planus::WriteAsDefault<u32, u32>,
                    T1: ::planus::WriteAsDefault<u16, u16>,
                    T2: ::planus::WriteAsDefault<u32, u32>,
                    T3: ::planus::WriteAsDefault<i64, i64>,
                    T4: ::planus::WriteAsOptional<
                        ::planus::Offset<[::planus::Offset<self::EntityRecord>]>,
                    >,
                > ::planus::WriteAs<::planus::Offset<ZoneCheckpoint>>
                for ZoneCheckpointBuilder<(T0, T1, T2, T3, T4)>
            {
                type Prepared = ::planus::Offset<ZoneCheckpoint>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<ZoneCheckpoint> {
                    ::planus::WriteAsOffset::prepare(self, builder)
                }
            }

            impl<
                    T0: ::planus::WriteAsDefault<u32, u32>,
                    T1: ::planus::WriteAsDefault<u16, u16>,
                    T2: ::planus::WriteAsDefault<u32, u32>,
                    T3: ::planus::WriteAsDefault<i64, i64>,
                    T4: ::planus::WriteAsOptional<
                        ::planus::Offset<[::planus::Offset<self::EntityRecord>]>,
                    >,
                > ::planus::WriteAsOptional<::planus::Offset<ZoneCheckpoint>>
                for ZoneCheckpointBuilder<(T0, T1, T2, T3, T4)>
            {
                type Prepared = ::planus::Offset<ZoneCheckpoint>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<::planus::Offset<ZoneCheckpoint>> {
                    ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
                }
            }

            impl<
                    T0: ::planus::WriteAsDefault<u32, u32>,
                    T1: ::planus::WriteAsDefault<u16, u16>,
                    T2: ::planus::WriteAsDefault<u32, u32>,
                    T3: ::planus::WriteAsDefault<i64, i64>,
                    T4: ::planus::WriteAsOptional<
                        ::planus::Offset<[::planus::Offset<self::EntityRecord>]>,
                    >,
                > ::planus::WriteAsOffset<ZoneCheckpoint>
                for ZoneCheckpointBuilder<(T0, T1, T2, T3, T4)>
            {
                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<ZoneCheckpoint> {
                    let (v0, v1, v2, v3, v4) = &self.0;
                    ZoneCheckpoint::create(builder, v0, v1, v2, v3, v4)
                }
            }

            /// Reference to a deserialized [ZoneCheckpoint].
            #[derive(Copy, Clone)]
            pub struct ZoneCheckpointRef<'a>(#[allow(dead_code)] ::planus::table_reader::Table<'a>);

            impl<'a> ZoneCheckpointRef<'a> {
                /// Getter for the [`zone_id` field](ZoneCheckpoint#structfield.zone_id).
                #[inline]
                pub fn zone_id(&self) -> ::planus::Result<u32> {
                    ::core::result::Result::Ok(
                        self.0.access(0, "ZoneCheckpoint", "zone_id")?.unwrap_or(0),
                    )
                }

                /// Getter for the [`layer` field](ZoneCheckpoint#structfield.layer).
                #[inline]
                pub fn layer(&self) -> ::planus::Result<u16> {
                    ::core::result::Result::Ok(
                        self.0.access(1, "ZoneCheckpoint", "layer")?.unwrap_or(0),
                    )
                }

                /// Getter for the [`tick` field](ZoneCheckpoint#structfield.tick).
                #[inline]
                pub fn tick(&self) -> ::planus::Result<u32> {
                    ::core::result::Result::Ok(
                        self.0.access(2, "ZoneCheckpoint", "tick")?.unwrap_or(0),
                    )
                }

                /// Getter for the [`assignment_revision` field](ZoneCheckpoint#structfield.assignment_revision).
                #[inline]
                pub fn assignment_revision(&self) -> ::planus::Result<i64> {
                    ::core::result::Result::Ok(
                        self.0
                            .access(3, "ZoneCheckpoint", "assignment_revision")?
                            .unwrap_or(0),
                    )
                }

                /// Getter for the [`entities` field](ZoneCheckpoint#structfield.entities).
                #[inline]
                pub fn entities(
                    &self,
                ) -> ::planus::Result<
                    ::core::option::Option<
                        ::planus::Vector<'a, ::planus::Result<self::EntityRecordRef<'a>>>,
                    >,
                > {
                    self.0.access(4, "ZoneCheckpoint", "entities")
                }
            }

            impl<'a> ::core::fmt::Debug for ZoneCheckpointRef<'a> {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    let mut f = f.debug_struct("ZoneCheckpointRef");
                    f.field("zone_id", &self.zone_id());
                    f.field("layer", &self.layer());
                    f.field("tick", &self.tick());
                    f.field("assignment_revision", &self.assignment_revision());
                    if let ::core::option::Option::Some(field_entities) =
                        self.entities().transpose()
                    {
                        f.field("entities", &field_entities);
                    }
                    f.finish()
                }
            }

            impl<'a> ::core::convert::TryFrom<ZoneCheckpointRef<'a>> for ZoneCheckpoint {
                type Error = ::planus::Error;

                #[allow(unreachable_code)]
                fn try_from(value: ZoneCheckpointRef<'a>) -> ::planus::Result<Self> {
                    ::core::result::Result::Ok(Self {
                        zone_id: ::core::convert::TryInto::try_into(value.zone_id()?)?,
                        layer: ::core::convert::TryInto::try_into(value.layer()?)?,
                        tick: ::core::convert::TryInto::try_into(value.tick()?)?,
                        assignment_revision: ::core::convert::TryInto::try_into(
                            value.assignment_revision()?,
                        )?,
                        entities: if let ::core::option::Option::Some(entities) =
                            value.entities()?
                        {
                            ::core::option::Option::Some(entities.to_vec_result()?)
                        } else {
                            ::core::option::Option::None
                        },
                    })
                }
            }

            impl<'a> ::planus::TableRead<'a> for ZoneCheckpointRef<'a> {
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

            impl<'a> ::planus::VectorReadInner<'a> for ZoneCheckpointRef<'a> {
                type Error = ::planus::Error;
                const STRIDE: usize = 4;

                unsafe fn from_buffer(
                    buffer: ::planus::SliceWithStartOffset<'a>,
                    offset: usize,
                ) -> ::planus::Result<Self> {
                    ::planus::TableRead::from_buffer(buffer, offset).map_err(|error_kind| {
                        error_kind.with_error_location(
                            "[ZoneCheckpointRef]",
                            "get",
                            buffer.offset_from_start,
                        )
                    })
                }
            }

            /// # Safety
            /// The planus compiler generates implementations that initialize
            /// the bytes in `write_values`.
            unsafe impl ::planus::VectorWrite<::planus::Offset<ZoneCheckpoint>> for ZoneCheckpoint {
                type Value = ::planus::Offset<ZoneCheckpoint>;
                const STRIDE: usize = 4;
                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> Self::Value {
                    ::planus::WriteAs::prepare(self, builder)
                }

                #[inline]
                unsafe fn write_values(
                    values: &[::planus::Offset<ZoneCheckpoint>],
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

            impl<'a> ::planus::ReadAsRoot<'a> for ZoneCheckpointRef<'a> {
                fn read_as_root(slice: &'a [u8]) -> ::planus::Result<Self> {
                    ::planus::TableRead::from_buffer(
                        ::planus::SliceWithStartOffset {
                            buffer: slice,
                            offset_from_start: 0,
                        },
                        0,
                    )
                    .map_err(|error_kind| {
                        error_kind.with_error_location("[ZoneCheckpointRef]", "read_as_root", 0)
                    })
                }
            }

            ///  A node's liveness and load, published with its etcd lease.
            ///
            /// Generated from these locations:
            /// * Table `NodeHeartbeat` in the file `fbs/control.fbs:58`
            #[derive(
                Clone,
                Debug,
                PartialEq,
                PartialOrd,
                Eq,
                Ord,
                Hash,
                ::serde::Serialize,
                ::serde::Deserialize,
            )]
            pub struct NodeHeartbeat {
                /// The field `node_id` in the table `NodeHeartbeat`
                pub node_id: ::core::option::Option<::planus::alloc::string::String>,
                /// The field `sent_at_unix_ms` in the table `NodeHeartbeat`
                pub sent_at_unix_ms: u64,
                /// The field `workers` in the table `NodeHeartbeat`
                pub workers: u16,
                /// The field `zones_owned` in the table `NodeHeartbeat`
                pub zones_owned: ::core::option::Option<::planus::alloc::vec::Vec<u32>>,
                /// The field `sessions` in the table `NodeHeartbeat`
                pub sessions: u32,
                /// The field `tick_p99_us` in the table `NodeHeartbeat`
                pub tick_p99_us: u32,
                /// The field `datagrams_dropped` in the table `NodeHeartbeat`
                pub datagrams_dropped: u64,
            }

            #[allow(clippy::derivable_impls)]
            impl ::core::default::Default for NodeHeartbeat {
                fn default() -> Self {
                    Self {
                        node_id: ::core::default::Default::default(),
                        sent_at_unix_ms: 0,
                        workers: 0,
                        zones_owned: ::core::default::Default::default(),
                        sessions: 0,
                        tick_p99_us: 0,
                        datagrams_dropped: 0,
                    }
                }
            }

            impl NodeHeartbeat {
                /// Creates a [NodeHeartbeatBuilder] for serializing an instance of this table.
                #[inline]
                pub fn builder() -> NodeHeartbeatBuilder<()> {
                    NodeHeartbeatBuilder(())
                }

                #[allow(clippy::too_many_arguments)]
                pub fn create(
                    builder: &mut ::planus::Builder,
                    field_node_id: impl ::planus::WriteAsOptional<
                        ::planus::Offset<::core::primitive::str>,
                    >,
                    field_sent_at_unix_ms: impl ::planus::WriteAsDefault<u64, u64>,
                    field_workers: impl ::planus::WriteAsDefault<u16, u16>,
                    field_zones_owned: impl ::planus::WriteAsOptional<::planus::Offset<[u32]>>,
                    field_sessions: impl ::planus::WriteAsDefault<u32, u32>,
                    field_tick_p99_us: impl ::planus::WriteAsDefault<u32, u32>,
                    field_datagrams_dropped: impl ::planus::WriteAsDefault<u64, u64>,
                ) -> ::planus::Offset<Self> {
                    let prepared_node_id = field_node_id.prepare(builder);
                    let prepared_sent_at_unix_ms = field_sent_at_unix_ms.prepare(builder, &0);
                    let prepared_workers = field_workers.prepare(builder, &0);
                    let prepared_zones_owned = field_zones_owned.prepare(builder);
                    let prepared_sessions = field_sessions.prepare(builder, &0);
                    let prepared_tick_p99_us = field_tick_p99_us.prepare(builder, &0);
                    let prepared_datagrams_dropped = field_datagrams_dropped.prepare(builder, &0);

                    let mut table_writer: ::planus::table_writer::TableWriter<18> =
                        ::core::default::Default::default();
                    if prepared_sent_at_unix_ms.is_some() {
                        table_writer.write_entry::<u64>(1);
                    }
                    if prepared_datagrams_dropped.is_some() {
                        table_writer.write_entry::<u64>(6);
                    }
                    if prepared_node_id.is_some() {
                        table_writer.write_entry::<::planus::Offset<str>>(0);
                    }
                    if prepared_zones_owned.is_some() {
                        table_writer.write_entry::<::planus::Offset<[u32]>>(3);
                    }
                    if prepared_sessions.is_some() {
                        table_writer.write_entry::<u32>(4);
                    }
                    if prepared_tick_p99_us.is_some() {
                        table_writer.write_entry::<u32>(5);
                    }
                    if prepared_workers.is_some() {
                        table_writer.write_entry::<u16>(2);
                    }

                    unsafe {
                        table_writer.finish(builder, |object_writer| {
                            if let ::core::option::Option::Some(prepared_sent_at_unix_ms) =
                                prepared_sent_at_unix_ms
                            {
                                object_writer.write::<_, _, 8>(&prepared_sent_at_unix_ms);
                            }
                            if let ::core::option::Option::Some(prepared_datagrams_dropped) =
                                prepared_datagrams_dropped
                            {
                                object_writer.write::<_, _, 8>(&prepared_datagrams_dropped);
                            }
                            if let ::core::option::Option::Some(prepared_node_id) = prepared_node_id
                            {
                                object_writer.write::<_, _, 4>(&prepared_node_id);
                            }
                            if let ::core::option::Option::Some(prepared_zones_owned) =
                                prepared_zones_owned
                            {
                                object_writer.write::<_, _, 4>(&prepared_zones_owned);
                            }
                            if let ::core::option::Option::Some(prepared_sessions) =
                                prepared_sessions
                            {
                                object_writer.write::<_, _, 4>(&prepared_sessions);
                            }
                            if let ::core::option::Option::Some(prepared_tick_p99_us) =
                                prepared_tick_p99_us
                            {
                                object_writer.write::<_, _, 4>(&prepared_tick_p99_us);
                            }
                            if let ::core::option::Option::Some(prepared_workers) = prepared_workers
                            {
                                object_writer.write::<_, _, 2>(&prepared_workers);
                            }
                        });
                    }
                    builder.current_offset()
                }
            }

            impl ::planus::WriteAs<::planus::Offset<NodeHeartbeat>> for NodeHeartbeat {
                type Prepared = ::planus::Offset<Self>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<NodeHeartbeat> {
                    ::planus::WriteAsOffset::prepare(self, builder)
                }
            }

            impl ::planus::WriteAsOptional<::planus::Offset<NodeHeartbeat>> for NodeHeartbeat {
                type Prepared = ::planus::Offset<Self>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<::planus::Offset<NodeHeartbeat>> {
                    ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
                }
            }

            impl ::planus::WriteAsOffset<NodeHeartbeat> for NodeHeartbeat {
                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<NodeHeartbeat> {
                    NodeHeartbeat::create(
                        builder,
                        &self.node_id,
                        self.sent_at_unix_ms,
                        self.workers,
                        &self.zones_owned,
                        self.sessions,
                        self.tick_p99_us,
                        self.datagrams_dropped,
                    )
                }
            }

            /// Builder for serializing an instance of the [NodeHeartbeat] type.
            ///
            /// Can be created using the [NodeHeartbeat::builder] method.
            #[derive(Debug)]
            #[must_use]
            pub struct NodeHeartbeatBuilder<State>(State);

            impl NodeHeartbeatBuilder<()> {
                /// Setter for the [`node_id` field](NodeHeartbeat#structfield.node_id).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn node_id<T0>(self, value: T0) -> NodeHeartbeatBuilder<(T0,)>
                where
                    T0: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                {
                    NodeHeartbeatBuilder((value,))
                }

                /// Sets the [`node_id` field](NodeHeartbeat#structfield.node_id) to null.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn node_id_as_null(self) -> NodeHeartbeatBuilder<((),)> {
                    self.node_id(())
                }
            }

            impl<T0> NodeHeartbeatBuilder<(T0,)> {
                /// Setter for the [`sent_at_unix_ms` field](NodeHeartbeat#structfield.sent_at_unix_ms).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn sent_at_unix_ms<T1>(self, value: T1) -> NodeHeartbeatBuilder<(T0, T1)>
                where
                    T1: ::planus::WriteAsDefault<u64, u64>,
                {
                    let (v0,) = self.0;
                    NodeHeartbeatBuilder((v0, value))
                }

                /// Sets the [`sent_at_unix_ms` field](NodeHeartbeat#structfield.sent_at_unix_ms) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn sent_at_unix_ms_as_default(
                    self,
                ) -> NodeHeartbeatBuilder<(T0, ::planus::DefaultValue)> {
                    self.sent_at_unix_ms(::planus::DefaultValue)
                }
            }

            impl<T0, T1> NodeHeartbeatBuilder<(T0, T1)> {
                /// Setter for the [`workers` field](NodeHeartbeat#structfield.workers).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn workers<T2>(self, value: T2) -> NodeHeartbeatBuilder<(T0, T1, T2)>
                where
                    T2: ::planus::WriteAsDefault<u16, u16>,
                {
                    let (v0, v1) = self.0;
                    NodeHeartbeatBuilder((v0, v1, value))
                }

                /// Sets the [`workers` field](NodeHeartbeat#structfield.workers) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn workers_as_default(
                    self,
                ) -> NodeHeartbeatBuilder<(T0, T1, ::planus::DefaultValue)> {
                    self.workers(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2> NodeHeartbeatBuilder<(T0, T1, T2)> {
                /// Setter for the [`zones_owned` field](NodeHeartbeat#structfield.zones_owned).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn zones_owned<T3>(self, value: T3) -> NodeHeartbeatBuilder<(T0, T1, T2, T3)>
                where
                    T3: ::planus::WriteAsOptional<::planus::Offset<[u32]>>,
                {
                    let (v0, v1, v2) = self.0;
                    NodeHeartbeatBuilder((v0, v1, v2, value))
                }

                /// Sets the [`zones_owned` field](NodeHeartbeat#structfield.zones_owned) to null.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn zones_owned_as_null(self) -> NodeHeartbeatBuilder<(T0, T1, T2, ())> {
                    self.zones_owned(())
                }
            }

            impl<T0, T1, T2, T3> NodeHeartbeatBuilder<(T0, T1, T2, T3)> {
                /// Setter for the [`sessions` field](NodeHeartbeat#structfield.sessions).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn sessions<T4>(self, value: T4) -> NodeHeartbeatBuilder<(T0, T1, T2, T3, T4)>
                where
                    T4: ::planus::WriteAsDefault<u32, u32>,
                {
                    let (v0, v1, v2, v3) = self.0;
                    NodeHeartbeatBuilder((v0, v1, v2, v3, value))
                }

                /// Sets the [`sessions` field](NodeHeartbeat#structfield.sessions) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn sessions_as_default(
                    self,
                ) -> NodeHeartbeatBuilder<(T0, T1, T2, T3, ::planus::DefaultValue)>
                {
                    self.sessions(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2, T3, T4> NodeHeartbeatBuilder<(T0, T1, T2, T3, T4)> {
                /// Setter for the [`tick_p99_us` field](NodeHeartbeat#structfield.tick_p99_us).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn tick_p99_us<T5>(
                    self,
                    value: T5,
                ) -> NodeHeartbeatBuilder<(T0, T1, T2, T3, T4, T5)>
                where
                    T5: ::planus::WriteAsDefault<u32, u32>,
                {
                    let (v0, v1, v2, v3, v4) = self.0;
                    NodeHeartbeatBuilder((v0, v1, v2, v3, v4, value))
                }

                /// Sets the [`tick_p99_us` field](NodeHeartbeat#structfield.tick_p99_us) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn tick_p99_us_as_default(
                    self,
                ) -> NodeHeartbeatBuilder<(T0, T1, T2, T3, T4, ::planus::DefaultValue)>
                {
                    self.tick_p99_us(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2, T3, T4, T5> NodeHeartbeatBuilder<(T0, T1, T2, T3, T4, T5)> {
                /// Setter for the [`datagrams_dropped` field](NodeHeartbeat#structfield.datagrams_dropped).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn datagrams_dropped<T6>(
                    self,
                    value: T6,
                ) -> NodeHeartbeatBuilder<(T0, T1, T2, T3, T4, T5, T6)>
                where
                    T6: ::planus::WriteAsDefault<u64, u64>,
                {
                    let (v0, v1, v2, v3, v4, v5) = self.0;
                    NodeHeartbeatBuilder((v0, v1, v2, v3, v4, v5, value))
                }

                /// Sets the [`datagrams_dropped` field](NodeHeartbeat#structfield.datagrams_dropped) to the default value.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn datagrams_dropped_as_default(
                    self,
                ) -> NodeHeartbeatBuilder<(T0, T1, T2, T3, T4, T5, ::planus::DefaultValue)>
                {
                    self.datagrams_dropped(::planus::DefaultValue)
                }
            }

            impl<T0, T1, T2, T3, T4, T5, T6> NodeHeartbeatBuilder<(T0, T1, T2, T3, T4, T5, T6)> {
                /// Finish writing the builder to get an [Offset](::planus::Offset) to a serialized [NodeHeartbeat].
                #[inline]
                pub fn finish(
                    self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<NodeHeartbeat>
                where
                    Self: ::planus::WriteAsOffset<NodeHeartbeat>,
                {
                    ::planus::WriteAsOffset::prepare(&self, builder)
                }
            }

            impl<
                    T0: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                    T1: ::planus::WriteAsDefault<u64, u64>,
                    T2: ::planus::WriteAsDefault<u16, u16>,
                    T3: ::planus::WriteAsOptional<::planus::Offset<[u32]>>,
                    T4: ::planus::WriteAsDefault<u32, u32>,
                    T5: ::planus::WriteAsDefault<u32, u32>,
                    T6: ::planus::WriteAsDefault<u64, u64>,
                > ::planus::WriteAs<::planus::Offset<NodeHeartbeat>>
                for NodeHeartbeatBuilder<(T0, T1, T2, T3, T4, T5, T6)>
            {
                type Prepared = ::planus::Offset<NodeHeartbeat>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<NodeHeartbeat> {
                    ::planus::WriteAsOffset::prepare(self, builder)
                }
            }

            impl<
                    T0: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                    T1: ::planus::WriteAsDefault<u64, u64>,
                    T2: ::planus::WriteAsDefault<u16, u16>,
                    T3: ::planus::WriteAsOptional<::planus::Offset<[u32]>>,
                    T4: ::planus::WriteAsDefault<u32, u32>,
                    T5: ::planus::WriteAsDefault<u32, u32>,
                    T6: ::planus::WriteAsDefault<u64, u64>,
                > ::planus::WriteAsOptional<::planus::Offset<NodeHeartbeat>>
                for NodeHeartbeatBuilder<(T0, T1, T2, T3, T4, T5, T6)>
            {
                type Prepared = ::planus::Offset<NodeHeartbeat>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<::planus::Offset<NodeHeartbeat>> {
                    ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
                }
            }

            impl<
                    T0: ::planus::WriteAsOptional<::planus::Offset<::core::primitive::str>>,
                    T1: ::planus::WriteAsDefault<u64, u64>,
                    T2: ::planus::WriteAsDefault<u16, u16>,
                    T3: ::planus::WriteAsOptional<::planus::Offset<[u32]>>,
                    T4: ::planus::WriteAsDefault<u32, u32>,
                    T5: ::planus::WriteAsDefault<u32, u32>,
                    T6: ::planus::WriteAsDefault<u64, u64>,
                > ::planus::WriteAsOffset<NodeHeartbeat>
                for NodeHeartbeatBuilder<(T0, T1, T2, T3, T4, T5, T6)>
            {
                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<NodeHeartbeat> {
                    let (v0, v1, v2, v3, v4, v5, v6) = &self.0;
                    NodeHeartbeat::create(builder, v0, v1, v2, v3, v4, v5, v6)
                }
            }

            /// Reference to a deserialized [NodeHeartbeat].
            #[derive(Copy, Clone)]
            pub struct NodeHeartbeatRef<'a>(#[allow(dead_code)] ::planus::table_reader::Table<'a>);

            impl<'a> NodeHeartbeatRef<'a> {
                /// Getter for the [`node_id` field](NodeHeartbeat#structfield.node_id).
                #[inline]
                pub fn node_id(
                    &self,
                ) -> ::planus::Result<::core::option::Option<&'a ::core::primitive::str>>
                {
                    self.0.access(0, "NodeHeartbeat", "node_id")
                }

                /// Getter for the [`sent_at_unix_ms` field](NodeHeartbeat#structfield.sent_at_unix_ms).
                #[inline]
                pub fn sent_at_unix_ms(&self) -> ::planus::Result<u64> {
                    ::core::result::Result::Ok(
                        self.0
                            .access(1, "NodeHeartbeat", "sent_at_unix_ms")?
                            .unwrap_or(0),
                    )
                }

                /// Getter for the [`workers` field](NodeHeartbeat#structfield.workers).
                #[inline]
                pub fn workers(&self) -> ::planus::Result<u16> {
                    ::core::result::Result::Ok(
                        self.0.access(2, "NodeHeartbeat", "workers")?.unwrap_or(0),
                    )
                }

                /// Getter for the [`zones_owned` field](NodeHeartbeat#structfield.zones_owned).
                #[inline]
                pub fn zones_owned(
                    &self,
                ) -> ::planus::Result<::core::option::Option<::planus::Vector<'a, u32>>>
                {
                    self.0.access(3, "NodeHeartbeat", "zones_owned")
                }

                /// Getter for the [`sessions` field](NodeHeartbeat#structfield.sessions).
                #[inline]
                pub fn sessions(&self) -> ::planus::Result<u32> {
                    ::core::result::Result::Ok(
                        self.0.access(4, "NodeHeartbeat", "sessions")?.unwrap_or(0),
                    )
                }

                /// Getter for the [`tick_p99_us` field](NodeHeartbeat#structfield.tick_p99_us).
                #[inline]
                pub fn tick_p99_us(&self) -> ::planus::Result<u32> {
                    ::core::result::Result::Ok(
                        self.0
                            .access(5, "NodeHeartbeat", "tick_p99_us")?
                            .unwrap_or(0),
                    )
                }

                /// Getter for the [`datagrams_dropped` field](NodeHeartbeat#structfield.datagrams_dropped).
                #[inline]
                pub fn datagrams_dropped(&self) -> ::planus::Result<u64> {
                    ::core::result::Result::Ok(
                        self.0
                            .access(6, "NodeHeartbeat", "datagrams_dropped")?
                            .unwrap_or(0),
                    )
                }
            }

            impl<'a> ::core::fmt::Debug for NodeHeartbeatRef<'a> {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    let mut f = f.debug_struct("NodeHeartbeatRef");
                    if let ::core::option::Option::Some(field_node_id) = self.node_id().transpose()
                    {
                        f.field("node_id", &field_node_id);
                    }
                    f.field("sent_at_unix_ms", &self.sent_at_unix_ms());
                    f.field("workers", &self.workers());
                    if let ::core::option::Option::Some(field_zones_owned) =
                        self.zones_owned().transpose()
                    {
                        f.field("zones_owned", &field_zones_owned);
                    }
                    f.field("sessions", &self.sessions());
                    f.field("tick_p99_us", &self.tick_p99_us());
                    f.field("datagrams_dropped", &self.datagrams_dropped());
                    f.finish()
                }
            }

            impl<'a> ::core::convert::TryFrom<NodeHeartbeatRef<'a>> for NodeHeartbeat {
                type Error = ::planus::Error;

                #[allow(unreachable_code)]
                fn try_from(value: NodeHeartbeatRef<'a>) -> ::planus::Result<Self> {
                    ::core::result::Result::Ok(Self {
                        node_id: value.node_id()?.map(::core::convert::Into::into),
                        sent_at_unix_ms: ::core::convert::TryInto::try_into(
                            value.sent_at_unix_ms()?,
                        )?,
                        workers: ::core::convert::TryInto::try_into(value.workers()?)?,
                        zones_owned: if let ::core::option::Option::Some(zones_owned) =
                            value.zones_owned()?
                        {
                            ::core::option::Option::Some(zones_owned.to_vec()?)
                        } else {
                            ::core::option::Option::None
                        },
                        sessions: ::core::convert::TryInto::try_into(value.sessions()?)?,
                        tick_p99_us: ::core::convert::TryInto::try_into(value.tick_p99_us()?)?,
                        datagrams_dropped: ::core::convert::TryInto::try_into(
                            value.datagrams_dropped()?,
                        )?,
                    })
                }
            }

            impl<'a> ::planus::TableRead<'a> for NodeHeartbeatRef<'a> {
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

            impl<'a> ::planus::VectorReadInner<'a> for NodeHeartbeatRef<'a> {
                type Error = ::planus::Error;
                const STRIDE: usize = 4;

                unsafe fn from_buffer(
                    buffer: ::planus::SliceWithStartOffset<'a>,
                    offset: usize,
                ) -> ::planus::Result<Self> {
                    ::planus::TableRead::from_buffer(buffer, offset).map_err(|error_kind| {
                        error_kind.with_error_location(
                            "[NodeHeartbeatRef]",
                            "get",
                            buffer.offset_from_start,
                        )
                    })
                }
            }

            /// # Safety
            /// The planus compiler generates implementations that initialize
            /// the bytes in `write_values`.
            unsafe impl ::planus::VectorWrite<::planus::Offset<NodeHeartbeat>> for NodeHeartbeat {
                type Value = ::planus::Offset<NodeHeartbeat>;
                const STRIDE: usize = 4;
                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> Self::Value {
                    ::planus::WriteAs::prepare(self, builder)
                }

                #[inline]
                unsafe fn write_values(
                    values: &[::planus::Offset<NodeHeartbeat>],
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

            impl<'a> ::planus::ReadAsRoot<'a> for NodeHeartbeatRef<'a> {
                fn read_as_root(slice: &'a [u8]) -> ::planus::Result<Self> {
                    ::planus::TableRead::from_buffer(
                        ::planus::SliceWithStartOffset {
                            buffer: slice,
                            offset_from_start: 0,
                        },
                        0,
                    )
                    .map_err(|error_kind| {
                        error_kind.with_error_location("[NodeHeartbeatRef]", "read_as_root", 0)
                    })
                }
            }

            /// The union `ControlBody` in the namespace `meridian.control`
            ///
            /// Generated from these locations:
            /// * Union `ControlBody` in the file `fbs/control.fbs:68`
            #[derive(
                Clone, Debug, PartialEq, PartialOrd, ::serde::Serialize, ::serde::Deserialize,
            )]
            pub enum ControlBody {
                /// The variant of type `HandoffTicket` in the union `ControlBody`
                HandoffTicket(::planus::alloc::boxed::Box<self::HandoffTicket>),

                /// The variant of type `ZoneCheckpoint` in the union `ControlBody`
                ZoneCheckpoint(::planus::alloc::boxed::Box<self::ZoneCheckpoint>),

                /// The variant of type `NodeHeartbeat` in the union `ControlBody`
                NodeHeartbeat(::planus::alloc::boxed::Box<self::NodeHeartbeat>),
            }

            impl ControlBody {
                /// Creates a [ControlBodyBuilder] for serializing an instance of this table.
                #[inline]
                pub fn builder() -> ControlBodyBuilder<::planus::Uninitialized> {
                    ControlBodyBuilder(::planus::Uninitialized)
                }

                #[inline]
                pub fn create_handoff_ticket(
                    builder: &mut ::planus::Builder,
                    value: impl ::planus::WriteAsOffset<self::HandoffTicket>,
                ) -> ::planus::UnionOffset<Self> {
                    ::planus::UnionOffset::new(1, value.prepare(builder).downcast())
                }

                #[inline]
                pub fn create_zone_checkpoint(
                    builder: &mut ::planus::Builder,
                    value: impl ::planus::WriteAsOffset<self::ZoneCheckpoint>,
                ) -> ::planus::UnionOffset<Self> {
                    ::planus::UnionOffset::new(2, value.prepare(builder).downcast())
                }

                #[inline]
                pub fn create_node_heartbeat(
                    builder: &mut ::planus::Builder,
                    value: impl ::planus::WriteAsOffset<self::NodeHeartbeat>,
                ) -> ::planus::UnionOffset<Self> {
                    ::planus::UnionOffset::new(3, value.prepare(builder).downcast())
                }
            }

            impl ::planus::WriteAsUnion<ControlBody> for ControlBody {
                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> ::planus::UnionOffset<Self> {
                    match self {
                        Self::HandoffTicket(value) => Self::create_handoff_ticket(builder, value),
                        Self::ZoneCheckpoint(value) => Self::create_zone_checkpoint(builder, value),
                        Self::NodeHeartbeat(value) => Self::create_node_heartbeat(builder, value),
                    }
                }
            }

            impl ::planus::WriteAsOptionalUnion<ControlBody> for ControlBody {
                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<::planus::UnionOffset<Self>> {
                    ::core::option::Option::Some(::planus::WriteAsUnion::prepare(self, builder))
                }
            }

            /// Builder for serializing an instance of the [ControlBody] type.
            ///
            /// Can be created using the [ControlBody::builder] method.
            #[derive(Debug)]
            #[must_use]
            pub struct ControlBodyBuilder<T>(T);

            impl ControlBodyBuilder<::planus::Uninitialized> {
                /// Creates an instance of the [`HandoffTicket` variant](ControlBody#variant.HandoffTicket).
                #[inline]
                pub fn handoff_ticket<T>(
                    self,
                    value: T,
                ) -> ControlBodyBuilder<::planus::Initialized<1, T>>
                where
                    T: ::planus::WriteAsOffset<self::HandoffTicket>,
                {
                    ControlBodyBuilder(::planus::Initialized(value))
                }

                /// Creates an instance of the [`ZoneCheckpoint` variant](ControlBody#variant.ZoneCheckpoint).
                #[inline]
                pub fn zone_checkpoint<T>(
                    self,
                    value: T,
                ) -> ControlBodyBuilder<::planus::Initialized<2, T>>
                where
                    T: ::planus::WriteAsOffset<self::ZoneCheckpoint>,
                {
                    ControlBodyBuilder(::planus::Initialized(value))
                }

                /// Creates an instance of the [`NodeHeartbeat` variant](ControlBody#variant.NodeHeartbeat).
                #[inline]
                pub fn node_heartbeat<T>(
                    self,
                    value: T,
                ) -> ControlBodyBuilder<::planus::Initialized<3, T>>
                where
                    T: ::planus::WriteAsOffset<self::NodeHeartbeat>,
                {
                    ControlBodyBuilder(::planus::Initialized(value))
                }
            }

            impl<const N: u8, T> ControlBodyBuilder<::planus::Initialized<N, T>> {
                /// Finish writing the builder to get an [UnionOffset](::planus::UnionOffset) to a serialized [ControlBody].
                #[inline]
                pub fn finish(
                    self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::UnionOffset<ControlBody>
                where
                    Self: ::planus::WriteAsUnion<ControlBody>,
                {
                    ::planus::WriteAsUnion::prepare(&self, builder)
                }
            }

            impl<T> ::planus::WriteAsUnion<ControlBody> for ControlBodyBuilder<::planus::Initialized<1, T>>
            where
                T: ::planus::WriteAsOffset<self::HandoffTicket>,
            {
                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::UnionOffset<ControlBody> {
                    ::planus::UnionOffset::new(1, (self.0).0.prepare(builder).downcast())
                }
            }

            impl<T> ::planus::WriteAsOptionalUnion<ControlBody>
                for ControlBodyBuilder<::planus::Initialized<1, T>>
            where
                T: ::planus::WriteAsOffset<self::HandoffTicket>,
            {
                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<::planus::UnionOffset<ControlBody>> {
                    ::core::option::Option::Some(::planus::WriteAsUnion::prepare(self, builder))
                }
            }
            impl<T> ::planus::WriteAsUnion<ControlBody> for ControlBodyBuilder<::planus::Initialized<2, T>>
            where
                T: ::planus::WriteAsOffset<self::ZoneCheckpoint>,
            {
                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::UnionOffset<ControlBody> {
                    ::planus::UnionOffset::new(2, (self.0).0.prepare(builder).downcast())
                }
            }

            impl<T> ::planus::WriteAsOptionalUnion<ControlBody>
                for ControlBodyBuilder<::planus::Initialized<2, T>>
            where
                T: ::planus::WriteAsOffset<self::ZoneCheckpoint>,
            {
                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<::planus::UnionOffset<ControlBody>> {
                    ::core::option::Option::Some(::planus::WriteAsUnion::prepare(self, builder))
                }
            }
            impl<T> ::planus::WriteAsUnion<ControlBody> for ControlBodyBuilder<::planus::Initialized<3, T>>
            where
                T: ::planus::WriteAsOffset<self::NodeHeartbeat>,
            {
                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::UnionOffset<ControlBody> {
                    ::planus::UnionOffset::new(3, (self.0).0.prepare(builder).downcast())
                }
            }

            impl<T> ::planus::WriteAsOptionalUnion<ControlBody>
                for ControlBodyBuilder<::planus::Initialized<3, T>>
            where
                T: ::planus::WriteAsOffset<self::NodeHeartbeat>,
            {
                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<::planus::UnionOffset<ControlBody>> {
                    ::core::option::Option::Some(::planus::WriteAsUnion::prepare(self, builder))
                }
            }

            /// Reference to a deserialized [ControlBody].
            #[derive(Copy, Clone, Debug)]
            pub enum ControlBodyRef<'a> {
                HandoffTicket(self::HandoffTicketRef<'a>),
                ZoneCheckpoint(self::ZoneCheckpointRef<'a>),
                NodeHeartbeat(self::NodeHeartbeatRef<'a>),
            }

            impl<'a> ::core::convert::TryFrom<ControlBodyRef<'a>> for ControlBody {
                type Error = ::planus::Error;

                fn try_from(value: ControlBodyRef<'a>) -> ::planus::Result<Self> {
                    ::core::result::Result::Ok(match value {
                        ControlBodyRef::HandoffTicket(value) => {
                            Self::HandoffTicket(::planus::alloc::boxed::Box::new(
                                ::core::convert::TryFrom::try_from(value)?,
                            ))
                        }

                        ControlBodyRef::ZoneCheckpoint(value) => {
                            Self::ZoneCheckpoint(::planus::alloc::boxed::Box::new(
                                ::core::convert::TryFrom::try_from(value)?,
                            ))
                        }

                        ControlBodyRef::NodeHeartbeat(value) => {
                            Self::NodeHeartbeat(::planus::alloc::boxed::Box::new(
                                ::core::convert::TryFrom::try_from(value)?,
                            ))
                        }
                    })
                }
            }

            impl<'a> ::planus::TableReadUnion<'a> for ControlBodyRef<'a> {
                fn from_buffer(
                    buffer: ::planus::SliceWithStartOffset<'a>,
                    tag: u8,
                    field_offset: usize,
                ) -> ::core::result::Result<Self, ::planus::errors::ErrorKind> {
                    match tag {
                        1 => ::core::result::Result::Ok(Self::HandoffTicket(
                            ::planus::TableRead::from_buffer(buffer, field_offset)?,
                        )),
                        2 => ::core::result::Result::Ok(Self::ZoneCheckpoint(
                            ::planus::TableRead::from_buffer(buffer, field_offset)?,
                        )),
                        3 => ::core::result::Result::Ok(Self::NodeHeartbeat(
                            ::planus::TableRead::from_buffer(buffer, field_offset)?,
                        )),
                        _ => ::core::result::Result::Err(
                            ::planus::errors::ErrorKind::UnknownUnionTag { tag },
                        ),
                    }
                }
            }

            impl<'a> ::planus::VectorReadUnion<'a> for ControlBodyRef<'a> {
                const VECTOR_NAME: &'static str = "[ControlBodyRef]";
            }

            /// The table `ControlMessage` in the namespace `meridian.control`
            ///
            /// Generated from these locations:
            /// * Table `ControlMessage` in the file `fbs/control.fbs:70`
            #[derive(
                Clone, Debug, PartialEq, PartialOrd, ::serde::Serialize, ::serde::Deserialize,
            )]
            pub struct ControlMessage {
                /// The field `body` in the table `ControlMessage`
                pub body: ::core::option::Option<self::ControlBody>,
            }

            #[allow(clippy::derivable_impls)]
            impl ::core::default::Default for ControlMessage {
                fn default() -> Self {
                    Self {
                        body: ::core::default::Default::default(),
                    }
                }
            }

            impl ControlMessage {
                /// Creates a [ControlMessageBuilder] for serializing an instance of this table.
                #[inline]
                pub fn builder() -> ControlMessageBuilder<()> {
                    ControlMessageBuilder(())
                }

                #[allow(clippy::too_many_arguments)]
                pub fn create(
                    builder: &mut ::planus::Builder,
                    field_body: impl ::planus::WriteAsOptionalUnion<self::ControlBody>,
                ) -> ::planus::Offset<Self> {
                    let prepared_body = field_body.prepare(builder);

                    let mut table_writer: ::planus::table_writer::TableWriter<8> =
                        ::core::default::Default::default();
                    if prepared_body.is_some() {
                        table_writer.write_entry::<::planus::Offset<self::ControlBody>>(1);
                    }
                    if prepared_body.is_some() {
                        table_writer.write_entry::<u8>(0);
                    }

                    unsafe {
                        table_writer.finish(builder, |object_writer| {
                            if let ::core::option::Option::Some(prepared_body) = prepared_body {
                                object_writer.write::<_, _, 4>(&prepared_body.offset());
                            }
                            if let ::core::option::Option::Some(prepared_body) = prepared_body {
                                object_writer.write::<_, _, 1>(&prepared_body.tag());
                            }
                        });
                    }
                    builder.current_offset()
                }
            }

            impl ::planus::WriteAs<::planus::Offset<ControlMessage>> for ControlMessage {
                type Prepared = ::planus::Offset<Self>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<ControlMessage> {
                    ::planus::WriteAsOffset::prepare(self, builder)
                }
            }

            impl ::planus::WriteAsOptional<::planus::Offset<ControlMessage>> for ControlMessage {
                type Prepared = ::planus::Offset<Self>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<::planus::Offset<ControlMessage>> {
                    ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
                }
            }

            impl ::planus::WriteAsOffset<ControlMessage> for ControlMessage {
                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<ControlMessage> {
                    ControlMessage::create(builder, &self.body)
                }
            }

            /// Builder for serializing an instance of the [ControlMessage] type.
            ///
            /// Can be created using the [ControlMessage::builder] method.
            #[derive(Debug)]
            #[must_use]
            pub struct ControlMessageBuilder<State>(State);

            impl ControlMessageBuilder<()> {
                /// Setter for the [`body` field](ControlMessage#structfield.body).
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn body<T0>(self, value: T0) -> ControlMessageBuilder<(T0,)>
                where
                    T0: ::planus::WriteAsOptionalUnion<self::ControlBody>,
                {
                    ControlMessageBuilder((value,))
                }

                /// Sets the [`body` field](ControlMessage#structfield.body) to null.
                #[inline]
                #[allow(clippy::type_complexity)]
                pub fn body_as_null(self) -> ControlMessageBuilder<((),)> {
                    self.body(())
                }
            }

            impl<T0> ControlMessageBuilder<(T0,)> {
                /// Finish writing the builder to get an [Offset](::planus::Offset) to a serialized [ControlMessage].
                #[inline]
                pub fn finish(
                    self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<ControlMessage>
                where
                    Self: ::planus::WriteAsOffset<ControlMessage>,
                {
                    ::planus::WriteAsOffset::prepare(&self, builder)
                }
            }

            impl<T0: ::planus::WriteAsOptionalUnion<self::ControlBody>>
                ::planus::WriteAs<::planus::Offset<ControlMessage>>
                for ControlMessageBuilder<(T0,)>
            {
                type Prepared = ::planus::Offset<ControlMessage>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<ControlMessage> {
                    ::planus::WriteAsOffset::prepare(self, builder)
                }
            }

            impl<T0: ::planus::WriteAsOptionalUnion<self::ControlBody>>
                ::planus::WriteAsOptional<::planus::Offset<ControlMessage>>
                for ControlMessageBuilder<(T0,)>
            {
                type Prepared = ::planus::Offset<ControlMessage>;

                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::core::option::Option<::planus::Offset<ControlMessage>> {
                    ::core::option::Option::Some(::planus::WriteAsOffset::prepare(self, builder))
                }
            }

            impl<T0: ::planus::WriteAsOptionalUnion<self::ControlBody>>
                ::planus::WriteAsOffset<ControlMessage> for ControlMessageBuilder<(T0,)>
            {
                #[inline]
                fn prepare(
                    &self,
                    builder: &mut ::planus::Builder,
                ) -> ::planus::Offset<ControlMessage> {
                    let (v0,) = &self.0;
                    ControlMessage::create(builder, v0)
                }
            }

            /// Reference to a deserialized [ControlMessage].
            #[derive(Copy, Clone)]
            pub struct ControlMessageRef<'a>(#[allow(dead_code)] ::planus::table_reader::Table<'a>);

            impl<'a> ControlMessageRef<'a> {
                /// Getter for the [`body` field](ControlMessage#structfield.body).
                #[inline]
                pub fn body(
                    &self,
                ) -> ::planus::Result<::core::option::Option<self::ControlBodyRef<'a>>>
                {
                    self.0.access_union(0, "ControlMessage", "body")
                }
            }

            impl<'a> ::core::fmt::Debug for ControlMessageRef<'a> {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    let mut f = f.debug_struct("ControlMessageRef");
                    if let ::core::option::Option::Some(field_body) = self.body().transpose() {
                        f.field("body", &field_body);
                    }
                    f.finish()
                }
            }

            impl<'a> ::core::convert::TryFrom<ControlMessageRef<'a>> for ControlMessage {
                type Error = ::planus::Error;

                #[allow(unreachable_code)]
                fn try_from(value: ControlMessageRef<'a>) -> ::planus::Result<Self> {
                    ::core::result::Result::Ok(Self {
                        body: if let ::core::option::Option::Some(body) = value.body()? {
                            ::core::option::Option::Some(::core::convert::TryInto::try_into(body)?)
                        } else {
                            ::core::option::Option::None
                        },
                    })
                }
            }

            impl<'a> ::planus::TableRead<'a> for ControlMessageRef<'a> {
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

            impl<'a> ::planus::VectorReadInner<'a> for ControlMessageRef<'a> {
                type Error = ::planus::Error;
                const STRIDE: usize = 4;

                unsafe fn from_buffer(
                    buffer: ::planus::SliceWithStartOffset<'a>,
                    offset: usize,
                ) -> ::planus::Result<Self> {
                    ::planus::TableRead::from_buffer(buffer, offset).map_err(|error_kind| {
                        error_kind.with_error_location(
                            "[ControlMessageRef]",
                            "get",
                            buffer.offset_from_start,
                        )
                    })
                }
            }

            /// # Safety
            /// The planus compiler generates implementations that initialize
            /// the bytes in `write_values`.
            unsafe impl ::planus::VectorWrite<::planus::Offset<ControlMessage>> for ControlMessage {
                type Value = ::planus::Offset<ControlMessage>;
                const STRIDE: usize = 4;
                #[inline]
                fn prepare(&self, builder: &mut ::planus::Builder) -> Self::Value {
                    ::planus::WriteAs::prepare(self, builder)
                }

                #[inline]
                unsafe fn write_values(
                    values: &[::planus::Offset<ControlMessage>],
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

            impl<'a> ::planus::ReadAsRoot<'a> for ControlMessageRef<'a> {
                fn read_as_root(slice: &'a [u8]) -> ::planus::Result<Self> {
                    ::planus::TableRead::from_buffer(
                        ::planus::SliceWithStartOffset {
                            buffer: slice,
                            offset_from_start: 0,
                        },
                        0,
                    )
                    .map_err(|error_kind| {
                        error_kind.with_error_location("[ControlMessageRef]", "read_as_root", 0)
                    })
                }
            }
        }
    }
}
