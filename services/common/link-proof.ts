import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const NONCE_BYTES = 32;

export const newNonce = (): Buffer => randomBytes(NONCE_BYTES);

export type LinkRole = 'coordinator' | 'agent';

/**
 * What each side of the agent link shows to prove it holds the shared token without sending
 * it: an HMAC keyed by the token over both nonces, labelled by role so that one side's proof
 * can never be replayed as the other's. See proto/grove/link/v1/link.proto.
 */
export function linkProof(token: string, role: LinkRole, agentNonce: Uint8Array, coordinatorNonce: Uint8Array): Buffer {
  const [first, second] = role === 'coordinator' ? [agentNonce, coordinatorNonce] : [coordinatorNonce, agentNonce];
  return createHmac('sha256', token).update(`grove-link-v1 ${role}\0`).update(first).update(second).digest();
}

export function proofMatches(expected: Buffer, presented: Uint8Array): boolean {
  return presented.length === expected.length && timingSafeEqual(expected, presented);
}
