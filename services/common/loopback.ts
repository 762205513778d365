import { isIP } from 'node:net';

/** The host part of `host:port` (IPv6 in brackets, as gRPC addresses write it). */
export function hostOf(address: string): string {
  const withoutScheme = address.replace(/^[a-z]+:\/\//i, '');
  if (withoutScheme.startsWith('[')) return withoutScheme.slice(1, withoutScheme.indexOf(']'));
  const colon = withoutScheme.lastIndexOf(':');
  return colon < 0 ? withoutScheme : withoutScheme.slice(0, colon);
}

/** Whether `host` can only mean this machine: localhost, 127.0.0.0/8 or ::1. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
