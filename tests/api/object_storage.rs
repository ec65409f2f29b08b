//! Blobs in an S3-compatible store shared by two `kuota serve` processes on
//! one PostgreSQL: a real S3 API on loopback (moto's server, from PyPI,
//! pinned in scripts/requirements-test.txt), spoken to with kuota's own
//! client code (object_store, signed requests).

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestDatabase, pdf_bytes, unique};
use crate::processes::{Server, cli_with, last_line, prepare};

/// moto's S3 server on a port of its own; killed when dropped.
struct S3Server {
    child: Child,
    url: String,
}

impl S3Server {
    fn start() -> Self {
        let port = crate::mail::free_port();
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m moto.server (scripts/test installs moto[server])");
        let server = Self { child, url: format!("http://127.0.0.1:{port}") };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("moto's S3 server did not start on port {port}");
    }

    /// Makes a bucket (moto takes unsigned requests; kuota's never are).
    async fn bucket(&self, name: &str) {
        let made = http().put(format!("{}/{name}", self.url)).send().await.unwrap();
        assert_eq!(made.status(), 200, "creating bucket {name}");
    }

    /// Overwrites an object behind kuota's back (signed: moto refuses an
    /// unsigned overwrite of an object someone owns).
    async fn overwrite(&self, bucket: &str, key: &str, bytes: &[u8]) {
        use object_store::ObjectStoreExt as _;
        let store = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_endpoint(&self.url)
            .with_allow_http(true)
            .with_access_key_id("testing")
            .with_secret_access_key("testing")
            .with_region("ap-southeast-1")
            .with_http_connector(Connector)
            .build()
            .unwrap();
        store.put(&key.into(), bytes.to_vec().into()).await.unwrap();
    }

    /// Every key in the bucket under `prefix`.
    async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let listing = http()
            .get(format!("{}/{bucket}?list-type=2&prefix={prefix}/", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        listing.split("<Key>").skip(1).filter_map(|rest| rest.split("</Key>").next()).map(str::to_owned).collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test's own client for object_store (reqwest here has no default TLS provider).
#[derive(Debug)]
struct Connector;

impl object_store::client::HttpConnector for Connector {
    fn connect(&self, _: &object_store::ClientOptions) -> object_store::Result<object_store::client::HttpClient> {
        Ok(object_store::client::HttpClient::new(http()))
    }
}

fn http() -> reqwest::Client {
    kuota::outbound::client_builder().unwrap().build().unwrap()
}

/// A user and a personal token for them, made with the CLI.
fn user_token(database: &TestDatabase, extra: &[(&str, String)], email: &str, role: &str) -> String {
    let mut args =
        vec!["user", "add", "--email", email, "--name", "Pengguna Ujian", "--role", role, "--password-stdin"];
    if role.starts_with("developer") {
        args.extend(["--developer", "PMJ-1"]);
    }
    let mut child = Command::new(crate::processes::BINARY)
        .args(&args)
        .envs(database.env())
        .envs(extra.iter().cloned())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"kata-laluan-ujian-panjang\n").unwrap();
    let added = child.wait_with_output().unwrap();
    assert!(added.status.success(), "user add: {}", String::from_utf8_lossy(&added.stderr));
    let token = cli_with(database, extra, &["token", "create", "--email", email]);
    assert!(token.status.success(), "token create: {}", String::from_utf8_lossy(&token.stderr));
    last_line(&token)
}

/// Two nodes with data dirs of their own, sharing the database, the audit
/// key and one prefix of a bucket.
struct TwoNodes {
    s3: S3Server,
    bucket: &'static str,
    prefix: String,
    database: TestDatabase,
    store: Vec<(&'static str, String)>,
    developer: String,
    first: Server,
    second: Server,
    second_folder: std::path::PathBuf,
}

impl TwoNodes {
    async fn start() -> Self {
        let s3 = S3Server::start();
        let bucket = "kuota-shared";
        s3.bucket(bucket).await;
        let prefix = format!("run-{}", unique());
        let database = TestDatabase::create(Backend::Postgres).await;
        let store = vec![
            ("KUOTA_BLOB_URL", format!("s3://{bucket}/{prefix}")),
            ("KUOTA_S3_ENDPOINT", s3.url.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_REGION", "ap-southeast-1".to_owned()),
        ];
        let (admin, _) = prepare(&database);
        let developer = user_token(&database, &store, "pemaju@maju.com.my", "developer_admin");
        let first = Server::start_with(&database, &store);
        let second_folder = std::env::temp_dir().join(format!("kuota-second-node-{}", unique()));
        let mut second_env = store.clone();
        second_env.push(("KUOTA_DATA_DIR", second_folder.display().to_string()));
        second_env.push(("KUOTA_AUDIT_KEY_FILE", database.data_dir.join("audit.key").display().to_string()));
        let second = Server::start_with(&database, &second_env);
        let price = json!({"unit_price": "50.00", "effective_from": "2020-01-01"});
        let set = http()
            .post(format!("{}/api/v1/products/CERT-1Y/prices", first.url))
            .bearer_auth(&admin)
            .json(&price)
            .send()
            .await
            .unwrap();
        assert_eq!(set.status(), 201);
        Self { s3, bucket, prefix, database, store, developer, first, second, second_folder }
    }

    async fn get(&self, url: String) -> reqwest::Response {
        http().get(url).bearer_auth(&self.developer).send().await.unwrap()
    }

    async fn keys(&self) -> Vec<String> {
        self.s3.keys(self.bucket, &self.prefix).await
    }

    /// A request through the first node, whose quotation is issued and
    /// rendered there at once; returns its id and the quotation's number.
    async fn request(&self) -> (i64, String) {
        let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 10}]});
        let made = http()
            .post(format!("{}/api/v1/quota-requests", self.first.url))
            .bearer_auth(&self.developer)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), 201);
        let id = made.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        let request: Value =
            self.get(format!("{}/api/v1/quota-requests/{id}", self.first.url)).await.json().await.unwrap();
        (id, request["quotations"][0]["number"].as_str().unwrap().to_owned())
    }

    /// A proof of payment uploaded through the first node; returns the payment's id.
    async fn pay(&self, id: i64, proof: &[u8]) -> i64 {
        let form = reqwest::multipart::Form::new()
            .text("method", "bank_transfer")
            .text("reference", "FT-S3-1")
            .text("amount", "540.00")
            .text("paid_on", "2026-11-20")
            .part("document", reqwest::multipart::Part::bytes(proof.to_vec()).file_name("bukti.pdf"));
        let paid = http()
            .post(format!("{}/api/v1/quota-requests/{id}/payments", self.first.url))
            .bearer_auth(&self.developer)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(paid.status(), 201);
        paid.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    }
}

impl Drop for TwoNodes {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.second_folder);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_one_s3_store_serve_every_file_from_either_node() {
    let nodes = TwoNodes::start().await;
    let (id, quotation) = nodes.request().await;
    let keys_after_issue = nodes.keys().await;
    assert_eq!(keys_after_issue.len(), 1, "the quotation's PDF is in the bucket: {keys_after_issue:?}");
    let from_second = nodes.get(format!("{}/api/v1/documents/{quotation}.pdf", nodes.second.url)).await;
    assert_eq!(from_second.status(), 200);
    let from_second = from_second.bytes().await.unwrap();
    let from_first = nodes.get(format!("{}/api/v1/documents/{quotation}.pdf", nodes.first.url)).await;
    assert_eq!(from_first.bytes().await.unwrap(), from_second, "both nodes serve the bytes rendered once");
    assert!(from_second.starts_with(b"%PDF-"));
    assert_eq!(nodes.keys().await, keys_after_issue, "the second node rendered nothing of its own");

    let proof = pdf_bytes(&format!("s3-{}", nodes.prefix));
    let payment = nodes.pay(id, &proof).await;
    let downloaded = nodes.get(format!("{}/api/v1/payments/{payment}/document", nodes.second.url)).await;
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.bytes().await.unwrap().to_vec(), proof, "byte-identical through the other node");
    for folder in [&nodes.database.data_dir, &nodes.second_folder] {
        assert!(!folder.join("blobs").exists(), "{} keeps no blobs of its own", folder.display());
    }
    backup_and_restore_through_buckets(&nodes, &proof).await;
    copy_and_damage(&nodes, &proof, payment).await;
}

/// `kuota backup` reads the blobs from the bucket; `kuota restore` puts them
/// into another (empty) prefix, nested in the first, for an empty database,
/// and refuses a prefix that already holds blobs.
async fn backup_and_restore_through_buckets(nodes: &TwoNodes, proof: &[u8]) {
    let archive = std::env::temp_dir().join(format!("kuota-s3-backup-{}.tar", unique()));
    let backup = cli_with(&nodes.database, &nodes.store, &["backup", "--to", &archive.display().to_string()]);
    assert!(backup.status.success(), "{}", String::from_utf8_lossy(&backup.stderr));
    assert!(last_line(&backup).ends_with("the postgres database and 2 blobs"), "{}", last_line(&backup));
    let target = TestDatabase::create(Backend::Postgres).await;
    // Inside the nodes' own prefix: another store, which theirs must not list.
    let restored_prefix = format!("{}/restored", nodes.prefix);
    let mut into = nodes.store.clone();
    into[0] = ("KUOTA_BLOB_URL", format!("s3://{}/{restored_prefix}", nodes.bucket));
    let restore = cli_with(&target, &into, &["restore", "--from", &archive.display().to_string()]);
    assert!(restore.status.success(), "{}", String::from_utf8_lossy(&restore.stderr));
    assert_eq!(nodes.s3.keys(nodes.bucket, &restored_prefix).await.len(), 2);
    let verify = cli_with(&target, &into, &["ledger", "verify"]);
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    let other = TestDatabase::create(Backend::Postgres).await;
    let refused = cli_with(&other, &into, &["restore", "--from", &archive.display().to_string()]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("is not empty"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let sha256 = kuota::digest::sha256_hex(proof);
    let archived = std::fs::read(&archive).unwrap();
    assert!(archived.windows(proof.len()).any(|w| w == proof), "the proof {sha256} is in the archive");
    let _ = std::fs::remove_file(&archive);
}

/// Every blob copies to a folder and from there into another prefix, each
/// read back; then a damaged object is an error, never served, and stops a copy.
async fn copy_and_damage(nodes: &TwoNodes, proof: &[u8], payment: i64) {
    let (database, store, bucket, prefix) = (&nodes.database, &nodes.store, nodes.bucket, &nodes.prefix);
    let folder = std::env::temp_dir().join(format!("kuota-copied-{}", unique()));
    let copied = cli_with(database, store, &["blobs", "copy", "--to", &format!("file://{}", folder.display())]);
    assert!(copied.status.success(), "{}", String::from_utf8_lossy(&copied.stderr));
    assert!(last_line(&copied).starts_with("2 blobs copied"), "{}", last_line(&copied));
    let sha256 = kuota::digest::sha256_hex(proof);
    assert_eq!(std::fs::read(folder.join(&sha256[..2]).join(&sha256)).unwrap(), proof);
    let mut back = store[2..].to_vec();
    back.push(("KUOTA_BLOB_URL", format!("file://{}", folder.display())));
    let target = format!("s3://{bucket}/{prefix}-copy");
    let copied_back = cli_with(database, &back, &["blobs", "copy", "--to", &target, "--endpoint", &nodes.s3.url]);
    assert!(copied_back.status.success(), "{}", String::from_utf8_lossy(&copied_back.stderr));
    assert_eq!(nodes.s3.keys(bucket, &format!("{prefix}-copy")).await.len(), 2);

    nodes.s3.overwrite(bucket, &format!("{prefix}/{}/{sha256}", &sha256[..2]), b"%PDF-1.4 tampered").await;
    let damaged = nodes.get(format!("{}/api/v1/payments/{payment}/document", nodes.second.url)).await;
    assert_eq!(damaged.status(), 500);
    assert_eq!(damaged.headers()["content-type"], "application/problem+json");
    assert!(!damaged.text().await.unwrap().contains("tampered"));
    let refused = cli_with(database, store, &["blobs", "copy", "--to", &format!("file://{}-2", folder.display())]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("does not match its SHA-256"));

    // A store that cannot be reached stops a node at start, named.
    let mut wrong = store.clone();
    wrong[1] = ("KUOTA_S3_ENDPOINT", "http://127.0.0.1:9".to_owned());
    let refused_start = cli_with(database, &wrong, &["serve"]);
    assert!(!refused_start.status.success());
    assert!(String::from_utf8_lossy(&refused_start.stderr).contains(&format!("the blob store s3://{bucket}/{prefix}")));
    let _ = std::fs::remove_dir_all(&folder);
}
