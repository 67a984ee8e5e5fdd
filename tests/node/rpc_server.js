#!/usr/bin/env node
// A real @tars/rpc (2.0.15) TARS server for the tars-rpc RPC interop tests.
//
// Usage:
//
//   node tests/node/rpc_server.js <interopPort> [<helloPort>]
//
// Starts two @tars/rpc servants, each on its own TCP listener bound to
// 127.0.0.1 (a @tars/rpc BindAdapter serves exactly one servant and ignores
// the request's sServantName, so two servants need two ports):
//
//   Interop.RpcServer.InteropObj   on <interopPort>
//   TestApp.HelloServer.HelloObj   on <helloPort> (default 0)
//
// A port of 0 picks a free port. Once both are listening the server prints
// exactly one line to stdout
//
//   READY <interopPort> <helloPort>
//
// and nothing else (diagnostics go to stderr). It runs until stdin reaches
// EOF/closes, or it gets SIGTERM/SIGINT/SIGHUP, and then exits 0. So spawn it
// with a piped stdin and keep the pipe open while you need the server;
// with stdin = /dev/null it exits right after READY. As a safety net it also
// exits (status 1) after INTEROP_SERVER_MAX_LIFETIME_MS milliseconds
// (default 600000; 0 disables). If a port cannot be bound it prints an error
// to stderr and exits 1 without printing READY.
//
// INTEROP_LOG=1 logs every dispatched request (header fields and body hex)
// to stderr.
//
// Servant behaviour (IDL in interop_proxy.js):
//   echoAll(req, out rsp)        rsp = req, returns 7
//   mixed(a, out s, b, out v, m, out i)
//                                s = b + ":" + a, v = [a, a+1, a+2],
//                                i = {id: a + sum(m values), name: b},
//                                returns a * 2
//   nothing()                    empty reply
//   slow(ms)                     replies ms after ms milliseconds
//   note(msg)                    remembers msg (empty reply unless one-way)
//   lastNote()                   returns the remembered msg ("" if none)
//   failWith(code)               error reply: iRet = code,
//                                sResultDesc = "failed on purpose",
//                                empty sBuffer
//   testHello(sReq, out sRsp)    sRsp = sReq, returns 0
//   tars_ping                    returns 0 (both servants)
//   anything else                error reply iRet -3 (FUNC_NOT_FOUND),
//                                sResultDesc ""

"use strict";

// @tars/rpc changes behaviour when these are set (reads a TARS config file,
// reports to the stat service); a standalone test server wants neither.
delete process.env.TARS_CONFIG;
delete process.env.TARS_MONITOR;

// @tars/monitor (loaded by @tars/rpc) trips Node's "Accessing non-existent
// property 'error' of module exports inside circular dependency" warning; it
// is harmless, so drop just that one and print any other warning as usual.
process.removeAllListeners("warning");
process.on("warning", function (w) {
    if (/inside circular dependency/.test(w.message)) return;
    process.stderr.write((w.stack || (w.name + ": " + w.message)) + "\n");
});

// stdout carries only the READY line: route all console output to stderr.
["log", "info", "warn", "debug", "trace"].forEach(function (k) {
    console[k] = function () { console.error.apply(console, arguments); };
});

var Tars       = require("@tars/rpc");
var TarsStream = require("@tars/stream");
var Servant    = require("./interop_servant.js");

var Interop = Servant.Interop;
var TestApp = Servant.TestApp;

var INTEROP_SERVANT = "Interop.RpcServer.InteropObj";
var HELLO_SERVANT   = "TestApp.HelloServer.HelloObj";
var HOST            = "127.0.0.1";
// -t is the server-side idle timeout of a connection, in ms.
var IDLE_TIMEOUT_MS = 60000;

function log(msg) {
    process.stderr.write("rpc_server: " + msg + "\n");
}

// ---------------------------------------------------------------------------
// Servant implementations (what a developer writes into tars2node's
// "<File>Imp.js").
// ---------------------------------------------------------------------------

var lastNoteValue = "";

Interop.InteropImp.prototype.echoAll = function (current, req, rsp) {
    rsp = req;
    current.sendResponse(7, rsp);
};

Interop.InteropImp.prototype.mixed = function (current, a, s, b, v, m, i) {
    s = b + ":" + a;
    v = new TarsStream.List(TarsStream.Int32);
    v.push(a);
    v.push(a + 1);
    v.push(a + 2);
    var sum = 0;
    m.forEach(function (key, value) { sum += value; });
    i = new Interop.Inner();
    i.id = a + sum;
    i.name = b;
    current.sendResponse(a * 2, s, v, i);
};

Interop.InteropImp.prototype.nothing = function (current) {
    current.sendResponse();
};

Interop.InteropImp.prototype.slow = function (current, ms) {
    setTimeout(function () { current.sendResponse(ms); }, Math.max(0, ms));
};

Interop.InteropImp.prototype.note = function (current, msg) {
    lastNoteValue = msg;
    current.sendResponse();
};

Interop.InteropImp.prototype.lastNote = function (current) {
    current.sendResponse(lastNoteValue);
};

Interop.InteropImp.prototype.failWith = function (current, code) {
    current.sendErrorResponse(code, "failed on purpose");
};

TestApp.HelloImp.prototype.testHello = function (current, sReq, sRsp) {
    sRsp = sReq;
    current.sendResponse(0, sRsp);
};

// Optional request logging (INTEROP_LOG=1).
function withRequestLog(Imp, servant) {
    var dispatch = Imp.prototype.onDispatch;
    Imp.prototype.onDispatch = function (current, funcName, binBuffer) {
        var r = current.getRequest();
        log(servant + " got " + JSON.stringify({
            iVersion: r.iVersion,
            cPacketType: r.cPacketType,
            iMessageType: r.iMessageType,
            iRequestId: r.iRequestId,
            sServantName: r.sServantName,
            sFuncName: r.sFuncName,
            iTimeout: r.iTimeout,
            context: r.context.toObject(),
            status: r.status.toObject(),
            sBuffer: binBuffer.toNodeBuffer().toString("hex")
        }));
        return dispatch.call(this, current, funcName, binBuffer);
    };
}

// ---------------------------------------------------------------------------
// Server plumbing
// ---------------------------------------------------------------------------

function usage() {
    process.stderr.write("usage: node rpc_server.js <interopPort> [<helloPort>]   (0 = pick a free port)\n");
    process.exit(2);
}

function parsePort(s) {
    if (!/^[0-9]+$/.test(s)) return -1;
    var p = parseInt(s, 10);
    return (p >= 0 && p <= 65535) ? p : -1;
}

// Starts one @tars/rpc server hosting `servant` on HOST:port and resolves
// with the bound port. Uses the public API (createServer / BindAdapterOption /
// start); the bound port and bind errors are only reachable through the
// adapter's listener, which @tars/rpc does not expose (nor does it handle
// its 'error' event).
function startServant(servant, port, Imp) {
    return new Promise(function (resolve, reject) {
        var option = new Tars.server.BindAdapterOption();
        option.endpoint     = "tcp -h " + HOST + " -p " + port + " -t " + IDLE_TIMEOUT_MS;
        option.name         = servant + "Adapter";
        option.servant      = servant;
        option.protocolName = "tars";
        option.handleImp    = Imp;

        var svr = Tars.server.createServer();
        svr.start(option);

        var adapter  = svr._adapters[0];
        var listener = adapter && adapter._netthread && adapter._netthread._listener;
        if (!listener) {
            reject(new Error("cannot find the listener of " + servant + " (unexpected @tars/rpc internals)"));
            return;
        }
        listener.once("error", function (e) {
            reject(new Error("cannot listen on " + HOST + ":" + port + " for " + servant + ": " + e.message));
        });
        listener.once("listening", function () {
            listener.on("error", function (e) { log(servant + " listener error: " + e.message); });
            resolve({ server: svr, port: listener.address().port });
        });
    });
}

function main(argv) {
    if (argv.length < 1 || argv.length > 2) usage();
    var interopPort = parsePort(argv[0]);
    var helloPort   = argv.length > 1 ? parsePort(argv[1]) : 0;
    if (interopPort < 0 || helloPort < 0) usage();

    if (process.env.INTEROP_LOG === "1") {
        withRequestLog(Interop.InteropImp, INTEROP_SERVANT);
        withRequestLog(TestApp.HelloImp, HELLO_SERVANT);
    }

    var servers = [];
    var stopping = false;
    function shutdown(why, code) {
        if (stopping) return;
        stopping = true;
        log("stopping (" + why + ")");
        servers.forEach(function (s) {
            try { s.stop(); } catch (e) { /* exiting anyway */ }
        });
        process.exit(code);
    }

    process.on("uncaughtException", function (e) {
        log("uncaught exception: " + (e && e.stack ? e.stack : String(e)));
        shutdown("uncaught exception", 1);
    });
    ["SIGTERM", "SIGINT", "SIGHUP"].forEach(function (sig) {
        process.on(sig, function () { shutdown(sig, 0); });
    });

    var lifetime = parseInt(process.env.INTEROP_SERVER_MAX_LIFETIME_MS || "600000", 10);
    if (lifetime > 0) {
        setTimeout(function () {
            shutdown("max lifetime of " + lifetime + " ms reached", 1);
        }, lifetime).unref();
    }

    var boundInterop = 0;
    startServant(INTEROP_SERVANT, interopPort, Interop.InteropImp).then(function (a) {
        servers.push(a.server);
        boundInterop = a.port;
        return startServant(HELLO_SERVANT, helloPort, TestApp.HelloImp);
    }).then(function (h) {
        servers.push(h.server);
        process.stdout.write("READY " + boundInterop + " " + h.port + "\n");
        log(INTEROP_SERVANT + " on " + HOST + ":" + boundInterop + ", " +
            HELLO_SERVANT + " on " + HOST + ":" + h.port);

        // Stop when stdin closes (the parent went away or closed the pipe).
        process.stdin.on("end", function () { shutdown("stdin closed", 0); });
        process.stdin.on("close", function () { shutdown("stdin closed", 0); });
        process.stdin.on("error", function () { shutdown("stdin error", 0); });
        process.stdin.resume();
    }).catch(function (e) {
        log(e.message);
        shutdown("startup failed", 1);
    });
}

// What every peer that serves until its parent lets go does: it exits 1 after
// its maximum lifetime (the environment variable `envName`, in ms, 600000 if
// unset, 0 for none) and on an uncaught exception, saying why through `say`.
function guardPeer(envName, say) {
    var lifetime = parseInt(process.env[envName] || "600000", 10);
    if (lifetime > 0) {
        setTimeout(function () {
            say("max lifetime of " + lifetime + " ms reached");
            process.exit(1);
        }, lifetime).unref();
    }
    process.on("uncaughtException", function (e) {
        say("uncaught exception: " + (e && e.stack ? e.stack : String(e)));
        process.exit(1);
    });
}

// Runs `stop` when stdin ends, closes or fails: the parent went away or closed
// the pipe.
function onStdinClosed(stop) {
    process.stdin.on("end", stop);
    process.stdin.on("close", stop);
    process.stdin.on("error", stop);
    process.stdin.resume();
}

module.exports.startServant = startServant;
module.exports.guardPeer = guardPeer;
module.exports.onStdinClosed = onStdinClosed;

if (require.main === module) {
    main(process.argv.slice(2));
}
