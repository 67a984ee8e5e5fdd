//! TLS for `ssl` endpoints (`ssl -h HOST -p PORT`), with rustls.
//!
//! A servant whose endpoint says `ssl` is served over TLS with the server's
//! [`TlsServerConfig`] ([`ServerBuilder::tls`](crate::server::ServerBuilder::tls)); a proxy
//! reaches an `ssl` endpoint over TLS with the communicator's [`TlsClientConfig`]
//! ([`CommunicatorBuilder::tls`](crate::client::CommunicatorBuilder::tls)). Once the handshake
//! is done, everything else (framing, flow control, pushes, raw protocols, timeouts) is the
//! same as over plain TCP.
//!
//! The settings are TarsCpp's (`TC_OpenSSL::newCtx`, read from the `<ca>`, `<cert>`, `<key>`
//! and `<verifyclient>` of a server's or an adapter's configuration, and from the client's
//! `<ca>`, `<cert>`, `<key>`), with one difference on the client side: TarsCpp checks the
//! server's certificate only when it is given a CA, and not its name; here a client always
//! needs the CA it trusts and checks that the certificate is for the endpoint's host (or for
//! the [server name](TlsClientConfigBuilder::server_name) given instead).
//!
//! | TarsCpp | here |
//! | --- | --- |
//! | server `cert`, `key` | [`TlsServerConfigBuilder::cert_chain_file`], [`key_file`](TlsServerConfigBuilder::key_file) |
//! | server `ca` | [`TlsServerConfigBuilder::client_ca_file`]: client certificates presented are verified |
//! | server `verifyclient=1` | [`TlsServerConfigBuilder::verify_client`]: a client certificate is required |
//! | client `ca` | [`TlsClientConfigBuilder::ca_file`] |
//! | client `cert`, `key` | [`TlsClientConfigBuilder::client_cert_files`] |
//!
//! ```no_run
//! use tars_rpc::client::Communicator;
//! use tars_rpc::server::Server;
//! use tars_rpc::tls::{TlsClientConfig, TlsServerConfig};
//! # use bytes::Bytes;
//! # use futures::future::BoxFuture;
//! # use tars_rpc::server::{Current, Servant};
//! # struct Hello;
//! # impl Servant for Hello {
//! #     fn dispatch<'a>(&'a self, _: &'a Current, params: Bytes) -> BoxFuture<'a, tars_rpc::Result<Bytes>> {
//! #         Box::pin(async move { Ok(params) })
//! #     }
//! # }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::builder()
//!     .servant("TestApp.HelloServer.HelloObj", "ssl -h 127.0.0.1 -p 10001 -t 60000", Hello)
//!     .tls(
//!         TlsServerConfig::builder()
//!             .cert_chain_file("server.crt")
//!             .key_file("server.key")
//!             .build()?,
//!     )
//!     .start()
//!     .await?;
//!
//! let communicator = Communicator::builder()
//!     .tls(TlsClientConfig::builder().ca_file("ca.crt").build()?)
//!     .build();
//! let proxy = communicator.proxy("TestApp.HelloServer.HelloObj@ssl -h 127.0.0.1 -p 10001")?;
//! proxy.ping().await?;
//! # server.shutdown().await;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, InvalidDnsNameError, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;

use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::packet::ReturnCode;

/// The rustls this crate builds on, for [`TlsServerConfig::from_rustls`],
/// [`TlsClientConfig::from_rustls`] and for telling handshake errors apart (the source of a
/// failed call's error).
pub use rustls;

/// The largest PEM file read: certificates and keys are a few kilobytes.
const MAX_PEM_FILE: u64 = 1024 * 1024;

/// Why a TLS configuration could not be built, or a TLS connection could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read the {what} file {}: {source}", path.display())]
    Read {
        /// What the file was to hold: "certificate chain", "private key", "CA".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A PEM file (or PEM bytes) did not parse, or held nothing of what it was to hold.
    #[error("the {what} ({origin}) is not usable PEM: {source}")]
    Pem {
        /// What it was to hold.
        what: &'static str,
        /// The file, or "PEM bytes".
        origin: String,
        /// Why.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// A required part of the configuration was not given.
    #[error("no {what} given: call `{method}`")]
    Missing {
        /// What is missing.
        what: &'static str,
        /// The builder method that gives it.
        method: &'static str,
    },
    /// [`TlsServerConfigBuilder::verify_client`] without a CA to verify the clients with.
    #[error("verify_client needs the CA of the client certificates: call `client_ca_file` or `client_ca_pem`")]
    VerifyClientWithoutCa,
    /// A server name that is neither a DNS name nor an IP address.
    #[error("invalid TLS server name `{name}`: {source}")]
    ServerName {
        /// The name given.
        name: String,
        /// Why.
        #[source]
        source: InvalidDnsNameError,
    },
    /// rustls refused a part of the configuration: a CA certificate it cannot use, a key that
    /// does not match the certificate, no protocol version in common.
    #[error("the {what} is refused: {source}")]
    Rustls {
        /// What was refused.
        what: &'static str,
        /// rustls's reason.
        #[source]
        source: rustls::Error,
    },
    /// The verifier of client certificates could not be built from the CA given.
    #[error("cannot verify clients with the CA given: {0}")]
    ClientVerifier(#[source] rustls::server::VerifierBuilderError),
    /// An `ssl` endpoint was to be reached or served without a TLS configuration.
    #[error("{endpoint} is an ssl endpoint, but no TLS configuration was given ({method})")]
    NotConfigured {
        /// The endpoint.
        endpoint: String,
        /// Where to give one.
        method: &'static str,
    },
}

/// Where PEM comes from: a file, or bytes in memory.
#[derive(Clone)]
enum Pem {
    File(PathBuf),
    Bytes(Vec<u8>),
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Bytes(bytes) => write!(f, "{} bytes of PEM", bytes.len()),
        }
    }
}

impl Pem {
    fn origin(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Bytes(_) => "PEM bytes".to_string(),
        }
    }

    /// The bytes, read from the file (at most [`MAX_PEM_FILE`]) if need be.
    fn bytes(&self, what: &'static str) -> Result<std::borrow::Cow<'_, [u8]>, TlsError> {
        match self {
            Self::Bytes(bytes) => Ok(bytes.as_slice().into()),
            Self::File(path) => {
                read_pem_file(path)
                    .map(Into::into)
                    .map_err(|source| TlsError::Read {
                        what,
                        path: path.clone(),
                        source,
                    })
            }
        }
    }

    /// Every certificate in it; at least one.
    fn certificates(&self, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
        let bytes = self.bytes(what)?;
        let pem_error = |source| TlsError::Pem {
            what,
            origin: self.origin(),
            source,
        };
        let certificates = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(pem_error)?;
        if certificates.is_empty() {
            return Err(pem_error(rustls_pki_types::pem::Error::NoItemsFound));
        }
        Ok(certificates)
    }

    /// The first private key in it (PKCS#8, PKCS#1 or SEC1).
    fn private_key(&self) -> Result<PrivateKeyDer<'static>, TlsError> {
        let what = "private key";
        let bytes = self.bytes(what)?;
        PrivateKeyDer::from_pem_slice(&bytes).map_err(|source| TlsError::Pem {
            what,
            origin: self.origin(),
            source,
        })
    }

    /// The certificates in it as trust anchors.
    fn roots(&self, what: &'static str) -> Result<RootCertStore, TlsError> {
        let mut roots = RootCertStore::empty();
        for certificate in self.certificates(what)? {
            roots
                .add(certificate)
                .map_err(|source| TlsError::Rustls { what, source })?;
        }
        Ok(roots)
    }
}

fn read_pem_file(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_PEM_FILE + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_PEM_FILE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {MAX_PEM_FILE} bytes: not a PEM certificate or key"),
        ));
    }
    Ok(bytes)
}

/// The crypto provider: ring, chosen explicitly so that no process-wide default is needed.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS settings of a server's `ssl` listeners: its certificate chain and key, and how it
/// verifies clients. Cheap to clone.
///
/// Built from PEM with [`TlsServerConfig::builder`], or from a rustls configuration of your
/// own with [`TlsServerConfig::from_rustls`].
#[derive(Clone)]
pub struct TlsServerConfig {
    config: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for TlsServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServerConfig").finish_non_exhaustive()
    }
}

impl TlsServerConfig {
    /// A builder reading the certificate chain, the key and the client CA from PEM.
    pub fn builder() -> TlsServerConfigBuilder {
        TlsServerConfigBuilder::default()
    }

    /// A configuration you built with rustls, used as it is (its ALPN, client verification,
    /// session resumption and so on).
    pub fn from_rustls(config: impl Into<Arc<rustls::ServerConfig>>) -> Self {
        Self {
            config: config.into(),
        }
    }

    /// The rustls configuration.
    pub fn rustls_config(&self) -> &Arc<rustls::ServerConfig> {
        &self.config
    }

    /// What accepts TLS connections with this configuration.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }
}

/// Builds a [`TlsServerConfig`] from PEM files or bytes (TarsCpp's `cert`, `key`, `ca`,
/// `verifyclient`).
///
/// ```no_run
/// use tars_rpc::tls::TlsServerConfig;
///
/// # fn main() -> Result<(), tars_rpc::tls::TlsError> {
/// let tls = TlsServerConfig::builder()
///     .cert_chain_file("/etc/tars/server.crt")
///     .key_file("/etc/tars/server.key")
///     // clients must present a certificate signed by this CA
///     .client_ca_file("/etc/tars/ca.crt")
///     .verify_client(true)
///     .build()?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct TlsServerConfigBuilder {
    cert_chain: Option<Pem>,
    key: Option<Pem>,
    client_ca: Option<Pem>,
    verify_client: bool,
}

impl TlsServerConfigBuilder {
    /// The server's certificate chain, leaf first, from a PEM file (TarsCpp's `cert`).
    pub fn cert_chain_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.cert_chain = Some(Pem::File(path.into()));
        self
    }

    /// The server's certificate chain, leaf first, as PEM.
    pub fn cert_chain_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.cert_chain = Some(Pem::Bytes(pem.into()));
        self
    }

    /// The private key of the certificate, from a PEM file (TarsCpp's `key`).
    pub fn key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.key = Some(Pem::File(path.into()));
        self
    }

    /// The private key of the certificate, as PEM.
    pub fn key_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.key = Some(Pem::Bytes(pem.into()));
        self
    }

    /// The CA that client certificates must chain to, from a PEM file (TarsCpp's `ca`): a
    /// client that presents a certificate not signed by it is refused. Whether a client must
    /// present one is [`verify_client`](Self::verify_client).
    pub fn client_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.client_ca = Some(Pem::File(path.into()));
        self
    }

    /// The CA that client certificates must chain to, as PEM.
    pub fn client_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.client_ca = Some(Pem::Bytes(pem.into()));
        self
    }

    /// Whether every client must present a certificate signed by the
    /// [client CA](Self::client_ca_file) (TarsCpp's `verifyclient=1`); default `false`, where a
    /// client without one is served too.
    pub fn verify_client(mut self, required: bool) -> Self {
        self.verify_client = required;
        self
    }

    /// Reads the PEM and builds the configuration.
    ///
    /// # Errors
    ///
    /// [`TlsError::Missing`] without a certificate chain or key, [`TlsError::Read`] for a
    /// file that cannot be read, [`TlsError::Pem`] for PEM that does not parse or holds no
    /// certificate or key, [`TlsError::VerifyClientWithoutCa`], and [`TlsError::Rustls`] or
    /// [`TlsError::ClientVerifier`] for what rustls refuses (such as a key that does not match
    /// the certificate).
    pub fn build(self) -> Result<TlsServerConfig, TlsError> {
        let cert_chain = self.cert_chain.ok_or(TlsError::Missing {
            what: "certificate chain",
            method: "cert_chain_file",
        })?;
        let key = self.key.ok_or(TlsError::Missing {
            what: "private key",
            method: "key_file",
        })?;
        let certificates = cert_chain.certificates("certificate chain")?;
        let key = key.private_key()?;
        let provider = provider();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|source| TlsError::Rustls {
                what: "protocol versions",
                source,
            })?;
        let builder = match self.client_ca {
            None if self.verify_client => return Err(TlsError::VerifyClientWithoutCa),
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let roots = Arc::new(ca.roots("client CA")?);
                let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
                let verifier = match self.verify_client {
                    true => verifier,
                    false => verifier.allow_unauthenticated(),
                };
                builder
                    .with_client_cert_verifier(verifier.build().map_err(TlsError::ClientVerifier)?)
            }
        };
        let config = builder
            .with_single_cert(certificates, key)
            .map_err(|source| TlsError::Rustls {
                what: "certificate chain and key",
                source,
            })?;
        Ok(TlsServerConfig::from_rustls(config))
    }
}

/// The TLS settings a communicator's proxies use on `ssl` endpoints: the CA they trust, their
/// own certificate if the servers ask for one, and the name to check the servers'
/// certificates against. Cheap to clone.
///
/// Built from PEM with [`TlsClientConfig::builder`], or from a rustls configuration of your
/// own with [`TlsClientConfig::from_rustls`].
#[derive(Clone)]
pub struct TlsClientConfig {
    config: Arc<rustls::ClientConfig>,
    /// Checked instead of each endpoint's host.
    server_name: Option<ServerName<'static>>,
}

impl fmt::Debug for TlsClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClientConfig")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// Configurations are equal when they are the same one (clones of it).
impl PartialEq for TlsClientConfig {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.config, &other.config) && self.server_name == other.server_name
    }
}

impl Eq for TlsClientConfig {}

impl TlsClientConfig {
    /// A builder reading the CA and the client certificate from PEM.
    pub fn builder() -> TlsClientConfigBuilder {
        TlsClientConfigBuilder::default()
    }

    /// A configuration you built with rustls, used as it is; servers' certificates are checked
    /// against each endpoint's host unless [`with_server_name`](Self::with_server_name) says
    /// otherwise.
    pub fn from_rustls(config: impl Into<Arc<rustls::ClientConfig>>) -> Self {
        Self {
            config: config.into(),
            server_name: None,
        }
    }

    /// The same configuration, checking every server's certificate against `name` rather than
    /// the endpoint's host: for certificates issued to a service name while endpoints give IP
    /// addresses.
    ///
    /// # Errors
    ///
    /// [`TlsError::ServerName`] for a name that is neither a DNS name nor an IP address.
    pub fn with_server_name(mut self, name: &str) -> Result<Self, TlsError> {
        self.server_name = Some(server_name(name)?);
        Ok(self)
    }

    /// The rustls configuration.
    pub fn rustls_config(&self) -> &Arc<rustls::ClientConfig> {
        &self.config
    }
}

fn server_name(name: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(name.to_string()).map_err(|source| TlsError::ServerName {
        name: name.to_string(),
        source,
    })
}

/// Builds a [`TlsClientConfig`] from PEM files or bytes (TarsCpp's client `ca`, `cert`, `key`).
///
/// ```no_run
/// use tars_rpc::tls::TlsClientConfig;
///
/// # fn main() -> Result<(), tars_rpc::tls::TlsError> {
/// let tls = TlsClientConfig::builder()
///     .ca_file("/etc/tars/ca.crt")
///     // for servers that verify clients
///     .client_cert_files("/etc/tars/client.crt", "/etc/tars/client.key")
///     .server_name("hello.tars.local")
///     .build()?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct TlsClientConfigBuilder {
    ca: Option<Pem>,
    client_cert: Option<(Pem, Pem)>,
    server_name: Option<String>,
}

impl TlsClientConfigBuilder {
    /// The CA (one or more certificates) that servers' certificates must chain to, from a PEM
    /// file (TarsCpp's `ca`).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca = Some(Pem::File(path.into()));
        self
    }

    /// The CA that servers' certificates must chain to, as PEM.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca = Some(Pem::Bytes(pem.into()));
        self
    }

    /// The client's certificate chain and key, from PEM files (TarsCpp's `cert` and `key`),
    /// for servers that verify their clients.
    pub fn client_cert_files(
        mut self,
        cert_chain: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.client_cert = Some((Pem::File(cert_chain.into()), Pem::File(key.into())));
        self
    }

    /// The client's certificate chain and key, as PEM.
    pub fn client_cert_pem(
        mut self,
        cert_chain: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
    ) -> Self {
        self.client_cert = Some((Pem::Bytes(cert_chain.into()), Pem::Bytes(key.into())));
        self
    }

    /// The name every server's certificate is checked against, instead of the endpoint's
    /// host (see [`TlsClientConfig::with_server_name`]).
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Reads the PEM and builds the configuration.
    ///
    /// # Errors
    ///
    /// [`TlsError::Missing`] without a CA (a client that trusts nothing reaches no server),
    /// [`TlsError::Read`] for a file that cannot be read, [`TlsError::Pem`] for PEM that does
    /// not parse or holds no certificate or key, [`TlsError::ServerName`] for a bad server
    /// name, and [`TlsError::Rustls`] for what rustls refuses (such as a key that does not
    /// match the client certificate).
    pub fn build(self) -> Result<TlsClientConfig, TlsError> {
        let ca = self.ca.ok_or(TlsError::Missing {
            what: "CA to trust",
            method: "ca_file",
        })?;
        let roots = ca.roots("CA")?;
        let server_name = self.server_name.as_deref().map(server_name).transpose()?;
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|source| TlsError::Rustls {
                what: "protocol versions",
                source,
            })?
            .with_root_certificates(roots);
        let config = match self.client_cert {
            None => builder.with_no_client_auth(),
            Some((cert_chain, key)) => {
                let certificates = cert_chain.certificates("client certificate chain")?;
                builder
                    .with_client_auth_cert(certificates, key.private_key()?)
                    .map_err(|source| TlsError::Rustls {
                        what: "client certificate and key",
                        source,
                    })?
            }
        };
        Ok(TlsClientConfig {
            config: Arc::new(config),
            server_name,
        })
    }
}

/// Runs the client's side of the handshake on `tcp`, connected to the `ssl` `endpoint`,
/// within `timeout`.
///
/// # Errors
///
/// [`ReturnCode::PROXY_CONNECT_ERR`] errors: without a configuration (the source is
/// [`TlsError::NotConfigured`]), for a host that is no server name ([`TlsError::ServerName`]),
/// for a handshake that fails (the source is rustls's error, such as an untrusted
/// certificate, or the I/O error) or times out.
pub(crate) async fn connect(
    config: Option<&TlsClientConfig>,
    endpoint: &Endpoint,
    tcp: TcpStream,
    timeout: Duration,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
    let config = config.ok_or_else(|| not_configured(endpoint))?;
    let name = match &config.server_name {
        Some(name) => name.clone(),
        None => server_name(endpoint.host()).map_err(|error| {
            Error::with_source(
                ReturnCode::PROXY_CONNECT_ERR,
                format!("cannot connect to {endpoint} over TLS: {error}"),
                error,
            )
        })?,
    };
    let connector = tokio_rustls::TlsConnector::from(config.config.clone());
    match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(error)) => Err(handshake_failed(endpoint, error)),
        Err(_) => Err(Error::connect(format!(
            "the TLS handshake with {endpoint} did not finish within {} ms",
            timeout.as_millis()
        ))),
    }
}

/// The error of a call to an `ssl` endpoint for which the communicator has no configuration.
pub(crate) fn not_configured(endpoint: &Endpoint) -> Error {
    let error = TlsError::NotConfigured {
        endpoint: endpoint.to_string(),
        method: "CommunicatorBuilder::tls",
    };
    Error::with_source(ReturnCode::PROXY_CONNECT_ERR, error.to_string(), error)
}

/// A failed client handshake, saying why: rustls's error (kept as the source) when there is
/// one, such as a certificate the client does not trust.
fn handshake_failed(endpoint: &Endpoint, error: io::Error) -> Error {
    let rustls_error = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .cloned();
    match rustls_error {
        Some(rustls_error) => {
            let why = match &rustls_error {
                rustls::Error::InvalidCertificate(_) => "the server's certificate is not trusted: ",
                rustls::Error::AlertReceived(_) => "the server refused the handshake: ",
                _ => "",
            };
            Error::with_source(
                ReturnCode::PROXY_CONNECT_ERR,
                format!("TLS handshake with {endpoint} failed: {why}{rustls_error}"),
                rustls_error,
            )
        }
        None => Error::with_source(
            ReturnCode::PROXY_CONNECT_ERR,
            format!("TLS handshake with {endpoint} failed: {error}"),
            error,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_say_what_is_missing_or_bad() {
        let missing = TlsServerConfig::builder().build().unwrap_err();
        assert!(matches!(
            missing,
            TlsError::Missing {
                method: "cert_chain_file",
                ..
            }
        ));
        let missing = TlsClientConfig::builder().build().unwrap_err();
        assert!(matches!(
            missing,
            TlsError::Missing {
                method: "ca_file",
                ..
            }
        ));
        let unreadable = TlsClientConfig::builder()
            .ca_file("/nonexistent/ca.crt")
            .build()
            .unwrap_err();
        assert!(
            unreadable.to_string().contains("/nonexistent/ca.crt"),
            "{unreadable}"
        );
        let empty = TlsClientConfig::builder()
            .ca_pem("not pem")
            .build()
            .unwrap_err();
        assert!(matches!(empty, TlsError::Pem { what: "CA", .. }), "{empty}");
        let no_key = TlsServerConfig::builder()
            .cert_chain_pem("x")
            .key_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .build()
            .unwrap_err();
        assert!(matches!(no_key, TlsError::Pem { .. }), "{no_key}");
    }

    #[test]
    fn calls_to_an_unconfigured_ssl_endpoint_say_so() {
        let error = not_configured(&Endpoint::ssl("127.0.0.1", 1));
        assert_eq!(error.code(), ReturnCode::PROXY_CONNECT_ERR);
        assert!(error.message().contains("ssl -h 127.0.0.1 -p 1"), "{error}");
        let source =
            std::error::Error::source(&error).and_then(|source| source.downcast_ref::<TlsError>());
        assert!(matches!(source, Some(TlsError::NotConfigured { .. })));
    }
}
