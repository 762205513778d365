import { invalidArgument } from './errors.js';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

/** page_size 0 means the default; larger than the maximum is clamped (AIP-158). */
export function pageSize(requested: number): number {
  if (!Number.isInteger(requested) || requested < 0) {
    throw invalidArgument('BAD_PAGE_SIZE', `page_size must be a non-negative integer, got ${requested}`);
  }
  return Math.min(requested || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
}

/** Page tokens are opaque to clients: the sort key of the last item served, base64url. */
export function encodePageToken(lastKey: string): string {
  return Buffer.from(JSON.stringify({ k: lastKey }), 'utf8').toString('base64url');
}

export function decodePageToken(token: string): string | undefined {
  if (!token) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { k?: unknown };
    if (typeof parsed.k === 'string') return parsed.k;
  } catch {
    // fall through to the error below
  }
  throw invalidArgument('BAD_PAGE_TOKEN', 'page_token is not one this server issued');
}

/** Given one more row than the page holds, splits off the page and the next token. */
export function takePage<T>(rows: T[], size: number, keyOf: (row: T) => string) {
  const page = rows.slice(0, size);
  const last = page[page.length - 1];
  const nextPageToken = rows.length > size && last !== undefined ? encodePageToken(keyOf(last)) : '';
  return { page, nextPageToken };
}

/** Parses `k=v,k2=v2` label selectors and label flags. */
export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!text.trim()) return labels;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    if (eq <= 0 || !/^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/.test(key)) {
      throw invalidArgument('BAD_LABEL', `label "${part}" must look like key=value`);
    }
    labels[key] = part.slice(eq + 1).trim();
  }
  return labels;
}

const MAX_LABELS = 64;
const MAX_LABEL_VALUE = 256;

/** Checks a request's labels map: keys as parseLabels takes them, values short and printable. */
export function checkLabels(labels: Readonly<Record<string, string>>): void {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) throw invalidArgument('TOO_MANY_LABELS', `at most ${MAX_LABELS} labels`);
  for (const [key, value] of entries) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/.test(key)) throw invalidArgument('BAD_LABEL', `label key "${key.slice(0, 64)}" is not valid`);
    // eslint-disable-next-line no-control-regex
    if (value.length > MAX_LABEL_VALUE || /[\x00-\x1f\x7f,]/.test(value)) {
      throw invalidArgument(
        'BAD_LABEL',
        `label ${key}: values are at most ${MAX_LABEL_VALUE} characters, without commas or control characters`,
      );
    }
  }
}

export function matchesLabels(labels: Record<string, string>, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}
