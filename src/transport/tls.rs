//! rustls client configuration: root stores, a PEM roots file, and the
//! test-only "accept any certificate" verifier.
//!
//! Every config is built with the ring provider passed explicitly
//! ([`rustls::ClientConfig::builder_with_provider`]), so the crate never
//! depends on a process-level default `CryptoProvider`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{Error, ErrorKind, Result};

/// Which trusted root certificates verify the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RootStore {
    /// The Mozilla roots bundled in the `webpki-roots` crate (the default).
    #[default]
    Webpki,
    /// The operating system's trust store (`rustls-native-certs`).
    Os,
    /// Both of the above.
    WebpkiAndOs,
}

/// TLS settings for a `wss` connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// Which built-in root store to trust. Ignored when `roots_file` is set.
    pub roots: RootStore,
    /// A PEM file of root certificates. When set, ONLY these roots are
    /// trusted.
    pub roots_file: Option<PathBuf>,
    /// Verify the server's certificate (default `true`). `false` corresponds
    /// to `tls_verify=unsafe_off`: any certificate for any name is accepted,
    /// which defeats TLS against an active attacker. For tests only.
    pub verify: bool,
}

impl Default for TlsOptions {
    /// Webpki roots, no roots file, verification on.
    fn default() -> Self {
        TlsOptions {
            roots: RootStore::Webpki,
            roots_file: None,
            verify: true,
        }
    }
}

/// The ring crypto provider every config here is built with.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// Builds the rustls client configuration for `opts` (ring provider, safe
/// default protocol versions, no client certificate).
///
/// Errors are [`ErrorKind::Tls`]: an unreadable roots file or one without
/// certificates (naming the file), or an empty OS trust store.
pub fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>> {
    let provider = crypto_provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Tls, "cannot set up TLS").with_source(e))?;
    let config = if opts.verify {
        builder
            .with_root_certificates(root_store(opts)?)
            .with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
            .with_no_client_auth()
    };
    Ok(Arc::new(config))
}

fn root_store(opts: &TlsOptions) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    if let Some(path) = &opts.roots_file {
        for cert in pem_certs(path)? {
            store.add(cert).map_err(|e| {
                Error::new(
                    ErrorKind::Tls,
                    format!("tls_roots {}: invalid root certificate", path.display()),
                )
                .with_source(e)
            })?;
        }
        return Ok(store);
    }
    if matches!(opts.roots, RootStore::Webpki | RootStore::WebpkiAndOs) {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if matches!(opts.roots, RootStore::Os | RootStore::WebpkiAndOs) {
        let (certs, problem) = os_roots();
        // Certificates the OS store holds that webpki cannot parse are skipped.
        let _ = store.add_parsable_certificates(certs.iter().cloned());
        if opts.roots == RootStore::Os && store.is_empty() {
            let why = problem
                .as_deref()
                .unwrap_or("it holds no usable certificates");
            return Err(Error::new(
                ErrorKind::Tls,
                format!("cannot use the OS trust store: {why}"),
            ));
        }
    }
    Ok(store)
}

/// The OS roots, loaded once per process, and the first loading error if any.
fn os_roots() -> &'static (Vec<CertificateDer<'static>>, Option<String>) {
    static ROOTS: OnceLock<(Vec<CertificateDer<'static>>, Option<String>)> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let res = rustls_native_certs::load_native_certs();
        let problem = res.errors.first().map(|e| e.to_string());
        (res.certs, problem)
    })
}

/// Reads every certificate of a PEM file.
fn pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::new(
            ErrorKind::Tls,
            format!("cannot read tls_roots file {}", path.display()),
        )
        .with_source(e)
    })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::new(
                ErrorKind::Tls,
                format!("tls_roots file {} is not valid PEM", path.display()),
            )
            .with_source(e)
        })?;
    if certs.is_empty() {
        return Err(Error::new(
            ErrorKind::Tls,
            format!(
                "tls_roots file {} holds no PEM certificates",
                path.display()
            ),
        ));
    }
    Ok(certs)
}

/// The server name to verify (and send as SNI) for `host`.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string()).map_err(|e| {
        Error::new(
            ErrorKind::Tls,
            format!("{host:?} is not a valid TLS server name"),
        )
        .with_source(e)
    })
}

/// Accepts any server certificate (`tls_verify=unsafe_off`). Handshake
/// signatures are still checked, so the peer must hold the key of the
/// certificate it shows — but anyone can show a self-made certificate.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
        let p = std::env::temp_dir().join(format!(
            "qa-tls-{}-{}-{name}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::write(&p, contents).unwrap();
        p
    }

    #[test]
    fn builds_every_store_kind() {
        for roots in [RootStore::Webpki, RootStore::WebpkiAndOs] {
            let opts = TlsOptions {
                roots,
                ..TlsOptions::default()
            };
            client_config(&opts).unwrap();
        }
        let opts = TlsOptions {
            verify: false,
            ..TlsOptions::default()
        };
        client_config(&opts).unwrap();
    }

    #[test]
    fn roots_file_errors_name_the_file() {
        let opts = TlsOptions {
            roots_file: Some(PathBuf::from("/nonexistent/qa-roots.pem")),
            ..TlsOptions::default()
        };
        let e = client_config(&opts).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert!(e.to_string().contains("/nonexistent/qa-roots.pem"), "{e}");

        let p = temp_file("empty.pem", b"no certificates here\n");
        let opts = TlsOptions {
            roots_file: Some(p.clone()),
            ..TlsOptions::default()
        };
        let e = client_config(&opts).unwrap_err();
        std::fs::remove_file(&p).ok();
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert!(e.to_string().contains("holds no PEM certificates"), "{e}");
        assert!(e.to_string().contains(&p.display().to_string()), "{e}");
    }

    #[test]
    fn server_names() {
        assert!(server_name("localhost").is_ok());
        assert!(server_name("127.0.0.1").is_ok());
        assert!(server_name("[::1]").is_ok());
        assert_eq!(server_name("bad name!").unwrap_err().kind(), ErrorKind::Tls);
    }
}
