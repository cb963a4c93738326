//! TLS for the HTTPS listener: the operator's PEM files, or a self-signed certificate generated on
//! first start and kept in the data directory so clients can pin it across restarts.
//!
//! Only the ring provider is used (no aws-lc). Never decides anything about requests.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use umbox_base::config::{Config, TlsFiles};
use umbox_base::fsio::write_atomic;

/// Errors from loading or generating the certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a PEM file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A PEM file holds no usable certificate or key.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// Generating the self-signed certificate failed.
    #[error("cannot generate a certificate: {0}")]
    Generate(String),
    /// rustls refused the certificate/key pair.
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Where the generated pair lives inside the data directory.
fn generated_files(data_dir: &Path) -> TlsFiles {
    let dir = data_dir.join("tls");
    TlsFiles {
        certificate: dir.join("cert.pem"),
        private_key: dir.join("key.pem"),
    }
}

/// The host names a generated certificate covers: the public host, every domain apex and its
/// `autodiscover.` name (the one Lync phones insist on), and loopback for local trials.
pub fn certificate_names(config: &Config) -> Vec<String> {
    let mut names = vec![config.public_host.clone()];
    for domain in &config.domains {
        names.push(domain.clone());
        names.push(format!("autodiscover.{domain}"));
    }
    names.extend([
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ]);
    names.dedup();
    names
}

/// Builds the rustls server configuration, generating a certificate first if none is configured
/// and none was generated before.
pub fn server_config(config: &Config) -> Result<Arc<ServerConfig>, Error> {
    let files = match &config.tls {
        Some(files) => files.clone(),
        None => {
            let files = generated_files(&config.data_dir);
            if !files.certificate.exists() || !files.private_key.exists() {
                generate(&files, certificate_names(config))?;
            }
            files
        }
    };
    let certs = CertificateDer::pem_file_iter(&files.certificate)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| Error::Pem {
            path: files.certificate.clone(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(Error::Pem {
            path: files.certificate,
            reason: "no CERTIFICATE block".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(&files.private_key).map_err(|e| Error::Pem {
        path: files.private_key.clone(),
        reason: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(server))
}

/// Writes a new self-signed pair; the key is written owner-readable only and before the
/// certificate, so a crash never leaves a certificate without its key.
fn generate(files: &TlsFiles, names: Vec<String>) -> Result<(), Error> {
    let pair =
        rcgen::generate_simple_self_signed(names).map_err(|e| Error::Generate(e.to_string()))?;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { path, source }
    };
    if let Some(dir) = files.certificate.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    write_atomic(
        &files.private_key,
        pair.signing_key.serialize_pem().as_bytes(),
        0o600,
    )
    .map_err(io(&files.private_key))?;
    write_atomic(&files.certificate, pair.cert.pem().as_bytes(), 0o644)
        .map_err(io(&files.certificate))
}
