import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServerCredentials, type ChannelOptions } from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { createServer, type Server } from 'nice-grpc';
import { HealthDefinition, HealthServiceImpl, HealthState } from 'nice-grpc-server-health';
import { ServerReflection, ServerReflectionService } from 'nice-grpc-server-reflection';
import { authInterceptor } from './auth.js';
import { rpcMetricsMiddleware } from './metrics.js';
import { withErrorMapping } from './error-mapping.js';
import { StartupError } from './startup-error.js';
import { withSafeDecoding } from './request-guard.js';
import type { Logger } from './logging.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/**
 * What one message may be. Requests are bounded by their own field limits (a StartTask is
 * at most a few MiB) and snapshots travel in 1 MiB chunks, so what a server receives stays
 * well under this; answers (list pages, routed results) may be larger, and a caller's own
 * channel takes them. Credentials are checked before any body is read (auth.ts), so only an
 * authenticated caller can make a server hold a message of this size.
 */
export const MESSAGE_LIMITS = {
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 256 * 1024 * 1024,
};

// Agents keep their link alive with pings; the server must accept them.
const SERVER_OPTIONS = {
  ...MESSAGE_LIMITS,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 5_000,
};

/** Where services register their implementations (errors mapped by `withErrorMapping`). */
export interface ServiceRegistry {
  add: Server['add'];
}

export interface GrpcServerOptions {
  listen: string;
  log: Logger;
  token?: string | undefined;
  tls?: TlsFiles | undefined;
  /** Where call durations by method are recorded, under `<prefix>_rpc_duration_seconds`. */
  metrics?: { registry: Registry; prefix: string } | undefined;
  /** Fully-qualified names of the services registered, for reflection and health. */
  serviceNames: string[];
  /** Registers the service implementations; every handler's errors are mapped to statuses. */
  register: (services: ServiceRegistry) => void;
}

export interface RunningGrpcServer {
  /** host:port actually bound (port 0 resolved). */
  address: string;
  health: HealthState;
  /** Stops accepting calls, waits for in-flight ones up to `graceMs`, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

const REFLECTION_V1ALPHA = {
  serverReflectionInfo: {
    ...ServerReflectionService.serverReflectionInfo,
    path: '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo',
  },
} as unknown as typeof ServerReflectionService;

// The descriptor set `buf build` writes next to the generated code, for server reflection.
function loadDescriptorSet(): Uint8Array {
  const here = dirname(fileURLToPath(import.meta.url));
  // Works from both the sources (services/common) and the build (dist/services/common).
  for (const candidate of [join(here, '../../gen/descriptors.binpb'), join(here, '../../../gen/descriptors.binpb')]) {
    try {
      return readFileSync(candidate);
    } catch {
      // try the next location
    }
  }
  throw new Error('gen/descriptors.binpb is missing: run `make proto`');
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  // Without a token there is nothing to check: no auth layer on every call's path.
  const bare = options.token
    ? createServer({ ...SERVER_OPTIONS, interceptors: [authInterceptor(options.token, options.log)] } as ChannelOptions)
    : createServer(SERVER_OPTIONS);
  const server = options.metrics ? bare.use(rpcMetricsMiddleware(options.metrics.registry, options.metrics.prefix)) : bare;
  const health = HealthState();
  server.add(HealthDefinition, HealthServiceImpl(health));
  const reflection = ServerReflection(loadDescriptorSet(), [...options.serviceNames, HealthDefinition.fullName]);
  server.add(ServerReflectionService, reflection);
  // The v1alpha protocol too: older grpcurl, Evans, grpc_cli and Python's reflection client
  // speak only that. Its messages are v1's field for field; only the service name differs.
  server.add(REFLECTION_V1ALPHA, reflection);
  options.register({
    add(definition, implementation) {
      const safe = withSafeDecoding(definition as object) as typeof definition;
      return server.add(safe, withErrorMapping(definition as object, implementation as object, options.log) as typeof implementation);
    },
  });
  const credentials = options.tls
    ? ServerCredentials.createSsl(
        null,
        [
          {
            private_key: readFileSync(options.tls.keyFile),
            cert_chain: readFileSync(options.tls.certFile),
          },
        ],
        false,
      )
    : ServerCredentials.createInsecure();
  const port = await server.listen(options.listen, credentials).catch((err: unknown) => {
    const message = String((err as Error)?.message ?? err);
    const why = /EADDRINUSE|address already in use/i.test(message) ? 'the address is already in use' : message;
    throw new StartupError(`cannot listen on ${options.listen}: ${why}`);
  });
  const host = options.listen.slice(0, options.listen.lastIndexOf(':'));
  for (const name of options.serviceNames) health.setStatus('healthy', name);
  return {
    address: `${host}:${port}`,
    health,
    async close(graceMs = 5000) {
      health.setStatus('unhealthy');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        server.shutdown(),
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, graceMs);
        }),
      ]);
      clearTimeout(timer);
    },
  };
}
