//! TLS endpoints (`ssl -h .. -p ..`) end to end: a Rust server and Rust clients over rustls
//! (calls, pushes, many concurrent calls), client certificates required and refused, a server
//! the client does not trust, `ssl` without a TLS configuration, a peer that never finishes its
//! handshake, a raw protocol over TLS, and a Node client using Node's own `tls` module.
//!
//! The certificates are made at test time with rcgen: a CA, a server certificate for
//! 127.0.0.1 and localhost, and a client certificate, all signed by the CA.

mod common;

use std::error::Error as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::join_all;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use tars_rpc::client::{Communicator, TypedProxy};
use tars_rpc::packet::ReturnCode;
use tars_rpc::protocol::{
    request_id_after_length, ClientProtocol, FrameSplitter, LengthPrefixed, ProtocolError,
    RawResponse, RawServant,
};
use tars_rpc::server::{Server, ServerBuilder, ServerError};
use tars_rpc::tls::rustls;
use tars_rpc::tls::{TlsClientConfig, TlsError, TlsServerConfig};
use tars_rpc::{tars_interface, tars_push, Current};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};

const SERVANT: &str = "TestApp.HelloServer.HelloObj";
const PLAIN_SERVANT: &str = "TestApp.HelloServer.PlainObj";
const WAIT: Duration = Duration::from_secs(10);

#[tars_interface]
trait Hello {
    /// `int testHello(string sReq, out string sRsp);`
    async fn test_hello(&self, s_req: String, s_rsp: &mut String) -> tars_rpc::Result<i32>;
    /// Pushes `count` numbered messages to the caller, then returns.
    async fn push_me(&self, current: &Current, count: i32) -> tars_rpc::Result<()>;
}

#[tars_push]
trait Push {
    async fn numbered(&self, ret: i32, seq: i64);
}

struct HelloImp;

impl Hello for HelloImp {
    async fn test_hello(&self, s_req: String, s_rsp: &mut String) -> tars_rpc::Result<i32> {
        *s_rsp = s_req;
        Ok(0)
    }

    async fn push_me(&self, current: &Current, count: i32) -> tars_rpc::Result<()> {
        let sender = PushSender::new(current);
        for seq in 0..count {
            sender.numbered(0, i64::from(seq)).await?;
        }
        Ok(())
    }
}

/// Hands every push to the test.
struct Pushes(mpsc::UnboundedSender<i64>);

impl Push for Pushes {
    async fn numbered(&self, _ret: i32, seq: i64) {
        let _ = self.0.send(seq);
    }
}

/// A CA and the certificates it signed, as PEM.
struct Pki {
    ca: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

impl Pki {
    fn new(name: &str) -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf = |names: Vec<String>, usage| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf(
            vec!["127.0.0.1".into(), "localhost".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_cert, client_key) = leaf(vec![], ExtendedKeyUsagePurpose::ClientAuth);
        Self {
            ca: ca.pem(),
            server_cert,
            server_key,
            client_cert,
            client_key,
        }
    }

    /// The server's configuration, read from PEM files.
    fn server_from_files(&self, dir: &TempDir) -> TlsServerConfig {
        TlsServerConfig::builder()
            .cert_chain_file(dir.write("server.crt", &self.server_cert))
            .key_file(dir.write("server.key", &self.server_key))
            .build()
            .unwrap()
    }

    /// The server's configuration, verifying the certificates of clients (required or not).
    fn server_verifying_clients(&self, required: bool) -> TlsServerConfig {
        TlsServerConfig::builder()
            .cert_chain_pem(self.server_cert.clone())
            .key_pem(self.server_key.clone())
            .client_ca_pem(self.ca.clone())
            .verify_client(required)
            .build()
            .unwrap()
    }

    /// A client trusting this CA, without a certificate of its own.
    fn client(&self) -> TlsClientConfig {
        TlsClientConfig::builder()
            .ca_pem(self.ca.clone())
            .build()
            .unwrap()
    }

    /// A client trusting this CA, with its certificate.
    fn client_with_cert(&self) -> TlsClientConfig {
        TlsClientConfig::builder()
            .ca_pem(self.ca.clone())
            .client_cert_pem(self.client_cert.clone(), self.client_key.clone())
            .build()
            .unwrap()
    }
}

/// A directory of its own under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "tars-rpc-tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server with the Hello servant at an `ssl` endpoint on a free port of 127.0.0.1.
async fn start(
    tls: TlsServerConfig,
    configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
) -> Server {
    let builder = Server::builder()
        .servant(
            SERVANT,
            "ssl -h 127.0.0.1 -p 0 -t 60000",
            HelloServant::new(HelloImp),
        )
        .tls(tls);
    configure(builder).start().await.expect("the server starts")
}

fn ssl_port(server: &Server) -> u16 {
    server
        .local_addr(SERVANT)
        .expect("the servant listens")
        .port()
}

fn proxy(communicator: &Communicator, port: u16) -> HelloProxy {
    communicator
        .string_to_proxy(&format!("{SERVANT}@ssl -h 127.0.0.1 -p {port}"))
        .expect("a valid proxy string")
}

async fn hello(proxy: &HelloProxy, text: &str) -> tars_rpc::Result<String> {
    let (ret, s_rsp) = timeout(WAIT, proxy.test_hello(text.to_string()))
        .await
        .expect("the call ends in time")?;
    assert_eq!(ret, 0);
    Ok(s_rsp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_pushes_and_concurrent_calls_go_over_tls() {
    let pki = Pki::new("main");
    let dir = TempDir::new();
    let server = start(pki.server_from_files(&dir), |builder| {
        builder.servant(
            PLAIN_SERVANT,
            "tcp -h 127.0.0.1 -p 0",
            HelloServant::new(HelloImp),
        )
    })
    .await;
    let port = ssl_port(&server);
    let communicator = Communicator::builder()
        .tls(
            TlsClientConfig::builder()
                .ca_file(dir.write("ca.crt", &pki.ca))
                .build()
                .unwrap(),
        )
        .build();
    let proxy = proxy(&communicator, port);

    assert_eq!(hello(&proxy, "hello tls").await.unwrap(), "hello tls");

    // a push from the handler reaches the client over the same TLS connection, in order
    let (sender, mut pushes) = mpsc::unbounded_channel();
    proxy.set_push_handler(PushCallback(Pushes(sender)));
    timeout(WAIT, proxy.push_me(5)).await.unwrap().unwrap();
    for expected in 0..5 {
        let seq = timeout(WAIT, pushes.recv()).await.unwrap();
        assert_eq!(seq, Some(expected));
    }

    // many calls at once share the connection, each gets its own reply; one large one spans
    // many TLS records
    let calls = (0..500).map(|i| {
        let proxy = proxy.clone();
        async move { (i, hello(&proxy, &format!("call-{i}")).await) }
    });
    for (i, reply) in join_all(calls).await {
        assert_eq!(reply.unwrap(), format!("call-{i}"));
    }
    let large = "x".repeat(300_000);
    assert_eq!(hello(&proxy, &large).await.unwrap(), large);

    // the plain servant of the same server stays plain TCP
    let plain: HelloProxy = communicator
        .string_to_proxy(&format!(
            "{PLAIN_SERVANT}@tcp -h 127.0.0.1 -p {}",
            server.local_addr(PLAIN_SERVANT).unwrap().port()
        ))
        .unwrap();
    assert_eq!(hello(&plain, "plain").await.unwrap(), "plain");
    assert_eq!(server.stats().tls_handshake_failures, 0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_verifying_clients_refuses_one_without_a_certificate() {
    let pki = Pki::new("verify");
    let server = start(pki.server_verifying_clients(true), |builder| builder).await;
    let port = ssl_port(&server);

    let without = Communicator::builder().tls(pki.client()).build();
    let error = hello(&proxy(&without, port), "no cert").await.unwrap_err();
    assert_eq!(error.code(), ReturnCode::PROXY_CONNECT_ERR, "{error}");
    handshake_failures(&server, 1).await;

    let with = Communicator::builder().tls(pki.client_with_cert()).build();
    assert_eq!(hello(&proxy(&with, port), "cert").await.unwrap(), "cert");

    // a client certificate from another CA is refused too
    let stranger = Pki::new("stranger");
    let foreign = TlsClientConfig::builder()
        .ca_pem(pki.ca.clone())
        .client_cert_pem(stranger.client_cert.clone(), stranger.client_key.clone())
        .build()
        .unwrap();
    let foreign = Communicator::builder().tls(foreign).build();
    let error = hello(&proxy(&foreign, port), "foreign").await.unwrap_err();
    assert_eq!(error.code(), ReturnCode::PROXY_CONNECT_ERR, "{error}");
    handshake_failures(&server, 2).await;
    server.shutdown().await;

    // with the CA but without `verify_client`, a certificate is checked when presented only
    let server = start(pki.server_verifying_clients(false), |builder| builder).await;
    let port = ssl_port(&server);
    let without = Communicator::builder().tls(pki.client()).build();
    assert_eq!(
        hello(&proxy(&without, port), "optional").await.unwrap(),
        "optional"
    );
    let with = Communicator::builder().tls(pki.client_with_cert()).build();
    assert_eq!(
        hello(&proxy(&with, port), "presented").await.unwrap(),
        "presented"
    );
    server.shutdown().await;
}

/// Waits until the server has counted `count` failed handshakes: a refused client may see the
/// server's alert just before the server counts it.
async fn handshake_failures(server: &Server, count: u64) {
    let deadline = Instant::now() + WAIT;
    while server.stats().tls_handshake_failures < count {
        assert!(
            Instant::now() < deadline,
            "the server counted {} failed handshakes, not {count}",
            server.stats().tls_handshake_failures
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(server.stats().tls_handshake_failures, count);
}

/// The error a call failed with, as the rustls error its source is.
fn rustls_source(error: &tars_rpc::Error) -> Option<&rustls::Error> {
    error.source()?.downcast_ref::<rustls::Error>()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_refuses_a_server_it_does_not_trust() {
    let pki = Pki::new("trusted");
    let server = start(pki.server_verifying_clients(false), |builder| builder).await;
    let port = ssl_port(&server);

    let other = Pki::new("other");
    let wrong_ca = Communicator::builder().tls(other.client()).build();
    let error = hello(&proxy(&wrong_ca, port), "hi").await.unwrap_err();
    assert_eq!(error.code(), ReturnCode::PROXY_CONNECT_ERR);
    assert!(
        error.message().contains("certificate is not trusted"),
        "{error}"
    );
    assert!(
        matches!(
            rustls_source(&error),
            Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            ))
        ),
        "{:?}",
        error.source()
    );

    // the name checked is the endpoint's host unless another is given
    let by_name = pki.client().with_server_name("localhost").unwrap();
    let by_name = Communicator::builder().tls(by_name).build();
    assert_eq!(
        hello(&proxy(&by_name, port), "named").await.unwrap(),
        "named"
    );
    let wrong_name = TlsClientConfig::builder()
        .ca_pem(pki.ca.clone())
        .server_name("hello.example")
        .build()
        .unwrap();
    let wrong_name = Communicator::builder().tls(wrong_name).build();
    let error = hello(&proxy(&wrong_name, port), "hi").await.unwrap_err();
    assert!(
        matches!(
            rustls_source(&error),
            Some(rustls::Error::InvalidCertificate(_))
        ),
        "{error}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_without_a_tls_configuration_is_a_clear_error() {
    let started = Server::builder()
        .servant(
            SERVANT,
            "ssl -h 127.0.0.1 -p 0",
            HelloServant::new(HelloImp),
        )
        .start()
        .await;
    match started {
        Err(error @ ServerError::TlsNotConfigured { .. }) => {
            assert!(error.to_string().contains(SERVANT), "{error}");
        }
        other => panic!("expected TlsNotConfigured, got {:?}", other.map(|_| ())),
    }
    let pki = Pki::new("mixed");
    // one port cannot speak both (refused before anything is bound: the port may be taken)
    let mixed = Server::builder()
        .servant(
            SERVANT,
            "ssl -h 127.0.0.1 -p 1",
            HelloServant::new(HelloImp),
        )
        .servant(
            PLAIN_SERVANT,
            "tcp -h 127.0.0.1 -p 1",
            HelloServant::new(HelloImp),
        )
        .tls(pki.server_verifying_clients(false))
        .start()
        .await;
    assert!(
        matches!(&mixed, Err(ServerError::MixedTransports { ssl, tcp, .. }) if ssl == SERVANT && tcp == PLAIN_SERVANT),
        "{:?}",
        mixed.map(|_| ())
    );

    let server = start(pki.server_verifying_clients(false), |builder| builder).await;
    let plain = Communicator::new();
    let error = hello(&proxy(&plain, ssl_port(&server)), "hi")
        .await
        .unwrap_err();
    assert_eq!(error.code(), ReturnCode::PROXY_CONNECT_ERR);
    let source = error
        .source()
        .and_then(|source| source.downcast_ref::<TlsError>());
    assert!(
        matches!(source, Some(TlsError::NotConfigured { .. })),
        "{error}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_finishes_its_handshake_loses_only_its_own_connection() {
    const HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(300);
    let pki = Pki::new("silent");
    let server = start(pki.server_verifying_clients(false), |builder| {
        builder.tls_handshake_timeout(HANDSHAKE_TIMEOUT)
    })
    .await;
    let port = ssl_port(&server);

    // connects and never sends its ClientHello
    let connected_at = Instant::now();
    let mut silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    // meanwhile, another client is served
    let communicator = Communicator::builder().tls(pki.client()).build();
    let proxy = proxy(&communicator, port);
    assert_eq!(hello(&proxy, "not waiting").await.unwrap(), "not waiting");
    // the silent peer is dropped after the handshake timeout
    let mut buffer = [0u8; 64];
    let read = timeout(WAIT, silent.read(&mut buffer))
        .await
        .expect("the server drops the silent peer");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(connected_at.elapsed() >= HANDSHAKE_TIMEOUT);
    assert_eq!(server.stats().tls_handshake_failures, 1);

    // a peer speaking something else than TLS is dropped at once, and counted
    let mut garbage = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    garbage.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let sent_at = Instant::now();
    let mut answer = Vec::new();
    let _ = timeout(WAIT, garbage.read_to_end(&mut answer))
        .await
        .expect("the server drops a peer that does not speak TLS");
    assert!(sent_at.elapsed() < HANDSHAKE_TIMEOUT + WAIT);
    assert_eq!(server.stats().tls_handshake_failures, 2);

    assert_eq!(hello(&proxy, "still here").await.unwrap(), "still here");
    server.shutdown().await;
}

/// Runs `tests/node/tls_client.js` against 127.0.0.1:`port`, trusting the CA in `ca`,
/// presenting `cert` if given.
async fn node_client(
    port: u16,
    ca: &Path,
    text: &str,
    cert: Option<(&Path, &Path)>,
) -> std::process::Output {
    let mut args = vec![
        "tls_client.js".to_string(),
        "127.0.0.1".to_string(),
        port.to_string(),
        ca.display().to_string(),
        SERVANT.to_string(),
        text.to_string(),
    ];
    if let Some((cert, key)) = cert {
        args.push(cert.display().to_string());
        args.push(key.display().to_string());
    }
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        common::run_in_node_dir("node", &args)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_tls_client_calls_a_rust_tls_server() {
    common::ensure_node();
    let pki = Pki::new("node");
    let dir = TempDir::new();
    let ca = dir.write("ca.crt", &pki.ca);
    let cert = dir.write("client.crt", &pki.client_cert);
    let key = dir.write("client.key", &pki.client_key);
    let server = start(pki.server_verifying_clients(true), |builder| builder).await;
    let port = ssl_port(&server);

    let output = node_client(port, &ca, "hello from node", Some((&cert, &key))).await;
    assert!(output.status.success(), "{}", common::describe(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "ok hello from node"
    );

    // without its certificate, the server refuses it
    let output = node_client(port, &ca, "no cert", None).await;
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        common::describe(&output)
    );
    handshake_failures(&server, 1).await;
    server.shutdown().await;
}

/// The seed PushDemo protocol: a 4-byte length, a 4-byte request id, the payload.
struct LengthAndId;

fn raw_frame(request_id: i32, payload: &[u8]) -> bytes::Bytes {
    let mut frame = bytes::BytesMut::new();
    frame.extend_from_slice(&((8 + payload.len()) as u32).to_be_bytes());
    frame.extend_from_slice(&request_id.to_be_bytes());
    frame.extend_from_slice(payload);
    frame.freeze()
}

impl ClientProtocol for LengthAndId {
    fn encode_request(
        &self,
        request_id: i32,
        payload: &[u8],
        buf: &mut bytes::BytesMut,
    ) -> Result<(), ProtocolError> {
        buf.extend_from_slice(&raw_frame(request_id, payload));
        Ok(())
    }

    fn decode_response(
        &self,
        buf: &mut bytes::BytesMut,
    ) -> Result<Option<RawResponse>, ProtocolError> {
        let Some(frame) = LengthPrefixed::new(64 * 1024).split(buf)? else {
            return Ok(None);
        };
        let request_id =
            request_id_after_length(&frame).ok_or_else(|| ProtocolError::new("no request id"))?;
        Ok(Some(RawResponse { request_id, frame }))
    }
}

/// Echoes every request.
struct RawEcho;

impl RawServant for RawEcho {
    fn on_request<'a>(
        &'a self,
        current: &'a Current,
        request: bytes::Bytes,
    ) -> futures::future::BoxFuture<'a, ()> {
        Box::pin(async move {
            let _ = current.send_raw(request).await;
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_protocols_run_over_tls_too() {
    let pki = Pki::new("raw");
    let server = Server::builder()
        .raw_servant(
            "Test.PushDemo.PushObj",
            "ssl -h 127.0.0.1 -p 0",
            LengthPrefixed::new(64 * 1024),
            RawEcho,
        )
        .tls(pki.server_verifying_clients(false))
        .start()
        .await
        .unwrap();
    let port = server.local_addr("Test.PushDemo.PushObj").unwrap().port();
    let communicator = Communicator::builder().tls(pki.client()).build();
    let proxy = communicator
        .raw_proxy(&format!("ssl -h 127.0.0.1 -p {port}"), LengthAndId)
        .unwrap();
    let calls = (0..50).map(|i| {
        let proxy = proxy.clone();
        async move {
            let payload = format!("raw {i}");
            let reply = timeout(WAIT, proxy.call(payload.as_bytes()))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&reply[8..], payload.as_bytes());
        }
    });
    join_all(calls).await;
    assert_eq!(server.stats().tls_handshake_failures, 0);
    server.shutdown().await;
}
