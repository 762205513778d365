import { readFileSync } from 'node:fs';
import { ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import { createChannel, type Channel } from 'nice-grpc';
import type { GroveClientOptions } from './client-options.js';

// grpc-js backs off reconnects up to 120s by default; a watch resuming after an agent
// restart would sit idle that long, so reconnect attempts are capped at a few seconds.
const CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 3_000,
  // Snapshots and big list pages can exceed the 4 MiB default.
  'grpc.max_receive_message_length': 256 * 1024 * 1024,
};

/** Opens the channel described by the options: plaintext, or TLS verified by `tls.caFile`. */
export function createGroveChannel(options: GroveClientOptions): Channel {
  const credentials = options.tls ? ChannelCredentials.createSsl(readFileSync(options.tls.caFile)) : ChannelCredentials.createInsecure();
  return createChannel(options.address, credentials, { ...CHANNEL_OPTIONS, ...options.channelOptions });
}
