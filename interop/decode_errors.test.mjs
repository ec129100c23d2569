// Request errors as the real @procwire/core 1.5.0 parent sees them: the
// methods thumbnail and thumbnailStrict of the worker named by
// PROCWIRE_WORKER (see examples/conformance/README.md) answer a request
// that does not decode with err.data.code "E_BAD_REQUEST", the field path,
// what the Go type wants and what came. A second module declares the same
// methods with the raw request codec, to send MessagePack no encoder
// would write (a payload cut short, bytes that are no Arrow stream).
// Run through `go test ./interop/ -run TestDecodeErrors`, or directly:
// PROCWIRE_WORKER=path node --test decode_errors.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ModuleManager } from "@procwire/core";
import { msgpackCodec, rawCodec } from "@procwire/codecs";
import { workerModule } from "./harness.mjs";

const BAD_REQUEST = "E_BAD_REQUEST";

let manager, mod, rawMod;

before(async () => {
  manager = new ModuleManager();
  mod = workerModule("requests").method("thumbnail").method("thumbnailStrict");
  // The same worker; its requests go out as the bytes given.
  const raw = { requestCodec: rawCodec, responseCodec: msgpackCodec };
  rawMod = workerModule("requestsRaw").method("thumbnail", raw).method("thumbnailStrict", raw)
    .method("sumArrow", raw);
  manager.register(mod.spawnPolicy({ maxRetries: 0 }));
  manager.register(rawMod.spawnPolicy({ maxRetries: 0 }));
  await manager.spawn();
});

after(async () => {
  await manager?.shutdown();
});

/** Calls method on m with data and returns the error it fails with. */
async function failure(m, method, data) {
  try {
    const r = await m.send(method, data);
    assert.fail(`${method} ${JSON.stringify(data)} succeeded with ${JSON.stringify(r)}`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    return err;
  }
}

/** Checks err against the expected message and data fields. */
function assertBadRequest(err, method, { field, want, got }) {
  assert.equal(err.data?.code, BAD_REQUEST, `code of ${err.message}`);
  assert.equal(err.data.method, method);
  assert.equal(err.data.codec, "msgpack");
  assert.equal(err.data.field, field, "field");
  assert.equal(err.data.want, want, "want");
  assert.equal(err.data.got, got, "got");
  const where = field === undefined ? "" : `field "${field}": `;
  const what = want === undefined ? got : `want ${want}, got ${got}`;
  assert.equal(err.message, `${method}: ${where}${what}`);
}

test("a valid request decodes; unknown fields are dropped unless strict", async () => {
  const req = { width: 640, height: 255, format: "png", items: [{ width: 1 }], meta: { k: 2 } };
  assert.deepStrictEqual(await mod.send("thumbnail", req), req);
  assert.deepStrictEqual(await mod.send("thumbnailStrict", req), req);
  assert.deepStrictEqual(await mod.send("thumbnail", { width: 3, widht: 4 }),
    { width: 3, height: 0, format: "", items: null, meta: null });
});

test("wrong type: the field, the Go type and the value that came", async () => {
  const cases = [
    [{ width: "120" }, { field: "width", want: "integer", got: 'string "120"' }],
    [{ width: 1.5 }, { field: "width", want: "integer", got: "number 1.5" }],
    [{ format: 7 }, { field: "format", want: "string", got: "integer 7" }],
    [{ format: ["a"] }, { field: "format", want: "string", got: "array of 1 item" }],
    [{ items: [{}, {}, { width: "w" }] }, { field: "items[2].width", want: "integer", got: 'string "w"' }],
    [{ items: "none" }, { field: "items", want: "array", got: 'string "none"' }],
    [{ meta: { k: true } }, { field: 'meta["k"]', want: "integer", got: "boolean true" }],
    [{ width: Buffer.from([1, 2]) }, { field: "width", want: "integer", got: "bytes of length 2 (Buffer)" }],
    ["hello", { field: undefined, want: "object", got: 'string "hello"' }],
    [{ format: "x".repeat(100) }, undefined], // a string is fine: no error
  ];
  for (const [data, expect] of cases) {
    if (expect === undefined) {
      await mod.send("thumbnail", data);
      continue;
    }
    assertBadRequest(await failure(mod, "thumbnail", data), "thumbnail", expect);
  }
  // A long string is cut short in the message.
  const err = await failure(mod, "thumbnail", { width: "y".repeat(1000) });
  assert.equal(err.data.got, `string "${"y".repeat(32)}…" (1000 bytes)`);
});

test("overflow: an integer that does not fit its Go type, with the range", async () => {
  const cases = [
    [{ height: 300 }, { field: "height", want: "uint8 (0..255)", got: "integer 300" }],
    [{ height: -1 }, { field: "height", want: "uint8 (0..255)", got: "integer -1" }],
    [{ meta: { big: 2 ** 53 } }, { field: 'meta["big"]', want: "integer", got: "number 9007199254740992" }],
    [{ items: [{ width: 2 ** 63 }] }, { field: "items[0].width", want: "integer", got: "number 9223372036854776000" }],
  ];
  for (const [data, expect] of cases) {
    assertBadRequest(await failure(mod, "thumbnail", data), "thumbnail", expect);
  }
  // 2^63 as a uint64 (a BigInt is not what Node's codec writes by default:
  // send the bytes) overflows a Go int.
  const bytes = Buffer.from([0x81, 0xa5, ...Buffer.from("width"), 0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0]);
  assertBadRequest(await failure(rawMod, "thumbnail", bytes), "thumbnail", {
    field: "width", want: "integer (-9223372036854775808..9223372036854775807)", got: "integer 9223372036854775808",
  });
});

test("unknown field in strict mode", async () => {
  const cases = [
    [{ widht: 10 }, { field: "widht", want: undefined, got: "unknown field" }],
    [{ width: 1, items: [{ width: 2, colour: "red" }] }, { field: "items[0].colour", want: undefined, got: "unknown field" }],
    [{ "odd key": 1 }, { field: '["odd key"]', want: undefined, got: "unknown field" }],
  ];
  for (const [data, expect] of cases) {
    assertBadRequest(await failure(mod, "thumbnailStrict", data), "thumbnailStrict", expect);
    // The same request to the lenient method succeeds.
    await mod.send("thumbnail", data);
  }
});

test("truncated payload: end of input, at the field being read", async () => {
  const full = Buffer.from(msgpackCodec.serialize({ width: 640, format: "thumbnail", height: 2 }));
  // Every prefix fails with end of input (whatever field it stops in).
  for (let n = 0; n < full.length; n++) {
    const err = await failure(rawMod, "thumbnail", full.subarray(0, n));
    assert.equal(err.data?.code, BAD_REQUEST, `${n} bytes: ${err.message}`);
    assert.equal(err.data.got, "end of input", `${n} bytes: ${err.message}`);
  }
  // Cut in the middle of the string "thumbnail".
  const cut = full.subarray(0, full.indexOf("thumb") + 3);
  assertBadRequest(await failure(rawMod, "thumbnail", cut), "thumbnail",
    { field: "format", want: "string", got: "end of input" });
  // A length the payload cannot hold.
  const lie = Buffer.from([0x81, 0xa6, ...Buffer.from("format"), 0xdb, 0xff, 0xff, 0xff, 0xff, 0x78]);
  assertBadRequest(await failure(rawMod, "thumbnailStrict", lie), "thumbnailStrict",
    { field: "format", want: "string", got: "end of input" });
  // The whole payload is fine.
  assert.deepStrictEqual(await rawMod.send("thumbnail", full),
    { width: 640, height: 2, format: "thumbnail", items: null, meta: null });
});

test("an Arrow request that does not decode: the same code, no field", async () => {
  const err = await failure(rawMod, "sumArrow", Buffer.from("not an arrow stream"));
  assert.equal(err.data?.code, BAD_REQUEST, err.message);
  assert.equal(err.data.method, "sumArrow");
  assert.equal(err.data.codec, "arrow");
  assert.equal(err.data.field, undefined);
  assert.match(err.message, /^sumArrow: cannot decode the arrow request: /);
});
