#!/usr/bin/env node
// A TARS registry's query servant (tars.tarsregistry.QueryObj, interface
// QueryF of servant/QueryF.tars) built on @tars/rpc and the EndpointF codec of
// @tars/registry: a real peer for tars_rpc::registry::Locator. What it answers
// is set over stdin, so a test can change the lists while it runs.
//
// Usage:
//
//   node registry_server.js [<port>]      (0, the default, picks a free port)
//
// Serves QueryF on 127.0.0.1:<port>, then prints "READY <port>" on stdout.
// It reads one JSON command per line on stdin and answers each with one line
// on stdout ("OK", or "CALLS ..." for "calls", or "ERROR <message>" for a
// command it does not understand); nothing else goes to stdout. It exits 0
// when stdin closes, and 1 after REGISTRY_SERVER_MAX_LIFETIME_MS (default
// 600000; 0 disables).
//
// Commands (an endpoint EP is an EndpointF as an object, e.g.
// {"host":"127.0.0.1","port":18015,"istcp":1,"setId":"app.sz.1"}; fields left
// out are 0 or ""):
//
//   {"cmd":"set","object":O,"active":[EP...],"inactive":[EP...]}
//       findObjectByIdInSameGroup, findObjectById4Any, findObjectById4All and
//       findObjectByIdInSameStation of O answer 0 with these lists;
//       findObjectById answers the active list.
//   {"cmd":"setSet","object":O,"setId":S,"ret":R,"active":[..],"inactive":[..]}
//       findObjectByIdInSameSet(O, S) answers R (default 0) with these lists.
//       A set id never set answers -1 with empty lists, as tarsregistry does
//       for a set that has no endpoint of the object.
//   {"cmd":"fail","object":O,"ret":R}
//       every lookup of O answers R with empty lists.
//   {"cmd":"error","object":O,"code":C,"message":M}
//       every call about O gets an error reply: iRet C, sResultDesc M.
//   {"cmd":"raw","object":O,"hex":H}
//       every call about O is answered with sBuffer = the bytes H, whatever
//       they are (malformed replies).
//   {"cmd":"silent","object":O}
//       calls about O are never answered.
//   {"cmd":"forget","object":O}
//       O is unknown again: every lookup answers 0 with empty lists.
//   {"cmd":"calls"}
//       prints "CALLS <function>:<id>[:<arg>] ..." for the calls received
//       since the last "calls" (arg: the set id or station), and forgets them.
//
// An object never set is unknown: tarsregistry answers 0 and empty lists.
// registerChange, registerQuery and getLocker are not served (-3), as by an
// open-source tarsregistry whose QueryF predates them.

"use strict";

// first: rpc_server.js quiets @tars/rpc (environment, console, a warning)
var peer         = require("./rpc_server.js");
var startServant = peer.startServant;
var guardPeer    = peer.guardPeer;
var onStdinClosed = peer.onStdinClosed;
var readline     = require("readline");
var TarsStream   = require("@tars/stream");
var TarsError    = require("@tars/rpc").error;
var EndpointF    = require("@tars/registry/EndpointFTars.js").tars.EndpointF;

var QUERY_OBJ = "tars.tarsregistry.QueryObj";

function log(msg) {
    process.stderr.write("registry_server: " + msg + "\n");
}

function endpoints(list) {
    return TarsStream.List(EndpointF).readFromObject(list || []);
}

// ---------------------------------------------------------------------------
// What it answers: per object, set by the commands.
// ---------------------------------------------------------------------------

var objects = {};   // object -> {active, inactive, sets: {setId: {ret, active, inactive}}, fail, error, raw, silent}
var calls = [];

function objectOf(name) {
    if (!objects[name]) objects[name] = { active: [], inactive: [], sets: {} };
    return objects[name];
}

// Answers a call about `id` with the lists `pick(object)` chooses, unless the
// object is set to fail, error, reply raw bytes or stay silent.
function answer(current, id, pick) {
    var object = objects[id] || { active: [], inactive: [], sets: {} };
    if (object.silent) return;
    if (object.error) {
        current.sendErrorResponse(object.error.code, object.error.message);
        return;
    }
    if (object.raw !== undefined) {
        current.doResponse(new TarsStream.BinBuffer(Buffer.from(object.raw, "hex")));
        return;
    }
    if (object.fail !== undefined) {
        current.sendResponse(object.fail, endpoints([]), endpoints([]));
        return;
    }
    var found = pick(object);
    current.sendResponse(found.ret, endpoints(found.active), endpoints(found.inactive));
}

function all(object) {
    return { ret: 0, active: object.active, inactive: object.inactive };
}

// ---------------------------------------------------------------------------
// tars.QueryFImp: dispatch in the shape tars2node generates (--server), by
// hand; the implementation is `answer` above.
// ---------------------------------------------------------------------------

var QueryFImp = function () {
    this._name   = undefined;
    this._worker = undefined;
};

QueryFImp.prototype.initialize = function () {};

QueryFImp.prototype.onDispatch = function (current, funcName, binBuffer) {
    if ("__" + funcName in this) {
        return this["__" + funcName](current, binBuffer);
    }
    return TarsError.SERVER.FUNC_NOT_FOUND;
};

QueryFImp.prototype.__tars_ping = function (current) {
    var os = new TarsStream.TarsOutputStream();
    os.writeInt32(0, 0);
    current.doResponse(os.getBinBuffer());
    return TarsError.SUCCESS;
};

// vector<EndpointF> findObjectById(string id)
QueryFImp.prototype.__findObjectById = function (current, binBuffer) {
    var id = new TarsStream.TarsInputStream(binBuffer).readString(1, true, "");
    calls.push("findObjectById:" + id);
    current.sendResponse = function (_ret, activeEp) {
        var os = new TarsStream.TarsOutputStream();
        os.writeList(0, activeEp);
        this.doResponse(os.getBinBuffer());
    };
    answer(current, id, all);
    return TarsError.SUCCESS;
};

// int <function>(string id, out vector<EndpointF> activeEp, out vector<EndpointF> inactiveEp)
function listsAt(activeTag) {
    return function (_ret, activeEp, inactiveEp) {
        var os = new TarsStream.TarsOutputStream();
        os.writeInt32(0, _ret);
        os.writeList(activeTag, activeEp);
        os.writeList(activeTag + 1, inactiveEp);
        this.doResponse(os.getBinBuffer());
    };
}

["findObjectById4Any", "findObjectById4All", "findObjectByIdInSameGroup"].forEach(function (func) {
    QueryFImp.prototype["__" + func] = function (current, binBuffer) {
        var id = new TarsStream.TarsInputStream(binBuffer).readString(1, true, "");
        calls.push(func + ":" + id);
        current.sendResponse = listsAt(2);
        answer(current, id, all);
        return TarsError.SUCCESS;
    };
});

// int findObjectByIdInSameStation(string id, string sStation, out activeEp, out inactiveEp)
QueryFImp.prototype.__findObjectByIdInSameStation = function (current, binBuffer) {
    var is = new TarsStream.TarsInputStream(binBuffer);
    var id = is.readString(1, true, "");
    var station = is.readString(2, true, "");
    calls.push("findObjectByIdInSameStation:" + id + ":" + station);
    current.sendResponse = listsAt(3);
    answer(current, id, all);
    return TarsError.SUCCESS;
};

// int findObjectByIdInSameSet(string id, string setId, out activeEp, out inactiveEp)
QueryFImp.prototype.__findObjectByIdInSameSet = function (current, binBuffer) {
    var is = new TarsStream.TarsInputStream(binBuffer);
    var id = is.readString(1, true, "");
    var setId = is.readString(2, true, "");
    calls.push("findObjectByIdInSameSet:" + id + ":" + setId);
    current.sendResponse = listsAt(3);
    answer(current, id, function (object) {
        return object.sets[setId] || { ret: -1, active: [], inactive: [] };
    });
    return TarsError.SUCCESS;
};

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

function command(line) {
    var c = JSON.parse(line);
    var object = c.object !== undefined ? objectOf(c.object) : undefined;
    switch (c.cmd) {
    case "set":
        object.active = c.active || [];
        object.inactive = c.inactive || [];
        return "OK";
    case "setSet":
        object.sets[c.setId] = { ret: c.ret || 0, active: c.active || [], inactive: c.inactive || [] };
        return "OK";
    case "fail":
        object.fail = c.ret;
        return "OK";
    case "error":
        object.error = { code: c.code, message: c.message || "" };
        return "OK";
    case "raw":
        object.raw = c.hex;
        return "OK";
    case "silent":
        object.silent = true;
        return "OK";
    case "forget":
        delete objects[c.object];
        return "OK";
    case "calls":
        var seen = calls;
        calls = [];
        return ("CALLS " + seen.join(" ")).trim();
    default:
        throw new Error("unknown command " + JSON.stringify(c.cmd));
    }
}

function main(argv) {
    var port = argv.length > 0 ? parseInt(argv[0], 10) : 0;
    if (argv.length > 1 || !(port >= 0 && port <= 65535)) {
        process.stderr.write("usage: node registry_server.js [<port>]\n");
        process.exit(2);
    }
    guardPeer("REGISTRY_SERVER_MAX_LIFETIME_MS", log);

    startServant(QUERY_OBJ, port, QueryFImp).then(function (started) {
        process.stdout.write("READY " + started.port + "\n");
        var lines = readline.createInterface({ input: process.stdin });
        lines.on("line", function (line) {
            if (line.trim() === "") return;
            var reply;
            try {
                reply = command(line);
            } catch (e) {
                reply = "ERROR " + e.message;
            }
            process.stdout.write(reply + "\n");
        });
        lines.on("close", function () {
            try { started.server.stop(); } catch (e) { /* exiting anyway */ }
            process.exit(0);
        });
    }).catch(function (e) {
        log(e.message);
        process.exit(1);
    });
}

main(process.argv.slice(2));
