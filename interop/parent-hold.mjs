// Spawns the conformance worker under the real parent, prints
// {"pid": <worker pid>, "pipe": <socket>} on stdout and waits to be killed.
// The interop suite SIGKILLs this process to check that the worker exits
// when its parent dies.
import { spawnConformance } from "./harness.mjs";

const { mod } = await spawnConformance();
const info = await mod.send("info", null);
if (process.argv.includes("busy")) {
  // Leave a request and a stream in flight when this parent is killed.
  mod.send("sleep", 60000).catch(() => {});
  (async () => { try { for await (const _ of mod.stream("blob", (() => { const b = Buffer.alloc(8); b.writeUInt32BE(1 << 20, 0); b.writeUInt32BE(65536, 4); return b; })())) {} } catch {} })();
  (async () => { try { for await (const _ of mod.stream("tick", null)) {} } catch {} })();
  await new Promise((r) => setTimeout(r, 100));
}
process.stdout.write(JSON.stringify({ pid: info.pid }) + "\n");
setInterval(() => {}, 1 << 30);
