//! Typed configuration, loaded once at start from `KUOTA_*` environment
//! variables over an optional TOML file (`KUOTA_CONFIG`). Unknown file keys are
//! errors; unknown `KUOTA_*` variables are reported so a typo is noticed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// Default folder for the SQLite file and, later, blobs.
pub const DEFAULT_DATA_DIR: &str = "./kuota-data";
/// Default listening address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default size of the database pool per process.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// Every environment variable kuota reads, with what it is for.
pub const KNOWN_VARIABLES: &[(&str, &str)] = &[
    ("KUOTA_CONFIG", "path of an optional TOML file with the same keys in lower case"),
    ("KUOTA_DATABASE_URL", "sqlite://… or postgres://…; default: SQLite in the data dir"),
    ("KUOTA_DATA_DIR", "folder for the SQLite database (default ./kuota-data)"),
    (
        "KUOTA_BLOB_URL",
        "where uploads and documents are kept: file:///path or s3://bucket/prefix (default file://<data dir>/blobs); S3 credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION",
    ),
    ("KUOTA_S3_ENDPOINT", "an S3-compatible service other than AWS, e.g. https://minio.internal:9000"),
    ("KUOTA_LISTEN", "address to serve on (default 127.0.0.1:8080)"),
    ("KUOTA_METRICS_LISTEN", "address of a separate listener serving Prometheus /metrics (off unless set)"),
    ("KUOTA_LOG_FORMAT", "text (default) or json: one JSON object per log line, with the request id"),
    ("KUOTA_SHUTDOWN_GRACE", "seconds a stopping node lets requests in flight finish (default 20)"),
    ("KUOTA_DATABASE_MAX_CONNECTIONS", "database pool size per process (default 10)"),
    ("KUOTA_SQLITE_SYNCHRONOUS", "full (default) or normal; full makes every answered write survive a power cut"),
    ("KUOTA_SMTP_URL", "smtp://host:port, smtps://user:pass@host; without it messages wait in the outbox"),
    ("KUOTA_MAIL_FROM", "the From address of every message (default kuota@localhost)"),
    ("KUOTA_MAIL_RETRY_BASE_MS", "first retry delay of a failed message, doubling each time (default 5000)"),
    ("KUOTA_PUBLIC_URL", "the portal's address in e-mail links (default http://<KUOTA_LISTEN>)"),
    (
        "KUOTA_TRUSTED_PROXIES",
        "comma-separated addresses of reverse proxies whose X-Forwarded-For is believed (default none)",
    ),
    (
        "KUOTA_PUBLIC_DOOR_BURST",
        "sign-ins, registrations and password-reset requests one client address may make at once, one more every 3 s (default 20)",
    ),
    (
        "KUOTA_AUDIT_KEY_FILE",
        "file with the audit chain's key, 64 hex digits, mode 0600 (default <data dir>/audit.key, made on first start); every node on one database uses the same",
    ),
    (
        "KUOTA_BILLPLZ_API_URL",
        "Billplz API base, e.g. https://www.billplz-sandbox.com/api (online payment needs all four KUOTA_BILLPLZ_*)",
    ),
    ("KUOTA_BILLPLZ_API_KEY", "Billplz API secret key"),
    ("KUOTA_BILLPLZ_COLLECTION_ID", "the Billplz collection bills are made in"),
    ("KUOTA_BILLPLZ_X_SIGNATURE_KEY", "the Billplz X Signature key that signs callbacks and redirects"),
    (
        "KUOTA_MYINVOIS_IDENTITY_URL",
        "LHDN identity service, e.g. https://preprod-api.myinvois.hasil.gov.my (e-invoicing needs all seven KUOTA_MYINVOIS_*)",
    ),
    ("KUOTA_MYINVOIS_API_URL", "MyInvois system API, e.g. https://preprod-api.myinvois.hasil.gov.my"),
    ("KUOTA_MYINVOIS_CLIENT_ID", "the client id of kuota as an ERP system registered with LHDN"),
    ("KUOTA_MYINVOIS_CLIENT_SECRET", "its client secret"),
    (
        "KUOTA_MYINVOIS_SIGNING_KEY",
        "PEM file of the signing certificate's RSA private key (PKCS#8 or PKCS#1), mode 0600",
    ),
    (
        "KUOTA_MYINVOIS_SIGNING_CERT",
        "PEM file of the signing certificate (an organisation certificate from a Malaysian licensed CA)",
    ),
    (
        "KUOTA_MYINVOIS_PORTAL_URL",
        "the MyInvois portal whose validation links the QR codes carry, e.g. https://preprod.myinvois.hasil.gov.my",
    ),
    ("KUOTA_TEST_POSTGRES_URL", "used only by the test suite: the PostgreSQL server for throwaway databases"),
];

/// Durability of SQLite commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// fsync on every commit: an answered write survives a power cut.
    #[default]
    Full,
    /// Faster, may lose the last commits on power loss (never corrupts).
    Normal,
}

impl SqliteSynchronous {
    /// The PRAGMA value.
    #[must_use]
    pub fn pragma_value(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the database is.
    pub database_url: String,
    /// Folder for local data.
    pub data_dir: PathBuf,
    /// Where blobs are kept.
    pub blobs: crate::blob::BlobLocation,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Address of the `/metrics` listener, if any.
    pub metrics_listen: Option<SocketAddr>,
    /// How long a stopping node lets requests in flight finish.
    pub shutdown_grace: std::time::Duration,
    /// Pool size per process.
    pub max_connections: u32,
    /// SQLite durability.
    pub sqlite_synchronous: SqliteSynchronous,
    /// SMTP server; `None` keeps messages in the outbox.
    pub smtp_url: Option<String>,
    /// From address.
    pub mail_from: String,
    /// First retry delay of a failed message.
    pub mail_retry_base_ms: i64,
    /// The portal's address, for links in e-mail.
    pub public_url: String,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The file holding the audit chain's key (see `audit::Key`).
    pub audit_key_file: PathBuf,
    /// Requests one client address may make at once at the public doors
    /// (see `auth::admission`).
    pub public_door_burst: u32,
    /// The Billplz account; online payment is offered only with it.
    pub billplz: Option<crate::billplz::client::Account>,
    /// MyInvois: the account and the signing key and certificate files;
    /// e-invoices are submitted only with it.
    pub myinvois: Option<(crate::myinvois::client::Account, PathBuf, PathBuf)>,
}

/// The keys a TOML file may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    blob_url: Option<String>,
    s3_endpoint: Option<String>,
    listen: Option<String>,
    metrics_listen: Option<String>,
    shutdown_grace: Option<u64>,
    database_max_connections: Option<u32>,
    sqlite_synchronous: Option<SqliteSynchronous>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    mail_retry_base_ms: Option<i64>,
    public_url: Option<String>,
    trusted_proxies: Option<String>,
    audit_key_file: Option<PathBuf>,
    public_door_burst: Option<u32>,
    billplz_api_url: Option<String>,
    billplz_api_key: Option<String>,
    billplz_collection_id: Option<String>,
    billplz_x_signature_key: Option<String>,
}

impl Config {
    /// Loads the configuration from the process environment.
    ///
    /// # Errors
    /// A value that does not parse, or a config file that cannot be read.
    pub fn from_env() -> anyhow::Result<(Self, Vec<String>)> {
        let variables: BTreeMap<String, String> =
            std::env::vars().filter(|(name, _)| name.starts_with("KUOTA_")).collect();
        Self::from_variables(&variables)
    }

    /// Loads the configuration from the given `KUOTA_*` variables; returns it
    /// with the names of the variables that are not known.
    ///
    /// # Errors
    /// A value that does not parse, or a config file that cannot be read.
    pub fn from_variables(variables: &BTreeMap<String, String>) -> anyhow::Result<(Self, Vec<String>)> {
        let unknown =
            variables.keys().filter(|name| !KNOWN_VARIABLES.iter().any(|(known, _)| known == name)).cloned().collect();
        let file = match variables.get("KUOTA_CONFIG") {
            Some(path) => read_file(Path::new(path))?,
            None => FileConfig::default(),
        };
        let billplz = billplz_account(variables, &file)?;
        let blobs = blob_location(variables, &file, &data_dir_of(variables, &file))?;
        let myinvois = myinvois_account(variables)?;
        let data_dir = data_dir_of(variables, &file);
        let database_url = variables
            .get("KUOTA_DATABASE_URL")
            .cloned()
            .or(file.database_url)
            .unwrap_or_else(|| sqlite_url_in(&data_dir));
        check_database_url(&database_url)?;
        let (metrics_listen, shutdown_grace) =
            parse_operations(variables, (file.metrics_listen.clone(), file.shutdown_grace))?;
        let listen_text =
            variables.get("KUOTA_LISTEN").cloned().or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_text
            .parse()
            .with_context(|| format!("KUOTA_LISTEN: {listen_text:?} is not an address like 127.0.0.1:8080"))?;
        let max_connections =
            match variables.get("KUOTA_DATABASE_MAX_CONNECTIONS") {
                Some(text) => text.parse().ok().filter(|n| (1..=1000).contains(n)).with_context(|| {
                    format!("KUOTA_DATABASE_MAX_CONNECTIONS: {text:?} is not a number from 1 to 1000")
                })?,
                None => file.database_max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
            };
        let trusted_proxies = parse_trusted_proxies(
            &variables.get("KUOTA_TRUSTED_PROXIES").cloned().or(file.trusted_proxies).unwrap_or_default(),
        )?;
        let sqlite_synchronous = match variables.get("KUOTA_SQLITE_SYNCHRONOUS").map(|s| s.to_ascii_lowercase()) {
            Some(text) if text == "full" => SqliteSynchronous::Full,
            Some(text) if text == "normal" => SqliteSynchronous::Normal,
            Some(text) => bail!("KUOTA_SQLITE_SYNCHRONOUS: {text:?} is not full or normal"),
            None => file.sqlite_synchronous.unwrap_or_default(),
        };
        let mail_retry_base_ms = parse_retry_base(variables.get("KUOTA_MAIL_RETRY_BASE_MS"), file.mail_retry_base_ms)?;
        let audit_key_file = variables
            .get("KUOTA_AUDIT_KEY_FILE")
            .map(PathBuf::from)
            .or(file.audit_key_file)
            .unwrap_or_else(|| data_dir.join("audit.key"));
        let public_door_burst = parse_burst(variables.get("KUOTA_PUBLIC_DOOR_BURST"), file.public_door_burst)?;
        let config = Self {
            billplz,
            myinvois,
            public_door_burst,
            audit_key_file,
            database_url,
            data_dir,
            blobs,
            listen,
            metrics_listen,
            shutdown_grace,
            max_connections,
            sqlite_synchronous,
            smtp_url: variables.get("KUOTA_SMTP_URL").cloned().or(file.smtp_url).filter(|url| !url.is_empty()),
            mail_from: variables
                .get("KUOTA_MAIL_FROM")
                .cloned()
                .or(file.mail_from)
                .unwrap_or_else(|| "kuota@localhost".to_owned()),
            mail_retry_base_ms,
            public_url: variables
                .get("KUOTA_PUBLIC_URL")
                .cloned()
                .or(file.public_url)
                .unwrap_or_else(|| format!("http://{listen}")),
            trusted_proxies,
        };
        Ok((config, unknown))
    }

    /// True when the database is SQLite.
    #[must_use]
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

fn data_dir_of(variables: &BTreeMap<String, String>, file: &FileConfig) -> PathBuf {
    variables
        .get("KUOTA_DATA_DIR")
        .map(PathBuf::from)
        .or_else(|| file.data_dir.clone())
        .unwrap_or_else(|| DEFAULT_DATA_DIR.into())
}

/// `KUOTA_BLOB_URL` and `KUOTA_S3_ENDPOINT` (over the file's keys); by
/// default the folder `blobs` in the data dir.
fn blob_location(
    variables: &BTreeMap<String, String>,
    file: &FileConfig,
    data_dir: &Path,
) -> anyhow::Result<crate::blob::BlobLocation> {
    let endpoint = variables.get("KUOTA_S3_ENDPOINT").or(file.s3_endpoint.as_ref()).map(String::as_str);
    match (variables.get("KUOTA_BLOB_URL").or(file.blob_url.as_ref()), endpoint) {
        (Some(url), endpoint) => crate::blob::BlobLocation::parse(url, endpoint),
        (None, Some(_)) => {
            bail!("KUOTA_S3_ENDPOINT is set but KUOTA_BLOB_URL is not: name the bucket (s3://bucket/prefix)")
        }
        (None, None) => Ok(crate::blob::BlobLocation::Folder(data_dir.join("blobs"))),
    }
}

/// The four `KUOTA_BILLPLZ_*` values (over the file's keys): all or none.
fn billplz_account(
    variables: &BTreeMap<String, String>,
    file: &FileConfig,
) -> anyhow::Result<Option<crate::billplz::client::Account>> {
    let value = |name: &str, in_file: &Option<String>| {
        variables.get(name).cloned().or_else(|| in_file.clone()).filter(|text| !text.trim().is_empty())
    };
    let values = [
        ("KUOTA_BILLPLZ_API_URL", value("KUOTA_BILLPLZ_API_URL", &file.billplz_api_url)),
        ("KUOTA_BILLPLZ_API_KEY", value("KUOTA_BILLPLZ_API_KEY", &file.billplz_api_key)),
        ("KUOTA_BILLPLZ_COLLECTION_ID", value("KUOTA_BILLPLZ_COLLECTION_ID", &file.billplz_collection_id)),
        ("KUOTA_BILLPLZ_X_SIGNATURE_KEY", value("KUOTA_BILLPLZ_X_SIGNATURE_KEY", &file.billplz_x_signature_key)),
    ];
    let missing: Vec<&str> = values.iter().filter(|(_, v)| v.is_none()).map(|(name, _)| *name).collect();
    if missing.len() == values.len() {
        return Ok(None);
    }
    if !missing.is_empty() {
        bail!("online payment needs all four KUOTA_BILLPLZ_* variables; missing: {}", missing.join(", "));
    }
    let [(_, Some(api_url)), (_, Some(api_key)), (_, Some(collection_id)), (_, Some(x_signature_key))] = values else {
        bail!("online payment needs all four KUOTA_BILLPLZ_* variables");
    };
    if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
        bail!("KUOTA_BILLPLZ_API_URL: {api_url:?} is not an http(s) address");
    }
    Ok(Some(crate::billplz::client::Account { api_url, api_key, collection_id, x_signature_key }))
}

/// The seven `KUOTA_MYINVOIS_*` values: all or none.
fn myinvois_account(
    variables: &BTreeMap<String, String>,
) -> anyhow::Result<Option<(crate::myinvois::client::Account, PathBuf, PathBuf)>> {
    let names = [
        "KUOTA_MYINVOIS_IDENTITY_URL",
        "KUOTA_MYINVOIS_API_URL",
        "KUOTA_MYINVOIS_CLIENT_ID",
        "KUOTA_MYINVOIS_CLIENT_SECRET",
        "KUOTA_MYINVOIS_SIGNING_KEY",
        "KUOTA_MYINVOIS_SIGNING_CERT",
        "KUOTA_MYINVOIS_PORTAL_URL",
    ];
    let values: Vec<Option<String>> =
        names.iter().map(|name| variables.get(*name).filter(|v| !v.trim().is_empty()).cloned()).collect();
    let missing: Vec<&str> = names.iter().zip(&values).filter(|(_, v)| v.is_none()).map(|(n, _)| *n).collect();
    if missing.len() == names.len() {
        return Ok(None);
    }
    if !missing.is_empty() {
        bail!("e-invoicing needs all seven KUOTA_MYINVOIS_* variables; missing: {}", missing.join(", "));
    }
    let value = |index: usize| values[index].clone().unwrap_or_default();
    let account = crate::myinvois::client::Account {
        identity_url: value(0),
        api_url: value(1),
        client_id: value(2),
        client_secret: value(3),
        portal_url: value(6),
    };
    Ok(Some((account, PathBuf::from(value(4)), PathBuf::from(value(5)))))
}

/// `KUOTA_MAIL_RETRY_BASE_MS` (over the file's key): 1 ms to an hour.
fn parse_retry_base(variable: Option<&String>, in_file: Option<i64>) -> anyhow::Result<i64> {
    let Some(text) = variable else { return Ok(in_file.unwrap_or(5_000)) };
    text.parse().ok().filter(|ms| (1..=3_600_000).contains(ms)).with_context(|| {
        format!("KUOTA_MAIL_RETRY_BASE_MS: {text:?} is not a number of milliseconds from 1 to 3600000")
    })
}

/// `KUOTA_DATABASE_URL` names one of the two backends.
fn check_database_url(url: &str) -> anyhow::Result<()> {
    if ["sqlite:", "postgres://", "postgresql://"].iter().any(|scheme| url.starts_with(scheme)) {
        Ok(())
    } else {
        bail!("KUOTA_DATABASE_URL must start with sqlite:, postgres:// or postgresql://")
    }
}

/// Default of `KUOTA_SHUTDOWN_GRACE`, seconds.
pub const DEFAULT_SHUTDOWN_GRACE_S: u64 = 20;

/// `KUOTA_METRICS_LISTEN` (an address, or off) and `KUOTA_SHUTDOWN_GRACE`
/// (1 to 3,600 seconds), over the file's keys.
fn parse_operations(
    variables: &BTreeMap<String, String>,
    (file_listen, file_grace): (Option<String>, Option<u64>),
) -> anyhow::Result<(Option<SocketAddr>, std::time::Duration)> {
    let listen = variables.get("KUOTA_METRICS_LISTEN").cloned().or(file_listen);
    let metrics_listen = match listen.filter(|text| !text.trim().is_empty()) {
        None => None,
        Some(text) => Some(
            text.trim()
                .parse()
                .with_context(|| format!("KUOTA_METRICS_LISTEN: {text:?} is not an address like 127.0.0.1:9090"))?,
        ),
    };
    let grace = match variables.get("KUOTA_SHUTDOWN_GRACE") {
        Some(text) => text
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|s| (1..=3_600).contains(s))
            .with_context(|| format!("KUOTA_SHUTDOWN_GRACE: {text:?} is not a number of seconds from 1 to 3600"))?,
        None => file_grace.unwrap_or(DEFAULT_SHUTDOWN_GRACE_S),
    };
    Ok((metrics_listen, std::time::Duration::from_secs(grace)))
}

/// `KUOTA_PUBLIC_DOOR_BURST` (over the file's key): 1 to 1,000,000.
fn parse_burst(variable: Option<&String>, in_file: Option<u32>) -> anyhow::Result<u32> {
    let Some(text) = variable else { return Ok(in_file.unwrap_or(crate::auth::admission::BURST)) };
    text.parse()
        .ok()
        .filter(|n| (1..=1_000_000).contains(n))
        .with_context(|| format!("KUOTA_PUBLIC_DOOR_BURST: {text:?} is not a number from 1 to 1000000"))
}

/// The SQLite URL of the default database file in `data_dir`.
#[must_use]
pub fn sqlite_url_in(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("kuota.db").display())
}

/// Comma-separated IP addresses (`KUOTA_TRUSTED_PROXIES`).
fn parse_trusted_proxies(list: &str) -> anyhow::Result<Vec<std::net::IpAddr>> {
    list.split(',')
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(|text| {
            text.parse::<std::net::IpAddr>()
                .with_context(|| format!("KUOTA_TRUSTED_PROXIES: {text:?} is not an IP address"))
        })
        .collect()
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_to_sqlite_in_the_data_dir() -> anyhow::Result<()> {
        let (config, unknown) = Config::from_variables(&vars(&[]))?;
        assert!(config.is_sqlite());
        assert!(config.database_url.contains("kuota-data"));
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.sqlite_synchronous, SqliteSynchronous::Full);
        assert_eq!(config.audit_key_file, Path::new(DEFAULT_DATA_DIR).join("audit.key"));
        assert!(unknown.is_empty());
        Ok(())
    }

    #[test]
    fn unknown_variables_are_reported() -> anyhow::Result<()> {
        let (_, unknown) = Config::from_variables(&vars(&[("KUOTA_LISTN", "x")]))?;
        assert_eq!(unknown, vec!["KUOTA_LISTN".to_owned()]);
        Ok(())
    }

    #[test]
    fn bad_values_are_errors_that_name_the_variable() {
        let error = Config::from_variables(&vars(&[("KUOTA_LISTEN", "nowhere")])).err().map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("KUOTA_LISTEN")));
        assert!(Config::from_variables(&vars(&[("KUOTA_DATABASE_URL", "mysql://x")])).is_err());
        for wrong in ["0", "-1", "lots", "1000001"] {
            let error =
                Config::from_variables(&vars(&[("KUOTA_PUBLIC_DOOR_BURST", wrong)])).err().map(|e| e.to_string());
            assert!(error.is_some_and(|e| e.contains("KUOTA_PUBLIC_DOOR_BURST")), "{wrong}");
        }
    }

    #[test]
    fn metrics_are_off_and_the_grace_is_twenty_seconds_unless_told() -> anyhow::Result<()> {
        let (config, _) = Config::from_variables(&vars(&[]))?;
        assert_eq!((config.metrics_listen, config.shutdown_grace.as_secs()), (None, 20));
        let (config, _) = Config::from_variables(&vars(&[
            ("KUOTA_METRICS_LISTEN", "127.0.0.1:9090"),
            ("KUOTA_SHUTDOWN_GRACE", "5"),
        ]))?;
        assert_eq!((config.metrics_listen, config.shutdown_grace.as_secs()), (Some("127.0.0.1:9090".parse()?), 5));
        for (name, value) in [("KUOTA_METRICS_LISTEN", "metrics"), ("KUOTA_SHUTDOWN_GRACE", "0")] {
            let error = Config::from_variables(&vars(&[(name, value)])).err().map(|e| e.to_string());
            assert!(error.is_some_and(|e| e.contains(name)), "{name}={value}");
        }
        Ok(())
    }

    #[test]
    fn the_public_doors_admit_twenty_unless_told() -> anyhow::Result<()> {
        assert_eq!(Config::from_variables(&vars(&[]))?.0.public_door_burst, 20);
        assert_eq!(Config::from_variables(&vars(&[("KUOTA_PUBLIC_DOOR_BURST", "500")]))?.0.public_door_burst, 500);
        Ok(())
    }

    #[test]
    fn online_payment_needs_all_four_billplz_values_or_none() -> anyhow::Result<()> {
        assert!(Config::from_variables(&vars(&[]))?.0.billplz.is_none());
        let error = Config::from_variables(&vars(&[("KUOTA_BILLPLZ_API_KEY", "k")])).err().map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("KUOTA_BILLPLZ_COLLECTION_ID")));
        let all = vars(&[
            ("KUOTA_BILLPLZ_API_URL", "https://www.billplz-sandbox.com/api"),
            ("KUOTA_BILLPLZ_API_KEY", "k"),
            ("KUOTA_BILLPLZ_COLLECTION_ID", "c"),
            ("KUOTA_BILLPLZ_X_SIGNATURE_KEY", "x"),
        ]);
        let account = Config::from_variables(&all)?.0.billplz;
        assert_eq!(account.map(|a| a.collection_id), Some("c".to_owned()));
        Ok(())
    }

    #[test]
    fn unknown_file_keys_are_errors() {
        assert!(toml::from_str::<FileConfig>("listen = \"127.0.0.1:1\"\nlistne = 1").is_err());
        assert!(toml::from_str::<FileConfig>("listen = \"127.0.0.1:1\"").is_ok());
    }
}
