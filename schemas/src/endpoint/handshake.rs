//! The handshake's packets: the fixed-size `ConnectionRequest` that carries a sealed connect token,
//! and the limits and timers both endpoints apply to the handshake (`PROTOCOL.md` §1.1, §1.3).

use crate::packet::{
    PACKET_MAGIC, PacketError, PacketType, SEALED_HEADER_BYTES, read_packet_type, version_and_type_byte,
};
use crate::token::{ClientToken, TOKEN_NONCE_BYTES, TOKEN_PRIVATE_SEALED_BYTES};

/// Connection requests are padded to this size so that no reply is larger than a request.
pub const CONNECTION_REQUEST_BYTES: usize = 1024;

pub const CHALLENGE_BYTES: usize = 16;

pub const HANDSHAKE_RESEND_US: u64 = 100_000;

pub const HANDSHAKE_TIMEOUT_US: u64 = 5_000_000;

const REQUEST_TOKEN_START: usize = 2 + 8 + TOKEN_NONCE_BYTES;

const _: () = assert!(REQUEST_TOKEN_START + TOKEN_PRIVATE_SEALED_BYTES <= CONNECTION_REQUEST_BYTES);

const _: () = assert!(CONNECTION_REQUEST_BYTES <= crate::DATAGRAM_BYTES_MAX);

const _: () = assert!(SEALED_HEADER_BYTES + CHALLENGE_BYTES + crate::packet::AEAD_TAG_BYTES < CONNECTION_REQUEST_BYTES);

/// Builds the fixed-size connection request for a token.
pub fn connection_request(token: &ClientToken) -> Vec<u8> {
    let mut out = Vec::with_capacity(CONNECTION_REQUEST_BYTES);
    out.push(PACKET_MAGIC);
    out.push(version_and_type_byte(PacketType::ConnectionRequest));
    out.extend_from_slice(&token.token.expires_at_s.to_le_bytes());
    out.extend_from_slice(&token.nonce);
    out.extend_from_slice(&token.sealed_private);
    out.resize(CONNECTION_REQUEST_BYTES, 0);
    out
}

/// A parsed connection request (the token is still sealed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionRequest<'a> {
    pub expires_at_s: u64,
    pub nonce: &'a [u8; TOKEN_NONCE_BYTES],
    pub sealed_private: &'a [u8],
}

/// Total decoder of a connection request's framing.
pub fn read_connection_request(bytes: &[u8]) -> Result<ConnectionRequest<'_>, PacketError> {
    let packet_type = read_packet_type(bytes)?;
    if packet_type != PacketType::ConnectionRequest {
        return Err(PacketError::Unexpected { packet_type });
    }
    if bytes.len() != CONNECTION_REQUEST_BYTES {
        return Err(PacketError::BadRequestSize { bytes: bytes.len() });
    }
    Ok(ConnectionRequest {
        expires_at_s: u64::from_le_bytes(bytes[2..10].try_into().expect("8 bytes")),
        nonce: bytes[10..REQUEST_TOKEN_START].try_into().expect("24 bytes"),
        sealed_private: &bytes[REQUEST_TOKEN_START..REQUEST_TOKEN_START + TOKEN_PRIVATE_SEALED_BYTES],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::tests::client_address;
    use crate::endpoint::{ServerConfig, ServerEndpoint};
    use crate::test_vectors::hex_lines;
    use crate::token::{CLUSTER_KEY_BYTES, ConnectToken};

    /// The token of the PROTOCOL.md test vector ("Connect token and ConnectionRequest").
    fn vector_token() -> ClientToken {
        let mut cluster_key = [0u8; CLUSTER_KEY_BYTES];
        for (index, byte) in cluster_key.iter_mut().enumerate() {
            *byte = index as u8;
        }
        let mut nonce = [0u8; TOKEN_NONCE_BYTES];
        for (index, byte) in nonce.iter_mut().enumerate() {
            *byte = 0x80 + index as u8;
        }
        ConnectToken {
            session_id: 0x0123_4567_89ab_cdef,
            zone_id: 7,
            character_id: 0,
            expires_at_s: 1_700_000_030,
            client_to_server_key: [0x11; 32],
            server_to_client_key: [0x22; 32],
            edge_key: [0x33; 16],
            server_addresses: vec![
                "203.0.113.5:7777".parse().unwrap(),
                "[2001:db8::1]:7778".parse().unwrap(),
            ],
        }
        .seal(&cluster_key, nonce)
    }

    /// PROTOCOL.md, "Connect token and ConnectionRequest": the bytes, and a server at the token's
    /// first address accepting the request 30 s before the expiry.
    #[test]
    fn connect_token_and_request_test_vector() {
        let token = vector_token();
        let client_token = token.to_bytes();
        let request = connection_request(&token);
        let compact = |vector: &str| vector.split_whitespace().collect::<String>();
        assert_eq!(
            hex_lines(&client_token).replace('\n', ""),
            compact(CLIENT_TOKEN_VECTOR_HEX)
        );
        assert_eq!(
            hex_lines(&request[..242]).replace('\n', ""),
            compact(CONNECTION_REQUEST_VECTOR_HEX)
        );
        assert_eq!(request.len(), CONNECTION_REQUEST_BYTES);
        assert!(request[242..].iter().all(|byte| *byte == 0), "then 782 zero bytes");
        let spec: String = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/PROTOCOL.md"))
            .split_whitespace()
            .collect();
        assert!(
            spec.contains(&compact(CLIENT_TOKEN_VECTOR_HEX)),
            "PROTOCOL.md quotes the client token"
        );
        assert!(
            spec.contains(&compact(CONNECTION_REQUEST_VECTOR_HEX)),
            "PROTOCOL.md quotes the request"
        );
        let mut cluster_key = [0u8; CLUSTER_KEY_BYTES];
        for (index, byte) in cluster_key.iter_mut().enumerate() {
            *byte = index as u8;
        }
        let mut server = ServerEndpoint::new(ServerConfig {
            cluster_key,
            challenge_key: [0x11; 16],
            public_address: "203.0.113.5:7777".parse().unwrap(),
            connections_max: 4,
        });
        server
            .handle(1_700_000_000_000_000, client_address(), &request)
            .unwrap();
        assert!(server.poll_transmit(1_700_000_000_000_000).is_some(), "a challenge");
    }

    /// PROTOCOL.md, "Connect token", the second vector: the same token playing character
    /// 0x1122334455667788. Only the sealed private part changes (the client token's clear copy and
    /// size do not); the server opens the character id from it.
    #[test]
    fn connect_token_with_character_test_vector() {
        let plain = vector_token();
        let mut cluster_key = [0u8; CLUSTER_KEY_BYTES];
        for (index, byte) in cluster_key.iter_mut().enumerate() {
            *byte = index as u8;
        }
        let token = ConnectToken {
            character_id: 0x1122_3344_5566_7788,
            ..plain.token.clone()
        }
        .seal(&cluster_key, plain.nonce);
        let compact = |vector: &str| vector.split_whitespace().collect::<String>();
        assert_eq!(
            hex_lines(&token.sealed_private).replace('\n', ""),
            compact(SEALED_WITH_CHARACTER_VECTOR_HEX)
        );
        let bytes = token.to_bytes();
        let plain_bytes = plain.to_bytes();
        assert_eq!(bytes.len(), plain_bytes.len());
        assert_eq!(bytes[..32], plain_bytes[..32], "expiry and nonce unchanged");
        assert_eq!(bytes[240..], plain_bytes[240..], "the clear fields unchanged");
        let spec: String = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/PROTOCOL.md"))
            .split_whitespace()
            .collect();
        assert!(spec.contains(&compact(SEALED_WITH_CHARACTER_VECTOR_HEX)));
        let opened = ConnectToken::open(&cluster_key, 1_700_000_030, &token.nonce, &token.sealed_private).unwrap();
        assert_eq!(opened.character_id, 0x1122_3344_5566_7788);
    }

    const SEALED_WITH_CHARACTER_VECTOR_HEX: &str = "\
ad23f2d080d1606b1b1823fb5eac09c068804dc092eaabe8f17b7bcba6c30d60
7c5d720069ab91bba294eaab2bcb141009a4923f33410092c4f379431850ab28
2f72ffe71fc1a8161fe5fcd684e8a1877a6c0be733229b316845d26c8b826c28
6ea3e5c4b39ed1b871cb59a1d46e205f2e7355013187cd2805474fb6da410a09
e4e15cc9e383ced94eef0e1493794b397ad29ea67f1f063a6fd30cb501338241
56e17a19c039b51955cae84716577ff944a484662f5803f63ef169ee8cf8d328
c908e434be8526ec5d88be1e03eaba5e";

    const CLIENT_TOKEN_VECTOR_HEX: &str = "\
1ef1536500000000808182838485868788898a8b8c8d8e8f9091929394959697
ad23f2d080d1606b1b1823fb5eac09c068804dc092eaabe8f17b7bcba6c30d60
7c5d720069ab91bba294eaab2bcb141009a4923f33410092c4f379431850ab28
2f72ffe71fc1a8161fe5fcd684e8a1877a6c0be733229b316845d26c8b826c28
6ea3e5c4b39ed1b871cb59a1d46e205f2e7355013187cd2805474fb6da410a09
e4e15cc9e383ced94eef0e1493794b397ad29ea67f1f063a6fd30cb501338241
56e17a19c039b51955429f2143134cdb55a484662f5803f63ef169ee8cf8d328
ee83df5fb2dc43c349139b7eff18bbf1efcdab89674523010700000011111111
1111111111111111111111111111111111111111111111111111111122222222
2222222222222222222222222222222222222222222222222222222233333333
3333333333333333333333330204cb007105000000000000000000000000611e
0620010db8000000000000000000000001621e00000000000000000000000000
00000000000000000000000000000000000000000000000000";

    const CONNECTION_REQUEST_VECTOR_HEX: &str = "\
4d101ef1536500000000808182838485868788898a8b8c8d8e8f909192939495
9697ad23f2d080d1606b1b1823fb5eac09c068804dc092eaabe8f17b7bcba6c3
0d607c5d720069ab91bba294eaab2bcb141009a4923f33410092c4f379431850
ab282f72ffe71fc1a8161fe5fcd684e8a1877a6c0be733229b316845d26c8b82
6c286ea3e5c4b39ed1b871cb59a1d46e205f2e7355013187cd2805474fb6da41
0a09e4e15cc9e383ced94eef0e1493794b397ad29ea67f1f063a6fd30cb50133
824156e17a19c039b51955429f2143134cdb55a484662f5803f63ef169ee8cf8
d328ee83df5fb2dc43c349139b7eff18bbf1";
}
