import { invalidArgument } from './errors.js';
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * Short, sortable-by-time ids with a kind prefix (`ses_01hx...`): a 48-bit millisecond time
 * then 60 random bits, Crockford base32. Sortable ids make paging by id follow creation order.
 */
export function newId(prefix: string): string {
  let time = Date.now();
  let timePart = '';
  for (let i = 0; i < 10; i++) {
    timePart = ALPHABET[time % 32]! + timePart;
    time = Math.floor(time / 32);
  }
  const bytes = randomBytes(12);
  let random = '';
  for (let i = 0; i < 12; i++) random += ALPHABET[bytes[i]! % 32]!;
  return `${prefix}_${timePart}${random}`;
}

const ID_PATTERN = /^[a-z]{2,4}_[0-9a-z]{22}$/;

export function isWellFormedId(prefix: string, id: string): boolean {
  return ID_PATTERN.test(id) && id.startsWith(`${prefix}_`);
}

const MAX_REQUEST_ID = 128;

/** A client's idempotency key: any printable text up to 128 characters. */
export function checkRequestId(requestId: string): void {
  // eslint-disable-next-line no-control-regex
  if (requestId.length > MAX_REQUEST_ID || /[\x00-\x1f\x7f]/.test(requestId)) {
    throw invalidArgument('BAD_REQUEST_ID', `request_id must be at most ${MAX_REQUEST_ID} printable characters`);
  }
}
