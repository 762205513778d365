import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.js';
import { isWellFormedId, newId } from './ids.js';
import { KeyedMutex } from './keyed-mutex.js';
import { decodePageToken, encodePageToken, matchesLabels, pageSize, parseLabels, takePage } from './paging.js';
import { withUnimplemented } from './unimplemented.js';

describe('common helpers', () => {
  it('parses durations and refuses nonsense', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('3s')).toBe(3000);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(() => parseDuration('3')).toThrow(/invalid duration/);
    expect(() => parseDuration('-1s')).toThrow(/invalid duration/);
  });

  it('makes well-formed, time-ordered ids', () => {
    const a = newId('ses');
    expect(isWellFormedId('ses', a)).toBe(true);
    expect(isWellFormedId('tsk', a)).toBe(false);
    expect(isWellFormedId('ses', '../etc/passwd')).toBe(false);
    const ids = Array.from({ length: 50 }, () => newId('ses'));
    expect(new Set(ids).size).toBe(50);
  });

  it('pages with opaque tokens and validates sizes', () => {
    expect(pageSize(0)).toBe(100);
    expect(pageSize(5000)).toBe(1000);
    expect(() => pageSize(-1)).toThrow(/page_size/);
    expect(decodePageToken(encodePageToken('k1'))).toBe('k1');
    expect(decodePageToken('')).toBeUndefined();
    expect(() => decodePageToken('%%%')).toThrow(/page_token/);
    const { page, nextPageToken } = takePage(['a', 'b', 'c'], 2, (x) => x);
    expect(page).toEqual(['a', 'b']);
    expect(decodePageToken(nextPageToken)).toBe('b');
    expect(takePage(['a'], 2, (x) => x).nextPageToken).toBe('');
  });

  it('parses label selectors', () => {
    expect(parseLabels('team=core, tier=gpu')).toEqual({ team: 'core', tier: 'gpu' });
    expect(parseLabels('')).toEqual({});
    expect(() => parseLabels('novalue')).toThrow(/key=value/);
    expect(matchesLabels({ team: 'core', x: 'y' }, { team: 'core' })).toBe(true);
    expect(matchesLabels({ team: 'core' }, { team: 'web' })).toBe(false);
  });

  it('serialises work per key and lets different keys run together', async () => {
    const mutex = new KeyedMutex();
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = mutex.run('a', async () => {
      order.push('a1 start');
      await gate;
      order.push('a1 end');
    });
    const second = mutex.run('a', async () => void order.push('a2'));
    const other = mutex.run('b', async () => void order.push('b'));
    await other;
    expect(order).toEqual(['a1 start', 'b']);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['a1 start', 'b', 'a1 end', 'a2']);
  });

  it('answers UNIMPLEMENTED naming the capability for unbuilt methods', async () => {
    const impl = withUnimplemented<{ built(): Promise<string>; later(): Promise<void>; stream(): AsyncIterable<void> }>(
      { methods: { built: { responseStream: false }, later: { responseStream: false }, stream: { responseStream: true } } },
      { built: async () => 'ok' },
      (m) => `${m}: the thing`,
    );
    expect(await impl.built()).toBe('ok');
    await expect(impl.later()).rejects.toMatchObject({ reason: 'NOT_BUILT_YET', message: /later: the thing/ });
    await expect(impl.stream()[Symbol.asyncIterator]().next()).rejects.toMatchObject({ reason: 'NOT_BUILT_YET' });
  });
});
