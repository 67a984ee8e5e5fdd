#!/usr/bin/env node
// A @tars/rpc client of a server's AdminObj (interface AdminF of
// servant/AdminF.tars), as tarsnode and the TARS web platform call it, for
// tests/node_admin.rs.
//
// Usage:
//
//   node admin_client.js <proxy> <step>...
//
// <proxy> is e.g. "AdminObj@tcp -h 127.0.0.1 -p PORT -t 60000". The steps run
// in order, over one connection; each prints one line on stdout:
//
//   notify:<command>   notify(<command>), awaited: NOTIFY <reply as JSON>
//   hold:<command>     notify(<command>), not awaited (the next step starts at
//                      once): HELD <reply as JSON> when its reply comes
//   pid                getPid(): PID <n>
//   shutdown           shutdown(): SHUTDOWN ok
//
// When every step and every held call has its reply it prints DONE and exits
// 0. A failed call prints "admin_client: FAILED: ..." on stderr and exits 1;
// bad usage exits 2; a watchdog exits 1 after 20 s.
//
// IDL (module tars):
//
//   interface AdminF {
//       void shutdown();
//       string notify(string command);
//       long getPid();
//   };

"use strict";

// first: rpc_server.js quiets @tars/rpc (environment, console to stderr, a
// harmless warning), as for its own server
require("./rpc_server.js");

var Tars       = require("@tars/rpc");
var TarsStream = require("@tars/stream");
var TarsError  = Tars.error;

var WATCHDOG_MS = 20000;

var watchdog = setTimeout(function () {
    process.stderr.write("admin_client: watchdog: not done after " + WATCHDOG_MS + " ms\n");
    process.exit(1);
}, WATCHDOG_MS);

// ---------------------------------------------------------------------------
// tars.AdminFProxy, in the shape tars2node generates it (see interop_proxy.js).
// ---------------------------------------------------------------------------

var tars = {};

tars.AdminFProxy = function () {
    this._name   = undefined;
    this._worker = undefined;
};

tars.AdminFProxy.prototype.setTimeout = function (iTimeout) {
    this._worker.timeout = iTimeout;
};

function makeError(data, message, type) {
    var error = new Error(message || "");
    error.request = data.request;
    error.response = { "costtime" : data.request ? data.request.costtime : 0 };
    if (type === TarsError.CLIENT.DECODE_ERROR) {
        error.name = "DECODE_ERROR";
        error.response.error = { "code" : type, "message" : message };
    } else {
        error.name = "RPC_ERROR";
        error.response.error = data.error;
    }
    return error;
}

function decoder(name, read) {
    return function (data) {
        try {
            var is = new TarsStream.TarsInputStream(data.response.sBuffer);
            return {
                "request" : data.request,
                "response" : {
                    "costtime" : data.request.costtime,
                    "return" : read(is),
                    "arguments" : {}
                }
            };
        } catch (e) {
            throw makeError(data, e.message, TarsError.CLIENT.DECODE_ERROR);
        }
    };
}

function failer(name) {
    return function (data) { throw makeError(data, "Call AdminF::" + name + " failed"); };
}

var $shutdown$IF = { "name" : "shutdown", "return" : "void", "arguments" : [] };
var $notify$IF = {
    "name" : "notify",
    "return" : "string",
    "arguments" : [{ "name" : "command", "class" : "string", "direction" : "in" }]
};
var $getPid$IF = { "name" : "getPid", "return" : "int64", "arguments" : [] };

tars.AdminFProxy.prototype.shutdown = function () {
    var os = new TarsStream.TarsOutputStream();
    return this._worker.tars_invoke("shutdown", os.getBinBuffer(), arguments[arguments.length - 1], $shutdown$IF)
        .then(decoder("shutdown", function () { return undefined; }), failer("shutdown"));
};

tars.AdminFProxy.prototype.notify = function (command) {
    var os = new TarsStream.TarsOutputStream();
    os.writeString(1, command);
    return this._worker.tars_invoke("notify", os.getBinBuffer(), arguments[arguments.length - 1], $notify$IF)
        .then(decoder("notify", function (is) { return is.readString(0, true, ""); }), failer("notify"));
};

tars.AdminFProxy.prototype.getPid = function () {
    var os = new TarsStream.TarsOutputStream();
    return this._worker.tars_invoke("getPid", os.getBinBuffer(), arguments[arguments.length - 1], $getPid$IF)
        .then(decoder("getPid", function (is) { return is.readInt64(0, true, 0); }), failer("getPid"));
};

// ---------------------------------------------------------------------------

function describeError(e) {
    if (e && e.response && e.response.error) {
        return "code " + e.response.error.code + ": " + e.response.error.message;
    }
    return e && e.stack ? e.stack : String(e);
}

function fail(e) {
    clearTimeout(watchdog);
    process.stderr.write("admin_client: FAILED: " + describeError(e) + "\n", function () {
        process.exit(1);
    });
}

function print(line) {
    process.stdout.write(line + "\n");
}

function main(argv) {
    if (argv.length < 2) {
        clearTimeout(watchdog);
        process.stderr.write("usage: node admin_client.js <proxy> <step>...\n");
        process.exit(2);
    }
    var communicator = Tars.Communicator.New();
    var admin = communicator.stringToProxy(tars.AdminFProxy, argv[0]);
    var held = [];
    var steps = argv.slice(1);

    function step(i) {
        if (i === steps.length) {
            return Promise.all(held);
        }
        var s = steps[i];
        var colon = s.indexOf(":");
        var kind = colon < 0 ? s : s.slice(0, colon);
        var arg = colon < 0 ? "" : s.slice(colon + 1);
        var next = function () { return step(i + 1); };
        switch (kind) {
        case "notify":
            return admin.notify(arg).then(function (r) {
                print("NOTIFY " + JSON.stringify(r.response.return));
            }).then(next);
        case "hold":
            held.push(admin.notify(arg).then(function (r) {
                print("HELD " + JSON.stringify(r.response.return));
            }));
            return next();
        case "pid":
            return admin.getPid().then(function (r) {
                print("PID " + r.response.return);
            }).then(next);
        case "shutdown":
            return admin.shutdown().then(function () {
                print("SHUTDOWN ok");
            }).then(next);
        default:
            return Promise.reject(new Error("unknown step " + JSON.stringify(s)));
        }
    }

    step(0).then(function () {
        clearTimeout(watchdog);
        communicator.destroy();
        process.stdout.write("DONE\n", function () { process.exit(0); });
    }, fail);
}

main(process.argv.slice(2));
