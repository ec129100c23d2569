// Every value of the msgpack vector set (gen-msgpack-vectors.mjs) goes
// through the Go worker's echo under the real @procwire/core 1.5.0 parent:
// Go decodes what Node's codec wrote and encodes it again, and Node must
// get back exactly what its own codec gives for the value (same numbers,
// a Buffer for a Buffer or a Uint8Array, a Date for a Date, {} for a Map).
// Run through `go test ./interop/` (TestCodecs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { msgpackCodec } from "@procwire/codecs";
import { sharedConformance } from "./harness.mjs";
import { vectors, tag } from "./gen-msgpack-vectors.mjs";

// sorted orders object keys: a Go map has no order (a struct keeps its
// fields' order), and key order is not part of a JS value's equality.
function sorted(t) {
  if (t.arr) return { arr: t.arr.map(sorted) };
  if (t.map) return { map: t.map.map(([k, v]) => [k, sorted(v)]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) };
  return t;
}

const shared = sharedConformance();

test("every vector value crosses Go and back as the same JS value", async () => {
  const all = vectors();
  assert.ok(all.length >= 40);
  for (const [name, , value] of all) {
    const want = tag(msgpackCodec.deserialize(msgpackCodec.serialize(value)));
    const got = await shared.mod.send("echo", value);
    assert.deepStrictEqual(sorted(tag(got)), sorted(want), name);
  }
});

test("classes of values made by Go", async () => {
  const t = await shared.mod.send("types", null);
  assert.ok(Buffer.isBuffer(t.bin), "[]byte arrives as a Buffer");
  assert.ok(t.date instanceof Date, "time.Time arrives as a Date");
  assert.equal(t.date.toISOString(), "2023-11-14T22:13:20.000Z");
  assert.equal(typeof t.big, "number");
  assert.equal(t.big, 2 ** 40);
  assert.equal(t.float, 1.5);
  assert.equal(t.nil, null);
  assert.deepStrictEqual(t.arr, [1, "a", true]);
  assert.deepStrictEqual(t.map, { k: "v" });
  assert.equal(Object.getPrototypeOf(t.map), Object.prototype, "a Go map arrives as a plain object");
});

test("Dates keep their milliseconds both ways, before 1970 too", async () => {
  for (const ms of [0, 1, -1, 1700000000123, -14182940000, 16725225600000]) {
    const back = await shared.mod.send("echo", new Date(ms));
    assert.ok(back instanceof Date);
    assert.equal(back.getTime(), ms);
  }
});
