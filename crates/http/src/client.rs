//! The outgoing HTTP client of push notifications: one POST of a document `ews` rendered per
//! delivery, over plain HTTP or HTTPS (rustls, ring), with no credentials attached.
//!
//! The target is resolved at every delivery and each address is checked with
//! `notify::push::address_allowed` before connecting, so a name cannot be re-pointed at a private
//! address after Subscribe accepted it. Certificates are verified against the system trust store
//! unless the administrator switched verification off for tests. Bodies are built and read by
//! `ews`; this file only moves bytes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use umbox_base::config::Notifications;
use umbox_notify::push::{address_allowed, BoxFuture, Carrier, DeliveryError};

/// Where Linux distributions keep the trust store as one PEM bundle (Debian first).
const SYSTEM_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];
/// Connecting to one address may take this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from a push client.
const MAX_REPLY_BYTES: usize = 64 * 1024;

fn failed(what: &str, error: impl std::fmt::Display) -> DeliveryError {
    DeliveryError(format!("{what}: {error}"))
}

/// Delivers push notifications over HTTP(S).
pub struct PushClient {
    tls: tokio_rustls::TlsConnector,
    allow_private: bool,
}

impl std::fmt::Debug for PushClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushClient")
            .field("allow_private", &self.allow_private)
            .finish_non_exhaustive()
    }
}

impl PushClient {
    /// A client following `settings` (private targets, certificate checks). Reads the system
    /// trust store once.
    pub fn new(settings: &Notifications) -> Result<PushClient, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let mut config = if settings.push_accept_invalid_certificates {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
                .with_no_client_auth()
        } else {
            builder
                .with_root_certificates(system_roots())
                .with_no_client_auth()
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(PushClient {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            allow_private: settings.allow_private_push_targets,
        })
    }

    async fn post_once(
        &self,
        url: &str,
        content_type: &'static str,
        body: Vec<u8>,
    ) -> Result<Bytes, DeliveryError> {
        let uri: Uri = url.parse().map_err(|e| failed("url", e))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => return Err(DeliveryError(format!("scheme {other:?}"))),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| DeliveryError("no host".into()))?
            .clone();
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = self.connect(&host, port).await?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::HOST, authority.as_str())
            .header(header::CONTENT_TYPE, HeaderValue::from_static(content_type))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| failed("request", e))?;
        if https {
            let name = ServerName::try_from(host).map_err(|e| failed("server name", e))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| failed("tls", e))?;
            exchange(tls, request).await
        } else {
            exchange(tcp, request).await
        }
    }

    /// Connects to the first allowed address `host` resolves to.
    async fn connect(&self, host: &str, port: u16) -> Result<TcpStream, DeliveryError> {
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| failed("resolve", e))?
            .collect();
        let mut last = DeliveryError(format!("{host} has no address"));
        for address in addresses {
            if !address_allowed(address.ip(), self.allow_private) {
                last = DeliveryError(format!("{} is not a public address", address.ip()));
                continue;
            }
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await {
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(error)) => last = failed("connect", error),
                Err(_) => last = DeliveryError(format!("connect to {address} timed out")),
            }
        }
        Err(last)
    }
}

/// One HTTP/1.1 request on a fresh connection; the answer must be 200 with a bounded body.
async fn exchange<IO>(io: IO, request: Request<Full<Bytes>>) -> Result<Bytes, DeliveryError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| failed("http", e))?;
    let answer = async move {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| failed("http", e))?;
        if response.status() != StatusCode::OK {
            return Err(DeliveryError(format!("HTTP status {}", response.status())));
        }
        Limited::new(response.into_body(), MAX_REPLY_BYTES)
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .map_err(|e| failed("reply body", e))
    };
    let mut answer = std::pin::pin!(answer);
    let mut connection = std::pin::pin!(connection);
    let ended = tokio::select! {
        result = &mut answer => return result,
        ended = &mut connection => ended,
    };
    // The connection ended first (the peer closed, perhaps without a TLS close_notify): the answer
    // may still be complete; if not, say why the connection ended.
    answer.await.map_err(|error| match ended {
        Err(cause) => failed("http", cause),
        Ok(()) => error,
    })
}

impl Carrier for PushClient {
    fn post<'a>(
        &'a self,
        url: &'a str,
        content_type: &'static str,
        body: Vec<u8>,
    ) -> BoxFuture<'a, Result<Vec<u8>, DeliveryError>> {
        Box::pin(async move {
            let reply = self.post_once(url, content_type, body).await?;
            Ok(reply.to_vec())
        })
    }
}

/// The system trust store; empty (so every HTTPS push fails, and says why) if none is found.
fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for path in SYSTEM_BUNDLES {
        let Ok(certificates) = CertificateDer::pem_file_iter(path) else {
            continue;
        };
        let (added, _) = roots.add_parsable_certificates(certificates.filter_map(Result::ok));
        if added > 0 {
            return roots;
        }
    }
    tracing::warn!(
        "no system trust store found: HTTPS push deliveries will fail certificate checks"
    );
    roots
}

/// For `push_accept_invalid_certificates` (tests with self-signed listeners): any certificate is
/// accepted, but the handshake signatures are still checked.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl AcceptAnyCertificate {
    fn algorithms(&self) -> &WebPkiSupportedAlgorithms {
        &self.0.signature_verification_algorithms
    }
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, self.algorithms())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, self.algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms().supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::PrivateKeyDer;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use umbox_ews::ids::IdCodec;
    use umbox_ews::PushDelivery;
    use umbox_notify::push::{Deliver, PushReply};
    use umbox_notify::{Content, Notification, SubscriptionId};
    use umbox_store::{MailboxId, Seq};

    /// What exchangelib's listener answers (SendNotificationResult, OK).
    const OK: &str = r#"<?xml version='1.0' encoding='utf-8'?><s:Envelope xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:SendNotificationResult><m:SubscriptionStatus>OK</m:SubscriptionStatus></m:SendNotificationResult></s:Body></s:Envelope>"#;

    fn status_notification() -> Notification {
        Notification {
            subscription: SubscriptionId::parse("AAAAAAAAAAAAAAAAAAAAAA==").unwrap(),
            mailbox: MailboxId::new("alice@example.test"),
            previous: Seq(4),
            more: false,
            content: Content::Status(Seq(4)),
        }
    }

    /// The client under test, carrying EWS's SendNotification documents.
    fn client(accept_invalid: bool, allow_private: bool) -> PushDelivery {
        let settings = Notifications {
            push_accept_invalid_certificates: accept_invalid,
            allow_private_push_targets: allow_private,
            ..Notifications::default()
        };
        let carrier = PushClient::new(&settings).unwrap();
        PushDelivery::new(IdCodec::from_key(b"k"), Arc::new(carrier))
    }

    /// Reads one request (headers and Content-Length body) and answers `status` with `body`;
    /// returns the request.
    async fn answer_one<S: AsyncRead + AsyncWrite + Unpin>(
        mut stream: S,
        status: &str,
        body: &str,
    ) -> String {
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let n = stream.read(&mut buffer).await.unwrap();
            request.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&request).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap();
                if request.len() >= end + 4 + length {
                    break;
                }
            }
            assert!(n > 0, "the client hung up");
        }
        let reply = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(reply.as_bytes()).await.unwrap();
        stream.flush().await.unwrap();
        String::from_utf8_lossy(&request).into_owned()
    }

    #[tokio::test]
    async fn plain_http_posts_send_notification_without_credentials() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/push", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            answer_one(tcp, "200 OK", OK).await
        });
        let reply = client(false, true)
            .deliver(&url, &status_notification())
            .await;
        assert_eq!(reply, Ok(PushReply::Ok));
        let request = server.await.unwrap();
        assert!(request.starts_with("POST /push HTTP/1.1\r\n"), "{request}");
        assert!(request.contains("<m:SendNotification>"), "{request}");
        assert!(request.contains("<t:StatusEvent>"), "{request}");
        assert!(
            !request.to_ascii_lowercase().contains("authorization"),
            "{request}"
        );
    }

    #[tokio::test]
    async fn refused_targets_and_bad_answers_fail() {
        let notification = status_notification();
        // Loopback without the switch: refused before connecting.
        let refused = client(false, false)
            .deliver("http://127.0.0.1:9/push", &notification)
            .await;
        assert!(
            matches!(refused, Err(DeliveryError(ref m)) if m.contains("not a public address")),
            "{refused:?}"
        );
        // An HTTP error status is a failed delivery.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/push", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            answer_one(tcp, "500 Internal Server Error", "oops").await
        });
        let failed = client(false, true).deliver(&url, &notification).await;
        assert!(
            matches!(failed, Err(DeliveryError(ref m)) if m.contains("500")),
            "{failed:?}"
        );
        server.await.unwrap();
    }

    /// HTTPS to a self-signed listener: refused by default (certificates are verified), accepted
    /// with the test switch.
    #[tokio::test]
    async fn https_verifies_certificates_unless_told_not_to() {
        let pair = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let key = PrivateKeyDer::try_from(pair.signing_key.serialize_der()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![pair.cert.der().clone()], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}/push", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            // First the verifying client, whose handshake fails; then the trusting one.
            let (tcp, _) = listener.accept().await.unwrap();
            assert!(acceptor.accept(tcp).await.is_err());
            let (tcp, _) = listener.accept().await.unwrap();
            let tls = acceptor.accept(tcp).await.unwrap();
            answer_one(tls, "200 OK", OK).await
        });
        let notification = status_notification();
        let verified = client(false, true).deliver(&url, &notification).await;
        assert!(
            matches!(verified, Err(DeliveryError(ref m)) if m.starts_with("tls")),
            "{verified:?}"
        );
        let trusted = client(true, true).deliver(&url, &notification).await;
        assert_eq!(trusted, Ok(PushReply::Ok));
        assert!(server.await.unwrap().contains("<m:SendNotification>"));
    }
}
