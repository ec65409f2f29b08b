//! The portal's sign-in and sessions over plain HTTP: cookie attributes, a
//! new session id at every sign-in, CSRF on every form, throttling, and
//! another company's pages hidden. (The pages themselves are driven in a
//! real Chromium by tests/browser/run.mjs.)

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};
use crate::mail::{SmtpServer, free_port, wait_until_sent};
use crate::on_both_backends;
use crate::workflow::setup;

on_both_backends!(
    sign_in_sets_a_safe_cookie_and_rotates_the_session,
    forms_without_their_csrf_token_are_refused,
    portal_sign_in_is_throttled_like_the_api,
    pages_of_another_company_are_not_found,
    a_password_link_works_once_within_the_hour,
    the_staff_queue_pages_through_every_open_request_once,
);

const PASSWORD: &str = "kata-laluan-ujian";

fn client() -> reqwest::Client {
    kuota::outbound::client_builder().unwrap().redirect(Policy::none()).build().unwrap()
}

/// The value of `name` in the response's Set-Cookie headers, and the whole header.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<(String, String)> {
    response.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|header| {
        let value = header.strip_prefix(&format!("{name}="))?.split(';').next()?.to_owned();
        Some((value, header.to_owned()))
    })
}

/// Signs in through the form; returns the response (a redirect on success).
async fn sign_in(app: &TestApp, email: &str, password: &str, session: Option<&str>) -> reqwest::Response {
    let client = client();
    let page = client.get(app.url("/login")).send().await.unwrap();
    let (csrf, _) = set_cookie(&page, "kuota_login_csrf").expect("login CSRF cookie");
    let mut cookies = format!("kuota_login_csrf={csrf}");
    if let Some(session) = session {
        cookies.push_str(&format!("; kuota_session={session}"));
    }
    client
        .post(app.url("/login"))
        .header(COOKIE, cookies)
        .form(&[("email", email), ("password", password), ("csrf", &csrf), ("next", "/requests")])
        .send()
        .await
        .unwrap()
}

async fn session_of(app: &TestApp, email: &str) -> String {
    let response = sign_in(app, email, PASSWORD, None).await;
    assert_eq!(response.status(), 303);
    set_cookie(&response, "kuota_session").unwrap().0
}

async fn get_page(app: &TestApp, session: &str, path: &str) -> reqwest::Response {
    client().get(app.url(path)).header(COOKIE, format!("kuota_session={session}")).send().await.unwrap()
}

async fn sign_in_sets_a_safe_cookie_and_rotates_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup(&app).await;
    let first = sign_in(&app, "pemaju@maju.com.my", PASSWORD, None).await;
    assert_eq!(first.status(), 303);
    assert_eq!(first.headers()[LOCATION], "/requests");
    let (token, header) = set_cookie(&first, "kuota_session").unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
        assert!(header.contains(attribute), "{header} lacks {attribute}");
    }
    assert_eq!(app.count("sessions WHERE token_sha256 = 'x'").await, 0);
    assert_eq!(app.count("sessions").await, 1, "only the hash is stored");
    let stored: String =
        sqlx::query_scalar("SELECT token_sha256 FROM sessions").fetch_one(app.db.pool()).await.unwrap();
    assert_ne!(stored, token);
    assert_eq!(get_page(&app, &token, "/dashboard").await.status(), 200);
    // Signing in again from the same browser gives a new id and ends the old one.
    let second = sign_in(&app, "pemaju@maju.com.my", PASSWORD, Some(&token)).await;
    let (rotated, _) = set_cookie(&second, "kuota_session").unwrap();
    assert_ne!(rotated, token);
    let old = get_page(&app, &token, "/dashboard").await;
    assert_eq!(old.status(), 303, "the old session id no longer works");
    assert!(old.headers()[LOCATION].to_str().unwrap().starts_with("/login?next=/dashboard"));
    // Sessions end after eight hours.
    app.clock.advance_seconds(8 * 3600 + 1);
    assert_eq!(get_page(&app, &rotated, "/dashboard").await.status(), 303);
}

async fn forms_without_their_csrf_token_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 20}]});
    let id =
        app.post_as(&parties.developer, "/api/v1/quota-requests", &body).await.json::<Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap();
    let session = session_of(&app, "pemaju@maju.com.my").await;
    for csrf in [None, Some("kuota_forged")] {
        let mut form = vec![("reason", "tidak perlu")];
        if let Some(csrf) = csrf {
            form.push(("csrf", csrf));
        }
        let refused = client()
            .post(app.url(&format!("/requests/{id}/cancel")))
            .header(COOKIE, format!("kuota_session={session}"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403);
        assert!(refused.text().await.unwrap().contains("tamat tempoh"), "the refusal is in Malay");
    }
    assert_eq!(app.count("quota_requests WHERE status = 'cancelled'").await, 0);
    // A body that is not a form gets a page in the reader's language, not a bare error.
    let malformed = client()
        .post(app.url("/finance/invoices/INV-1/settlement"))
        .header(COOKIE, format!("kuota_session={session}"))
        .json(&json!({"csrf": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert!(malformed.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(malformed.text().await.unwrap().contains("Borang tidak lengkap"));
    let odd_query = get_page(&app, &session, "/requests?status=a&status=b").await;
    assert_eq!(odd_query.status(), 400, "a query the page cannot read");
    assert!(odd_query.text().await.unwrap().contains("Borang tidak lengkap"));
    // The login form needs its token too.
    let forged = client()
        .post(app.url("/login"))
        .form(&[("email", "pemaju@maju.com.my"), ("password", PASSWORD), ("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(set_cookie(&forged, "kuota_session").is_none());
}

async fn portal_sign_in_is_throttled_like_the_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup(&app).await;
    for _ in 0..5 {
        assert_eq!(sign_in(&app, "pemaju@maju.com.my", "salah", None).await.status(), 401);
    }
    let locked = sign_in(&app, "pemaju@maju.com.my", PASSWORD, None).await;
    assert_eq!(locked.status(), 429, "even the right password waits 15 minutes");
    assert!(locked.text().await.unwrap().contains("dikunci"));
    app.clock.advance_seconds(15 * 60 + 1);
    assert_eq!(sign_in(&app, "pemaju@maju.com.my", PASSWORD, None).await.status(), 303);
}

async fn pages_of_another_company_are_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    app.add_developer("PMJ-2", "201901000013").await;
    app.add_user("orang@lain.com.my", "developer_admin", Some("PMJ-2")).await;
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 20}]});
    let id =
        app.post_as(&parties.developer, "/api/v1/quota-requests", &body).await.json::<Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap();
    let own = session_of(&app, "pemaju@maju.com.my").await;
    let other = session_of(&app, "orang@lain.com.my").await;
    let page = get_page(&app, &own, &format!("/requests/{id}")).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("REQ-2026-"));
    for path in [format!("/requests/{id}"), "/finance".to_owned(), "/requests/abc".to_owned()] {
        assert_eq!(get_page(&app, &other, &path).await.status(), 404, "{path}");
    }
    let listed = get_page(&app, &other, "/requests").await.text().await.unwrap();
    assert!(!listed.contains("REQ-2026-"), "another company's requests are not listed");
    // A session may read documents through the API, but not write.
    let api_write = client()
        .post(app.url(&format!("/api/v1/quota-requests/{id}/cancellation")))
        .header(COOKIE, format!("kuota_session={own}"))
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(api_write.status(), 401);
}

/// The token in the link of the newest mail to `to`, as it arrived at the
/// SMTP server (the outbox holds no usable token).
pub async fn link_token(app: &TestApp, server: &SmtpServer, to: &str) -> String {
    wait_until_sent(app).await;
    let texts = server.texts_to(to);
    let text = texts.last().expect("a mail");
    let start = text.find("/password/reset?token=").expect("a link in the mail") + "/password/reset?token=".len();
    text[start..].split_whitespace().next().unwrap().to_owned()
}

async fn a_password_link_works_once_within_the_hour(backend: Backend) {
    let port = free_port();
    let server = SmtpServer::start(port, std::env::temp_dir().join(format!("kuota-mail-{port}")));
    let app = TestApp::spawn_with_mail(backend, Some(format!("smtp://127.0.0.1:{port}"))).await;
    let parties = setup(&app).await;
    let forgot = |email: &'static str| {
        let app = &app;
        async move { client().post(app.url("/password/forgot")).form(&[("email", email)]).send().await.unwrap() }
    };
    let unknown = forgot("tiada@sesiapa.my").await;
    assert_eq!(unknown.status(), 200);
    let unknown_page = unknown.text().await.unwrap();
    let known_page = forgot("pemaju@maju.com.my").await.text().await.unwrap();
    assert_eq!(unknown_page, known_page, "the answer does not reveal which addresses have accounts");
    assert_eq!(app.count("outbox WHERE kind = 'password_reset'").await, 1);
    let token = link_token(&app, &server, "pemaju@maju.com.my").await;
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT body_text FROM outbox").fetch_all(app.db.pool()).await.unwrap();
    assert!(stored.iter().all(|body| !body.contains(&token)), "the outbox holds no usable link");
    if backend == Backend::Sqlite {
        // The whole database, write-ahead log included, holds no clear token.
        for entry in std::fs::read_dir(&app.database.data_dir).unwrap().flatten() {
            if entry.path().is_file() {
                let bytes = std::fs::read(entry.path()).unwrap();
                assert!(!bytes.windows(token.len()).any(|window| window == token.as_bytes()), "{:?}", entry.path());
            }
        }
    }
    let session = session_of(&app, "pemaju@maju.com.my").await;
    let api_token = parties.developer.clone();
    assert_eq!(app.get_as(&api_token, "/api/v1/developers/PMJ-1/balances").await.status(), 200);
    assert_eq!(client().get(app.url(&format!("/password/reset?token={token}"))).send().await.unwrap().status(), 200);
    let set = |password: &'static str, confirmation: &'static str, token: String| {
        let app = &app;
        async move {
            client()
                .post(app.url("/password/reset"))
                .form(&[("token", token.as_str()), ("password", password), ("confirmation", confirmation)])
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(set("pendek", "pendek", token.clone()).await.status(), 400, "too short");
    assert_eq!(
        set("kata-laluan-baharu", "lain-lain-sekali", token.clone()).await.status(),
        400,
        "confirmation differs"
    );
    assert_eq!(set("kata-laluan-baharu", "kata-laluan-baharu", token.clone()).await.status(), 200);
    assert_eq!(set("kata-laluan-lagi-1", "kata-laluan-lagi-1", token.clone()).await.status(), 404, "used once only");
    assert_eq!(get_page(&app, &session, "/dashboard").await.status(), 303, "sessions end with the password change");
    assert_eq!(
        app.get_as(&api_token, "/api/v1/developers/PMJ-1/balances").await.status(),
        401,
        "personal tokens are revoked with the password change"
    );
    assert_eq!(sign_in(&app, "pemaju@maju.com.my", PASSWORD, None).await.status(), 401, "the old password is gone");
    assert_eq!(sign_in(&app, "pemaju@maju.com.my", "kata-laluan-baharu", None).await.status(), 303);
    // A link older than an hour no longer works.
    forgot("pemaju@maju.com.my").await;
    let late = link_token(&app, &server, "pemaju@maju.com.my").await;
    app.clock.advance_seconds(3601);
    assert_eq!(set("kata-laluan-lewat-1", "kata-laluan-lewat-1", late).await.status(), 404);
    // At most three links an hour per account.
    for _ in 0..5 {
        forgot("pemaju@maju.com.my").await;
    }
    assert_eq!(app.count("outbox WHERE kind = 'password_reset'").await, 2 + 3);
    let _ = std::fs::remove_dir_all(std::env::temp_dir().join(format!("kuota-mail-{port}")));
}

/// The request numbers on a list page, in order, and its "older" link.
fn numbers_and_next(html: &str) -> (Vec<String>, Option<String>) {
    let numbers =
        html.split("\">REQ-").skip(1).map(|rest| format!("REQ-{}", rest.split('<').next().unwrap())).collect();
    let next = html
        .split("<p><a href=\"")
        .nth(1)
        .map(|rest| rest.split('"').next().unwrap().replace("&#38;", "&").replace("&amp;", "&"));
    (numbers, next)
}

async fn the_staff_queue_pages_through_every_open_request_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let body = json!({"developer": "PMJ-1", "lines": [{"product": "CERT-1Y", "units": 1}]});
    let mut ids = Vec::new();
    for _ in 0..53 {
        let created: Value =
            app.post_as(&parties.developer, "/api/v1/quota-requests", &body).await.json().await.unwrap();
        ids.push(created["id"].as_i64().unwrap());
    }
    // Two wait for the developer's information (no due date); one is closed.
    for id in &ids[..2] {
        let asked = app
            .post_as(
                &parties.retail,
                &format!("/api/v1/quota-requests/{id}/info-requests"),
                &json!({"message": "Sila sahkan"}),
            )
            .await;
        assert_eq!(asked.status(), 200);
    }
    let cancelled = app
        .post_as(
            &parties.developer,
            &format!("/api/v1/quota-requests/{}/cancellation", ids[2]),
            &json!({"reason": "tidak perlu"}),
        )
        .await;
    assert_eq!(cancelled.status(), 200);
    let session = session_of(&app, "retail@posdigicert.com.my").await;
    let mut seen = Vec::new();
    let mut path = Some("/requests".to_owned());
    let mut pages = 0;
    while let Some(next) = path {
        let page = get_page(&app, &session, &next).await;
        assert_eq!(page.status(), 200, "{next}");
        let (numbers, link) = numbers_and_next(&page.text().await.unwrap());
        seen.extend(numbers);
        path = link;
        pages += 1;
        assert!(pages < 5, "the queue does not end");
    }
    assert_eq!(pages, 2, "50 a page");
    assert_eq!(seen.len(), 52, "every open request once, the closed one left out: {seen:?}");
    let unique: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 52);
    assert_eq!(&seen[50..], ["REQ-2026-000001", "REQ-2026-000002"], "those waiting for information come last");
}
