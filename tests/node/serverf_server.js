#!/usr/bin/env node
// A stand-in tarsnode for tests/node_admin.rs: the servant
// tars.tarsnode.ServerObj (interface ServerF of servant/NodeF.tars) on
// @tars/rpc, with ServerInfo decoded by @tars/stream, that prints every call
// it receives.
//
// Usage:
//
//   node serverf_server.js [<port>]      (0, the default, picks a free port)
//
// Serves ServerF on 127.0.0.1:<port>, then prints "READY <port>" on stdout,
// then one line per call received, as it arrives:
//
//   KEEPALIVE {"application":A,"serverName":S,"pid":P,"adapter":D}
//   KEEPACTIVING {"application":A,"serverName":S,"pid":P,"adapter":D}
//   VERSION {"app":A,"serverName":S,"version":V}
//
// Each is answered 0 (getLatestKeepAliveTime: the time now, in seconds).
// Nothing else goes to stdout. It exits 0 when stdin closes, and 1 after
// SERVERF_SERVER_MAX_LIFETIME_MS (default 600000; 0 disables).
//
// IDL (module tars):
//
//   struct ServerInfo {
//       0 require string application;
//       1 require string serverName;
//       2 require int pid;
//       3 optional string adapter;
//   };
//   interface ServerF {
//       int keepAlive(ServerInfo serverInfo);
//       int keepActiving(ServerInfo serverInfo);
//       int reportVersion(string app, string serverName, string version);
//       unsigned int getLatestKeepAliveTime();
//   };

"use strict";

// first: rpc_server.js quiets @tars/rpc (environment, console, a warning)
var peer         = require("./rpc_server.js");
var startServant = peer.startServant;
var guardPeer    = peer.guardPeer;
var onStdinClosed = peer.onStdinClosed;
var TarsStream   = require("@tars/stream");
var TarsError    = require("@tars/rpc").error;

var SERVER_OBJ = "tars.tarsnode.ServerObj";

function log(msg) {
    process.stderr.write("serverf_server: " + msg + "\n");
}

// ---------------------------------------------------------------------------
// tars.ServerInfo, in the shape tars2node generates it.
// ---------------------------------------------------------------------------

var tars = {};

tars.ServerInfo = function () {
    this.application = "";
    this.serverName = "";
    this.pid = 0;
    this.adapter = "";
    this._classname = "tars.ServerInfo";
};
tars.ServerInfo._classname = "tars.ServerInfo";
tars.ServerInfo._write = function (os, tag, value) { os.writeStruct(tag, value); };
tars.ServerInfo._read  = function (is, tag, def) { return is.readStruct(tag, true, def); };
tars.ServerInfo._readFrom = function (is) {
    var tmp = new tars.ServerInfo();
    tmp.application = is.readString(0, true, "");
    tmp.serverName = is.readString(1, true, "");
    tmp.pid = is.readInt32(2, true, 0);
    tmp.adapter = is.readString(3, false, "");
    return tmp;
};
tars.ServerInfo.prototype._writeTo = function (os) {
    os.writeString(0, this.application);
    os.writeString(1, this.serverName);
    os.writeInt32(2, this.pid);
    os.writeString(3, this.adapter);
};
tars.ServerInfo.prototype.toObject = function () {
    return {
        "application" : this.application,
        "serverName" : this.serverName,
        "pid" : this.pid,
        "adapter" : this.adapter
    };
};

// ---------------------------------------------------------------------------
// tars.ServerFImp: dispatch in the shape tars2node generates (--server), by
// hand.
// ---------------------------------------------------------------------------

var ServerFImp = function () {
    this._name   = undefined;
    this._worker = undefined;
};

ServerFImp.prototype.initialize = function () {};

ServerFImp.prototype.onDispatch = function (current, funcName, binBuffer) {
    if ("__" + funcName in this) {
        return this["__" + funcName](current, binBuffer);
    }
    return TarsError.SERVER.FUNC_NOT_FOUND;
};

ServerFImp.prototype.__tars_ping = function (current) {
    var os = new TarsStream.TarsOutputStream();
    os.writeInt32(0, 0);
    current.doResponse(os.getBinBuffer());
    return TarsError.SUCCESS;
};

function answerInt32(current, ret) {
    var os = new TarsStream.TarsOutputStream();
    os.writeInt32(0, ret);
    current.doResponse(os.getBinBuffer());
}

function event(name, value) {
    process.stdout.write(name + " " + JSON.stringify(value) + "\n");
}

// int keepAlive(ServerInfo serverInfo)
ServerFImp.prototype.__keepAlive = function (current, binBuffer) {
    var is = new TarsStream.TarsInputStream(binBuffer);
    var info = is.readStruct(1, true, tars.ServerInfo);
    event("KEEPALIVE", info.toObject());
    answerInt32(current, 0);
    return TarsError.SUCCESS;
};

// int keepActiving(ServerInfo serverInfo)
ServerFImp.prototype.__keepActiving = function (current, binBuffer) {
    var is = new TarsStream.TarsInputStream(binBuffer);
    var info = is.readStruct(1, true, tars.ServerInfo);
    event("KEEPACTIVING", info.toObject());
    answerInt32(current, 0);
    return TarsError.SUCCESS;
};

// int reportVersion(string app, string serverName, string version)
ServerFImp.prototype.__reportVersion = function (current, binBuffer) {
    var is = new TarsStream.TarsInputStream(binBuffer);
    event("VERSION", {
        "app" : is.readString(1, true, ""),
        "serverName" : is.readString(2, true, ""),
        "version" : is.readString(3, true, "")
    });
    answerInt32(current, 0);
    return TarsError.SUCCESS;
};

// unsigned int getLatestKeepAliveTime()
ServerFImp.prototype.__getLatestKeepAliveTime = function (current) {
    var os = new TarsStream.TarsOutputStream();
    os.writeUInt32(0, Math.floor(Date.now() / 1000));
    current.doResponse(os.getBinBuffer());
    return TarsError.SUCCESS;
};

function main(argv) {
    var port = argv.length > 0 ? parseInt(argv[0], 10) : 0;
    if (argv.length > 1 || !(port >= 0 && port <= 65535)) {
        process.stderr.write("usage: node serverf_server.js [<port>]\n");
        process.exit(2);
    }
    guardPeer("SERVERF_SERVER_MAX_LIFETIME_MS", log);

    startServant(SERVER_OBJ, port, ServerFImp).then(function (started) {
        process.stdout.write("READY " + started.port + "\n");
        function stop() {
            try { started.server.stop(); } catch (e) { /* exiting anyway */ }
            process.exit(0);
        }
        onStdinClosed(stop);
    }).catch(function (e) {
        log(e.message);
        process.exit(1);
    });
}

main(process.argv.slice(2));
