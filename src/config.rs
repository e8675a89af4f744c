//! Every setting is declared once here: name, type, default and documentation.
//! Layering: built-in default < TOML file (`--config` / `LOYAL_CONFIG`) < `LOYAL_*`
//! environment variables < command-line flags.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

macro_rules! settings {
    ($( $(#[doc = $doc:literal])+ $name:ident : $ty:ty = $default:expr, secret = $secret:literal; )+) => {
        /// Loyal's configuration. See `loyal config` for the documented list.
        #[derive(Clone, Debug, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct Settings { $( $(#[doc = $doc])+ pub $name: $ty, )+ }

        impl Default for Settings {
            fn default() -> Self { Self { $( $name: $default, )+ } }
        }

        impl Settings {
            /// (name, environment variable, default, is secret, documentation) of every setting.
            pub fn documentation() -> Vec<SettingDoc> {
                let defaults = Settings::default();
                vec![$( SettingDoc {
                    name: stringify!($name),
                    env: concat!("LOYAL_", stringify!($name)).to_uppercase(),
                    default: serde_json::to_string(&defaults.$name).unwrap_or_default(),
                    secret: $secret,
                    doc: concat!($($doc),+).trim().to_string(),
                }, )+]
            }

            /// Settings as they are in force, secrets masked.
            pub fn describe(&self) -> Vec<(String, String)> {
                vec![$( (
                    stringify!($name).to_string(),
                    if $secret { "********".to_string() } else { serde_json::to_string(&self.$name).unwrap_or_default() },
                ), )+]
            }
        }
    };
}

pub struct SettingDoc {
    pub name: &'static str,
    pub env: String,
    pub default: String,
    pub secret: bool,
    pub doc: String,
}

settings! {
    /// Address and port the HTTP server listens on.
    listen: String = "127.0.0.1:8080".into(), secret = false;
    /// Directory for Loyal's own files (the SQLite database by default).
    data_dir: PathBuf = PathBuf::from("loyal-data"), secret = false;
    /// Database URL: `sqlite://path/to/file.db` or `postgres://user@host/db`.
    /// Empty means `sqlite://<data_dir>/loyal.db`.
    database_url: String = String::new(), secret = true;
    /// Key for personal data encrypted at rest (national IDs): base64 of 32 random bytes
    /// (`openssl rand -base64 32`). Empty: a key file is created in the data directory.
    /// Servers sharing one database must share this key.
    encryption_key: String = String::new(), secret = true;
    /// Maximum number of pooled database connections.
    database_max_connections: u32 = 16, secret = false;
    /// Commit purchases in groups (one transaction for many purchases; each answered
    /// once its group is durable). Off: one transaction per purchase.
    ledger_group_commit: bool = true, secret = false;
    /// Group-committing writers on PostgreSQL (a member always goes to the same one), at
    /// most half of `database_max_connections`. Fewer writers make bigger groups (faster
    /// single purchases), more commit batches in parallel: 4 measured the best balance
    /// with PostgreSQL on a 2-core machine (docs/BENCHMARKS.md); raise it, with the
    /// connections, for a PostgreSQL server with more cores. SQLite always has one.
    ledger_writers: usize = 4, secret = false;
    /// Most purchases committed in one transaction.
    ledger_group_max: usize = 256, secret = false;
    /// Purchases that may wait for a writer before new ones are refused with 503.
    ledger_queue: usize = 10_000, secret = false;
    /// Seconds between the server's periodic jobs: point expiry, birthday bonuses, tier
    /// reviews, coupon expiry and purges of old sessions and idempotency keys. 0 turns
    /// them off: for all but one of several servers sharing a database, or when `loyal
    /// expire` and `loyal tiers evaluate` run from cron.
    housekeeping_secs: u64 = 60, secret = false;
    /// The URL people use to reach this server; used in invitation links and to decide
    /// whether cookies are marked `Secure` (they are when it starts with https://).
    public_url: String = "http://127.0.0.1:8080".into(), secret = false;
    /// Log format: `text` for people or `json` for log collectors.
    log_format: String = "text".into(), secret = false;
    /// Log filter in `tracing` syntax, e.g. `info` or `loyal=debug,info`.
    log_level: String = "info".into(), secret = false;
    /// Largest accepted request body, in bytes.
    max_body_bytes: usize = 1024 * 1024, secret = false;
    /// Largest member-import file accepted over the API, in bytes (streamed to disk):
    /// 256 MiB holds a CSV of about three million members. Bigger files go through
    /// `loyal import members` on the server, or raise this.
    max_import_bytes: u64 = 256 * 1024 * 1024, secret = false;
    /// Seconds after which a request is cancelled with 503.
    request_timeout_secs: u64 = 30, secret = false;
    /// Seconds a client has to send a request's headers; a connection that trickles
    /// them in is closed.
    header_read_timeout_secs: u64 = 10, secret = false;
    /// Seconds an API key found valid is trusted without reading it again. Revoking a key
    /// takes effect at once on the server it is revoked through, and within this time on
    /// other servers sharing the database. 0 reads the key on every request.
    api_key_trust_secs: u64 = 5, secret = false;
    /// Lifetime of a web session, in hours.
    session_hours: u64 = 12, secret = false;
    /// Lifetime of a staff invitation link, in hours.
    invitation_hours: u64 = 72, secret = false;
    /// Wrong passwords allowed per account from one client address per minute (right
    /// ones do not count, and one forgives the mistakes made from its address).
    login_attempts_per_account_per_minute: u32 = 5, secret = false;
    /// Wrong passwords allowed from one client address per minute, whatever the account.
    login_attempts_per_ip_per_minute: u32 = 20, secret = false;
    /// Wrong passwords allowed per account per hour from all addresses together: the
    /// slower limit on guessing spread over many addresses.
    login_failures_per_account_per_hour: u32 = 50, secret = false;
    /// Member signups allowed from one client address per hour (a shop's own tablet
    /// signing up a queue of customers included); each phone may try 5 times an hour.
    member_signups_per_address_per_hour: u32 = 60, secret = false;
    /// New shops allowed from one client address per hour.
    shop_signups_per_address_per_hour: u32 = 5, secret = false;
    /// Take the client IP from the X-Forwarded-For header (only behind a trusted proxy):
    /// its last address, the one that proxy added.
    trust_forwarded_for: bool = false, secret = false;
    /// HTTP SMS gateway for one-time codes: messages are POSTed as JSON `{"to", "text"}`
    /// with `Authorization: Bearer <sms_gateway_token>`. Empty: messages go to the log and
    /// the developer mailbox (/admin/mailbox), for demos and development only.
    sms_gateway_url: String = String::new(), secret = false;
    /// Bearer token for the SMS gateway.
    sms_gateway_token: String = String::new(), secret = true;
    /// One-time codes sent per phone number per hour.
    otp_sends_per_phone_per_hour: u32 = 5, secret = false;
    /// One-time codes sent per client IP per hour.
    otp_sends_per_ip_per_hour: u32 = 60, secret = false;
    /// Seconds to let in-flight requests finish after a shutdown signal.
    shutdown_grace_secs: u64 = 20, secret = false;
}

impl Settings {
    /// Load settings: defaults, then the TOML file (if any), then `LOYAL_*` variables,
    /// then explicit overrides from the command line.
    pub fn load(file: Option<&Path>, overrides: &CliOverrides) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            anyhow::ensure!(
                file.exists(),
                "config file {} does not exist",
                file.display()
            );
            figment = figment.merge(Toml::file(file));
        }
        // Only variables naming a setting: orchestrators set LOYAL_* variables of their
        // own (Kubernetes injects LOYAL_PORT and LOYAL_SERVICE_HOST for a service named
        // loyal); the others are warned about at start, not refused.
        let known = Self::known_names();
        figment = figment
            .merge(
                Env::prefixed("LOYAL_").filter(move |k| known.contains(&k.as_str().to_lowercase())),
            )
            .merge(Serialized::defaults(overrides));
        let settings: Settings = figment
            .extract()
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        settings.validate()?;
        Ok(settings)
    }

    fn known_names() -> std::collections::HashSet<String> {
        Self::documentation()
            .iter()
            .map(|d| d.name.to_string())
            .collect()
    }

    /// `LOYAL_*` environment variables that name no setting (but `LOYAL_CONFIG`, which
    /// names the file, and `LOYAL_TEST_*`, the test suite's): probably mistyped, or set
    /// by an orchestrator; ignored.
    pub fn unknown_environment() -> Vec<String> {
        let known = Self::known_names();
        let mut unknown: Vec<String> = std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .filter(|k| {
                k.strip_prefix("LOYAL_").is_some_and(|rest| {
                    let name = rest.to_lowercase();
                    name != "config" && !name.starts_with("test_") && !known.contains(&name)
                })
            })
            .collect();
        unknown.sort();
        unknown
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.listen.parse::<std::net::SocketAddr>().map_err(|_| {
            anyhow::anyhow!(
                "configuration: listen must be host:port, got {:?}",
                self.listen
            )
        })?;
        anyhow::ensure!(
            matches!(self.log_format.as_str(), "text" | "json"),
            "configuration: log_format must be text or json"
        );
        anyhow::ensure!(
            self.database_max_connections > 0,
            "configuration: database_max_connections must be > 0"
        );
        Ok(())
    }

    /// The effective database URL (the SQLite file in the data directory by default).
    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("loyal.db").display())
        } else {
            self.database_url.clone()
        }
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// Values given on the command line; `None` leaves the lower layers in force.
#[derive(Debug, Default, Serialize)]
pub struct CliOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail API returns its own large error type
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order_file_env_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "loyal.toml",
                "listen = \"127.0.0.1:9000\"\nsession_hours = 3\nlog_level = \"debug\"",
            )?;
            jail.set_env("LOYAL_SESSION_HOURS", "4");
            let flags = CliOverrides {
                listen: Some("127.0.0.1:9100".into()),
                ..Default::default()
            };
            let s = Settings::load(Some(Path::new("loyal.toml")), &flags).unwrap();
            assert_eq!(s.listen, "127.0.0.1:9100", "flag beats file");
            assert_eq!(s.session_hours, 4, "env beats file");
            assert_eq!(s.log_level, "debug", "file beats default");
            assert_eq!(s.invitation_hours, 72, "default stays");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "lisen = \"x\"")?;
            let err =
                Settings::load(Some(Path::new("bad.toml")), &CliOverrides::default()).unwrap_err();
            assert!(err.to_string().contains("lisen"), "{err}");
            jail.create_file("bad2.toml", "listen = \"nowhere\"")?;
            let err =
                Settings::load(Some(Path::new("bad2.toml")), &CliOverrides::default()).unwrap_err();
            assert!(err.to_string().contains("listen"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn unknown_variables_are_ignored_and_named_but_unknown_file_keys_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LOYAL_PORT", "tcp://10.0.0.1:8080");
            jail.set_env("LOYAL_SERVICE_HOST", "10.0.0.1");
            jail.set_env("LOYAL_SESSION_HOURS", "4");
            let s = Settings::load(None, &CliOverrides::default()).unwrap();
            assert_eq!(s.session_hours, 4);
            let unknown = Settings::unknown_environment();
            assert!(
                unknown.contains(&"LOYAL_PORT".to_string())
                    && unknown.contains(&"LOYAL_SERVICE_HOST".to_string())
                    && !unknown.contains(&"LOYAL_SESSION_HOURS".to_string()),
                "{unknown:?}"
            );
            jail.create_file("bad.toml", "port = 8080")?;
            let err =
                Settings::load(Some(Path::new("bad.toml")), &CliOverrides::default()).unwrap_err();
            assert!(err.to_string().contains("port"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn secrets_are_masked_when_described() {
        let s = Settings {
            database_url: "postgres://u:pw@h/db".into(),
            ..Default::default()
        };
        let shown = s.describe();
        let db = shown.iter().find(|(k, _)| k == "database_url").unwrap();
        assert!(!db.1.contains("pw"));
    }
}
