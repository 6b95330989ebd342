//! The audit policy presets of Kubermatic KKP (`spec.auditLogging.policyPreset`), built in.
//!
//! The YAML files in `presets/` are KKP's policy texts (Apache-2.0, source in each file's header),
//! embedded at compile time.

use std::fmt;
use std::str::FromStr;

use super::error::PolicyError;
use super::policy::Policy;

/// A built-in KKP preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// One catch-all `Metadata` rule, nothing omitted. Also what KKP writes for the preset `""`.
    Metadata,
    /// Workload changes and exec/proxy in detail, secrets, configmaps and pod logs at `Metadata`,
    /// everything else unlogged.
    Minimal,
    /// Workload changes and exec/proxy in full, everything else at `Metadata`.
    Recommended,
}

impl Preset {
    /// Every preset, in name order.
    pub const ALL: [Preset; 3] = [Preset::Metadata, Preset::Minimal, Preset::Recommended];

    /// The name KKP uses.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Metadata => "metadata",
            Preset::Minimal => "minimal",
            Preset::Recommended => "recommended",
        }
    }

    /// The policy file, with its licence header.
    pub fn yaml(self) -> &'static str {
        match self {
            Preset::Metadata => include_str!("presets/metadata.yaml"),
            Preset::Minimal => include_str!("presets/minimal.yaml"),
            Preset::Recommended => include_str!("presets/recommended.yaml"),
        }
    }

    /// The parsed policy.
    pub fn policy(self) -> Policy {
        // Cannot fail: the embedded files are checked by `every_preset_parses_cleanly`.
        Policy::from_yaml(self.yaml()).expect("a built-in preset is a valid policy")
    }
}

/// The names of the built-in presets, for help texts and listings.
pub fn preset_names() -> [&'static str; 3] {
    Preset::ALL.map(Preset::name)
}

/// The parsed policy of the preset called `name`.
pub fn load_preset(name: &str) -> Result<Policy, PolicyError> {
    let preset: Preset = name.parse()?;
    Ok(preset.policy())
}

impl FromStr for Preset {
    type Err = PolicyError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Preset::ALL
            .into_iter()
            .find(|preset| preset.name() == name)
            .ok_or_else(|| PolicyError::UnknownPreset {
                name: name.to_owned(),
            })
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::super::level::{Level, Stage};
    use super::*;

    #[test]
    fn every_preset_parses_cleanly() {
        for preset in Preset::ALL {
            let policy = Policy::from_yaml(preset.yaml()).unwrap();
            assert!(
                policy.warnings.is_empty(),
                "{preset}: {:?}",
                policy.warnings
            );
            assert!(preset
                .yaml()
                .starts_with("# SPDX-License-Identifier: Apache-2.0"));
        }
    }

    #[test]
    fn presets_have_the_documented_shape() {
        let metadata = Preset::Metadata.policy();
        assert_eq!(metadata.rules.len(), 1);
        assert!(metadata.omit_stages.is_empty());
        let recommended = Preset::Recommended.policy();
        assert_eq!(recommended.rules.len(), 3);
        assert_eq!(recommended.omit_stages, [Stage::RequestReceived]);
        let minimal = Preset::Minimal.policy();
        let levels: Vec<Level> = minimal.rules.iter().map(|rule| rule.level).collect();
        assert_eq!(
            levels,
            [Level::RequestResponse, Level::Request, Level::Metadata]
        );
    }

    #[test]
    fn names() {
        assert_eq!(preset_names(), ["metadata", "minimal", "recommended"]);
        assert_eq!(load_preset("minimal").unwrap(), Preset::Minimal.policy());
        let err = load_preset("full").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown audit policy preset `full`: expected one of metadata, minimal, recommended"
        );
    }
}
