#!/usr/bin/env node
// Node.js side of the tars-rpc codec interop test.
//
// Usage (any working directory; @tars/stream is resolved from this file's
// own node_modules, so run `npm ci` in tests/node first):
//
//   node tests/node/codec_interop.js encode
//       Prints the canonical AllTypes value, encoded by @tars/stream as a
//       top-level struct (its fields only, no STRUCT_BEGIN/STRUCT_END, i.e.
//       what tars2node's `toBinBuffer()` returns), as one line of lowercase hex.
//
//   node tests/node/codec_interop.js decode <hex>
//       Decodes <hex> as a top-level AllTypes and compares every field with
//       the canonical value. Prints "ok" and exits 0 when equal; otherwise
//       prints the differing fields (expected vs actual) to stderr and exits 1.
//       A decoding error also exits 1. Bad usage exits 2.
//
// The IDL types (module Interop: Color, Inner, AllTypes), the canonical value
// and the comparison live in interop_types.js, shared with the RPC interop
// scripts rpc_server.js and rpc_client.js.

"use strict";

var TarsStream   = require("@tars/stream");
var InteropTypes = require("./interop_types.js");

var Interop   = InteropTypes.Interop;
var canonical = InteropTypes.canonical;
var compare   = InteropTypes.compare;

module.exports.Interop = Interop;

function toHex(binBuffer) {
    return binBuffer.toNodeBuffer().toString("hex");
}

function encode() {
    return toHex(canonical().toBinBuffer());
}

function decode(hex) {
    var is = new TarsStream.TarsInputStream(new TarsStream.BinBuffer(Buffer.from(hex, "hex")));
    return Interop.AllTypes._readFrom(is);
}

function main(argv) {
    var cmd = argv[0];
    if (cmd === "encode" && argv.length === 1) {
        process.stdout.write(encode() + "\n");
        return 0;
    }
    if (cmd === "decode" && argv.length === 2) {
        var hex = argv[1].trim();
        if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
            process.stderr.write("decode: argument is not an even-length hex string\n");
            return 1;
        }
        var value;
        try {
            value = decode(hex);
        } catch (e) {
            var msg = (e && e.message !== undefined) ? e.message : String(e);
            process.stderr.write("decode: decoding failed: " + msg + "\n");
            return 1;
        }
        var diffs = compare(value);
        if (diffs.length > 0) {
            diffs.forEach(function (d) { process.stderr.write("decode: mismatch: " + d + "\n"); });
            return 1;
        }
        process.stdout.write("ok\n");
        return 0;
    }
    process.stderr.write("usage: node codec_interop.js encode\n" +
                         "       node codec_interop.js decode <hex>\n");
    return 2;
}

if (require.main === module) {
    process.exitCode = main(process.argv.slice(2));
}
