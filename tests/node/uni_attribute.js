#!/usr/bin/env node
// Node.js side of the tars-rpc UniAttribute (TUP) interop test, driven by
// tests/uni_attribute.rs.
//
// Usage (@tars/stream is resolved from this directory's node_modules):
//
//   node uni_attribute.js encode <2|3> [node-names]
//       Prints, as one line of lowercase hex, a UniAttribute of TUP version 2
//       or 3 holding the canonical values below, encoded by @tars/stream.
//       Names are put in sorted order, so that the map is written in the
//       order TarsCpp's std::map writes it. In version 2 the lists are named
//       as TarsCpp names them ("list<int32>"), unless "node-names" is given:
//       then @tars/stream's own names are kept ("List<int32>").
//
//   node uni_attribute.js decode <2|3> <hex>
//       Decodes <hex> as a UniAttribute of that version, reads every value
//       by its name (and, in version 2, by TarsCpp's type name) and compares
//       it with the canonical value. Prints "ok" and exits 0 when all are
//       equal; otherwise prints the differences to stderr and exits 1.
//
// The values (name: TARS type = value):
//
//   "":       int32 = 0 (a return value, as TarsCpp's servants put it)
//   "b":      bool = true
//   "blob":   vector<byte> = [0, 1, 2, 255]
//   "d":      double = -2.25
//   "f":      float = 1.5
//   "i16":    short = -300
//   "i32":    int32 = -70000
//   "i64":    int64 = -(2^40)
//   "i8":     byte = -5
//   "inner":  Interop.Inner = { id: 7, name: "seven" }
//   "inners": vector<Interop.Inner> = [{ 1, "one" }, { 2, "" }]
//   "ints":   vector<int32> = [1, -2, 300000]
//   "nested": map<string, vector<string>> = { "a": ["x", "y"], "b": [] }
//   "s":      string = "héllo wörld"
//   "scores": map<string, int32> = { "alice": 1, "bob": 100000 }
//   "u16":    unsigned short = 60000
//   "u32":    unsigned int = 4000000000
//   "u8":     unsigned byte = 200
//
// Interop.Inner is interop_types.js' (0 int id; 1 string name), which
// tars2node writes with every field.

"use strict";

var assert       = require("assert");
var TarsStream   = require("@tars/stream");
var InteropTypes = require("./interop_types.js");

var Interop = InteropTypes.Interop;

function inner(id, name) {
    var value = new Interop.Inner();
    value.id = id;
    value.name = name;
    return value;
}

// A list type, named "list<...>" as TarsCpp names it unless nodeNames.
function listOf(proto, nodeNames) {
    var list = TarsStream.List(proto);
    if (!nodeNames) {
        list._classname = "list<" + proto._classname + ">";
    }
    return list;
}

function put(attr, nodeNames) {
    var inners = listOf(Interop.Inner, nodeNames);
    inners.push(inner(1, "one"));
    inners.push(inner(2, ""));
    var ints = listOf(TarsStream.Int32, nodeNames);
    [1, -2, 300000].forEach(function (v) { ints.push(v); });
    var strings = listOf(TarsStream.String, nodeNames);
    var nested = TarsStream.Map(TarsStream.String, strings);
    var a = strings.new();
    a.push("x");
    a.push("y");
    nested.insert("a", a);
    nested.insert("b", strings.new());
    if (!nodeNames) {
        nested._classname = "map<string,list<string>>";
    }
    var scores = TarsStream.Map(TarsStream.String, TarsStream.Int32);
    scores.insert("alice", 1);
    scores.insert("bob", 100000);

    attr.writeInt32("", 0);
    attr.writeBoolean("b", true);
    attr.writeBytes("blob", new TarsStream.BinBuffer(Buffer.from([0, 1, 2, 255])));
    attr.writeDouble("d", -2.25);
    attr.writeFloat("f", 1.5);
    attr.writeInt16("i16", -300);
    attr.writeInt32("i32", -70000);
    attr.writeInt64("i64", -Math.pow(2, 40));
    attr.writeInt8("i8", -5);
    attr.writeStruct("inner", inner(7, "seven"));
    attr.writeList("inners", inners);
    attr.writeList("ints", ints);
    attr.writeMap("nested", nested);
    attr.writeString("s", "h\u00e9llo w\u00f6rld");
    attr.writeMap("scores", scores);
    attr.writeUInt16("u16", 60000);
    attr.writeUInt32("u32", 4000000000);
    attr.writeUInt8("u8", 200);
}

function check(attr) {
    var diffs = [];
    function expect(name, read, expected) {
        var actual;
        try {
            actual = read();
        } catch (e) {
            diffs.push(name + ": " + ((e && e.message !== undefined) ? e.message : String(e)));
            return;
        }
        try {
            assert.deepStrictEqual(actual, expected);
        } catch (e) {
            diffs.push(name + ": expected " + JSON.stringify(expected) + ", got " + JSON.stringify(actual));
        }
    }
    function innerObject(value) {
        return { id: value.id, name: value.name };
    }
    expect("", function () { return attr.readInt32(""); }, 0);
    expect("b", function () { return attr.readBoolean("b"); }, true);
    expect("blob", function () {
        return Array.from(attr.readBytes("blob").toNodeBuffer());
    }, [0, 1, 2, 255]);
    expect("d", function () { return attr.readDouble("d"); }, -2.25);
    expect("f", function () { return attr.readFloat("f"); }, 1.5);
    expect("i16", function () { return attr.readInt16("i16"); }, -300);
    expect("i32", function () { return attr.readInt32("i32"); }, -70000);
    expect("i64", function () { return attr.readInt64("i64"); }, -Math.pow(2, 40));
    expect("i8", function () { return attr.readInt8("i8"); }, -5);
    expect("inner", function () {
        return innerObject(attr.readStruct("inner", Interop.Inner));
    }, { id: 7, name: "seven" });
    expect("inners", function () {
        return attr.readList("inners", listOf(Interop.Inner, false)).value.map(innerObject);
    }, [{ id: 1, name: "one" }, { id: 2, name: "" }]);
    expect("ints", function () {
        return attr.readList("ints", listOf(TarsStream.Int32, false)).value;
    }, [1, -2, 300000]);
    expect("nested", function () {
        var strings = listOf(TarsStream.String, false);
        var type = TarsStream.Map(TarsStream.String, strings);
        type._classname = "map<string,list<string>>";
        var map = attr.readMap("nested", type);
        var out = {};
        map.forEach(function (key, value) { out[key] = value.value; });
        return out;
    }, { a: ["x", "y"], b: [] });
    expect("s", function () { return attr.readString("s"); }, "h\u00e9llo w\u00f6rld");
    expect("scores", function () {
        var map = attr.readMap("scores", TarsStream.Map(TarsStream.String, TarsStream.Int32));
        var out = {};
        map.forEach(function (key, value) { out[key] = value; });
        return out;
    }, { alice: 1, bob: 100000 });
    expect("u16", function () { return attr.readUInt16("u16"); }, 60000);
    expect("u32", function () { return attr.readUInt32("u32"); }, 4000000000);
    expect("u8", function () { return attr.readUInt8("u8"); }, 200);
    return diffs;
}

function newAttribute(version) {
    var attr = new TarsStream.UniAttribute();
    attr.tupVersion = version;
    return attr;
}

function main(argv) {
    var version = Number(argv[1]);
    if (version !== 2 && version !== 3) {
        argv = [];
    }
    if (argv[0] === "encode" && (argv.length === 2 || (argv.length === 3 && argv[2] === "node-names"))) {
        var attr = newAttribute(version);
        put(attr, argv.length === 3);
        process.stdout.write(attr.encode().toNodeBuffer().toString("hex") + "\n");
        return 0;
    }
    if (argv[0] === "decode" && argv.length === 3) {
        var hex = argv[2].trim();
        if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
            process.stderr.write("decode: argument is not an even-length hex string\n");
            return 1;
        }
        var decoded = newAttribute(version);
        try {
            decoded.decode(new TarsStream.BinBuffer(Buffer.from(hex, "hex")));
        } catch (e) {
            process.stderr.write("decode: decoding failed: " + ((e && e.message) || String(e)) + "\n");
            return 1;
        }
        var diffs = check(decoded);
        if (diffs.length > 0) {
            diffs.forEach(function (d) { process.stderr.write("decode: mismatch: " + d + "\n"); });
            return 1;
        }
        process.stdout.write("ok\n");
        return 0;
    }
    process.stderr.write("usage: node uni_attribute.js encode <2|3> [node-names]\n" +
                         "       node uni_attribute.js decode <2|3> <hex>\n");
    return 2;
}

if (require.main === module) {
    process.exitCode = main(process.argv.slice(2));
}
