/**
 * Layering: each layer of src/ imports only the layers below it (DESIGN.md §1), and nothing
 * imports a cycle of layers. Erlang gets this from module discipline; we test it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src');

/** Rank of each layer: a file may import files of its own layer or of a lower rank. */
const RANK: Record<string, number> = {
  'errors.ts': 0,
  wire: 1,
  time: 1,
  observability: 1,
  process: 2,
  transport: 2,
  discovery: 2,
  node: 3,
  group: 4,
  roles: 5,
  durable: 5,
  stores: 5,
  cli: 6,
  dashboard: 5,
  'index.ts': 7,
  demo: 8,
  'internal.ts': 9,
};

/** Value types with no imports of their own, usable from any layer (the codec encodes Pids). */
const LEAF_FILES = new Set(['process/pid.ts']);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function layerOf(path: string): string {
  return relative(SRC, path).split('/')[0]!;
}

describe('layering', () => {
  it('every src file imports only its own layer or lower ones (process/ and transport/ never import node/)', () => {
    const violations: string[] = [];
    for (const file of files(SRC)) {
      const from = layerOf(file);
      const source = readFileSync(file, 'utf8');
      for (const m of source.matchAll(/from '(\.[^']+)'/g)) {
        const target = resolve(dirname(file), m[1]!).replace(/\.js$/, '.ts');
        if (LEAF_FILES.has(relative(SRC, target))) continue;
        const to = layerOf(target);
        const rankFrom = RANK[from];
        const rankTo = RANK[to];
        if (rankFrom === undefined || rankTo === undefined) {
          violations.push(`${relative(SRC, file)}: unknown layer ${rankFrom === undefined ? from : to}`);
        } else if (rankTo > rankFrom || (rankTo === rankFrom && to !== from)) {
          violations.push(`${relative(SRC, file)} (${from}) imports ${m[1]} (${to})`);
        }
      }
    }
    expect(violations).toEqual([]);
  });
});
