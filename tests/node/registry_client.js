#!/usr/bin/env node
// Node clients of a TARS registry, for tests/registry.rs: @tars/registry's
// QueryF proxy (what @tars/rpc's EndpointManager calls), and a @tars/rpc
// client that names only the object and finds it through its `locator`.
//
// Usage:
//
//   node registry_client.js resolve <locator> <object> [<setId>]
//       Asks the registry at <locator> ("tars.tarsregistry.QueryObj@tcp -h
//       HOST -p PORT") for <object> with findObjectByIdInSameGroup, or
//       findObjectByIdInSameSet(<object>, <setId>) with a set id: what
//       @tars/rpc's EndpointManager asks. Prints "RET <n>", then one line per
//       endpoint: "active <endpoint>" or "inactive <endpoint>", where
//       <endpoint> is "tcp -h HOST -p PORT -t TIMEOUT" ("udp" when istcp is 0)
//       as EndpointManager turns an EndpointF into its Endpoint.
//
//   node registry_client.js call <locator> <object> [<setId>]
//       A @tars/rpc Communicator with the property locator = <locator> makes a
//       proxy of <object> (in the set <setId> if given) and calls
//       testHello("hello") on it (interface TestApp.Hello, see README.md);
//       prints "ok" when it returns 0 with sRsp "hello".
//
// Failures print "registry_client: FAILED: ..." on stderr and exit 1; bad
// usage exits 2. A watchdog exits 1 after 10 s.

"use strict";

// first: rpc_server.js quiets @tars/rpc (environment, console to stderr, a
// harmless warning), as for its own server
require("./rpc_server.js");

var Tars     = require("@tars/rpc");
var Registry = require("@tars/registry");
var TestApp  = require("./interop_proxy.js").TestApp;

var WATCHDOG_MS = 10000;

var watchdog = setTimeout(function () {
    process.stderr.write("registry_client: watchdog: no result after " + WATCHDOG_MS + " ms\n");
    process.exit(1);
}, WATCHDOG_MS);

function finish(code, out) {
    clearTimeout(watchdog);
    var stream = code === 0 ? process.stdout : process.stderr;
    stream.write(out, function () { process.exit(code); });
}

function describeError(e) {
    if (e && e.response && e.response.error) {
        return "code " + e.response.error.code + ": " + e.response.error.message;
    }
    return e && e.stack ? e.stack : String(e);
}

// EndpointManager._doEndpoints: protocol from istcp, host, port, timeout.
function endpointString(endpoint) {
    return (endpoint.istcp ? "tcp" : "udp") + " -h " + endpoint.host + " -p " + endpoint.port +
        " -t " + (endpoint.timeout || 0);
}

function resolve(locator, object, setId) {
    var registry = Registry.New();
    registry.setLocator(locator);
    var query = setId === undefined
        ? registry.findObjectByIdInSameGroup(object)
        : registry.findObjectByIdInSameSet(object, setId);
    return query.then(function (result) {
        var lines = ["RET " + result.response.return];
        var lists = result.response.arguments;
        lists.activeEp.value.forEach(function (e) { lines.push("active " + endpointString(e)); });
        lists.inactiveEp.value.forEach(function (e) { lines.push("inactive " + endpointString(e)); });
        return lines.join("\n") + "\n";
    });
}

function call(locator, object, setId) {
    var communicator = Tars.Communicator.New();
    communicator.setProperty("locator", locator);
    var proxy = communicator.stringToProxy(TestApp.HelloProxy, object, setId);
    return proxy.testHello("hello").then(function (r) {
        if (r.response.return !== 0 || r.response.arguments.sRsp !== "hello") {
            throw new Error("testHello: return " + r.response.return + ", sRsp " +
                            JSON.stringify(r.response.arguments.sRsp));
        }
        communicator.destroy();
        return "ok\n";
    });
}

function main(argv) {
    var modes = { resolve: resolve, call: call };
    if ((argv.length !== 3 && argv.length !== 4) || !modes.hasOwnProperty(argv[0])) {
        clearTimeout(watchdog);
        process.stderr.write("usage: node registry_client.js resolve|call <locator> <object> [<setId>]\n");
        process.exit(2);
    }
    modes[argv[0]](argv[1], argv[2], argv[3]).then(function (out) {
        finish(0, out);
    }, function (e) {
        finish(1, "registry_client: FAILED: " + describeError(e) + "\n");
    });
}

main(process.argv.slice(2));
