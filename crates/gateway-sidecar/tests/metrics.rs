//! The metrics the sidecar derives, checked to the exact value after scripted traffic through
//! the real binary, plus label cardinality and secrets never leaking.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;

const LOGIN: &str = "route=\"/api/auth/login\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_sequence_gives_exact_values() {
    let up = Upstream::start().await;
    let s = Sidecar::start(&up.url(), &["--config.prefix=/api"]);
    let c = client();
    let u = |p: &str| s.url(p);

    assert_eq!(
        call(&c, "POST", &u("/api/auth/login"), &[], "user=rt-alice")
            .await
            .status,
        200
    );
    assert_eq!(
        call(&c, "POST", &u("/api/auth/login"), &[], "bad")
            .await
            .status,
        401
    );
    let alice = [("cookie", "theme=dark; refresh_token=rt-alice")];
    assert_eq!(
        call(&c, "GET", &u("/api/users/1"), &alice, "").await.status,
        200
    );
    assert_eq!(
        call(&c, "POST", &u("/api/users"), &alice, "{}")
            .await
            .status,
        201
    );
    assert_eq!(
        call(&c, "PATCH", &u("/api/users/1"), &alice, "{}")
            .await
            .status,
        200
    );
    assert_eq!(
        call(&c, "PUT", &u("/api/users/2"), &alice, "{}")
            .await
            .status,
        200
    );
    assert_eq!(
        call(&c, "DELETE", &u("/api/users/2"), &alice, "")
            .await
            .status,
        204
    );
    assert_eq!(
        call(&c, "DELETE", &u("/api/users/missing"), &alice, "")
            .await
            .status,
        404
    );
    let refresh = [
        ("cookie", "refresh_token=rt-alice"),
        ("x-next-token", "rt-alice-2"),
    ];
    assert_eq!(
        call(&c, "POST", &u("/api/auth/refresh"), &refresh, "")
            .await
            .status,
        200
    );
    let bob = [("x-test-token", "rt-bob")];
    assert_eq!(
        call(&c, "GET", &u("/api/auth/callback?code=x&state=y"), &bob, "")
            .await
            .status,
        302
    );
    let out = [("cookie", "refresh_token=rt-alice-2")];
    assert_eq!(
        call(&c, "POST", &u("/api/auth/logout"), &out, "")
            .await
            .status,
        204
    );
    assert_eq!(call(&c, "GET", &u("/nope/123"), &[], "").await.status, 404);
    assert_eq!(
        call(&c, "BREW", &u("/api/users/1"), &[], "").await.status,
        405
    );

    // The last request is recorded when its body ends; wait for it, then read everything.
    expect_metric(
        &s,
        "http_requests_total{method=\"_OTHER\",route=\"/api/users/:id\",status_code=\"405\"}",
        1.0,
    )
    .await;
    let t = s.scrape().await;
    let want = [
        ("http_requests_total{method=\"POST\",route=\"/api/auth/login\",status_code=\"200\"}", 1.0),
        ("http_requests_total{method=\"POST\",route=\"/api/auth/login\",status_code=\"401\"}", 1.0),
        ("http_requests_total{method=\"GET\",route=\"/api/users/:id\",status_code=\"200\"}", 1.0),
        ("http_requests_total{method=\"POST\",route=\"/api/users\",status_code=\"201\"}", 1.0),
        ("http_requests_total{method=\"PATCH\",route=\"/api/users/:id\",status_code=\"200\"}", 1.0),
        ("http_requests_total{method=\"PUT\",route=\"/api/users/:id\",status_code=\"200\"}", 1.0),
        ("http_requests_total{method=\"DELETE\",route=\"/api/users/:id\",status_code=\"204\"}", 1.0),
        ("http_requests_total{method=\"DELETE\",route=\"/api/users/:id\",status_code=\"404\"}", 1.0),
        ("http_requests_total{method=\"POST\",route=\"/api/auth/refresh\",status_code=\"200\"}", 1.0),
        ("http_requests_total{method=\"GET\",route=\"/api/auth/callback\",status_code=\"302\"}", 1.0),
        ("http_requests_total{method=\"POST\",route=\"/api/auth/logout\",status_code=\"204\"}", 1.0),
        ("http_requests_total{method=\"GET\",route=\"unmatched\",status_code=\"404\"}", 1.0),
        ("http_requests_total{method=\"_OTHER\",route=\"/api/users/:id\",status_code=\"405\"}", 1.0),
        ("http_request_duration_seconds_count{method=\"POST\",route=\"/api/auth/login\"}", 2.0),
        ("http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/auth/login\",le=\"+Inf\"}", 2.0),
        ("http_request_duration_seconds_count{method=\"DELETE\",route=\"/api/users/:id\"}", 2.0),
        ("auth_requests_total{status=\"success\",type=\"login\"}", 1.0),
        ("auth_requests_total{status=\"failure\",type=\"login\"}", 1.0),
        ("auth_requests_total{status=\"success\",type=\"refresh\"}", 1.0),
        ("auth_requests_total{status=\"failure\",type=\"refresh\"}", 0.0),
        ("auth_requests_total{status=\"success\",type=\"callback\"}", 1.0),
        ("auth_requests_total{status=\"success\",type=\"logout\"}", 1.0),
        ("auth_requests_total{status=\"failure\",type=\"logout\"}", 0.0),
        ("user_operations_total{operation=\"create\"}", 1.0),
        ("user_operations_total{operation=\"update\"}", 2.0),
        ("user_operations_total{operation=\"delete\"}", 1.0),
        ("user_operations_total{operation=\"authenticate\"}", 2.0),
        // alice: login, rotated by refresh, logged out; bob: callback.
        ("auth_active_sessions", 1.0),
        ("gateway_sidecar_upstream_errors_total{reason=\"connect\"}", 0.0),
    ];
    for (series, v) in want {
        assert_eq!(metric(&t, series), Some(v), "{series}\n{t}");
    }
    // Nothing else was counted: 13 requests in all.
    let total: f64 = t
        .lines()
        .filter(|l| l.starts_with("http_requests_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(total, 13.0, "{t}");
    // Histogram buckets are prom-client's, cumulative, and consistent with the count.
    let buckets: Vec<String> = t
        .lines()
        .filter(|l| l.starts_with("http_request_duration_seconds_bucket{") && l.contains(LOGIN))
        .map(|l| {
            l.split("le=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        buckets,
        ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
    );
    assert!(t.contains("# TYPE http_request_duration_seconds histogram"));
    assert!(t.contains("# TYPE auth_active_sessions gauge"));
    assert!(t.contains("gateway_sidecar_build_info{"));
    assert!(t.contains("process_resident_memory_bytes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cardinality_stays_bounded_under_random_paths() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_file(
        dir.path(),
        "rules.yml",
        "unmatched: {mode: normalize, max_routes: 50}\n\
         rules:\n  - {path: /users/:id}\n",
    );
    let norm = Sidecar::start(&up.url(), &["--config.file", &rules]);
    let plain = Sidecar::start(&up.url(), &[]);
    let methods = ["GET", "POST", "PURGE", "PROPFIND", "X-ANY", "DELETE"];
    let words = [
        "orders", "items", "v1", "v2", "search", "a", "b", "c", "reports", "files",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut paths = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        let depth = 1 + rnd() % 5;
        let mut p = String::new();
        for _ in 0..depth {
            let seg = match rnd() % 6 {
                0 => format!("{}", rnd() % 1_000_000),
                1 => format!(
                    "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                    rnd() as u32,
                    rnd() as u16,
                    rnd() as u16,
                    rnd() as u16,
                    rnd() & 0xffff_ffff_ffff
                ),
                2 => format!("{:016x}", rnd()),
                3 => format!("w{}", rnd() % 1000),
                _ => words[(rnd() % words.len() as u64) as usize].to_string(),
            };
            p.push('/');
            p.push_str(&seg);
        }
        let m = methods[(rnd() % methods.len() as u64) as usize];
        paths.push((m, p));
    }
    // Four keep-alive connections per sidecar.
    for s in [&norm, &plain] {
        let chunks: Vec<Vec<(&str, String)>> = paths.chunks(2500).map(|c| c.to_vec()).collect();
        let mut tasks = Vec::new();
        for chunk in chunks {
            let base = s.url("");
            tasks.push(tokio::spawn(async move {
                let c = client();
                for (m, p) in chunk {
                    let r = call(&c, m, &format!("{base}{p}"), &[], "").await;
                    assert!(
                        r.status == 404 || r.status == 405 || r.status == 200,
                        "{}",
                        r.status
                    );
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let t = norm.scrape().await;
    let routes = label_values(&t, "http_requests_total", "route");
    // 50 normalised routes at most, plus the rule's and "unmatched".
    assert!(routes.len() <= 52, "{} routes: {routes:?}", routes.len());
    assert!(routes.contains(&"unmatched".to_string()));
    for r in &routes {
        for seg in r.split('/') {
            let id_like = (!seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()))
                || (seg.len() >= 16 && seg.bytes().all(|b| b.is_ascii_hexdigit()))
                || seg.len() == 36;
            assert!(!id_like, "an id leaked into a label: {r}");
        }
        assert!(r.len() < 100);
    }
    let overflow = metric(&t, "gateway_sidecar_route_overflow_total").unwrap();
    assert!(overflow > 0.0);
    let m = label_values(&t, "http_requests_total", "method");
    assert_eq!(m, ["DELETE", "GET", "POST", "_OTHER"]);
    let count = series_count(&t);
    assert!(count["http_requests_total"] <= 52 * 4 * 2, "{count:?}");
    let total: f64 = t
        .lines()
        .filter(|l| l.starts_with("http_requests_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(total, 10_000.0);

    let t = plain.scrape().await;
    assert_eq!(
        label_values(&t, "http_requests_total", "route"),
        ["unmatched"]
    );
    assert!(series_count(&t)["http_requests_total"] <= 4 * 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_cookie_value_reaches_metrics_or_logs() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_file(
        dir.path(),
        "rules.yml",
        "unmatched: {mode: normalize, max_routes: 100}\n\
         sessions: {cookies: [refresh_token, session]}\n\
         rules:\n  - {methods: POST, path: /auth/login, auth: login, user_operation: authenticate}\n\
         \x20 - {methods: POST, path: /auth/logout, auth: logout}\n\
         \x20 - {methods: GET, path: /auth/callback, auth: callback}\n\
         \x20 - {path: /users/:id}\n",
    );
    let s = Sidecar::start(
        &up.url(),
        &["--config.file", &rules, "--proxy.metrics-path=/metrics"],
    );
    let c = client();
    let secrets = [
        "SECRETrefreshCOOKIE0001",
        "SECRETbearerTOKEN0002",
        "SECRETsidCLAIM0003",
        "SECRETcodeQUERY0004",
        "SECRETsessionCOOKIE0005",
        "SECRETpathTOKEN0006xyz",
    ];
    let jwt_token = jwt(&format!(
        r#"{{"sub":"u1","sid":"{}","exp":{}}}"#,
        secrets[2],
        unix_now() + 600
    ));
    call(
        &c,
        "POST",
        &s.url("/auth/login"),
        &[],
        &format!("user={}", secrets[0]),
    )
    .await;
    call(&c, "POST", &s.url("/auth/login"), &[], "bad").await;
    call(
        &c,
        "GET",
        &s.url("/users/1"),
        &[("authorization", &format!("Bearer {}", secrets[1]))],
        "",
    )
    .await;
    call(
        &c,
        "GET",
        &s.url("/users/2"),
        &[("authorization", &format!("Bearer {jwt_token}"))],
        "",
    )
    .await;
    call(
        &c,
        "GET",
        &s.url("/users/3"),
        &[("authorization", "Bearer invalid")],
        "",
    )
    .await;
    call(
        &c,
        "GET",
        &s.url(&format!("/auth/callback?code={}&state=s", secrets[3])),
        &[],
        "",
    )
    .await;
    call(
        &c,
        "GET",
        &s.url("/users/4"),
        &[(
            "cookie",
            &format!("session={}; refresh_token={}", secrets[4], secrets[0]),
        )],
        "",
    )
    .await;
    call(
        &c,
        "GET",
        &s.url(&format!("/reset/{}", secrets[5])),
        &[],
        "",
    )
    .await;
    call(
        &c,
        "POST",
        &s.url("/auth/logout"),
        &[("cookie", &format!("refresh_token={}", secrets[0]))],
        "",
    )
    .await;
    // And an upstream that is down, whose errors are logged.
    let down = Sidecar::start(
        &format!("http://127.0.0.1:{}", free_port()),
        &["--config.file", &rules],
    );
    call(
        &c,
        "GET",
        &down.url(&format!("/users/1?token={}", secrets[3])),
        &[("authorization", &format!("Bearer {}", secrets[1]))],
        "",
    )
    .await;

    tokio::time::sleep(Duration::from_millis(200)).await;
    let scraped = [
        s.scrape().await,
        get(&s.url("/metrics")).await.text(),
        down.scrape().await,
    ];
    assert!(
        scraped[0].contains("auth_active_sessions"),
        "{}",
        scraped[0]
    );
    assert!(
        scraped[1].contains("auth_active_sessions"),
        "{}",
        scraped[1]
    );
    let logs = format!("{}\n{}", s.logs(), down.logs());
    assert!(logs.contains("level=debug"), "debug logging is on: {logs}");
    for secret in secrets
        .iter()
        .map(|s| s.to_string())
        .chain([jwt_token.clone()])
    {
        for text in &scraped {
            assert!(!text.contains(&secret), "{secret} in metrics:\n{text}");
        }
        assert!(!logs.contains(&secret), "{secret} in logs:\n{logs}");
    }
    assert!(
        scraped[0].contains("route=\"/reset/:id\""),
        "{}",
        scraped[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_metrics_are_merged_after_ours_and_a_failed_fetch_never_fails_the_scrape() {
    let up = Upstream::start().await;
    let s = Sidecar::start(
        &up.url(),
        &[
            "--upstream.metrics-path=/metrics",
            "--proxy.metrics-path=/metrics",
        ],
    );
    get(&s.url("/users")).await;
    for text in [s.scrape().await, get(&s.url("/metrics")).await.text()] {
        // Ours first, then the app's, minus the family we also expose.
        let ours = text.find("# TYPE http_requests_total counter").unwrap();
        let app = text
            .find("app_orders_total 12")
            .expect("app metrics merged");
        assert!(ours < app);
        assert!(text.contains("nodejs_eventloop_lag_seconds 0.004"));
        assert!(
            !text.contains("route=\"/app\""),
            "the app's clashing family is dropped"
        );
        assert_eq!(text.matches("# TYPE http_requests_total ").count(), 1);
        assert_eq!(metric(&text, "gateway_sidecar_app_metrics_up"), Some(1.0));
    }
    // The proxy-port metrics path is answered by the sidecar, not proxied nor counted.
    let t = s.scrape().await;
    assert!(
        !t.contains("route=\"unmatched\",status_code=\"200\""),
        "{t}"
    );

    // App metrics path that fails: our metrics still come, marked.
    let s2 = Sidecar::start(&up.url(), &["--upstream.metrics-path=/nonexistent"]);
    let t = s2.scrape().await;
    assert_eq!(metric(&t, "gateway_sidecar_app_metrics_up"), Some(0.0));
    assert!(t.contains("auth_active_sessions 0"));
    // Upstream down altogether, with a short fetch timeout.
    let s3 = Sidecar::start(
        &format!("http://127.0.0.1:{}", free_port()),
        &[
            "--upstream.metrics-path=/metrics",
            "--upstream.metrics-timeout=300ms",
        ],
    );
    let t = s3.scrape().await;
    assert_eq!(metric(&t, "gateway_sidecar_app_metrics_up"), Some(0.0));
}
