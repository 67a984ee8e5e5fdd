#!/usr/bin/env node
// EndpointF interop: the codec @tars/registry ships (EndpointFTars.js, the
// tars2node encoding of servant/EndpointF.tars, tags 0-12) against the Rust
// struct tars_rpc::registry::EndpointF.
//
// Usage (any working directory; packages resolve from tests/node/node_modules):
//
//   node registry_codec.js encode
//       Prints one line per case, "<name> <hex>": the case's EndpointF as
//       @tars/registry encodes it (a top-level struct, fields only; every
//       field is written, optional ones with default values included).
//
//   node registry_codec.js decode <hex>
//       Decodes <hex> as a top-level EndpointF with @tars/registry and prints
//       its fields on one line, in tag order:
//       "host=H port=P timeout=T istcp=I grid=G groupworkid=W grouprealid=R
//        setId=S qos=Q bakFlag=B weight=X weightType=Y" (setId "" prints as
//       setId=). Tags @tars/registry does not know (13 authType, 14 nodeName)
//       are skipped. A decoding error exits 1; bad usage exits 2.
//
// The cases (mirrored in tests/registry.rs):
//   full     every field set: host "10.0.0.1", port 18015, timeout 60000,
//            istcp 1, grid 2, groupworkid 3, grouprealid 4, setId
//            "app.sz.1", qos 5, bakFlag 6, weight 70, weightType 1
//   minimal  host "127.0.0.1", port 1, istcp 1, everything else 0 / ""
//   negative host "h", port 65535, timeout -1, istcp 0, grid -2, weight -5,
//            weightType 1, setId "app.sh.*"

"use strict";

var TarsStream = require("@tars/stream");
var EndpointF  = require("@tars/registry/EndpointFTars.js").tars.EndpointF;

var FIELDS = ["host", "port", "timeout", "istcp", "grid", "groupworkid", "grouprealid",
              "setId", "qos", "bakFlag", "weight", "weightType"];

var CASES = {
    full: {
        host: "10.0.0.1", port: 18015, timeout: 60000, istcp: 1, grid: 2,
        groupworkid: 3, grouprealid: 4, setId: "app.sz.1", qos: 5, bakFlag: 6,
        weight: 70, weightType: 1
    },
    minimal: { host: "127.0.0.1", port: 1, istcp: 1 },
    negative: {
        host: "h", port: 65535, timeout: -1, istcp: 0, grid: -2, weight: -5,
        weightType: 1, setId: "app.sh.*"
    }
};

function endpointOf(object) {
    var endpoint = new EndpointF();
    endpoint.readFromObject(object);
    return endpoint;
}

// The fields of an EndpointF, one line: what tests/registry.rs compares.
function describe(endpoint) {
    return FIELDS.map(function (field) { return field + "=" + endpoint[field]; }).join(" ");
}

function main(argv) {
    if (argv[0] === "encode" && argv.length === 1) {
        Object.keys(CASES).forEach(function (name) {
            var hex = endpointOf(CASES[name]).toBinBuffer().toNodeBuffer().toString("hex");
            process.stdout.write(name + " " + hex + "\n");
        });
        return 0;
    }
    if (argv[0] === "decode" && argv.length === 2) {
        var hex = argv[1].trim();
        if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
            process.stderr.write("decode: argument is not an even-length hex string\n");
            return 1;
        }
        var endpoint;
        try {
            var is = new TarsStream.TarsInputStream(new TarsStream.BinBuffer(Buffer.from(hex, "hex")));
            endpoint = EndpointF._readFrom(is);
        } catch (e) {
            process.stderr.write("decode: decoding failed: " + (e && e.message !== undefined ? e.message : String(e)) + "\n");
            return 1;
        }
        process.stdout.write(describe(endpoint) + "\n");
        return 0;
    }
    process.stderr.write("usage: node registry_codec.js encode\n" +
                         "       node registry_codec.js decode <hex>\n");
    return 2;
}

module.exports.describe = describe;

if (require.main === module) {
    process.exitCode = main(process.argv.slice(2));
}
