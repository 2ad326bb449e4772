// SPDX-License-Identifier: Apache-2.0
//
// Generates the Shared Key and SAS test vectors embedded in test_st_sig.c. The unmodified
// @azure/storage-blob SDK (12.32.0, storage-common 12.4.1) signs requests that it sends to a small
// local HTTP server, which records what arrives on the wire: method, the raw path from the request
// line, the headers and the query parameters (split and percent-decoded as the C server does).
// SAS tokens come from generateBlobSASQueryParameters / generateAccountSASQueryParameters; a few
// hand-signed tokens cover time forms the SDK never emits (date-only, fractional seconds).
//
// Run from the repository root:  node tests/unit/storage/gen_st_sig_vectors.mjs > /tmp/vectors.c
// and paste the output between the VECTORS markers in test_st_sig.c.
import { createRequire } from "node:module";
import http from "node:http";
import crypto from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../compat/package.json"));
const blob = require("@azure/storage-blob");
const common = require(
  path.join(here, "../../compat/node_modules/@azure/storage-blob/node_modules/@azure/storage-common/dist/commonjs/index.js"),
);
const pipe = require("@azure/core-rest-pipeline");

const ACCOUNT = "devstoreaccount1";
const KEY1 = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
// key2 of the test: 64 bytes 0x00..0x3f.
const KEY2 = Buffer.from([...Array(64).keys()]).toString("base64");
const WRONG = Buffer.alloc(64, 0x5a).toString("base64");

const cred1 = new blob.StorageSharedKeyCredential(ACCOUNT, KEY1);
const cred2 = new blob.StorageSharedKeyCredential(ACCOUNT, KEY2);
const credWrong = new blob.StorageSharedKeyCredential(ACCOUNT, WRONG);

let captured = [];
const server = http.createServer((req, res) => {
  const headers = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
  const q = req.url.indexOf("?");
  const rawPath = q < 0 ? req.url : req.url.substring(0, q);
  const query = [];
  if (q >= 0) {
    for (const part of req.url.substring(q + 1).split("&")) {
      if (part === "") continue;
      const e = part.indexOf("=");
      const k = e < 0 ? part : part.substring(0, e);
      const v = e < 0 ? "" : part.substring(e + 1);
      query.push([decodeURIComponent(k), decodeURIComponent(v)]);
    }
  }
  captured.push({ method: req.method, rawPath, headers, query });
  req.resume();
  req.on("end", () => {
    res.writeHead(req.method === "PUT" ? 201 : 200, {
      etag: '"0x8D0000000000001"',
      "last-modified": new Date().toUTCString(),
      "content-length": "0",
    });
    res.end();
  });
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${server.address().port}/${ACCOUNT}`;
const popts = { retryOptions: { maxTries: 1 } };

async function capture(fn) {
  captured = [];
  try {
    await fn();
  } catch (e) {
    if (captured.length < 1) console.error(e);
  }
  if (captured.length < 1) throw new Error("nothing captured");
  return captured[0];
}

// Signs and sends a hand-built request through the SDK's own Shared Key policy (storage-common).
async function rawSigned(cred, method, url, headers) {
  const client = pipe.createDefaultHttpClient();
  const p = pipe.createEmptyPipeline();
  p.addPolicy(common.storageSharedKeyCredentialPolicy({ accountName: cred.accountName, accountKey: cred.accountKey }));
  const req = pipe.createPipelineRequest({ url, method, allowInsecureConnection: true });
  for (const [k, v] of Object.entries(headers)) req.headers.set(k, v);
  req.headers.set("x-ms-version", "2026-04-06");
  return capture(() => p.sendRequest(client, req));
}

const vectors = [];
function add(name, now, r) {
  vectors.push({ name, now, ...r });
}
const nowSec = () => Math.floor(Date.now() / 1000);

function svc(cred) {
  return new blob.BlobServiceClient(base, blob.newPipeline(cred, popts));
}

// ---- Shared Key ----
{
  const s = svc(cred1);
  const c = s.getContainerClient("c1");
  const b = c.getBlockBlobClient("dir/a b.txt");
  add("sk_create_container", nowSec(), await capture(() => c.create()));
  add(
    "sk_put_meta",
    nowSec(),
    await capture(() =>
      b.upload("hello world", 11, {
        metadata: { a: "1", a_b: "2", a0: "3", ab: "4", "a-b": "5" },
        blobHTTPHeaders: { blobContentType: "text/plain" },
      }),
    ),
  );
  add("sk_put_empty", nowSec(), await capture(() => c.getBlockBlobClient("empty").upload("", 0)));
  add(
    "sk_list_blobs",
    nowSec(),
    await capture(() =>
      c.listBlobsByHierarchy("/", { prefix: "dir/", includeMetadata: true }).byPage({ maxPageSize: 2 }).next(),
    ),
  );
  add("sk_list_containers", nowSec(), await capture(() => s.listContainers({ prefix: "wire" }).byPage().next()));
  add("sk_get_range", nowSec(), await capture(() => b.download(0, 10)));
  add(
    "sk_content_language",
    nowSec(),
    await rawSigned(cred1, "PUT", `${base}/c1/lang.txt`, {
      "Content-Language": "de-DE",
      "Content-Type": "text/plain",
      "x-ms-blob-type": "BlockBlob",
    }),
  );
  add(
    "sk_content_enc_lang",
    nowSec(),
    await rawSigned(cred1, "PUT", `${base}/c1/lang.txt`, {
      "Content-Language": "fr",
      "Content-Encoding": "gzip",
      "x-ms-blob-type": "BlockBlob",
    }),
  );
  add(
    "sk_empty_query",
    nowSec(),
    await rawSigned(cred1, "GET", `${base}/c1?restype=container&comp=list&prefix=&timeout=30`, {}),
  );
  add("sk_key2", nowSec(), await capture(() => svc(cred2).getContainerClient("c1").getProperties()));
  add("sk_wrong_key", nowSec(), await capture(() => svc(credWrong).getContainerClient("c1").getProperties()));
}

// ---- SAS ----
const ST = new Date("2026-01-01T00:00:00Z");
const SE = new Date("2026-01-02T00:00:00Z");
const IN = Math.floor(Date.parse("2026-01-01T12:00:00Z") / 1000); // a "now" inside [ST, SE]

function sasUrl(container, blobName, sas) {
  return `${base}/${container}${blobName ? "/" + blobName.split("/").map(encodeURIComponent).join("/") : ""}?${sas}`;
}
async function sasGet(container, blobName, sas) {
  const u = sasUrl(container, blobName, sas);
  if (blobName) {
    return capture(() => new blob.BlobClient(u, new blob.AnonymousCredential(), popts).download());
  }
  return capture(() => new blob.ContainerClient(u, new blob.AnonymousCredential(), popts).listBlobsFlat().byPage().next());
}

{
  const blobSas = blob
    .generateBlobSASQueryParameters(
      {
        containerName: "c1",
        blobName: "dir/a b.txt",
        permissions: blob.BlobSASPermissions.parse("r"),
        startsOn: ST,
        expiresOn: SE,
        protocol: blob.SASProtocol.Https,
        ipRange: { start: "10.0.0.1", end: "10.0.0.255" },
        cacheControl: "no-cache",
        contentDisposition: "attachment; filename=\"x y.txt\"",
        contentType: "application/x-test",
      },
      cred1,
    )
    .toString();
  add("sas_blob_read", IN, await sasGet("c1", "dir/a b.txt", blobSas));

  const contSas = blob
    .generateBlobSASQueryParameters(
      {
        containerName: "c1",
        permissions: blob.ContainerSASPermissions.parse("rl"),
        startsOn: ST,
        expiresOn: SE,
        protocol: blob.SASProtocol.HttpsAndHttp,
        ipRange: { start: "192.168.1.7" },
      },
      cred2,
    )
    .toString();
  add("sas_container_list", IN, await sasGet("c1", null, contSas));
  add("sas_container_blob", IN, await sasGet("c1", "other.bin", contSas));

  const v2019 = blob
    .generateBlobSASQueryParameters(
      { containerName: "c1", blobName: "old.txt", permissions: blob.BlobSASPermissions.parse("rw"), expiresOn: SE, version: "2019-12-12" },
      cred1,
    )
    .toString();
  add("sas_blob_2019", IN, await sasGet("c1", "old.txt", v2019));

  const v2015 = blob
    .generateBlobSASQueryParameters(
      { containerName: "c1", blobName: "old.txt", permissions: blob.BlobSASPermissions.parse("r"), expiresOn: SE, version: "2018-03-28" },
      cred1,
    )
    .toString();
  add("sas_blob_2018_03", IN, await sasGet("c1", "old.txt", v2015));

  const ses = blob
    .generateBlobSASQueryParameters(
      { containerName: "c1", blobName: "s.txt", permissions: blob.BlobSASPermissions.parse("racwd"), startsOn: ST, expiresOn: SE, version: "2020-12-06", encryptionScope: "scope1" },
      cred1,
    )
    .toString();
  add("sas_blob_ses", IN, await sasGet("c1", "s.txt", ses));

  const si = blob
    .generateBlobSASQueryParameters({ containerName: "c1", blobName: "p.txt", identifier: "policy1" }, cred1)
    .toString();
  add("sas_stored_policy", IN, await sasGet("c1", "p.txt", si));

  const udk = {
    signedObjectId: "11111111-1111-1111-1111-111111111111",
    signedTenantId: "22222222-2222-2222-2222-222222222222",
    signedStartsOn: ST,
    signedExpiresOn: SE,
    signedService: "b",
    signedVersion: "2026-04-06",
    value: KEY2,
  };
  const ud = blob
    .generateBlobSASQueryParameters(
      { containerName: "c1", blobName: "u.txt", permissions: blob.BlobSASPermissions.parse("r"), startsOn: ST, expiresOn: SE },
      udk,
      ACCOUNT,
    )
    .toString();
  add("sas_user_delegation", IN, await sasGet("c1", "u.txt", ud));

  // Hand-signed (same 2020-12-06+ layout as the SDK) with time forms the SDK does not emit.
  function handSigned(st, se) {
    const sts = ["r", st, se, `/blob/${ACCOUNT}/c1/h.txt`, "", "", "", "2026-04-06", "b", "", "", "", "", "", "", ""].join("\n");
    const sig = crypto.createHmac("sha256", Buffer.from(KEY1, "base64")).update(sts, "utf8").digest("base64");
    const q = new URLSearchParams({ sv: "2026-04-06", st, se, sr: "b", sp: "r", sig });
    return q.toString();
  }
  const inverted = blob
    .generateBlobSASQueryParameters(
      { containerName: "c1", blobName: "h.txt", permissions: blob.BlobSASPermissions.parse("r"), startsOn: SE, expiresOn: ST },
      cred1,
    )
    .toString();
  add("sas_inverted", IN, await sasGet("c1", "h.txt", inverted));
  add("sas_date_only", IN, await sasGet("c1", "h.txt", handSigned("2026-01-01", "2026-01-02")));
  add("sas_fractional", IN, await sasGet("c1", "h.txt", handSigned("2026-01-01T00:00:00.1234567Z", "2026-01-02T00:00:00.5Z")));

  function acct(services, resourceTypes, perms, version, cred = cred1) {
    return blob
      .generateAccountSASQueryParameters(
        {
          services,
          resourceTypes,
          permissions: blob.AccountSASPermissions.parse(perms),
          startsOn: ST,
          expiresOn: SE,
          protocol: blob.SASProtocol.HttpsAndHttp,
          version,
        },
        cred,
      )
      .toString();
  }
  const all = acct("b", "sco", "rwdlac");
  add("asas_all_get", IN, await sasGet("c1", "dir/a b.txt", all));
  add("asas_all_list_containers", IN, await capture(() => new blob.BlobServiceClient(`${base}?${all}`, new blob.AnonymousCredential(), popts).listContainers().byPage().next()));
  add("asas_all_create_container", IN, await capture(() => new blob.ContainerClient(`${base}/c2?${all}`, new blob.AnonymousCredential(), popts).create()));
  add("asas_o_get", IN, await sasGet("c1", "x.txt", acct("b", "o", "r")));
  add("asas_c_list", IN, await sasGet("c1", null, acct("b", "c", "l")));
  add("asas_s_list_containers", IN, await capture(() => new blob.BlobServiceClient(`${base}?${acct("b", "s", "l")}`, new blob.AnonymousCredential(), popts).listContainers().byPage().next()));
  add("asas_queue_only", IN, await sasGet("c1", "x.txt", acct("q", "o", "r")));
  add("asas_2019", IN, await sasGet("c1", "x.txt", acct("bf", "o", "r", "2019-12-12", cred2)));
}

server.close();

// ---- C output ----
const cstr = (s) =>
  '"' +
  Buffer.from(s, "utf8")
    .toString("latin1")
    .replace(/[\\"]/g, (m) => "\\" + m)
    .replace(/[\x00-\x1f\x7f-\xff]/g, (m) => "\\" + m.charCodeAt(0).toString(8).padStart(3, "0")) +
  '"';
let out = "";
out += `/* Generated by gen_st_sig_vectors.mjs with @azure/storage-blob 12.32.0 / storage-common 12.4.1. */\n`;
out += `#define KEY1_B64 ${cstr(KEY1)}\n#define KEY2_B64 ${cstr(KEY2)}\n\n`;
out += `static const struct vec VECS[] = {\n`;
for (const v of vectors) {
  out += `    {${cstr(v.name)}, ${cstr(v.method)}, ${cstr(v.rawPath)}, ${v.now}LL,\n     {`;
  out += v.headers.map(([k, val]) => `{${cstr(k)}, ${cstr(val)}}`).join(",\n      ");
  out += `, {NULL, NULL}},\n     {`;
  out += v.query.map(([k, val]) => `{${cstr(k)}, ${cstr(val)}}`).join(",\n      ");
  out += `${v.query.length ? ", " : ""}{NULL, NULL}}},\n`;
}
out += `};\n`;
process.stdout.write(out);
