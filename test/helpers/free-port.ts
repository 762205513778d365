import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

// Below the kernel's ephemeral range: ports there are handed to every outgoing connection
// (and to every `listen(0)`), so one found free a moment ago is often taken by the time the
// service binds it when other tests run beside this one.
function ephemeralLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A loopback port that is free now, for tests that must restart a service on the same
 * address (port 0 would give the restarted one a new port). Chosen at random outside the
 * ephemeral range, so neither outgoing connections nor port-0 listeners take it meanwhile.
 */
export async function freePort(): Promise<number> {
  const high = Math.min(ephemeralLow(), 32768);
  const low = Math.max(1024, high - 12000);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await bindable(port)) return port;
  }
  throw new Error(`no free loopback port found in ${low}-${high}`);
}
