import { Client, credentials, Server, ServerCredentials, type sendUnaryData } from '@grpc/grpc-js';
import { EMPTY_REQUEST, PING_SERVICE } from './ping-service.js';

export interface Ping {
  /** One unary round trip. */
  call(): Promise<Buffer>;
  close(): Promise<void>;
}

const { path, requestSerialize, responseDeserialize } = PING_SERVICE.ping;

/**
 * The baseline: a bare grpc-js server answering every ping with `replyBytes` bytes (sized
 * like the response it is compared with) and a bare grpc-js client on loopback.
 */
export async function startRawPing(replyBytes: number): Promise<Ping> {
  const reply = Buffer.alloc(replyBytes, 1);
  const server = new Server();
  server.addService(PING_SERVICE, {
    ping: (_call: unknown, callback: sendUnaryData<Buffer>) => callback(null, reply),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  return {
    call: () =>
      new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest(path, requestSerialize, responseDeserialize, EMPTY_REQUEST, (err, value) =>
          err || !value ? reject(err ?? new Error('empty ping reply')) : resolve(value),
        ),
      ),
    async close() {
      client.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}
