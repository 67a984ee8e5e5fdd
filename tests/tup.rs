//! TUP (`iVersion` 2 and 3) and JSON (`iVersion` 5) requests end to end, on the servants and
//! proxies `#[tars_interface]` generates (issue 13).
//!
//! * Node `@tars/rpc` clients with `TUP_COMPLEX` (2) and `TUP_SIMPLE` (3) call the Rust server
//!   (`tests/node/tup_client.js`): every codec type (`echoAll`), in and out parameters (`mixed`).
//! * The Rust proxy switched to TUP 3, TUP 2 and JSON calls the Rust server, and in TUP calls
//!   the Node server (`tests/node/interop_servant.js`'s TUP branches).
//! * Raw requests check the replies' shapes against TarsCpp's: a TUP reply is a request packet
//!   (`Current::sendResponse`), JSON requests are built as TarsGateway builds them and their
//!   replies compared field by field with what TarsCpp's generated `onDispatch` writes.
//! * Malformed bodies get TarsCpp's codes, and the connection stays usable.
//!
//! Node.js must be installed; the packages are installed on first use with `npm ci`.

mod common;

use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Stdio};
use std::time::Duration;

use bytes::Bytes;
use common::interop::{
    check_oneway_and_timeout, check_round_trips, HelloProxy, HelloServant, InteropImp,
    InteropProxy, InteropServant,
};
use common::tars_client::TarsClient;
use common::{canonical, describe, ensure_node, node_dir, spawn_node};
use serde_json::{json, Value};
use tars_rpc::client::{Communicator, Encoding, TypedProxy};
use tars_rpc::codec::{json as tars_json, TupVersion, UniAttribute};
use tars_rpc::packet::{
    RequestPacket, ResponsePacket, ReturnCode, Version, STATUS_RESULT_CODE, STATUS_RESULT_DESC,
};
use tars_rpc::server::Server;
use tars_rpc::TarsStruct;
use tokio::time::timeout;

const INTEROP: &str = "Interop.RpcServer.InteropObj";
const HELLO: &str = "TestApp.HelloServer.HelloObj";
const WAIT: Duration = Duration::from_secs(5);

/// The `Interop` and `Hello` servants on one listener on a free port.
async fn rust_server() -> Server {
    Server::builder()
        .servant(
            INTEROP,
            "tcp -h 127.0.0.1 -p 0 -t 60000",
            InteropServant::new(InteropImp::default()),
        )
        .servant(
            HELLO,
            "tcp -h 127.0.0.1 -p 0 -t 60000",
            HelloServant::new(InteropImp::default()),
        )
        .start()
        .await
        .unwrap()
}

fn proxies(communicator: &Communicator, addr: SocketAddr) -> (HelloProxy, InteropProxy) {
    let port = addr.port();
    let hello = communicator
        .string_to_proxy(&format!("{HELLO}@tcp -h 127.0.0.1 -p {port} -t 60000"))
        .unwrap();
    let interop = communicator
        .string_to_proxy(&format!("{INTEROP}@tcp -h 127.0.0.1 -p {port} -t 60000"))
        .unwrap();
    (hello, interop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_tup_clients_call_the_rust_server() {
    ensure_node();
    let server = rust_server().await;
    let port = server.local_addr(INTEROP).unwrap().port();
    for version in ["2", "3"] {
        let run = tokio::process::Command::new("node")
            .args([
                "tup_client.js",
                version,
                &format!("{INTEROP}@tcp -h 127.0.0.1 -p {port} -t 60000"),
                &format!("{HELLO}@tcp -h 127.0.0.1 -p {port} -t 60000"),
            ])
            .current_dir(node_dir())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = timeout(Duration::from_secs(30), run)
            .await
            .expect("tup_client.js ends within 30 s")
            .expect("node runs");
        assert!(
            output.status.success() && output.stdout == b"ok\n",
            "tup_client.js {version}: {}",
            describe(&output)
        );
    }
    timeout(Duration::from_secs(15), server.shutdown())
        .await
        .expect("the server shuts down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_proxy_in_tup_and_json_calls_the_rust_server() {
    let server = rust_server().await;
    let communicator = Communicator::new();
    let (hello, interop) = proxies(&communicator, server.local_addr(INTEROP).unwrap());
    for encoding in [Encoding::Tup3, Encoding::Tup2, Encoding::Json] {
        let hello = hello.with_encoding(encoding);
        let interop = interop.with_encoding(encoding);
        assert_eq!(interop.proxy().encoding(), encoding);
        check_round_trips(&hello, &interop).await;

        // the servant's error: code and description, from the status map in TUP
        let error = timeout(WAIT, interop.fail_with(1234))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(
            (error.code(), error.message()),
            (ReturnCode(1234), "failed on purpose"),
            "{encoding:?}"
        );
        let reply = timeout(WAIT, interop.proxy().invoke_raw("noSuchFunction", &[]))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reply.ret, ReturnCode::SERVER_NO_FUNC, "{encoding:?}");
        assert_eq!(reply.version, encoding.version(), "{encoding:?}");
        timeout(WAIT, interop.proxy().ping())
            .await
            .unwrap()
            .unwrap();
        // one-way calls by name, and a timeout that keeps the encoding
        check_oneway_and_timeout(&interop).await;
    }
    // the TARS proxy it came from is unchanged
    assert_eq!(interop.proxy().encoding(), Encoding::Tars);
    check_round_trips(&hello, &interop).await;
}

/// `node rpc_server.js 0 0`, stopped when dropped.
struct NodeServer {
    child: Child,
    stdin: Option<ChildStdin>,
    ports: Vec<u16>,
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_proxy_in_tup_calls_the_node_server() {
    let (child, stdin, lines) = spawn_node(&["rpc_server.js", "0", "0"]);
    let line = lines
        .recv_timeout(Duration::from_secs(20))
        .expect("rpc_server.js prints READY within 20 s");
    let ports: Vec<u16> = line
        .strip_prefix("READY ")
        .unwrap_or_else(|| panic!("expected `READY <port> <port>`, got {line:?}"))
        .split_whitespace()
        .map(|port| port.parse().expect("a port number"))
        .collect();
    let node = NodeServer {
        child,
        stdin: Some(stdin),
        ports,
    };
    let communicator = Communicator::new();
    let interop: InteropProxy = communicator
        .string_to_proxy(&format!(
            "{INTEROP}@tcp -h 127.0.0.1 -p {} -t 60000",
            node.ports[0]
        ))
        .unwrap();
    let hello: HelloProxy = communicator
        .string_to_proxy(&format!(
            "{HELLO}@tcp -h 127.0.0.1 -p {} -t 60000",
            node.ports[1]
        ))
        .unwrap();
    for encoding in [Encoding::Tup3, Encoding::Tup2] {
        let interop = interop.with_encoding(encoding);
        check_round_trips(&hello.with_encoding(encoding), &interop).await;
        // @tars/rpc answers a function it does not have with STATUS_RESULT_CODE -3
        let reply = timeout(WAIT, interop.proxy().invoke_raw("noSuchFunction", &[]))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reply.ret, ReturnCode::SERVER_NO_FUNC, "{encoding:?}");
    }
}

/// A request of `version` for `func` with `buffer`.
fn request(
    client: &mut TarsClient,
    version: i16,
    servant: &str,
    func: &str,
    buffer: Bytes,
) -> RequestPacket {
    RequestPacket {
        version: Version(version),
        ..client.request(servant, func, buffer)
    }
}

/// Sends a TUP request and reads its reply, a request packet.
async fn tup_call(
    client: &mut TarsClient,
    version: TupVersion,
    servant: &str,
    func: &str,
    buffer: Bytes,
) -> RequestPacket {
    let request = request(client, version.value(), servant, func, buffer);
    client.send(&request).await;
    let reply = RequestPacket::decode_bytes(&client.recv_frame().await)
        .expect("a TUP reply is a request packet");
    assert_eq!(reply.request_id, request.request_id, "{reply:?}");
    reply
}

/// Sends a JSON request, as TarsGateway does: a request packet with `iVersion` 5 whose buffer
/// is the JSON text of the parameters by name.
async fn json_call(
    client: &mut TarsClient,
    servant: &str,
    func: &str,
    body: &[u8],
) -> ResponsePacket {
    let request = request(client, 5, servant, func, Bytes::copy_from_slice(body));
    client.send(&request).await;
    let reply = client.recv().await;
    assert_eq!(reply.request_id, request.request_id, "{reply:?}");
    assert_eq!(reply.version, Version::JSON, "{reply:?}");
    reply
}

fn json_of(reply: &ResponsePacket) -> Value {
    serde_json::from_slice(&reply.buffer).expect("a JSON reply body")
}

/// `testHello("x")` in TARS, which must succeed: the connection still works.
async fn tars_hello(client: &mut TarsClient) {
    let reply = client
        .call_ok(HELLO, "testHello", Bytes::from_static(b"\x16\x01x"))
        .await;
    assert_eq!(&reply.buffer[..], b"\x0c\x26\x01x");
}

#[tokio::test]
async fn tup_replies_are_shaped_as_tarscpp_shapes_them() {
    let server = rust_server().await;
    let mut client = TarsClient::connect(server.local_addr(HELLO).unwrap()).await;
    for version in [TupVersion::V3, TupVersion::V2] {
        let mut attr = UniAttribute::new(version);
        attr.put("sReq", &"hi".to_string());
        let reply = tup_call(&mut client, version, HELLO, "testHello", attr.encode()).await;
        // Current::sendResponse: the request's version, ids, servant and function; packet type
        // TARSNORMAL; no timeout; no status when the code is 0 and the description empty
        assert_eq!(reply.version, Version(version.value()));
        assert_eq!(reply.packet_type.0, 0);
        assert_eq!(
            (reply.servant_name.as_str(), reply.func_name.as_str()),
            (HELLO, "testHello")
        );
        assert_eq!(reply.timeout, 0);
        assert!(reply.status.is_empty(), "{:?}", reply.status);
        // tars2cpp's onDispatch: put("", _ret), put("tars_ret", _ret), put each out-parameter
        let values = UniAttribute::decode_bytes(&reply.buffer, version).unwrap();
        assert_eq!(values.names().collect::<Vec<_>>(), ["", "sRsp", "tars_ret"]);
        assert_eq!(values.get::<i32>("").unwrap(), 0);
        assert_eq!(values.get::<i32>("tars_ret").unwrap(), 0);
        assert_eq!(values.get::<String>("sRsp").unwrap(), "hi");

        // an error: the code and description in the status map, an empty attribute
        let mut attr = UniAttribute::new(version);
        attr.put("code", &1234i32);
        let reply = tup_call(&mut client, version, INTEROP, "failWith", attr.encode()).await;
        assert_eq!(reply.status[STATUS_RESULT_CODE], "1234");
        assert_eq!(reply.status[STATUS_RESULT_DESC], "failed on purpose");
        assert_eq!(reply.buffer, UniAttribute::new(version).encode());
    }
}

#[tokio::test]
async fn json_requests_get_the_replies_tarscpp_generated_code_writes() {
    let server = rust_server().await;
    let mut client = TarsClient::connect(server.local_addr(HELLO).unwrap()).await;

    // tars2cpp generateServantDispatch, JSONVERSION branch of the reply: each out-parameter
    // `_p->value["<name>"] = JsonOutput::writeJson(<name>)`, then
    // `_p->value["tars_ret"] = JsonOutput::writeJson(_ret)`; iRet 0 in a ResponsePacket with
    // the request's iVersion (Current::sendResponse, iVersion != TUPVERSION)
    let reply = json_call(&mut client, HELLO, "testHello", br#"{"sReq":"hello"}"#).await;
    assert_eq!(reply.ret, ReturnCode::SUCCESS);
    assert_eq!(json_of(&reply), json!({"sRsp": "hello", "tars_ret": 0}));

    // mixed: out s, v, i by name; the struct Inner as writeToJson writes it, every field
    let reply = json_call(
        &mut client,
        INTEROP,
        "mixed",
        br#"{"a":5,"b":"b","m":{"x":1,"y":2}}"#,
    )
    .await;
    assert_eq!(reply.ret, ReturnCode::SUCCESS);
    let body = json_of(&reply);
    assert_eq!(body["tars_ret"], json!(10));
    assert_eq!(body["s"], json!("b:5"));
    assert_eq!(body["v"], json!([5, 6, 7]));
    assert_eq!(body["i"], json!({"id": 8, "name": "b"}));
    assert_eq!(body.as_object().unwrap().len(), 4, "{body}");

    // echoAll over every codec type: rsp is req, field by field, as TarsJson maps them
    let req = tars_json::to_value(&canonical()).unwrap();
    let body = serde_json::to_vec(&json!({ "req": req })).unwrap();
    let reply = json_call(&mut client, INTEROP, "echoAll", &body).await;
    assert_eq!(reply.ret, ReturnCode::SUCCESS, "{}", reply.result_desc);
    let body = json_of(&reply);
    assert_eq!(body["tars_ret"], json!(7));
    let rsp = body["rsp"].as_object().unwrap();
    for (field, value) in req.as_object().unwrap() {
        assert_eq!(rsp.get(field), Some(value), "field {field}");
    }
    assert_eq!(rsp.len(), req.as_object().unwrap().len());

    // a void function without out-parameters: an empty object (TC_Json::writeValue of `_p`)
    let reply = json_call(&mut client, INTEROP, "nothing", b"{}").await;
    assert_eq!(
        (reply.ret, json_of(&reply)),
        (ReturnCode::SUCCESS, json!({}))
    );

    // a servant's error: iRet and sResultDesc, empty buffer
    let reply = json_call(&mut client, INTEROP, "failWith", br#"{"code":1234}"#).await;
    assert_eq!(
        (reply.ret, reply.result_desc.as_str(), reply.buffer.len()),
        (ReturnCode(1234), "failed on purpose", 0)
    );
    tars_hello(&mut client).await;
}

#[tokio::test]
async fn malformed_bodies_get_tarscpp_codes_and_the_connection_stays_usable() {
    let server = rust_server().await;
    let mut client = TarsClient::connect(server.local_addr(HELLO).unwrap()).await;

    // TUP, as ServantHandle::handleTarsProtocol maps what tarsAttr throws: a body or value that
    // does not decode is a TarsDecodeException (-1), an input missing a runtime_error (-99)
    let wrong_type = {
        let mut attr = UniAttribute::new(TupVersion::V3);
        attr.put("sReq", &5i32);
        attr.encode()
    };
    let cases: [(&str, Bytes, ReturnCode); 3] = [
        (
            "garbage",
            Bytes::from_static(b"\x01\x02\x03"),
            ReturnCode::SERVER_DECODE_ERR,
        ),
        (
            "no sReq",
            UniAttribute::new(TupVersion::V3).encode(),
            ReturnCode::SERVER_UNKNOWN_ERR,
        ),
        ("sReq an int", wrong_type, ReturnCode::SERVER_DECODE_ERR),
    ];
    for (what, body, code) in cases {
        let reply = tup_call(&mut client, TupVersion::V3, HELLO, "testHello", body).await;
        assert_eq!(
            reply.status.get(STATUS_RESULT_CODE),
            Some(&code.0.to_string()),
            "{what}: {reply:?}"
        );
        assert!(
            reply.status[STATUS_RESULT_DESC].contains("Hello.testHello"),
            "{what}: {reply:?}"
        );
        tars_hello(&mut client).await;
    }

    // JSON: TC_Json::getValue and readJson(..., true) throw TC_Json_Exception, a std::exception
    // (-99)
    for body in [&b"{not json"[..], b"[1]", b"{}", br#"{"sReq":5}"#, b""] {
        let reply = json_call(&mut client, HELLO, "testHello", body).await;
        assert_eq!(
            reply.ret,
            ReturnCode::SERVER_UNKNOWN_ERR,
            "{}: {reply:?}",
            String::from_utf8_lossy(body)
        );
        assert!(!reply.result_desc.is_empty());
        tars_hello(&mut client).await;
    }

    // XML (4), which TarsCpp's servants decode as TARS, and fail to
    let request = request(
        &mut client,
        4,
        HELLO,
        "testHello",
        Bytes::from_static(b"<x/>"),
    );
    client.send(&request).await;
    let reply = client.recv().await;
    assert_eq!(reply.ret, ReturnCode::SERVER_DECODE_ERR, "{reply:?}");
    tars_hello(&mut client).await;

    // an unknown function in TUP: -3 in the status map
    let reply = tup_call(
        &mut client,
        TupVersion::V3,
        HELLO,
        "noSuchFunction",
        UniAttribute::new(TupVersion::V3).encode(),
    )
    .await;
    assert_eq!(reply.status[STATUS_RESULT_CODE], "-3");
    tars_hello(&mut client).await;
}
