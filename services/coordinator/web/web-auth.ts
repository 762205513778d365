import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { sameSecret } from '../../common/auth.js';

export const SESSION_COOKIE = 'grove_session';
const SESSION_TTL_MS = 12 * 3600_000;
const MAX_SESSIONS = 1000;

/** How a request proved itself: not at all, by its bearer token, or by a login cookie. */
export type Credential = 'none' | 'bearer' | 'cookie' | 'open';

/**
 * The page's logins. With `--token-file`, the token is asked for once (POST /api/login) and
 * traded for a random session id in an HttpOnly, SameSite=Strict cookie; the token itself is
 * never stored in the browser. Scripts may send `Authorization: Bearer` instead. Without a
 * token every request is let in (`open`): the server then only binds to loopback.
 */
export class WebSessions {
  private readonly sessions = new Map<string, number>();

  constructor(private readonly token: string | undefined) {}

  get required(): boolean {
    return this.token !== undefined;
  }

  /** A new session id for the right token, undefined for a wrong one. */
  login(given: string): string | undefined {
    if (this.token === undefined || !sameSecret(given, this.token)) return undefined;
    this.expire();
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, Date.now() + SESSION_TTL_MS);
    return id;
  }

  logout(request: IncomingMessage): void {
    const id = cookieOf(request, SESSION_COOKIE);
    if (id) this.sessions.delete(id);
  }

  /** Checked from the headers alone, before any body is read. */
  credential(request: IncomingMessage): Credential {
    if (this.token === undefined) return 'open';
    const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (bearer !== undefined) return sameSecret(bearer, this.token) ? 'bearer' : 'none';
    const id = cookieOf(request, SESSION_COOKIE);
    const until = id ? this.sessions.get(id) : undefined;
    return until !== undefined && until > Date.now() ? 'cookie' : 'none';
  }

  private expire(): void {
    const now = Date.now();
    for (const [id, until] of this.sessions) if (until <= now) this.sessions.delete(id);
  }
}

export function cookieOf(request: IncomingMessage, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

/**
 * A state-changing request from a browser must come from the page itself: its Origin must
 * be this server. Cookies are SameSite=Strict already; this also stops a request from a
 * page on another port of this host, which counts as same-site. Requests that prove
 * themselves with a bearer token (scripts, not browsers) need no Origin.
 */
export function sameOrigin(request: IncomingMessage, credential: Credential): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return credential === 'bearer' || credential === 'open';
  const host = request.headers.host;
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
}
