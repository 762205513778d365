import type { ChannelOptions } from '@grpc/grpc-js';

/** How to reach and authenticate to a grove service (agent or coordinator). */
export interface GroveClientOptions {
  /** host:port of the service. */
  address: string;
  /** Shared bearer token, sent as `authorization: Bearer <token>` on every call. */
  token?: string | undefined;
  /** Dial over TLS, verifying the server's certificate with this CA; plaintext when absent. */
  tls?: { caFile: string } | undefined;
  /** Deadline of every unary call that does not set its own (ms); streams get none. */
  defaultDeadlineMs?: number | undefined;
  /** Extra grpc-js channel options (keepalive, flow-control window, ...), over the SDK's own. */
  channelOptions?: ChannelOptions | undefined;
}

export const DEFAULT_DEADLINE_MS = 10_000;
