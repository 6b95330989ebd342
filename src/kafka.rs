//! Kafka connection settings shared by the alert sink and the event source: brokers, client id,
//! compression, TLS and SASL, turned into a librdkafka client configuration.

use std::path::PathBuf;

use anyhow::{bail, Context};
use rdkafka::config::ClientConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SaslMechanism {
    #[value(name = "PLAIN")]
    Plain,
    #[value(name = "SCRAM-SHA-256")]
    ScramSha256,
    #[value(name = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// How to reach Kafka (Apache Kafka, Redpanda or any Kafka-protocol broker).
#[derive(Debug, Clone, clap::Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap brokers, HOST:PORT[,…]. With --alerts-topic, alerts go to Kafka.
    #[arg(long, value_delimiter = ',', env = "AUDITLENS_KAFKA_BROKERS")]
    pub kafka_brokers: Vec<String>,
    /// Client id the brokers see (quotas, logs).
    #[arg(long, default_value = "auditlens", env = "AUDITLENS_KAFKA_CLIENT_ID")]
    pub kafka_client_id: String,
    /// Compression of produced messages.
    #[arg(
        long,
        value_enum,
        default_value = "zstd",
        env = "AUDITLENS_KAFKA_COMPRESSION"
    )]
    pub kafka_compression: Compression,
    /// Connect with TLS (implied by --kafka-ca and --kafka-cert).
    #[arg(long, env = "AUDITLENS_KAFKA_TLS")]
    pub kafka_tls: bool,
    /// CA certificate (PEM) that signs the brokers' certificates; default: the system's.
    #[arg(long, env = "AUDITLENS_KAFKA_CA")]
    pub kafka_ca: Option<PathBuf>,
    /// Client certificate (PEM) for brokers that require mutual TLS.
    #[arg(long, requires = "kafka_key", env = "AUDITLENS_KAFKA_CERT")]
    pub kafka_cert: Option<PathBuf>,
    /// Private key (PEM) of --kafka-cert.
    #[arg(long, requires = "kafka_cert", env = "AUDITLENS_KAFKA_KEY")]
    pub kafka_key: Option<PathBuf>,
    /// SASL mechanism; needs --kafka-sasl-username and --kafka-sasl-password.
    #[arg(long, value_enum, env = "AUDITLENS_KAFKA_SASL_MECHANISM")]
    pub kafka_sasl_mechanism: Option<SaslMechanism>,
    /// SASL user name.
    #[arg(long, env = "AUDITLENS_KAFKA_SASL_USERNAME")]
    pub kafka_sasl_username: Option<String>,
    /// SASL password. Prefer the environment variable: flags show in the process list.
    #[arg(long, env = "AUDITLENS_KAFKA_SASL_PASSWORD", hide_env_values = true)]
    pub kafka_sasl_password: Option<String>,
    /// Any other librdkafka property, KEY=VALUE (repeatable), e.g. message.timeout.ms=60000.
    #[arg(
        long = "kafka-property",
        value_name = "KEY=VALUE",
        env = "AUDITLENS_KAFKA_PROPERTY"
    )]
    pub kafka_properties: Vec<String>,
}

impl KafkaArgs {
    pub fn enabled(&self) -> bool {
        !self.kafka_brokers.is_empty()
    }

    /// The client configuration; `Err` names the setting that is wrong.
    pub fn client_config(&self) -> anyhow::Result<ClientConfig> {
        if !self.enabled() {
            bail!("--kafka-brokers is required");
        }
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", self.kafka_brokers.join(","))
            .set("client.id", &self.kafka_client_id)
            .set(
                "compression.type",
                match self.kafka_compression {
                    Compression::None => "none",
                    Compression::Gzip => "gzip",
                    Compression::Snappy => "snappy",
                    Compression::Lz4 => "lz4",
                    Compression::Zstd => "zstd",
                },
            );
        let tls = self.kafka_tls || self.kafka_ca.is_some() || self.kafka_cert.is_some();
        for (flag, path) in [
            ("--kafka-ca", &self.kafka_ca),
            ("--kafka-cert", &self.kafka_cert),
            ("--kafka-key", &self.kafka_key),
        ] {
            if let Some(path) = path {
                if !path.is_file() {
                    bail!("{flag}: {} is not a readable file", path.display());
                }
            }
        }
        if let Some(ca) = &self.kafka_ca {
            config.set("ssl.ca.location", ca.display().to_string());
        }
        if let (Some(cert), Some(key)) = (&self.kafka_cert, &self.kafka_key) {
            config
                .set("ssl.certificate.location", cert.display().to_string())
                .set("ssl.key.location", key.display().to_string());
        }
        let sasl = match self.kafka_sasl_mechanism {
            Some(mechanism) => {
                let (Some(username), Some(password)) =
                    (&self.kafka_sasl_username, &self.kafka_sasl_password)
                else {
                    bail!(
                        "--kafka-sasl-mechanism {} needs --kafka-sasl-username and --kafka-sasl-password",
                        mechanism.as_str()
                    );
                };
                config
                    .set("sasl.mechanism", mechanism.as_str())
                    .set("sasl.username", username)
                    .set("sasl.password", password);
                true
            }
            None => false,
        };
        config.set(
            "security.protocol",
            match (tls, sasl) {
                (false, false) => "plaintext",
                (true, false) => "ssl",
                (false, true) => "sasl_plaintext",
                (true, true) => "sasl_ssl",
            },
        );
        for property in &self.kafka_properties {
            let Some((key, value)) = property.split_once('=') else {
                bail!("--kafka-property `{property}`: expected KEY=VALUE");
            };
            config.set(key.trim(), value.trim());
        }
        // librdkafka checks names and values when a client is made: make one now, so that a
        // typo is reported at start with the property's name.
        config
            .create::<rdkafka::producer::BaseProducer>()
            .context("invalid Kafka settings")?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        kafka: KafkaArgs,
    }

    fn config(args: &[&str]) -> anyhow::Result<ClientConfig> {
        let mut all = vec!["test"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all)?.kafka.client_config()
    }

    #[test]
    fn settings_become_librdkafka_properties() {
        let config = config(&[
            "--kafka-brokers",
            "a:9092,b:9092",
            "--kafka-sasl-mechanism",
            "SCRAM-SHA-512",
            "--kafka-sasl-username",
            "alerts",
            "--kafka-sasl-password",
            "secret",
            "--kafka-tls",
            "--kafka-property",
            "message.timeout.ms=60000",
        ])
        .unwrap();
        assert_eq!(config.get("bootstrap.servers"), Some("a:9092,b:9092"));
        assert_eq!(config.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(config.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(config.get("compression.type"), Some("zstd"));
        assert_eq!(config.get("message.timeout.ms"), Some("60000"));
    }

    #[test]
    fn wrong_settings_are_named() {
        let error =
            config(&["--kafka-brokers", "a:9092", "--kafka-property", "no.such=1"]).unwrap_err();
        assert!(format!("{error:#}").contains("no.such"), "{error:#}");
        let error = config(&[
            "--kafka-brokers",
            "a:9092",
            "--kafka-sasl-mechanism",
            "PLAIN",
        ])
        .unwrap_err();
        assert!(
            error.to_string().contains("--kafka-sasl-username"),
            "{error}"
        );
        let error =
            config(&["--kafka-brokers", "a:9092", "--kafka-ca", "/no/such/ca.pem"]).unwrap_err();
        assert!(error.to_string().contains("--kafka-ca"), "{error}");
    }
}
