//! `auth_active_sessions` through real traffic: login, requests, logout, cleared cookies, idle
//! expiry and JWT expiry.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;

const GAUGE: &str = "auth_active_sessions";

fn rules(dir: &std::path::Path, idle: &str) -> String {
    rules_file(
        dir,
        "rules.yml",
        &format!(
            "sessions: {{cookies: [refresh_token], idle_timeout: {idle}, max_entries: 1000}}\n\
             rules:\n\
             \x20 - {{methods: POST, path: /auth/login, auth: login, user_operation: authenticate}}\n\
             \x20 - {{methods: POST, path: /auth/logout, auth: logout}}\n\
             \x20 - {{methods: POST, path: /auth/refresh, auth: refresh}}\n\
             \x20 - {{methods: GET, path: /auth/callback, auth: callback, user_operation: authenticate}}\n\
             \x20 - {{path: /users/:id}}\n"
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_requests_logout_and_idle_expiry() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Sidecar::start(&up.url(), &["--config.file", &rules(dir.path(), "2s")]);
    let c = client();
    let u = |p: &str| s.url(p);

    expect_metric(&s, GAUGE, 0.0).await;
    // Cookie flow: the session starts with the login's Set-Cookie.
    call(&c, "POST", &u("/auth/login"), &[], "user=rt-a").await;
    expect_metric(&s, GAUGE, 1.0).await;
    // A failed login starts nothing.
    call(&c, "POST", &u("/auth/login"), &[], "bad").await;
    // Token flow: the login hands out a token in its body; the request that follows starts it.
    call(&c, "POST", &u("/auth/login"), &[], "user=nocookie").await;
    expect_metric(&s, GAUGE, 1.0).await;
    let access1 = jwt(r#"{"sub":"b","sid":"session-b","iat":1}"#);
    let access2 = jwt(r#"{"sub":"b","sid":"session-b","iat":2}"#);
    let a = [("cookie", "refresh_token=rt-a")];
    let b1 = format!("Bearer {access1}");
    let b2 = format!("Bearer {access2}");
    for _ in 0..3 {
        call(&c, "GET", &u("/users/1"), &a, "").await;
        call(&c, "GET", &u("/users/2"), &[("authorization", &b1)], "").await;
    }
    // A new access token of the same session (same sid) is the same session.
    call(&c, "GET", &u("/users/2"), &[("authorization", &b2)], "").await;
    expect_metric(&s, GAUGE, 2.0).await;
    // A token the app rejects is no session.
    call(
        &c,
        "GET",
        &u("/users/3"),
        &[("authorization", "Bearer invalid")],
        "",
    )
    .await;
    expect_metric(&s, GAUGE, 2.0).await;
    // Logout of a (cookie) session.
    call(&c, "POST", &u("/auth/logout"), &a, "").await;
    expect_metric(&s, GAUGE, 1.0).await;
    // Requests with the logged-out cookie's value would start it again, so none are sent.
    // Idle expiry: b has not been seen for more than 2 s.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    expect_metric(&s, GAUGE, 0.0).await;
    let t = s.scrape().await;
    assert!(metric(&t, "gateway_sidecar_sessions_expired_total").unwrap() >= 1.0);
    assert_eq!(
        metric(&t, "gateway_sidecar_sessions_evicted_total"),
        Some(0.0)
    );
    assert_eq!(metric(&t, "gateway_sidecar_sessions_max"), Some(1000.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_keeps_a_session_and_cleared_or_rotated_cookies_end_it() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let s = Sidecar::start(&up.url(), &["--config.file", &rules(dir.path(), "1500ms")]);
    let c = client();
    let u = |p: &str| s.url(p);

    call(
        &c,
        "GET",
        &u("/auth/callback?code=c"),
        &[("x-test-token", "rt-sso")],
        "",
    )
    .await;
    expect_metric(&s, GAUGE, 1.0).await;
    // Touched every 500 ms for 3 s: outlives two idle timeouts.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        call(
            &c,
            "GET",
            &u("/users/1"),
            &[("cookie", "refresh_token=rt-sso")],
            "",
        )
        .await;
    }
    expect_metric(&s, GAUGE, 1.0).await;
    // Refresh rotates the cookie: still one session.
    let r = [
        ("cookie", "refresh_token=rt-sso"),
        ("x-next-token", "rt-sso-2"),
    ];
    call(&c, "POST", &u("/auth/refresh"), &r, "").await;
    expect_metric(&s, GAUGE, 1.0).await;
    // An `Expires` in the past (not a logout route) ends it.
    call(
        &c,
        "GET",
        &u("/clear-cookie"),
        &[("cookie", "refresh_token=rt-sso-2")],
        "",
    )
    .await;
    expect_metric(&s, GAUGE, 0.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_exp_ends_a_session_and_the_table_is_bounded() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = rules_file(
        dir.path(),
        "rules.yml",
        "sessions: {max_entries: 5}\nrules:\n  - {path: /users/:id}\n",
    );
    let s = Sidecar::start(&up.url(), &["--config.file", &file]);
    let c = client();
    let soon = jwt(&format!(r#"{{"sid":"short","exp":{}}}"#, unix_now() + 2));
    call(
        &c,
        "GET",
        &s.url("/users/1"),
        &[("authorization", &format!("Bearer {soon}"))],
        "",
    )
    .await;
    let expired = jwt(r#"{"sid":"old","exp":1000000000}"#);
    call(
        &c,
        "GET",
        &s.url("/users/1"),
        &[("authorization", &format!("Bearer {expired}"))],
        "",
    )
    .await;
    expect_metric(&s, GAUGE, 1.0).await;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    expect_metric(&s, GAUGE, 0.0).await;

    // Twenty opaque tokens into a table of five: five stay, fifteen are evicted.
    for i in 0..20 {
        let h = format!("Bearer opaque-{i}");
        call(&c, "GET", &s.url("/users/1"), &[("authorization", &h)], "").await;
    }
    expect_metric(&s, GAUGE, 5.0).await;
    expect_metric(&s, "gateway_sidecar_sessions_evicted_total", 15.0).await;
}
