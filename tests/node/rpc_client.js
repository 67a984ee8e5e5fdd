#!/usr/bin/env node
// A real @tars/rpc (2.0.15) TARS client for the tars-rpc RPC interop tests.
//
// Usage:
//
//   node tests/node/rpc_client.js <scenario> <proxy-string>
//
// e.g.
//   node rpc_client.js all   "Interop.RpcServer.InteropObj@tcp -h 127.0.0.1 -p 10015 -t 60000"
//   node rpc_client.js hello "TestApp.HelloServer.HelloObj@tcp -h 127.0.0.1 -p 10016 -t 60000"
//
// Calls the server through tars2node-style proxies (interop_proxy.js) and
// checks the results. Prints "ok" to stdout and exits 0 on success; prints
// what went wrong to stderr and exits 1 on failure. Bad usage exits 2.
// A watchdog exits 1 if the run has not finished in time: 120 s for burst,
// 10 s for every other scenario.
//
// Scenarios (IDL in interop_proxy.js):
//   hello            testHello("hello") -> 0, sRsp "hello"   (Hello servant)
//   echoAll          echoAll(canonical AllTypes) -> 7, rsp == canonical
//   mixed            mixed(5, "b", {x: 1, y: 2}) -> 10, s "b:5",
//                    v [5, 6, 7], i {id: 8, name: "b"}
//   nothing          nothing() succeeds
//   unknownFunction  invoke "noSuchFunction" -> error reply with iRet -3
//   failWith         failWith(1234) -> error reply with iRet 1234 and
//                    sResultDesc "failed on purpose"
//   timeout          slow(2000) with a 300 ms call timeout -> @tars/rpc
//                    reports REQUEST_TIMEOUT (-13001) within 1.5 s
//   oneway           note("before-oneway") two-way, lastNote() ->
//                    "before-oneway"; note("hello-oneway") one-way
//                    (cPacketType 1), lastNote() -> "hello-oneway"
//                    (polled for up to 2 s)
//   all              every scenario above except hello, in that order, over
//                    one connection; stops at the first failure
//   burst            (Hello servant) 50,000 testHello("burst-<i>") calls
//                    issued at once, none awaited before the last is made,
//                    with a 60 s call timeout (proxy.setTimeout); then waits
//                    for all: every one must return 0 with sRsp equal to its
//                    own sReq. Reports the time taken and a summary of the
//                    failures (by error code) on stderr. Not part of all.
//
// INTEROP_BURST_CALLS=<n> changes the number of calls of burst (default 50000).
//
// INTEROP_OUT_PARAMS=omit makes the proxies leave out-params out of the
// requests, exactly like tars2node-generated proxies do; by default they are
// written with their default values, like TarsCpp proxies do.

"use strict";

var WATCHDOG_MS       = 10000;
var BURST_WATCHDOG_MS = 120000;

var watchdog;
var progress = "";   // what a scenario has done so far, for the watchdog's message

// (Re)starts the watchdog: exit 1 unless the run finishes within `ms`.
function armWatchdog(ms) {
    clearTimeout(watchdog);
    watchdog = setTimeout(function () {
        process.stderr.write("rpc_client: watchdog: no result after " + ms + " ms" +
                             (progress ? " (" + progress + ")" : "") + "\n");
        process.exit(1);
    }, ms);
}

armWatchdog(WATCHDOG_MS);

// @tars/monitor (loaded by @tars/rpc) trips Node's "Accessing non-existent
// property 'error' of module exports inside circular dependency" warning; it
// is harmless, so drop just that one and print any other warning as usual.
process.removeAllListeners("warning");
process.on("warning", function (w) {
    if (/inside circular dependency/.test(w.message)) return;
    process.stderr.write((w.stack || (w.name + ": " + w.message)) + "\n");
});

// See rpc_server.js: keep @tars/rpc standalone and stdout clean.
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

var TIMEOUT_SLOW_MS       = 2000;
var TIMEOUT_CALL_MS       = 300;
var TIMEOUT_DEADLINE_MS   = 1500;
var ONEWAY_POLL_MS        = 2000;
var BURST_CALLS           = 50000;
var BURST_CALL_TIMEOUT_MS = 60000;

function Failure(msg) { this.message = msg; }

function fail(msg) { throw new Failure(msg); }

function check(cond, msg) { if (!cond) fail(msg); }

// A readable description of whatever a proxy call rejected with.
function describe(e) {
    if (e instanceof Failure) return e.message;
    if (e && e.response && e.response.error) {
        return (e.name || "error") + ": " + (e.message || "") +
            " (code " + e.response.error.code + ", message " + JSON.stringify(e.response.error.message) + ")";
    }
    if (e && e.error) {
        return "rpc error: code " + e.error.code + ", message " + JSON.stringify(e.error.message);
    }
    if (e && e.stack) return e.stack;
    return util.inspect(e, { depth: 3 });
}

// Expects the promise to reject; returns the rejection, fails if it resolves.
function expectReject(promise, what) {
    return Promise.resolve(promise).then(function (r) {
        fail(what + ": expected an error, but the call succeeded: " +
             util.inspect(r && r.response, { depth: 3 }));
    }, function (e) {
        if (e instanceof Failure) throw e;
        return e;
    });
}

function interopProxy(proxyString) {
    return Tars.client.stringToProxy(Interop.InteropProxy, proxyString);
}

function helloProxy(proxyString) {
    return Tars.client.stringToProxy(TestApp.HelloProxy, proxyString);
}

function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

var scenarios = {};

scenarios.hello = async function (proxyString) {
    var prx = helloProxy(proxyString);
    var r = await prx.testHello("hello");
    check(r.response.return === 0, "testHello: return " + r.response.return + ", expected 0");
    check(r.response.arguments.sRsp === "hello",
          "testHello: sRsp " + JSON.stringify(r.response.arguments.sRsp) + ", expected \"hello\"");
};

scenarios.echoAll = async function (proxyString) {
    var prx = interopProxy(proxyString);
    var r = await prx.echoAll(Types.canonical());
    check(r.response.return === 7, "echoAll: return " + r.response.return + ", expected 7");
    var diffs = Types.compare(r.response.arguments.rsp);
    check(diffs.length === 0, "echoAll: rsp differs from the canonical value:\n  " + diffs.join("\n  "));
};

scenarios.mixed = async function (proxyString) {
    var prx = interopProxy(proxyString);
    var m = new TarsStream.Map(TarsStream.String, TarsStream.Int32);
    m.insert("x", 1);
    m.insert("y", 2);
    var r = await prx.mixed(5, "b", m);
    var out = r.response.arguments;
    check(r.response.return === 10, "mixed: return " + r.response.return + ", expected 10");
    check(out.s === "b:5", "mixed: s " + JSON.stringify(out.s) + ", expected \"b:5\"");
    var v = out.v.value;
    check(util.isDeepStrictEqual(v, [5, 6, 7]), "mixed: v " + JSON.stringify(v) + ", expected [5,6,7]");
    var i = { id: out.i.id, name: out.i.name };
    check(util.isDeepStrictEqual(i, { id: 8, name: "b" }),
          "mixed: i " + JSON.stringify(i) + ", expected {\"id\":8,\"name\":\"b\"}");
};

scenarios.nothing = async function (proxyString) {
    var prx = interopProxy(proxyString);
    var r = await prx.nothing();
    check(r && r.response, "nothing: no response object");
};

scenarios.unknownFunction = async function (proxyString) {
    var prx = interopProxy(proxyString);
    // What a proxy method does, for a function the server does not have.
    var body = new TarsStream.TarsOutputStream().getBinBuffer();
    var e = await expectReject(prx._worker.tars_invoke("noSuchFunction", body), "noSuchFunction");
    // @tars/rpc rejects with an RpcCallError: {request, response, error}.
    // `response` is the decoded ResponsePacket when the server replied.
    check(e && e.error, "noSuchFunction: unexpected rejection: " + describe(e));
    check(e.error.code === -3, "noSuchFunction: " + describe(e) + ", expected code -3 (FUNC_NOT_FOUND)");
    check(e.response && e.response.iRet === -3,
          "noSuchFunction: rejection carries no ResponsePacket with iRet -3: " + describe(e));
};

scenarios.failWith = async function (proxyString) {
    var prx = interopProxy(proxyString);
    var e = await expectReject(prx.failWith(1234), "failWith(1234)");
    check(e && e.response && e.response.error, "failWith: unexpected rejection: " + describe(e));
    check(e.response.error.code === 1234, "failWith: " + describe(e) + ", expected code 1234");
    check(e.response.error.message === "failed on purpose",
          "failWith: " + describe(e) + ", expected message \"failed on purpose\"");
};

scenarios.timeout = async function (proxyString) {
    var prx = interopProxy(proxyString);
    var saved = prx.getTimeout();
    prx.setTimeout(TIMEOUT_CALL_MS);
    var start = Date.now();
    var e;
    try {
        e = await expectReject(prx.slow(TIMEOUT_SLOW_MS), "slow(" + TIMEOUT_SLOW_MS + ")");
    } finally {
        // The ObjectProxy is shared by every proxy for this name: restore.
        prx.setTimeout(saved);
    }
    var elapsed = Date.now() - start;
    check(e && e.response && e.response.error, "slow: unexpected rejection: " + describe(e));
    check(e.response.error.code === Tars.error.CLIENT.REQUEST_TIMEOUT,
          "slow: " + describe(e) + ", expected code " + Tars.error.CLIENT.REQUEST_TIMEOUT + " (REQUEST_TIMEOUT)");
    check(elapsed <= TIMEOUT_DEADLINE_MS,
          "slow: timeout reported after " + elapsed + " ms, expected within " + TIMEOUT_DEADLINE_MS + " ms");
};

scenarios.oneway = async function (proxyString) {
    var prx = interopProxy(proxyString);

    await prx.note("before-oneway");
    var r = await prx.lastNote();
    check(r.response.return === "before-oneway",
          "lastNote after two-way note: " + JSON.stringify(r.response.return) + ", expected \"before-oneway\"");

    // One-way call: the call property {packetType: 1} (last argument) makes
    // @tars/rpc send cPacketType 1. It expects no reply and rejects the
    // promise as soon as the request is written.
    var e = await expectReject(prx.note("hello-oneway", { packetType: 1 }), "one-way note");
    check(e && e.response && e.response.error &&
          e.response.error.message === "one way call do not need response",
          "one-way note: unexpected rejection: " + describe(e));

    var deadline = Date.now() + ONEWAY_POLL_MS;
    for (;;) {
        r = await prx.lastNote();
        if (r.response.return === "hello-oneway") return;
        if (Date.now() >= deadline) {
            fail("lastNote after one-way note: " + JSON.stringify(r.response.return) + ", expected \"hello-oneway\"");
        }
        await sleep(50);
    }
};

var ALL = ["echoAll", "mixed", "nothing", "unknownFunction", "failWith", "timeout", "oneway"];

scenarios.all = async function (proxyString) {
    for (var k = 0; k < ALL.length; k++) {
        try {
            await scenarios[ALL[k]](proxyString);
        } catch (e) {
            throw new Failure(ALL[k] + ": " + describe(e));
        }
        process.stderr.write("rpc_client: " + ALL[k] + " ok\n");
    }
};

// INTEROP_BURST_CALLS, or BURST_CALLS; fails on anything but a positive integer.
function burstCalls() {
    var v = process.env.INTEROP_BURST_CALLS;
    if (v === undefined || v === "") return BURST_CALLS;
    if (!/^[0-9]+$/.test(v) || Number(v) < 1) {
        fail("INTEROP_BURST_CALLS must be a positive integer, got " + JSON.stringify(v));
    }
    return Number(v);
}

// The error code of a rejection, for the failure summary.
function codeOf(e) {
    if (e instanceof Failure) return "wrong reply";
    if (e && e.response && e.response.error) return "code " + e.response.error.code;
    if (e && e.error) return "code " + e.error.code;
    return "other";
}

scenarios.burst = async function (proxyString) {
    var n = burstCalls();
    var prx = helloProxy(proxyString);
    var saved = prx.getTimeout();
    prx.setTimeout(BURST_CALL_TIMEOUT_MS);
    var start = Date.now();
    var settled = 0, failures = 0;
    var results;
    try {
        // Every call is made before any is awaited: they all queue up on the
        // one connection (@tars/rpc queues them until it is connected, then
        // writes them all).
        var calls = new Array(n);
        for (var i = 0; i < n; i++) {
            calls[i] = (function (sReq) {
                return prx.testHello(sReq).then(function (r) {
                    check(r.response.return === 0,
                          "testHello(" + JSON.stringify(sReq) + "): return " + r.response.return + ", expected 0");
                    check(r.response.arguments.sRsp === sReq,
                          "testHello(" + JSON.stringify(sReq) + "): sRsp " +
                          JSON.stringify(r.response.arguments.sRsp) + ", expected " + JSON.stringify(sReq));
                    return null;
                }).catch(function (e) {
                    failures++;
                    return { sReq: sReq, at: Date.now() - start, error: e };
                }).then(function (r) {
                    settled++;
                    progress = "burst: " + settled + " of " + n + " calls settled, " + failures + " failed";
                    return r;
                });
            })("burst-" + i);
        }
        process.stderr.write("rpc_client: burst: " + n + " calls issued in " + (Date.now() - start) + " ms\n");
        results = await Promise.all(calls);
    } finally {
        // The ObjectProxy is shared by every proxy for this name: restore.
        prx.setTimeout(saved);
    }
    var elapsed = Date.now() - start;
    var failed = results.filter(function (r) { return r !== null; });
    if (failed.length > 0) {
        var byCode = {};
        failed.forEach(function (f) {
            var c = codeOf(f.error);
            byCode[c] = (byCode[c] || 0) + 1;
        });
        var firsts = failed.slice(0, 5).map(function (f) {
            return "  " + f.sReq + " (after " + f.at + " ms): " + describe(f.error);
        });
        fail(failed.length + " of " + n + " calls failed after " + elapsed + " ms (" +
             Object.keys(byCode).map(function (c) { return c + ": " + byCode[c]; }).join(", ") +
             "); the first ones:\n" + firsts.join("\n"));
    }
    process.stderr.write("rpc_client: burst: " + n + " replies in " + elapsed + " ms\n");
};

// ---------------------------------------------------------------------------

function finish(code, msg) {
    clearTimeout(watchdog);
    if (code === 0) {
        process.stdout.write("ok\n", function () { process.exit(0); });
    } else {
        process.stderr.write("rpc_client: FAILED: " + msg + "\n", function () { process.exit(code); });
    }
}

function main(argv) {
    var names = Object.keys(scenarios);
    if (argv.length !== 2 || !scenarios.hasOwnProperty(argv[0])) {
        process.stderr.write("usage: node rpc_client.js <scenario> <proxy-string>\n" +
                             "scenarios: " + names.join(", ") + "\n" +
                             "proxy-string: <Servant>@tcp -h <host> -p <port> [-t <ms>]\n");
        clearTimeout(watchdog);
        process.exit(2);
    }
    var scenario = argv[0], proxyString = argv[1].trim();
    if (scenario === "burst") armWatchdog(BURST_WATCHDOG_MS);
    if (proxyString.indexOf("@") <= 0) {
        finish(1, "proxy string must be \"<Servant>@tcp -h <host> -p <port>\", got " + JSON.stringify(proxyString));
        return;
    }
    var outs = process.env.INTEROP_OUT_PARAMS || "write";
    if (outs !== "write" && outs !== "omit") {
        finish(1, "INTEROP_OUT_PARAMS must be \"write\" or \"omit\", got " + JSON.stringify(outs));
        return;
    }
    Proxy.setWriteOutParams(outs === "write");

    process.on("uncaughtException", function (e) {
        finish(1, "uncaught exception (a malformed response packet makes @tars/rpc throw here): " + describe(e));
    });
    process.on("unhandledRejection", function (e) {
        finish(1, "unhandled rejection: " + describe(e));
    });

    Promise.resolve().then(function () {
        return scenarios[scenario](proxyString);
    }).then(function () {
        finish(0);
    }, function (e) {
        finish(1, scenario + ": " + describe(e));
    });
}

main(process.argv.slice(2));
