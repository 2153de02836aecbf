//! TLS client configuration (rustls with `ring`): server verified against the system roots or a CA file, optional client certificate.

use crate::civil::{civil_from_days, days_from_civil};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, OtherError,
    RootCertStore, SignatureScheme,
};

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
///
/// The server is verified by rustls's own WebPKI verifier (the one `with_root_certificates`
/// builds), wrapped in [`ExplainingVerifier`] so a rejection carries the certificate that was
/// presented. Used for both `mqtts://` and `wss://`.
pub(crate) fn client_config(options: &SessionOptions) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?;

    let roots = match &options.ca_file {
        Some(path) => roots_from_file(path)?,
        None => system_roots()?,
    };
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| format!("TLS set-up failed: {e}"))?;
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ExplainingVerifier { inner: webpki }));

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

/// rustls's WebPKI server verifier, unchanged in what it accepts, that attaches the presented
/// end-entity certificate to a rejection: the error then travels, through rumqttc and
/// tokio-rustls, to [`describe_tls_failure`], which puts the certificate's subject, names and
/// validity into words. (An error that carries the facts needs no shared state between the
/// TLS handshake and the session that reports it.)
///
/// The one visible difference: the alert rustls sends the server for a rejected certificate
/// is `certificate_unknown` instead of the specific one, because rustls derives the alert
/// from the error and ours is `CertificateError::Other`.
#[derive(Debug)]
struct ExplainingVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ExplainingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|error| match error {
                rustls::Error::InvalidCertificate(reason) => {
                    let rejected = RejectedCertificate {
                        reason,
                        presented: PresentedCert::from_der(end_entity.as_ref()),
                        checked_at_secs: now.as_secs(),
                    };
                    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(
                        Arc::new(rejected),
                    )))
                }
                other => other,
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.inner.requires_raw_public_keys()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

/// Why the server's certificate was rejected, with the certificate itself (when it parses).
#[derive(Debug)]
struct RejectedCertificate {
    /// What rustls's verifier said.
    reason: CertificateError,
    presented: Option<PresentedCert>,
    /// The verification time (seconds since the Unix epoch).
    checked_at_secs: u64,
}

impl std::fmt::Display for RejectedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid peer certificate: {}", self.reason)
    }
}

impl std::error::Error for RejectedCertificate {}

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
    match error {
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            match other.0.downcast_ref::<RejectedCertificate>() {
                Some(rejected) => describe_rejected(
                    &rejected.reason,
                    rejected.presented.as_ref(),
                    Some(rejected.checked_at_secs),
                    host,
                ),
                None => format!(
                    "the server's certificate for {host} was rejected: {}",
                    other.0
                ),
            }
        }
        rustls::Error::InvalidCertificate(reason) => describe_rejected(reason, None, None, host),
        rustls::Error::AlertReceived(alert) => {
            use rustls::AlertDescription as A;
            // Alerts the server sends about *our* certificate (mutual TLS). TLS 1.2 servers
            // send `handshake_failure` when a required certificate is missing.
            match alert {
                A::CertificateRequired | A::HandshakeFailure => format!(
                    "{host} requires a client certificate (give --client-cert and --client-key)"
                ),
                A::UnknownCA => format!(
                    "{host} refused our client certificate: it does not trust the CA that signed it (unknown CA)"
                ),
                A::CertificateExpired => format!(
                    "{host} refused our client certificate: it has expired or is not valid yet"
                ),
                A::CertificateRevoked => {
                    format!("{host} refused our client certificate: it was revoked")
                }
                A::BadCertificate | A::CertificateUnknown | A::UnsupportedCertificate => format!(
                    "{host} refused our client certificate ({})",
                    alert_words(*alert)
                ),
                A::AccessDenied => format!("{host} refused our client certificate (access denied)"),
                other => format!("{host} ended the TLS session ({})", alert_words(*other)),
            }
        }
        other => format!("TLS failed: {other}"),
    }
}

/// `a` from rustls's `DnsName("a")` or `IpAddress(a)`, made safe to show.
fn presented_name(debug_form: &str) -> String {
    let inner = debug_form
        .strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
        .or_else(|| {
            debug_form
                .strip_prefix("IpAddress(")
                .and_then(|rest| rest.strip_suffix(')'))
        })
        .unwrap_or(debug_form);
    sanitize(inner.as_bytes())
}

/// `UnknownCA` -> `unknown CA`, `BadCertificate` -> `bad certificate`.
fn alert_words(alert: rustls::AlertDescription) -> String {
    let name = format!("{alert:?}");
    let mut words = String::with_capacity(name.len() + 4);
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            words.push(' ');
        }
        previous_lower = c.is_ascii_lowercase();
        words.push(c);
    }
    // Keep acronyms (CA) in capitals, lower the rest.
    words
        .split(' ')
        .map(|w| {
            if w.len() > 2 {
                w.to_ascii_lowercase()
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The server's certificate was refused by our verifier: what is wrong, then what was shown.
fn describe_rejected(
    reason: &CertificateError,
    presented: Option<&PresentedCert>,
    checked_at_secs: Option<u64>,
    host: &str,
) -> String {
    let now = checked_at_secs
        .and_then(|secs| i64::try_from(secs).ok())
        .map(format_utc);
    let at_now = now
        .as_deref()
        .map(|now| format!(" (checked at {now})"))
        .unwrap_or_default();
    let problem = match reason {
        CertificateError::UnknownIssuer => match presented {
            Some(cert) if cert.is_self_signed() => format!(
                "the server's certificate for {host} is self-signed, so its issuer is an unknown CA that is not trusted (give that certificate, or the CA that should have signed it, with --ca-file)"
            ),
            Some(cert) => format!(
                "the server's certificate for {host} is signed by an unknown CA: its issuer \"{}\" is not trusted (give the broker's CA with --ca-file)",
                cert.issuer
            ),
            None => format!(
                "the server's certificate for {host} is signed by an unknown CA: its issuer is not trusted (give the broker's CA with --ca-file)"
            ),
        },
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            let not_after = match reason {
                CertificateError::ExpiredContext { not_after, .. } => {
                    i64::try_from(not_after.as_secs()).ok()
                }
                _ => None,
            }
            .or(presented.and_then(|c| c.not_after_secs));
            match not_after {
                Some(secs) => format!(
                    "the server's certificate for {host} has expired: it was valid until {}{at_now}; the broker needs a renewed certificate",
                    format_utc(secs)
                ),
                None => format!("the server's certificate for {host} has expired{at_now}"),
            }
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            let not_before = match reason {
                CertificateError::NotValidYetContext { not_before, .. } => {
                    i64::try_from(not_before.as_secs()).ok()
                }
                _ => None,
            }
            .or(presented.and_then(|c| c.not_before_secs));
            match not_before {
                Some(secs) => format!(
                    "the server's certificate for {host} is not valid yet: it is valid from {}{at_now}; check this computer's clock",
                    format_utc(secs)
                ),
                None => format!(
                    "the server's certificate for {host} is not valid yet{at_now}; check this computer's clock"
                ),
            }
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            // Our own reading first: rustls's list holds debug forms (`DnsName("a")`).
            let mut names: Vec<String> = presented.map(|c| c.names.clone()).unwrap_or_default();
            if names.is_empty()
                && let CertificateError::NotValidForNameContext { presented, .. } = reason
            {
                names = presented.iter().map(|name| presented_name(name)).collect();
            }
            if names.is_empty() {
                let common_name = presented
                    .and_then(|c| c.common_name())
                    .map(|cn| format!("; its CN \"{cn}\" does not count as a host name"))
                    .unwrap_or_default();
                format!(
                    "the server's certificate is not valid for the host name {host}: it names no host at all (no subjectAltName){common_name}"
                )
            } else {
                format!(
                    "the server's certificate is not valid for the host name {host}: it is for {} (connect with one of those names)",
                    names.join(", ")
                )
            }
        }
        CertificateError::Revoked => format!("the server's certificate for {host} was revoked"),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            format!(
                "the server's certificate for {host} is not meant for TLS servers (its extended key usage)"
            )
        }
        // webpki reports a trusted CA whose name matches the issuer but whose key did not sign
        // the certificate this way: typically a CA file from an older or another CA.
        CertificateError::BadSignature => match presented {
            Some(cert) => format!(
                "the server's certificate for {host} names \"{}\" as its issuer, but the trusted CA of that name did not sign it: is the CA file from another or a regenerated CA? (give the broker's current CA with --ca-file)",
                cert.issuer
            ),
            // Without the certificate this may also be the handshake's own signature.
            None => format!("a signature from {host}'s TLS server did not verify"),
        },
        CertificateError::BadEncoding => {
            format!("the server's certificate for {host} is malformed")
        }
        // webpki errors rustls has no variant for arrive as `Other`; their names are stable.
        CertificateError::Other(other) if format!("{other:?}").contains("CaUsedAsEndEntity") => {
            let self_signed = if presented.is_some_and(PresentedCert::is_self_signed) {
                ", as `openssl req -x509` makes self-signed ones by default"
            } else {
                ""
            };
            format!(
                "the server's certificate for {host} is a CA certificate (basicConstraints CA:TRUE{self_signed}), which may not serve as a server's certificate: the broker needs a certificate signed by a CA, with CA:FALSE"
            )
        }
        other => format!("the server's certificate for {host} was rejected: {other:?}"),
    };
    match presented {
        Some(cert) => format!("{problem}; presented certificate: {}", cert.summary()),
        None => problem,
    }
}

// ---------------------------------------------------------------------------------------------
// the presented certificate, read from its DER bytes (display only: rustls has already decided)

/// Most names a certificate's summary lists; certificates for CDNs can carry hundreds.
const MAX_SHOWN_NAMES: usize = 12;
/// Longest distinguished name or host name shown, in characters.
const MAX_SHOWN_CHARS: usize = 200;

/// What a server's certificate says about itself, for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PresentedCert {
    /// The subject distinguished name in certificate order, e.g. `C=DE, O=Acme, CN=broker`.
    subject: String,
    issuer: String,
    /// Host names and IP addresses from subjectAltName (what host names are checked against).
    names: Vec<String>,
    /// How many subjectAltName entries were left out of `names`.
    names_left_out: usize,
    /// Validity, in seconds since the Unix epoch (`None` when the time could not be read).
    not_before_secs: Option<i64>,
    not_after_secs: Option<i64>,
}

impl PresentedCert {
    /// Reads an X.509 certificate; `None` when it is not one we can read. Total: any bytes
    /// give a value or `None`, never a panic.
    fn from_der(der: &[u8]) -> Option<PresentedCert> {
        let (certificate, _) = der::expect(der, der::SEQUENCE)?;
        let (tbs, _) = der::expect(certificate, der::SEQUENCE)?;
        let mut rest = tbs;
        if let Some((der::VERSION, _, after)) = der::read(rest) {
            rest = after;
        }
        let (_serial, rest) = der::expect(rest, der::INTEGER)?;
        let (_signature, rest) = der::expect(rest, der::SEQUENCE)?;
        let (issuer, rest) = der::expect(rest, der::SEQUENCE)?;
        let (validity, rest) = der::expect(rest, der::SEQUENCE)?;
        let (subject, rest) = der::expect(rest, der::SEQUENCE)?;
        let (_public_key, mut rest) = der::expect(rest, der::SEQUENCE)?;
        let mut names = Vec::new();
        let mut names_left_out = 0;
        while let Some((tag, content, after)) = der::read(rest) {
            if tag == der::EXTENSIONS {
                (names, names_left_out) = subject_alt_names(content);
            }
            rest = after;
        }
        let (before_tag, before, after) = der::read(validity)?;
        let (after_tag, not_after, _) = der::read(after)?;
        Some(PresentedCert {
            subject: name_text(subject),
            issuer: name_text(issuer),
            names,
            names_left_out,
            not_before_secs: asn1_time_secs(before_tag, before),
            not_after_secs: asn1_time_secs(after_tag, not_after),
        })
    }

    fn is_self_signed(&self) -> bool {
        self.subject == self.issuer
    }

    /// The last CN of the subject.
    fn common_name(&self) -> Option<&str> {
        self.subject
            .split(", ")
            .flat_map(|rdn| rdn.split(" + "))
            .filter_map(|attribute| attribute.strip_prefix("CN="))
            .last()
    }

    /// `subject "…", issuer "…", for a, b, valid from … until …`.
    fn summary(&self) -> String {
        let mut text = format!("subject \"{}\"", self.subject);
        if self.is_self_signed() {
            text.push_str(" (self-signed)");
        } else {
            text.push_str(&format!(", issuer \"{}\"", self.issuer));
        }
        if !self.names.is_empty() {
            text.push_str(&format!(", for {}", self.names.join(", ")));
            if self.names_left_out > 0 {
                text.push_str(&format!(" and {} more", self.names_left_out));
            }
        }
        let time = |secs: Option<i64>| secs.map_or_else(|| "?".to_string(), format_utc);
        text.push_str(&format!(
            ", valid from {} until {}",
            time(self.not_before_secs),
            time(self.not_after_secs)
        ));
        text
    }
}

/// The DNS names and IP addresses of a certificate's subjectAltName extension, given the
/// content of its `[3]` extensions field; and how many more there were than are shown.
fn subject_alt_names(extensions_field: &[u8]) -> (Vec<String>, usize) {
    /// id-ce-subjectAltName, 2.5.29.17.
    const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
    let mut names = Vec::new();
    let mut left_out = 0;
    let Some((extensions, _)) = der::expect(extensions_field, der::SEQUENCE) else {
        return (names, left_out);
    };
    let mut rest = extensions;
    while let Some((_, extension, after)) = der::read(rest) {
        rest = after;
        let Some((oid, fields)) = der::expect(extension, der::OID) else {
            continue;
        };
        if oid != SUBJECT_ALT_NAME {
            continue;
        }
        let fields = match der::read(fields) {
            Some((der::BOOLEAN, _, after_critical)) => after_critical,
            _ => fields,
        };
        let Some((value, _)) = der::expect(fields, der::OCTET_STRING) else {
            continue;
        };
        let Some((general_names, _)) = der::expect(value, der::SEQUENCE) else {
            continue;
        };
        let mut entries = general_names;
        while let Some((tag, content, after)) = der::read(entries) {
            entries = after;
            let name = match tag {
                // [2] dNSName, IA5String
                0x82 => sanitize(content),
                // [7] iPAddress: 4 or 16 bytes
                0x87 => match content.len() {
                    4 => <[u8; 4]>::try_from(content)
                        .map(|octets| std::net::Ipv4Addr::from(octets).to_string())
                        .unwrap_or_default(),
                    16 => <[u8; 16]>::try_from(content)
                        .map(|octets| std::net::Ipv6Addr::from(octets).to_string())
                        .unwrap_or_default(),
                    _ => continue,
                },
                _ => continue,
            };
            if name.is_empty() {
                continue;
            }
            if names.len() < MAX_SHOWN_NAMES {
                names.push(name);
            } else {
                left_out += 1;
            }
        }
    }
    (names, left_out)
}

/// A distinguished name as `C=DE, O=Acme, CN=broker` (certificate order, as `openssl x509
/// -subject` prints it; several attributes in one RDN joined with ` + `).
fn name_text(name: &[u8]) -> String {
    let mut rdns = Vec::new();
    let mut rest = name;
    while let Some((tag, set, after)) = der::read(rest) {
        rest = after;
        if tag != der::SET {
            continue;
        }
        let mut attributes = Vec::new();
        let mut entries = set;
        while let Some((tag, attribute, after)) = der::read(entries) {
            entries = after;
            if tag != der::SEQUENCE {
                continue;
            }
            let Some((oid, value)) = der::expect(attribute, der::OID) else {
                continue;
            };
            let Some((value_tag, value, _)) = der::read(value) else {
                continue;
            };
            attributes.push(format!(
                "{}={}",
                attribute_name(oid),
                string_value(value_tag, value)
            ));
        }
        if !attributes.is_empty() {
            rdns.push(attributes.join(" + "));
        }
    }
    truncate_chars(rdns.join(", "), MAX_SHOWN_CHARS)
}

/// Short names of the usual DN attributes; others as a dotted OID.
fn attribute_name(oid: &[u8]) -> String {
    let short = match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x04] => "SN",
        [0x55, 0x04, 0x05] => "serialNumber",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x09] => "street",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x55, 0x04, 0x0c] => "title",
        [0x55, 0x04, 0x2a] => "GN",
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
        _ => return dotted_oid(oid).unwrap_or_else(|| "?".to_string()),
    };
    short.to_string()
}

/// `2.5.4.3` from the DER content of an OBJECT IDENTIFIER, or `None` when malformed.
fn dotted_oid(oid: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    let mut digits = 0;
    for &b in oid {
        digits += 1;
        if digits > 9 {
            return None;
        }
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let (first, second) = match value {
                    0..=39 => (0, value),
                    40..=79 => (1, value - 40),
                    _ => (2, value - 80),
                };
                arcs.extend([first, second]);
            } else {
                arcs.push(value);
            }
            value = 0;
            digits = 0;
        }
    }
    if digits != 0 || arcs.is_empty() {
        return None;
    }
    Some(
        arcs.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// An attribute value as text: the ASN.1 string types decoded, anything else as `#hex`.
fn string_value(tag: u8, bytes: &[u8]) -> String {
    match tag {
        // UTF8String, PrintableString, IA5String, VisibleString, NumericString
        0x0c | 0x13 | 0x16 | 0x1a | 0x12 => sanitize(bytes),
        // TeletexString: in practice Latin-1
        0x14 => sanitize(
            bytes
                .iter()
                .map(|&b| char::from(b))
                .collect::<String>()
                .as_bytes(),
        ),
        // BMPString: UTF-16BE
        0x1e => {
            let units = bytes.chunks(2).map(|pair| match pair {
                [hi, lo] => u16::from_be_bytes([*hi, *lo]),
                _ => 0xfffd,
            });
            let text: String = char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect();
            sanitize(text.as_bytes())
        }
        // UniversalString: UTF-32BE
        0x1c => {
            let text: String = bytes
                .chunks(4)
                .map(|quad| match quad {
                    [a, b, c, d] => char::from_u32(u32::from_be_bytes([*a, *b, *c, *d]))
                        .unwrap_or(char::REPLACEMENT_CHARACTER),
                    _ => char::REPLACEMENT_CHARACTER,
                })
                .collect();
            sanitize(text.as_bytes())
        }
        _ => {
            let hex: String = bytes.iter().take(32).map(|b| format!("{b:02x}")).collect();
            format!("#{hex}")
        }
    }
}

/// Text from a certificate, safe to show on one line: invalid UTF-8 replaced, control and
/// bidirectional-override characters escaped (a hostile certificate must not rewrite the
/// status line), at most [`MAX_SHOWN_CHARS`] characters.
fn sanitize(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut shown = String::with_capacity(text.len().min(MAX_SHOWN_CHARS * 4));
    for c in text.chars() {
        let hidden = c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if hidden {
            shown.extend(c.escape_unicode());
        } else {
            shown.push(c);
        }
    }
    truncate_chars(shown, MAX_SHOWN_CHARS)
}

fn truncate_chars(text: String, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Seconds since the Unix epoch of an X.509 time (UTCTime `YYMMDDHHMMSSZ` or GeneralizedTime
/// `YYYYMMDDHHMMSSZ`, the only forms RFC 5280 allows), or `None`.
fn asn1_time_secs(tag: u8, bytes: &[u8]) -> Option<i64> {
    let digits = bytes.strip_suffix(b"Z")?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        digits
            .get(range)?
            .iter()
            .try_fold(0i64, |acc, d| Some(acc * 10 + i64::from(d - b'0')))
    };
    let (year, rest) = match (tag, digits.len()) {
        (der::UTC_TIME, 12) => {
            let yy = number(0..2)?;
            // RFC 5280: 50-99 are 19xx, 00-49 are 20xx.
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        (der::GENERALIZED_TIME, 14) => (number(0..4)?, 4),
        _ => return None,
    };
    let month = number(rest..rest + 2)?;
    let day = number(rest + 2..rest + 4)?;
    let hour = number(rest + 4..rest + 6)?;
    let minute = number(rest + 6..rest + 8)?;
    let second = number(rest + 8..rest + 10)?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// `2020-01-01 00:00:00 UTC`.
fn format_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Just enough DER to walk a certificate: single-byte tags, definite lengths up to 4 bytes.
mod der {
    pub(super) const BOOLEAN: u8 = 0x01;
    pub(super) const INTEGER: u8 = 0x02;
    pub(super) const OCTET_STRING: u8 = 0x04;
    pub(super) const OID: u8 = 0x06;
    pub(super) const UTC_TIME: u8 = 0x17;
    pub(super) const GENERALIZED_TIME: u8 = 0x18;
    pub(super) const SEQUENCE: u8 = 0x30;
    pub(super) const SET: u8 = 0x31;
    /// `[0] EXPLICIT Version` of a TBSCertificate.
    pub(super) const VERSION: u8 = 0xa0;
    /// `[3] EXPLICIT Extensions` of a TBSCertificate.
    pub(super) const EXTENSIONS: u8 = 0xa3;

    /// One element: `(tag, content, what follows)`, or `None` when `input` does not start
    /// with a complete element.
    pub(super) fn read(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        if tag & 0x1f == 0x1f {
            return None; // multi-byte tags do not occur in certificates
        }
        let (&first, rest) = rest.split_first()?;
        let (length, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 {
                return None; // indefinite or absurd lengths
            }
            let (bytes, rest) = rest.split_at_checked(count)?;
            let length = bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (length, rest)
        };
        let (content, rest) = rest.split_at_checked(length)?;
        Some((tag, content, rest))
    }

    /// Like [`read`], only when the element has `tag`: `(content, what follows)`.
    pub(super) fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
        match read(input)? {
            (found, content, rest) if found == tag => Some((content, rest)),
            _ => None,
        }
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

    /// A self-signed server certificate (CA:FALSE, serverAuth) for broker.example,
    /// *.mesh.example, 127.0.0.1 and ::1, valid 2026-11-23 14:56:31 to 2036-11-20 14:56:31 UTC;
    /// with its key (a throwaway made for these tests).
    const LEAF_PEM: &str = "-----BEGIN CERTIFICATE-----
MIICKjCCAdCgAwIBAgIUNuglODV5InLdDq6lqnUBMLV2ThUwCgYIKoZIzj0EAwIw
PzELMAkGA1UEBhMCREUxFzAVBgNVBAoMDk1lc2hzY29wZSBUZXN0MRcwFQYDVQQD
DA5icm9rZXIuZXhhbXBsZTAeFw0yNjExMjMxNDU2MzFaFw0zNjExMjAxNDU2MzFa
MD8xCzAJBgNVBAYTAkRFMRcwFQYDVQQKDA5NZXNoc2NvcGUgVGVzdDEXMBUGA1UE
AwwOYnJva2VyLmV4YW1wbGUwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATIKOcL
6KqhwXiF6shypZwlqES5HmdqfEAW1vWDjbYsDGmIRNnBFnvswFhHz5qPQq00Qzsx
b6jnT2+UPBeYMhX8o4GpMIGmMB0GA1UdDgQWBBQYmADLodRbBu29XfRw4UaMTC+m
kTAfBgNVHSMEGDAWgBQYmADLodRbBu29XfRw4UaMTC+mkTBBBgNVHREEOjA4gg5i
cm9rZXIuZXhhbXBsZYIOKi5tZXNoLmV4YW1wbGWHBH8AAAGHEAAAAAAAAAAAAAAA
AAAAAAEwDAYDVR0TAQH/BAIwADATBgNVHSUEDDAKBggrBgEFBQcDATAKBggqhkjO
PQQDAgNIADBFAiEA7NWbaSg9Z515OGfKLaPn4PYpSF4bcPqAqOPMmUlRN04CIAHa
PFSrSZHtKDYqsarvQYvuVHiIjoI/FgxhqdfQ/BMm
-----END CERTIFICATE-----
";
    const LEAF_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgnsYW9ISW7L93zzfe
Zpo65EmAvSGt7aSTkdnZHXJAshChRANCAATIKOcL6KqhwXiF6shypZwlqES5Hmdq
fEAW1vWDjbYsDGmIRNnBFnvswFhHz5qPQq00Qzsxb6jnT2+UPBeYMhX8
-----END PRIVATE KEY-----
";
    /// An unrelated self-signed CA ("CN=unrelated CA").
    const OTHER_CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBgzCCASmgAwIBAgIUMACqY06XDyUeHNhuTRGCBcZmw+YwCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMdW5yZWxhdGVkIENBMB4XDTI2MTEyMzE0NTYyMloXDTM2MTEy
MDE0NTYyMlowFzEVMBMGA1UEAwwMdW5yZWxhdGVkIENBMFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEfV/NFQB9g6o/pBq+4wrv3cqTlWybe0iahQPY6Xj6fxOX1Wsn
zJ55s/UJeCyZjCUTqVWzHKEZd2vObAWGM/nFAaNTMFEwHQYDVR0OBBYEFBk+chJW
xH8+evoDz7iMIT/zJG+3MB8GA1UdIwQYMBaAFBk+chJWxH8+evoDz7iMIT/zJG+3
MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhAO/TKTsBGwm+YKDt
HEkkSXnwPuT+jPNG5+w30DmJ9ZaeAiA9CbXdRUdx0bGnYd0ZSDZfBQF8QGJop+aR
nI4+Zbwepw==
-----END CERTIFICATE-----
";

    fn leaf_der() -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(LEAF_PEM.as_bytes()).expect("leaf pem")
    }

    #[test]
    fn reads_subject_names_and_validity_from_a_certificate() {
        let cert = PresentedCert::from_der(leaf_der().as_ref()).expect("parses");
        assert_eq!(cert.subject, "C=DE, O=Meshscope Test, CN=broker.example");
        assert_eq!(cert.issuer, cert.subject);
        assert!(cert.is_self_signed());
        assert_eq!(cert.common_name(), Some("broker.example"));
        assert_eq!(
            cert.names,
            ["broker.example", "*.mesh.example", "127.0.0.1", "::1"]
        );
        assert_eq!(
            cert.not_before_secs.map(format_utc).as_deref(),
            Some("2026-11-23 14:56:31 UTC")
        );
        assert_eq!(
            cert.not_after_secs.map(format_utc).as_deref(),
            Some("2036-11-20 14:56:31 UTC")
        );
        let summary = cert.summary();
        assert!(
            summary.contains("subject \"C=DE, O=Meshscope Test, CN=broker.example\" (self-signed)"),
            "{summary}"
        );
        assert!(
            summary.contains("until 2036-11-20 14:56:31 UTC"),
            "{summary}"
        );
        let other = CertificateDer::from_pem_slice(OTHER_CA_PEM.as_bytes()).expect("pem");
        let other = PresentedCert::from_der(other.as_ref()).expect("parses");
        assert_eq!(other.subject, "CN=unrelated CA");
        assert!(other.names.is_empty());
    }

    #[test]
    fn certificate_reading_is_total() {
        // Every prefix and every single-byte change: a value or None, never a panic.
        let der = leaf_der().as_ref().to_vec();
        for end in 0..der.len() {
            // A cut anywhere leaves the outer SEQUENCE incomplete.
            assert!(PresentedCert::from_der(&der[..end]).is_none(), "{end}");
        }
        for at in 0..der.len() {
            for value in [0x00, 0x7f, 0x80, 0x84, 0x85, 0xff, der[at] ^ 0x20] {
                let mut changed = der.clone();
                changed[at] = value;
                if let Some(cert) = PresentedCert::from_der(&changed) {
                    let _ = cert.summary();
                }
            }
        }
        assert!(PresentedCert::from_der(&[]).is_none());
        assert!(PresentedCert::from_der(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
    }

    #[test]
    fn hostile_certificate_text_is_escaped_and_bounded() {
        let shown = sanitize("evil\n\u{202e}moc.elgoog".as_bytes());
        assert!(
            !shown.contains('\n') && !shown.contains('\u{202e}'),
            "{shown}"
        );
        assert!(shown.contains("\\u{202e}"), "{shown}");
        let long = sanitize("a".repeat(10_000).as_bytes());
        assert_eq!(long.chars().count(), MAX_SHOWN_CHARS + 1);
        assert_eq!(string_value(0x1e, &[0x00, 0x41, 0xd8]), "A\u{fffd}");
        assert_eq!(string_value(0x05, &[0xde, 0xad]), "#dead");
        assert_eq!(dotted_oid(&[0x55, 0x04, 0x03]).as_deref(), Some("2.5.4.3"));
        assert_eq!(dotted_oid(&[0x2a, 0x86]), None);
        assert_eq!(dotted_oid(&[0xff; 12]), None);
    }

    #[test]
    fn times_convert_both_ways() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_utc(-1), "1969-12-31 23:59:59 UTC");
        let utc = |text: &str| asn1_time_secs(der::UTC_TIME, text.as_bytes()).map(format_utc);
        let generalized =
            |text: &str| asn1_time_secs(der::GENERALIZED_TIME, text.as_bytes()).map(format_utc);
        assert_eq!(
            utc("200101000000Z").as_deref(),
            Some("2020-01-01 00:00:00 UTC")
        );
        assert_eq!(
            utc("500101000000Z").as_deref(),
            Some("1950-01-01 00:00:00 UTC")
        );
        assert_eq!(
            generalized("20500101120000Z").as_deref(),
            Some("2050-01-01 12:00:00 UTC")
        );
        for bad in [
            "2001010000Z",
            "200101000000",
            "201301000000Z",
            "2001010000+0Z",
            "20010100000٠Z",
        ] {
            assert_eq!(utc(bad), None, "{bad}");
        }
        assert_eq!(generalized("200101000000Z"), None);
    }

    /// Runs a TLS handshake in memory between a client with `client_config` and a server
    /// presenting [`LEAF_PEM`]; the client's error, if any.
    fn handshake(client_config: ClientConfig, server_name: &str) -> Result<(), rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::from_pem_slice(LEAF_KEY_PEM.as_bytes()).expect("key");
        let server_config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![leaf_der()], key)
            .expect("server config");
        let mut server = rustls::ServerConnection::new(Arc::new(server_config)).expect("server");
        let name = ServerName::try_from(server_name.to_string()).expect("name");
        let mut client =
            rustls::ClientConnection::new(Arc::new(client_config), name).expect("client");
        for _ in 0..10 {
            let mut wire = Vec::new();
            client.write_tls(&mut wire).expect("client write");
            if !wire.is_empty() {
                server.read_tls(&mut wire.as_slice()).expect("server read");
                let _ = server.process_new_packets();
            }
            let mut wire = Vec::new();
            server.write_tls(&mut wire).expect("server write");
            if !wire.is_empty() {
                client.read_tls(&mut wire.as_slice()).expect("client read");
                client.process_new_packets()?;
            }
            if !client.is_handshaking() {
                return Ok(());
            }
        }
        panic!("the handshake did not finish");
    }

    fn options_trusting(ca_pem: &str, dir: &Path) -> SessionOptions {
        let path = dir.join(format!("ca-{}.pem", super::super::options::random_u64()));
        std::fs::write(&path, ca_pem).expect("write ca");
        let mut options = tls_options();
        options.ca_file = Some(path);
        options
    }

    #[test]
    fn the_verifier_accepts_what_webpki_accepts_and_explains_what_it_refuses() {
        crate::mqtt::install_crypto_provider();
        let dir = std::env::temp_dir().join(format!(
            "meshscope-tls-{}",
            super::super::options::random_u64()
        ));
        std::fs::create_dir_all(&dir).expect("dir");

        // Trusted and for the right name: accepted (as plain webpki would).
        let trusting = client_config(&options_trusting(LEAF_PEM, &dir)).expect("config");
        handshake(trusting.clone(), "broker.example").expect("a trusted certificate is accepted");
        handshake(trusting.clone(), "x.mesh.example").expect("the wildcard name matches");

        // Trusted but for other names: the names it is for, and the certificate.
        let error = handshake(trusting, "wrong.example").expect_err("wrong name");
        let words = describe_tls_failure(&error, "wrong.example").expect("explained");
        assert!(
            words.contains("not valid for the host name wrong.example"),
            "{words}"
        );
        assert!(
            words.contains("it is for broker.example, *.mesh.example, 127.0.0.1, ::1"),
            "{words}"
        );
        assert!(
            words.contains("subject \"C=DE, O=Meshscope Test, CN=broker.example\""),
            "{words}"
        );
        assert!(words.contains("until 2036-11-20 14:56:31 UTC"), "{words}");

        // Not trusted: self-signed, an unknown CA, and what was presented.
        let other = client_config(&options_trusting(OTHER_CA_PEM, &dir)).expect("config");
        let error = handshake(other, "broker.example").expect_err("untrusted");
        let words = describe_tls_failure(&error, "broker.example").expect("explained");
        assert!(words.contains("self-signed"), "{words}");
        assert!(words.contains("unknown CA"), "{words}");
        assert!(words.contains("not trusted"), "{words}");
        assert!(words.contains("CN=broker.example"), "{words}");
        // The rustls error still says what rustls would have said underneath.
        assert!(error.to_string().contains("UnknownIssuer"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rejections_without_a_certificate_and_alerts_have_words() {
        use rustls::pki_types::UnixTime;
        let expired = CertificateError::ExpiredContext {
            time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000)),
            not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_577_836_800)),
        };
        let words = describe_rustls(&rustls::Error::InvalidCertificate(expired), "h");
        assert!(
            words.contains("has expired: it was valid until 2020-01-01 00:00:00 UTC"),
            "{words}"
        );
        let words = describe_rustls(
            &rustls::Error::AlertReceived(rustls::AlertDescription::UnknownCA),
            "h",
        );
        assert!(words.contains("refused our client certificate"), "{words}");
        assert!(words.contains("unknown CA"), "{words}");
        assert_eq!(
            alert_words(rustls::AlertDescription::BadCertificate),
            "bad certificate"
        );
    }
}
