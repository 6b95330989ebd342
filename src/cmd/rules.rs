//! `auditlens rules list` and `auditlens rules test`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use analyze::detect::Engine;
use anyhow::Context;

use crate::detect::pack::PackArgs;
use crate::detect::{fixtures, public};

#[derive(Debug, clap::Subcommand)]
pub enum RulesCommand {
    /// List the rules with their mode, priority and whether they load.
    List(ListArgs),
    /// Run every rule's fixtures; exits non-zero on any mismatch.
    Test(TestArgs),
    /// Print the rule pack's reference (docs/detections.md), generated from the rule headers.
    Doc(DocArgs),
}

#[derive(Debug, clap::Args)]
pub struct DocArgs {
    #[command(flatten)]
    pub pack: PackArgs,
}

#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum ListFormat {
    #[default]
    Table,
    Jsonl,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub pack: PackArgs,
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub pack: PackArgs,
    /// Directory holding one folder of cases per rule id.
    #[arg(long, default_value = "fixtures/detections")]
    pub fixtures: PathBuf,
    /// Test only these rules (repeatable).
    #[arg(long = "rule")]
    pub only: Vec<String>,
    /// Instead of the fixtures, check the verdicts of public test events listed in this
    /// `cases.jsonl` (e.g. `fixtures/public/cases.jsonl`).
    #[arg(long)]
    pub public: Option<PathBuf>,
    /// Print passing cases too.
    #[arg(long, short)]
    pub verbose: bool,
}

pub fn run(command: RulesCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    match command {
        RulesCommand::List(args) => runtime.block_on(list(args)),
        RulesCommand::Test(args) => runtime.block_on(test(args)),
        RulesCommand::Doc(args) => {
            let pack = args.pack.load()?;
            print!("{}", crate::detect::doc::detections_markdown(&pack.rules));
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let pack = args.pack.load()?;
    let titles: Vec<(String, String, String)> = pack
        .rules
        .iter()
        .map(|r| (r.id.clone(), r.title.clone(), r.level.as_str().to_string()))
        .collect();
    let options = pack.engine_options();
    let engine = Engine::new(pack.rules, options).await;
    let mut out = std::io::stdout().lock();
    let mut healthy = pack.errors.is_empty();
    for error in &pack.errors {
        match args.format {
            ListFormat::Table => writeln!(out, "failed   {error}")?,
            ListFormat::Jsonl => writeln!(
                out,
                "{}",
                serde_json::json!({"file": error.path, "state": "failed", "error": error.to_string()})
            )?,
        }
    }
    for (status, (_, title, level)) in engine.statuses().into_iter().zip(&titles) {
        healthy &= status.state != "failed";
        match args.format {
            ListFormat::Table => {
                writeln!(
                    out,
                    "{:<8} {:<48} {:<13} {:<8} {:<15} {}",
                    status.state, status.id, status.priority, status.mode, level, title
                )?;
                if let Some(error) = &status.error {
                    writeln!(out, "         {error}")?;
                }
            }
            ListFormat::Jsonl => {
                let mut value = serde_json::to_value(&status)?;
                value["title"] = serde_json::Value::from(title.clone());
                value["level"] = serde_json::Value::from(level.clone());
                writeln!(out, "{value}")?;
            }
        }
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn test(args: TestArgs) -> anyhow::Result<ExitCode> {
    let pack = args.pack.load()?;
    let mut out = std::io::stdout().lock();
    let mut failed = 0usize;
    for error in &pack.errors {
        writeln!(out, "FAIL {error}")?;
        failed += 1;
    }
    if let Some(cases) = &args.public {
        let outcomes = public::test_public(&pack, cases).await?;
        let mut counts = [0usize; 3];
        for outcome in &outcomes {
            let slot = match outcome.verdict {
                "pass" => 0,
                "fail" => 1,
                _ => 2,
            };
            counts[slot] += 1;
            if slot != 0 || args.verbose {
                writeln!(
                    out,
                    "{:<4} {}: {}",
                    outcome.verdict.to_uppercase(),
                    outcome.case,
                    outcome.detail
                )?;
            }
        }
        failed += counts[1];
        writeln!(
            out,
            "public cases: {} passed, {} failed, {} skipped",
            counts[0], counts[1], counts[2]
        )?;
    } else {
        let outcomes = fixtures::test_rules(&pack, &args.fixtures, &args.only).await?;
        let rules: std::collections::BTreeSet<&str> =
            outcomes.iter().map(|o| o.rule.as_str()).collect();
        for outcome in &outcomes {
            if !outcome.passed {
                failed += 1;
            }
            if !outcome.passed || args.verbose {
                let mark = if outcome.passed { "ok  " } else { "FAIL" };
                writeln!(
                    out,
                    "{mark} {} {}: {}",
                    outcome.rule, outcome.case, outcome.detail
                )?;
            }
        }
        if !args.only.is_empty() && rules.is_empty() {
            writeln!(out, "FAIL no rule named {}", args.only.join(", "))?;
            failed += 1;
        }
        writeln!(
            out,
            "{} rules, {} cases, {} failed",
            rules.len(),
            outcomes.len(),
            failed
        )?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
