//! The endpoints. Each handler validates its input, runs parameterised statements, and answers
//! either its JSON body or an [`ApiError`].

use std::{
    sync::{Arc, Mutex},
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    Json,
    extract::{FromRequest, FromRequestParts, Path, Request, State, rejection::JsonRejection},
    http::{StatusCode, header, request::Parts},
};
use base64::Engine;
use deadpool_postgres::Pool;
use meridian_proto::token::{CLUSTER_KEY_BYTES, ConnectToken, TOKEN_LIFETIME_S, TOKEN_NONCE_BYTES};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::routes::{PendingRoutes, RouteError};

use super::{
    config::Argon2Cost,
    db::{self, DbError},
    directory::ZoneDirectory,
    error::ApiError,
    jwt::JwtKeys,
    limits::LoginFailures,
    names,
    password::{self, HashSlots},
};

pub struct AppState {
    pub pool: Pool,
    pub jwt: JwtKeys,
    pub cluster_key: [u8; CLUSTER_KEY_BYTES],
    pub argon2: Argon2Cost,
    pub hash_slots: Arc<HashSlots>,
    pub failures: Mutex<LoginFailures>,
    /// Monotonic origin of the failure window's seconds (wall-clock jumps must not unblock names).
    pub started: Instant,
    pub directory: Arc<dyn ZoneDirectory>,
    /// Where sessions' routes are written (the control plane); `None` in standalone mode.
    pub routes: Option<PendingRoutes>,
    pub default_zone_id: u32,
    pub gateway: String,
    /// Verified when the name is unknown, so that a login for a missing account costs the same
    /// hash as one for a real account and timing does not reveal which names exist.
    pub dummy_hash: String,
}

type Shared = State<Arc<AppState>>;

fn unix_now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn db_error(error: DbError) -> ApiError {
    match error {
        DbError::Conflict => ApiError::new(StatusCode::CONFLICT, "name_taken", "that name is taken"),
        DbError::Busy => ApiError::busy(),
        DbError::Other(detail) => {
            tracing::error!(%detail, "database statement failed");
            ApiError::internal()
        }
    }
}

/// `axum::Json` with every rejection turned into our JSON error body.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(error) => {
            let text = error.body_text();
            // serde names the offending field; that is the client's own input, safe to echo.
            let detail = text.rsplit(": ").next().unwrap_or("invalid body").to_owned();
            let code = if text.contains("unknown field") {
                "unknown_field"
            } else {
                "invalid_body"
            };
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
        }
        JsonRejection::JsonSyntaxError(_) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "request body is not valid JSON",
        ),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected Content-Type: application/json",
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request body exceeds {} bytes", super::server::BODY_BYTES_MAX),
        ),
        other => ApiError::new(StatusCode::BAD_REQUEST, "bad_request", other.body_text()),
    }
}

/// The account named by a valid `Authorization: Bearer <jwt>`.
pub struct Account(pub i64);

impl FromRequestParts<Arc<AppState>> for Account {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer token"))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthorized("expected Authorization: Bearer token"))?;
        state
            .jwt
            .verify(token.trim())
            .map(Account)
            .ok_or_else(|| ApiError::unauthorized("token is invalid or expired"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    name: String,
    password: String,
}

#[derive(Serialize)]
pub struct Registered {
    account_id: i64,
    name: String,
}

fn check_credentials(credentials: &Credentials) -> Result<(), ApiError> {
    names::check_name(&credentials.name)
        .map_err(|error| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_name", error.message()))?;
    names::check_password(&credentials.password)
        .map_err(|error| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_password", error.message()))
}

pub async fn register(
    State(state): Shared,
    ApiJson(credentials): ApiJson<Credentials>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    check_credentials(&credentials)?;
    let cost = state.argon2;
    let password = credentials.password;
    let phc = state
        .hash_slots
        .run(move || password::hash_password(cost, &password))
        .await?
        .map_err(|error| {
            tracing::error!(%error, "hashing a password failed");
            ApiError::internal()
        })?;
    let account_id = db::insert_account(&state.pool, &credentials.name, &phc)
        .await
        .map_err(db_error)?;
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            account_id,
            name: credentials.name,
        }),
    ))
}

#[derive(Serialize)]
pub struct LoggedIn {
    token: String,
    expires_in_s: u64,
    gateway: String,
}

pub async fn login(
    State(state): Shared,
    ApiJson(credentials): ApiJson<Credentials>,
) -> Result<Json<LoggedIn>, ApiError> {
    // Malformed names and passwords cannot match an account: refuse them without a hash.
    if names::check_name(&credentials.name).is_err() || names::check_password(&credentials.password).is_err() {
        return Err(bad_credentials());
    }
    let key = credentials.name.to_lowercase();
    let now_s = state.started.elapsed().as_secs();
    if let Err(retry_after_s) = state.failures.lock().expect("failures lock").check(&key, now_s) {
        return Err(ApiError::rate_limited(
            retry_after_s,
            "too many failed logins for this account; try again later",
        ));
    }
    let account = db::find_account(&state.pool, &credentials.name)
        .await
        .map_err(db_error)?;
    let (account_id, phc) = match account {
        Some((id, phc)) => (Some(id), phc),
        None => (None, state.dummy_hash.clone()),
    };
    let password = credentials.password;
    let matches = state
        .hash_slots
        .run(move || password::verify_password(&password, &phc))
        .await?;
    let now_s = state.started.elapsed().as_secs();
    let account_id = match (account_id, matches) {
        (Some(id), true) => id,
        _ => {
            state
                .failures
                .lock()
                .expect("failures lock")
                .record_failure(&key, now_s);
            return Err(bad_credentials());
        }
    };
    state.failures.lock().expect("failures lock").record_success(&key);
    let token = state.jwt.issue(account_id, unix_now_s()).map_err(|error| {
        tracing::error!(%error, "signing a JWT failed");
        ApiError::internal()
    })?;
    Ok(Json(LoggedIn {
        token,
        expires_in_s: state.jwt.lifetime_s,
        gateway: state.gateway.clone(),
    }))
}

fn bad_credentials() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "bad_credentials", "wrong name or password")
}

#[derive(Serialize)]
pub struct CharacterView {
    id: i64,
    name: String,
    zone_id: u32,
    created_at_s: i64,
}

impl From<db::Character> for CharacterView {
    fn from(character: db::Character) -> Self {
        CharacterView {
            id: character.id,
            name: character.name,
            zone_id: character.zone_id,
            created_at_s: character.created_at_s,
        }
    }
}

#[derive(Serialize)]
pub struct CharacterList {
    characters: Vec<CharacterView>,
}

pub async fn list_characters(
    State(state): Shared,
    Account(account_id): Account,
) -> Result<Json<CharacterList>, ApiError> {
    let characters = db::list_characters(&state.pool, account_id).await.map_err(db_error)?;
    Ok(Json(CharacterList {
        characters: characters.into_iter().map(CharacterView::from).collect(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCharacter {
    name: String,
}

pub async fn create_character(
    State(state): Shared,
    Account(account_id): Account,
    ApiJson(new): ApiJson<NewCharacter>,
) -> Result<(StatusCode, Json<CharacterView>), ApiError> {
    names::check_name(&new.name)
        .map_err(|error| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_name", error.message()))?;
    let character = db::insert_character(&state.pool, account_id, &new.name, state.default_zone_id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "too_many_characters",
                format!(
                    "an account may have at most {} characters",
                    db::CHARACTERS_PER_ACCOUNT_MAX
                ),
            )
        })?;
    Ok((StatusCode::CREATED, Json(character.into())))
}

#[derive(Serialize)]
pub struct PlayTicket {
    /// Standard base64 of `ClientToken::to_bytes`.
    connect_token: String,
    server: String,
    zone_id: u32,
    expires_at_s: u64,
    /// The serving node's WebSocket gateway (`wss://…`) for browsers; absent when it has none.
    /// The token's server address stays the node's UDP address: the gateway is part of the node.
    #[serde(skip_serializing_if = "Option::is_none")]
    websocket: Option<String>,
}

fn random_bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|error| {
        tracing::error!(%error, "the OS random source failed");
        ApiError::internal()
    })?;
    Ok(bytes)
}

pub async fn play(
    State(state): Shared,
    Account(account_id): Account,
    Path(character_id): Path<String>,
) -> Result<Json<PlayTicket>, ApiError> {
    let not_found = || ApiError::not_found("no such character on this account");
    let character_id: i64 = character_id.parse().map_err(|_| not_found())?;
    let character = db::find_character(&state.pool, account_id, character_id)
        .await
        .map_err(db_error)?
        .ok_or_else(not_found)?;
    let zone_unavailable = |retry_after_s| ApiError {
        retry_after_s: Some(retry_after_s),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "zone_unavailable",
            format!("no game server serves zone {} right now", character.zone_id),
        )
    };
    let located = state
        .directory
        .locate(character.zone_id)
        .ok_or_else(|| zone_unavailable(5))?;
    let server = located.address;
    let websocket = located.websocket.clone();
    let session_id = u64::from_le_bytes(random_bytes()?);
    if let (Some(routes), Some(route)) = (&state.routes, &located.route) {
        match routes.put(session_id, route).await {
            Ok(_) => {}
            // The zone moved between the directory's view and the write: the new owner is a
            // moment away, so ask the client to retry soon.
            Err(RouteError::StaleToken { .. }) => return Err(zone_unavailable(1)),
            Err(error) => {
                tracing::warn!(%error, session_id, "writing the session's route failed");
                return Err(ApiError::busy());
            }
        }
    }
    let expires_at_s = unix_now_s() + TOKEN_LIFETIME_S;
    let token = ConnectToken {
        session_id,
        zone_id: character.zone_id,
        // The zone plays this character (its economy rows, its checkpoint); ids are positive.
        character_id: u64::try_from(character.id).map_err(|_| ApiError::internal())?,
        expires_at_s,
        client_to_server_key: random_bytes()?,
        server_to_client_key: random_bytes()?,
        edge_key: random_bytes()?,
        server_addresses: vec![server],
    };
    let nonce: [u8; TOKEN_NONCE_BYTES] = random_bytes()?;
    let client_token = token.seal(&state.cluster_key, nonce);
    Ok(Json(PlayTicket {
        connect_token: base64::engine::general_purpose::STANDARD.encode(client_token.to_bytes()),
        server: server.to_string(),
        zone_id: character.zone_id,
        expires_at_s,
        websocket,
    }))
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed here",
    )
}
