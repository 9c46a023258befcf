//! The server's certificate: PEM files in production, a self-signed one made at start otherwise.

use axum_server::tls_rustls::RustlsConfig;

use super::{config::TlsSource, error::AuthError};

/// The rustls configuration and, for a development certificate, its PEM (clients must trust it).
pub async fn load(source: &TlsSource) -> Result<(RustlsConfig, Option<String>), AuthError> {
    match source {
        TlsSource::Files { cert_path, key_path } => {
            let config = RustlsConfig::from_pem_file(cert_path, key_path)
                .await
                .map_err(|error| AuthError::Tls(format!("{}, {}: {error}", cert_path.display(), key_path.display())))?;
            Ok((config, None))
        }
        TlsSource::Development { subject_alt_names } => {
            let certified = rcgen::generate_simple_self_signed(subject_alt_names.clone())
                .map_err(|error| AuthError::Tls(format!("generating a development certificate: {error}")))?;
            let cert_pem = certified.cert.pem();
            let key_pem = certified.signing_key.serialize_pem();
            let config = RustlsConfig::from_pem(cert_pem.clone().into_bytes(), key_pem.into_bytes())
                .await
                .map_err(|error| AuthError::Tls(format!("loading the development certificate: {error}")))?;
            Ok((config, Some(cert_pem)))
        }
    }
}
