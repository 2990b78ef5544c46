//! The operators a stage can apply: Spark Streaming's DStream operations, by the names
//! pipeline files use, with what each needs and how it moves data.

use sluice_sdk::wire::Kind;

/// An operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `map`: one record out per record in.
    Map,
    /// `flat_map`: any number out per record in.
    FlatMap,
    /// `filter`: keep records the function accepts.
    Filter,
    /// `map_partition`: a whole partition in (Spark's mapPartitions).
    MapPartition,
    /// `transform`: a whole partition and the batch time in (Spark's transform).
    Transform,
    /// `union`: the inputs' records together.
    Union,
    /// `repartition`: spread records evenly over `partitions`.
    Repartition,
    /// `reduce_by_key`: combine values per key, map-side first.
    ReduceByKey,
    /// `group_by_key`: all values of a key in one record `[key, [values]]`.
    GroupByKey,
    /// `count_by_value`: `[record, count]` per distinct record.
    CountByValue,
    /// `count`: one record, the number of records in the batch.
    Count,
    /// `reduce`: combine all records of the batch into one.
    Reduce,
    /// `update_state_by_key`: every key's state, updated every batch.
    UpdateStateByKey,
    /// `map_with_state`: records mapped with their key's state; idle keys time out.
    MapWithState,
    /// `window`: the records of the last `window` of batches.
    Window,
    /// `count_by_window`: how many records the window holds.
    CountByWindow,
    /// `reduce_by_window`: the window's records combined into one.
    ReduceByWindow,
    /// `reduce_by_key_and_window`: values per key combined over the window.
    ReduceByKeyAndWindow,
    /// `count_by_value_and_window`: `[record, count]` per distinct record in the window.
    CountByValueAndWindow,
    /// `join`: `[key, [left, right]]` for every pair of values of a key in both inputs.
    Join,
    /// `left_outer_join`: as join, plus `[key, [left, nil]]` for keys only on the left.
    LeftOuterJoin,
    /// `right_outer_join`: as join, plus `[key, [nil, right]]` for keys only on the right.
    RightOuterJoin,
    /// `full_outer_join`: left and right outer join together.
    FullOuterJoin,
    /// `cogroup`: `[key, [[left values], [right values]]]` per key of either input.
    Cogroup,
}

impl Op {
    /// Every op, in documentation order.
    pub const ALL: [Op; 24] = [
        Op::Map,
        Op::FlatMap,
        Op::Filter,
        Op::MapPartition,
        Op::Transform,
        Op::Union,
        Op::Repartition,
        Op::ReduceByKey,
        Op::GroupByKey,
        Op::CountByValue,
        Op::Count,
        Op::Reduce,
        Op::UpdateStateByKey,
        Op::MapWithState,
        Op::Window,
        Op::CountByWindow,
        Op::ReduceByWindow,
        Op::ReduceByKeyAndWindow,
        Op::CountByValueAndWindow,
        Op::Join,
        Op::LeftOuterJoin,
        Op::RightOuterJoin,
        Op::FullOuterJoin,
        Op::Cogroup,
    ];

    /// The op's name in pipeline files.
    pub fn name(self) -> &'static str {
        match self {
            Op::Map => "map",
            Op::FlatMap => "flat_map",
            Op::Filter => "filter",
            Op::MapPartition => "map_partition",
            Op::Transform => "transform",
            Op::Union => "union",
            Op::Repartition => "repartition",
            Op::ReduceByKey => "reduce_by_key",
            Op::GroupByKey => "group_by_key",
            Op::CountByValue => "count_by_value",
            Op::Count => "count",
            Op::Reduce => "reduce",
            Op::UpdateStateByKey => "update_state_by_key",
            Op::MapWithState => "map_with_state",
            Op::Window => "window",
            Op::CountByWindow => "count_by_window",
            Op::ReduceByWindow => "reduce_by_window",
            Op::ReduceByKeyAndWindow => "reduce_by_key_and_window",
            Op::CountByValueAndWindow => "count_by_value_and_window",
            Op::Join => "join",
            Op::LeftOuterJoin => "left_outer_join",
            Op::RightOuterJoin => "right_outer_join",
            Op::FullOuterJoin => "full_outer_join",
            Op::Cogroup => "cogroup",
        }
    }

    /// The op named `name`.
    pub fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }

    /// The kind of plugin function the op's `function` must be, if it calls one.
    pub fn function_kind(self) -> Option<Kind> {
        match self {
            Op::Map => Some(Kind::Map),
            Op::FlatMap => Some(Kind::FlatMap),
            Op::Filter => Some(Kind::Filter),
            Op::MapPartition => Some(Kind::MapPartition),
            Op::Transform => Some(Kind::Transform),
            Op::ReduceByKey | Op::Reduce | Op::ReduceByWindow | Op::ReduceByKeyAndWindow => {
                Some(Kind::Reduce)
            }
            Op::UpdateStateByKey => Some(Kind::UpdateState),
            Op::MapWithState => Some(Kind::MapWithState),
            _ => None,
        }
    }

    /// Whether the op works on each partition alone (and so can be fused with its
    /// neighbours), rather than moving records between partitions.
    pub fn is_narrow(self) -> bool {
        matches!(
            self,
            Op::Map | Op::FlatMap | Op::Filter | Op::MapPartition | Op::Transform | Op::Union
        )
    }

    /// Whether the op hashes keys to `partitions` output partitions.
    pub fn takes_partitions(self) -> bool {
        matches!(
            self,
            Op::Repartition
                | Op::ReduceByKey
                | Op::GroupByKey
                | Op::CountByValue
                | Op::UpdateStateByKey
                | Op::MapWithState
                | Op::ReduceByKeyAndWindow
                | Op::CountByValueAndWindow
        ) || self.is_join()
    }

    /// Whether the op computes over a window of batches (`window`, `slide`).
    pub fn is_windowed(self) -> bool {
        matches!(
            self,
            Op::Window
                | Op::CountByWindow
                | Op::ReduceByWindow
                | Op::ReduceByKeyAndWindow
                | Op::CountByValueAndWindow
        )
    }

    /// Whether the op joins or co-groups exactly two keyed inputs.
    pub fn is_join(self) -> bool {
        matches!(
            self,
            Op::Join | Op::LeftOuterJoin | Op::RightOuterJoin | Op::FullOuterJoin | Op::Cogroup
        )
    }

    /// Whether the op keeps keyed state across batches.
    pub fn is_keyed_state(self) -> bool {
        matches!(self, Op::UpdateStateByKey | Op::MapWithState)
    }

    /// The DStream method this op corresponds to, for documentation and hints.
    pub fn spark_name(self) -> &'static str {
        match self {
            Op::Map => "map",
            Op::FlatMap => "flatMap",
            Op::Filter => "filter",
            Op::MapPartition => "mapPartitions",
            Op::Transform => "transform",
            Op::Union => "union",
            Op::Repartition => "repartition",
            Op::ReduceByKey => "reduceByKey",
            Op::GroupByKey => "groupByKey",
            Op::CountByValue => "countByValue",
            Op::Count => "count",
            Op::Reduce => "reduce",
            Op::UpdateStateByKey => "updateStateByKey",
            Op::MapWithState => "mapWithState",
            Op::Window => "window",
            Op::CountByWindow => "countByWindow",
            Op::ReduceByWindow => "reduceByWindow",
            Op::ReduceByKeyAndWindow => "reduceByKeyAndWindow",
            Op::CountByValueAndWindow => "countByValueAndWindow",
            Op::Join => "join",
            Op::LeftOuterJoin => "leftOuterJoin",
            Op::RightOuterJoin => "rightOuterJoin",
            Op::FullOuterJoin => "fullOuterJoin",
            Op::Cogroup => "cogroup",
        }
    }
}
