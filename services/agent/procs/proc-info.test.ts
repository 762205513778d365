import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { bootId, probeProcess, startTicks } from './proc-info.js';

describe('probeProcess', () => {
  it('reads a zombie as dead: it has exited even though kill(pid, 0) still answers', async () => {
    // The parent forks a child that exits at once, waits for that exit without reaping it
    // (WNOWAIT), so the child is a zombie when its pid is printed, then waits on stdin.
    const parent = spawn(
      'python3',
      [
        '-c',
        'import os,sys\npid=os.fork()\nif pid==0: os._exit(0)\nos.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)\nprint(pid, flush=True)\nsys.stdin.read()',
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    try {
      const [line] = (await once(parent.stdout!, 'data')) as [Buffer];
      const pid = Number(line.toString().trim());
      const ticks = startTicks(pid)!;
      expect(ticks).toBeGreaterThan(0);
      expect(() => process.kill(pid, 0)).not.toThrow(); // the zombie answers signals
      expect(probeProcess({ pid, pidStartTicks: ticks, bootId: bootId() })).toEqual({
        alive: false,
        why: `pid ${pid} is gone`,
      });
      expect(probeProcess({ pid: parent.pid!, pidStartTicks: startTicks(parent.pid!)!, bootId: bootId() })).toEqual({
        alive: true,
      });
    } finally {
      parent.stdin!.end();
      await once(parent, 'exit');
    }
  });
});
