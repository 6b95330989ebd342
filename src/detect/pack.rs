//! Loading a rule pack: the rules of a directory and the lists beside it.

use std::path::{Path, PathBuf};

use analyze::detect::{load_dir, Lists, Rule, RuleError};
use anyhow::Context;

/// Where the rule pack is, unless `--rules` says otherwise.
pub const DEFAULT_RULES_DIR: &str = "queries/detections";

/// `--rules` and `--lists`, shared by the commands that run rules.
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
}

impl PackArgs {
    pub fn load(&self) -> anyhow::Result<Pack> {
        let (rules, errors) = load_dir(&self.rules)
            .with_context(|| format!("cannot read rules from {}", self.rules.display()))?;
        let mut lists = Lists::load_dir(&default_lists_dir(&self.rules))?;
        if let Some(path) = &self.lists {
            lists.override_from_toml(path)?;
        }
        Ok(Pack {
            rules,
            errors,
            lists,
        })
    }
}

/// `RULES/../lists`.
pub fn default_lists_dir(rules: &Path) -> PathBuf {
    rules
        .parent()
        .map_or_else(|| PathBuf::from("lists"), |parent| parent.join("lists"))
}
