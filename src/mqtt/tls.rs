//! TLS client configuration (rustls with `ring`): server verified against the system roots or a CA file, optional client certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use super::options::SessionOptions;

/// Installs rustls's `ring` provider as the process default (idempotent). mqtt5 and rumqttc
/// otherwise disagree on the provider and TLS connects panic. Meshscope's own TLS config names
/// `ring` explicitly; this covers code that asks rustls for "the default".
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider was installed first: keep it, ours is only a default.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The rustls client configuration for `options` (verifies the server; mutual TLS when a client
/// certificate and key are given). Errors are sentences for the user.
pub(crate) fn client_config(options: &SessionOptions) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?;

    let roots = match &options.ca_file {
        Some(path) => roots_from_file(path)?,
        None => system_roots()?,
    };
    let builder = builder.with_root_certificates(roots);

    match (&options.client_cert, &options.client_key) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert), Some(key)) => {
            let chain = certificates_from_file(cert, "client certificate")?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("cannot read a private key from {}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("the client certificate and key do not fit together: {e}"))
        }
        (Some(_), None) => Err("a client certificate needs its key too (--client-key)".into()),
        (None, Some(_)) => Err("a client key needs its certificate too (--client-cert)".into()),
    }
}

fn certificates_from_file(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("cannot read the {what} file {}: {e}", path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the {what} file {} is not valid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "the {what} file {} holds no PEM certificate",
            path.display()
        ));
    }
    Ok(certs)
}

fn roots_from_file(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in certificates_from_file(path, "CA")? {
        roots.add(cert).map_err(|e| {
            format!(
                "a certificate in the CA file {} is not usable: {e}",
                path.display()
            )
        })?;
    }
    Ok(roots)
}

/// The operating system's trusted CA bundle. `SSL_CERT_FILE` wins; otherwise the usual bundle
/// locations of Linux distributions, the BSDs and macOS are tried. Unusable certificates in a
/// system bundle are skipped (one odd root must not break every connection).
fn system_roots() -> Result<RootCertStore, String> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
        candidates.push(file.into());
    }
    candidates.extend(
        [
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
            "/etc/ssl/ca-bundle.pem",
            "/etc/pki/tls/cacert.pem",
            "/etc/ssl/cert.pem",
            "/usr/local/etc/openssl/cert.pem",
            "/usr/local/share/certs/ca-root-nss.crt",
        ]
        .into_iter()
        .map(PathBuf::from),
    );
    for path in candidates {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let mut roots = RootCertStore::empty();
        let certs = CertificateDer::pem_slice_iter(&bytes).filter_map(Result::ok);
        let (_added, _skipped) = roots.add_parsable_certificates(certs);
        if !roots.is_empty() {
            return Ok(roots);
        }
    }
    Err("no system CA certificates were found; give the broker's CA with --ca-file".into())
}

/// Words for a TLS failure found anywhere in an error's source chain, or `None`.
pub(crate) fn describe_tls_failure(
    error: &(dyn std::error::Error + 'static),
    host: &str,
) -> Option<String> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(describe_rustls(tls, host));
        }
        // tokio-rustls wraps rustls errors in io::Error, whose `source` skips the payload.
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(tls) = inner.downcast_ref::<rustls::Error>()
        {
            return Some(describe_rustls(tls, host));
        }
        current = e.source();
    }
    None
}

fn describe_rustls(error: &rustls::Error, host: &str) -> String {
    use rustls::CertificateError as C;
    match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            C::UnknownIssuer => format!(
                "the server's certificate for {host} is signed by an unknown CA (give its CA with --ca-file)"
            ),
            C::Expired | C::ExpiredContext { .. } => {
                format!("the server's certificate for {host} has expired")
            }
            C::NotValidYet | C::NotValidYetContext { .. } => {
                format!("the server's certificate for {host} is not valid yet (check the clock)")
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                format!("the server's certificate is not valid for the host name {host}")
            }
            C::Revoked => format!("the server's certificate for {host} was revoked"),
            C::BadSignature | C::BadEncoding => {
                format!("the server's certificate for {host} is malformed or badly signed")
            }
            other => format!("the server's certificate for {host} was rejected: {other:?}"),
        },
        rustls::Error::AlertReceived(alert) => {
            use rustls::AlertDescription as A;
            match alert {
                A::CertificateRequired | A::HandshakeFailure => format!(
                    "{host} requires a client certificate (give --client-cert and --client-key)"
                ),
                A::BadCertificate
                | A::UnknownCA
                | A::CertificateExpired
                | A::CertificateUnknown
                | A::UnsupportedCertificate
                | A::CertificateRevoked => {
                    format!("{host} rejected our client certificate ({alert:?})")
                }
                other => format!("{host} ended the TLS session ({other:?})"),
            }
        }
        other => format!("TLS failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls_options() -> SessionOptions {
        SessionOptions::new("mqtts://broker.example".parse().expect("url"))
    }

    #[test]
    fn missing_or_bad_files_give_sentences() {
        let mut options = tls_options();
        options.ca_file = Some("/nonexistent/ca.pem".into());
        let error = client_config(&options).expect_err("no file");
        assert!(error.contains("cannot read the CA file"), "{error}");

        let dir = std::env::temp_dir().join(format!(
            "meshscope-tls-{}",
            super::super::options::random_u64()
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        let not_pem = dir.join("not.pem");
        std::fs::write(&not_pem, b"hello, not a certificate").expect("write");
        options.ca_file = Some(not_pem.clone());
        let error = client_config(&options).expect_err("no cert");
        assert!(error.contains("no PEM certificate"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);

        let mut options = tls_options();
        options.client_cert = Some(not_pem);
        let error = client_config(&options).expect_err("half");
        assert!(error.contains("needs its key"), "{error}");
    }

    #[test]
    fn tls_errors_in_io_wrappers_are_explained() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let words = describe_tls_failure(&io, "broker.example").expect("found");
        assert!(words.contains("unknown CA"), "{words}");
        let plain = std::io::Error::other("nothing to do with TLS");
        assert!(describe_tls_failure(&plain, "h").is_none());
    }
}
