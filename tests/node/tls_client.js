#!/usr/bin/env node
// A Node TLS client for tests/tls.rs: Node's built-in `tls` module carries a
// TARS RequestPacket encoded with @tars/stream (the RequestPacket/ResponsePacket
// structs of @tars/rpc's RequestF.js), as a TarsCpp client does on an
// `ssl -h HOST -p PORT` endpoint.
//
// Usage:
//
//   node tls_client.js <host> <port> <ca.pem> <servant> <text> [<cert.pem> <key.pem>]
//
// Connects to <host>:<port> over TLS, trusting only <ca.pem> (and presenting
// <cert.pem>/<key.pem> when given), and calls
// `int testHello(string sReq, out string sRsp)` on <servant> with sReq = <text>
// (the out-parameter written with its default, as TarsCpp proxies do). Prints
// "ok <sRsp>" to stdout and exits 0 when the reply has iRet 0, return value 0
// and sRsp equal to <text>; prints what went wrong to stderr and exits 1
// otherwise (a TLS error included). Bad usage exits 2. A watchdog exits 1
// after 10 s.

"use strict";

var fs         = require("fs");
var tls        = require("tls");
var TarsStream = require("@tars/stream");
var TarsPacket = require("@tars/rpc/core/rpc-tars/RequestF.js").tars;

var WATCHDOG_MS = 10000;
var REQUEST_ID  = 7;

var watchdog = setTimeout(function () {
    fail("watchdog: no reply after " + WATCHDOG_MS + " ms");
}, WATCHDOG_MS);

function finish(code, stream, text) {
    clearTimeout(watchdog);
    stream.write(text, function () { process.exit(code); });
}

function fail(why) {
    finish(1, process.stderr, "tls_client: FAILED: " + why + "\n");
}

var args = process.argv.slice(2);
if (args.length !== 5 && args.length !== 7) {
    clearTimeout(watchdog);
    process.stderr.write("usage: node tls_client.js <host> <port> <ca.pem> <servant> <text> [<cert.pem> <key.pem>]\n");
    process.exit(2);
}
var host = args[0], port = Number(args[1]), servant = args[3], text = args[4];

// testHello's parameters: sReq at tag 1, the out-parameter sRsp at tag 2
function encodeRequest() {
    var params = new TarsStream.TarsOutputStream();
    params.writeString(1, text);
    params.writeString(2, "");

    var req = new TarsPacket.RequestPacket();
    req.iVersion     = 1;
    req.cPacketType  = 0;
    req.iMessageType = 0;
    req.iRequestId   = REQUEST_ID;
    req.sServantName = servant;
    req.sFuncName    = "testHello";
    req.sBuffer      = params.getBinBuffer();
    req.iTimeout     = 3000;

    // a TARS frame: a 4-byte big-endian length (itself included), then the packet
    var os = new TarsStream.TarsOutputStream();
    os.setHeaderLength(0);
    req._writeTo(os);
    os.setHeaderLength(os.getBinBuffer().length);
    return os.getBinBuffer().toNodeBuffer();
}

function checkReply(frame) {
    var rsp = TarsPacket.ResponsePacket._readFrom(
        new TarsStream.TarsInputStream(new TarsStream.BinBuffer(frame.slice(4))));
    if (rsp.iRequestId !== REQUEST_ID) {
        return fail("reply to request " + rsp.iRequestId + ", not " + REQUEST_ID);
    }
    if (rsp.iRet !== 0) {
        return fail("iRet " + rsp.iRet + ": " + rsp.sResultDesc);
    }
    var is = new TarsStream.TarsInputStream(rsp.sBuffer);
    var ret  = is.readInt32(0, true, 0);
    var sRsp = is.readString(2, true, "");
    if (ret !== 0 || sRsp !== text) {
        return fail("testHello returned " + ret + " with sRsp " + JSON.stringify(sRsp));
    }
    finish(0, process.stdout, "ok " + sRsp + "\n");
}

var options = {
    host: host,
    port: port,
    ca: fs.readFileSync(args[2]),
    // the test certificates are issued to 127.0.0.1 and localhost
    servername: host === "127.0.0.1" ? undefined : host,
};
if (args.length === 7) {
    options.cert = fs.readFileSync(args[5]);
    options.key  = fs.readFileSync(args[6]);
}

var input = Buffer.alloc(0);
var socket = tls.connect(options, function () {
    socket.write(encodeRequest());
});
socket.on("data", function (chunk) {
    input = Buffer.concat([input, chunk]);
    if (input.length < 4) return;
    var length = input.readUInt32BE(0);
    if (length < 4 || length > 10 * 1024 * 1024) return fail("bad frame length " + length);
    if (input.length < length) return;
    checkReply(input.slice(0, length));
});
socket.on("error", function (e) { fail("TLS connection: " + (e && e.message)); });
socket.on("end", function () { fail("the server closed the connection before replying"); });
