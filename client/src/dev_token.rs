//! A development token issuer, for bots and tests until the control plane's auth API exists: it seals
//! connect tokens with the cluster key exactly as the control plane will (`ConnectToken::seal`).
//!
//! The session keys and the nonce come from a SplitMix64 stream seeded by the caller, so runs are
//! reproducible. That is fine for load tests against a dev cluster key and NOT for production: there,
//! keys and nonces must come from a CSPRNG, which is the control plane's job.

use std::net::SocketAddr;

use meridian_proto::token::{CLUSTER_KEY_BYTES, ClientToken, ConnectToken, TOKEN_LIFETIME_S, TOKEN_NONCE_BYTES};

/// SplitMix64: small, seedable, good enough to make distinct dev keys.
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn fill(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            let value = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&value[..chunk.len()]);
        }
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Parses a 64-hex-digit cluster key.
pub fn parse_cluster_key_hex(hex: &str) -> Option<[u8; CLUSTER_KEY_BYTES]> {
    let hex = hex.trim();
    if hex.len() != CLUSTER_KEY_BYTES * 2 || !hex.is_ascii() {
        return None;
    }
    let mut key = [0u8; CLUSTER_KEY_BYTES];
    for (index, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[index * 2..index * 2 + 2], 16).ok()?;
    }
    Some(key)
}

/// Issues a token for `session_id` in `zone_id` on `server`, valid `TOKEN_LIFETIME_S` from `now_s`.
pub fn issue(
    cluster_key: &[u8; CLUSTER_KEY_BYTES],
    session_id: u64,
    zone_id: u32,
    server: SocketAddr,
    now_s: u64,
    rng: &mut SplitMix64,
) -> ClientToken {
    let mut token = ConnectToken {
        session_id,
        zone_id,
        character_id: 0,
        expires_at_s: now_s + TOKEN_LIFETIME_S,
        client_to_server_key: [0; 32],
        server_to_client_key: [0; 32],
        edge_key: [0; 16],
        server_addresses: vec![server],
    };
    rng.fill(&mut token.client_to_server_key);
    rng.fill(&mut token.server_to_client_key);
    rng.fill(&mut token.edge_key);
    let mut nonce = [0u8; TOKEN_NONCE_BYTES];
    rng.fill(&mut nonce);
    token.seal(cluster_key, nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_open_with_the_cluster_key_only() {
        let key = parse_cluster_key_hex(&"ab".repeat(32)).unwrap();
        assert_eq!(parse_cluster_key_hex("abc"), None);
        assert_eq!(parse_cluster_key_hex(&"zz".repeat(32)), None);
        let server: SocketAddr = "127.0.0.1:7777".parse().unwrap();
        let mut rng = SplitMix64(7);
        let client = issue(&key, 42, 1, server, 1_000, &mut rng);
        let opened =
            ConnectToken::open(&key, client.token.expires_at_s, &client.nonce, &client.sealed_private).unwrap();
        assert_eq!(opened, client.token);
        assert!(
            ConnectToken::open(
                &[0; 32],
                client.token.expires_at_s,
                &client.nonce,
                &client.sealed_private
            )
            .is_err()
        );
        let other = issue(&key, 43, 1, server, 1_000, &mut rng);
        assert_ne!(other.token.client_to_server_key, client.token.client_to_server_key);
    }
}
