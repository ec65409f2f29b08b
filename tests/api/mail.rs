//! E-mail through a real SMTP server (aiosmtpd in its own process): the right
//! messages to the right people in their language, exactly once, also when
//! the server was down while the events happened.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, pdf_bytes, pdf_text};
use crate::on_both_backends;

on_both_backends!(
    the_purchase_sends_each_party_its_messages_once_in_its_language,
    messages_survive_a_mail_server_outage,
    three_workers_never_send_a_message_twice,
);

/// An aiosmtpd server storing mail in a Maildir; killed when dropped.
pub struct SmtpServer {
    child: Child,
    maildir: PathBuf,
}

/// A port for an SMTP server that no other test of this run will be given:
/// below Linux's ephemeral range (which `bind(0)` draws from), counted up per
/// call from a base that differs per process. The outage test leaves its port
/// unbound for seconds, and a port from `bind(0)` could meanwhile be handed to
/// another test's server, which would then receive both tests' mail.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + u16::try_from(std::process::id() % 10_000).unwrap();
    loop {
        let port = base + NEXT.fetch_add(1, Ordering::SeqCst) % 2_000;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl SmtpServer {
    #[allow(clippy::zombie_processes, reason = "Drop kills and waits; a panic here ends the test anyway")]
    pub fn start(port: u16, maildir: PathBuf) -> Self {
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd (scripts/test installs it)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self { child, maildir };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("aiosmtpd did not start on port {port}");
    }

    /// Every stored message, raw.
    fn messages(&self) -> Vec<String> {
        self.files().iter().map(|path| std::fs::read_to_string(path).unwrap()).collect()
    }

    fn files(&self) -> Vec<PathBuf> {
        let mut all = Vec::new();
        for sub in ["new", "cur"] {
            for entry in std::fs::read_dir(self.maildir.join(sub)).unwrap() {
                all.push(entry.unwrap().path());
            }
        }
        all
    }

    /// The decoded plain text of every message to `recipient`, oldest first.
    pub fn texts_to(&self, recipient: &str) -> Vec<String> {
        let mut files = self.files();
        files.sort_by_key(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok());
        files
            .into_iter()
            .filter(|path| header(&std::fs::read_to_string(path).unwrap(), "To").contains(recipient))
            .map(|path| self.parts_of(&path).text)
            .collect()
    }

    /// The stored message with this subject, split by Python's MIME parser.
    fn parts(&self, subject: &str) -> Parts {
        let path = self
            .files()
            .into_iter()
            .find(|path| header(&std::fs::read_to_string(path).unwrap(), "Subject") == subject)
            .unwrap_or_else(|| panic!("no message with subject {subject}"));
        self.parts_of(&path)
    }

    fn parts_of(&self, path: &std::path::Path) -> Parts {
        let out = self.maildir.join(format!("parts-{}", crate::helpers::unique()));
        let output = Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mail_parts.py"))
            .arg(path)
            .arg(&out)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let parsed: Value = serde_json::from_slice(&output.stdout).unwrap();
        let attachments = parsed["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let bytes = std::fs::read(a["path"].as_str().unwrap()).unwrap();
                (a["filename"].as_str().unwrap().to_owned(), a["content_type"].as_str().unwrap().to_owned(), bytes)
            })
            .collect();
        Parts { text: parsed["text"].as_str().unwrap().to_owned(), attachments }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A message's plain text and its attachments (file name, content type, bytes).
struct Parts {
    text: String,
    attachments: Vec<(String, String, Vec<u8>)>,
}

fn header<'a>(message: &'a str, name: &str) -> &'a str {
    message
        .lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(": ")))
        .unwrap_or_default()
}

pub async fn wait_until_sent(app: &TestApp) {
    for _ in 0..150 {
        if app.count("outbox WHERE sent_at IS NULL").await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stuck: Vec<(String, i64, Option<String>)> =
        sqlx::query_as("SELECT kind, attempts, last_error FROM outbox WHERE sent_at IS NULL")
            .fetch_all(app.db.pool())
            .await
            .unwrap();
    panic!("the outbox did not drain: {stuck:?}");
}

/// Uploads a procedure attachment as the admin client.
pub async fn put_procedure(app: &TestApp, name: &str, content_type: &str, bytes: Vec<u8>) -> reqwest::Response {
    app.client
        .put(app.url(&format!("/api/v1/attachments/{name}")))
        .bearer_auth(&app.admin_token)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

async fn purchase(app: &TestApp) -> i64 {
    app.add_developer("PMJ-1", "201901000005").await;
    for name in ["non-malaysian", "oku"] {
        assert_eq!(put_procedure(app, name, "application/pdf", pdf_bytes(name)).await.status(), 201);
    }
    app.set_price("CERT-1Y", "50.00").await;
    let developer = app.add_user("pemaju@maju.com.my", "developer_admin", Some("PMJ-1")).await;
    sqlx::query("UPDATE users SET language = 'en' WHERE email = 'pemaju@maju.com.my'")
        .execute(app.db.pool())
        .await
        .unwrap();
    let retail = app.add_user("pegawai@posdigicert.com.my", "retail", None).await;
    let finance = app.add_user("akaun@posdigicert.com.my", "finance", None).await;
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 20}]});
    let id = app.post_as(&developer, "/api/v1/quota-requests", &body).await.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    app.post_as(&retail, &format!("/api/v1/quota-requests/{id}/info-requests"), &json!({"message": "Sila sahkan"}))
        .await;
    app.post_as(&developer, &format!("/api/v1/quota-requests/{id}/info-responses"), &json!({"message": "Disahkan"}))
        .await;
    let quotation: Value = app
        .post_as(&retail, &format!("/api/v1/quota-requests/{id}/quotations"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let total = quotation["total"].as_str().unwrap();
    let payment: Value = app
        .submit_payment(&developer, id, "bank_transfer", "TRX-77", total, "resit.pdf", pdf_bytes("mail"))
        .await
        .json()
        .await
        .unwrap();
    app.post_as(&retail, &format!("/api/v1/payments/{}/approval", payment["id"]), &json!({})).await;
    let invoice = app.post_as(&finance, &format!("/api/v1/quota-requests/{id}/invoice"), &json!({})).await;
    assert_eq!(invoice.status(), 201);
    id
}

async fn the_purchase_sends_each_party_its_messages_once_in_its_language(backend: Backend) {
    let port = free_port();
    let server = SmtpServer::start(port, std::env::temp_dir().join(format!("kuota-mail-{port}")));
    let app = TestApp::spawn_with_mail(backend, Some(format!("smtp://127.0.0.1:{port}"))).await;
    purchase(&app).await;
    wait_until_sent(&app).await;
    let messages = server.messages();
    let mut seen: Vec<(String, String)> =
        messages.iter().map(|m| (header(m, "To").to_owned(), header(m, "Subject").to_owned())).collect();
    seen.sort();
    let expected_subjects = [
        ("kpkt.retail@posdigicert.com.my", "Permohonan kuota REQ-2026-000001 daripada PMJ-1"),
        ("kpkt.retail@posdigicert.com.my", "Maklumat diterima untuk REQ-2026-000001"),
        ("kpkt.retail@posdigicert.com.my", "Pembayaran dihantar untuk REQ-2026-000001"),
        ("pemaju@maju.com.my", "Information needed for REQ-2026-000001"),
        ("pemaju@maju.com.my", "Quotation QT-2026-000001 for REQ-2026-000001"),
        ("pemaju@maju.com.my", "Quota credited for REQ-2026-000001"),
        ("pemaju@maju.com.my", "Invoice INV-2026-000001 for REQ-2026-000001"),
        ("finance@posdigicert.com.my", "Invois dan DO diperlukan untuk REQ-2026-000001"),
    ];
    let mut expected: Vec<(String, String)> =
        expected_subjects.iter().map(|(to, subject)| ((*to).to_owned(), (*subject).to_owned())).collect();
    expected.sort();
    assert_eq!(seen, expected);
    let ids: BTreeSet<&str> = messages.iter().map(|m| header(m, "Message-ID")).collect();
    assert_eq!(ids.len(), messages.len(), "every message once, each with its own Message-ID");
    assert!(
        messages
            .iter()
            .all(|m| m.contains("text/html") && m.contains("text/plain") && m.contains("https://kuota.test"))
    );
    // The quotation goes with its PDF and both procedures; the teams get none.
    let quotation = server.parts("Quotation QT-2026-000001 for REQ-2026-000001");
    let names: Vec<&str> = quotation.attachments.iter().map(|(name, _, _)| name.as_str()).collect();
    assert_eq!(names, ["QT-2026-000001.pdf", "non-malaysian.pdf", "oku.pdf"]);
    assert!(quotation.attachments.iter().all(|(_, kind, _)| kind == "application/pdf"));
    let text = pdf_text(&quotation.attachments[0].2);
    assert!(text.contains("QT-2026-000001") && text.contains("RM 1,080.00"), "{text}");
    assert_eq!(quotation.attachments[2].2, pdf_bytes("oku"), "the procedure as uploaded");
    assert!(quotation.text.contains("REQ-2026-000001") && quotation.text.contains("https://kuota.test"));
    let invoice = server.parts("Invoice INV-2026-000001 for REQ-2026-000001");
    let names: Vec<&str> = invoice.attachments.iter().map(|(name, _, _)| name.as_str()).collect();
    assert_eq!(names, ["INV-2026-000001.pdf", "DO-2026-000001.pdf"]);
    assert!(pdf_text(&invoice.attachments[0].2).contains("RM 1,080.00"));
    assert!(pdf_text(&invoice.attachments[1].2).contains("DO-2026-000001"));
    let downloaded = app.get_as(&app.admin_token, "/api/v1/documents/QT-2026-000001.pdf").await.bytes().await.unwrap();
    assert_eq!(downloaded.as_ref(), quotation.attachments[0].2.as_slice(), "the mail carries the issued bytes");
    for subject in ["Permohonan kuota REQ-2026-000001 daripada PMJ-1", "Invois dan DO diperlukan untuk REQ-2026-000001"]
    {
        assert!(server.parts(subject).attachments.is_empty(), "{subject}");
    }
    let _ = std::fs::remove_dir_all(&server.maildir);
}

async fn messages_survive_a_mail_server_outage(backend: Backend) {
    let port = free_port();
    let app = TestApp::spawn_with_mail(backend, Some(format!("smtp://127.0.0.1:{port}"))).await;
    purchase(&app).await;
    // Nothing listens: every message is tried, fails, and waits for a retry.
    for _ in 0..100 {
        if app.count("outbox WHERE attempts = 0").await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.count("outbox WHERE attempts = 0").await, 0, "every message was tried");
    assert_eq!(app.count("outbox WHERE sent_at IS NOT NULL").await, 0);
    let queued = app.count("outbox").await;
    let server = SmtpServer::start(port, std::env::temp_dir().join(format!("kuota-mail-{port}")));
    app.clock.advance_seconds(60);
    wait_until_sent(&app).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let messages = server.messages();
    assert_eq!(i64::try_from(messages.len()).unwrap(), queued, "each queued message arrives, once");
    let ids: BTreeSet<&str> = messages.iter().map(|m| header(m, "Message-ID")).collect();
    assert_eq!(ids.len(), messages.len());
    let _ = std::fs::remove_dir_all(&server.maildir);
}

async fn three_workers_never_send_a_message_twice(backend: Backend) {
    let port = free_port();
    let server = SmtpServer::start(port, std::env::temp_dir().join(format!("kuota-mail-{port}")));
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let app = TestApp::spawn_with_mail(backend, Some(smtp_url.clone())).await;
    // Two more workers on the same database, as two more nodes would run.
    for _ in 0..2 {
        let config = kuota::config::Config { smtp_url: Some(smtp_url.clone()), ..app.database.config() };
        kuota::startup::start_mail(&config, &app.state).unwrap();
    }
    purchase(&app).await;
    wait_until_sent(&app).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let messages = server.messages();
    assert_eq!(i64::try_from(messages.len()).unwrap(), app.count("outbox").await);
    let ids: BTreeSet<&str> = messages.iter().map(|m| header(m, "Message-ID")).collect();
    assert_eq!(ids.len(), messages.len(), "no message was sent twice");
    let _ = std::fs::remove_dir_all(&server.maildir);
}
