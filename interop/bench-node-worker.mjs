// The official Node worker (@procwire/client 1.3.1) with the benchmark's
// methods: echo (msgpack), echoRaw (raw), blob (raw stream, 8-byte request:
// uint32 BE count, uint32 BE size). The bench command runs it beside the Go
// worker and the null worker under the same parent.
import { Client } from "@procwire/client";
import { rawCodec } from "@procwire/codecs";

const client = new Client()
  .handle("echo", async (data, ctx) => ctx.respond(data))
  .handle("echoRaw", async (data, ctx) => ctx.respond(data), { codec: rawCodec })
  .handle("blob", async (data, ctx) => {
    const count = data.readUInt32BE(0);
    const size = data.readUInt32BE(4);
    for (let i = 0; i < count; i++) {
      await ctx.chunk(Buffer.alloc(size, i & 0xff));
    }
    await ctx.end();
  }, { response: "stream", codec: rawCodec });

await client.start();
