import { invalidArgument } from './errors.js';

/** Marks a request the codec could not decode, so the handler layer answers INVALID_ARGUMENT. */
const UNDECODABLE = Symbol('undecodable request');

interface MessageCodec {
  decode(input: Uint8Array): unknown;
}

interface MethodShape {
  requestType: MessageCodec;
  requestStream: boolean;
}

/**
 * A copy of a ts-proto service definition whose unary and server-streaming requests never
 * fail to decode: grpc-js answers INTERNAL ("Error deserializing request") to any decode
 * error, yet an int64 past 2^53 or a malformed body is the client's mistake. The failure is
 * carried to the handler layer instead, which refuses it with INVALID_ARGUMENT.
 */
export function withSafeDecoding<D extends object>(definition: D): D {
  const source = definition as unknown as { methods?: Record<string, MethodShape> };
  if (!source.methods) return definition;
  const methods: Record<string, MethodShape> = {};
  for (const [key, method] of Object.entries(source.methods)) {
    if (method.requestStream) {
      methods[key] = method;
      continue;
    }
    const codec = method.requestType;
    methods[key] = {
      ...method,
      requestType: Object.assign(Object.create(codec) as MessageCodec, {
        decode(input: Uint8Array) {
          try {
            return codec.decode(input);
          } catch (err) {
            return { [UNDECODABLE]: String((err as Error)?.message ?? err) };
          }
        },
      }),
    };
  }
  return { ...definition, methods } as D;
}

const MAX_DEPTH = 32;

/** The path of the first string that holds a NUL byte, if any. */
function nulPath(value: unknown, path: string, depth: number): string | undefined {
  if (typeof value === 'string') return value.includes('\0') ? path : undefined;
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object' || value instanceof Uint8Array || value instanceof Date) {
    return undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nulPath(value[i], `${path}[${i}]`, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, child] of Object.entries(value)) {
    if (key.includes('\0')) return `${path}.${key.replace(/\0/g, '\\0')}`;
    const found = nulPath(child, path ? `${path}.${key}` : key, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/**
 * Refuses, before any handler runs, what no handler should see: a request that did not
 * decode, and text with a NUL byte in it (no name, title, path or argument has one, and
 * SQLite, git and the kernel would each cut or refuse it differently).
 */
export function guardRequest(request: unknown): void {
  if (request && typeof request === 'object' && UNDECODABLE in request) {
    const why = (request as { [UNDECODABLE]: string })[UNDECODABLE];
    throw invalidArgument('UNDECODABLE_REQUEST', `the request could not be decoded: ${why.slice(0, 200)}`);
  }
  const at = nulPath(request, '', 0);
  if (at) throw invalidArgument('NUL_IN_STRING', `field ${at} contains a NUL byte`);
}
