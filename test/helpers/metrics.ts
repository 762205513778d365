import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One sample of the Prometheus text exposition: name, labels, value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)(?: -?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/g;

/**
 * Parses the text exposition format strictly: every line is a comment (# HELP / # TYPE) or a
 * sample, every sample's family was declared by a # TYPE line, and anything else fails.
 */
export function parsePrometheusText(text: string): Sample[] {
  const declared = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      declared.add(type[1]!);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not Prometheus text: ${JSON.stringify(line)}`);
    const [, name, labelText, value] = match;
    const family = name!.replace(/_(bucket|sum|count|total)$/, '');
    if (!declared.has(name!) && !declared.has(family)) throw new Error(`sample ${name} has no # TYPE line`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (labelText ?? '').matchAll(LABEL)) labels[key!] = raw!.replace(/\\(.)/g, '$1');
    samples.push({ name: name!, labels, value: Number(value) });
  }
  return samples;
}

/** The value of the sample `name` whose labels include `labels` (undefined when absent). */
export function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

/** Scrapes `/metrics` at the address a service wrote in its data directory. */
export async function scrape(dataDir: string, file: 'http-address' | 'metrics-address', token?: string): Promise<Sample[]> {
  const address = readFileSync(join(dataDir, file), 'utf8').trim();
  const response = await fetch(`http://${address}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}: ${await response.text()}`);
  return parsePrometheusText(await response.text());
}
