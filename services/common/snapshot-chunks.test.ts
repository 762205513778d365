import { describe, expect, it } from 'vitest';
import { Snapshot, Task } from '../../gen/grove/agent/v1/resources.js';
import { chunkSnapshot, SnapshotAssembler } from './snapshot-chunks.js';

const task = (i: number, promptBytes: number) =>
  Task.fromPartial({ id: `tsk_${String(i).padStart(22, '0')}`, sessionId: 'ses_x', prompt: 'p'.repeat(promptBytes), argv: ['true'] });

function snapshotWith(tasks: number, promptBytes: number): Snapshot {
  return Snapshot.fromPartial({
    revision: 42,
    repos: [{ id: 'rep_a', name: 'a' }],
    sessions: [{ id: 'ses_x', title: 't' }],
    tasks: Array.from({ length: tasks }, (_, i) => task(i, promptBytes)),
    locks: [{ directory: '/wt/x', pid: 1 }],
  });
}

describe('snapshot chunks', () => {
  it('keeps every chunk near the target size and the items in order, and reassembles exactly', () => {
    const snapshot = snapshotWith(300, 100 * 1024); // ~30 MiB in all
    const chunks = chunkSnapshot(snapshot, 1024 * 1024);
    expect(chunks.length).toBeGreaterThan(25);
    for (const chunk of chunks) expect(Snapshot.encode(chunk.part!).finish().length).toBeLessThan(1024 * 1024 + 200 * 1024);
    expect(chunks.map((c) => c.index)).toEqual(chunks.map((_, i) => i));
    expect(chunks.filter((c) => c.last).map((c) => c.index)).toEqual([chunks.length - 1]);
    const assembler = new SnapshotAssembler();
    const results = chunks.map((c) => assembler.add(c));
    expect(results.slice(0, -1).every((r) => r === undefined)).toBe(true);
    expect(Snapshot.toJSON(results.at(-1)!)).toEqual(Snapshot.toJSON(snapshot));
  });

  it('sends an item larger than the target alone, and an empty snapshot as one chunk', () => {
    const chunks = chunkSnapshot(snapshotWith(3, 2 * 1024 * 1024), 1024 * 1024);
    expect(chunks.map((c) => c.part!.tasks.length)).toEqual([0, 1, 1, 1, 0]);
    expect(chunks.at(-1)!.part!.locks).toHaveLength(1);
    expect(chunks[0]!.part!.repos).toHaveLength(1);
    expect(chunkSnapshot(Snapshot.fromPartial({ revision: 7 }))).toEqual([
      { revision: 7, index: 0, last: true, part: Snapshot.fromPartial({ revision: 7 }) },
    ]);
  });

  it('refuses chunks out of order or of another revision; a new index 0 starts over', () => {
    const chunks = chunkSnapshot(snapshotWith(40, 100 * 1024), 1024 * 1024);
    const assembler = new SnapshotAssembler();
    assembler.add(chunks[0]!);
    expect(() => assembler.add(chunks[2]!)).toThrow(/out of order/);
    expect(() => new SnapshotAssembler().add(chunks[1]!)).toThrow(/out of order/);
    const restarted = new SnapshotAssembler();
    restarted.add(chunks[0]!);
    restarted.add(chunks[1]!);
    restarted.add(chunks[0]!);
    expect(restarted.inProgress).toBe(true);
    expect(() => restarted.add({ ...chunks[1]!, revision: 43 })).toThrow(/out of order/);
  });
});
