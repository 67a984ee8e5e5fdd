// Client proxies for the RPC interop tests, in the shape tars2node
// (20190529, default options) generates them into "<File>Proxy.js".
// tars2node is not on npm, so this is written by hand.
//
// IDL (the structs come from interop_types.js):
//
//   module Interop {
//     interface Interop {
//       int echoAll(AllTypes req, out AllTypes rsp);
//       int mixed(int a, out string s, string b, out vector<int> v,
//                 map<string, int> m, out Inner i);
//       void nothing();
//       int slow(int ms);
//       void note(string msg);
//       string lastNote();
//       int failWith(int code);
//     };
//   };
//   module TestApp {
//     interface Hello {
//       int testHello(string sReq, out string sRsp);
//     };
//   };
//
// Wire layout (tars2cpp/tars2node convention): return value at tag 0,
// parameters at tags 1, 2, 3... in declaration order, out-params included.
//
// Differences from real tars2node output, on purpose:
//
//  * Out-params in requests. tars2node's request encoder ($IE) skips
//    out-params; TarsCpp's proxies write them with their current (default)
//    value. This file writes them by default (TarsCpp style, as the interop
//    test plan asks) and omits them, exactly like tars2node, after
//    `setWriteOutParams(false)` (rpc_client.js: INTEROP_OUT_PARAMS=omit).
//  * Only the TARS protocol (iVersion 1) is generated; tars2node also emits
//    TUP encoders/decoders ($PE/$PD) selected by `proxy.setVersion(2|3)`.
//
// Everything else follows tars2node: each operation has an info record ($IF),
// a request encoder ($IE), a response decoder ($ID) and an error mapper
// ($ER); the proxy method calls
//   this._worker.tars_invoke(name, $IE(inParams...), arguments[arguments.length - 1], $IF)
// so an object passed as an extra LAST argument is taken by @tars/rpc as the
// call property (e.g. `{packetType: 1}` for a one-way call, `{context: {...}}`).
// Successful calls resolve to
//   {request, response: {costtime, return, arguments: {<out-param>: value}}};
// failed calls reject with an Error named "RPC_ERROR" whose
// `response.error` is `{code, message}` (for a server reply: iRet and
// sResultDesc of the ResponsePacket) or "DECODE_ERROR" (code -11000) when the
// response body cannot be decoded.

"use strict";

var TarsStream = require("@tars/stream");
var TarsError  = require("@tars/rpc").error;

var Interop = require("./interop_types.js").Interop;
var TestApp = {};
module.exports.Interop = Interop;
module.exports.TestApp = TestApp;

var _writeOutParams = true;
module.exports.setWriteOutParams = function (on) { _writeOutParams = !!on; };
module.exports.getWriteOutParams = function () { return _writeOutParams; };

var _makeError = function (data, message, type) {
    var error = new Error(message || "");
    error.request = data.request;
    error.response = {
        "costtime" : data.request ? data.request.costtime : 0
    };
    if (type === TarsError.CLIENT.DECODE_ERROR) {
        error.name = "DECODE_ERROR";
        error.response.error = {
            "code" : type,
            "message" : message
        };
    } else {
        error.name = "RPC_ERROR";
        error.response.error = data.error;
    }
    return error;
};

// ---------------------------------------------------------------------------
// Interop.InteropProxy
// ---------------------------------------------------------------------------

Interop.InteropProxy = function () {
    this._name   = undefined;
    this._worker = undefined;
};

Interop.InteropProxy.prototype.setTimeout = function (iTimeout) {
    this._worker.timeout = iTimeout;
};

Interop.InteropProxy.prototype.getTimeout = function () {
    return this._worker.timeout;
};

Interop.InteropProxy.prototype.setVersion = function (iVersion) {
    this._worker.version = iVersion;
};

Interop.InteropProxy.prototype.getVersion = function () {
    return this._worker.version;
};

// --- echoAll ---------------------------------------------------------------

var __Interop_Interop$echoAll$IF = {
    "name" : "echoAll",
    "return" : "int32",
    "arguments" : [{
        "name" : "req",
        "class" : "Interop.AllTypes",
        "direction" : "in"
    }, {
        "name" : "rsp",
        "class" : "Interop.AllTypes",
        "direction" : "out"
    }]
};

var __Interop_Interop$echoAll$IE = function (req) {
    var os = new TarsStream.TarsOutputStream();
    os.writeStruct(1, req);
    if (_writeOutParams) {
        os.writeStruct(2, new Interop.AllTypes());
    }
    return os.getBinBuffer();
};

var __Interop_Interop$echoAll$ID = function (data) {
    try {
        var is = new TarsStream.TarsInputStream(data.response.sBuffer);
        return {
            "request" : data.request,
            "response" : {
                "costtime" : data.request.costtime,
                "return" : is.readInt32(0, true, 0),
                "arguments" : {
                    "rsp" : is.readStruct(2, true, Interop.AllTypes)
                }
            }
        };
    } catch (e) {
        throw _makeError(data, e.message, TarsError.CLIENT.DECODE_ERROR);
    }
};

var __Interop_Interop$echoAll$ER = function (data) {
    throw _makeError(data, "Call Interop::echoAll failed");
};

Interop.InteropProxy.prototype.echoAll = function (req) {
    return this._worker.tars_invoke("echoAll", __Interop_Interop$echoAll$IE(req), arguments[arguments.length - 1], __Interop_Interop$echoAll$IF).then(__Interop_Interop$echoAll$ID, __Interop_Interop$echoAll$ER);
};
Interop.InteropProxy.echoAll = __Interop_Interop$echoAll$IF;

// --- failWith --------------------------------------------------------------

var __Interop_Interop$failWith$IF = {
    "name" : "failWith",
    "return" : "int32",
    "arguments" : [{
        "name" : "code",
        "class" : "int32",
        "direction" : "in"
    }]
};

var __Interop_Interop$failWith$IE = function (code) {
    var os = new TarsStream.TarsOutputStream();
    os.writeInt32(1, code);
    return os.getBinBuffer();
};

var __Interop_Interop$failWith$ID = function (data) {
    try {
        var is = new TarsStream.TarsInputStream(data.response.sBuffer);
        return {
            "request" : data.request,
            "response" : {
                "costtime" : data.request.costtime,
                "return" : is.readInt32(0, true, 0)
            }
        };
    } catch (e) {
        throw _makeError(data, e.message, TarsError.CLIENT.DECODE_ERROR);
    }
};

var __Interop_Interop$failWith$ER = function (data) {
    throw _makeError(data, "Call Interop::failWith failed");
};

Interop.InteropProxy.prototype.failWith = function (code) {
    return this._worker.tars_invoke("failWith", __Interop_Interop$failWith$IE(code), arguments[arguments.length - 1], __Interop_Interop$failWith$IF).then(__Interop_Interop$failWith$ID, __Interop_Interop$failWith$ER);
};
Interop.InteropProxy.failWith = __Interop_Interop$failWith$IF;

// --- lastNote --------------------------------------------------------------

var __Interop_Interop$lastNote$IF = {
    "name" : "lastNote",
    "return" : "string",
    "arguments" : []
};

var __Interop_Interop$lastNote$IE = function () {
    var os = new TarsStream.TarsOutputStream();
    return os.getBinBuffer();
};

var __Interop_Interop$lastNote$ID = function (data) {
    try {
        var is = new TarsStream.TarsInputStream(data.response.sBuffer);
        return {
            "request" : data.request,
            "response" : {
                "costtime" : data.request.costtime,
                "return" : is.readString(0, true, "")
            }
        };
    } catch (e) {
        throw _makeError(data, e.message, TarsError.CLIENT.DECODE_ERROR);
    }
};

var __Interop_Interop$lastNote$ER = function (data) {
    throw _makeError(data, "Call Interop::lastNote failed");
};

Interop.InteropProxy.prototype.lastNote = function () {
    return this._worker.tars_invoke("lastNote", __Interop_Interop$lastNote$IE(), arguments[arguments.length - 1], __Interop_Interop$lastNote$IF).then(__Interop_Interop$lastNote$ID, __Interop_Interop$lastNote$ER);
};
Interop.InteropProxy.lastNote = __Interop_Interop$lastNote$IF;

// --- mixed -----------------------------------------------------------------

var __Interop_Interop$mixed$IF = {
    "name" : "mixed",
    "return" : "int32",
    "arguments" : [{
        "name" : "a",
        "class" : "int32",
        "direction" : "in"
    }, {
        "name" : "s",
        "class" : "string",
        "direction" : "out"
    }, {
        "name" : "b",
        "class" : "string",
        "direction" : "in"
    }, {
        "name" : "v",
        "class" : "list(int32)",
        "direction" : "out"
    }, {
        "name" : "m",
        "class" : "map(string, int32)",
        "direction" : "in"
    }, {
        "name" : "i",
        "class" : "Interop.Inner",
        "direction" : "out"
    }]
};

var __Interop_Interop$mixed$IE = function (a, b, m) {
    var os = new TarsStream.TarsOutputStream();
    os.writeInt32(1, a);
    if (_writeOutParams) {
        os.writeString(2, "");
    }
    os.writeString(3, b);
    if (_writeOutParams) {
        os.writeList(4, new TarsStream.List(TarsStream.Int32));
    }
    os.writeMap(5, m);
    if (_writeOutParams) {
        os.writeStruct(6, new Interop.Inner());
    }
    return os.getBinBuffer();
};

var __Interop_Interop$mixed$ID = function (data) {
    try {
        var is = new TarsStream.TarsInputStream(data.response.sBuffer);
        return {
            "request" : data.request,
            "response" : {
                "costtime" : data.request.costtime,
                "return" : is.readInt32(0, true, 0),
                "arguments" : {
                    "s" : is.readString(2, true, ""),
                    "v" : is.readList(4, true, TarsStream.List(TarsStream.Int32)),
                    "i" : is.readStruct(6, true, Interop.Inner)
                }
            }
        };
    } catch (e) {
        throw _makeError(data, e.message, TarsError.CLIENT.DECODE_ERROR);
    }
};

var __Interop_Interop$mixed$ER = function (data) {
    throw _makeError(data, "Call Interop::mixed failed");
};

Interop.InteropProxy.prototype.mixed = function (a, b, m) {
    return this._worker.tars_invoke("mixed", __Interop_Interop$mixed$IE(a, b, m), arguments[arguments.length - 1], __Interop_Interop$mixed$IF).then(__Interop_Interop$mixed$ID, __Interop_Interop$mixed$ER);
};
Interop.InteropProxy.mixed = __Interop_Interop$mixed$IF;

// --- note ------------------------------------------------------------------

var __Interop_Interop$note$IF = {
    "name" : "note",
    "return" : "void",
    "arguments" : [{
        "name" : "msg",
        "class" : "string",
        "direction" : "in"
    }]
};

var __Interop_Interop$note$IE = function (msg) {
    var os = new TarsStream.TarsOutputStream();
    os.writeString(1, msg);
    return os.getBinBuffer();
};

var __Interop_Interop$note$ID = function (data) {
    try {
        return {
            "request" : data.request,
            "response" : {
                "costtime" : data.request.costtime
            }
        };
    } catch (e) {
        throw _makeError(data, e.message, TarsError.CLIENT.DECODE_ERROR);
    }
};

var __Interop_Interop$note$ER = function (data) {
    throw _makeError(data, "Call Interop::note failed");
};

Interop.InteropProxy.prototype.note = function (msg) {
    return this._worker.tars_invoke("note", __Interop_Interop$note$IE(msg), arguments[arguments.length - 1], __Interop_Interop$note$IF).then(__Interop_Interop$note$ID, __Interop_Interop$note$ER);
};
Interop.InteropProxy.note = __Interop_Interop$note$IF;

// --- nothing ---------------------------------------------------------------

var __Interop_Interop$nothing$IF = {
    "name" : "nothing",
    "return" : "void",
    "arguments" : []
};

var __Interop_Interop$nothing$IE = function () {
    var os = new TarsStream.TarsOutputStream();
    return os.getBinBuffer();
};

var __Interop_Interop$nothing$ID = function (data) {
    try {
        return {
            "request" : data.request,
            "response" : {
                "costtime" : data.request.costtime
            }
        };
    } catch (e) {
        throw _makeError(data, e.message, TarsError.CLIENT.DECODE_ERROR);
    }
};

var __Interop_Interop$nothing$ER = function (data) {
    throw _makeError(data, "Call Interop::nothing failed");
};

Interop.InteropProxy.prototype.nothing = function () {
    return this._worker.tars_invoke("nothing", __Interop_Interop$nothing$IE(), arguments[arguments.length - 1], __Interop_Interop$nothing$IF).then(__Interop_Interop$nothing$ID, __Interop_Interop$nothing$ER);
};
Interop.InteropProxy.nothing = __Interop_Interop$nothing$IF;

// --- slow ------------------------------------------------------------------

var __Interop_Interop$slow$IF = {
    "name" : "slow",
    "return" : "int32",
    "arguments" : [{
        "name" : "ms",
        "class" : "int32",
        "direction" : "in"
    }]
};

var __Interop_Interop$slow$IE = function (ms) {
    var os = new TarsStream.TarsOutputStream();
    os.writeInt32(1, ms);
    return os.getBinBuffer();
};

var __Interop_Interop$slow$ID = function (data) {
    try {
        var is = new TarsStream.TarsInputStream(data.response.sBuffer);
        return {
            "request" : data.request,
            "response" : {
                "costtime" : data.request.costtime,
                "return" : is.readInt32(0, true, 0)
            }
        };
    } catch (e) {
        throw _makeError(data, e.message, TarsError.CLIENT.DECODE_ERROR);
    }
};

var __Interop_Interop$slow$ER = function (data) {
    throw _makeError(data, "Call Interop::slow failed");
};

Interop.InteropProxy.prototype.slow = function (ms) {
    return this._worker.tars_invoke("slow", __Interop_Interop$slow$IE(ms), arguments[arguments.length - 1], __Interop_Interop$slow$IF).then(__Interop_Interop$slow$ID, __Interop_Interop$slow$ER);
};
Interop.InteropProxy.slow = __Interop_Interop$slow$IF;

// ---------------------------------------------------------------------------
// TestApp.HelloProxy
// ---------------------------------------------------------------------------

TestApp.HelloProxy = function () {
    this._name   = undefined;
    this._worker = undefined;
};

TestApp.HelloProxy.prototype.setTimeout = function (iTimeout) {
    this._worker.timeout = iTimeout;
};

TestApp.HelloProxy.prototype.getTimeout = function () {
    return this._worker.timeout;
};

TestApp.HelloProxy.prototype.setVersion = function (iVersion) {
    this._worker.version = iVersion;
};

TestApp.HelloProxy.prototype.getVersion = function () {
    return this._worker.version;
};

var __TestApp_Hello$testHello$IF = {
    "name" : "testHello",
    "return" : "int32",
    "arguments" : [{
        "name" : "sReq",
        "class" : "string",
        "direction" : "in"
    }, {
        "name" : "sRsp",
        "class" : "string",
        "direction" : "out"
    }]
};

var __TestApp_Hello$testHello$IE = function (sReq) {
    var os = new TarsStream.TarsOutputStream();
    os.writeString(1, sReq);
    if (_writeOutParams) {
        os.writeString(2, "");
    }
    return os.getBinBuffer();
};

var __TestApp_Hello$testHello$ID = function (data) {
    try {
        var is = new TarsStream.TarsInputStream(data.response.sBuffer);
        return {
            "request" : data.request,
            "response" : {
                "costtime" : data.request.costtime,
                "return" : is.readInt32(0, true, 0),
                "arguments" : {
                    "sRsp" : is.readString(2, true, "")
                }
            }
        };
    } catch (e) {
        throw _makeError(data, e.message, TarsError.CLIENT.DECODE_ERROR);
    }
};

var __TestApp_Hello$testHello$ER = function (data) {
    throw _makeError(data, "Call Hello::testHello failed");
};

TestApp.HelloProxy.prototype.testHello = function (sReq) {
    return this._worker.tars_invoke("testHello", __TestApp_Hello$testHello$IE(sReq), arguments[arguments.length - 1], __TestApp_Hello$testHello$IF).then(__TestApp_Hello$testHello$ID, __TestApp_Hello$testHello$ER);
};
TestApp.HelloProxy.testHello = __TestApp_Hello$testHello$IF;
