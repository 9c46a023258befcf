//! Real tokens for the bot swarm: each bot walks the login API as a player does — register (an
//! existing account is fine), log in, create a character (or reuse its first), ask to play — and gets
//! a connect token for the node that serves its character's zone. The dev-token path stays for pure
//! packet benchmarks, where the login's argon2 hashing would only add noise.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine;
use meridian_client::ClientToken;
use serde_json::{Value, json};
use thiserror::Error;

/// Longest one HTTPS request may take before the bot counts a failed login.
pub const LOGIN_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Attempts per request when the API answers 503 or 429 with Retry-After.
pub const RETRIES_MAX: u32 = 10;
/// The longest wait taken from one Retry-After.
pub const RETRY_AFTER_CAP_S: u64 = 5;

#[derive(Debug, Error)]
pub enum LoginError {
    #[error("HTTPS: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{step}: HTTP {status}: {body}")]
    Refused {
        step: &'static str,
        status: u16,
        body: String,
    },
    #[error("{step}: unexpected answer: {body}")]
    BadAnswer { step: &'static str, body: String },
    #[error("certificate: {0}")]
    Certificate(String),
}

/// A player's token and where to send it.
#[derive(Debug)]
pub struct PlayTicket {
    pub token: ClientToken,
    pub server: SocketAddr,
    /// Time from the first request to the connect token.
    pub latency: Duration,
}

/// An HTTPS client of the login API.
#[derive(Clone)]
pub struct LoginClient {
    http: reqwest::Client,
    base: String,
}

impl LoginClient {
    /// `base` like `https://127.0.0.1:8443`; `ca_pem` the certificate to trust (the API's development
    /// certificate), or `None` for the system's roots.
    pub fn new(base: &str, ca_pem: Option<&[u8]>) -> Result<Self, LoginError> {
        // The ring provider only (no aws-lc-rs in the build); installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder().timeout(LOGIN_REQUEST_TIMEOUT);
        if let Some(pem) = ca_pem {
            let certificate =
                reqwest::Certificate::from_pem(pem).map_err(|error| LoginError::Certificate(error.to_string()))?;
            builder = builder.tls_certs_only([certificate]);
        }
        Ok(Self {
            http: builder.build()?,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    async fn post(
        &self,
        step: &'static str,
        path: &str,
        body: Value,
        bearer: Option<&str>,
    ) -> Result<(u16, Value), LoginError> {
        // A 503 (no node serves the zone yet: the assigner is placing it) or a 429 comes with
        // Retry-After: a client waits that long and asks again, a bounded number of times, as a
        // real client should (the seconds are capped so a swarm does not stall on one answer).
        let mut attempts = 0;
        let (status, text) = loop {
            let mut request = self.http.post(format!("{}{path}", self.base)).json(&body);
            if let Some(bearer) = bearer {
                request = request.bearer_auth(bearer);
            }
            let response = request.send().await?;
            let status = response.status().as_u16();
            let retry_after_s = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
            let text = response.text().await?;
            attempts += 1;
            match retry_after_s {
                Some(seconds) if (status == 503 || status == 429) && attempts < RETRIES_MAX => {
                    tokio::time::sleep(Duration::from_secs(seconds.clamp(1, RETRY_AFTER_CAP_S))).await;
                }
                _ => break (status, text),
            }
        };
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status >= 400 && status != 409 {
            return Err(LoginError::Refused {
                step,
                status,
                body: text,
            });
        }
        Ok((status, value))
    }

    /// Register-or-reuse `name`, log in, create-or-reuse a character, and ask to play it.
    pub async fn play(&self, name: &str, password: &str) -> Result<PlayTicket, LoginError> {
        let started = Instant::now();
        let credentials = json!({ "name": name, "password": password });
        self.post("register", "/auth/register", credentials.clone(), None)
            .await?;
        let (_, login) = self.post("login", "/auth/login", credentials, None).await?;
        let jwt = login["token"].as_str().ok_or_else(|| LoginError::BadAnswer {
            step: "login",
            body: login.to_string(),
        })?;
        let (status, character) = self
            .post("character", "/characters", json!({ "name": name }), Some(jwt))
            .await?;
        let id = match (status, character["id"].as_i64()) {
            (201, Some(id)) => id,
            // Created by an earlier run (name taken): use the account's first character.
            _ => {
                let response = self
                    .http
                    .get(format!("{}/characters", self.base))
                    .bearer_auth(jwt)
                    .send()
                    .await?;
                let list: Value = response.json().await?;
                list.as_array()
                    .or_else(|| list["characters"].as_array())
                    .and_then(|characters| characters.first())
                    .and_then(|first| first["id"].as_i64())
                    .ok_or_else(|| LoginError::BadAnswer {
                        step: "characters",
                        body: list.to_string(),
                    })?
            }
        };
        let (_, play) = self
            .post("play", &format!("/characters/{id}/play"), json!({}), Some(jwt))
            .await?;
        let bad = || LoginError::BadAnswer {
            step: "play",
            body: play.to_string(),
        };
        let token = play["connect_token"]
            .as_str()
            .and_then(|token| base64::engine::general_purpose::STANDARD.decode(token).ok())
            .and_then(|bytes| ClientToken::from_bytes(&bytes).ok())
            .ok_or_else(bad)?;
        let server = play["server"]
            .as_str()
            .and_then(|server| server.parse().ok())
            .ok_or_else(bad)?;
        Ok(PlayTicket {
            token,
            server,
            latency: started.elapsed(),
        })
    }
}
