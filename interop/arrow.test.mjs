// The Arrow suite: the real @procwire/core 1.5.0 parent exchanges Arrow
// tables, encoded by @procwire/codecs' arrowCodec (apache-arrow IPC
// streams), with the methods sumArrow and batchesArrow of the worker named
// by PROCWIRE_WORKER. Run through `go test -run TestArrow ./interop/`, or
// directly: PROCWIRE_WORKER=path node --test arrow.test.mjs
import { test } from "node:test";
import assert from "node:assert/strict";
import { arrowCodec } from "@procwire/codecs/arrow";
import { Table, vectorFromArray, Float64, Int32, Utf8 } from "apache-arrow";
import { workerModule, withModule } from "./harness.mjs";

/** Spawns the worker with the Arrow methods declared, runs fn, shuts down. */
function withWorker(fn) {
  return withModule(
    workerModule("arrow")
      .method("sumArrow", { codec: arrowCodec })
      .method("batchesArrow", { response: "stream", codec: arrowCodec }),
    fn,
  );
}

/** A table with a Float64 column x (with nulls), an Int32 and a Utf8 column. */
function table(x) {
  return new Table({
    x: vectorFromArray(x, new Float64()),
    n: vectorFromArray(x.map((_, i) => (i % 4 === 3 ? null : i - 2)), new Int32()),
    s: vectorFromArray(x.map((_, i) => (i % 5 === 4 ? null : `row ${i} ✓`)), new Utf8()),
  });
}

const sumOf = (x) => x.reduce((acc, v) => (v === null ? acc : acc + v), 0);

/** Checks that res is the one-row table { sum: Float64 } holding want. */
function assertSum(res, want) {
  assert.ok(res instanceof Table, `the response is an apache-arrow Table, got ${res?.constructor?.name}`);
  assert.equal(res.numRows, 1);
  assert.deepStrictEqual(res.schema.fields.map((f) => `${f.name}:${f.type}`), ["sum:Float64"]);
  assert.equal(res.getChild("sum").get(0), want);
}

test("sumArrow sums x of a table, skipping nulls, and answers with a table", async () => {
  await withWorker(async (mod) => {
    const x = [1.5, null, -2.25, 4, null, 0.125, 1e10];
    assertSum(await mod.send("sumArrow", table(x)), sumOf(x));
  });
});

test("sumArrow accepts a table of several batches with a dictionary column", async () => {
  await withWorker(async (mod) => {
    const parts = [[1, 2, null], [10, null], [100]];
    let t = null;
    for (const [i, x] of parts.entries()) {
      const part = new Table({
        x: vectorFromArray(x, new Float64()),
        // Dictionary<Int32, Utf8>: each batch sends its own dictionary.
        color: vectorFromArray(x.map((_, j) => (j === 1 ? null : ["red", "green", "blue"][(i + j) % 3]))),
      });
      t = t ? t.concat(part) : part;
    }
    assert.equal(t.batches.length, 3);
    assertSum(await mod.send("sumArrow", t), 113);
  });
});

test("sumArrow handles 200 000 rows and an object encoded by the codec", async () => {
  await withWorker(async (mod) => {
    const x = Array.from({ length: 200_000 }, (_, i) => (i % 10 === 0 ? null : i * 0.5));
    assertSum(await mod.send("sumArrow", table(x)), sumOf(x));
    // A plain object becomes a table of Float64 (numbers) columns.
    assertSum(await mod.send("sumArrow", { x: [1, 2, null, 4] }), 7);
  });
});

test("sumArrow of a table without rows is 0", async () => {
  await withWorker(async (mod) => {
    assertSum(await mod.send("sumArrow", new Table({ x: vectorFromArray([], new Float64()) })), 0);
  });
});

test("sumArrow without a column x rejects with the worker's error", async () => {
  await withWorker(async (mod) => {
    const t = new Table({ y: vectorFromArray([1, 2], new Float64()) });
    await assert.rejects(mod.send("sumArrow", t), /sumArrow: the table has no column x/);
    // The worker keeps serving.
    assertSum(await mod.send("sumArrow", table([2, 3])), 5);
  });
});

test("batchesArrow streams n tables, chunk i holding three rows of i", async () => {
  await withWorker(async (mod) => {
    for (const n of [0, 1, 7]) {
      const req = new Table({ n: vectorFromArray([n], new Int32()) });
      const chunks = [];
      for await (const chunk of mod.stream("batchesArrow", req)) chunks.push(chunk);
      assert.equal(chunks.length, n, `batchesArrow ${n}`);
      chunks.forEach((chunk, i) => {
        assert.ok(chunk instanceof Table, `chunk ${i} is an apache-arrow Table`);
        assert.deepStrictEqual(chunk.schema.fields.map((f) => `${f.name}:${f.type}`), ["i:Int32"]);
        assert.equal(chunk.numRows, 3);
        assert.deepStrictEqual(Array.from(chunk.getChild("i").toArray()), [i, i, i]);
      });
    }
  });
});
