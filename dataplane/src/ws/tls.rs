//! The gateway's TLS: rustls with the ring provider only (rustls' default provider, aws-lc-rs, is
//! not built: with two providers in one binary rustls panics unless one is installed). The
//! certificate comes from PEM files, or is a self-signed development one made at start.

use std::path::PathBuf;
use std::sync::Arc;

use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio_rustls::rustls::{self, ServerConfig};

use super::WsError;

/// How the gateway secures its connections.
#[derive(Debug, Clone)]
pub enum WsTls {
    /// A certificate chain and its key, PEM files (production).
    Files { cert_path: PathBuf, key_path: PathBuf },
    /// A self-signed certificate for these names, made at start; clients must trust its PEM
    /// ([`super::WsGateway::dev_cert_pem`]).
    Development { subject_alt_names: Vec<String> },
    /// No TLS: refused unless the listen address is loopback (development on one machine).
    Plain,
}

/// The rustls configuration (`None` for plain) and, for a development certificate, its PEM.
pub(crate) fn server_config(tls: &WsTls) -> Result<(Option<Arc<ServerConfig>>, Option<String>), WsError> {
    let (certs, key, dev_pem) = match tls {
        WsTls::Plain => return Ok((None, None)),
        WsTls::Files { cert_path, key_path } => {
            let certs = CertificateDer::pem_file_iter(cert_path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|error| WsError::Tls(format!("reading certificates from {}: {error}", cert_path.display())))?;
            if certs.is_empty() {
                return Err(WsError::Tls(format!("no certificate in {}", cert_path.display())));
            }
            let key = PrivateKeyDer::from_pem_file(key_path).map_err(|error| {
                WsError::Tls(format!("reading the private key from {}: {error}", key_path.display()))
            })?;
            (certs, key, None)
        }
        WsTls::Development { subject_alt_names } => {
            let certified = rcgen::generate_simple_self_signed(subject_alt_names.clone())
                .map_err(|error| WsError::Tls(format!("generating a development certificate: {error}")))?;
            let pem = certified.cert.pem();
            let key = PrivateKeyDer::try_from(certified.signing_key.serialize_der())
                .map_err(|error| WsError::Tls(format!("the development key: {error}")))?;
            (vec![certified.cert.der().clone()], key, Some(pem))
        }
    };
    let config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|error| WsError::Tls(format!("protocol versions: {error}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|error| WsError::Tls(format!("certificate and key do not fit: {error}")))?;
    Ok((Some(Arc::new(config)), dev_pem))
}
