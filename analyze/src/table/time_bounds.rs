//! From a filter on a table's partition time column (`stage_at >= TIMESTAMP '…'`) to a filter
//! on its `date`/`hour` partition columns that keeps every directory that could hold a
//! matching row, and only those.
//!
//! The derived filter is a necessary condition: a row whose time satisfies the original filter
//! always lies in a directory that satisfies the derived one, because the ingest writes every
//! row whose time column is not null under the UTC date and hour of that time. Anything this
//! module does not understand derives nothing (`None`): no directory is dropped for it.

use chrono::{DateTime, Datelike};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::{lit, Between, BinaryExpr, Cast, Expr, Operator, TryCast};

/// The partition column holding the UTC date, `YYYY-MM-DD`.
const DATE_COLUMN: &str = "date";
/// The partition column holding the UTC hour, `HH`.
const HOUR_COLUMN: &str = "hour";

const NANOS_PER_MICRO: i128 = 1_000;

/// Years whose `YYYY-MM-DD` names sort as text in time order (chrono writes a sign outside).
const SORTABLE_YEARS: std::ops::RangeInclusive<i32> = 0..=9999;

/// The time column values (µs since the epoch, inclusive bounds) a predicate can be true for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct MicrosRange {
    lower: Option<i64>,
    upper: Option<i64>,
}

/// A filter on `date`/`hour` implied by `filter` on `time_column`, or `None` if `filter` implies
/// nothing about the partitions.
pub fn partition_filter(filter: &Expr, time_column: &str) -> Option<Expr> {
    match filter {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And,
            right,
        }) => {
            let left = partition_filter(left, time_column);
            let right = partition_filter(right, time_column);
            match (left, right) {
                (Some(left), Some(right)) => Some(left.and(right)),
                (Some(one), None) | (None, Some(one)) => Some(one),
                (None, None) => None,
            }
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            // Both sides must restrict the partitions, or the disjunction does not.
            let left = partition_filter(left, time_column)?;
            let right = partition_filter(right, time_column)?;
            Some(left.or(right))
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            hour_filter(comparison_range(left, *op, right, time_column)?)
        }
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => {
            if !is_time_column(expr, time_column) {
                return None;
            }
            let range = MicrosRange {
                lower: at_least(literal_nanos(low)?),
                upper: at_most(literal_nanos(high)?),
            };
            hour_filter(range)
        }
        Expr::InList(InList {
            expr,
            list,
            negated: false,
        }) => {
            if !is_time_column(expr, time_column) {
                return None;
            }
            let mut any_of: Option<Expr> = None;
            for item in list {
                let one = hour_filter(equal_to(literal_nanos(item)?))?;
                any_of = Some(match any_of {
                    Some(previous) => previous.or(one),
                    None => one,
                });
            }
            any_of
        }
        _ => None,
    }
}

/// The range of `left op right` where one side is the time column and the other a literal.
fn comparison_range(
    left: &Expr,
    op: Operator,
    right: &Expr,
    time_column: &str,
) -> Option<MicrosRange> {
    // Normalise to `time_column op literal`.
    let (op, literal) = if is_time_column(left, time_column) {
        (op, right)
    } else if is_time_column(right, time_column) {
        (op.swap()?, left)
    } else {
        return None;
    };
    let nanos = literal_nanos(literal)?;
    let range = match op {
        Operator::Eq | Operator::IsNotDistinctFrom => equal_to(nanos),
        Operator::GtEq => MicrosRange {
            lower: at_least(nanos),
            upper: None,
        },
        Operator::Gt => MicrosRange {
            lower: after(nanos),
            upper: None,
        },
        Operator::LtEq => MicrosRange {
            lower: None,
            upper: at_most(nanos),
        },
        Operator::Lt => MicrosRange {
            lower: None,
            upper: before(nanos),
        },
        _ => return None,
    };
    Some(range)
}

/// Whether `expr` is the time column, bare or widened to another timestamp type without loss
/// (µs or ns, any time zone: casting from a UTC timestamp keeps the stored value), as type
/// coercion may leave it when compared with a literal of another precision.
fn is_time_column(expr: &Expr, time_column: &str) -> bool {
    match expr {
        Expr::Column(Column { name, .. }) => name == time_column,
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
            let lossless = matches!(
                field.data_type(),
                DataType::Timestamp(TimeUnit::Microsecond | TimeUnit::Nanosecond, _)
            );
            lossless && is_time_column(expr, time_column)
        }
        _ => false,
    }
}

/// A non-null timestamp literal as nanoseconds since the epoch (wide enough for any unit).
fn literal_nanos(expr: &Expr) -> Option<i128> {
    let Expr::Literal(value, _) = expr else {
        return None;
    };
    match value {
        ScalarValue::TimestampSecond(Some(v), _) => Some(i128::from(*v) * 1_000_000_000),
        ScalarValue::TimestampMillisecond(Some(v), _) => Some(i128::from(*v) * 1_000_000),
        ScalarValue::TimestampMicrosecond(Some(v), _) => Some(i128::from(*v) * NANOS_PER_MICRO),
        ScalarValue::TimestampNanosecond(Some(v), _) => Some(i128::from(*v)),
        _ => None,
    }
}

/// The smallest µs value `>= nanos`.
fn at_least(nanos: i128) -> Option<i64> {
    i64::try_from(
        nanos.div_euclid(NANOS_PER_MICRO) + i128::from(nanos.rem_euclid(NANOS_PER_MICRO) != 0),
    )
    .ok()
}

/// The smallest µs value `> nanos`.
fn after(nanos: i128) -> Option<i64> {
    i64::try_from(nanos.div_euclid(NANOS_PER_MICRO) + 1).ok()
}

/// The largest µs value `<= nanos`.
fn at_most(nanos: i128) -> Option<i64> {
    i64::try_from(nanos.div_euclid(NANOS_PER_MICRO)).ok()
}

/// The largest µs value `< nanos`.
fn before(nanos: i128) -> Option<i64> {
    let at_most = nanos.div_euclid(NANOS_PER_MICRO);
    let on_a_micro = nanos.rem_euclid(NANOS_PER_MICRO) == 0;
    i64::try_from(if on_a_micro { at_most - 1 } else { at_most }).ok()
}

/// The µs values equal to `nanos` (an empty range when `nanos` is not a whole µs).
fn equal_to(nanos: i128) -> MicrosRange {
    MicrosRange {
        lower: at_least(nanos),
        upper: at_most(nanos),
    }
}

/// `(date, hour) >= partition of lower AND (date, hour) <= partition of upper`, compared as
/// text (the names are zero-padded, so text order is time order).
fn hour_filter(range: MicrosRange) -> Option<Expr> {
    let from = range.lower.and_then(partition_names).map(|(date, hour)| {
        column(DATE_COLUMN)
            .gt(lit(date.clone()))
            .or(column(DATE_COLUMN)
                .eq(lit(date))
                .and(column(HOUR_COLUMN).gt_eq(lit(hour))))
    });
    let to = range.upper.and_then(partition_names).map(|(date, hour)| {
        column(DATE_COLUMN)
            .lt(lit(date.clone()))
            .or(column(DATE_COLUMN)
                .eq(lit(date))
                .and(column(HOUR_COLUMN).lt_eq(lit(hour))))
    });
    match (from, to) {
        (Some(from), Some(to)) => Some(from.and(to)),
        (Some(one), None) | (None, Some(one)) => Some(one),
        (None, None) => None,
    }
}

/// The `date=` and `hour=` names of the hour holding `micros`, if they sort as text.
fn partition_names(micros: i64) -> Option<(String, String)> {
    let time = DateTime::from_timestamp_micros(micros)?;
    if !SORTABLE_YEARS.contains(&time.year()) {
        return None;
    }
    Some(schemas::time::partition_of(micros))
}

fn column(name: &str) -> Expr {
    Expr::Column(Column::new_unqualified(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    use datafusion::logical_expr::col;

    fn micros(text: &str) -> i64 {
        schemas::time::parse_micros(text).unwrap()
    }

    fn ts(text: &str) -> Expr {
        lit(ScalarValue::TimestampMicrosecond(
            Some(micros(text)),
            Some("UTC".into()),
        ))
    }

    fn derived(filter: Expr) -> Option<String> {
        partition_filter(&filter, "stage_at").map(|expr| expr.to_string())
    }

    const FROM_10: &str =
        "date > Utf8(\"2026-11-30\") OR date = Utf8(\"2026-11-30\") AND hour >= Utf8(\"10\")";

    #[test]
    fn greater_or_equal_starts_at_the_hour_of_the_bound() {
        let filter = col("stage_at").gt_eq(ts("2026-11-30T10:00:00Z"));
        assert_eq!(derived(filter).as_deref(), Some(FROM_10));
    }

    #[test]
    fn strictly_before_an_exact_hour_ends_the_hour_before() {
        let filter = col("stage_at").lt(ts("2026-11-30T11:00:00Z"));
        assert_eq!(
            derived(filter).as_deref(),
            Some("date < Utf8(\"2026-11-30\") OR date = Utf8(\"2026-11-30\") AND hour <= Utf8(\"10\")")
        );
    }

    #[test]
    fn at_most_an_exact_hour_includes_that_hour() {
        let filter = col("stage_at").lt_eq(ts("2026-11-30T11:00:00Z"));
        assert!(derived(filter).unwrap().ends_with("hour <= Utf8(\"11\")"));
    }

    #[test]
    fn strictly_after_the_last_micro_of_an_hour_starts_the_next_hour() {
        let filter = col("stage_at").gt(ts("2026-11-30T09:59:59.999999Z"));
        assert_eq!(derived(filter).as_deref(), Some(FROM_10));
    }

    #[test]
    fn literal_on_the_left_is_mirrored() {
        let filter = ts("2026-11-30T10:00:00Z").lt_eq(col("stage_at"));
        assert_eq!(derived(filter).as_deref(), Some(FROM_10));
    }

    #[test]
    fn nanosecond_literals_round_towards_keeping_rows() {
        let half_micro_before_11 = lit(ScalarValue::TimestampNanosecond(
            Some(micros("2026-11-30T11:00:00Z") * 1000 - 500),
            None,
        ));
        // `< 10:59:59.9999995` still admits 10:59:59.999999, so hour 10 stays.
        let widened = Expr::Cast(Cast::new(
            Box::new(col("stage_at")),
            DataType::Timestamp(TimeUnit::Nanosecond, None),
        ));
        let filter = widened.lt(half_micro_before_11);
        assert!(derived(filter).unwrap().ends_with("hour <= Utf8(\"10\")"));
    }

    #[test]
    fn between_is_inclusive_on_both_ends() {
        let filter =
            col("stage_at").between(ts("2026-11-30T23:30:00Z"), ts("2026-12-01T01:00:00Z"));
        assert_eq!(
            derived(filter).as_deref(),
            Some(
                "(date > Utf8(\"2026-11-30\") OR date = Utf8(\"2026-11-30\") AND hour >= Utf8(\"23\")) \
                 AND (date < Utf8(\"2026-12-01\") OR date = Utf8(\"2026-12-01\") AND hour <= Utf8(\"01\"))"
            )
        );
    }

    #[test]
    fn or_needs_both_sides_to_restrict() {
        let other = col("verb").eq(lit("get"));
        let filter = col("stage_at")
            .gt_eq(ts("2026-11-30T10:00:00Z"))
            .or(other.clone());
        assert_eq!(derived(filter), None);
        let filter = col("stage_at").gt_eq(ts("2026-11-30T10:00:00Z")).and(other);
        assert_eq!(derived(filter).as_deref(), Some(FROM_10));
    }

    #[test]
    fn not_understood_derives_nothing() {
        let negated =
            col("stage_at").not_between(ts("2026-11-30T10:00:00Z"), ts("2026-11-30T11:00:00Z"));
        assert_eq!(derived(negated), None);
        let other_column = col("received_at").gt_eq(ts("2026-11-30T10:00:00Z"));
        assert_eq!(derived(other_column), None);
        let truncating_cast = Expr::Cast(Cast::new(
            Box::new(col("stage_at")),
            DataType::Timestamp(TimeUnit::Second, None),
        ))
        .gt_eq(lit(ScalarValue::TimestampSecond(Some(0), None)));
        assert_eq!(derived(truncating_cast), None);
        let null = col("stage_at").gt_eq(lit(ScalarValue::TimestampMicrosecond(None, None)));
        assert_eq!(derived(null), None);
    }

    #[test]
    fn years_that_do_not_sort_as_text_derive_nothing() {
        let far = lit(ScalarValue::TimestampMicrosecond(Some(i64::MAX), None));
        assert_eq!(derived(col("stage_at").lt(far)), None);
    }

    #[test]
    fn in_list_is_any_of_its_hours() {
        let filter = col("stage_at").in_list(
            vec![ts("2026-11-30T10:00:00Z"), ts("2026-11-30T12:30:00Z")],
            false,
        );
        let text = derived(filter).unwrap();
        assert!(text.contains("hour >= Utf8(\"10\")") && text.contains("hour <= Utf8(\"12\")"));
    }

    #[test]
    fn micro_rounding() {
        assert_eq!(at_least(1_001), Some(2));
        assert_eq!(at_least(1_000), Some(1));
        assert_eq!(at_least(-1_001), Some(-1));
        assert_eq!(after(1_000), Some(2));
        assert_eq!(after(1_001), Some(2));
        assert_eq!(at_most(1_999), Some(1));
        assert_eq!(at_most(-1), Some(-1));
        assert_eq!(before(2_000), Some(1));
        assert_eq!(before(1_999), Some(1));
        assert_eq!(before(-1_000), Some(-2));
    }
}
