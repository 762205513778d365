import { createChannel, createClient, createServer } from 'nice-grpc';
import { EMPTY_REQUEST, PING_SERVICE } from './ping-service.js';
import type { Ping } from './raw-ping.js';

/**
 * The same ping served and called through nice-grpc without middleware: the framework's own
 * cost over grpc-js, the floor under any grove call.
 */
export async function startNiceGrpcPing(replyBytes: number): Promise<Ping> {
  const reply = Buffer.alloc(replyBytes, 1);
  const server = createServer();
  server.add(PING_SERVICE, { ping: async () => reply });
  const port = await server.listen('127.0.0.1:0');
  const channel = createChannel(`127.0.0.1:${port}`);
  const client = createClient(PING_SERVICE, channel);
  return {
    call: () => client.ping(EMPTY_REQUEST),
    async close() {
      channel.close();
      await server.shutdown();
    },
  };
}
