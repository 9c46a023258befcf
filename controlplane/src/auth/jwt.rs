//! The API's bearer tokens: HS256 JWTs naming the account, with a bounded lifetime.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

/// Clock difference tolerated when checking `exp`: the API signs and checks its own tokens, so
/// only the skew between control-plane instances matters.
const JWT_LEEWAY_S: u64 = 5;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The account id.
    pub sub: String,
    pub iat: u64,
    pub exp: u64,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub lifetime_s: u64,
}

impl JwtKeys {
    pub fn new(secret: &[u8], lifetime_s: u64) -> Result<Self, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = JWT_LEEWAY_S;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(JwtKeys {
            encoding: EncodingKey::from_secret(secret)?,
            decoding: DecodingKey::from_secret(secret)?,
            validation,
            lifetime_s,
        })
    }

    pub fn issue(&self, account_id: i64, now_s: u64) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            sub: account_id.to_string(),
            iat: now_s,
            exp: now_s + self.lifetime_s,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The account id of a valid, unexpired token signed with our secret; `None` otherwise.
    pub fn verify(&self, token: &str) -> Option<i64> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        data.claims.sub.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn now_s() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn issued_token_verifies_and_others_do_not() {
        let keys = JwtKeys::new(SECRET, 60).unwrap();
        let token = keys.issue(42, now_s()).unwrap();
        assert_eq!(keys.verify(&token), Some(42));
        let other = JwtKeys::new(b"another secret, also 32 bytes ok", 60).unwrap();
        assert_eq!(other.verify(&token), None);
        let expired = keys.issue(42, now_s() - 3600).unwrap();
        assert_eq!(keys.verify(&expired), None);
        assert_eq!(keys.verify("not.a.jwt"), None);
    }
}
