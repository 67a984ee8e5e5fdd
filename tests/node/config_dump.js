// Parses TARS config files with @tars/utils' config parser (tars-config-parser.js) and prints,
// for each file given, one line of canonical JSON: the tree of domains in the parser's order,
//
//   {"name":"","params":[["key","value"],...],"lines":["key=value",...],"domains":[...]}
//
// where "params" are a domain's keys with their values (null for a key written without `=`,
// which the parser keeps as undefined), "lines" the parameter lines as the parser recorded them
// (its tars_config_line_vector_value), and "domains" the domains in it. The top level has the
// name "". A file the parser refuses gives {"error":"..."}.
//
// Usage: node config_dump.js FILE...   (exit 0 once every file is printed, 2 on bad usage)
// tests/config_interop.rs compares these lines with tars_rpc::config's reading of the same files.

'use strict';

const fs = require('fs');
const Config = require('@tars/utils').Config;

const LINES = 'tars_config_line_vector_value';

function isPlainObject(value) {
    return Object.prototype.toString.call(value) === '[object Object]';
}

function dump(name, domain) {
    const params = [];
    const domains = [];
    for (const key of Object.keys(domain)) {
        if (key === LINES) {
            continue;
        }
        const value = domain[key];
        if (isPlainObject(value)) {
            domains.push(dump(key, value));
        } else {
            params.push([key, value === undefined ? null : value]);
        }
    }
    const lines = Array.isArray(domain[LINES]) ? domain[LINES] : [];
    return { name: name, params: params, lines: lines, domains: domains };
}

function main(files) {
    if (files.length === 0) {
        process.stderr.write('usage: node config_dump.js FILE...\n');
        process.exit(2);
    }
    for (const file of files) {
        const config = new Config();
        let ok;
        let message = 'the parser returned false';
        try {
            // what parseFile does, without its catch, which would hide the parser's message
            ok = config.parseText(fs.readFileSync(file, 'utf8'));
        } catch (error) {
            ok = false;
            message = String(error && error.message);
        }
        if (ok) {
            process.stdout.write(JSON.stringify(dump('', config._data)) + '\n');
        } else {
            process.stdout.write(JSON.stringify({ error: message }) + '\n');
        }
    }
}

main(process.argv.slice(2));
