//! A second factor for staff: enrolment with a QR code and recovery codes,
//! the code after the password in the portal and over the API (each time
//! step once, recovery codes once, wrong codes throttled), and the setting
//! that requires every staff member to enrol before their first page. Codes
//! are computed here from the secret the enrolment page shows.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{Value, json};

use kuota::clock::Clock as _;

use crate::helpers::{Backend, TestApp, assert_problem};
use crate::on_both_backends;
use crate::people::{PASSWORD, csrf, page, portal_session, post_form};
use crate::workflow::setup;

on_both_backends!(
    staff_enrol_and_then_give_a_code_once_after_the_password,
    the_setting_makes_every_staff_member_enrol_before_any_page,
    wrong_codes_are_throttled_like_passwords,
    guessing_codes_from_many_addresses_locks_the_second_factor,
    only_the_secret_shown_last_can_be_enrolled,
);

fn client() -> reqwest::Client {
    kuota::outbound::client_builder().unwrap().redirect(Policy::none()).build().unwrap()
}

fn cookie_value(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|header| {
        header.strip_prefix(&format!("{name}="))?.split(';').next().filter(|v| !v.is_empty()).map(str::to_owned)
    })
}

/// Text between `start` and the next `end` in `html`.
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html.find(start).map(|i| i + start.len()).expect(start);
    &html[from..from + html[from..].find(end).expect(end)]
}

/// The current code of `secret` by the app's clock (`steps_ahead` steps on).
fn code(app: &TestApp, secret: &str, steps_ahead: i64) -> String {
    let step = kuota::auth::second_factor::step_of(app.clock.now_ms() / 1000) + steps_ahead;
    kuota::auth::second_factor::code_at(secret, step).unwrap()
}

/// Signs in with the password through the form; the response (not followed).
async fn password_step(app: &TestApp, email: &str) -> reqwest::Response {
    let page = client().get(app.url("/login")).send().await.unwrap();
    let login_csrf = cookie_value(&page, "kuota_login_csrf").unwrap();
    client()
        .post(app.url("/login"))
        .header(COOKIE, format!("kuota_login_csrf={login_csrf}"))
        .form(&[("email", email), ("password", PASSWORD), ("csrf", &login_csrf), ("next", "/requests")])
        .send()
        .await
        .unwrap()
}

/// Enrols the signed-in `session`; the secret and the recovery codes.
async fn enrol(app: &TestApp, session: &str) -> (String, Vec<String>) {
    let html = page(app, session, "/account/second-factor").await.text().await.unwrap();
    assert!(html.contains("<svg"), "the QR code is drawn on the page");
    let secret = between(&html, "<code id=\"secret\">", "<").to_owned();
    // The form's token from the same page: showing it again makes a new secret.
    let token = between(&html, "name=\"csrf\" value=\"", "\"").to_owned();
    let wrong = post_form(app, session, "/account/second-factor", &[("csrf", &token), ("code", "000000")]).await;
    assert_eq!(wrong.status(), 400);
    let done =
        post_form(app, session, "/account/second-factor", &[("csrf", &token), ("code", &code(app, &secret, 0))]).await;
    assert_eq!(done.status(), 200);
    let html = done.text().await.unwrap();
    let codes: Vec<String> = between(&html, "<ul id=\"recovery-codes\">", "</ul>")
        .split("<code>")
        .skip(1)
        .map(|part| part.split('<').next().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT code_sha256 FROM recovery_codes").fetch_all(app.db.pool()).await.unwrap();
    assert!(stored.iter().all(|hash| !codes.contains(hash)), "only SHA-256 is kept");
    (secret, codes)
}

async fn staff_enrol_and_then_give_a_code_once_after_the_password(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup(&app).await;
    let session = portal_session(&app, "retail@posdigicert.com.my", PASSWORD).await.unwrap();
    let (secret, recovery) = enrol(&app, &session).await;
    // The password alone now opens only the code's page.
    let first = password_step(&app, "retail@posdigicert.com.my").await;
    assert_eq!(first.status(), 303);
    assert!(first.headers()[LOCATION].to_str().unwrap().starts_with("/login/second-factor"));
    let waiting = cookie_value(&first, "kuota_session").unwrap();
    assert_eq!(page(&app, &waiting, "/requests").await.status(), 303, "no page before the code");
    let html = page(&app, &waiting, "/login/second-factor?next=/requests").await.text().await.unwrap();
    let token = between(&html, "name=\"csrf\" value=\"", "\"").to_owned();
    let send = |code: String| {
        let (app, waiting, token) = (&app, waiting.clone(), token.clone());
        async move {
            post_form(
                app,
                &waiting,
                "/login/second-factor",
                &[("csrf", token.as_str()), ("code", &code), ("next", "/requests")],
            )
            .await
        }
    };
    // The enrolment's code was used: its time step does not open a session.
    assert_eq!(send(code(&app, &secret, 0)).await.status(), 401);
    app.clock.advance_seconds(30);
    let opened = send(code(&app, &secret, 0)).await;
    assert_eq!(opened.status(), 303);
    assert_eq!(opened.headers()[LOCATION], "/requests");
    let full = cookie_value(&opened, "kuota_session").unwrap();
    assert_ne!(full, waiting, "a new session id once the code is given");
    assert_eq!(page(&app, &full, "/requests").await.status(), 200);
    // Over the API: the code is asked for, used once; a recovery code works once.
    let sign_in = |code: Option<String>| {
        let mut body = json!({"email": "retail@posdigicert.com.my", "password": PASSWORD});
        if let Some(code) = code {
            body["code"] = json!(code);
        }
        let request = app.client.post(app.url("/api/v1/tokens")).json(&body);
        async move { request.send().await.unwrap() }
    };
    assert_problem(sign_in(None).await, 401, "second-factor-required").await;
    assert_problem(sign_in(Some(code(&app, &secret, 0))).await, 401, "second-factor-required").await;
    app.clock.advance_seconds(30);
    assert_eq!(sign_in(Some(code(&app, &secret, 0))).await.status(), 201);
    assert_eq!(sign_in(Some(recovery[3].to_uppercase())).await.status(), 201);
    assert_problem(sign_in(Some(recovery[3].clone())).await, 401, "second-factor-required").await;
    // Developers are not asked.
    let developer = json!({"email": "pemaju@maju.com.my", "password": PASSWORD});
    assert_eq!(app.client.post(app.url("/api/v1/tokens")).json(&developer).send().await.unwrap().status(), 201);
    assert_eq!(app.count("audit_log WHERE action = 'user.second_factor_enrol'").await, 1);
}

async fn the_setting_makes_every_staff_member_enrol_before_any_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup(&app).await;
    let settings: Value = app.get_as(&app.admin_token, "/api/v1/settings").await.json().await.unwrap();
    let mut required = settings.clone();
    required["require_staff_second_factor"] = json!(true);
    let put = app.client.put(app.url("/api/v1/settings")).bearer_auth(&app.admin_token).json(&required);
    assert_eq!(put.send().await.unwrap().status(), 200);
    // Finance must enrol first: the waiting session opens only enrolment.
    let first = password_step(&app, "kewangan@posdigicert.com.my").await;
    assert!(first.headers()[LOCATION].to_str().unwrap().starts_with("/account/second-factor"));
    let waiting = cookie_value(&first, "kuota_session").unwrap();
    assert_eq!(page(&app, &waiting, "/finance").await.status(), 303);
    let api = json!({"email": "kewangan@posdigicert.com.my", "password": PASSWORD});
    assert_problem(app.client.post(app.url("/api/v1/tokens")).json(&api).send().await.unwrap(), 403, "forbidden").await;
    let html = page(&app, &waiting, "/account/second-factor").await.text().await.unwrap();
    let secret = between(&html, "<code id=\"secret\">", "<").to_owned();
    let token = between(&html, "name=\"csrf\" value=\"", "\"").to_owned();
    let enrolled =
        post_form(&app, &waiting, "/account/second-factor", &[("csrf", &token), ("code", &code(&app, &secret, 0))])
            .await;
    assert_eq!(enrolled.status(), 200);
    let full = cookie_value(&enrolled, "kuota_session").expect("a full session once enrolled");
    assert_eq!(page(&app, &full, "/finance").await.status(), 200);
    assert_eq!(page(&app, &waiting, "/finance").await.status(), 303, "the waiting session is over");
    // Developers are never asked.
    let developer = password_step(&app, "pemaju@maju.com.my").await;
    assert_eq!(developer.headers()[LOCATION], "/requests");
}

async fn wrong_codes_are_throttled_like_passwords(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup(&app).await;
    let session = portal_session(&app, "retail@posdigicert.com.my", PASSWORD).await.unwrap();
    let (secret, _) = enrol(&app, &session).await;
    app.clock.advance_seconds(30);
    let sign_in = |code: String| {
        let body = json!({"email": "retail@posdigicert.com.my", "password": PASSWORD, "code": code});
        let request = app.client.post(app.url("/api/v1/tokens")).json(&body);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    // The wrong code tried at enrolment counts too: five in all are judged.
    for _ in 0..4 {
        assert_eq!(sign_in("123456".to_owned()).await, 401);
    }
    assert_eq!(sign_in("123456".to_owned()).await, 429);
    assert_eq!(sign_in(code(&app, &secret, 0)).await, 429, "even the right code waits out the lock");
    app.clock.advance_seconds(15 * 60 + 1);
    assert_eq!(sign_in(code(&app, &secret, 0)).await, 201);
}

/// Someone with the password cannot spread code guesses over addresses: the
/// second factor locks per account, whatever the address.
async fn guessing_codes_from_many_addresses_locks_the_second_factor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup(&app).await;
    let session = portal_session(&app, "retail@posdigicert.com.my", PASSWORD).await.unwrap();
    let (secret, _) = enrol(&app, &session).await;
    app.clock.advance_seconds(30);
    let sign_in = |code: String, from: String| {
        let body = json!({"email": "retail@posdigicert.com.my", "password": PASSWORD, "code": code});
        let request = app.client.post(app.url("/api/v1/tokens")).header("x-forwarded-for", from).json(&body);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    // Ten wrong codes in all (the enrolment's wrong one included), one per address.
    for n in 0..9 {
        assert_eq!(sign_in("654321".to_owned(), format!("198.51.100.{n}")).await, 401);
    }
    assert_eq!(sign_in("654321".to_owned(), "198.51.100.77".to_owned()).await, 429);
    assert_eq!(sign_in(code(&app, &secret, 0), "203.0.113.200".to_owned()).await, 429, "locked from any address");
    assert!(app.count("audit_log WHERE action = 'user.second_factor_failed'").await >= 9);
}

/// A secret copied from the enrolment page by someone else goes dead as soon
/// as the page is shown again: only the secret shown last can be enrolled.
async fn only_the_secret_shown_last_can_be_enrolled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup(&app).await;
    let session = portal_session(&app, "retail@posdigicert.com.my", PASSWORD).await.unwrap();
    let first = page(&app, &session, "/account/second-factor").await.text().await.unwrap();
    let copied = between(&first, "<code id=\"secret\">", "<").to_owned();
    let second = page(&app, &session, "/account/second-factor").await.text().await.unwrap();
    let shown = between(&second, "<code id=\"secret\">", "<").to_owned();
    assert_ne!(copied, shown);
    let token = csrf(&app, &session, "/account").await;
    let stale =
        post_form(&app, &session, "/account/second-factor", &[("csrf", &token), ("code", &code(&app, &copied, 0))])
            .await;
    assert_eq!(stale.status(), 400, "the copy does not enrol");
    let fresh =
        post_form(&app, &session, "/account/second-factor", &[("csrf", &token), ("code", &code(&app, &shown, 0))])
            .await;
    assert_eq!(fresh.status(), 200);
}
