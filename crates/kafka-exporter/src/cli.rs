//! The command line, spelled as danielqsj/kafka_exporter 1.9 spells it (kingpin flags, so every
//! boolean also has a `--no-` form), and its validation into a [`Config`].

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use clap::Parser;
use exporter_core::cli::{LogArgs, UsageError, WebArgs};
use regex::Regex;

/// kafka_exporter's port.
pub const DEFAULT_LISTEN: &str = ":9308";

#[derive(Parser, Debug, Clone)]
#[command(
    name = "kafka-exporter",
    version,
    about = "Prometheus exporter for Kafka (drop-in for danielqsj/kafka_exporter); collects in the background."
)]
pub struct Cli {
    /// Address (host:port) of Kafka server. Repeatable.
    #[arg(
        long = "kafka.server",
        default_value = "kafka:9092",
        value_name = "ADDRESS"
    )]
    pub kafka_server: Vec<String>,

    /// Kafka broker version (accepted for compatibility; the client negotiates API versions).
    #[arg(long = "kafka.version", default_value = "2.0.0")]
    pub kafka_version: String,

    /// Kafka cluster name: constant labels `k=v,k2=v2` added to every kafka_* series.
    #[arg(long = "kafka.labels", default_value = "")]
    pub kafka_labels: String,

    /// Metadata refresh interval; also the background collection interval (Go duration).
    #[arg(
        long = "refresh.metadata",
        default_value = "30s",
        value_name = "DURATION"
    )]
    pub refresh_metadata: String,

    /// If true, the broker may auto-create topics that we requested which do not already exist.
    #[arg(long = "kafka.allow-auto-topic-creation")]
    pub allow_auto_topic_creation: bool,

    /// Connect using SASL.
    #[arg(long = "sasl.enabled")]
    pub sasl_enabled: bool,

    /// Only set this to false if using a non-Kafka SASL proxy, default is true.
    #[arg(long = "sasl.handshake", overrides_with = "no_sasl_handshake")]
    sasl_handshake: bool,
    #[arg(
        long = "no-sasl.handshake",
        hide = true,
        overrides_with = "sasl_handshake"
    )]
    no_sasl_handshake: bool,

    /// SASL user name.
    #[arg(long = "sasl.username", default_value = "")]
    pub sasl_username: String,

    /// SASL user password.
    #[arg(
        long = "sasl.password",
        env = "SASL_USER_PASSWORD",
        default_value = "",
        hide_env_values = true,
        value_parser = parse_secret
    )]
    pub sasl_password: Secret,

    /// SASL mechanism: plain, scram-sha256, scram-sha512, gssapi, awsiam or oauthbearer.
    #[arg(long = "sasl.mechanism", default_value = "")]
    pub sasl_mechanism: String,

    /// The AWS region for IAM SASL authentication (--sasl.mechanism=awsiam).
    #[arg(long = "sasl.aws-region", env = "AWS_REGION", default_value = "")]
    pub sasl_aws_region: String,

    /// The url to retrieve OAuthBearer tokens from, for OAuthBearer SASL authentication
    /// (client credentials: --sasl.username is the client id, --sasl.password the secret).
    #[arg(
        long = "sasl.oauthbearer-token-url",
        env = "SASL_OAUTHBEARER_TOKEN_URL",
        default_value = ""
    )]
    pub sasl_oauthbearer_token_url: String,

    /// Comma-separated scopes to request with OAuthBearer tokens.
    #[arg(long = "sasl.oauthbearer-scopes", default_value = "")]
    pub sasl_oauthbearer_scopes: String,

    /// Service name when using Kerberos auth.
    #[arg(long = "sasl.service-name", default_value = "")]
    pub sasl_service_name: String,

    /// Kerberos config path.
    #[arg(long = "sasl.kerberos-config-path", default_value = "")]
    pub sasl_kerberos_config_path: String,

    /// Kerberos realm.
    #[arg(long = "sasl.realm", default_value = "")]
    pub sasl_realm: String,

    /// Kerberos auth type. Either 'keytabAuth' or 'userAuth'.
    #[arg(long = "sasl.kerberos-auth-type", default_value = "")]
    pub sasl_kerberos_auth_type: String,

    /// Kerberos keytab file path.
    #[arg(long = "sasl.keytab-path", default_value = "")]
    pub sasl_keytab_path: String,

    /// Configure the Kerberos client to not use PA_FX_FAST.
    #[arg(long = "sasl.disable-PA-FX-FAST")]
    pub sasl_disable_pa_fx_fast: bool,

    /// Connect to Kafka using TLS.
    #[arg(long = "tls.enabled")]
    pub tls_enabled: bool,

    /// Used to verify the hostname on the returned certificates.
    #[arg(long = "tls.server-name", default_value = "")]
    pub tls_server_name: String,

    /// The optional certificate authority file for Kafka TLS client authentication.
    #[arg(long = "tls.ca-file", default_value = "")]
    pub tls_ca_file: String,

    /// The optional certificate file for Kafka client authentication.
    #[arg(long = "tls.cert-file", default_value = "")]
    pub tls_cert_file: String,

    /// The optional key file for Kafka client authentication.
    #[arg(long = "tls.key-file", default_value = "")]
    pub tls_key_file: String,

    /// If true, the server's certificate will not be checked for validity.
    #[arg(long = "tls.insecure-skip-tls-verify")]
    pub tls_insecure_skip_verify: bool,

    /// Upstream's own web-server TLS; use --web.config.file instead.
    #[arg(long = "server.tls.enabled", hide = true)]
    pub server_tls_enabled: bool,
    #[arg(long = "server.tls.mutual-auth-enabled", hide = true)]
    pub server_tls_mutual_auth: bool,
    #[arg(long = "server.tls.ca-file", default_value = "", hide = true)]
    pub server_tls_ca_file: String,
    #[arg(long = "server.tls.cert-file", default_value = "", hide = true)]
    pub server_tls_cert_file: String,
    #[arg(long = "server.tls.key-file", default_value = "", hide = true)]
    pub server_tls_key_file: String,

    /// ZooKeeper lag (not supported: KRaft only). Accepted and ignored with a warning.
    #[arg(long = "use.consumelag.zookeeper")]
    pub use_zookeeper_lag: bool,

    /// ZooKeeper servers (not supported: KRaft only). Accepted and ignored with a warning.
    #[arg(long = "zookeeper.server", default_value = "localhost:2181")]
    pub zookeeper_server: Vec<String>,

    /// Regex that determines which topics to collect.
    #[arg(long = "topic.filter", default_value = ".*")]
    pub topic_filter: String,

    /// Regex that determines which topics to exclude.
    #[arg(long = "topic.exclude", default_value = "^$")]
    pub topic_exclude: String,

    /// Regex that determines which consumer groups to collect.
    #[arg(long = "group.filter", default_value = ".*")]
    pub group_filter: String,

    /// Regex that determines which consumer groups to exclude.
    #[arg(long = "group.exclude", default_value = "^$")]
    pub group_exclude: String,

    /// Whether show the offset/lag for all consumer group, otherwise, only show connected
    /// consumer groups, default is true.
    #[arg(long = "offset.show-all", overrides_with = "no_offset_show_all")]
    offset_show_all: bool,
    #[arg(
        long = "no-offset.show-all",
        hide = true,
        overrides_with = "offset_show_all"
    )]
    no_offset_show_all: bool,

    /// Accepted for compatibility: scrapes always share the background snapshot.
    #[arg(long = "concurrent.enable")]
    pub concurrent_enable: bool,

    /// Number of topic workers: the bound on concurrent offset requests.
    #[arg(long = "topic.workers", default_value_t = 100)]
    pub topic_workers: usize,

    /// Verbosity log level (klog; accepted, use --log.level).
    #[arg(long = "verbosity", default_value_t = 0)]
    pub verbosity: i32,

    /// Turn on Sarama logging (accepted; there is no Sarama here).
    #[arg(long = "log.enable-sarama")]
    pub log_enable_sarama: bool,

    #[command(flatten)]
    pub web: WebArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

/// The SASL mechanisms of `--sasl.mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    ScramSha256,
    ScramSha512,
    Gssapi,
    OAuthBearer,
    /// AWS MSK IAM: OAUTHBEARER carrying a SigV4-signed token.
    AwsIam,
}

impl Mechanism {
    /// The mechanism's name in SaslHandshake.
    pub fn kafka_name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
            Self::Gssapi => "GSSAPI",
            Self::OAuthBearer | Self::AwsIam => "OAUTHBEARER",
        }
    }
}

/// Parses `--sasl.mechanism` case-insensitively, as upstream does. Empty means PLAIN.
pub fn parse_mechanism(s: &str) -> Result<Mechanism, UsageError> {
    match s.to_ascii_lowercase().as_str() {
        "" | "plain" => Ok(Mechanism::Plain),
        "scram-sha256" => Ok(Mechanism::ScramSha256),
        "scram-sha512" => Ok(Mechanism::ScramSha512),
        "gssapi" => Ok(Mechanism::Gssapi),
        "oauthbearer" => Ok(Mechanism::OAuthBearer),
        // "aws-msk-iam": the name AWS's own documentation uses.
        "awsiam" | "aws-msk-iam" => Ok(Mechanism::AwsIam),
        other => Err(UsageError::new(format!(
            "--sasl.mechanism: invalid sasl mechanism {other:?}: can only be \"scram-sha256\", \"scram-sha512\", \"gssapi\", \"awsiam\", \"oauthbearer\" or \"plain\""
        ))),
    }
}

/// Everything the collector needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub servers: Vec<String>,
    /// Constant labels, sorted by name.
    pub labels: Vec<(String, String)>,
    pub interval: Duration,
    pub sasl: Option<Sasl>,
    pub sasl_service_name: String,
    pub tls: Option<TlsConfig>,
    pub topic_filter: Regex,
    pub topic_exclude: Regex,
    pub group_filter: Regex,
    pub group_exclude: Regex,
    pub offset_show_all: bool,
    pub workers: usize,
    pub allow_auto_topic_creation: bool,
    /// Messages for flags we accept but ignore (logged once at start).
    pub warnings: Vec<String>,
}

/// `--sasl.password` straight into a [`Secret`], so that not even the `Debug` of the parsed
/// command line shows it.
fn parse_secret(s: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(s.to_string()))
}

/// A credential: kept out of `Debug` output, logs and errors.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Self {
        Self(s)
    }

    /// The secret itself, for the one place that sends it to the broker.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "<redacted>"
        })
    }
}

/// `--sasl.*`, when `--sasl.enabled`.
#[derive(Debug, Clone)]
pub struct Sasl {
    pub mechanism: Mechanism,
    pub username: String,
    pub password: Secret,
    /// `--sasl.aws-region`, set with [`Mechanism::AwsIam`].
    pub aws_region: String,
    /// `--sasl.oauthbearer-token-url`, set with [`Mechanism::OAuthBearer`].
    pub token_url: String,
    /// `--sasl.oauthbearer-scopes`, split at commas, empty ones dropped.
    pub scopes: Vec<String>,
    /// The Kerberos flags, set with [`Mechanism::Gssapi`].
    pub kerberos: Option<Kerberos>,
}

/// `--sasl.service-name`, `--sasl.realm`, `--sasl.kerberos-*`, `--sasl.keytab-path`, for GSSAPI.
/// The userAuth password stays in [`Sasl::password`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kerberos {
    /// The broker's service: its principal is `<service>/<broker host>`.
    pub service_name: String,
    /// `--sasl.kerberos-config-path`: KRB5_CONFIG for the library (None: its default).
    pub config_path: Option<String>,
    /// `--sasl.username`, qualified by `--sasl.realm` when that is given and the name has none.
    pub principal: String,
    /// `--sasl.keytab-path` for keytabAuth; None for userAuth (the password).
    pub keytab: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TlsConfig {
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub insecure_skip_verify: bool,
    pub server_name: Option<String>,
}

impl Cli {
    pub fn parse_from_env() -> Result<Self, UsageError> {
        Self::parse_from(std::env::args_os())
    }

    pub fn parse_from<I>(argv: I) -> Result<Self, UsageError>
    where
        I: IntoIterator,
        I::Item: Into<OsString> + Clone,
    {
        let (cli, _) = exporter_core::cli::parse::<Cli, _>(argv, DEFAULT_LISTEN, |c| c)?;
        Ok(cli)
    }

    /// `--sasl.handshake`, default true.
    pub fn sasl_handshake(&self) -> bool {
        self.sasl_handshake || !self.no_sasl_handshake
    }

    /// `--offset.show-all`, default true.
    pub fn offset_show_all(&self) -> bool {
        self.offset_show_all || !self.no_offset_show_all
    }

    /// Checks every flag; any problem is one line naming the flag.
    pub fn config(&self) -> Result<Config, UsageError> {
        let mut warnings = Vec::new();
        let re = |flag: &str, v: &str| {
            Regex::new(v).map_err(|e| {
                let msg = e.to_string();
                let last = msg.lines().last().unwrap_or("invalid regex").trim();
                UsageError::new(format!(
                    "--{flag}: invalid regular expression {v:?}: {last}"
                ))
            })
        };
        let topic_filter = re("topic.filter", &self.topic_filter)?;
        let topic_exclude = re("topic.exclude", &self.topic_exclude)?;
        let group_filter = re("group.filter", &self.group_filter)?;
        let group_exclude = re("group.exclude", &self.group_exclude)?;

        let interval = parse_go_duration(&self.refresh_metadata)
            .map_err(|e| UsageError::new(format!("--refresh.metadata: {e}")))?;
        if interval.is_zero() {
            return Err(UsageError::new(
                "--refresh.metadata: must be greater than 0",
            ));
        }

        let servers: Vec<String> = self
            .kafka_server
            .iter()
            .flat_map(|s| s.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if servers.is_empty() {
            return Err(UsageError::new("--kafka.server: no address given"));
        }

        if !self
            .kafka_version
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(UsageError::new(format!(
                "--kafka.version: invalid version {:?}",
                self.kafka_version
            )));
        }

        // Validated even when SASL is off, so a typo does not wait for the day it is turned on.
        let mechanism = parse_mechanism(&self.sasl_mechanism)?;
        let sasl = self.sasl_enabled.then(|| Sasl {
            mechanism,
            username: self.sasl_username.clone(),
            password: self.sasl_password.clone(),
            aws_region: self.sasl_aws_region.trim().to_string(),
            token_url: self.sasl_oauthbearer_token_url.trim().to_string(),
            scopes: self
                .sasl_oauthbearer_scopes
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            kerberos: None,
        });
        if let Some(s) = &sasl {
            match s.mechanism {
                Mechanism::Plain | Mechanism::ScramSha256 | Mechanism::ScramSha512
                    if s.username.is_empty() || s.password.expose().is_empty() =>
                {
                    return Err(UsageError::new(format!(
                        "--sasl.username and --sasl.password are required with --sasl.mechanism={}",
                        s.mechanism.kafka_name()
                    )));
                }
                // Upstream stops here too (log.Fatalf), with the same two conditions.
                Mechanism::OAuthBearer if s.token_url.is_empty() => {
                    return Err(UsageError::new(
                        "--sasl.oauthbearer-token-url (or SASL_OAUTHBEARER_TOKEN_URL) is required with --sasl.mechanism=oauthbearer",
                    ));
                }
                Mechanism::OAuthBearer if s.username.is_empty() => {
                    return Err(UsageError::new(
                        "--sasl.username (the OAuth client id) is required with --sasl.mechanism=oauthbearer",
                    ));
                }
                Mechanism::OAuthBearer
                    if !(s.token_url.starts_with("https://")
                        || s.token_url.starts_with("http://")) =>
                {
                    return Err(UsageError::new(format!(
                        "--sasl.oauthbearer-token-url: {:?} is not an http(s) URL",
                        s.token_url
                    )));
                }
                // Upstream lets the signer fail at every connection instead.
                Mechanism::AwsIam if s.aws_region.is_empty() => {
                    return Err(UsageError::new(
                        "--sasl.aws-region (or AWS_REGION) is required with --sasl.mechanism=awsiam",
                    ));
                }
                _ => {}
            }
        }
        let sasl = match sasl {
            Some(s) if s.mechanism == Mechanism::Gssapi => Some(Sasl {
                kerberos: Some(self.kerberos(&s)?),
                ..s
            }),
            other => other,
        };
        if self.sasl_enabled && !self.sasl_handshake() {
            warnings.push("--no-sasl.handshake is not supported; the SASL handshake is always sent (Kafka 0.10+)".into());
        }

        let tls = if self.tls_enabled {
            let file = |flag: &str, v: &str| -> Result<Option<String>, UsageError> {
                if v.is_empty() {
                    return Ok(None);
                }
                std::fs::File::open(Path::new(v))
                    .map_err(|e| UsageError::new(format!("--{flag}: cannot read {v:?}: {e}")))?;
                Ok(Some(v.to_string()))
            };
            let ca_file = file("tls.ca-file", &self.tls_ca_file)?;
            let cert_file = file("tls.cert-file", &self.tls_cert_file)?;
            let key_file = file("tls.key-file", &self.tls_key_file)?;
            if cert_file.is_some() != key_file.is_some() {
                return Err(UsageError::new(
                    "--tls.cert-file and --tls.key-file must be supplied as a pair",
                ));
            }
            let server_name =
                (!self.tls_server_name.is_empty()).then(|| self.tls_server_name.clone());
            Some(TlsConfig {
                ca_file,
                cert_file,
                key_file,
                insecure_skip_verify: self.tls_insecure_skip_verify,
                server_name,
            })
        } else {
            None
        };

        if self.server_tls_enabled {
            return Err(UsageError::new(
                "--server.tls.enabled is not supported: serve TLS with --web.config.file",
            ));
        }
        if self.use_zookeeper_lag {
            warnings.push(
                "--use.consumelag.zookeeper is ignored: ZooKeeper is not supported (KRaft only)"
                    .into(),
            );
        }
        if self.zookeeper_server != ["localhost:2181"] {
            warnings.push(
                "--zookeeper.server is ignored: ZooKeeper is not supported (KRaft only)".into(),
            );
        }
        if self.concurrent_enable {
            warnings.push(
                "--concurrent.enable is ignored: scrapes always serve the background snapshot"
                    .into(),
            );
        }

        Ok(Config {
            servers,
            labels: parse_labels(&self.kafka_labels),
            interval,
            sasl,
            sasl_service_name: self.sasl_service_name.clone(),
            tls,
            topic_filter,
            topic_exclude,
            group_filter,
            group_exclude,
            offset_show_all: self.offset_show_all(),
            workers: self.topic_workers.max(1),
            allow_auto_topic_creation: self.allow_auto_topic_creation,
            warnings,
        })
    }
}

impl Cli {
    /// The Kerberos flags for `--sasl.mechanism=gssapi`. Upstream (sarama) refuses an empty
    /// service name or user name too; an auth type other than keytabAuth is userAuth there, here
    /// only an empty one is (a typo is refused). The realm and the krb5.conf path may be left
    /// out: MIT's library then takes the default realm and its default configuration. The keytab
    /// is read at each authentication, not here, so that one mounted later (a Secret) still works.
    fn kerberos(&self, sasl: &Sasl) -> Result<Kerberos, UsageError> {
        let service_name = self.sasl_service_name.trim().to_string();
        if service_name.is_empty() {
            return Err(UsageError::new(
                "--sasl.service-name (the brokers' Kerberos service, usually kafka) is required with --sasl.mechanism=gssapi",
            ));
        }
        if sasl.username.is_empty() {
            return Err(UsageError::new(
                "--sasl.username (the Kerberos principal) is required with --sasl.mechanism=gssapi",
            ));
        }
        let keytab = match self.sasl_kerberos_auth_type.as_str() {
            "keytabAuth" if self.sasl_keytab_path.is_empty() => {
                return Err(UsageError::new(
                    "--sasl.keytab-path is required with --sasl.kerberos-auth-type=keytabAuth",
                ));
            }
            "keytabAuth" => Some(self.sasl_keytab_path.clone()),
            "" | "userAuth" if sasl.password.expose().is_empty() => {
                return Err(UsageError::new(
                    "--sasl.password (or SASL_USER_PASSWORD) is required with --sasl.kerberos-auth-type=userAuth",
                ));
            }
            "" | "userAuth" => None,
            other => {
                return Err(UsageError::new(format!(
                    "--sasl.kerberos-auth-type: {other:?} is neither \"keytabAuth\" nor \"userAuth\""
                )));
            }
        };
        let config_path = match self.sasl_kerberos_config_path.as_str() {
            "" => None,
            p => {
                std::fs::File::open(Path::new(p)).map_err(|e| {
                    UsageError::new(format!(
                        "--sasl.kerberos-config-path: cannot read {p:?}: {e}"
                    ))
                })?;
                Some(p.to_string())
            }
        };
        let realm = self.sasl_realm.trim();
        let principal = if realm.is_empty() || sasl.username.contains('@') {
            sasl.username.clone()
        } else {
            format!("{}@{realm}", sasl.username)
        };
        Ok(Kerberos {
            service_name,
            config_path,
            principal,
            keytab,
        })
    }
}

/// `k=v,k2=v2` as upstream reads it: pairs without `=` are skipped; the last value of a repeated
/// name wins. Sorted by name.
pub fn parse_labels(s: &str) -> Vec<(String, String)> {
    let mut map = std::collections::BTreeMap::new();
    for pair in s.split(',') {
        let mut parts = pair.split('=');
        if let (Some(k), Some(v)) = (parts.next(), parts.next()) {
            map.insert(k.to_string(), v.to_string());
        }
    }
    map.into_iter().collect()
}

pub use exporter_core::cli::parse_duration as parse_go_duration;

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(args: &[&str]) -> Result<Config, UsageError> {
        let mut argv = vec!["kafka-exporter"];
        argv.extend_from_slice(args);
        Cli::parse_from(argv)?.config()
    }

    #[test]
    fn defaults_match_upstream() {
        let c = Cli::parse_from(["k"]).unwrap();
        assert_eq!(c.kafka_server, vec!["kafka:9092"]);
        assert_eq!(c.web.listen_addresses, vec![":9308"]);
        assert_eq!(c.web.telemetry_path, "/metrics");
        assert_eq!(c.kafka_version, "2.0.0");
        assert_eq!(c.topic_workers, 100);
        assert!(c.sasl_handshake());
        assert!(c.offset_show_all());
        assert!(!c.sasl_enabled && !c.tls_enabled && !c.concurrent_enable);
        let cfg = c.config().unwrap();
        assert_eq!(cfg.interval, Duration::from_secs(30));
        assert!(cfg.topic_filter.is_match("anything"));
        assert!(cfg.topic_exclude.is_match("") && !cfg.topic_exclude.is_match("x"));
        assert!(cfg.sasl.is_none() && cfg.tls.is_none());
        assert!(cfg.warnings.is_empty());
    }

    #[test]
    fn repeated_servers_and_negations() {
        let c = Cli::parse_from([
            "k",
            "--kafka.server=a:9092",
            "--kafka.server",
            "b:9092",
            "--no-offset.show-all",
            "--no-sasl.handshake",
            "--sasl.handshake",
            "--sasl.enabled",
            "--no-sasl.enabled",
        ])
        .unwrap();
        assert_eq!(c.kafka_server, vec!["a:9092", "b:9092"]);
        assert!(!c.offset_show_all());
        assert!(c.sasl_handshake());
        assert!(!c.sasl_enabled);
        let c = Cli::parse_from(["k", "--offset.show-all", "--no-offset.show-all"]).unwrap();
        assert!(!c.offset_show_all());
        let c = Cli::parse_from(["k", "--no-offset.show-all", "--offset.show-all"]).unwrap();
        assert!(c.offset_show_all());
    }

    #[test]
    fn bad_regex_is_one_line() {
        for flag in [
            "topic.filter",
            "topic.exclude",
            "group.filter",
            "group.exclude",
        ] {
            let e = cfg(&[&format!("--{flag}=(")]).unwrap_err();
            assert!(e.0.starts_with(&format!("--{flag}: ")), "{e}");
            assert!(!e.0.contains('\n'), "{e}");
        }
    }

    #[test]
    fn mechanisms() {
        assert_eq!(
            parse_mechanism("SCRAM-SHA512").unwrap(),
            Mechanism::ScramSha512
        );
        assert_eq!(
            parse_mechanism("scram-sha256").unwrap(),
            Mechanism::ScramSha256
        );
        assert_eq!(parse_mechanism("").unwrap(), Mechanism::Plain);
        assert_eq!(
            parse_mechanism("OAUTHBEARER").unwrap(),
            Mechanism::OAuthBearer
        );
        let e = cfg(&["--sasl.enabled", "--sasl.mechanism=md5"]).unwrap_err();
        assert!(e.0.contains("invalid sasl mechanism \"md5\""), "{e}");
        assert!(!e.0.contains('\n'));
        assert!(
            e.0.contains("\"awsiam\", \"oauthbearer\" or \"plain\""),
            "{e}"
        );
        assert_eq!(parse_mechanism("AWSIAM").unwrap(), Mechanism::AwsIam);
        assert_eq!(parse_mechanism("aws-msk-iam").unwrap(), Mechanism::AwsIam);
        let c = cfg(&[
            "--sasl.enabled",
            "--sasl.mechanism=scram-sha512",
            "--sasl.username=u",
            "--sasl.password=p",
        ])
        .unwrap();
        let sasl = c.sasl.clone().unwrap();
        assert_eq!(sasl.mechanism, Mechanism::ScramSha512);
        assert_eq!((sasl.username.as_str(), sasl.password.expose()), ("u", "p"));
        // The password never reaches a Debug print of the settings.
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("\"p\"") && dbg.contains("<redacted>"),
            "{dbg}"
        );
    }

    #[test]
    fn debug_of_the_command_line_hides_the_password() {
        let cli = Cli::parse_from([
            "kafka-exporter",
            "--sasl.enabled",
            "--sasl.mechanism=oauthbearer",
            "--sasl.username=exporter",
            "--sasl.password=hunter2-client-secret",
        ])
        .unwrap();
        let dbg = format!("{cli:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("<redacted>"), "{dbg}");
        let dbg = format!("{cli:#?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }

    #[test]
    fn sasl_needs_its_credentials() {
        for (mech, want) in [
            ("plain", "--sasl.username and --sasl.password are required"),
            (
                "scram-sha256",
                "--sasl.username and --sasl.password are required",
            ),
            (
                "oauthbearer",
                "--sasl.oauthbearer-token-url (or SASL_OAUTHBEARER_TOKEN_URL) is required",
            ),
            (
                "gssapi",
                "--sasl.service-name (the brokers' Kerberos service, usually kafka) is required",
            ),
        ] {
            let m = format!("--sasl.mechanism={mech}");
            let e = cfg(&["--sasl.enabled", &m]).unwrap_err();
            assert!(e.0.contains(want), "{mech}: {e}");
            assert!(!e.0.contains('\n'));
        }
    }

    #[test]
    fn gssapi_flags() {
        let g = |extra: &[&str]| {
            let mut a = vec!["--sasl.enabled", "--sasl.mechanism=gssapi"];
            a.extend_from_slice(extra);
            cfg(&a)
        };
        let one_line = |e: UsageError, want: &str| {
            assert!(e.0.contains(want), "{e}");
            assert!(!e.0.contains('\n'), "{e}");
        };
        one_line(
            g(&["--sasl.service-name=kafka"]).unwrap_err(),
            "--sasl.username (the Kerberos principal) is required",
        );
        let base = ["--sasl.service-name=kafka", "--sasl.username=exporter"];
        one_line(
            g(&[&base[..], &["--sasl.kerberos-auth-type=keytabAuth"]].concat()).unwrap_err(),
            "--sasl.keytab-path is required",
        );
        one_line(
            g(&[&base[..], &["--sasl.kerberos-auth-type=keytab"]].concat()).unwrap_err(),
            "--sasl.kerberos-auth-type: \"keytab\" is neither",
        );
        one_line(
            g(&[
                &base[..],
                &[
                    "--sasl.kerberos-config-path=/nonexistent/krb5.conf",
                    "--sasl.password=pw",
                ],
            ]
            .concat())
            .unwrap_err(),
            "--sasl.kerberos-config-path: cannot read",
        );
        // SASL_USER_PASSWORD may be set in the environment running the tests.
        if std::env::var_os("SASL_USER_PASSWORD").is_none() {
            one_line(
                g(&base).unwrap_err(),
                "--sasl.password (or SASL_USER_PASSWORD) is required",
            );
        }
        // A missing keytab is not a flag error: it is read at each authentication.
        let c = g(&[
            &base[..],
            &[
                "--sasl.realm=EXAMPLE.TEST",
                "--sasl.kerberos-auth-type=keytabAuth",
                "--sasl.keytab-path=/nonexistent/exporter.keytab",
            ],
        ]
        .concat())
        .unwrap();
        let k = c.sasl.unwrap().kerberos.unwrap();
        assert_eq!(k.principal, "exporter@EXAMPLE.TEST");
        assert_eq!(k.keytab.as_deref(), Some("/nonexistent/exporter.keytab"));
        assert_eq!((k.service_name.as_str(), k.config_path), ("kafka", None));
        let c = g(&[
            &base[..],
            &[
                "--sasl.kerberos-auth-type=userAuth",
                "--sasl.password=hunter2",
            ],
        ]
        .concat())
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        let k = c.sasl.unwrap().kerberos.unwrap();
        assert_eq!((k.principal.as_str(), k.keytab), ("exporter", None));
    }

    // AWS_REGION and SASL_OAUTHBEARER_TOKEN_URL are read by clap from the environment; these
    // tests pass the flags, and the environment's own values are never set by a test (tests
    // run in parallel threads of one process).
    #[test]
    fn awsiam_needs_a_region() {
        if std::env::var_os("AWS_REGION").is_none() {
            let e = cfg(&["--sasl.enabled", "--sasl.mechanism=awsiam"]).unwrap_err();
            assert_eq!(
                e.0,
                "--sasl.aws-region (or AWS_REGION) is required with --sasl.mechanism=awsiam"
            );
        }
        let c = cfg(&[
            "--sasl.enabled",
            "--sasl.mechanism=awsiam",
            "--sasl.aws-region=eu-west-1",
        ])
        .unwrap();
        let sasl = c.sasl.unwrap();
        assert_eq!(sasl.mechanism, Mechanism::AwsIam);
        assert_eq!(sasl.aws_region, "eu-west-1");
        assert_eq!(sasl.mechanism.kafka_name(), "OAUTHBEARER");
    }

    #[test]
    fn oauthbearer_needs_a_token_url_and_a_client_id() {
        let url = "--sasl.oauthbearer-token-url=https://idp.example/token";
        let e = cfg(&["--sasl.enabled", "--sasl.mechanism=oauthbearer", url]).unwrap_err();
        assert_eq!(
            e.0,
            "--sasl.username (the OAuth client id) is required with --sasl.mechanism=oauthbearer"
        );
        let e = cfg(&[
            "--sasl.enabled",
            "--sasl.mechanism=oauthbearer",
            "--sasl.username=exporter",
            "--sasl.oauthbearer-token-url=idp.example/token",
        ])
        .unwrap_err();
        assert!(e.0.contains("is not an http(s) URL"), "{e}");
        let c = cfg(&[
            "--sasl.enabled",
            "--sasl.mechanism=oauthbearer",
            "--sasl.username=exporter",
            "--sasl.password=s3cret",
            url,
            "--sasl.oauthbearer-scopes=kafka, read ,,",
        ])
        .unwrap();
        let sasl = c.sasl.clone().unwrap();
        assert_eq!(sasl.token_url, "https://idp.example/token");
        assert_eq!(sasl.scopes, vec!["kafka", "read"]);
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn tls_files_must_exist() {
        let e = cfg(&["--tls.enabled", "--tls.ca-file=/nonexistent/ca.pem"]).unwrap_err();
        assert!(e.0.starts_with("--tls.ca-file: cannot read"), "{e}");
        assert!(!e.0.contains('\n'));
        let e = cfg(&["--tls.enabled", "--tls.cert-file=/nonexistent/c.pem"]).unwrap_err();
        assert!(e.0.starts_with("--tls.cert-file"), "{e}");
        // Only checked when TLS is on, as upstream does.
        cfg(&["--tls.ca-file=/nonexistent/ca.pem"]).unwrap();
        let c = cfg(&["--tls.enabled", "--tls.insecure-skip-tls-verify"]).unwrap();
        assert!(c.tls.unwrap().insecure_skip_verify);
    }

    #[test]
    fn zookeeper_flags_warn() {
        let c = cfg(&["--use.consumelag.zookeeper", "--zookeeper.server=zk:2181"]).unwrap();
        assert_eq!(c.warnings.len(), 2);
        assert!(c.warnings.iter().all(|w| w.contains("ZooKeeper")));
    }

    #[test]
    fn labels_and_durations() {
        assert_eq!(
            parse_labels("cluster=prod,dc=a,bogus"),
            vec![
                ("cluster".to_string(), "prod".to_string()),
                ("dc".to_string(), "a".to_string())
            ]
        );
        assert!(parse_labels("").is_empty());
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_go_duration("500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert!(parse_go_duration("30").is_err());
        assert!(parse_go_duration("soon").is_err());
        let e = cfg(&["--refresh.metadata=soon"]).unwrap_err();
        assert!(e.0.starts_with("--refresh.metadata"), "{e}");
        assert!(cfg(&["--kafka.version=2.x"]).is_err());
        assert!(cfg(&["--kafka.version=3.7.0"]).is_ok());
    }
}
