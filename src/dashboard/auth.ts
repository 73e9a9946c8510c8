/**
 * The dashboard's access token: random by default, sent as `Authorization: Bearer <token>` by
 * scripts, or once as `?token=` by a browser, which then holds it in an HttpOnly cookie.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { InvalidArgumentError } from '../errors.js';

export const COOKIE_NAME = 'rollcall_dashboard';
const MIN_TOKEN_CHARS = 16;

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

export function checkToken(token: unknown): string {
  if (typeof token !== 'string' || token.length < MIN_TOKEN_CHARS || !/^[\x21-\x7e]+$/.test(token)) {
    throw new InvalidArgumentError(`startDashboard: token must be at least ${MIN_TOKEN_CHARS} printable ASCII characters without spaces (or omitted for a random one)`);
  }
  return token;
}

/** Compare in constant time: hashing first makes the lengths equal and hides the expected length. */
export function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token a request presents (header first, then cookie), if any. */
export function presentedToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m === null ? '' : m[1];
  }
  const cookies = req.headers.cookie;
  if (cookies === undefined) return undefined;
  for (const part of cookies.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === COOKIE_NAME) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return ''; // malformed escapes: a wrong token, not a server error
      }
    }
  }
  return undefined;
}

export function tokenCookie(token: string): string {
  return `${COOKIE_NAME}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
}
