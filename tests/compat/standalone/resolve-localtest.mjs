// SPDX-License-Identifier: Apache-2.0
// Test harness, loaded with `node --import`: resolves every *.localtest name to 127.0.0.1, as a DNS
// entry for the vault suffix would on a real host. The SDKs are not touched.
import dns from "node:dns";
const orig = dns.lookup;
dns.lookup = function (host, opts, cb) {
  if (typeof opts === "function") { cb = opts; opts = {}; }
  if (typeof host === "string" && host.endsWith(".localtest")) {
    if (opts && opts.all) return process.nextTick(cb, null, [{ address: "127.0.0.1", family: 4 }]);
    return process.nextTick(cb, null, "127.0.0.1", 4);
  }
  return orig.call(this, host, opts, cb);
};
