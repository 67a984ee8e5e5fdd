#!/usr/bin/env node
// The TARS stat and property services' servants (tars.tarsstat.StatObj,
// interface StatF of servant/StatF.tars, and tars.tarsproperty.PropertyObj,
// interface PropertyF of servant/PropertyF.tars) built on @tars/rpc and the
// struct codecs @tars/monitor generated from those files: a real peer for
// tars_rpc::stat::StatReporter. It decodes every report and prints it.
//
// Usage:
//
//   node stat_server.js
//   node stat_server.js report <statObj> <propertyObj>
//
// Serves StatF and PropertyF on 127.0.0.1, each on a free port of its own (a
// @tars/rpc adapter serves one servant), then prints
//
//   READY <statPort> <propertyPort>
//
// and then one JSON line per report received, answering each with 0:
//
//   {"kind":"stat","fromClient":true,"lines":[{"head":H,"body":B},...]}
//       reportMicMsg(msg, bFromClient): H a StatMicMsgHead and B a
//       StatMicMsgBody as objects (field names of the .tars file;
//       intervalCount an object keyed by the bucket bounds)
//   {"kind":"property","lines":[{"head":H,"body":{"vInfo":[{"policy":P,"value":V},...]}},...]}
//       reportPropMsg(statmsg): H a StatPropMsgHead as an object
//   {"kind":"sample","count":N}
//       reportSampleMsg(msg)
//
// Nothing else goes to stdout (diagnostics go to stderr). A report that does
// not decode is answered with -1 (SERVER_DECODE_ERR) and printed as
//   {"kind":"error","function":F,"message":M}
// It exits 0 when stdin closes, and 1 after STAT_SERVER_MAX_LIFETIME_MS
// (default 600000; 0 disables).
//
// With `report`, it is the other side instead: @tars/monitor's own reporters
// (stat and property, as a Node TARS service uses them) report to the proxy
// strings given, every 50 ms, what this script counts:
//
//   stat: masterName "Node.Client", slaveName "TestApp.StatServer",
//         interfaceName "fast", masterIp/slaveIp "127.0.0.1", slavePort 18015,
//         from a client: one success of 12 ms, one timeout, one error
//   property "nodeProp" of module "Node.Client" (ip 127.0.0.1): Sum and Max
//         of the values 3 and 9
//
// It prints "REPORTING" once it has counted them, and exits 0 when stdin
// closes.

"use strict";

// first: rpc_server.js quiets @tars/rpc (environment, console, a warning)
var peer         = require("./rpc_server.js");
var startServant = peer.startServant;
var guardPeer    = peer.guardPeer;
var onStdinClosed = peer.onStdinClosed;
var TarsStream   = require("@tars/stream");
var TarsError    = require("@tars/rpc").error;
var StatF        = require("@tars/monitor/stat/StatFProxy.js").tars;
var PropertyF    = require("@tars/monitor/property/PropertyFProxy.js").tars;

var STAT_OBJ     = "tars.tarsstat.StatObj";
var PROPERTY_OBJ = "tars.tarsproperty.PropertyObj";

function log(msg) {
    process.stderr.write("stat_server: " + msg + "\n");
}

function print(object) {
    process.stdout.write(JSON.stringify(object) + "\n");
}

// Answers `int` 0 (the return value at tag 0).
function answerZero(current) {
    var os = new TarsStream.TarsOutputStream();
    os.writeInt32(0, 0);
    current.doResponse(os.getBinBuffer());
}

// Decodes with `decode(binBuffer)`, prints what it returns and answers 0; a
// decoding error is printed and answered with -1.
function serve(current, funcName, binBuffer, decode) {
    var report;
    try {
        report = decode(binBuffer);
    } catch (e) {
        print({ kind: "error", function: funcName, message: String(e && e.message || e) });
        current.sendErrorResponse(TarsError.SERVER.DECODE_ERROR, String(e && e.message || e));
        return TarsError.SUCCESS;
    }
    print(report);
    answerZero(current);
    return TarsError.SUCCESS;
}

// A servant implementation in the shape tars2node generates (--server), by
// hand: `functions` maps a function name to its decoder.
function servantOf(functions) {
    var Imp = function () {
        this._name   = undefined;
        this._worker = undefined;
    };
    Imp.prototype.initialize = function () {};
    Imp.prototype.onDispatch = function (current, funcName, binBuffer) {
        if (funcName === "tars_ping") {
            answerZero(current);
            return TarsError.SUCCESS;
        }
        if (functions.hasOwnProperty(funcName)) {
            return serve(current, funcName, binBuffer, functions[funcName]);
        }
        return TarsError.SERVER.FUNC_NOT_FOUND;
    };
    return Imp;
}

function entries(map) {
    var lines = [];
    map.forEach(function (head, body) {
        lines.push({ head: head.toObject(), body: body.toObject() });
    });
    return lines;
}

var StatImp = servantOf({
    // int reportMicMsg(map<StatMicMsgHead, StatMicMsgBody> msg, bool bFromClient)
    reportMicMsg: function (binBuffer) {
        var is = new TarsStream.TarsInputStream(binBuffer);
        var msg = is.readMap(1, true, TarsStream.Map(StatF.StatMicMsgHead, StatF.StatMicMsgBody));
        var fromClient = is.readBoolean(2, true, false);
        return { kind: "stat", fromClient: fromClient, lines: entries(msg) };
    },
    // int reportSampleMsg(vector<StatSampleMsg> msg)
    reportSampleMsg: function (binBuffer) {
        var is = new TarsStream.TarsInputStream(binBuffer);
        var msg = is.readList(1, true, TarsStream.List(StatF.StatSampleMsg));
        return { kind: "sample", count: msg.length };
    }
});

var PropertyImp = servantOf({
    // int reportPropMsg(map<StatPropMsgHead, StatPropMsgBody> statmsg)
    reportPropMsg: function (binBuffer) {
        var is = new TarsStream.TarsInputStream(binBuffer);
        var msg = is.readMap(1, true, TarsStream.Map(PropertyF.StatPropMsgHead, PropertyF.StatPropMsgBody));
        return { kind: "property", lines: entries(msg) };
    }
});

// @tars/monitor reporting to `statObj` and `propertyObj`.
function report(statObj, propertyObj) {
    var monitor = require("@tars/monitor");
    monitor.stat.StatObj = statObj;
    monitor.stat.reportInterval = 50;
    var headers = {
        masterName: "Node.Client",
        slaveName: "TestApp.StatServer",
        interfaceName: "fast",
        masterIp: "127.0.0.1",
        slaveIp: "127.0.0.1",
        slavePort: 18015,
        returnValue: 0,
        bFromClient: true
    };
    monitor.stat.report(headers, monitor.stat.TYPE.SUCCESS, 12);
    monitor.stat.report(headers, monitor.stat.TYPE.TIMEOUT);
    monitor.stat.report(headers, monitor.stat.TYPE.ERROR);

    var config = {
        "tars.application.client.property": propertyObj,
        "tars.application.client.report-interval": "50",
        "tars.application.client.modulename": "Node.Client",
        "tars.application.server.localip": "127.0.0.1"
    };
    monitor.property.init({
        get: function (key, fallback) {
            return config.hasOwnProperty(key) ? config[key] : fallback;
        }
    });
    var prop = monitor.property.create("nodeProp", [new monitor.POLICY.Sum(), new monitor.POLICY.Max()]);
    prop.report(3);
    prop.report(9);
    process.stdout.write("REPORTING\n");

    onStdinClosed(function () { process.exit(0); });
}

function main(argv) {
    var reporting = argv.length === 3 && argv[0] === "report";
    if (argv.length > 0 && !reporting) {
        process.stderr.write("usage: node stat_server.js [report <statObj> <propertyObj>]\n");
        process.exit(2);
    }
    guardPeer("STAT_SERVER_MAX_LIFETIME_MS", log);
    if (reporting) {
        report(argv[1], argv[2]);
        return;
    }

    var servers = [];
    var statPort;
    startServant(STAT_OBJ, 0, StatImp).then(function (stat) {
        servers.push(stat.server);
        statPort = stat.port;
        return startServant(PROPERTY_OBJ, 0, PropertyImp);
    }).then(function (property) {
        servers.push(property.server);
        process.stdout.write("READY " + statPort + " " + property.port + "\n");
        var stop = function () {
            servers.forEach(function (server) {
                try { server.stop(); } catch (e) { /* exiting anyway */ }
            });
            process.exit(0);
        };
        onStdinClosed(stop);
    }).catch(function (e) {
        log(e.message);
        process.exit(1);
    });
}

main(process.argv.slice(2));
