import { fileURLToPath } from 'node:url';
import { createCoordinatorClient } from '@grove/sdk';
import type { TlsFiles } from '../../common/grpc-server.js';
import { listenHttp } from '../../common/http-server.js';
import type { Logger } from '../../common/logging.js';
import { hostOf, isLoopbackHost } from '../../common/loopback.js';
import { badFlag } from '../../common/startup-error.js';
import { WebSessions } from './web-auth.js';
import { webHandler } from './web-api.js';
import { serveTerminals } from './terminal-socket.js';

// Built by Vite into dist/web, beside dist/services.
const ASSETS = fileURLToPath(new URL('../../../web/', import.meta.url));

export interface WebServerOptions {
  listen: string;
  /** The coordinator's own gRPC address: the page's API is its client. */
  grpcAddress: string;
  token: string | undefined;
  tls: TlsFiles | undefined;
  metrics: () => Promise<string>;
  shutdown: AbortSignal;
  log: Logger;
  assetsDir?: string | undefined;
}

/**
 * The coordinator's HTTP face: the web page, its JSON and event-stream API, terminals over
 * WebSocket, and /metrics. Without a token it serves loopback only: anyone who can reach it
 * could otherwise drive every agent.
 */
export async function startWebServer(options: WebServerOptions) {
  if (options.token === undefined && !isLoopbackHost(hostOf(options.listen))) {
    throw badFlag(`--http ${options.listen} is not a loopback address: serving the page beyond this machine needs --token-file`);
  }
  const client = createCoordinatorClient({
    address: options.grpcAddress,
    token: options.token,
    tls: options.tls ? { caFile: options.tls.certFile } : undefined,
  });
  const sessions = new WebSessions(options.token);
  const handler = webHandler({
    sessions,
    client,
    assetsDir: options.assetsDir ?? ASSETS,
    metrics: options.metrics,
    shutdown: options.shutdown,
    log: options.log,
  });
  const running = await listenHttp(options.listen, options.tls, handler);
  serveTerminals(running.server, { sessions, client, shutdown: options.shutdown, log: options.log });
  const url = `${options.tls ? 'https' : 'http'}://${running.address}/`;
  return {
    address: running.address,
    url,
    async close() {
      await running.close();
      client.close();
    },
  };
}
