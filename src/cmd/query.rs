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
    /// Ask a running `auditlens serve` (its `POST /v1/query`) instead of reading --data-dir:
    /// its base URL, e.g. https://auditlens.example:9765.
    #[arg(long, value_name = "URL", env = "AUDITLENS_SERVER")]
    pub server: Option<String>,
    /// Bearer token for --server (one of its --tokens-file).
    #[arg(long, requires = "server", env = "AUDITLENS_TOKEN")]
    pub token: Option<String>,
}

/// `--server`: the same query over HTTP, printed in the same formats.
fn run_remote(args: &QueryArgs, server: &str) -> anyhow::Result<ExitCode> {
    let base = server.trim_end_matches('/');
    let client = reqwest::Client::builder()
        .build()
        .context("cannot build the HTTP client")?;
    let with_token = |request: reqwest::RequestBuilder| match &args.token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        if args.list_saved {
            let response = with_token(client.get(format!("{base}/v1/saved")))
                .send()
                .await
                .with_context(|| format!("cannot reach {base}"))?;
            #[derive(serde::Deserialize)]
            struct Listing {
                saved: Vec<saved::SavedQuery>,
            }
            let listing: Listing = answer(response)
                .await?
                .json()
                .await
                .context("the server's list of saved investigations is unreadable")?;
            return print_saved(&listing.saved);
        }
        let mut body = serde_json::Map::new();
        match (&args.saved, &args.sql) {
            (Some(name), _) => {
                body.insert("saved".into(), name.clone().into());
                let mut params = serde_json::Map::new();
                for param in &args.params {
                    let Some((key, value)) = param.split_once('=') else {
                        bail!("--param `{param}`: expected KEY=VALUE");
                    };
                    params.insert(key.trim().to_string(), value.into());
                }
                body.insert("params".into(), params.into());
            }
            (None, Some(sql)) => {
                body.insert("sql".into(), sql.clone().into());
            }
            (None, None) => bail!("give the SQL, --saved NAME or --list-saved"),
        }
        let accept = match args.format {
            Format::Jsonl => "application/x-ndjson",
            Format::Csv => "text/csv",
            Format::Table => crate::query_api::ARROW_STREAM,
        };
        let response = with_token(client.post(format!("{base}/v1/query")))
            .header("accept", accept)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("cannot reach {base}"))?;
        let mut response = answer(response).await?;
        let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
        match args.format {
            Format::Jsonl | Format::Csv => {
                while let Some(chunk) = response.chunk().await.context("the results broke off")? {
                    stdout.write_all(&chunk)?;
                }
            }
            Format::Table => {
                let bytes = response.bytes().await.context("the results broke off")?;
                let reader = datafusion::arrow::ipc::reader::StreamReader::try_new(
                    std::io::Cursor::new(bytes),
                    None,
                )
                .context("the server's Arrow stream is unreadable")?;
                let mut writer = analyze::output::ResultWriter::new(
                    OutputFormat::Table,
                    reader.schema(),
                    &mut stdout,
                );
                for batch in reader {
                    if writer.write(&batch?)? == analyze::output::Flow::Stop {
                        break;
                    }
                }
                writer.finish()?;
            }
        }
        stdout.flush()?;
        Ok(ExitCode::SUCCESS)
    })
}

/// `response` when it is a success; else its `error` message as the error.
async fn answer(response: reqwest::Response) -> anyhow::Result<reqwest::Response> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or(text);
    bail!("the server answered {status}: {message}")
}

/// `--list-saved`: name, title, parameters, description.
fn print_saved(all: &[saved::SavedQuery]) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    for query in all {
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
    if let Some(server) = &args.server {
        return run_remote(&args, server);
    }
    if args.list_saved {
        return print_saved(&saved::load_dir(&args.queries)?);
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
