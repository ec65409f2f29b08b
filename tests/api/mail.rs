//! E-mail through a real SMTP server (aiosmtpd in its own process): the right
//! messages to the right people in their language, exactly once, also when
//! the server was down while the events happened.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, pdf_bytes};
use crate::on_both_backends;

on_both_backends!(
    the_purchase_sends_each_party_its_messages_once_in_its_language,
    messages_survive_a_mail_server_outage,
    three_workers_never_send_a_message_twice,
);

/// An aiosmtpd server storing mail in a Maildir; killed when dropped.
struct SmtpServer {
    child: Child,
    maildir: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl SmtpServer {
    #[allow(clippy::zombie_processes, reason = "Drop kills and waits; a panic here ends the test anyway")]
    fn start(port: u16, maildir: PathBuf) -> Self {
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
        let mut all = Vec::new();
        for sub in ["new", "cur"] {
            for entry in std::fs::read_dir(self.maildir.join(sub)).unwrap() {
                all.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
            }
        }
        all
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn header<'a>(message: &'a str, name: &str) -> &'a str {
    message
        .lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(": ")))
        .unwrap_or_default()
}

async fn wait_until_sent(app: &TestApp) {
    for _ in 0..150 {
        if app.count("outbox WHERE sent_at IS NULL").await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the outbox did not drain");
}

async fn purchase(app: &TestApp) -> i64 {
    app.add_developer("PMJ-1", "201901000005").await;
    app.set_price("CERT-1Y", "50.00").await;
    let developer = app.add_user("pemaju@maju.com.my", "developer_admin", Some("PMJ-1")).await;
    sqlx::query("UPDATE users SET language = 'en' WHERE email = 'pemaju@maju.com.my'")
        .execute(app.db.pool())
        .await
        .unwrap();
    let retail = app.add_user("pegawai@posdigicert.com.my", "retail", None).await;
    let finance = app.add_user("akaun@posdigicert.com.my", "finance", None).await;
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 10}]});
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
        kuota::startup::start_mail(&config, &app.db, std::sync::Arc::new(app.clock.clone())).unwrap();
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
