// Spawns the conformance worker under the real parent, prints
// {"pid": <worker pid>, "pipe": <socket>} on stdout and waits to be killed.
// The interop suite SIGKILLs this process to check that the worker exits
// when its parent dies.
import { spawnConformance } from "./harness.mjs";

const { mod } = await spawnConformance();
const info = await mod.send("info", null);
process.stdout.write(JSON.stringify({ pid: info.pid }) + "\n");
setInterval(() => {}, 1 << 30);
