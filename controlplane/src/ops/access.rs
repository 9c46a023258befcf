//! Who may see `/ops/`: the operator login and the guard every `/ops/` route runs.
//!
//! `POST /operator/login` checks the name and password like `/auth/login` and also the account's
//! role; an operator gets a JWT whose claims carry `role: "operator"`, in the JSON answer and as an
//! `HttpOnly; Secure; SameSite=Strict` cookie scoped to `/ops` (a page navigation cannot send a
//! bearer header). The JWTs are signed with the login API's secret, so a player's token from
//! `/auth/login` verifies too — and is refused with 403, as it has no operator role. A role is
//! fixed for the token's lifetime (taking it away takes effect at the next login).

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::{
    Json,
    extract::{FromRequestParts, State},
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use super::{OpsState, db};
use crate::auth::limits::LoginFailures;
use crate::auth::names;

/// The cookie the operator's JWT travels in (path `/ops`).
pub const OPS_COOKIE: &str = "meridian_ops";
/// Tolerated clock difference when checking `exp` (as the login API's own tokens).
const JWT_LEEWAY_S: u64 = 5;
/// Password checks running at once for operator logins; more are answered `busy` (an argon2
/// verify holds a core, and operators log in rarely).
pub const VERIFY_SLOTS: usize = 2;

/// A refusal: status, stable code, message for people (`{"error": ..., "message": ...}`).
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            status,
            code,
            message: message.into(),
        }
    }

    fn internal() -> Self {
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; try again later",
        )
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.code, "message": self.message});
        (self.status, Json(body)).into_response()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: u64,
    exp: u64,
    /// `operator` for operators; absent in the login API's player tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
}

/// Signs and checks operator tokens with the login API's secret.
pub struct OpsKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub lifetime_s: u64,
}

impl OpsKeys {
    pub fn new(secret: &[u8], lifetime_s: u64) -> Result<Self, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = JWT_LEEWAY_S;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(OpsKeys {
            encoding: EncodingKey::from_secret(secret)?,
            decoding: DecodingKey::from_secret(secret)?,
            validation,
            lifetime_s,
        })
    }

    pub fn issue_operator(&self, account_id: i64, now_s: u64) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            sub: account_id.to_string(),
            iat: now_s,
            exp: now_s + self.lifetime_s,
            role: Some(db::OPERATOR_ROLE.to_owned()),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The account and whether it is an operator, for a valid unexpired token; `None` otherwise.
    pub fn verify(&self, token: &str) -> Option<(i64, bool)> {
        let claims = decode::<Claims>(token, &self.decoding, &self.validation).ok()?.claims;
        let account_id = claims.sub.parse().ok()?;
        Some((account_id, claims.role.as_deref() == Some(db::OPERATOR_ROLE)))
    }
}

fn unix_now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The token of a request: `Authorization: Bearer` first, else the [`OPS_COOKIE`] cookie.
fn token_of(parts: &Parts) -> Option<String> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        return value
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")
            .map(|token| token.trim().to_owned());
    }
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .find_map(|cookie| {
            let (name, value) = cookie.trim().split_once('=')?;
            (name == OPS_COOKIE).then(|| value.to_owned())
        })
}

/// An operator's request (every `/ops/` handler takes one): 401 without a valid token, 403 for a
/// valid token without the operator role.
pub struct Operator(pub i64);

impl FromRequestParts<Arc<OpsState>> for Operator {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<OpsState>) -> Result<Self, Self::Rejection> {
        let token = token_of(parts).ok_or_else(|| {
            Refusal::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "operator login required: POST /operator/login",
            )
        })?;
        match state.keys.verify(&token) {
            None => Err(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "token is invalid or expired",
            )),
            Some((_, false)) => Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "not_operator",
                "this account is not an operator",
            )),
            Some((account_id, true)) => Ok(Operator(account_id)),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    name: String,
    password: String,
}

#[derive(Serialize)]
pub struct OperatorToken {
    token: String,
    expires_in_s: u64,
}

fn bad_credentials() -> Refusal {
    Refusal::new(StatusCode::UNAUTHORIZED, "bad_credentials", "wrong name or password")
}

/// Per-account failure window and the monotonic origin of its seconds.
pub struct Failures {
    pub window: Mutex<LoginFailures>,
    pub started: Instant,
}

/// `POST /operator/login`.
pub async fn login(
    State(state): State<Arc<OpsState>>,
    body: Result<Json<Credentials>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, Refusal> {
    let Json(credentials) = body.map_err(|rejection| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!(
                "expected {{\"name\": ..., \"password\": ...}}: {}",
                rejection.body_text()
            ),
        )
    })?;
    if names::check_name(&credentials.name).is_err() || names::check_password(&credentials.password).is_err() {
        return Err(bad_credentials());
    }
    let key = credentials.name.to_lowercase();
    let now_s = state.failures.started.elapsed().as_secs();
    if let Err(retry_after_s) = state
        .failures
        .window
        .lock()
        .map_err(|_| Refusal::internal())?
        .check(&key, now_s)
    {
        return Err(Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many failed logins for this account; try again in {retry_after_s} s"),
        ));
    }
    let account = db::find_account(&state.pool, &credentials.name)
        .await
        .map_err(|error| {
            tracing::error!(%error, "operator login: reading the account failed");
            Refusal::internal()
        })?;
    let (account, phc) = match account {
        Some((id, phc, role)) => (Some((id, role)), phc),
        // Unknown names cost the same hash as known ones.
        None => (None, state.dummy_hash.clone()),
    };
    let Ok(permit) = Arc::clone(&state.verify_slots).try_acquire_owned() else {
        return Err(Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "server busy; try again shortly",
        ));
    };
    let password = credentials.password;
    let matches = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        crate::auth::verify_password(&password, &phc)
    })
    .await
    .map_err(|_| Refusal::internal())?;
    let now_s = state.failures.started.elapsed().as_secs();
    let (account_id, role) = match (account, matches) {
        (Some(account), true) => account,
        _ => {
            if let Ok(mut window) = state.failures.window.lock() {
                window.record_failure(&key, now_s);
            }
            return Err(bad_credentials());
        }
    };
    if let Ok(mut window) = state.failures.window.lock() {
        window.record_success(&key);
    }
    if role != db::OPERATOR_ROLE {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "not_operator",
            "this account is not an operator",
        ));
    }
    let token = state.keys.issue_operator(account_id, unix_now_s()).map_err(|error| {
        tracing::error!(%error, "signing an operator JWT failed");
        Refusal::internal()
    })?;
    let cookie = format!(
        "{OPS_COOKIE}={token}; Path=/ops; Max-Age={}; HttpOnly; Secure; SameSite=Strict",
        state.keys.lifetime_s
    );
    let mut response = Json(OperatorToken {
        token,
        expires_in_s: state.keys.lifetime_s,
    })
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|_| Refusal::internal())?,
    );
    tracing::info!(account_id, "operator logged in");
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn only_operator_tokens_carry_the_role_and_player_tokens_verify_without_it() {
        let keys = OpsKeys::new(SECRET, 60).unwrap();
        let token = keys.issue_operator(7, unix_now_s()).unwrap();
        assert_eq!(keys.verify(&token), Some((7, true)));
        // A login-API token: same secret, no role.
        let player = encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"sub": "8", "iat": unix_now_s(), "exp": unix_now_s() + 60}),
            &EncodingKey::from_secret(SECRET).unwrap(),
        )
        .unwrap();
        assert_eq!(keys.verify(&player), Some((8, false)));
        let other = OpsKeys::new(b"another secret, also 32 bytes ok", 60).unwrap();
        assert_eq!(other.verify(&token), None);
        assert_eq!(keys.verify("not.a.jwt"), None);
    }

    #[test]
    fn the_token_comes_from_the_bearer_header_or_the_cookie() {
        let request = axum::http::Request::builder()
            .header(header::COOKIE, "a=b; meridian_ops=tok; c=d")
            .body(())
            .unwrap();
        let (parts, _) = request.into_parts();
        assert_eq!(token_of(&parts).as_deref(), Some("tok"));
        let request = axum::http::Request::builder()
            .header(header::AUTHORIZATION, "Bearer abc")
            .body(())
            .unwrap();
        let (parts, _) = request.into_parts();
        assert_eq!(token_of(&parts).as_deref(), Some("abc"));
        let (parts, _) = axum::http::Request::builder().body(()).unwrap().into_parts();
        assert_eq!(token_of(&parts), None);
    }
}
