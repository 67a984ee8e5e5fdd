#!/usr/bin/env node
// A real @tars/rpc (2.0.15) client calling the tars-rpc server over TUP, driven by
// tests/tup.rs.
//
// Usage:
//
//   node tup_client.js <2|3> <interop-proxy-string> <hello-proxy-string>
//
// The version is @tars/stream's TUP_COMPLEX (2) or TUP_SIMPLE (3), set on the proxies with
// `setVersion` as a tars2node-generated proxy is switched to TUP. Each call goes through
// `ObjectProxy.tup_invoke(name, UniAttribute, property)`, what tars2node's TUP encoders ($PE)
// hand to @tars/rpc: a RequestPacket with that iVersion whose sBuffer is the attribute of the
// in-parameters by name. @tars/rpc reads the reply as a RequestPacket (tars-client.js `feed`),
// its result code from the status STATUS_RESULT_CODE, and decodes its sBuffer as a
// UniAttribute; the values are read as tars2node's TUP decoders ($PD) read them: the return
// value under "", the out-parameters by name.
//
// In TUP 2 values are keyed by type name too. @tars/stream names lists "List<...>"; TarsCpp,
// and tars-rpc, "list<...>": the list types here carry TarsCpp's name, as a client of a TarsCpp
// server must.
//
// Calls, in order, on one connection per servant:
//   testHello("hello")                         -> 0, sRsp "hello"
//   echoAll(canonical AllTypes)                -> 7, rsp == canonical
//   mixed(5, "b", {x: 1, y: 2})                -> 10, s "b:5", v [5,6,7], i {8, "b"}
//   nothing()                                  -> succeeds
//   failWith(1234)                             -> rejected with code 1234
//   noSuchFunction                             -> rejected with code -3
//   testHello("again")                         -> 0, sRsp "again" (the connection still works)
//
// Prints "ok" and exits 0 on success; prints what went wrong to stderr and exits 1. Exits 2 on
// bad usage. A watchdog exits 1 after 10 s.

"use strict";

var watchdog = setTimeout(function () {
    process.stderr.write("tup_client: watchdog: no result after 10000 ms\n");
    process.exit(1);
}, 10000);

// as rpc_client.js: quiet @tars/monitor's circular-dependency warning, keep stdout clean
process.removeAllListeners("warning");
process.on("warning", function (w) {
    if (/inside circular dependency/.test(w.message)) return;
    process.stderr.write((w.stack || (w.name + ": " + w.message)) + "\n");
});
delete process.env.TARS_CONFIG;
delete process.env.TARS_MONITOR;
["log", "info", "warn", "debug", "trace"].forEach(function (k) {
    console[k] = function () { console.error.apply(console, arguments); };
});

var util       = require("util");
var Tars       = require("@tars/rpc");
var TarsStream = require("@tars/stream");
var Types      = require("./interop_types.js");
var Proxy      = require("./interop_proxy.js");

var Interop = Proxy.Interop;
var TestApp = Proxy.TestApp;

function Failure(msg) { this.message = msg; }
function fail(msg) { throw new Failure(msg); }
function check(cond, msg) { if (!cond) fail(msg); }

function describe(e) {
    if (e instanceof Failure) return e.message;
    if (e && e.error) return "rpc error: code " + e.error.code + ", message " + JSON.stringify(e.error.message);
    if (e && e.stack) return e.stack;
    return util.inspect(e, { depth: 3 });
}

var version = Number(process.argv[2]);
var interopString = process.argv[3];
var helloString = process.argv[4];
if ((version !== TarsStream.Tup.TUP_COMPLEX && version !== TarsStream.Tup.TUP_SIMPLE) ||
    !interopString || !helloString) {
    process.stderr.write("usage: node tup_client.js <2|3> <interop-proxy> <hello-proxy>\n");
    process.exit(2);
}

var interop = Tars.client.stringToProxy(Interop.InteropProxy, interopString);
var hello = Tars.client.stringToProxy(TestApp.HelloProxy, helloString);
interop.setVersion(version);
hello.setVersion(version);

// A list type with TarsCpp's type name.
function listOf(proto) {
    var list = TarsStream.List(proto);
    list._classname = "list<" + proto._classname + ">";
    return list;
}

function attribute() {
    var attr = new TarsStream.UniAttribute();
    attr.tupVersion = version;
    return attr;
}

// tup_invoke, resolving to the reply's attribute.
async function call(prx, name, attr) {
    var data = await prx._worker.tup_invoke(name, attr, {});
    check(data && data.response && data.response.tup, name + ": no TUP reply attribute");
    check(data.response.iVersion === version,
          name + ": reply iVersion " + data.response.iVersion + ", expected " + version);
    return data.response.tup;
}

async function expectCode(promise, what, code) {
    var outcome;
    try {
        await promise;
        outcome = "succeeded";
    } catch (e) {
        if (e instanceof Failure) throw e;
        check(e && e.error, what + ": unexpected rejection: " + describe(e));
        check(e.error.code === code, what + ": " + describe(e) + ", expected code " + code);
        return;
    }
    fail(what + ": expected code " + code + ", but the call " + outcome);
}

async function testHello(text) {
    var attr = attribute();
    attr.writeString("sReq", text);
    var tup = await call(hello, "testHello", attr);
    check(tup.readInt32("") === 0, "testHello: return " + tup.readInt32("") + ", expected 0");
    var sRsp = tup.readString("sRsp");
    check(sRsp === text, "testHello: sRsp " + JSON.stringify(sRsp) + ", expected " + JSON.stringify(text));
}

async function main() {
    await testHello("hello");

    var attr = attribute();
    attr.writeStruct("req", Types.canonical());
    var tup = await call(interop, "echoAll", attr);
    check(tup.readInt32("") === 7, "echoAll: return " + tup.readInt32("") + ", expected 7");
    var diffs = Types.compare(tup.readStruct("rsp", Interop.AllTypes));
    check(diffs.length === 0, "echoAll: rsp differs from the canonical value:\n  " + diffs.join("\n  "));

    attr = attribute();
    var m = TarsStream.Map(TarsStream.String, TarsStream.Int32);
    m.insert("x", 1);
    m.insert("y", 2);
    attr.writeInt32("a", 5);
    attr.writeString("b", "b");
    attr.writeMap("m", m);
    tup = await call(interop, "mixed", attr);
    check(tup.readInt32("") === 10, "mixed: return " + tup.readInt32("") + ", expected 10");
    var s = tup.readString("s");
    check(s === "b:5", "mixed: s " + JSON.stringify(s) + ", expected \"b:5\"");
    var v = tup.readList("v", listOf(TarsStream.Int32)).value;
    check(util.isDeepStrictEqual(v, [5, 6, 7]), "mixed: v " + JSON.stringify(v) + ", expected [5,6,7]");
    var inner = tup.readStruct("i", Interop.Inner);
    var i = { id: inner.id, name: inner.name };
    check(util.isDeepStrictEqual(i, { id: 8, name: "b" }), "mixed: i " + JSON.stringify(i));

    await call(interop, "nothing", attribute());

    attr = attribute();
    attr.writeInt32("code", 1234);
    await expectCode(call(interop, "failWith", attr), "failWith(1234)", 1234);
    await expectCode(call(interop, "noSuchFunction", attribute()), "noSuchFunction", -3);

    await testHello("again");
}

main().then(function () {
    clearTimeout(watchdog);
    process.stdout.write("ok\n");
    process.exit(0);
}, function (e) {
    process.stderr.write("tup_client: " + describe(e) + "\n");
    process.exit(1);
});
