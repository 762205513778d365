import { Client as GrpcClient, Metadata as GrpcMetadata, type Channel, type ServiceError } from '@grpc/grpc-js';
import { AbortError } from 'abort-controller-x';
import { ClientError, Metadata, Status } from 'nice-grpc-common';
import { REASON_TRAILER } from '../../wire/trailers.js';
import { toGroveClientError, type DeadlineCallOptions } from './call-middleware.js';

/** What a unary call through the SDK accepts: nice-grpc's call options plus the deadline. */
interface UnaryOptions extends DeadlineCallOptions {
  signal?: AbortSignal;
  metadata?: Metadata;
  onHeader?(header: Metadata): void;
  onTrailer?(trailer: Metadata): void;
}

interface MessageType {
  encode(message: unknown): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
  fromPartial?(partial: unknown): unknown;
}

/** The ts-proto generic definition of a service, as far as this needs it. */
export interface UnaryServiceDefinition {
  fullName: string;
  methods: Record<
    string,
    { name: string; requestType: MessageType; responseType: MessageType; requestStream: boolean; responseStream: boolean }
  >;
}

type UnaryMethod = (request: unknown, options?: UnaryOptions) => Promise<unknown>;

function toGrpcJs(metadata: Metadata | undefined, authorization: string | undefined): GrpcMetadata {
  const converted = new GrpcMetadata();
  if (metadata) {
    for (const [key, values] of metadata) {
      for (const value of values) converted.add(key, typeof value === 'string' ? value : Buffer.from(value));
    }
  }
  if (authorization) converted.set('authorization', authorization);
  return converted;
}

function fromGrpcJs(metadata: GrpcMetadata): Metadata {
  const converted = Metadata();
  for (const key of Object.keys(metadata.getMap())) converted.set(key, metadata.get(key) as string[]);
  return converted;
}

/**
 * Every unary method of `definition`, called straight on grpc-js rather than through
 * nice-grpc's client and a middleware layer: the same behaviour (client-side deadline, bearer
 * token, typed GroveClientError with the `grove-reason` trailer, abort by signal, onHeader and
 * onTrailer), at about the cost of a bare grpc-js call. nice-grpc's unary path runs each call
 * through async generators and converts metadata both ways every time; for the short calls a
 * CLI or a UI makes, that was a third of the call. Streaming methods stay on nice-grpc.
 *
 * The deadline is grpc-js's own: the call fails DEADLINE_EXCEEDED when it passes, connected or
 * not (a stopped server, a black-holed connection), and the server is told it too.
 */
export function directUnaryMethods(
  definition: UnaryServiceDefinition,
  channel: Channel,
  settings: { token?: string | undefined; defaultDeadlineMs: number },
): Record<string, UnaryMethod> {
  const client = new GrpcClient('unused', null as never, { channelOverride: channel });
  const authorization = settings.token ? `Bearer ${settings.token}` : undefined;
  const methods: Record<string, UnaryMethod> = {};
  for (const [key, method] of Object.entries(definition.methods)) {
    if (method.requestStream || method.responseStream) continue;
    const path = `/${definition.fullName}/${method.name}`;
    const { requestType, responseType } = method;
    const serialize = (value: unknown) => {
      const bytes = requestType.encode(requestType.fromPartial ? requestType.fromPartial(value) : value).finish();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    };
    const deserialize = (bytes: Buffer) => responseType.decode(bytes);
    methods[key] = (request, options = {}) =>
      new Promise((resolve, reject) => {
        const { deadline = settings.defaultDeadlineMs, signal, metadata, onHeader, onTrailer } = options;
        if (signal?.aborted) {
          reject(new AbortError());
          return;
        }
        const timeoutMs = deadline instanceof Date ? deadline.getTime() - Date.now() : deadline;
        const onAbort = () => call.cancel();
        const call = client.makeUnaryRequest(
          path,
          serialize,
          deserialize,
          request,
          toGrpcJs(metadata, authorization),
          { deadline: deadline instanceof Date ? deadline : Date.now() + deadline },
          (err: ServiceError | null, response?: unknown) => {
            signal?.removeEventListener('abort', onAbort);
            if (!err) {
              resolve(response);
            } else if (signal?.aborted) {
              reject(new AbortError());
            } else {
              const reason = String(err.metadata?.get(REASON_TRAILER)[0] ?? '');
              // No reason: the deadline passed here, not in a handler that chose the status.
              const details = err.code === Status.DEADLINE_EXCEEDED && !reason ? `deadline of ${timeoutMs}ms exceeded` : err.details;
              reject(toGroveClientError(new ClientError(path, err.code, details), reason));
            }
          },
        );
        signal?.addEventListener('abort', onAbort, { once: true });
        if (onHeader) call.on('metadata', (header) => onHeader(fromGrpcJs(header)));
        if (onTrailer) call.on('status', (status) => onTrailer(fromGrpcJs(status.metadata)));
      });
  }
  return methods;
}
