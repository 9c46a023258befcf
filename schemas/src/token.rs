//! Connect tokens (netcode.io model).
//!
//! After login the control plane issues a token for one session: a *private* part sealed with the
//! cluster key (XChaCha20-Poly1305, a random nonce the issuer supplies) that only game servers can
//! open, and the same secrets in the clear for the client, which received them over HTTPS. The client
//! presents the sealed part in its connection request; the server opens it, checks the expiry and
//! that its own address is listed, and takes the session's keys from it. Layouts: `PROTOCOL.md`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use chacha20poly1305::{AeadInOut, Key, KeyInit, Tag, XChaCha20Poly1305, XNonce};
use thiserror::Error;

use crate::packet::{AEAD_KEY_BYTES, AEAD_TAG_BYTES, EDGE_KEY_BYTES, PACKET_MAGIC, PROTOCOL_VERSION};

pub const CLUSTER_KEY_BYTES: usize = 32;
pub const TOKEN_NONCE_BYTES: usize = 24;
/// Server addresses a token may list.
pub const TOKEN_SERVER_ADDRESSES_MAX: usize = 4;
const ADDRESS_BYTES: usize = 1 + 16 + 2;
/// Plaintext of the private part, zero padded.
pub const TOKEN_PRIVATE_BYTES: usize = 192;
/// Where the character id sits in the private plaintext: right after the fields the client token
/// repeats in the clear. Only servers read it (the client knows which character it chose), so the
/// client token keeps its size and a token with character id 0 keeps its old bytes.
const CHARACTER_ID_OFFSET: usize = PRIVATE_FIELDS_BYTES;
const CHARACTER_ID_BYTES: usize = 8;
pub const TOKEN_PRIVATE_SEALED_BYTES: usize = TOKEN_PRIVATE_BYTES + AEAD_TAG_BYTES;
/// Client-facing token: expiry, nonce, sealed private part, then the private fields in the clear.
pub const CLIENT_TOKEN_BYTES: usize = 8 + TOKEN_NONCE_BYTES + TOKEN_PRIVATE_SEALED_BYTES + PRIVATE_FIELDS_BYTES;
/// How long a connect token is valid after it is issued: long enough for the client to receive it
/// over HTTPS and send its request, short enough that a leaked token is soon useless. The issuer
/// sets `expires_at_s = now + TOKEN_LIFETIME_S`.
pub const TOKEN_LIFETIME_S: u64 = 30;
/// Clock difference tolerated between the issuer and a game server. A server refuses a token that
/// expires more than `TOKEN_LIFETIME_S + TOKEN_EXPIRY_SKEW_S` ahead of its own clock: no issuer
/// makes such a token, and accepting it would let one token live longer than the lifetime.
pub const TOKEN_EXPIRY_SKEW_S: u64 = 5;

const PRIVATE_FIELDS_BYTES: usize =
    8 + 4 + 2 * AEAD_KEY_BYTES + EDGE_KEY_BYTES + 1 + TOKEN_SERVER_ADDRESSES_MAX * ADDRESS_BYTES;
const _: () = assert!(PRIVATE_FIELDS_BYTES + CHARACTER_ID_BYTES <= TOKEN_PRIVATE_BYTES);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
pub enum TokenError {
    #[error("token is {bytes} bytes, expected {expected}")]
    BadLength { bytes: usize, expected: usize },
    #[error("token does not open with the cluster key")]
    BadSeal,
    #[error("token expired at {expires_at_s} s")]
    Expired { expires_at_s: u64 },
    #[error("token expiry {expires_at_s} s is further ahead than the token lifetime allows")]
    ExpiryTooFar { expires_at_s: u64 },
    #[error("token lists {count} server addresses (1..=4 allowed)")]
    BadAddressCount { count: u8 },
    #[error("token address family {family} is not 4 or 6")]
    BadAddressFamily { family: u8 },
    #[error("token padding is not zero")]
    PaddingNotZero,
    #[error("this server's address is not in the token")]
    WrongServer,
}

impl TokenError {
    /// Stable metrics label (see `PacketError::label`).
    pub fn label(&self) -> &'static str {
        match self {
            TokenError::BadLength { .. } => "token_bad_length",
            TokenError::BadSeal => "token_bad_seal",
            TokenError::Expired { .. } => "token_expired",
            TokenError::ExpiryTooFar { .. } => "token_expiry_too_far",
            TokenError::BadAddressCount { .. } => "token_bad_address_count",
            TokenError::BadAddressFamily { .. } => "token_bad_address_family",
            TokenError::PaddingNotZero => "token_padding",
            TokenError::WrongServer => "wrong_server",
        }
    }
}

/// The expiry rule a server applies before opening a token (the expiry is authenticated by the
/// seal, so checking it first only saves the AEAD work on tokens that would be refused anyway):
/// not yet expired, and not further ahead than the lifetime plus the clock skew.
pub fn check_expiry(expires_at_s: u64, now_s: u64) -> Result<(), TokenError> {
    if expires_at_s <= now_s {
        return Err(TokenError::Expired { expires_at_s });
    }
    if expires_at_s > now_s.saturating_add(TOKEN_LIFETIME_S + TOKEN_EXPIRY_SKEW_S) {
        return Err(TokenError::ExpiryTooFar { expires_at_s });
    }
    Ok(())
}

/// The secrets of one session, as sealed in the private part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectToken {
    pub session_id: u64,
    pub zone_id: u32,
    /// The character the session plays (the login API's character id); 0 = none (dev tokens), and
    /// the server then uses the session id. Sealed only: the client token's clear copy does not
    /// carry it, so [`ClientToken::from_bytes`] reads 0 here.
    pub character_id: u64,
    pub expires_at_s: u64,
    pub client_to_server_key: [u8; AEAD_KEY_BYTES],
    pub server_to_client_key: [u8; AEAD_KEY_BYTES],
    pub edge_key: [u8; EDGE_KEY_BYTES],
    /// 1..=TOKEN_SERVER_ADDRESSES_MAX addresses.
    pub server_addresses: Vec<SocketAddr>,
}

/// What the client holds: the sealed private part plus the same secrets in the clear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientToken {
    pub nonce: [u8; TOKEN_NONCE_BYTES],
    pub sealed_private: [u8; TOKEN_PRIVATE_SEALED_BYTES],
    pub token: ConnectToken,
}

fn token_aad(expires_at_s: u64) -> [u8; 10] {
    let mut aad = [0u8; 10];
    aad[0] = PACKET_MAGIC;
    aad[1] = PROTOCOL_VERSION;
    aad[2..].copy_from_slice(&expires_at_s.to_le_bytes());
    aad
}

fn write_address(out: &mut Vec<u8>, address: Option<&SocketAddr>) {
    let (family, ip, port) = match address {
        None => (0u8, [0u8; 16], 0u16),
        Some(SocketAddr::V4(v4)) => {
            let mut ip = [0u8; 16];
            ip[..4].copy_from_slice(&v4.ip().octets());
            (4, ip, v4.port())
        }
        Some(SocketAddr::V6(v6)) => (6, v6.ip().octets(), v6.port()),
    };
    out.push(family);
    out.extend_from_slice(&ip);
    out.extend_from_slice(&port.to_le_bytes());
}

fn read_address(bytes: &[u8]) -> Result<Option<SocketAddr>, TokenError> {
    debug_assert_eq!(bytes.len(), ADDRESS_BYTES);
    let ip: [u8; 16] = bytes[1..17].try_into().expect("16 bytes");
    let port = u16::from_le_bytes([bytes[17], bytes[18]]);
    match bytes[0] {
        0 => {
            if bytes[1..].iter().any(|byte| *byte != 0) {
                return Err(TokenError::PaddingNotZero);
            }
            Ok(None)
        }
        4 => {
            if ip[4..].iter().any(|byte| *byte != 0) {
                return Err(TokenError::PaddingNotZero);
            }
            Ok(Some(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3])),
                port,
            )))
        }
        6 => Ok(Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port))),
        family => Err(TokenError::BadAddressFamily { family }),
    }
}

impl ConnectToken {
    fn write_fields(&self, out: &mut Vec<u8>) {
        assert!(!self.server_addresses.is_empty());
        assert!(self.server_addresses.len() <= TOKEN_SERVER_ADDRESSES_MAX);
        let start = out.len();
        out.extend_from_slice(&self.session_id.to_le_bytes());
        out.extend_from_slice(&self.zone_id.to_le_bytes());
        out.extend_from_slice(&self.client_to_server_key);
        out.extend_from_slice(&self.server_to_client_key);
        out.extend_from_slice(&self.edge_key);
        out.push(self.server_addresses.len() as u8);
        for slot in 0..TOKEN_SERVER_ADDRESSES_MAX {
            write_address(out, self.server_addresses.get(slot));
        }
        debug_assert_eq!(out.len() - start, PRIVATE_FIELDS_BYTES);
    }

    fn read_fields(bytes: &[u8], expires_at_s: u64) -> Result<ConnectToken, TokenError> {
        debug_assert_eq!(bytes.len(), PRIVATE_FIELDS_BYTES);
        let count = bytes[8 + 4 + 2 * AEAD_KEY_BYTES + EDGE_KEY_BYTES];
        if count == 0 || usize::from(count) > TOKEN_SERVER_ADDRESSES_MAX {
            return Err(TokenError::BadAddressCount { count });
        }
        let addresses_start = 8 + 4 + 2 * AEAD_KEY_BYTES + EDGE_KEY_BYTES + 1;
        let mut server_addresses = Vec::with_capacity(TOKEN_SERVER_ADDRESSES_MAX);
        for slot in 0..TOKEN_SERVER_ADDRESSES_MAX {
            let start = addresses_start + slot * ADDRESS_BYTES;
            let address = read_address(&bytes[start..start + ADDRESS_BYTES])?;
            match (address, slot < usize::from(count)) {
                (Some(address), true) => server_addresses.push(address),
                (None, false) => {}
                (None, true) => return Err(TokenError::BadAddressFamily { family: 0 }),
                (Some(_), false) => return Err(TokenError::PaddingNotZero),
            }
        }
        Ok(ConnectToken {
            session_id: u64::from_le_bytes(bytes[0..8].try_into().expect("8 bytes")),
            zone_id: u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")),
            character_id: 0,
            expires_at_s,
            client_to_server_key: bytes[12..44].try_into().expect("32 bytes"),
            server_to_client_key: bytes[44..76].try_into().expect("32 bytes"),
            edge_key: bytes[76..92].try_into().expect("16 bytes"),
            server_addresses,
        })
    }

    /// Seals the private part with the cluster key. `nonce` must be fresh random bytes (the issuer
    /// reads its RNG; this crate does not).
    pub fn seal(&self, cluster_key: &[u8; CLUSTER_KEY_BYTES], nonce: [u8; TOKEN_NONCE_BYTES]) -> ClientToken {
        let mut plaintext = Vec::with_capacity(TOKEN_PRIVATE_BYTES);
        self.write_fields(&mut plaintext);
        plaintext.extend_from_slice(&self.character_id.to_le_bytes());
        plaintext.resize(TOKEN_PRIVATE_BYTES, 0);
        let cipher = XChaCha20Poly1305::new(&Key::from(*cluster_key));
        let tag = cipher
            .encrypt_inout_detached(
                &XNonce::from(nonce),
                &token_aad(self.expires_at_s),
                plaintext.as_mut_slice().into(),
            )
            .expect("token within AEAD limits");
        let mut sealed_private = [0u8; TOKEN_PRIVATE_SEALED_BYTES];
        sealed_private[..TOKEN_PRIVATE_BYTES].copy_from_slice(&plaintext);
        sealed_private[TOKEN_PRIVATE_BYTES..].copy_from_slice(tag.as_slice());
        ClientToken {
            nonce,
            sealed_private,
            token: self.clone(),
        }
    }

    /// Opens a sealed private part (server side). Checks the seal and the padding, not the expiry.
    pub fn open(
        cluster_key: &[u8; CLUSTER_KEY_BYTES],
        expires_at_s: u64,
        nonce: &[u8; TOKEN_NONCE_BYTES],
        sealed_private: &[u8],
    ) -> Result<ConnectToken, TokenError> {
        if sealed_private.len() != TOKEN_PRIVATE_SEALED_BYTES {
            return Err(TokenError::BadLength {
                bytes: sealed_private.len(),
                expected: TOKEN_PRIVATE_SEALED_BYTES,
            });
        }
        let mut plaintext = [0u8; TOKEN_PRIVATE_BYTES];
        plaintext.copy_from_slice(&sealed_private[..TOKEN_PRIVATE_BYTES]);
        let tag = Tag::try_from(&sealed_private[TOKEN_PRIVATE_BYTES..]).map_err(|_| TokenError::BadSeal)?;
        let cipher = XChaCha20Poly1305::new(&Key::from(*cluster_key));
        cipher
            .decrypt_inout_detached(
                &XNonce::from(*nonce),
                &token_aad(expires_at_s),
                plaintext.as_mut_slice().into(),
                &tag,
            )
            .map_err(|_| TokenError::BadSeal)?;
        let character_end = CHARACTER_ID_OFFSET + CHARACTER_ID_BYTES;
        if plaintext[character_end..].iter().any(|byte| *byte != 0) {
            return Err(TokenError::PaddingNotZero);
        }
        let mut token = ConnectToken::read_fields(&plaintext[..PRIVATE_FIELDS_BYTES], expires_at_s)?;
        token.character_id = u64::from_le_bytes(
            plaintext[CHARACTER_ID_OFFSET..character_end]
                .try_into()
                .expect("8 bytes"),
        );
        Ok(token)
    }
}

impl ClientToken {
    /// Serialises for the control plane's HTTPS response (fixed `CLIENT_TOKEN_BYTES`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(CLIENT_TOKEN_BYTES);
        out.extend_from_slice(&self.token.expires_at_s.to_le_bytes());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.sealed_private);
        self.token.write_fields(&mut out);
        debug_assert_eq!(out.len(), CLIENT_TOKEN_BYTES);
        out
    }

    /// Total decoder for the client side. The character id is not in the clear copy: the result's
    /// `token.character_id` is 0.
    pub fn from_bytes(bytes: &[u8]) -> Result<ClientToken, TokenError> {
        if bytes.len() != CLIENT_TOKEN_BYTES {
            return Err(TokenError::BadLength {
                bytes: bytes.len(),
                expected: CLIENT_TOKEN_BYTES,
            });
        }
        let expires_at_s = u64::from_le_bytes(bytes[0..8].try_into().expect("8 bytes"));
        let nonce = bytes[8..32].try_into().expect("24 bytes");
        let sealed_end = 32 + TOKEN_PRIVATE_SEALED_BYTES;
        let sealed_private = bytes[32..sealed_end].try_into().expect("sealed size");
        let token = ConnectToken::read_fields(&bytes[sealed_end..], expires_at_s)?;
        Ok(ClientToken {
            nonce,
            sealed_private,
            token,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const CLUSTER_KEY: [u8; CLUSTER_KEY_BYTES] = [0x42; CLUSTER_KEY_BYTES];

    pub(crate) fn sample_token(server: SocketAddr) -> ConnectToken {
        ConnectToken {
            session_id: 0xfeed_0000_0000_0001,
            zone_id: 17,
            character_id: 0,
            expires_at_s: 1_000_030,
            client_to_server_key: [1; AEAD_KEY_BYTES],
            server_to_client_key: [2; AEAD_KEY_BYTES],
            edge_key: [3; EDGE_KEY_BYTES],
            server_addresses: vec![server, "[2001:db8::1]:7777".parse().unwrap()],
        }
    }

    #[test]
    fn expiry_must_be_ahead_but_within_the_lifetime_and_skew() {
        let now_s = 1_000_000;
        assert_eq!(
            check_expiry(now_s, now_s),
            Err(TokenError::Expired { expires_at_s: now_s })
        );
        assert_eq!(check_expiry(now_s + 1, now_s), Ok(()));
        assert_eq!(check_expiry(now_s + TOKEN_LIFETIME_S, now_s), Ok(()));
        let latest = now_s + TOKEN_LIFETIME_S + TOKEN_EXPIRY_SKEW_S;
        assert_eq!(
            check_expiry(latest, now_s),
            Ok(()),
            "an issuer's clock a little ahead is tolerated"
        );
        assert_eq!(
            check_expiry(latest + 1, now_s),
            Err(TokenError::ExpiryTooFar {
                expires_at_s: latest + 1
            })
        );
        // A token for a day ahead (what the server used to accept).
        assert!(matches!(
            check_expiry(now_s + 86_400, now_s),
            Err(TokenError::ExpiryTooFar { .. })
        ));
        // No overflow at the end of time.
        assert_eq!(check_expiry(u64::MAX, u64::MAX - 1), Ok(()));
    }

    #[test]
    fn token_seals_opens_and_serialises() {
        let token = sample_token("10.0.0.1:7777".parse().unwrap());
        let client_token = token.seal(&CLUSTER_KEY, [5; TOKEN_NONCE_BYTES]);
        let opened = ConnectToken::open(
            &CLUSTER_KEY,
            token.expires_at_s,
            &client_token.nonce,
            &client_token.sealed_private,
        );
        assert_eq!(opened, Ok(token.clone()));
        let bytes = client_token.to_bytes();
        assert_eq!(bytes.len(), CLIENT_TOKEN_BYTES);
        assert_eq!(ClientToken::from_bytes(&bytes), Ok(client_token.clone()));
        // The expiry is authenticated: extending it breaks the seal.
        assert_eq!(
            ConnectToken::open(
                &CLUSTER_KEY,
                token.expires_at_s + 1,
                &client_token.nonce,
                &client_token.sealed_private
            ),
            Err(TokenError::BadSeal)
        );
        assert_eq!(
            ConnectToken::open(
                &[0; CLUSTER_KEY_BYTES],
                token.expires_at_s,
                &client_token.nonce,
                &client_token.sealed_private
            ),
            Err(TokenError::BadSeal)
        );
        assert!(matches!(
            ClientToken::from_bytes(&bytes[1..]),
            Err(TokenError::BadLength { .. })
        ));
        // A character id travels sealed; the client's clear copy reads 0.
        let with_character = ConnectToken {
            character_id: 0x0102_0304_0506_0708,
            ..token.clone()
        };
        let sealed = with_character.seal(&CLUSTER_KEY, [5; TOKEN_NONCE_BYTES]);
        assert_eq!(
            ConnectToken::open(&CLUSTER_KEY, token.expires_at_s, &sealed.nonce, &sealed.sealed_private),
            Ok(with_character.clone())
        );
        assert_eq!(sealed.to_bytes().len(), CLIENT_TOKEN_BYTES);
        assert_eq!(
            ClientToken::from_bytes(&sealed.to_bytes()).map(|client| client.token),
            Ok(token.clone())
        );
        let mut bad_count = bytes.clone();
        bad_count[32 + TOKEN_PRIVATE_SEALED_BYTES + 92] = 5;
        assert_eq!(
            ClientToken::from_bytes(&bad_count),
            Err(TokenError::BadAddressCount { count: 5 })
        );
    }
}
