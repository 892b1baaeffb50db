//! The server's TLS configuration: a certificate chain and key from PEM files, or a
//! self-signed certificate generated at start (rcgen). HTTP/1.1 only (ALPN `http/1.1`).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

use crate::error::ServerError;
use crate::options::TlsMode;

/// The acceptor `mode` means, or `None` for plain HTTP.
pub fn acceptor(mode: &TlsMode) -> Result<Option<TlsAcceptor>, ServerError> {
    let (certs, key) = match mode {
        TlsMode::Plain => return Ok(None),
        TlsMode::Files { cert, key } => (read_certs(cert)?, read_key(key)?),
        TlsMode::SelfSigned(names) => self_signed(names)?,
    };
    fjord_client::ensure_crypto_provider();
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServerError::Tls(format!("the certificate and key do not fit: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, ServerError> {
    std::fs::read(path).map_err(|source| ServerError::TlsFile {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn invalid(what: &'static str, path: &Path, msg: String) -> ServerError {
    ServerError::TlsFile {
        what,
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, msg),
    }
}

/// Every certificate of a PEM file (at least one).
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServerError> {
    let bytes = read("certificate", path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| invalid("certificate", path, format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(invalid(
            "certificate",
            path,
            "no CERTIFICATE block in the file".into(),
        ));
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, ServerError> {
    let bytes = read("key", path)?;
    PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|e| invalid("key", path, format!("no private key in the file: {e}")))
}

/// A self-signed certificate for `names` (`localhost` when empty) and its key.
fn self_signed(
    names: &[String],
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), ServerError> {
    let names = if names.is_empty() {
        vec!["localhost".to_string()]
    } else {
        names.to_vec()
    };
    let ck = rcgen::generate_simple_self_signed(names)
        .map_err(|e| ServerError::Tls(format!("generating a self-signed certificate: {e}")))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    Ok((vec![ck.cert.der().clone()], key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_and_file_modes() {
        assert!(acceptor(&TlsMode::Plain).unwrap().is_none());
        assert!(acceptor(&TlsMode::SelfSigned(vec!["localhost".into()]))
            .unwrap()
            .is_some());
        let dir = std::env::temp_dir().join(format!("fjord-server-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ck = rcgen::generate_simple_self_signed(vec!["x.test".to_string()]).unwrap();
        let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
        assert!(acceptor(&TlsMode::Files {
            cert: cert.clone(),
            key: key.clone()
        })
        .unwrap()
        .is_some());
        let err = acceptor(&TlsMode::Files {
            cert: key.clone(),
            key: key.clone(),
        })
        .err()
        .unwrap();
        assert!(err.to_string().contains("certificate"), "{err}");
        let err = acceptor(&TlsMode::Files {
            cert,
            key: dir.join("missing.key"),
        })
        .err()
        .unwrap();
        assert!(err.to_string().contains("missing.key"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
