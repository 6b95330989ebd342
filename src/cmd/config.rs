//! The configuration file of `serve` (`--config FILE`, TOML) and `auditlens config check |
//! example | reference`.
//!
//! Every key is a `serve` flag without its dashes, `-` written `_` (`listen`, `tls_cert`,
//! `query_max_concurrent`). Values from the file become the flags' defaults, so a flag beats its
//! environment variable, which beats the file, which beats the built-in default. Unknown keys and
//! values of the wrong type are errors naming the key.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{ArgAction, ArgMatches, Command, FromArgMatches};

/// The flag that names the file, and its environment variable.
pub const CONFIG_FLAG: &str = "--config";
pub const CONFIG_ENV: &str = "AUDITLENS_CONFIG";

/// The key of the rules' lists: a file name, or a table of lists in the file itself.
const LISTS_TABLE: &str = "lists";

/// Arguments of `serve` that are not settings.
const NOT_SETTINGS: &[&str] = &["help", "version", "config", "log_format"];

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file: every unknown key, value of the wrong type and setting
    /// `serve` would refuse is reported with its key.
    Check {
        /// The TOML file.
        file: PathBuf,
    },
    /// Print a configuration file with every key, commented out, its default and its meaning.
    Example,
    /// Print the configuration reference (docs/configuration.md) in Markdown.
    Reference,
}

/// A setting the file can hold.
struct Setting {
    /// The argument's id, for clap.
    id: String,
    /// The long flag without dashes, `-` written `_`.
    key: String,
    flag: String,
    env: Option<String>,
    default: Vec<String>,
    help: String,
    many: bool,
    switch: bool,
}

fn settings(serve: &Command) -> Vec<Setting> {
    serve
        .get_arguments()
        .filter(|arg| !NOT_SETTINGS.contains(&arg.get_id().as_str()) && arg.get_long().is_some())
        .map(|arg| {
            let many = matches!(arg.get_action(), ArgAction::Append)
                || arg.get_value_delimiter().is_some();
            Setting {
                id: arg.get_id().as_str().to_string(),
                key: arg.get_long().unwrap_or_default().replace('-', "_"),
                flag: format!("--{}", arg.get_long().unwrap_or_default()),
                env: arg.get_env().map(|env| env.to_string_lossy().into_owned()),
                default: arg
                    .get_default_values()
                    .iter()
                    .map(|v| v.to_string_lossy().into_owned())
                    .collect(),
                help: arg
                    .get_long_help()
                    .or(arg.get_help())
                    .map(|help| help.to_string().replace('\n', " "))
                    .unwrap_or_default(),
                many,
                switch: matches!(arg.get_action(), ArgAction::SetTrue),
            }
        })
        .collect()
}

/// The `serve` subcommand of `cli`.
fn serve_command(cli: &Command) -> Command {
    cli.find_subcommand("serve")
        .cloned()
        .expect("the serve subcommand exists")
}

/// The values of a configuration file, each as the flag's text: one value, or several.
fn read_file(path: &Path, serve: &Command) -> anyhow::Result<Vec<(String, Vec<String>)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?;
    let known = settings(serve);
    let mut values = Vec::new();
    let mut problems = Vec::new();
    for (key, value) in &table {
        if key == LISTS_TABLE && value.is_table() {
            // The lists of the rules, in the file itself: the rule pack reads its `[lists]`.
            values.push((LISTS_TABLE.to_string(), vec![path.display().to_string()]));
            continue;
        }
        let id = key.replace('-', "_");
        let Some(setting) = known.iter().find(|s| s.key == id) else {
            problems.push(format!("{key}: unknown key"));
            continue;
        };
        match text_of(value, setting) {
            Ok(texts) => values.push((setting.id.clone(), texts)),
            Err(expected) => problems.push(format!("{key}: expected {expected}")),
        }
    }
    if !problems.is_empty() {
        bail!("{}:\n  {}", path.display(), problems.join("\n  "));
    }
    Ok(values)
}

/// A TOML value as the text(s) its flag takes; `Err` names what was expected.
fn text_of(value: &toml::Value, setting: &Setting) -> Result<Vec<String>, &'static str> {
    let scalar = |value: &toml::Value| match value {
        toml::Value::String(text) => Some(text.clone()),
        toml::Value::Integer(n) => Some(n.to_string()),
        toml::Value::Float(x) => Some(x.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    };
    if setting.switch {
        return match value {
            toml::Value::Boolean(b) => Ok(vec![b.to_string()]),
            _ => Err("true or false"),
        };
    }
    match value {
        toml::Value::Array(items) if setting.many => items
            .iter()
            .map(|item| scalar(item).ok_or("an array of strings or numbers"))
            .collect(),
        toml::Value::Array(_) => Err("one value, not an array"),
        other => scalar(other)
            .map(|text| vec![text])
            .ok_or("a string or a number"),
    }
}

/// `--config FILE` or `AUDITLENS_CONFIG`, when `serve` is the command.
fn config_path(argv: &[String]) -> Option<PathBuf> {
    if !argv.iter().skip(1).any(|a| a == "serve") {
        return None;
    }
    let mut args = argv.iter();
    while let Some(arg) = args.next() {
        if arg == CONFIG_FLAG {
            return args.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os(CONFIG_ENV).map(PathBuf::from)
}

/// `cli` with the file's values as the `serve` flags' defaults.
fn with_file_defaults(cli: Command, values: Vec<(String, Vec<String>)>) -> Command {
    cli.mut_subcommand("serve", |mut serve| {
        for (key, texts) in values {
            serve = serve.mut_arg(key, |arg| {
                let texts: Vec<clap::builder::OsStr> = texts
                    .into_iter()
                    .map(|text| clap::builder::Str::from(text).into())
                    .collect();
                arg.default_values(texts)
            });
        }
        serve
    })
}

/// Parses the command line, with a `serve --config` file's values as defaults.
pub fn parse<T: FromArgMatches>(cli: Command, argv: Vec<String>) -> anyhow::Result<T> {
    let cli = match config_path(&argv) {
        Some(path) => {
            let values = read_file(&path, &serve_command(&cli))?;
            with_file_defaults(cli, values)
        }
        None => cli,
    };
    let matches: ArgMatches = cli.try_get_matches_from(argv).unwrap_or_else(|e| e.exit());
    T::from_arg_matches(&matches).map_err(|e| anyhow::anyhow!(e.to_string()))
}

pub fn run(command: ConfigCommand, cli: Command) -> anyhow::Result<ExitCode> {
    let serve = serve_command(&cli);
    match command {
        ConfigCommand::Check { file } => {
            let values = read_file(&file, &serve)?;
            let cli = with_file_defaults(cli, values);
            let matches = cli
                .try_get_matches_from(["auditlens", "serve"])
                .map_err(|e| anyhow::anyhow!("{}: {}", file.display(), e.render()))?;
            let parsed = super::Cli::from_arg_matches(&matches)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let super::Command::Serve(args) = parsed.command else {
                bail!("{}: not a serve configuration", file.display());
            };
            super::serve::check(&args).with_context(|| format!("{}", file.display()))?;
            println!("{}: ok", file.display());
        }
        ConfigCommand::Example => print!("{}", example(&serve)),
        ConfigCommand::Reference => print!("{}", reference(&serve)),
    }
    Ok(ExitCode::SUCCESS)
}

/// A TOML file with every setting commented out.
fn example(serve: &Command) -> String {
    let mut out = String::from(
        "# auditlens serve --config FILE (or AUDITLENS_CONFIG=FILE).\n\
         # Every key is a flag of `auditlens serve`; a flag or its environment variable overrides\n\
         # the file. Uncomment what you change; unknown keys are errors.\n\
         # The rules' allow-lists can be a file (lists = \"FILE\") or a table at the end of this one:\n\
         #   [lists]\n\
         #   trusted_users = [\"alice@example.com\"]\n",
    );
    for setting in settings(serve) {
        out.push('\n');
        for line in wrap(&setting.help, 96) {
            out.push_str(&format!("# {line}\n"));
        }
        if let Some(env) = &setting.env {
            out.push_str(&format!("# flag {}, environment {env}\n", setting.flag));
        }
        out.push_str(&format!("# {} = {}\n", setting.key, toml_value(&setting)));
    }
    out
}

fn toml_value(setting: &Setting) -> String {
    let quote = |text: &str| {
        if setting.switch || text.parse::<f64>().is_ok() && !text.contains(':') {
            text.to_string()
        } else {
            toml::Value::String(text.to_string()).to_string()
        }
    };
    if setting.switch {
        return setting
            .default
            .first()
            .cloned()
            .unwrap_or_else(|| "false".into());
    }
    if setting.many {
        let items: Vec<String> = setting.default.iter().map(|t| quote(t)).collect();
        return format!("[{}]", items.join(", "));
    }
    match setting.default.first() {
        Some(text) => quote(text),
        None => "\"\"  # no default".to_string(),
    }
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.len() + word.len() + 1 > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

/// The Markdown reference: every key with its flag, environment variable and default.
fn reference(serve: &Command) -> String {
    let mut out = String::from(
        "# Configuration reference\n\n\
         <!-- Generated by `auditlens config reference`; a test keeps it current. -->\n\n\
         `auditlens serve` takes every setting as a flag, an environment variable, or a key of a\n\
         TOML file given with `--config FILE` (or `AUDITLENS_CONFIG`). A flag beats its environment\n\
         variable, which beats the file, which beats the default. Keys are the flags without their\n\
         dashes, `-` written `_`; repeatable or comma-separated flags take an array. Unknown keys\n\
         and values of the wrong type are errors naming the key. The rules' lists (allow-lists and\n\
         deny-lists, see [rules.md](rules.md#lists-allow-lists-and-deny-lists)) are a file named by\n\
         `lists`, or a `[lists]` table in the configuration file itself.\n\n\
         ```sh\n\
         auditlens config example > auditlens.toml   # every key, commented out\n\
         auditlens config check auditlens.toml       # what serve would refuse, before a rollout\n\
         auditlens serve --config auditlens.toml\n\
         ```\n\n\
         | key | flag | environment | default | meaning |\n|---|---|---|---|---|\n",
    );
    for setting in settings(serve) {
        let default = if setting.default.is_empty() {
            String::new()
        } else {
            format!("`{}`", setting.default.join(","))
        };
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {} |\n",
            setting.key,
            setting.flag,
            setting
                .env
                .as_deref()
                .map(|e| format!("`{e}`"))
                .unwrap_or_default(),
            default,
            setting.help.replace('|', "\\|")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn serve() -> Command {
        serve_command(&super::super::Cli::command())
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_all_named() {
        let config = file("listen = \"0.0.0.0:9765\"\nlisten_adress = \"x\"\nmax_in_flight = [1]\nno_rules = \"yes\"\n");
        let error = read_file(config.path(), &serve()).unwrap_err().to_string();
        assert!(error.contains("listen_adress: unknown key"), "{error}");
        assert!(
            error.contains("max_in_flight: expected one value"),
            "{error}"
        );
        assert!(
            error.contains("no_rules: expected true or false"),
            "{error}"
        );
        assert!(!error.contains("listen:"), "{error}");
    }

    #[test]
    fn a_lists_table_makes_the_file_the_lists_file() {
        let config = file("listen = \"127.0.0.1:9765\"\n[lists]\ntrusted_users = [\"alice\"]\n");
        let values = read_file(config.path(), &serve()).unwrap();
        let lists = values.iter().find(|(id, _)| id == "lists").unwrap();
        assert_eq!(lists.1, [config.path().display().to_string()]);
        let mut loaded = analyze::detect::lists::Lists::default();
        loaded.override_from_toml(config.path()).unwrap();
        assert_eq!(
            loaded.get("trusted_users"),
            Some(&["alice".to_string()][..])
        );
        assert_eq!(loaded.get("listen"), None);
    }

    #[test]
    fn every_setting_has_help_and_a_key_of_the_flag() {
        let all = settings(&serve());
        assert!(all.len() > 30, "{}", all.len());
        for setting in &all {
            assert!(!setting.help.is_empty(), "{} has no help", setting.key);
            assert_eq!(
                setting.flag.trim_start_matches("--").replace('-', "_"),
                setting.key
            );
        }
    }

    #[test]
    fn the_example_is_valid_toml_that_sets_nothing() {
        let text = example(&serve());
        let table: toml::Table = toml::from_str(&text).unwrap();
        assert!(table.is_empty());
        // Uncommented, every line of it parses and is accepted.
        let uncommented: String = text
            .lines()
            .filter_map(|line| line.strip_prefix("# "))
            .filter(|line| {
                line.split_once(" = ")
                    .is_some_and(|(key, _)| !key.contains(' '))
            })
            .filter(|line| !line.contains("# no default"))
            .map(|line| format!("{line}\n"))
            .collect();
        let config = file(&uncommented);
        read_file(config.path(), &serve()).unwrap();
    }
}
