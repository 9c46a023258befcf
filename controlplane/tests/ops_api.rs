//! The operators' routes over real HTTPS against a real Postgres: operators are made only by
//! `ops::db::make_operator` (the CLI's path), the operator login refuses wrong passwords and player
//! accounts with their reasons, and every `/ops/` route answers 401 without a valid token and 403
//! for a player's token, as JSON; guessing from one address is rate-limited. The map's node is not running here: `/ops/world.json` says so.

use std::sync::Arc;

use meridian_control::auth::{Argon2Cost, AuthConfig, AuthLimits, StaticZoneDirectory, bind, hash_password};
use meridian_control::ops::{self, OpsConfig, WorldSource, db::OperatorChange};
use meridian_testkit::{Postgres, free_tcp_port};
use reqwest::{Client, StatusCode, header};
use serde_json::{Value, json};

const JWT_SECRET: &[u8] = b"test jwt secret, thirty-two bytes or more";

#[test]
fn only_operators_get_past_ops_and_everyone_else_is_told_why() {
    let postgres = Postgres::start().expect("postgres");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut config = AuthConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            postgres.connection_string(),
            [0x11; 32],
            JWT_SECRET.to_vec(),
        );
        config.argon2 = Argon2Cost::TEST_ONLY;
        config.limits = AuthLimits {
            ip_burst: 10_000,
            ip_refill_ms: 1,
            ..AuthLimits::default()
        };
        // Nothing listens there: the map's node is down.
        let node_metrics = format!("127.0.0.1:{}", free_tcp_port());
        let ops = ops::router(OpsConfig {
            database_url: postgres.connection_string(),
            jwt_secret: JWT_SECRET.to_vec(),
            jwt_lifetime_s: 600,
            source: WorldSource::Static {
                node_id: "standalone".into(),
                metrics_addr: node_metrics.clone(),
            },
        })
        .unwrap();
        let directory = Arc::new(StaticZoneDirectory::new("127.0.0.1:40000".parse().unwrap()));
        let server = bind(config, directory).await.unwrap().merge_routes(ops);
        let _ = rustls::crypto::ring::default_provider().install_default();
        let certificate = reqwest::Certificate::from_pem(server.certificate_pem().unwrap().as_bytes()).unwrap();
        let client = Client::builder().tls_certs_only([certificate]).build().unwrap();
        let base = format!("https://localhost:{}", server.local_addr().port());
        let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        let post = |path: &str, body: Value| client.post(format!("{base}{path}")).json(&body).send();
        let get = |path: &str, token: Option<&str>| {
            let request = client.get(format!("{base}{path}"));
            match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            }
            .send()
        };
        async fn refusal(response: reqwest::Response) -> (StatusCode, String) {
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (status, body["error"].as_str().unwrap().to_owned())
        }

        // The public API makes players only: a role in the body is an unknown field.
        let sneaky = post(
            "/auth/register",
            json!({"name": "sneaky", "password": "password1", "role": "operator"}),
        )
        .await
        .unwrap();
        assert_eq!(
            refusal(sneaky).await,
            (StatusCode::UNPROCESSABLE_ENTITY, "unknown_field".into())
        );
        let player = post("/auth/register", json!({"name": "player1", "password": "password1"}))
            .await
            .unwrap();
        assert_eq!(player.status(), StatusCode::CREATED);
        let login = post("/auth/login", json!({"name": "player1", "password": "password1"}))
            .await
            .unwrap();
        let player_token = login.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();

        // The CLI's path: a new operator is created, an existing player promoted.
        let hash = hash_password(Argon2Cost::TEST_ONLY, "operator password").unwrap();
        let made = ops::db::make_operator(&postgres.connection_string(), "boss", Some(&hash)).await;
        assert_eq!(made.unwrap(), OperatorChange::Created);
        let refused = ops::db::make_operator(&postgres.connection_string(), "nobody", None).await;
        assert!(refused.unwrap_err().to_string().contains("give a password"));

        // The operator login.
        let wrong = post(
            "/operator/login",
            json!({"name": "boss", "password": "not the password"}),
        )
        .await
        .unwrap();
        assert_eq!(
            refusal(wrong).await,
            (StatusCode::UNAUTHORIZED, "bad_credentials".into())
        );
        let as_player = post("/operator/login", json!({"name": "player1", "password": "password1"}))
            .await
            .unwrap();
        assert_eq!(refusal(as_player).await, (StatusCode::FORBIDDEN, "not_operator".into()));
        let malformed = client
            .post(format!("{base}/operator/login"))
            .header(header::CONTENT_TYPE, "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(
            refusal(malformed).await,
            (StatusCode::BAD_REQUEST, "invalid_body".into())
        );
        let ok = post(
            "/operator/login",
            json!({"name": "BOSS", "password": "operator password"}),
        )
        .await
        .unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        let cookie = ok.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
        for attribute in ["meridian_ops=", "Path=/ops", "HttpOnly", "Secure", "SameSite=Strict"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        let operator_token = ok.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();

        // Every /ops/ route: 401 without a token or with a bad one, 403 for a player's token.
        for path in ["/ops/", "/ops/map.js", "/ops/world.json"] {
            assert_eq!(
                refusal(get(path, None).await.unwrap()).await,
                (StatusCode::UNAUTHORIZED, "unauthorized".into()),
                "{path}"
            );
            assert_eq!(
                refusal(get(path, Some("not.a.jwt")).await.unwrap()).await,
                (StatusCode::UNAUTHORIZED, "unauthorized".into()),
                "{path}"
            );
            assert_eq!(
                refusal(get(path, Some(&player_token)).await.unwrap()).await,
                (StatusCode::FORBIDDEN, "not_operator".into()),
                "{path}"
            );
            let allowed = get(path, Some(&operator_token)).await.unwrap();
            assert_eq!(allowed.status(), StatusCode::OK, "{path}");
        }
        // The cookie works as well as the header.
        let page = client
            .get(format!("{base}/ops/"))
            .header(header::COOKIE, format!("meridian_ops={operator_token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("/ops/map.js"));
        // The world: the node is down, and the map says so instead of failing.
        let world: Value = get("/ops/world.json", Some(&operator_token))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(world["zones"], json!([]));
        assert_eq!(world["nodes"][0]["id"], "standalone");
        let error = world["nodes"][0]["error"].as_str().unwrap();
        assert!(error.contains(&node_metrics), "{error}");
        // The login page itself is public.
        let login_page = get("/operator/login", None).await.unwrap();
        assert_eq!(login_page.status(), StatusCode::OK);
        // Promoting the player (password unchanged): its operator login works from now on, while
        // the player token it already holds stays a player's.
        let promoted = ops::db::make_operator(&postgres.connection_string(), "player1", None).await;
        assert_eq!(promoted.unwrap(), OperatorChange::Promoted);
        let now_operator = post("/operator/login", json!({"name": "player1", "password": "password1"}))
            .await
            .unwrap();
        assert_eq!(now_operator.status(), StatusCode::OK);
        assert_eq!(
            refusal(get("/ops/world.json", Some(&player_token)).await.unwrap()).await,
            (StatusCode::FORBIDDEN, "not_operator".into())
        );
        // Guessing from one address (each name once, so no account's own window trips) is cut off.
        let mut limited = None;
        for attempt in 0..40 {
            let guess = post(
                "/operator/login",
                json!({"name": format!("guess{attempt}"), "password": "password1"}),
            )
            .await
            .unwrap();
            let (status, code) = refusal(guess).await;
            if status == StatusCode::TOO_MANY_REQUESTS {
                limited = Some((attempt, code));
                break;
            }
            assert_eq!((status, code.as_str()), (StatusCode::UNAUTHORIZED, "bad_credentials"));
        }
        let (attempt, code) = limited.expect("the per-IP limit never refused a guess");
        assert_eq!(code, "rate_limited");
        assert!(attempt >= 10, "refused after only {attempt} guesses");
    });
}
