#!/usr/bin/env node
// A stand-in config center for tests/app.rs: the servant
// tars.tarsconfig.ConfigObj (interface Config of ConfigF.tars, module tars) on
// @tars/rpc, reading ConfigInfo with the codec @tars/config generated from that
// file (node_modules/@tars/config/ConfigFProxy.js).
//
// Usage:
//
//   node config_server.js
//
// Serves on 127.0.0.1, a free port, then prints "READY <port>" on stdout, then
// one line per call, as it arrives:
//
//   LOAD {"app":A,"server":S,"filename":F}                loadConfig
//   LOADBYINFO {"appname":A,"servername":S,"filename":F,"bAppOnly":B,"setdivision":D}
//
// What it answers, by file name:
//   missing.conf   ret -1 and no content (the file is not in the center)
//   empty.conf     ret 0 and an empty content
//   any other F    ret 0 and "<F>\nversion=N\n</F>\n", N counting the calls
//                  for F from 1, so that every download differs
//
// It exits 0 when stdin closes, and 1 after CONFIG_SERVER_MAX_LIFETIME_MS
// (default 600000; 0 disables).
//
// IDL (module tars, the calls used):
//
//   struct ConfigInfo {
//       0 require string appname; 1 require string servername;
//       2 require string filename; 3 require bool bAppOnly=false;
//       4 optional string host; 5 optional string setdivision;
//   };
//   interface Config {
//       int loadConfig(string app, string server, string filename, out string config);
//       int loadConfigByInfo(ConfigInfo configInfo, out string config);
//   };

"use strict";

// first: rpc_server.js quiets @tars/rpc (environment, console, a warning)
var peer         = require("./rpc_server.js");
var startServant = peer.startServant;
var guardPeer    = peer.guardPeer;
var onStdinClosed = peer.onStdinClosed;
var Tars         = require("@tars/rpc");
var TarsStream   = require("@tars/stream");
var TarsError    = Tars.error;
var ConfigTars   = require("@tars/config/ConfigFProxy.js").tars;

var SERVANT = "tars.tarsconfig.ConfigObj";
var versions = {};

function event(name, value) {
    process.stdout.write(name + " " + JSON.stringify(value) + "\n");
}

function answer(current, filename) {
    var os = new TarsStream.TarsOutputStream();
    if (filename === "missing.conf") {
        os.writeInt32(0, -1);
        os.writeString(4, "");
    } else if (filename === "empty.conf") {
        os.writeInt32(0, 0);
        os.writeString(4, "");
    } else {
        versions[filename] = (versions[filename] || 0) + 1;
        os.writeInt32(0, 0);
        os.writeString(4, "<" + filename + ">\nversion=" + versions[filename] + "\n</" + filename + ">\n");
    }
    current.doResponse(os.getBinBuffer());
}

var ConfigImp = function () {
    this._name   = undefined;
    this._worker = undefined;
};

ConfigImp.prototype.initialize = function () {};

ConfigImp.prototype.onDispatch = function (current, funcName, binBuffer) {
    if ("__" + funcName in this) {
        return this["__" + funcName](current, binBuffer);
    }
    return TarsError.SERVER.FUNC_NOT_FOUND;
};

// int loadConfig(string app, string server, string filename, out string config)
ConfigImp.prototype.__loadConfig = function (current, binBuffer) {
    var is = new TarsStream.TarsInputStream(binBuffer);
    var app = is.readString(1, true, "");
    var server = is.readString(2, true, "");
    var filename = is.readString(3, true, "");
    event("LOAD", { app: app, server: server, filename: filename });
    answer(current, filename);
    return TarsError.SUCCESS;
};

// int loadConfigByInfo(ConfigInfo configInfo, out string config): config at tag 2
ConfigImp.prototype.__loadConfigByInfo = function (current, binBuffer) {
    var is = new TarsStream.TarsInputStream(binBuffer);
    var info = is.readStruct(1, true, ConfigTars.ConfigInfo);
    event("LOADBYINFO", {
        appname: info.appname, servername: info.servername, filename: info.filename,
        bAppOnly: info.bAppOnly, setdivision: info.setdivision
    });
    var os = new TarsStream.TarsOutputStream();
    versions[info.filename] = (versions[info.filename] || 0) + 1;
    os.writeInt32(0, 0);
    os.writeString(2, "<" + info.filename + ">\nversion=" + versions[info.filename] + "\n</" + info.filename + ">\n");
    current.doResponse(os.getBinBuffer());
    return TarsError.SUCCESS;
};

guardPeer("CONFIG_SERVER_MAX_LIFETIME_MS", function (msg) {
    process.stderr.write("config_server: " + msg + "\n");
});

startServant(SERVANT, 0, ConfigImp).then(function (started) {
    process.stdout.write("READY " + started.port + "\n");
    onStdinClosed(function () { process.exit(0); });
}).catch(function (e) {
    process.stderr.write("config_server: " + e.message + "\n");
    process.exit(1);
});
