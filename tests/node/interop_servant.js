// Servant skeletons for the RPC interop tests, in the shape tars2node
// (20190529, default options) generates them with `--server` into
// "<File>.js". tars2node is not on npm, so this is written by hand.
// The IDL is the one listed in interop_proxy.js.
//
// How a @tars/rpc servant works (core/server/BindAdapter.js, TarsCurrent.js):
//
//  * @tars/rpc calls `imp.onDispatch(current, funcName, sBuffer)` for every
//    decoded RequestPacket. It returns an error code: TarsError.SUCCESS (0)
//    means "handled, the reply is sent via current"; any other value makes
//    @tars/rpc reply at once with `current.sendErrorResponse(code, "")`.
//    A synchronous exception thrown by the dispatcher becomes
//    `sendErrorResponse(e.code !== undefined ? e.code : -1,
//    "BindAdapter Exception:" + e.message)`; @tars/stream decode errors carry
//    code -1, so a request body that cannot be decoded gets iRet -1.
//  * Generated dispatch: `onDispatch` looks up `this["__" + funcName]`; a
//    missing function returns TarsError.SERVER.FUNC_NOT_FOUND (-3).
//    `__<op>` decodes the parameters (in-params `require = true`,
//    out-params `require = false`, i.e. they may be absent), installs the
//    operation's response encoder ($RE) as `current.sendResponse` and calls
//    the implementation `this.<op>(current, params...)` (out-params included,
//    holding the decoded or default value). The implementation answers - now
//    or later - with `current.sendResponse(ret, outParams...)`, which encodes
//    the return value at tag 0 and the out-params at their tags and calls
//    `current.doResponse(binBuffer)`; a void operation without out-params
//    replies with an empty sBuffer.
//  * A servant-level error reply is `current.sendErrorResponse(iRet, desc)`:
//    a ResponsePacket with that iRet, an EMPTY sBuffer and sResultDesc = desc.
//  * For one-way requests (cPacketType 1) both doResponse and
//    sendErrorResponse send nothing.
//  * `__tars_ping` (funcName "tars_ping") replies with int32 0 at tag 0.
//  * TUP (iVersion 2/3) is handled as tars2node's TUP branches handle it, for
//    testHello, echoAll, mixed and nothing (tests/tup.rs): the parameters are
//    read from a UniAttribute of the request's version by name (inputs
//    required, out-params with a default), and the reply is an attribute with
//    the return value under "" and the out-params by name, which @tars/rpc
//    sends as a RequestPacket with the status STATUS_RESULT_CODE /
//    STATUS_RESULT_DESC (tars-server.js composeTUP). List types carry
//    TarsCpp's type name ("list<int32>") for TUP 2, where @tars/stream would
//    write "List<int32>". The other operations are TARS only.

"use strict";

var assert     = require("assert");
var TarsStream = require("@tars/stream");
var TarsError  = require("@tars/rpc").error;

var Interop = require("./interop_types.js").Interop;
var TestApp = {};
module.exports.Interop = Interop;
module.exports.TestApp = TestApp;

// Whether `current` is a TUP request, and a UniAttribute of its version.
var _isTup = function (current) {
    var v = current.getRequestVersion();
    return v === TarsStream.Tup.TUP_SIMPLE || v === TarsStream.Tup.TUP_COMPLEX;
};

var _attribute = function (current) {
    var tup = new TarsStream.UniAttribute();
    tup.tupVersion = current.getRequestVersion();
    return tup;
};

// A list type named as TarsCpp names it, for TUP 2.
var _listOf = function (proto) {
    var list = TarsStream.List(proto);
    list._classname = "list<" + proto._classname + ">";
    return list;
};

// ---------------------------------------------------------------------------
// Interop.InteropImp
// ---------------------------------------------------------------------------

Interop.InteropImp = function () {
    this._name   = undefined;
    this._worker = undefined;
};

Interop.InteropImp.prototype.initialize = function () {};

Interop.InteropImp.prototype.onDispatch = function (current, funcName, binBuffer) {
    if ("__" + funcName in this) {
        return this["__" + funcName](current, binBuffer);
    } else {
        return TarsError.SERVER.FUNC_NOT_FOUND;
    }
};

var __Interop_Interop$tars_ping$RE = function (_ret) {
    var os = new TarsStream.TarsOutputStream();
    os.writeInt32(0, _ret);
    this.doResponse(os.getBinBuffer());
};

Interop.InteropImp.prototype.__tars_ping = function (current) {
    __Interop_Interop$tars_ping$RE.call(current, 0);
    return TarsError.SUCCESS;
};

// --- echoAll ---------------------------------------------------------------

Interop.InteropImp.prototype.echoAll = function () {
    assert.fail("echoAll function not implemented");
};

var __Interop_Interop$echoAll$RE = function (_ret, rsp) {
    if (_isTup(this)) {
        var tup = _attribute(this);
        tup.writeInt32("", _ret);
        tup.writeStruct("rsp", rsp);
        this.doResponse(tup.encode());
        return;
    }
    var os = new TarsStream.TarsOutputStream();
    os.writeInt32(0, _ret);
    os.writeStruct(2, rsp);
    this.doResponse(os.getBinBuffer());
};

Interop.InteropImp.prototype.__echoAll = function (current, binBuffer) {
    var req = null;
    var rsp = null;

    if (_isTup(current)) {
        var tup = _attribute(current);
        tup.decode(binBuffer);
        req = tup.readStruct("req", Interop.AllTypes);
        rsp = tup.readStruct("rsp", Interop.AllTypes, new Interop.AllTypes());
    } else {
        var is = new TarsStream.TarsInputStream(binBuffer);
        req = is.readStruct(1, true, Interop.AllTypes);
        rsp = is.readStruct(2, false, Interop.AllTypes);
    }

    current.sendResponse = __Interop_Interop$echoAll$RE;

    this.echoAll(current, req, rsp);

    return TarsError.SUCCESS;
};

// --- mixed -----------------------------------------------------------------

Interop.InteropImp.prototype.mixed = function () {
    assert.fail("mixed function not implemented");
};

var __Interop_Interop$mixed$RE = function (_ret, s, v, i) {
    if (_isTup(this)) {
        var tup = _attribute(this);
        tup.writeInt32("", _ret);
        tup.writeString("s", s);
        var list = _listOf(TarsStream.Int32);
        v.value.forEach(function (x) { list.push(x); });
        tup.writeList("v", list);
        tup.writeStruct("i", i);
        this.doResponse(tup.encode());
        return;
    }
    var os = new TarsStream.TarsOutputStream();
    os.writeInt32(0, _ret);
    os.writeString(2, s);
    os.writeList(4, v);
    os.writeStruct(6, i);
    this.doResponse(os.getBinBuffer());
};

Interop.InteropImp.prototype.__mixed = function (current, binBuffer) {
    var a = null;
    var s = null;
    var b = null;
    var v = null;
    var m = null;
    var i = null;

    if (_isTup(current)) {
        var tup = _attribute(current);
        tup.decode(binBuffer);
        a = tup.readInt32("a");
        s = tup.readString("s", "");
        b = tup.readString("b");
        v = tup.readList("v", _listOf(TarsStream.Int32), new TarsStream.List(TarsStream.Int32));
        m = tup.readMap("m", TarsStream.Map(TarsStream.String, TarsStream.Int32));
        i = tup.readStruct("i", Interop.Inner, new Interop.Inner());
    } else {
        var is = new TarsStream.TarsInputStream(binBuffer);
        a = is.readInt32(1, true, 0);
        s = is.readString(2, false, "");
        b = is.readString(3, true, "");
        v = is.readList(4, false, TarsStream.List(TarsStream.Int32));
        m = is.readMap(5, true, TarsStream.Map(TarsStream.String, TarsStream.Int32));
        i = is.readStruct(6, false, Interop.Inner);
    }

    current.sendResponse = __Interop_Interop$mixed$RE;

    this.mixed(current, a, s, b, v, m, i);

    return TarsError.SUCCESS;
};

// --- nothing ---------------------------------------------------------------

Interop.InteropImp.prototype.nothing = function () {
    assert.fail("nothing function not implemented");
};

var __Interop_Interop$nothing$RE = function () {
    if (_isTup(this)) {
        this.doResponse(_attribute(this).encode());
        return;
    }
    this.doResponse(new TarsStream.BinBuffer());
};

Interop.InteropImp.prototype.__nothing = function (current) {
    current.sendResponse = __Interop_Interop$nothing$RE;

    this.nothing(current);

    return TarsError.SUCCESS;
};

// --- slow ------------------------------------------------------------------

Interop.InteropImp.prototype.slow = function () {
    assert.fail("slow function not implemented");
};

var __Interop_Interop$slow$RE = function (_ret) {
    var os = new TarsStream.TarsOutputStream();
    os.writeInt32(0, _ret);
    this.doResponse(os.getBinBuffer());
};

Interop.InteropImp.prototype.__slow = function (current, binBuffer) {
    var ms = null;

    var is = new TarsStream.TarsInputStream(binBuffer);
    ms = is.readInt32(1, true, 0);

    current.sendResponse = __Interop_Interop$slow$RE;

    this.slow(current, ms);

    return TarsError.SUCCESS;
};

// --- note ------------------------------------------------------------------

Interop.InteropImp.prototype.note = function () {
    assert.fail("note function not implemented");
};

var __Interop_Interop$note$RE = function () {
    this.doResponse(new TarsStream.BinBuffer());
};

Interop.InteropImp.prototype.__note = function (current, binBuffer) {
    var msg = null;

    var is = new TarsStream.TarsInputStream(binBuffer);
    msg = is.readString(1, true, "");

    current.sendResponse = __Interop_Interop$note$RE;

    this.note(current, msg);

    return TarsError.SUCCESS;
};

// --- lastNote --------------------------------------------------------------

Interop.InteropImp.prototype.lastNote = function () {
    assert.fail("lastNote function not implemented");
};

var __Interop_Interop$lastNote$RE = function (_ret) {
    var os = new TarsStream.TarsOutputStream();
    os.writeString(0, _ret);
    this.doResponse(os.getBinBuffer());
};

Interop.InteropImp.prototype.__lastNote = function (current) {
    current.sendResponse = __Interop_Interop$lastNote$RE;

    this.lastNote(current);

    return TarsError.SUCCESS;
};

// --- failWith --------------------------------------------------------------

Interop.InteropImp.prototype.failWith = function () {
    assert.fail("failWith function not implemented");
};

var __Interop_Interop$failWith$RE = function (_ret) {
    var os = new TarsStream.TarsOutputStream();
    os.writeInt32(0, _ret);
    this.doResponse(os.getBinBuffer());
};

Interop.InteropImp.prototype.__failWith = function (current, binBuffer) {
    var code = null;

    var is = new TarsStream.TarsInputStream(binBuffer);
    code = is.readInt32(1, true, 0);

    current.sendResponse = __Interop_Interop$failWith$RE;

    this.failWith(current, code);

    return TarsError.SUCCESS;
};

// ---------------------------------------------------------------------------
// TestApp.HelloImp
// ---------------------------------------------------------------------------

TestApp.HelloImp = function () {
    this._name   = undefined;
    this._worker = undefined;
};

TestApp.HelloImp.prototype.initialize = function () {};

TestApp.HelloImp.prototype.onDispatch = function (current, funcName, binBuffer) {
    if ("__" + funcName in this) {
        return this["__" + funcName](current, binBuffer);
    } else {
        return TarsError.SERVER.FUNC_NOT_FOUND;
    }
};

var __TestApp_Hello$tars_ping$RE = function (_ret) {
    var os = new TarsStream.TarsOutputStream();
    os.writeInt32(0, _ret);
    this.doResponse(os.getBinBuffer());
};

TestApp.HelloImp.prototype.__tars_ping = function (current) {
    __TestApp_Hello$tars_ping$RE.call(current, 0);
    return TarsError.SUCCESS;
};

TestApp.HelloImp.prototype.testHello = function () {
    assert.fail("testHello function not implemented");
};

var __TestApp_Hello$testHello$RE = function (_ret, sRsp) {
    if (_isTup(this)) {
        var tup = _attribute(this);
        tup.writeInt32("", _ret);
        tup.writeString("sRsp", sRsp);
        this.doResponse(tup.encode());
        return;
    }
    var os = new TarsStream.TarsOutputStream();
    os.writeInt32(0, _ret);
    os.writeString(2, sRsp);
    this.doResponse(os.getBinBuffer());
};

TestApp.HelloImp.prototype.__testHello = function (current, binBuffer) {
    var sReq = null;
    var sRsp = null;

    if (_isTup(current)) {
        var tup = _attribute(current);
        tup.decode(binBuffer);
        sReq = tup.readString("sReq");
        sRsp = tup.readString("sRsp", "");
    } else {
        var is = new TarsStream.TarsInputStream(binBuffer);
        sReq = is.readString(1, true, "");
        sRsp = is.readString(2, false, "");
    }

    current.sendResponse = __TestApp_Hello$testHello$RE;

    this.testHello(current, sReq, sRsp);

    return TarsError.SUCCESS;
};
