//! Developers created by administrators, and who may do it.

use serde_json::json;

use crate::helpers::{Backend, TestApp, assert_problem};
use crate::on_both_backends;

on_both_backends!(duplicates_are_conflicts, only_admins_create_developers, fields_are_validated_together);

async fn duplicates_are_conflicts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_developer("PMJ-1", "201901000005").await;
    let post = |body: serde_json::Value| {
        app.client.post(app.url("/api/v1/developers")).bearer_auth(&app.admin_token).json(&body).send()
    };
    let same_code = json!({"code": "pmj-1", "name": "Other", "registration_no": "202001000001", "email": "x@y.my"});
    assert_problem(post(same_code).await.unwrap(), 409, "/developer-exists").await;
    let same_ssm = json!({"code": "PMJ-2", "name": "Other", "registration_no": "201901000005", "email": "x@y.my"});
    assert_problem(post(same_ssm).await.unwrap(), 409, "/registration-no-exists").await;
    assert_eq!(app.count("developers").await, 1);
}

async fn only_admins_create_developers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"code": "PMJ-1", "name": "Maju", "registration_no": "201901000005", "email": "a@maju.my"});
    let response =
        app.client.post(app.url("/api/v1/developers")).bearer_auth(&app.hims_token).json(&body).send().await.unwrap();
    assert_problem(response, 403, "/forbidden").await;
    assert_eq!(app.count("developers").await, 0);
}

async fn fields_are_validated_together(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"code": "bad code", "name": "", "registration_no": "1312525-A", "email": "nope"});
    let response =
        app.client.post(app.url("/api/v1/developers")).bearer_auth(&app.admin_token).json(&body).send().await.unwrap();
    let problem = assert_problem(response, 400, "/validation").await;
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["code", "name", "registration_no", "email"]);
    assert_eq!(app.count("developers").await, 0);
}
