// procwire.RequestInfoFromContext seen from the real @procwire/core 1.5.0
// parent: the module name is the one core gives the module (core sets
// PROCWIRE_MODULE_NAME when it spawns it), the method and its id are the
// schema's, and each request has an id of its own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { workerModule } from "./harness.mjs";
import { ModuleManager } from "@procwire/core";

test("a handler learns its module, method and request id", async () => {
  const mod = workerModule("thumbnails-7").method("requestInfo").spawnPolicy({ maxRetries: 0 });
  const manager = new ModuleManager();
  manager.register(mod);
  await manager.spawn();
  try {
    const ids = new Set();
    for (let i = 0; i < 3; i++) {
      const info = await mod.send("requestInfo", i);
      assert.equal(info.module, "thumbnails-7");
      assert.equal(info.method, "requestInfo");
      assert.ok(Number.isInteger(info.methodId) && info.methodId > 0, `method id ${info.methodId}`);
      assert.ok(Number.isInteger(info.id) && info.id > 0, `request id ${info.id}`);
      ids.add(info.id);
    }
    assert.equal(ids.size, 3, "each request has its own id");
  } finally {
    await manager.shutdown();
  }
});
