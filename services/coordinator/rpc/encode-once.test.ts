import { describe, expect, it } from 'vitest';
import { WatchResponse } from '../../../gen/grove/coordinator/v1/coordinator_service.js';
import { encodeOnce } from './encode-once.js';

describe('encodeOnce', () => {
  it('encodes one message object once, and gives the same bytes as the plain codec', () => {
    let encodes = 0;
    const counting = { ...WatchResponse, encode: (m: WatchResponse) => (encodes++, WatchResponse.encode(m)) };
    const codec = encodeOnce(counting);
    const response = WatchResponse.fromPartial({ revision: 7, agentId: 'agt_1', snapshotDone: true });
    const plain = WatchResponse.encode(response).finish();
    for (let i = 0; i < 3; i++) expect(codec.encode(codec.fromPartial(response)).finish()).toEqual(plain);
    expect(encodes).toBe(1);
    // An equal but distinct object is its own message.
    codec.encode({ ...response }).finish();
    expect(encodes).toBe(2);
  });
});
