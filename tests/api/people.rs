//! People who leave are gone: deactivation, reactivation, roles and token
//! revocation by the people who manage users (an administrator: everyone; a
//! developer company's administrator: its own users), token expiry and last
//! use, and changing one's own password — over the API and the portal, with
//! a deactivation reaching a second node at once.

use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_problem};
use crate::on_both_backends;
use crate::workflow::setup;

on_both_backends!(
    a_deactivated_user_is_signed_out_everywhere_and_can_return,
    people_are_managed_only_by_those_who_manage_them,
    tokens_expire_and_remember_their_last_use,
    a_manager_revokes_a_token_of_a_user_they_manage,
    a_deactivation_reaches_a_second_node_at_once,
    a_signed_in_user_changes_their_password_and_other_sessions_end,
);

pub const PASSWORD: &str = "kata-laluan-ujian";

fn client() -> reqwest::Client {
    kuota::outbound::client_builder().unwrap().redirect(Policy::none()).build().unwrap()
}

/// The id of the user with this e-mail, through the administrators' list.
async fn user_id(app: &TestApp, email: &str) -> i64 {
    let list: Value = app.get_as(&app.admin_token, "/api/v1/users?limit=200").await.json().await.unwrap();
    list["users"].as_array().unwrap().iter().find(|u| u["email"] == email).expect("listed")["id"].as_i64().unwrap()
}

async fn api_sign_in(app: &TestApp, email: &str, password: &str, body: Value) -> reqwest::Response {
    let mut body = body;
    body["email"] = json!(email);
    body["password"] = json!(password);
    app.client.post(app.url("/api/v1/tokens")).json(&body).send().await.unwrap()
}

/// Signs in through the portal's form; the session cookie's value.
pub async fn portal_session(app: &TestApp, email: &str, password: &str) -> Option<String> {
    let client = client();
    let page = client.get(app.url("/login")).send().await.unwrap();
    let csrf = cookie_value(&page, "kuota_login_csrf").expect("login CSRF cookie");
    let response = client
        .post(app.url("/login"))
        .header(COOKIE, format!("kuota_login_csrf={csrf}"))
        .form(&[("email", email), ("password", password), ("csrf", &csrf), ("next", "/")])
        .send()
        .await
        .unwrap();
    cookie_value(&response, "kuota_session")
}

fn cookie_value(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|header| {
        header.strip_prefix(&format!("{name}="))?.split(';').next().filter(|v| !v.is_empty()).map(str::to_owned)
    })
}

pub async fn page(app: &TestApp, session: &str, path: &str) -> reqwest::Response {
    client().get(app.url(path)).header(COOKIE, format!("kuota_session={session}")).send().await.unwrap()
}

/// The CSRF token of the session, read from a page's form.
pub async fn csrf(app: &TestApp, session: &str, path: &str) -> String {
    let html = page(app, session, path).await.text().await.unwrap();
    let start = html.find("name=\"csrf\" value=\"").expect("a form with its CSRF token") + 19;
    html[start..].split('"').next().unwrap().to_owned()
}

pub async fn post_form(app: &TestApp, session: &str, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    client().post(app.url(path)).header(COOKIE, format!("kuota_session={session}")).form(form).send().await.unwrap()
}

async fn a_deactivated_user_is_signed_out_everywhere_and_can_return(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let member_token = app.add_user("ahli@maju.com.my", "developer_member", Some("PMJ-1")).await;
    let member = user_id(&app, "ahli@maju.com.my").await;
    let manager = user_id(&app, "pemaju@maju.com.my").await;
    let session = portal_session(&app, "ahli@maju.com.my", PASSWORD).await.expect("signed in");
    assert_eq!(page(&app, &session, "/dashboard").await.status(), 200);
    assert_eq!(app.get_as(&member_token, "/api/v1/developers/PMJ-1/balances").await.status(), 200);

    // A reason is required; then the company's administrator deactivates.
    let path = format!("/api/v1/users/{member}/deactivation");
    assert_problem(app.post_as(&parties.developer, &path, &json!({"reason": "  "})).await, 400, "validation").await;
    let done = app.post_as(&parties.developer, &path, &json!({"reason": "Telah berhenti kerja"})).await;
    assert_eq!(done.status(), 200);
    assert_eq!(done.json::<Value>().await.unwrap()["active"], false);

    // Token, session and sign-in all stop at once.
    assert_problem(app.get_as(&member_token, "/api/v1/developers/PMJ-1/balances").await, 401, "unauthorized").await;
    let after = page(&app, &session, "/dashboard").await;
    assert_eq!(after.status(), 303);
    assert!(after.headers()[LOCATION].to_str().unwrap().starts_with("/login"));
    let refused = api_sign_in(&app, "ahli@maju.com.my", PASSWORD, json!({})).await;
    let unknown = api_sign_in(&app, "tiada@maju.com.my", PASSWORD, json!({})).await;
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.text().await.unwrap(), unknown.text().await.unwrap(), "a deactivated user looks unknown");
    assert!(portal_session(&app, "ahli@maju.com.my", PASSWORD).await.is_none());
    assert_problem(app.post_as(&parties.developer, &path, &json!({"reason": "lagi"})).await, 409, "user-state").await;

    // The audit names the real actor and the reason.
    let (actor, after): (String, String) =
        sqlx::query_as("SELECT actor, state_after FROM audit_log WHERE action = 'user.deactivate' AND subject = $1")
            .bind(format!("user:{member}"))
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(actor, format!("user:{manager}"));
    assert!(after.contains("Telah berhenti kerja"));

    // Reactivated: signs in again; the old token stays revoked.
    let path = format!("/api/v1/users/{member}/activation");
    assert_eq!(app.post_as(&parties.developer, &path, &json!({"reason": "Kembali bekerja"})).await.status(), 200);
    assert_eq!(api_sign_in(&app, "ahli@maju.com.my", PASSWORD, json!({})).await.status(), 201);
    assert_eq!(app.get_as(&member_token, "/api/v1/developers/PMJ-1/balances").await.status(), 401);
    app.assert_ledger_verifies().await;
}

async fn people_are_managed_only_by_those_who_manage_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    app.add_developer("PMJ-2", "201901000013").await;
    let other_admin = app.add_user("admin@lain.com.my", "developer_admin", Some("PMJ-2")).await;
    let member_token = app.add_user("ahli@maju.com.my", "developer_member", Some("PMJ-1")).await;
    let member = user_id(&app, "ahli@maju.com.my").await;
    let manager = user_id(&app, "pemaju@maju.com.my").await;
    let retail = user_id(&app, "retail@posdigicert.com.my").await;
    let reason = json!({"reason": "ujian"});
    let deactivate = |id: i64| format!("/api/v1/users/{id}/deactivation");

    // Who may not: another company's administrator (not found), a member,
    // staff other than administrators, HIMS (forbidden, before any look-up).
    assert_problem(app.post_as(&other_admin, &deactivate(member), &reason).await, 404, "not-found").await;
    for token in [&member_token, &parties.retail, &parties.finance, &app.hims_token] {
        assert_problem(app.post_as(token, &deactivate(member), &reason).await, 403, "forbidden").await;
        assert_problem(app.post_as(token, &deactivate(999_999), &reason).await, 403, "forbidden").await;
    }
    // A company administrator cannot reach staff, nor deactivate themself.
    assert_problem(app.post_as(&parties.developer, &deactivate(retail), &reason).await, 404, "not-found").await;
    assert_problem(app.post_as(&parties.developer, &deactivate(manager), &reason).await, 409, "own-account").await;
    // The lists: the company's administrator sees its own users only.
    let own: Value = app.get_as(&parties.developer, "/api/v1/users").await.json().await.unwrap();
    let emails: Vec<&str> = own["users"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["pemaju@maju.com.my", "ahli@maju.com.my"]);
    assert_eq!(app.get_as(&member_token, "/api/v1/users").await.status(), 403);

    // Roles: within the same kind only.
    let role = |id: i64| format!("/api/v1/users/{id}/role");
    let put = |token: &str, path: String, body: Value| {
        let request = app.client.put(app.url(&path)).bearer_auth(token).json(&body);
        async move { request.send().await.unwrap() }
    };
    let wrong = put(&parties.developer, role(member), json!({"role": "retail", "reason": "ujian"})).await;
    assert_problem(wrong, 409, "role-not-allowed").await;
    let promoted =
        put(&parties.developer, role(member), json!({"role": "developer_admin", "reason": "Pengurus baharu"})).await;
    assert_eq!(promoted.json::<Value>().await.unwrap()["role"], "developer_admin");
    assert_eq!(app.get_as(&member_token, "/api/v1/users").await.status(), 200, "the new role applies at once");
    let unknown = put(&parties.developer, role(member), json!({"role": "raja", "reason": "ujian"})).await;
    assert_problem(unknown, 400, "validation").await;
    // An administrator (API client) manages staff.
    let staff = put(&app.admin_token, role(retail), json!({"role": "finance", "reason": "Bertukar jabatan"})).await;
    assert_eq!(staff.status(), 200);
    let audited = app.count("audit_log WHERE action = 'user.change_role'").await;
    assert_eq!(audited, 2);
    assert_problem(app.post_as(&parties.developer, "/api/v1/users/abc/deactivation", &reason).await, 404, "not-found")
        .await;
}

async fn tokens_expire_and_remember_their_last_use(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup(&app).await;
    for days in [0, 366, -1] {
        let refused = api_sign_in(&app, "pemaju@maju.com.my", PASSWORD, json!({"expires_in_days": days})).await;
        assert_problem(refused, 400, "validation").await;
    }
    let signed_in: Value =
        api_sign_in(&app, "pemaju@maju.com.my", PASSWORD, json!({"expires_in_days": 1})).await.json().await.unwrap();
    let token = signed_in["token"].as_str().unwrap().to_owned();
    assert!(signed_in["expires_at"].as_str().unwrap().ends_with("+08:00"));
    let me = user_id(&app, "pemaju@maju.com.my").await;
    let listed: Value = app.get_as(&token, &format!("/api/v1/users/{me}/tokens")).await.json().await.unwrap();
    let newest = &listed["tokens"][0];
    assert!(newest["last_used_at"].is_string(), "used just now to list: {newest}");
    assert!(newest["expires_at"].is_string());
    // A day later it stops (the node's cache notwithstanding).
    app.clock.advance_seconds(86_400 + 1);
    app.state.token_cache.clear();
    assert_problem(app.get_as(&token, "/api/v1/developers/PMJ-1/balances").await, 401, "unauthorized").await;
    // The default is 90 days.
    let default: Value = api_sign_in(&app, "pemaju@maju.com.my", PASSWORD, json!({})).await.json().await.unwrap();
    let token = default["token"].as_str().unwrap().to_owned();
    app.clock.advance_seconds(89 * 86_400);
    app.state.token_cache.clear();
    assert_eq!(app.get_as(&token, "/api/v1/developers/PMJ-1/balances").await.status(), 200);
    app.clock.advance_seconds(86_400 + 1);
    app.state.token_cache.clear();
    assert_eq!(app.get_as(&token, "/api/v1/developers/PMJ-1/balances").await.status(), 401);
}

async fn a_manager_revokes_a_token_of_a_user_they_manage(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    app.add_developer("PMJ-2", "201901000013").await;
    let other_admin = app.add_user("admin@lain.com.my", "developer_admin", Some("PMJ-2")).await;
    let member_token = app.add_user("ahli@maju.com.my", "developer_member", Some("PMJ-1")).await;
    let member = user_id(&app, "ahli@maju.com.my").await;
    let listed: Value =
        app.get_as(&parties.developer, &format!("/api/v1/users/{member}/tokens")).await.json().await.unwrap();
    let token_id = listed["tokens"][0]["id"].as_i64().unwrap();
    let delete = |token: &str, query: &str| {
        let request = app.client.delete(app.url(&format!("/api/v1/tokens/{token_id}{query}"))).bearer_auth(token);
        async move { request.send().await.unwrap() }
    };
    // Not theirs to see: another company's administrator, or HIMS.
    assert_eq!(app.get_as(&other_admin, &format!("/api/v1/users/{member}/tokens")).await.status(), 404);
    assert_problem(delete(&other_admin, "").await, 404, "not-found").await;
    assert_problem(delete(&app.hims_token, "").await, 403, "forbidden").await;
    assert_eq!(app.get_as(&member_token, "/api/v1/developers/PMJ-1/balances").await.status(), 200);
    let revoked = delete(&parties.developer, "?reason=Komputer%20riba%20hilang").await;
    assert_eq!(revoked.status(), 204);
    assert_problem(app.get_as(&member_token, "/api/v1/developers/PMJ-1/balances").await, 401, "unauthorized").await;
    assert_problem(delete(&parties.developer, "").await, 409, "user-state").await;
    let after: String = sqlx::query_scalar("SELECT state_after FROM audit_log WHERE action = 'user_token.revoke'")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert!(after.contains("Komputer riba hilang"));
}

async fn a_deactivation_reaches_a_second_node_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let parties = setup(&app).await;
    let member_token = app.add_user("ahli@maju.com.my", "developer_member", Some("PMJ-1")).await;
    let member = user_id(&app, "ahli@maju.com.my").await;
    // SQLite has one node: the same process stands in for both.
    let (second, second_state) =
        if backend == Backend::Postgres { app.second_node().await } else { (app.address.clone(), app.state.clone()) };
    let balances = format!("{second}/api/v1/developers/PMJ-1/balances");
    // Once the second node hears access changes, it caches the token.
    let hash = kuota::auth::token::hash(&member_token);
    let mut cached = false;
    for _ in 0..100 {
        assert_eq!(app.client.get(&balances).bearer_auth(&member_token).send().await.unwrap().status(), 200);
        if second_state.token_cache.get(&hash).is_some() {
            cached = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(cached, "the second node caches the token once it listens");
    let path = format!("/api/v1/users/{member}/deactivation");
    assert_eq!(app.post_as(&parties.developer, &path, &json!({"reason": "Berhenti"})).await.status(), 200);
    // The second node refuses within moments (NOTIFY at COMMIT), not after
    // its cache's 10 s.
    // (Polled for at most 3 s, well under the cache's 10 s.)
    let mut refused = false;
    for _ in 0..150 {
        let status = app.client.get(&balances).bearer_auth(&member_token).send().await.unwrap().status();
        if status == 401 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the second node still accepts the token");
}

async fn a_signed_in_user_changes_their_password_and_other_sessions_end(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup(&app).await;
    let this = portal_session(&app, "pemaju@maju.com.my", PASSWORD).await.unwrap();
    let other = portal_session(&app, "pemaju@maju.com.my", PASSWORD).await.unwrap();
    let token = csrf(&app, &this, "/account").await;
    let new_password = "kata-laluan-baharu-2026";
    let change = |csrf: &str, current: &str, confirmation: &str| {
        let form = [("csrf", csrf), ("current", current), ("password", new_password), ("confirmation", confirmation)]
            .map(|(name, value)| (name, value.to_owned()));
        let (app, this) = (&app, this.clone());
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(name, value)| (*name, value.as_str())).collect();
            post_form(app, &this, "/account/password", &form).await
        }
    };
    let wrong = change(&token, "salah-sekali-lagi", new_password).await;
    assert_eq!(wrong.status(), 400);
    assert!(wrong.text().await.unwrap().contains("Kata laluan semasa tidak betul"));
    assert_eq!(change(&token, PASSWORD, "lain-lain-lain").await.status(), 400, "confirmation differs");
    assert_eq!(change("x", PASSWORD, new_password).await.status(), 403, "forged CSRF");
    let done = change(&token, PASSWORD, new_password).await;
    assert_eq!(done.status(), 303);
    assert_eq!(page(&app, &this, "/dashboard").await.status(), 200, "this session stays");
    assert_eq!(page(&app, &other, "/dashboard").await.status(), 303, "every other session ended");
    assert!(portal_session(&app, "pemaju@maju.com.my", PASSWORD).await.is_none());
    assert!(portal_session(&app, "pemaju@maju.com.my", new_password).await.is_some());
    assert_eq!(app.count("audit_log WHERE action = 'user.password_change'").await, 1);
}
