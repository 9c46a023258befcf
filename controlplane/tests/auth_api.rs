//! The login API over real HTTPS on loopback against a real Postgres (testkit): the happy path to a
//! connect token that opens with the cluster key, every bad input with its status and error code,
//! the brute-force limits, and account isolation.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{SystemTime, UNIX_EPOCH},
};

use base64::Engine;
use meridian_control::auth::{
    Argon2Cost, AuthConfig, AuthLimits, AuthServer, StaticZoneDirectory, TlsSource, ZoneDirectory, ZoneServer, bind,
};
use meridian_proto::token::{ClientToken, ConnectToken, TOKEN_LIFETIME_S};
use meridian_testkit::Postgres;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

const CLUSTER_KEY: [u8; 32] = [0x5a; 32];
const JWT_SECRET: &[u8] = b"test jwt secret, thirty-two bytes or more";
const GAME_ADDR: &str = "127.0.0.1:40000";
const DEFAULT_ZONE_ID: u32 = 7;

/// A directory the test can empty, to see the API's answer when no node serves a zone.
struct SwitchableDirectory(Mutex<Option<SocketAddr>>);

impl ZoneDirectory for SwitchableDirectory {
    fn locate(&self, _zone_id: u32) -> Option<ZoneServer> {
        let address = (*self.0.lock().unwrap())?;
        Some(ZoneServer {
            address,
            route: None,
            websocket: None,
        })
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn config(pg: &Postgres, limits: AuthLimits) -> AuthConfig {
    let mut config = AuthConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        pg.connection_string(),
        CLUSTER_KEY,
        JWT_SECRET.to_vec(),
    );
    config.argon2 = Argon2Cost::TEST_ONLY;
    config.limits = limits;
    config.default_zone_id = DEFAULT_ZONE_ID;
    config.gateway = GAME_ADDR.into();
    config
}

fn generous_limits() -> AuthLimits {
    AuthLimits {
        ip_burst: 10_000,
        ip_refill_ms: 1,
        account_failures_max: 100,
        ..AuthLimits::default()
    }
}

struct Api {
    client: Client,
    base: String,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// Starts the server and an HTTPS client that trusts only its development certificate.
async fn start(server: AuthServer) -> Api {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let certificate =
        reqwest::Certificate::from_pem(server.certificate_pem().expect("dev cert").as_bytes()).expect("parse dev cert");
    let client = Client::builder()
        .tls_certs_only([certificate])
        .build()
        .expect("https client");
    let base = format!("https://localhost:{}", server.local_addr().port());
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = stop.await;
    }));
    Api {
        client,
        base,
        _shutdown: shutdown,
    }
}

impl Api {
    async fn post(&self, path: &str, body: Value, token: Option<&str>) -> Response {
        let mut request = self.client.post(format!("{}{path}", self.base)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>, content_type: &str) -> Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request")
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    async fn register(&self, name: &str, password: &str) -> Response {
        self.post("/auth/register", json!({"name": name, "password": password}), None)
            .await
    }

    async fn login(&self, name: &str, password: &str) -> Response {
        self.post("/auth/login", json!({"name": name, "password": password}), None)
            .await
    }

    async fn token(&self, name: &str, password: &str) -> String {
        let response = self.login(name, password).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["token"].as_str().expect("token").to_owned()
    }
}

/// Asserts status and error code, and that the body leaks nothing internal.
async fn expect_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status for {code}");
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON error body, got {text:?}"));
    assert_eq!(body["error"], code, "body {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "body {body}");
    let lower = text.to_lowercase();
    for leak in ["sql", "postgres", "relation", "constraint", "panicked", "db error"] {
        assert!(!lower.contains(leak), "error body leaks {leak:?}: {text}");
    }
    body
}

fn now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn register_login_create_play_issues_a_connect_token_that_opens_with_the_cluster_key() {
    let pg = Postgres::start().expect("start postgres");
    runtime().block_on(async {
        let game_addr: SocketAddr = GAME_ADDR.parse().unwrap();
        let server = bind(
            config(&pg, generous_limits()),
            Arc::new(StaticZoneDirectory::new(game_addr)),
        )
        .await
        .expect("bind");
        let api = start(server).await;

        let response = api.register("Ærwen_2", "correct horse battery").await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let response = api.login("Ærwen_2", "correct horse battery").await;
        assert_eq!(response.status(), StatusCode::OK);
        let login: Value = response.json().await.unwrap();
        assert_eq!(login["gateway"], GAME_ADDR);
        assert_eq!(login["expires_in_s"], 3600);
        let token = login["token"].as_str().unwrap().to_owned();

        let response = api.get("/characters", Some(&token)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let list: Value = response.json().await.unwrap();
        assert_eq!(list["characters"], json!([]));

        let response = api.post("/characters", json!({"name": "Ærwen"}), Some(&token)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let character: Value = response.json().await.unwrap();
        assert_eq!(character["name"], "Ærwen");
        assert_eq!(character["zone_id"], DEFAULT_ZONE_ID);
        let character_id = character["id"].as_i64().unwrap();

        let list: Value = api.get("/characters", Some(&token)).await.json().await.unwrap();
        assert_eq!(list["characters"].as_array().unwrap().len(), 1);
        assert_eq!(list["characters"][0]["id"], character_id);

        let before_s = now_s();
        let response = api
            .post(&format!("/characters/{character_id}/play"), json!({}), Some(&token))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let play: Value = response.json().await.unwrap();
        assert_eq!(play["server"], GAME_ADDR);
        assert_eq!(play["zone_id"], DEFAULT_ZONE_ID);
        assert!(
            play.get("websocket").is_none(),
            "a node without a gateway: no websocket field"
        );
        let expires_at_s = play["expires_at_s"].as_u64().unwrap();
        assert!(expires_at_s >= before_s + TOKEN_LIFETIME_S && expires_at_s <= now_s() + TOKEN_LIFETIME_S);

        let bytes = base64::engine::general_purpose::STANDARD
            .decode(play["connect_token"].as_str().unwrap())
            .expect("base64 token");
        let client_token = ClientToken::from_bytes(&bytes).expect("client token decodes");
        // What a game server does: open the sealed part with the cluster key.
        let opened = ConnectToken::open(
            &CLUSTER_KEY,
            client_token.token.expires_at_s,
            &client_token.nonce,
            &client_token.sealed_private,
        )
        .expect("opens with the cluster key");
        // The character id travels sealed only: the server plays that character.
        assert_eq!(opened.character_id.to_string(), character_id.to_string());
        assert_eq!(
            ConnectToken {
                character_id: 0,
                ..opened.clone()
            },
            client_token.token,
            "sealed and clear parts agree"
        );
        assert_eq!(opened.zone_id, DEFAULT_ZONE_ID);
        assert_eq!(opened.server_addresses, vec![game_addr]);
        assert_eq!(opened.expires_at_s, expires_at_s);
        assert!(
            ConnectToken::open(
                &[0u8; 32],
                expires_at_s,
                &client_token.nonce,
                &client_token.sealed_private
            )
            .is_err()
        );

        // Fresh secrets from the CSPRNG on every play.
        let again: Value = api
            .post(&format!("/characters/{character_id}/play"), json!({}), Some(&token))
            .await
            .json()
            .await
            .unwrap();
        let again = base64::engine::general_purpose::STANDARD
            .decode(again["connect_token"].as_str().unwrap())
            .unwrap();
        let again = ClientToken::from_bytes(&again).unwrap();
        assert_ne!(again.nonce, client_token.nonce);
        assert_ne!(again.token.session_id, opened.session_id);
        assert_ne!(again.token.client_to_server_key, opened.client_to_server_key);
        assert_ne!(again.token.server_to_client_key, opened.server_to_client_key);
        assert_ne!(again.token.client_to_server_key, again.token.server_to_client_key);
    });
}

#[test]
fn one_accounts_jwt_cannot_reach_another_accounts_characters() {
    let pg = Postgres::start().expect("start postgres");
    runtime().block_on(async {
        // This node has a WebSocket gateway: play tickets name it for browsers.
        let directory =
            Arc::new(StaticZoneDirectory::new(GAME_ADDR.parse().unwrap()).with_websocket("wss://localhost:7443/"));
        let api = start(bind(config(&pg, generous_limits()), directory).await.expect("bind")).await;
        assert_eq!(
            api.register("alice", "alice password").await.status(),
            StatusCode::CREATED
        );
        assert_eq!(
            api.register("mallory", "mallory password").await.status(),
            StatusCode::CREATED
        );
        let alice = api.token("alice", "alice password").await;
        let mallory = api.token("mallory", "mallory password").await;
        let created: Value = api
            .post("/characters", json!({"name": "alice_hero"}), Some(&alice))
            .await
            .json()
            .await
            .unwrap();
        let id = created["id"].as_i64().unwrap();

        let list: Value = api.get("/characters", Some(&mallory)).await.json().await.unwrap();
        assert_eq!(list["characters"], json!([]));
        let response = api
            .post(&format!("/characters/{id}/play"), json!({}), Some(&mallory))
            .await;
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
        // The owner still can.
        let response = api
            .post(&format!("/characters/{id}/play"), json!({}), Some(&alice))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let play: Value = response.json().await.unwrap();
        assert_eq!(play["websocket"], "wss://localhost:7443/");
        assert_eq!(play["server"], GAME_ADDR, "the token still names the UDP address");

        // A second instance on the same database: the migrations are already applied and re-running
        // them is a no-op; it serves the same accounts.
        let second = bind(
            config(&pg, generous_limits()),
            Arc::new(StaticZoneDirectory::new(GAME_ADDR.parse().unwrap())),
        )
        .await
        .expect("second bind on a migrated database");
        let second = start(second).await;
        assert_eq!(second.login("alice", "alice password").await.status(), StatusCode::OK);
    });
}

#[test]
fn every_bad_input_gets_its_status_and_error_code() {
    let pg = Postgres::start().expect("start postgres");
    runtime().block_on(async {
        let directory = Arc::new(SwitchableDirectory(Mutex::new(Some(GAME_ADDR.parse().unwrap()))));
        let server = bind(config(&pg, generous_limits()), directory.clone())
            .await
            .expect("bind");
        let api = start(server).await;

        // Body shape.
        let response = api
            .post_raw("/auth/register", "{\"name\": \"bob\", ", "application/json")
            .await;
        expect_error(response, StatusCode::BAD_REQUEST, "malformed_json").await;
        let response = api
            .post_raw(
                "/auth/register",
                "{\"name\":\"bob\",\"password\":\"long enough\"}",
                "text/plain",
            )
            .await;
        expect_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
        let huge = format!("{{\"name\":\"bob\",\"password\":\"{}\"}}", "x".repeat(20 * 1024));
        let response = api.post_raw("/auth/register", huge, "application/json").await;
        expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large").await;
        let response = api
            .post(
                "/auth/register",
                json!({"name": "bob", "password": "long enough", "admin": true}),
                None,
            )
            .await;
        let body = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "unknown_field").await;
        assert!(body["message"].as_str().unwrap().contains("admin"), "{body}");
        let response = api.post("/auth/register", json!({"name": "bob"}), None).await;
        expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
        let response = api
            .post("/auth/register", json!({"name": 5, "password": "long enough"}), None)
            .await;
        expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;

        // Names and passwords.
        for name in [
            "ab",
            "",
            "a_name_that_is_far_too_long_for_us",
            "bob smith",
            "x';--",
            "bo\u{200d}b",
            "e\u{301}ric",
            "bob\u{0}",
        ] {
            let response = api.register(name, "long enough").await;
            expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_name").await;
        }
        let response = api.register("robert'); DROP TABLE accounts;--", "long enough").await;
        expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_name").await;
        for password in ["", "short", &"p".repeat(257)] {
            let response = api.register("bob", password).await;
            expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_password").await;
        }
        // SQL-looking names the rule allows are stored as typed, not executed.
        assert_eq!(
            api.register("DROP-TABLE-accounts", "long enough").await.status(),
            StatusCode::CREATED
        );
        assert_eq!(api.register("bob", "long enough").await.status(), StatusCode::CREATED);
        let response = api.register("bob", "another password").await;
        expect_error(response, StatusCode::CONFLICT, "name_taken").await;
        let response = api.register("BOB", "another password").await;
        expect_error(response, StatusCode::CONFLICT, "name_taken").await;
        let token = api.token("DROP-TABLE-accounts", "long enough").await;
        let response = api.post("/characters", json!({"name": "select_1"}), Some(&token)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let list: Value = api.get("/characters", Some(&token)).await.json().await.unwrap();
        assert_eq!(list["characters"][0]["name"], "select_1");

        // Credentials.
        let response = api.login("bob", "wrong password").await;
        expect_error(response, StatusCode::UNAUTHORIZED, "bad_credentials").await;
        let response = api.login("nobody", "long enough").await;
        expect_error(response, StatusCode::UNAUTHORIZED, "bad_credentials").await;
        let response = api.login("x';--", "long enough").await;
        expect_error(response, StatusCode::UNAUTHORIZED, "bad_credentials").await;
        // Names are case-insensitive at login as at registration.
        assert_eq!(api.login("Bob", "long enough").await.status(), StatusCode::OK);

        // Bearer tokens: missing, garbage, forged with another secret, expired.
        expect_error(
            api.get("/characters", None).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
        expect_error(
            api.get("/characters", Some("garbage")).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
        let bob = api.token("bob", "long enough").await;
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(bob.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        let forged = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"not the server's secret, 32 bytes+").unwrap(),
        )
        .unwrap();
        expect_error(
            api.get("/characters", Some(&forged)).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
        let expired = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &json!({"sub": claims["sub"], "iat": now_s() - 7200, "exp": now_s() - 3600}),
            &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET).unwrap(),
        )
        .unwrap();
        expect_error(
            api.get("/characters", Some(&expired)).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
        // alg "none" is refused.
        let unsigned = format!(
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
            bob.split('.').nth(1).unwrap()
        );
        expect_error(
            api.get("/characters", Some(&unsigned)).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        )
        .await;
        // The right secret and a live expiry do work (the refusals above are about the token).
        let valid = jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &json!({"sub": claims["sub"], "iat": now_s(), "exp": now_s() + 60}),
            &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET).unwrap(),
        )
        .unwrap();
        assert_eq!(api.get("/characters", Some(&valid)).await.status(), StatusCode::OK);

        // Characters.
        let response = api.post("/characters", json!({"name": "a b"}), Some(&bob)).await;
        expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_name").await;
        let response = api.post("/characters", json!({"name": "select_1"}), Some(&bob)).await;
        expect_error(response, StatusCode::CONFLICT, "name_taken").await;
        for i in 0..8 {
            let response = api
                .post("/characters", json!({"name": format!("bob_{i}")}), Some(&bob))
                .await;
            assert_eq!(response.status(), StatusCode::CREATED);
        }
        let response = api.post("/characters", json!({"name": "bob_9"}), Some(&bob)).await;
        expect_error(response, StatusCode::CONFLICT, "too_many_characters").await;
        let response = api.post("/characters/999999/play", json!({}), Some(&bob)).await;
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
        let response = api
            .post("/characters/1%27%20or%201=1/play", json!({}), Some(&bob))
            .await;
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(api.get("/nowhere", None).await, StatusCode::NOT_FOUND, "not_found").await;
        expect_error(
            api.get("/auth/login", None).await,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;

        // No node serves the zone.
        let list: Value = api.get("/characters", Some(&bob)).await.json().await.unwrap();
        let id = list["characters"][0]["id"].as_i64().unwrap();
        *directory.0.lock().unwrap() = None;
        let response = api.post(&format!("/characters/{id}/play"), json!({}), Some(&bob)).await;
        let body = expect_error(response, StatusCode::SERVICE_UNAVAILABLE, "zone_unavailable").await;
        assert!(body["message"].as_str().unwrap().contains(&DEFAULT_ZONE_ID.to_string()));
    });
}

#[test]
fn per_ip_limit_answers_429_with_retry_after() {
    let pg = Postgres::start().expect("start postgres");
    runtime().block_on(async {
        let limits = AuthLimits {
            ip_burst: 3,
            ip_refill_ms: 60_000,
            ..generous_limits()
        };
        let directory = Arc::new(StaticZoneDirectory::new(GAME_ADDR.parse().unwrap()));
        let api = start(bind(config(&pg, limits), directory).await.expect("bind")).await;
        assert_eq!(
            api.register("carol", "carol password").await.status(),
            StatusCode::CREATED
        );
        assert_eq!(api.login("carol", "carol password").await.status(), StatusCode::OK);
        assert_eq!(
            api.login("carol", "wrong password").await.status(),
            StatusCode::UNAUTHORIZED
        );
        // The fourth request from this address within the minute.
        let response = api.login("carol", "carol password").await;
        let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry_after), "retry-after {retry_after}");
        expect_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
        let response = api.register("dave", "dave password").await;
        expect_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    });
}

#[test]
fn per_account_failures_answer_429_for_that_account_only() {
    let pg = Postgres::start().expect("start postgres");
    runtime().block_on(async {
        let limits = AuthLimits {
            account_failures_max: 3,
            account_failure_window_s: 120,
            ..generous_limits()
        };
        let directory = Arc::new(StaticZoneDirectory::new(GAME_ADDR.parse().unwrap()));
        let api = start(bind(config(&pg, limits), directory).await.expect("bind")).await;
        assert_eq!(
            api.register("erin", "erin password").await.status(),
            StatusCode::CREATED
        );
        assert_eq!(
            api.register("frank", "frank password").await.status(),
            StatusCode::CREATED
        );
        for _ in 0..3 {
            let response = api.login("erin", "guess guess").await;
            expect_error(response, StatusCode::UNAUTHORIZED, "bad_credentials").await;
        }
        // Now even the right password waits: the guesser cannot tell it was right.
        let response = api.login("ERIN", "erin password").await;
        let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((100..=120).contains(&retry_after), "retry-after {retry_after}");
        expect_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
        // Another account from the same address is unaffected.
        assert_eq!(api.login("frank", "frank password").await.status(), StatusCode::OK);
        // Unknown names are limited the same way (no hint which names exist).
        for _ in 0..3 {
            let response = api.login("ghost", "guess guess").await;
            expect_error(response, StatusCode::UNAUTHORIZED, "bad_credentials").await;
        }
        let response = api.login("ghost", "guess guess").await;
        expect_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    });
}

#[test]
fn production_certificate_files_are_served_and_plain_http_is_not() {
    let pg = Postgres::start().expect("start postgres");
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, certified.cert.pem()).unwrap();
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).unwrap();
    runtime().block_on(async {
        let mut config = config(&pg, generous_limits());
        config.tls = TlsSource::Files {
            cert_path: cert_path.clone(),
            key_path: key_path.clone(),
        };
        let directory = Arc::new(StaticZoneDirectory::new(GAME_ADDR.parse().unwrap()));
        let server = bind(config, directory).await.expect("bind with certificate files");
        assert!(
            server.certificate_pem().is_none(),
            "no development certificate in production"
        );
        let port = server.local_addr().port();
        let (_shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run(async move {
            let _ = stop.await;
        }));
        let _ = rustls::crypto::ring::default_provider().install_default();
        let trusting = Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap()])
            .build()
            .unwrap();
        let response = trusting
            .post(format!("https://localhost:{port}/auth/register"))
            .json(&json!({"name": "heidi", "password": "heidi password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        // Plain HTTP on the same port gets no HTTP answer.
        let plain = Client::builder().build().unwrap();
        let result = plain
            .post(format!("http://localhost:{port}/auth/login"))
            .json(&json!({"name": "heidi", "password": "heidi password"}))
            .send()
            .await;
        assert!(result.is_err(), "plain HTTP answered: {result:?}");
        // A client that does not trust the certificate refuses the connection.
        let untrusting = Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(
                rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
                    .unwrap()
                    .cert
                    .pem()
                    .as_bytes(),
            )
            .unwrap()])
            .build()
            .unwrap();
        assert!(
            untrusting
                .get(format!("https://localhost:{port}/characters"))
                .send()
                .await
                .is_err()
        );
    });

    // A missing key file is a start-up error naming the files, not a panic.
    let missing = runtime().block_on(async {
        let mut config = config(&pg, generous_limits());
        config.tls = TlsSource::Files {
            cert_path,
            key_path: dir.path().join("absent.pem"),
        };
        bind(config, Arc::new(StaticZoneDirectory::new(GAME_ADDR.parse().unwrap()))).await
    });
    match missing {
        Err(meridian_control::auth::AuthError::Tls(message)) => assert!(message.contains("absent.pem"), "{message}"),
        Err(other) => panic!("expected a TLS error, got {other}"),
        Ok(_) => panic!("bound without a key"),
    }
}
