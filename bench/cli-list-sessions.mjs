// The baseline of the cli-startup bench: the smallest script that makes the call
// `grove session ls --json` makes (ListSessions, raw bytes, bare @grpc/grpc-js) and prints it.
import { Client, credentials } from '@grpc/grpc-js';

const client = new Client(process.argv[2], credentials.createInsecure());
const identity = (bytes) => bytes;
client.makeUnaryRequest('/grove.agent.v1.AgentService/ListSessions', identity, identity, Buffer.alloc(0), (err, reply) => {
  if (err) throw err;
  process.stdout.write(`${reply.length}\n`);
  client.close();
});
