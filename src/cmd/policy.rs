//! `auditlens policy explain`: how an audit policy decides one request, and
//! `auditlens coverage`: whether a policy (and the stored stream) covers CIS 3.2.1/3.2.2.

use std::path::PathBuf;
use std::process::ExitCode;

use analyze::coverage::{build_report, explain_json, explain_text, preset_names, Policy, Request};
use analyze::observed::{observe, ObservedOptions};
use analyze::{open_session, QueryOptions};
use anyhow::{bail, Context};

use super::DataDirArg;

/// Where the policy comes from: a file or a built-in preset.
#[derive(Debug, Clone, clap::Args)]
pub struct PolicySource {
    /// An `audit.k8s.io/v1` Policy file (what kube-apiserver's --audit-policy-file points at).
    #[arg(long, value_name = "FILE", conflicts_with = "preset")]
    pub policy: Option<PathBuf>,
    /// A built-in preset: Kubermatic's `metadata`, `minimal` or `recommended`.
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
}

impl PolicySource {
    /// The policy and the name reports give it; `None` when neither flag was given.
    pub fn load(&self) -> anyhow::Result<Option<(String, Policy)>> {
        if let Some(path) = &self.policy {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the policy file {}", path.display()))?;
            let policy = Policy::from_yaml(&text)
                .with_context(|| format!("the policy file {}", path.display()))?;
            for warning in &policy.warnings {
                tracing::warn!(policy = %path.display(), "{warning}");
            }
            return Ok(Some((path.display().to_string(), policy)));
        }
        if let Some(name) = &self.preset {
            let policy = analyze::coverage::load_preset(name).with_context(|| {
                format!(
                    "--preset {name}: the built-in presets are {}",
                    preset_names().join(", ")
                )
            })?;
            return Ok(Some((format!("preset {name}"), policy)));
        }
        Ok(None)
    }

    fn require(&self) -> anyhow::Result<(String, Policy)> {
        match self.load()? {
            Some(found) => Ok(found),
            None => bail!(
                "give --policy FILE or --preset NAME ({})",
                preset_names().join(", ")
            ),
        }
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// How the policy decides one request: the level, the omitted stages and the deciding rule.
    Explain(ExplainArgs),
}

#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum ExplainFormat {
    #[default]
    Text,
    /// `{"level":…, "omit_stages":[…], "rule_index":…}`.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub source: PolicySource,
    /// The request's verb: get, list, watch, create, update, patch, delete, deletecollection,
    /// or for a --path the lower-case HTTP method.
    #[arg(long)]
    pub verb: String,
    /// The resource, with a subresource after a slash: `secrets`, `pods/exec`.
    #[arg(long, value_name = "RESOURCE[/SUBRESOURCE]", conflicts_with = "path")]
    pub resource: Option<String>,
    /// The API group; empty (the default) is the core group.
    #[arg(long, default_value = "")]
    pub api_group: String,
    #[arg(long, default_value = "")]
    pub namespace: String,
    /// The object's name.
    #[arg(long, default_value = "")]
    pub name: String,
    /// The user; without it the request has no user, as when authentication failed.
    #[arg(long)]
    pub user: Option<String>,
    /// The user's groups.
    #[arg(long, value_delimiter = ',', requires = "user")]
    pub groups: Vec<String>,
    /// A non-resource URL path (`/healthz`, `/metrics`) instead of a resource.
    #[arg(long)]
    pub path: Option<String>,
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,
}

pub fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Explain(args) => explain(args),
    }
}

fn explain(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let (_, policy) = args.source.require()?;
    let mut request = match (&args.resource, &args.path) {
        (Some(resource), None) => {
            let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
            Request::resource(&args.verb, &args.api_group, resource)
                .subresource(subresource)
                .in_namespace(&args.namespace)
                .named(&args.name)
        }
        (None, Some(path)) => Request::non_resource(&args.verb, path),
        _ => bail!("give --resource RESOURCE[/SUBRESOURCE] or --path /URL"),
    };
    if let Some(user) = &args.user {
        let groups: Vec<&str> = args.groups.iter().map(String::as_str).collect();
        request = request.by(user, &groups);
    }
    let decision = policy.evaluate(&request);
    match args.format {
        ExplainFormat::Text => print!("{}", explain_text(&policy, &request, &decision)),
        ExplainFormat::Json => println!("{}", explain_json(&decision)),
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum ReportFormat {
    #[default]
    Text,
    Json,
    Markdown,
}

#[derive(Debug, clap::Args)]
pub struct CoverageArgs {
    #[command(flatten)]
    pub source: PolicySource,
    /// Report on the stored events instead of the policy: what the stream shows, and which
    /// policy (the presets, or the --policy/--preset given as the declared one) it matches.
    #[arg(long)]
    pub observed: bool,
    #[command(flatten)]
    pub data: DataDirArg,
    /// `--observed`: only this cluster's events.
    #[arg(long, requires = "observed")]
    pub cluster: Option<String>,
    /// `--observed`: only events of this recent period (`24h`, `7d`).
    #[arg(long, value_parser = humantime::parse_duration, requires = "observed")]
    pub since: Option<std::time::Duration>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Exit with 1 when a requirement fails (for CI jobs that gate on the policy).
    #[arg(long)]
    pub fail_on_failure: bool,
}

pub fn coverage(args: CoverageArgs) -> anyhow::Result<ExitCode> {
    let failed = if args.observed {
        let since_micros = args.since.map(|since| {
            chrono::Utc::now().timestamp_micros() - since.as_micros().min(i64::MAX as u128) as i64
        });
        let options = ObservedOptions {
            cluster: args.cluster.clone(),
            since_micros,
            declared: args.source.load()?,
        };
        let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
        let report = runtime.block_on(async {
            let session = open_session(&args.data.data_dir, &QueryOptions::default()).await?;
            anyhow::Ok(observe(&session, &options).await?)
        })?;
        match args.format {
            ReportFormat::Json => println!("{}", report.to_json()),
            ReportFormat::Text => print!("{}", report.to_text()),
            ReportFormat::Markdown => print!("{}", report.to_markdown()),
        }
        report.failed > 0 || report.policies.iter().any(|p| p.declared && !p.consistent)
    } else {
        let (source, policy) = args.source.require()?;
        let report = build_report(&policy, &source);
        match args.format {
            ReportFormat::Json => println!("{}", report.to_json()),
            ReportFormat::Text => print!("{}", report.to_text()),
            ReportFormat::Markdown => print!("{}", report.to_markdown()),
        }
        report.failed > 0
    };
    Ok(if failed && args.fail_on_failure {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
