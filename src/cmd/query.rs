//! `auditlens query "SQL"`: read-only SQL over the stored `events` and `quarantine` tables, and
//! the saved investigations (`--saved NAME --param KEY=VALUE`, `--list-saved`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use analyze::{open_session, run_query, saved, write_results, OutputFormat, QueryOptions};
use anyhow::{bail, Context};

use super::DataDirArg;

/// How results are printed.
#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum Format {
    /// An aligned table, for people.
    #[default]
    Table,
    /// One JSON object per row.
    Jsonl,
    /// CSV with a header line.
    Csv,
}

impl From<Format> for OutputFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Table => OutputFormat::Table,
            Format::Jsonl => OutputFormat::Jsonl,
            Format::Csv => OutputFormat::Csv,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// The SQL statement. Only queries run (SELECT, WITH, EXPLAIN, SHOW); DDL, DML, COPY and SET are refused.
    #[arg(required_unless_present_any = ["saved", "list_saved"], conflicts_with_all = ["saved", "list_saved"])]
    pub sql: Option<String>,
    /// Run a saved investigation by name (a file NAME.sql in --queries).
    #[arg(long, value_name = "NAME")]
    pub saved: Option<String>,
    /// A parameter of the saved investigation, KEY=VALUE (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE", requires = "saved")]
    pub params: Vec<String>,
    /// List the saved investigations and their parameters.
    #[arg(long, conflicts_with = "saved")]
    pub list_saved: bool,
    /// Directory of the saved investigations.
    #[arg(long, default_value = "queries/forensics", env = "AUDITLENS_QUERIES")]
    pub queries: PathBuf,
}

/// `--list-saved`: name, title, parameters, description.
fn list_saved(dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    for query in saved::load_dir(dir)? {
        writeln!(out, "{}  {}", query.name, query.title)?;
        for param in &query.params {
            match &param.default {
                Some(default) => writeln!(
                    out,
                    "    --param {}=…  {} (default {default:?})",
                    param.name, param.description
                )?,
                None => writeln!(
                    out,
                    "    --param {}=…  {} (required)",
                    param.name, param.description
                )?,
            }
        }
        writeln!(out, "    {}", query.description)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The SQL a command line asks for: the statement, or a saved investigation bound to its
/// parameters.
fn statement(args: &QueryArgs) -> anyhow::Result<String> {
    if let Some(name) = &args.saved {
        let query = saved::find(&args.queries, name)?;
        let mut values = BTreeMap::new();
        for param in &args.params {
            let Some((key, value)) = param.split_once('=') else {
                bail!("--param `{param}`: expected KEY=VALUE");
            };
            values.insert(key.trim().to_string(), value.to_string());
        }
        return Ok(query.bind(&values)?);
    }
    args.sql
        .clone()
        .ok_or_else(|| anyhow::anyhow!("give the SQL, --saved NAME or --list-saved"))
}

pub fn run(args: QueryArgs) -> anyhow::Result<ExitCode> {
    if args.list_saved {
        return list_saved(&args.queries);
    }
    let sql = statement(&args)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let session = open_session(&args.data.data_dir, &QueryOptions::default()).await?;
        let results = run_query(&session, &sql).await?;
        let stdout = std::io::stdout().lock();
        // The table format notes itself when it leaves rows out.
        write_results(results, args.format.into(), std::io::BufWriter::new(stdout)).await?;
        std::io::stdout().flush().ok();
        Ok(ExitCode::SUCCESS)
    })
}
