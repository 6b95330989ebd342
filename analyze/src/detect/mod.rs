//! Detections: SQL rules run over events as they arrive, over sliding windows and against
//! history, turned into alerts.
//!
//! - [`rule`]: a rule file's header and SQL, parsed and checked ([`Rule`]);
//! - [`lists`]: named allow-/deny-lists, visible to rules as tables ([`Lists`]);
//! - [`in_list`]: the `in_list(value, 'list')` SQL function over those lists;
//! - [`input`]: the batch rules read as `events` (the stored columns plus `cluster`);
//! - [`views`]: named views rules share (`queries/views/`);
//! - [`table`]: the in-memory table whose rows change between runs;
//! - [`prefilter`]: which tables a planned query reads and which rows of `events` it can use;
//! - [`window`]: the bounded sliding window of a window or sequence rule;
//! - [`bodies`]: the parts of request and response bodies a window keeps;
//! - [`output`]: result rows into alert fields and the output text;
//! - [`dedup`]: suppression of repeated alerts;
//! - [`engine`]: [`Engine`], which runs the pack and reports each rule's status.

pub mod bodies;
pub mod dedup;
pub mod engine;
pub mod in_list;
pub mod input;
pub mod lists;
pub mod output;
pub mod prefilter;
pub mod rule;
pub mod table;
pub mod views;
pub mod window;

pub use engine::{Engine, EngineOptions, RuleStatus};
pub use input::{detection_schema, event_times, in_time_order, input_batch};
pub use lists::Lists;
pub use rule::{load_dir, parse_rule, Mode, PolicyLevel, Rule, RuleError};
pub use views::{load_views, View};
