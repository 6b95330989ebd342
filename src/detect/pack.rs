//! Loading a rule pack: the rules of a directory and the lists beside it.

use std::path::{Path, PathBuf};

use analyze::detect::{load_dir, load_views, EngineOptions, Lists, Rule, RuleError, View};
use anyhow::Context;

/// Where the rule pack is, unless `--rules` says otherwise.
pub const DEFAULT_RULES_DIR: &str = "queries/detections";

/// `--rules` and `--lists`, shared by the commands that run rules. Views rules share are read
/// from `RULES/../views/`.
#[derive(Debug, Clone, clap::Args)]
pub struct PackArgs {
    /// Directory of rule files (`*.sql`).
    #[arg(long, default_value = DEFAULT_RULES_DIR, env = "AUDITLENS_RULES")]
    pub rules: PathBuf,
    /// TOML file of lists (`name = ["value", …]`) replacing the rule pack's defaults from
    /// `RULES/../lists/<name>.txt`.
    #[arg(long, env = "AUDITLENS_LISTS")]
    pub lists: Option<PathBuf>,
}

/// A loaded pack: the rules that parsed, the files that did not, and the lists.
pub struct Pack {
    pub rules: Vec<Rule>,
    pub errors: Vec<RuleError>,
    pub lists: Lists,
    pub views: Vec<View>,
}

impl Pack {
    /// Engine options with this pack's lists and views.
    pub fn engine_options(&self) -> EngineOptions {
        EngineOptions {
            lists: self.lists.clone(),
            views: self.views.clone(),
            ..EngineOptions::default()
        }
    }
}

impl PackArgs {
    pub fn load(&self) -> anyhow::Result<Pack> {
        let (rules, errors) = load_dir(&self.rules)
            .with_context(|| format!("cannot read rules from {}", self.rules.display()))?;
        let mut lists = Lists::load_dir(&default_lists_dir(&self.rules))?;
        if let Some(path) = &self.lists {
            lists.override_from_toml(path)?;
        }
        let views_dir = sibling(&self.rules, "views");
        let views = load_views(&views_dir)
            .with_context(|| format!("cannot read views from {}", views_dir.display()))?;
        Ok(Pack {
            rules,
            errors,
            lists,
            views,
        })
    }
}

/// `RULES/../lists`.
pub fn default_lists_dir(rules: &Path) -> PathBuf {
    sibling(rules, "lists")
}

fn sibling(rules: &Path, name: &str) -> PathBuf {
    rules
        .parent()
        .map_or_else(|| PathBuf::from(name), |parent| parent.join(name))
}
