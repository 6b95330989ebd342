//! What a planned query reads, and which rows of `events` it can use at all.
//!
//! Most rules look at a sliver of the traffic (creates of pods, execs, secrets, 403s) while most
//! events are heartbeats and controllers' reads. The optimized plan of a rule puts the rule's
//! own conditions right above each scan of `events`; the conditions that need nothing but the
//! row itself (no subquery, nothing volatile) are taken out, OR-ed over the scans, and
//! evaluated once on the batch. The rule then runs on the rows that pass, or not at all when
//! none does. The rows removed are rows no scan of the rule would have kept, so the rule's
//! result is the same.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Weak};

use datafusion::arrow::array::BooleanBufferBuilder;
use datafusion::arrow::array::{new_null_array, Array, ArrayRef, BooleanArray};
use datafusion::arrow::compute::kernels::boolean::{and, and_not, not, or};
use datafusion::arrow::compute::{
    filter_record_batch, prep_null_mask_filter, FilterBuilder, FilterPredicate,
};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema};
use datafusion::logical_expr::utils::{conjunction, disjunction, split_conjunction};
use datafusion::logical_expr::{Expr, LogicalPlan, Operator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;

/// What one planned query reads.
#[derive(Debug, Clone, Default)]
pub struct Reads {
    /// Every table the query scans, by name.
    pub tables: BTreeSet<String>,
    /// For each input table, the rows the query can use (absent: any row).
    prefilters: BTreeMap<String, Prefilter>,
    /// The query is nothing but a filter over one input, entirely in its prefilter: its
    /// result is the rows the prefilter selects.
    pub exact: bool,
    /// For each table, the columns the query reads (absent: all of them).
    columns: BTreeMap<String, Option<BTreeSet<usize>>>,
}

/// The row-only conditions of a query on one input, as the AND/OR tree they form.
///
/// Each condition at the leaves is evaluated on only the columns it reads (evaluating an AND
/// on a few rows would copy the batch's columns, and request bodies are large). The tree is
/// walked by the engine, not by the expression: a condition is not evaluated once no row is
/// left that it could decide, conditions calling functions (JSON, lists) or reading bodies come
/// after plain comparisons and are evaluated only on the rows still in question, and a plain
/// comparison's answer for a batch is remembered for the other rules asking the same of that
/// batch (`object_resource = 'pods'`, `verb = 'create'` are in many rules).
///
/// A row passes when the tree is true for it; a NULL counts as false at every leaf, which,
/// under AND and OR only, selects the same rows as SQL's three-valued logic.
#[derive(Debug, Clone)]
enum Prefilter {
    All(Vec<Prefilter>),
    Any(Vec<Prefilter>),
    Leaf(Arc<Leaf>),
}

/// Columns holding whole JSON bodies: a condition reading them is costly even without a
/// function (`request_object LIKE '%podIP%'`).
const BODIES: [&str; 3] = ["request_object", "response_object", "extra"];

#[derive(Debug)]
struct Leaf {
    /// The condition as SQL text: the key of the answers remembered per batch.
    key: String,
    columns: Vec<usize>,
    expr: Arc<dyn PhysicalExpr>,
    /// Calls a function or reads a body: evaluated after the plain comparisons, on the rows
    /// left, and not remembered.
    costly: bool,
}

impl Prefilter {
    fn plan(expr: Expr, schema: &DFSchema, ctx: &SessionContext) -> Option<Prefilter> {
        match expr {
            Expr::BinaryExpr(binary) if matches!(binary.op, Operator::And | Operator::Or) => {
                let and = binary.op == Operator::And;
                let mut children = Vec::new();
                for side in [*binary.left, *binary.right] {
                    match Prefilter::plan(side, schema, ctx)? {
                        Prefilter::All(inner) if and => children.extend(inner),
                        Prefilter::Any(inner) if !and => children.extend(inner),
                        child => children.push(child),
                    }
                }
                // Plain comparisons first: they are cheap and remembered.
                children.sort_by_key(Prefilter::costly);
                Some(if and {
                    Prefilter::All(children)
                } else {
                    Prefilter::Any(children)
                })
            }
            expr => {
                let mut columns: Vec<usize> = expr
                    .column_refs()
                    .into_iter()
                    .map(|column| schema.index_of_column_by_name(None, &column.name))
                    .collect::<Option<Vec<usize>>>()?;
                columns.sort_unstable();
                columns.dedup();
                let projected = schema.as_arrow().project(&columns).ok()?;
                let projected = DFSchema::try_from(projected).ok()?;
                let costly = expr
                    .exists(|e| {
                        Ok(match e {
                            Expr::ScalarFunction(_) => true,
                            Expr::Column(column) => BODIES.contains(&column.name.as_str()),
                            _ => false,
                        })
                    })
                    .unwrap_or(true);
                let key = expr.to_string();
                let expr = ctx.create_physical_expr(expr, &projected).ok()?;
                Some(Prefilter::Leaf(Arc::new(Leaf {
                    key,
                    columns,
                    expr,
                    costly,
                })))
            }
        }
    }

    fn costly(&self) -> bool {
        match self {
            Prefilter::All(children) | Prefilter::Any(children) => {
                children.iter().any(Prefilter::costly)
            }
            Prefilter::Leaf(leaf) => leaf.costly,
        }
    }

    /// The rows of `batch` passing, without NULLs; `None` when a condition cannot be
    /// evaluated.
    fn mask(&self, batch: &RecordBatch) -> Option<BooleanArray> {
        self.eval(batch, None)
    }

    /// Like [`Prefilter::mask`], deciding only the rows of `candidates` (`None`: all); what
    /// it answers for other rows does not matter.
    fn eval(&self, batch: &RecordBatch, candidates: Option<&BooleanArray>) -> Option<BooleanArray> {
        match self {
            Prefilter::All(children) => {
                let mut passing: Option<BooleanArray> = candidates.cloned();
                for child in children {
                    if passing.as_ref().is_some_and(|rows| rows.true_count() == 0) {
                        break;
                    }
                    let answer = child.eval(batch, passing.as_ref())?;
                    passing = Some(match passing {
                        Some(rows) => and(&rows, &answer).ok()?,
                        None => answer,
                    });
                }
                passing.or_else(|| Some(BooleanArray::from(vec![true; batch.num_rows()])))
            }
            Prefilter::Any(children) => {
                let mut passing = BooleanArray::from(vec![false; batch.num_rows()]);
                let mut open: Option<BooleanArray> = candidates.cloned();
                for child in children {
                    if open.as_ref().is_some_and(|rows| rows.true_count() == 0) {
                        break;
                    }
                    let answer = child.eval(batch, open.as_ref())?;
                    let answer = match &open {
                        Some(rows) => and(rows, &answer).ok()?,
                        None => answer,
                    };
                    passing = or(&passing, &answer).ok()?;
                    open = Some(match open {
                        Some(rows) => and_not(&rows, &answer).ok()?,
                        None => not(&answer).ok()?,
                    });
                }
                Some(passing)
            }
            Prefilter::Leaf(leaf) => leaf.eval(batch, candidates),
        }
    }
}

impl Leaf {
    fn eval(&self, batch: &RecordBatch, candidates: Option<&BooleanArray>) -> Option<BooleanArray> {
        let projected = batch.project(&self.columns).ok()?;
        match candidates {
            // A function on the few rows left: only their values are copied and looked at.
            Some(rows) if self.costly && rows.true_count() < batch.num_rows() / 2 => {
                let subset = if projected.num_columns() == 0 {
                    filter_record_batch(&projected, rows).ok()?
                } else {
                    let predicate = FilterBuilder::new(rows).optimize().build();
                    let columns = SUBSETS.with(|subsets| {
                        let mut subsets = subsets.borrow_mut();
                        projected
                            .columns()
                            .iter()
                            .map(|column| subsets.filtered(column, rows, &predicate))
                            .collect::<Result<Vec<_>, _>>()
                    });
                    RecordBatch::try_new(projected.schema(), columns.ok()?).ok()?
                };
                let answer = evaluate(&self.expr, &subset)?;
                let mut answers = answer.values().iter();
                let mut scattered = BooleanBufferBuilder::new(batch.num_rows());
                for candidate in rows.values().iter() {
                    scattered.append(candidate && answers.next().unwrap_or(false));
                }
                Some(BooleanArray::new(scattered.finish(), None))
            }
            _ if self.costly || self.columns.is_empty() => evaluate(&self.expr, &projected),
            _ => ANSWERS.with(|answers| {
                let columns = projected.columns();
                let known = answers.borrow().get(&self.key, columns);
                if let Some(answer) = known.filter(|a| a.len() == batch.num_rows()) {
                    return Some(answer);
                }
                let answer = evaluate(&self.expr, &projected)?;
                answers.borrow_mut().put(&self.key, columns, answer.clone());
                Some(answer)
            }),
        }
    }
}

/// `expr` on `batch`, NULLs as false.
fn evaluate(expr: &Arc<dyn PhysicalExpr>, batch: &RecordBatch) -> Option<BooleanArray> {
    let array = expr
        .evaluate(batch)
        .and_then(|value| value.into_array(batch.num_rows()))
        .ok()?;
    let answer = array.as_any().downcast_ref::<BooleanArray>()?;
    Some(if answer.null_count() > 0 {
        prep_null_mask_filter(answer)
    } else {
        answer.clone()
    })
}

/// The plain comparisons' answers for the last few batches seen on this thread, by condition.
/// An answer is for the very arrays it was computed on: each is known by a weak reference,
/// which keeps its address from being taken by another array without keeping its data (a
/// view's column of the same name is another array).
#[derive(Default)]
struct Answers {
    by_condition: std::collections::HashMap<String, Vec<Answer>>,
}

/// The arrays a condition was evaluated on, and its answer.
type Answer = (Vec<Weak<dyn Array>>, BooleanArray);

/// Answers kept per condition: the event batch's, and those of the views' inputs.
const ANSWERED_BATCHES: usize = 4;

fn same_arrays(seen: &[Weak<dyn Array>], columns: &[ArrayRef]) -> bool {
    seen.len() == columns.len()
        && seen
            .iter()
            .zip(columns)
            .all(|(seen, column)| std::ptr::addr_eq(seen.as_ptr(), Arc::as_ptr(column)))
}

impl Answers {
    fn get(&self, key: &str, columns: &[ArrayRef]) -> Option<BooleanArray> {
        self.by_condition
            .get(key)?
            .iter()
            .find_map(|(seen, answer)| same_arrays(seen, columns).then(|| answer.clone()))
    }

    fn put(&mut self, key: &str, columns: &[ArrayRef], answer: BooleanArray) {
        let kept = self.by_condition.entry(key.to_string()).or_default();
        if kept.len() >= ANSWERED_BATCHES {
            kept.remove(0);
        }
        kept.push((columns.iter().map(Arc::downgrade).collect(), answer));
    }
}

thread_local! {
    static ANSWERS: std::cell::RefCell<Answers> = std::cell::RefCell::new(Answers::default());
    static SUBSETS: std::cell::RefCell<Subsets> = std::cell::RefCell::new(Subsets::default());
}

/// Columns cut down to the rows a costly condition is asked about, for the last few (column,
/// rows) pairs on this thread: rules asking body conditions of the same rows (the pods created
/// in a batch, say) share one copy of those bodies instead of making one each. A column is
/// known by a weak reference, as in [`Answers`].
#[derive(Default)]
struct Subsets {
    kept: std::collections::VecDeque<(Weak<dyn Array>, BooleanArray, ArrayRef)>,
}

/// Subsets kept at most, and their size at most.
const SUBSETS_KEPT: usize = 16;
const SUBSET_BYTES: usize = 64 * 1024 * 1024;

impl Subsets {
    fn filtered(
        &mut self,
        column: &ArrayRef,
        rows: &BooleanArray,
        predicate: &FilterPredicate,
    ) -> Result<ArrayRef, ArrowError> {
        let known = self.kept.iter().find(|(seen, seen_rows, _)| {
            std::ptr::addr_eq(seen.as_ptr(), Arc::as_ptr(column)) && seen_rows == rows
        });
        if let Some((_, _, subset)) = known {
            return Ok(subset.clone());
        }
        let subset = predicate.filter(column)?;
        let size = subset.get_array_memory_size();
        if size <= SUBSET_BYTES / 4 {
            // Subsets of columns no longer in use go first, then the oldest.
            self.kept.retain(|(seen, _, _)| seen.strong_count() > 0);
            while self.kept.len() >= SUBSETS_KEPT || self.bytes() + size > SUBSET_BYTES {
                self.kept.pop_front();
            }
            self.kept
                .push_back((Arc::downgrade(column), rows.clone(), subset.clone()));
        }
        Ok(subset)
    }

    fn bytes(&self) -> usize {
        self.kept
            .iter()
            .map(|(_, _, subset)| subset.get_array_memory_size())
            .sum()
    }
}

#[derive(Default)]
struct Scans {
    count: usize,
    /// One entry per scan with a Filter right on top: the row-only conditions, if any.
    filtered: Vec<Option<Expr>>,
    dropped_conditions: bool,
}

impl Reads {
    /// Looks at an optimized plan; `inputs` are the tables whose rows change between runs,
    /// with their schemas.
    pub fn of(plan: &LogicalPlan, inputs: &[(String, DFSchema)], ctx: &SessionContext) -> Reads {
        let mut tables = BTreeSet::new();
        let mut columns: BTreeMap<String, Option<BTreeSet<usize>>> = BTreeMap::new();
        let mut scans: BTreeMap<String, Scans> = BTreeMap::new();
        let mut only_filters = true;
        let is_input = |name: &str| inputs.iter().any(|(input, _)| input == name);
        // Visiting every node, subqueries included: a scan is covered when a Filter sits
        // right on top of it.
        let _ = plan.apply_with_subqueries(|node| {
            match node {
                LogicalPlan::TableScan(scan) => {
                    let name = scan.table_name.table().to_string();
                    if is_input(&name) {
                        let entry = scans.entry(name.clone()).or_default();
                        entry.count += 1;
                        if scan.fetch.is_some() || !scan.filters.is_empty() {
                            // A limit applies before any filter above; keep every row.
                            entry.filtered.push(None);
                            only_filters = false;
                        }
                    }
                    let read = columns
                        .entry(name.clone())
                        .or_insert_with(|| Some(BTreeSet::new()));
                    match (&scan.projection, read.as_mut()) {
                        (Some(projection), Some(read)) => read.extend(projection.iter().copied()),
                        _ => *read = None,
                    }
                    tables.insert(name);
                }
                LogicalPlan::Filter(filter) => match filter.input.as_ref() {
                    LogicalPlan::TableScan(scan)
                        if is_input(scan.table_name.table())
                            && scan.fetch.is_none()
                            && scan.filters.is_empty() =>
                    {
                        let entry = scans
                            .entry(scan.table_name.table().to_string())
                            .or_default();
                        let (conditions, dropped) = row_conditions(&filter.predicate);
                        entry.dropped_conditions |= dropped;
                        entry.filtered.push(Some(conditions));
                    }
                    _ => only_filters = false,
                },
                LogicalPlan::Projection(_) | LogicalPlan::SubqueryAlias(_) => {}
                _ => only_filters = false,
            }
            Ok(TreeNodeRecursion::Continue)
        });
        let mut prefilters = BTreeMap::new();
        let mut exact = only_filters && scans.len() == 1;
        for (name, scans) in scans {
            exact &= scans.count == 1 && !scans.dropped_conditions;
            if scans.filtered.len() != scans.count {
                exact = false;
                continue;
            }
            let Some(schema) = inputs
                .iter()
                .find(|(input, _)| *input == name)
                .map(|(_, s)| s)
            else {
                continue;
            };
            let expr = scans
                .filtered
                .into_iter()
                .collect::<Option<Vec<Expr>>>()
                .and_then(disjunction)
                .filter(|expr| !matches!(expr, Expr::Literal(..)))
                .and_then(|expr| Prefilter::plan(expr, schema, ctx));
            match expr {
                Some(expr) => {
                    prefilters.insert(name, expr);
                }
                None => exact = false,
            }
        }
        Reads {
            tables,
            prefilters,
            exact,
            columns,
        }
    }

    /// The columns of `table` the query reads; `None` for all of them.
    pub fn columns(&self, table: &str) -> Option<&BTreeSet<usize>> {
        self.columns.get(table).and_then(Option::as_ref)
    }

    /// The rows of `batch` (a batch of the input `table`) the query can use, or `None` when it
    /// can use none. Columns the query does not read come back empty (null) where the schema
    /// allows, so that large columns nobody reads are not copied. Falls back to every row when
    /// the conditions cannot be evaluated.
    pub fn select(&self, table: &str, batch: &RecordBatch) -> Option<RecordBatch> {
        self.select_keeping(table, batch, self.columns(table))
    }

    /// [`Reads::select`], keeping the columns `keep` (`None`: all) instead of those the query
    /// reads.
    pub fn select_keeping(
        &self,
        table: &str,
        batch: &RecordBatch,
        keep: Option<&BTreeSet<usize>>,
    ) -> Option<RecordBatch> {
        if batch.num_rows() == 0 {
            return None;
        }
        rows_of(batch, self.mask(table, batch).as_ref(), keep)
    }

    /// The rows of `batch` (a batch of the input `table`) the query can use, as a mask without
    /// NULLs; `None` when it can use every row (or its conditions cannot be evaluated).
    pub fn mask(&self, table: &str, batch: &RecordBatch) -> Option<BooleanArray> {
        self.prefilters
            .get(table)
            .and_then(|prefilter| prefilter.mask(batch))
    }

    /// Whether the query can use some row of `table`'s input.
    pub fn has_prefilter(&self, table: &str) -> bool {
        self.prefilters.contains_key(table)
    }
}

/// The rows of `batch` that `mask` selects (`None`: all of them), with the columns outside
/// `keep` emptied; `None` when no row is selected. Should the copy fail, every row is handed
/// over: a query given every row still gives its right answer.
pub fn rows_of(
    batch: &RecordBatch,
    mask: Option<&BooleanArray>,
    keep: Option<&BTreeSet<usize>>,
) -> Option<RecordBatch> {
    if batch.num_rows() == 0 {
        return None;
    }
    let Some(mask) = mask else {
        return Some(slim(batch, keep));
    };
    match mask.true_count() {
        0 => None,
        n if n == batch.num_rows() => Some(slim(batch, keep)),
        n => Some(filtered(batch, mask, n, keep).unwrap_or_else(|_| slim(batch, keep))),
    }
}

/// Columns every batch keeps, whatever the query reads: the engine orders and ages rows by
/// their times.
const ALWAYS_KEPT: [&str; 4] = ["stage_at", "request_received_at", "received_at", "audit_id"];

fn dropped(batch: &RecordBatch, index: usize, keep: Option<&BTreeSet<usize>>) -> bool {
    let Some(keep) = keep else {
        return false;
    };
    let field = batch.schema_ref().field(index).clone();
    !keep.contains(&index) && field.is_nullable() && !ALWAYS_KEPT.contains(&field.name().as_str())
}

/// Null columns of `rows` rows, one per type: the columns emptied in one batch share them.
struct Nulls {
    rows: usize,
    made: Vec<ArrayRef>,
}

impl Nulls {
    fn new(rows: usize) -> Self {
        Nulls {
            rows,
            made: Vec::new(),
        }
    }

    fn of(&mut self, data_type: &DataType) -> ArrayRef {
        if let Some(made) = self.made.iter().find(|a| a.data_type() == data_type) {
            return made.clone();
        }
        let made = new_null_array(data_type, self.rows);
        self.made.push(made.clone());
        made
    }
}

/// `batch` with the columns outside `keep` (`None`: all kept) emptied where the schema allows.
pub fn slim(batch: &RecordBatch, keep: Option<&BTreeSet<usize>>) -> RecordBatch {
    if keep.is_none() {
        return batch.clone();
    }
    let mut nulls = Nulls::new(batch.num_rows());
    let columns = (0..batch.num_columns())
        .map(|index| {
            if dropped(batch, index, keep) {
                nulls.of(batch.column(index).data_type())
            } else {
                batch.column(index).clone()
            }
        })
        .collect();
    RecordBatch::try_new(batch.schema(), columns).unwrap_or_else(|_| batch.clone())
}

fn filtered(
    batch: &RecordBatch,
    mask: &BooleanArray,
    rows: usize,
    keep: Option<&BTreeSet<usize>>,
) -> Result<RecordBatch, ArrowError> {
    let predicate = FilterBuilder::new(mask).optimize().build();
    let mut nulls = Nulls::new(rows);
    let columns = (0..batch.num_columns())
        .map(|index| {
            if dropped(batch, index, keep) {
                Ok(nulls.of(batch.column(index).data_type()))
            } else {
                predicate.filter(batch.column(index))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(batch.schema(), columns)
}

/// The conjuncts of `predicate` that need only the row itself, with unqualified columns
/// (`true` when there are none), and whether any conjunct was left out.
fn row_conditions(predicate: &Expr) -> (Expr, bool) {
    let conjuncts = split_conjunction(predicate);
    let total = conjuncts.len();
    let kept: Vec<Expr> = conjuncts
        .into_iter()
        .filter(|expr| !expr.is_volatile() && !needs_more_than_the_row(expr))
        .filter_map(|expr| unqualified(expr.clone()))
        .collect();
    let dropped = kept.len() != total;
    let expr = conjunction(kept).unwrap_or(Expr::Literal(
        datafusion::common::ScalarValue::Boolean(Some(true)),
        None,
    ));
    (expr, dropped)
}

fn needs_more_than_the_row(expr: &Expr) -> bool {
    expr.exists(|e| {
        Ok(matches!(
            e,
            Expr::InSubquery(_)
                | Expr::Exists(_)
                | Expr::ScalarSubquery(_)
                | Expr::OuterReferenceColumn(..)
                | Expr::Placeholder(_)
                | Expr::AggregateFunction(_)
                | Expr::WindowFunction(_)
        ))
    })
    .unwrap_or(true)
}

/// `expr` with its columns unqualified (`e.verb` → `verb`), as a batch's schema names them.
pub(super) fn unqualified(expr: Expr) -> Option<Expr> {
    expr.transform(|e| match e {
        Expr::Column(column) => Ok(Transformed::yes(Expr::Column(Column::new_unqualified(
            column.name,
        )))),
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::input::detection_schema;
    use crate::detect::table::BatchTable;

    async fn reads(sql: &str) -> Reads {
        let ctx = SessionContext::new();
        ctx.register_table("events", Arc::new(BatchTable::new(detection_schema())))
            .unwrap();
        ctx.register_table("lists", Arc::new(BatchTable::new(detection_schema())))
            .unwrap();
        let plan = ctx.sql(sql).await.unwrap().into_optimized_plan().unwrap();
        let schema = DFSchema::try_from(detection_schema().as_ref().clone()).unwrap();
        Reads::of(&plan, &[("events".to_string(), schema)], &ctx)
    }

    #[tokio::test]
    async fn conditions_on_every_scan_make_a_prefilter() {
        let simple = reads("SELECT audit_id FROM events e WHERE e.verb = 'create'").await;
        assert!(simple.has_prefilter("events"));
        assert!(simple.tables.contains("events"));
        let join = reads(
            "SELECT a.audit_id FROM events a JOIN events b ON a.user_name = b.user_name \
             WHERE a.verb = 'create' AND b.verb = 'delete'",
        )
        .await;
        assert!(join.has_prefilter("events"));
        let subquery =
            reads("SELECT audit_id FROM events WHERE user_name IN (SELECT user_name FROM lists)")
                .await;
        assert!(
            !subquery.has_prefilter("events"),
            "only the subquery filters"
        );
        let open = reads(
            "SELECT a.audit_id FROM events a JOIN events b ON a.user_name = b.user_name \
             WHERE a.verb = 'create'",
        )
        .await;
        assert!(!open.has_prefilter("events"), "one scan keeps every row");
        let none = reads("SELECT count(*) FROM events").await;
        assert!(!none.has_prefilter("events"));
        let filter =
            reads("SELECT * FROM events WHERE verb = 'create' AND response_code = 201").await;
        assert!(filter.has_prefilter("events") && filter.exact);
        let partly = reads(
            "SELECT * FROM events WHERE verb = 'create' \
             AND user_name NOT IN (SELECT user_name FROM lists)",
        )
        .await;
        assert!(partly.has_prefilter("events") && !partly.exact);
    }

    /// Audit ID, verb, resource, response code.
    type Row<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<i32>);

    fn events(rows: &[Row<'_>]) -> RecordBatch {
        use schemas::{EventRow, ObjectRef, ResponseStatus};
        let rows: Vec<EventRow> = rows
            .iter()
            .map(|&(id, verb, resource, code)| EventRow {
                audit_id: Some(id.to_string().into()),
                verb: verb.map(|v| v.to_string().into()),
                object: Some(ObjectRef {
                    resource: resource.map(|r| r.to_string().into()),
                    ..ObjectRef::default()
                }),
                response: Some(ResponseStatus {
                    code,
                    ..ResponseStatus::default()
                }),
                request_object: Some(format!("{{\"kind\":\"{id}\"}}").into()),
                ..EventRow::default()
            })
            .collect();
        crate::detect::input::input_batch(rows.iter().map(|row| ("prod", row))).unwrap()
    }

    fn ids(batches: &[RecordBatch]) -> Vec<String> {
        use datafusion::arrow::array::AsArray;
        let mut ids: Vec<String> = batches
            .iter()
            .flat_map(|batch| {
                let column = batch.column_by_name("audit_id").unwrap().as_string::<i32>();
                column
                    .iter()
                    .map(|v| v.unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        ids.sort();
        ids
    }

    #[tokio::test]
    async fn the_prefilter_selects_the_rows_the_query_keeps() {
        let batch = events(&[
            ("a", Some("create"), Some("pods"), Some(201)),
            ("b", Some("create"), Some("secrets"), Some(403)),
            ("c", Some("get"), Some("pods"), None),
            ("d", None, Some("pods"), Some(200)),
            ("e", Some("delete"), None, Some(200)),
            ("f", Some("patch"), Some("deployments"), Some(200)),
        ]);
        let conditions = [
            "verb = 'create' AND object_resource = 'pods'",
            "verb = 'create' OR response_code = 200",
            // NULLs in both branches: a row passes only where SQL says true
            "(verb = 'get' OR object_resource = 'pods') AND NOT (response_code = 403)",
            "verb IN ('create', 'patch') AND (object_resource = 'pods' \
             OR json_get_str(request_object, 'kind') = 'f')",
            "json_get_str(request_object, 'kind') IN ('b', 'c') OR verb = 'delete'",
            "NOT (verb = 'create') OR object_resource IS NULL",
            // a body read without a function, on the rows the comparisons left
            "object_resource = 'pods' AND request_object LIKE '%\"d\"%'",
        ];
        for condition in conditions {
            let sql = format!("SELECT * FROM events WHERE {condition}");
            // As the engine's sessions plan (see `engine::session`).
            let mut config = datafusion::prelude::SessionConfig::new();
            config
                .options_mut()
                .optimizer
                .enable_leaf_expression_pushdown = false;
            let mut ctx = SessionContext::new_with_config(config);
            crate::functions::register(&mut ctx).unwrap();
            let table = Arc::new(BatchTable::new(detection_schema()));
            table.set(Arc::new(vec![batch.clone()]));
            ctx.register_table("events", table).unwrap();
            let frame = ctx.sql(&sql).await.unwrap();
            let plan = frame.clone().into_optimized_plan().unwrap();
            let schema = DFSchema::try_from(detection_schema().as_ref().clone()).unwrap();
            let reads = Reads::of(&plan, &[("events".to_string(), schema)], &ctx);
            assert!(reads.exact, "{condition}: {plan}");
            let expected = ids(&frame.collect().await.unwrap());
            // Twice: the second time the plain comparisons' answers are remembered.
            for _ in 0..2 {
                let selected: Vec<RecordBatch> =
                    reads.select("events", &batch).into_iter().collect();
                assert_eq!(ids(&selected), expected, "{condition}");
            }
        }
    }

    #[test]
    fn rows_cut_from_a_column_are_copied_once_for_the_same_rows() {
        use datafusion::arrow::array::{AsArray, StringArray};
        let bodies: ArrayRef = Arc::new(StringArray::from(vec!["{}", "{\"a\":1}", "[]", "{}"]));
        let other: ArrayRef = Arc::new(StringArray::from(vec!["x", "y", "z", "w"]));
        let rows = BooleanArray::from(vec![false, true, true, false]);
        let predicate = FilterBuilder::new(&rows).build();
        let mut subsets = Subsets::default();
        let first = subsets.filtered(&bodies, &rows, &predicate).unwrap();
        let values: Vec<_> = first.as_string::<i32>().iter().flatten().collect();
        assert_eq!(values, ["{\"a\":1}", "[]"]);
        // Asked again by another rule: the same copy.
        let again = subsets.filtered(&bodies, &rows, &predicate).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        // Other rows, or another column: copied anew.
        let fewer = BooleanArray::from(vec![false, true, false, false]);
        let fewer_predicate = FilterBuilder::new(&fewer).build();
        let cut = subsets.filtered(&bodies, &fewer, &fewer_predicate).unwrap();
        assert_eq!(cut.len(), 1);
        let cut = subsets.filtered(&other, &rows, &predicate).unwrap();
        let values: Vec<_> = cut.as_string::<i32>().iter().flatten().collect();
        assert_eq!(values, ["y", "z"]);
        // A column no longer in use makes way for the next one.
        drop(bodies);
        let third: ArrayRef = Arc::new(StringArray::from(vec!["1", "2", "3", "4"]));
        subsets.filtered(&third, &rows, &predicate).unwrap();
        assert_eq!(subsets.kept.len(), 2);
        // Never more than the bound, the oldest going first.
        let columns: Vec<ArrayRef> = (0..SUBSETS_KEPT + 4)
            .map(|i| Arc::new(StringArray::from(vec![i.to_string(); 4])) as ArrayRef)
            .collect();
        for column in &columns {
            subsets.filtered(column, &rows, &predicate).unwrap();
        }
        assert_eq!(subsets.kept.len(), SUBSETS_KEPT);
        let newest = subsets.filtered(&columns[SUBSETS_KEPT + 3], &rows, &predicate);
        assert!(Arc::ptr_eq(
            &newest.unwrap(),
            &subsets.kept.back().unwrap().2
        ));
        assert!(!subsets
            .kept
            .iter()
            .any(|(seen, _, _)| std::ptr::addr_eq(seen.as_ptr(), Arc::as_ptr(&other))));
    }

    #[tokio::test]
    async fn an_answer_is_for_the_arrays_it_was_computed_on() {
        let reads = reads("SELECT * FROM events WHERE verb = 'create'").await;
        let first = events(&[
            ("a", Some("create"), None, None),
            ("b", Some("get"), None, None),
        ]);
        // The same first columns (a view passing them through) and another `verb`.
        let mut columns = first.columns().to_vec();
        let verb = first.schema().index_of("verb").unwrap();
        columns[verb] = events(&[
            ("a", Some("get"), None, None),
            ("b", Some("create"), None, None),
        ])
        .column(verb)
        .clone();
        let second = RecordBatch::try_new(first.schema(), columns).unwrap();
        let selected = |batch: &RecordBatch| {
            ids(&reads
                .select("events", batch)
                .into_iter()
                .collect::<Vec<_>>())
        };
        assert_eq!(selected(&first), ["a"]);
        assert_eq!(selected(&second), ["b"]);
        assert_eq!(selected(&first), ["a"]);
    }
}
