// Shared IDL types for the Node.js side of the tars-rpc interop tests.
//
// Used by codec_interop.js (codec interop), rpc_server.js and rpc_client.js
// (RPC interop). Resolves @tars/stream from this directory's node_modules, so
// run `npm ci` in tests/node first.
//
// The IDL this file implements (module Interop):
//
//   enum Color { RED = 0, GREEN = 1, BLUE = 5 };
//   struct Inner {
//     0 require int id;
//     1 optional string name;
//   };
//   struct AllTypes {
//     0  require bool b;
//     1  require byte i8v;
//     2  require unsigned byte u8v;
//     3  require short i16v;
//     4  require unsigned short u16v;
//     5  require int i32v;
//     6  require unsigned int u32v;
//     7  require long i64v;
//     8  require float f32v;
//     9  require double f64v;
//     10 require string s;
//     11 require vector<string> strs;
//     12 require vector<byte> blob;
//     13 require map<string, int> scores;
//     14 require Inner inner;
//     15 require vector<Inner> inners;
//     16 require map<string, Inner> byName;
//     17 optional int optPresent;
//     18 optional string optAbsent;
//     19 require Color color;
//     20 require vector<long> longs;
//     21 require map<int, vector<string>> nested;
//     22 require string longStr;
//     30 require double zeroF;
//   };
//
// The "Interop" block below is written by hand exactly the way tars2node
// (20190529, default options) generates it; tars2node itself is not on npm.
// Note that tars2node's _writeTo writes EVERY field, optional ones included,
// even when they hold their default value.
//
// Besides the types this module exports the canonical AllTypes value used by
// every interop test (`canonical()`) and the field-by-field comparison that
// checks a decoded value against it (`compare(actual)`, returns a list of
// human-readable differences, empty when equal).

"use strict";

var assert     = require("assert");
var util       = require("util");
var TarsStream = require("@tars/stream");

var _hasOwnProperty = Object.prototype.hasOwnProperty;

// ---------------------------------------------------------------------------
// Begin: code in the shape tars2node generates for the IDL above.
// ---------------------------------------------------------------------------

var Interop = Interop || {};
module.exports.Interop = Interop;

Interop.Color = {
    "RED" : 0,
    "GREEN" : 1,
    "BLUE" : 5
};
Interop.Color._classname = "Interop.Color";
Interop.Color._write = function(os, tag, val) { return os.writeInt32(tag, val); };
Interop.Color._read  = function(is, tag, def) { return is.readInt32(tag, true, def); };

Interop.Inner = function() {
    this.id = 0;
    this.name = "";
    this._classname = "Interop.Inner";
};
Interop.Inner._classname = "Interop.Inner";
Interop.Inner._write = function (os, tag, value) { os.writeStruct(tag, value); };
Interop.Inner._read  = function (is, tag, def) { return is.readStruct(tag, true, def); };
Interop.Inner._readFrom = function (is) {
    var tmp = new Interop.Inner;
    tmp.id = is.readInt32(0, true, 0);
    tmp.name = is.readString(1, false, "");
    return tmp;
};
Interop.Inner.prototype._writeTo = function (os) {
    os.writeInt32(0, this.id);
    os.writeString(1, this.name);
};
Interop.Inner.prototype._equal = function () {
    assert.fail("this structure not define key operation");
};
Interop.Inner.prototype._genKey = function () {
    if (!this._proto_struct_name_) {
        this._proto_struct_name_ = "STRUCT" + Math.random();
    }
    return this._proto_struct_name_;
};
Interop.Inner.prototype.toObject = function() {
    return {
        "id" : this.id,
        "name" : this.name
    };
};
Interop.Inner.prototype.readFromObject = function(json) {
    _hasOwnProperty.call(json, "id") && (this.id = json.id);
    _hasOwnProperty.call(json, "name") && (this.name = json.name);
    return this;
};
Interop.Inner.prototype.toBinBuffer = function () {
    var os = new TarsStream.TarsOutputStream();
    this._writeTo(os);
    return os.getBinBuffer();
};
Interop.Inner.new = function () {
    return new Interop.Inner();
};
Interop.Inner.create = function (is) {
    return Interop.Inner._readFrom(is);
};

Interop.AllTypes = function() {
    this.b = false;
    this.i8v = 0;
    this.u8v = 0;
    this.i16v = 0;
    this.u16v = 0;
    this.i32v = 0;
    this.u32v = 0;
    this.i64v = 0;
    this.f32v = 0.0;
    this.f64v = 0.0;
    this.s = "";
    this.strs = new TarsStream.List(TarsStream.String);
    this.blob = new TarsStream.BinBuffer;
    this.scores = new TarsStream.Map(TarsStream.String, TarsStream.Int32);
    this.inner = new Interop.Inner;
    this.inners = new TarsStream.List(Interop.Inner);
    this.byName = new TarsStream.Map(TarsStream.String, Interop.Inner);
    this.optPresent = 0;
    this.optAbsent = "";
    this.color = Interop.Color.RED;
    this.longs = new TarsStream.List(TarsStream.Int64);
    this.nested = new TarsStream.Map(TarsStream.Int32, TarsStream.List(TarsStream.String));
    this.longStr = "";
    this.zeroF = 0.0;
    this._classname = "Interop.AllTypes";
};
Interop.AllTypes._classname = "Interop.AllTypes";
Interop.AllTypes._write = function (os, tag, value) { os.writeStruct(tag, value); };
Interop.AllTypes._read  = function (is, tag, def) { return is.readStruct(tag, true, def); };
Interop.AllTypes._readFrom = function (is) {
    var tmp = new Interop.AllTypes;
    tmp.b = is.readBoolean(0, true, false);
    tmp.i8v = is.readInt8(1, true, 0);
    tmp.u8v = is.readUInt8(2, true, 0);
    tmp.i16v = is.readInt16(3, true, 0);
    tmp.u16v = is.readUInt16(4, true, 0);
    tmp.i32v = is.readInt32(5, true, 0);
    tmp.u32v = is.readUInt32(6, true, 0);
    tmp.i64v = is.readInt64(7, true, 0);
    tmp.f32v = is.readFloat(8, true, 0.0);
    tmp.f64v = is.readDouble(9, true, 0.0);
    tmp.s = is.readString(10, true, "");
    tmp.strs = is.readList(11, true, TarsStream.List(TarsStream.String));
    tmp.blob = is.readBytes(12, true, TarsStream.BinBuffer);
    tmp.scores = is.readMap(13, true, TarsStream.Map(TarsStream.String, TarsStream.Int32));
    tmp.inner = is.readStruct(14, true, Interop.Inner);
    tmp.inners = is.readList(15, true, TarsStream.List(Interop.Inner));
    tmp.byName = is.readMap(16, true, TarsStream.Map(TarsStream.String, Interop.Inner));
    tmp.optPresent = is.readInt32(17, false, 0);
    tmp.optAbsent = is.readString(18, false, "");
    tmp.color = is.readInt32(19, true, Interop.Color.RED);
    tmp.longs = is.readList(20, true, TarsStream.List(TarsStream.Int64));
    tmp.nested = is.readMap(21, true, TarsStream.Map(TarsStream.Int32, TarsStream.List(TarsStream.String)));
    tmp.longStr = is.readString(22, true, "");
    tmp.zeroF = is.readDouble(30, true, 0.0);
    return tmp;
};
Interop.AllTypes.prototype._writeTo = function (os) {
    os.writeBoolean(0, this.b);
    os.writeInt8(1, this.i8v);
    os.writeUInt8(2, this.u8v);
    os.writeInt16(3, this.i16v);
    os.writeUInt16(4, this.u16v);
    os.writeInt32(5, this.i32v);
    os.writeUInt32(6, this.u32v);
    os.writeInt64(7, this.i64v);
    os.writeFloat(8, this.f32v);
    os.writeDouble(9, this.f64v);
    os.writeString(10, this.s);
    os.writeList(11, this.strs);
    os.writeBytes(12, this.blob);
    os.writeMap(13, this.scores);
    os.writeStruct(14, this.inner);
    os.writeList(15, this.inners);
    os.writeMap(16, this.byName);
    os.writeInt32(17, this.optPresent);
    os.writeString(18, this.optAbsent);
    os.writeInt32(19, this.color);
    os.writeList(20, this.longs);
    os.writeMap(21, this.nested);
    os.writeString(22, this.longStr);
    os.writeDouble(30, this.zeroF);
};
Interop.AllTypes.prototype._equal = function () {
    assert.fail("this structure not define key operation");
};
Interop.AllTypes.prototype._genKey = function () {
    if (!this._proto_struct_name_) {
        this._proto_struct_name_ = "STRUCT" + Math.random();
    }
    return this._proto_struct_name_;
};
Interop.AllTypes.prototype.toObject = function() {
    return {
        "b" : this.b,
        "i8v" : this.i8v,
        "u8v" : this.u8v,
        "i16v" : this.i16v,
        "u16v" : this.u16v,
        "i32v" : this.i32v,
        "u32v" : this.u32v,
        "i64v" : this.i64v,
        "f32v" : this.f32v,
        "f64v" : this.f64v,
        "s" : this.s,
        "strs" : this.strs.toObject(),
        "blob" : this.blob.toObject(),
        "scores" : this.scores.toObject(),
        "inner" : this.inner.toObject(),
        "inners" : this.inners.toObject(),
        "byName" : this.byName.toObject(),
        "optPresent" : this.optPresent,
        "optAbsent" : this.optAbsent,
        "color" : this.color,
        "longs" : this.longs.toObject(),
        "nested" : this.nested.toObject(),
        "longStr" : this.longStr,
        "zeroF" : this.zeroF
    };
};
Interop.AllTypes.prototype.readFromObject = function(json) {
    _hasOwnProperty.call(json, "b") && (this.b = json.b);
    _hasOwnProperty.call(json, "i8v") && (this.i8v = json.i8v);
    _hasOwnProperty.call(json, "u8v") && (this.u8v = json.u8v);
    _hasOwnProperty.call(json, "i16v") && (this.i16v = json.i16v);
    _hasOwnProperty.call(json, "u16v") && (this.u16v = json.u16v);
    _hasOwnProperty.call(json, "i32v") && (this.i32v = json.i32v);
    _hasOwnProperty.call(json, "u32v") && (this.u32v = json.u32v);
    _hasOwnProperty.call(json, "i64v") && (this.i64v = json.i64v);
    _hasOwnProperty.call(json, "f32v") && (this.f32v = json.f32v);
    _hasOwnProperty.call(json, "f64v") && (this.f64v = json.f64v);
    _hasOwnProperty.call(json, "s") && (this.s = json.s);
    _hasOwnProperty.call(json, "strs") && (this.strs.readFromObject(json.strs));
    _hasOwnProperty.call(json, "blob") && (this.blob.readFromObject(json.blob));
    _hasOwnProperty.call(json, "scores") && (this.scores.readFromObject(json.scores));
    _hasOwnProperty.call(json, "inner") && (this.inner.readFromObject(json.inner));
    _hasOwnProperty.call(json, "inners") && (this.inners.readFromObject(json.inners));
    _hasOwnProperty.call(json, "byName") && (this.byName.readFromObject(json.byName));
    _hasOwnProperty.call(json, "optPresent") && (this.optPresent = json.optPresent);
    _hasOwnProperty.call(json, "optAbsent") && (this.optAbsent = json.optAbsent);
    _hasOwnProperty.call(json, "color") && (this.color = json.color);
    _hasOwnProperty.call(json, "longs") && (this.longs.readFromObject(json.longs));
    _hasOwnProperty.call(json, "nested") && (this.nested.readFromObject(json.nested));
    _hasOwnProperty.call(json, "longStr") && (this.longStr = json.longStr);
    _hasOwnProperty.call(json, "zeroF") && (this.zeroF = json.zeroF);
    return this;
};
Interop.AllTypes.prototype.toBinBuffer = function () {
    var os = new TarsStream.TarsOutputStream();
    this._writeTo(os);
    return os.getBinBuffer();
};
Interop.AllTypes.new = function () {
    return new Interop.AllTypes();
};
Interop.AllTypes.create = function (is) {
    return Interop.AllTypes._readFrom(is);
};

// ---------------------------------------------------------------------------
// End of tars2node-shaped code.
// ---------------------------------------------------------------------------

function makeInner(id, name) {
    var v = new Interop.Inner();
    v.id = id;
    v.name = name;
    return v;
}

// The canonical value. Map entries are inserted in ascending key order:
// @tars/stream's HeroMap keeps entries in a plain object and writes them in
// Object.keys() order (insertion order for string keys; ascending numeric
// order for integer-like keys such as the map<int, ...> below).
function canonical() {
    var v = new Interop.AllTypes();
    v.b = true;
    v.i8v = -5;
    v.u8v = 200;
    v.i16v = -300;
    v.u16v = 60000;
    v.i32v = -70000;
    v.u32v = 4000000000;
    v.i64v = -1099511627776; // -2^40, exact as a JS number
    v.f32v = 1.5;
    v.f64v = -2.25;
    v.s = "h\u00e9llo w\u00f6rld";
    ["a", "", "ccc"].forEach(function (x) { v.strs.push(x); });
    v.blob = new TarsStream.BinBuffer(Buffer.from([0, 1, 2, 255]));
    v.scores.insert("alice", 1);
    v.scores.insert("bob", 100000);
    v.inner = makeInner(7, "seven");
    v.inners.push(makeInner(1, "one"));
    v.inners.push(makeInner(2, ""));
    v.byName.insert("x", makeInner(3, "three"));
    v.optPresent = 42;
    v.optAbsent = "";
    v.color = Interop.Color.BLUE;
    [0, -1, 1099511627776].forEach(function (x) { v.longs.push(x); });
    var one = new TarsStream.List(TarsStream.String);
    one.push("x");
    v.nested.insert(1, one);
    v.nested.insert(2, new TarsStream.List(TarsStream.String));
    v.longStr = "a".repeat(300);
    v.zeroF = 0.0;
    return v;
}

// Plain-JS view of a (decoded or canonical) AllTypes, used for comparison.
// Map entries become [key, value] pairs in iteration order so that order
// differences are visible too.
function mapEntries(m, valueFn) {
    var out = [];
    m.forEach(function (k, val) { out.push([k, valueFn(val)]); });
    return out;
}

function innerPlain(x) { return { id: x.id, name: x.name }; }
function listPlain(l, fn) { return l.value.map(fn || function (e) { return e; }); }

function plain(v) {
    return {
        b: v.b,
        i8v: v.i8v,
        u8v: v.u8v,
        i16v: v.i16v,
        u16v: v.u16v,
        i32v: v.i32v,
        u32v: v.u32v,
        i64v: v.i64v,
        f32v: v.f32v,
        f64v: v.f64v,
        s: v.s,
        strs: listPlain(v.strs),
        blob: Array.from(v.blob.toNodeBuffer()),
        scores: mapEntries(v.scores, function (x) { return x; }),
        inner: innerPlain(v.inner),
        inners: listPlain(v.inners, innerPlain),
        byName: mapEntries(v.byName, innerPlain),
        optPresent: v.optPresent,
        optAbsent: v.optAbsent,
        color: v.color,
        longs: listPlain(v.longs),
        nested: mapEntries(v.nested, function (l) { return listPlain(l); }),
        longStr: v.longStr,
        zeroF: v.zeroF
    };
}

function show(x) {
    if (typeof x === "number" && Object.is(x, -0)) return "-0";
    var s = JSON.stringify(x);
    if (s !== undefined && s.length > 200) s = s.slice(0, 200) + "...(" + s.length + " chars)";
    return s === undefined ? String(x) : s;
}

function compare(actual) {
    var exp = plain(canonical());
    exp.f32v = Math.fround(exp.f32v);
    var act = plain(actual);
    var diffs = [];
    Object.keys(exp).forEach(function (k) {
        if (!util.isDeepStrictEqual(exp[k], act[k])) {
            diffs.push("field " + k + ": expected " + show(exp[k]) + ", actual " + show(act[k]));
        }
    });
    return diffs;
}

module.exports.makeInner = makeInner;
module.exports.canonical = canonical;
module.exports.plain     = plain;
module.exports.show      = show;
module.exports.compare   = compare;
