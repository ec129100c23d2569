// Writes codec/testdata/msgpack-vectors.json: what the real @procwire/codecs
// msgpack codec (the one @procwire/core uses) produces for a set of
// JavaScript values, with a tagged description of each value, so that the
// Go codec's tests check themselves against Node without running it.
//
//   cd interop && node_modules/node/bin/node gen-msgpack-vectors.mjs
//
// The same values (valuesForEcho) are sent through the Go worker by
// codec.test.mjs, which checks that they come back as the same JS values.
import { writeFileSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { msgpackCodec } from "@procwire/codecs";

const here = dirname(fileURLToPath(import.meta.url));

const bytes = (n) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);

// [name, description of the JS value, value]
export function vectors() {
  const v = [];
  const add = (name, js, value) => v.push([name, js, value]);
  // Every boundary of a Go integer type, on both sides (TestIntegerRanges
  // decodes each into every Go integer type).
  for (const n of [0, 1, 127, 128, 255, 256, 300, 32767, 32768, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40, 2 ** 53 - 1]) {
    add(`int ${n}`, `${n}`, n);
  }
  for (const n of [-1, -32, -33, -128, -129, -300, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 32), -(2 ** 53 - 1)]) {
    add(`int ${n}`, `${n}`, n);
  }
  add("2^53 (unsafe integer)", "2 ** 53", 2 ** 53);
  add("float 1.5", "1.5", 1.5);
  add("float 0.1", "0.1", 0.1);
  add("float -0", "-0", -0);
  add("float NaN", "NaN", NaN);
  add("float Infinity", "Infinity", Infinity);
  add("float -Infinity", "-Infinity", -Infinity);
  add("float 3.0 (integral)", "3.0", 3.0);
  add("float 1e300", "1e300", 1e300);
  for (const n of [0, 31, 32, 255, 256, 65536]) {
    add(`string ${n} bytes`, `"a".repeat(${n})`, "a".repeat(n));
  }
  add("string utf-8", '"héllo wörld ✓"', "héllo wörld ✓");
  add("string emoji", '"🦀🐹"', "🦀🐹");
  for (const n of [0, 1, 255, 256, 65536]) {
    add(`Uint8Array ${n} bytes`, `Uint8Array(${n})`, bytes(n));
    add(`Buffer ${n} bytes`, `Buffer(${n})`, Buffer.from(bytes(n)));
  }
  add("Date epoch", 'new Date(0)', new Date(0));
  add("Date 2023-11-14T22:13:20Z", 'new Date("2023-11-14T22:13:20Z")', new Date("2023-11-14T22:13:20Z"));
  add("Date with milliseconds", 'new Date("2023-11-14T22:13:20.123Z")', new Date("2023-11-14T22:13:20.123Z"));
  add("Date before 1970", 'new Date("1969-07-20T20:17:40Z")', new Date("1969-07-20T20:17:40Z"));
  add("Date before 1970 with ms", 'new Date(-1)', new Date(-1));
  add("Date 2500", 'new Date("2500-01-01T00:00:00Z")', new Date("2500-01-01T00:00:00Z"));
  add("null", "null", null);
  add("undefined", "undefined", undefined);
  add("true", "true", true);
  add("false", "false", false);
  add("empty object", "{}", {});
  add("empty array", "[]", []);
  add("Map (encodes as an empty map)", 'new Map([["a", 1]])', new Map([["a", 1]]));
  add("nested", '{a: [1, {b: "c", d: [true, null]}], e: {f: 1.5}}', { a: [1, { b: "c", d: [true, null] }], e: { f: 1.5 } });
  add("array 16 elements", "[0..15]", Array.from({ length: 16 }, (_, i) => i));
  add("object 16 keys", "{k0: 0 … k15: 15}", Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i])));
  add("structured error", '{message: "structured failure", code: "E_CONFORMANCE", data: {input: 7}}', {
    message: "structured failure",
    code: "E_CONFORMANCE",
    data: { input: 7 },
  });
  add("mixed", '{buf: Buffer("hi"), date: new Date(1700000000000), n: -1, big: 2 ** 40}', {
    buf: Buffer.from("hi"),
    date: new Date(1700000000000),
    n: -1,
    big: 2 ** 40,
  });
  return v;
}

// tag describes a decoded JS value unambiguously, for the Go tests.
export function tag(x) {
  if (x === null || x === undefined) return { nil: true };
  if (typeof x === "boolean") return { bool: x };
  if (typeof x === "number") {
    if (Object.is(x, -0)) return { num: "-0" };
    return { num: Number.isNaN(x) ? "NaN" : Number.isFinite(x) ? String(x) : x > 0 ? "Infinity" : "-Infinity", int: Number.isInteger(x) };
  }
  if (typeof x === "string") return { str: x };
  if (x instanceof Date) return { date: x.getTime() };
  if (Buffer.isBuffer(x)) return { buffer: x.toString("hex") };
  if (x instanceof Uint8Array) return { bin: Buffer.from(x).toString("hex") };
  if (Array.isArray(x)) return { arr: x.map(tag) };
  if (x instanceof Map) return { map: [...x].map(([k, v]) => [String(k), tag(v)]) };
  return { map: Object.entries(x).map(([k, v]) => [k, tag(v)]) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = vectors().map(([name, js, value]) => {
    const enc = msgpackCodec.serialize(value);
    const back = msgpackCodec.deserialize(enc);
    // decoded: what the parent gets back from those bytes; value, when it
    // differs: what was encoded (a Uint8Array comes back as a Buffer, a Map
    // as {}, -0 as 0).
    const vector = { name, js, hex: Buffer.from(enc).toString("hex"), decoded: tag(back) };
    if (JSON.stringify(tag(value)) !== JSON.stringify(vector.decoded)) vector.value = tag(value);
    return vector;
  });
  const pkg = JSON.parse(readFileSync(join(here, "node_modules/@procwire/codecs/package.json"), "utf8"));
  const doc = {
    generator: "interop/gen-msgpack-vectors.mjs",
    codecs: `@procwire/codecs ${pkg.version}`,
    node: process.version,
    vectors: out,
  };
  writeFileSync(join(here, "../codec/testdata/msgpack-vectors.json"), JSON.stringify(doc).replaceAll('},{"name"', '},\n{"name"') + "\n");
  console.log(`${out.length} vectors written`);
}
