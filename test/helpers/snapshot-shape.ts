// The snapshot is described twice on purpose, once per language: the binding's table
// (native/src/addon/snapshot_layout.cpp, exported as binding.snapshotLayout) and the
// TypeBox schema (src/schemas/stats.ts). disagreements() flattens both, and a live
// snapshot, into leaves ("events.byType.PLAYER_MOVE.latencyUs.p99", "workers[].name")
// with their types and lists every difference, so a field added to one side only fails.
import type { TSchema } from 'typebox';

import type { SnapshotLayout } from '../../src/engine/index.js';

interface Leaf {
  path: string;
  /** 'number', 'boolean', 'string', or 'enum:a,b,c' (sorted). */
  type: string;
}

const enumType = (values: readonly unknown[]): string => `enum:${[...values].map(String).sort().join(',')}`;

export function layoutLeaves(layout: SnapshotLayout): Leaf[] {
  const scalar = (kind: string, labels: readonly string[] | undefined): string => {
    if (kind === 'counter' || kind === 'gauge') return 'number';
    if (kind === 'flag') return 'boolean';
    if (kind === 'text') return 'string';
    if (kind === 'label') return enumType(labels ?? []);
    return `unknown kind ${kind}`;
  };
  const leaves = layout.fields.flatMap((f): Leaf[] => {
    if (f.kind === 'histogram') return layout.histogram.map((p) => ({ path: `${f.path}.${p}`, type: 'number' }));
    if (f.kind === 'rows') return (f.columns ?? []).map((c) => ({ path: `${f.path}[].${c.name}`, type: scalar(c.kind, c.labels) }));
    return [{ path: f.path, type: scalar(f.kind, f.labels) }];
  });
  // Object order: keys in order of first appearance, level by level ("a.x.p", "a.y.p",
  // "a.x.q" make a: {x: {p, q}, y: {p}}), as the decoder builds them.
  const rank = new Map<string, number>();
  for (const l of leaves) {
    const keys = l.path.split('.');
    for (let i = 1; i <= keys.length; i++) {
      const prefix = keys.slice(0, i).join('.');
      if (!rank.has(prefix)) rank.set(prefix, rank.size);
    }
  }
  const key = (path: string): number[] => path.split('.').map((_, i, keys) => rank.get(keys.slice(0, i + 1).join('.')) as number);
  const before = (a: number[], b: number[]): number => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
    return a.length - b.length;
  };
  return leaves.sort((a, b) => before(key(a.path), key(b.path)));
}

/** `registry` resolves `$ref`s by `$id`. */
export function schemaLeaves(schema: TSchema, registry: ReadonlyMap<string, TSchema>, prefix = ''): Leaf[] {
  const s = schema as Record<string, unknown>;
  if (typeof s['$ref'] === 'string') {
    const target = registry.get(s['$ref']);
    if (target === undefined) return [{ path: prefix, type: `unresolved $ref ${s['$ref']}` }];
    return schemaLeaves(target, registry, prefix);
  }
  if (Array.isArray(s['enum'])) return [{ path: prefix, type: enumType(s['enum']) }];
  switch (s['type']) {
    case 'object':
      return Object.entries(s['properties'] as Record<string, TSchema>).flatMap(([k, v]) =>
        schemaLeaves(v, registry, prefix ? `${prefix}.${k}` : k),
      );
    case 'array':
      return schemaLeaves(s['items'] as TSchema, registry, `${prefix}[]`);
    case 'integer':
    case 'number':
      return [{ path: prefix, type: 'number' }];
    case 'boolean':
    case 'string':
      return [{ path: prefix, type: s['type'] }];
    default:
      return [{ path: prefix, type: `unknown schema ${JSON.stringify(s)}` }];
  }
}

/** Rows (arrays) must all have the same leaves; the first one's stand for them all. */
export function valueLeaves(value: unknown, prefix = ''): Leaf[] {
  if (Array.isArray(value)) {
    const rows = value.map((row) => valueLeaves(row, `${prefix}[]`));
    const first = rows[0] ?? [{ path: `${prefix}[]`, type: 'empty array' }];
    const odd = rows.findIndex((r) => JSON.stringify(r) !== JSON.stringify(first));
    return odd < 0 ? first : [...first, { path: `${prefix}[${odd}]`, type: 'a row unlike the first' }];
  }
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => valueLeaves(v, prefix ? `${prefix}.${k}` : k));
  }
  return [{ path: prefix, type: typeof value }];
}

/**
 * Every way the three disagree: a leaf one of them lacks, a type that differs, or an
 * order that differs. The snapshot's key order is the layout's; GET /v1/stats follows
 * the schema's, which is the same except that `workers` comes last there.
 */
export function disagreements(layout: SnapshotLayout, schema: TSchema, registry: ReadonlyMap<string, TSchema>, snapshot: unknown): string[] {
  const sources = { layout: layoutLeaves(layout), schema: schemaLeaves(schema, registry), snapshot: valueLeaves(snapshot) };
  const byPath = Object.fromEntries(Object.entries(sources).map(([k, leaves]) => [k, new Map(leaves.map((l) => [l.path, l.type]))])) as Record<
    keyof typeof sources,
    Map<string, string>
  >;
  const out: string[] = [];
  const all = new Set(Object.values(sources).flatMap((leaves) => leaves.map((l) => l.path)));
  for (const path of all) {
    const [l, s, v] = [byPath.layout.get(path), byPath.schema.get(path), byPath.snapshot.get(path)];
    if (l === undefined || s === undefined || v === undefined) {
      out.push(`${path}: in the layout ${l !== undefined}, in the schema ${s !== undefined}, in the snapshot ${v !== undefined}`);
      continue;
    }
    if (l !== s) out.push(`${path}: ${l} in the layout, ${s} in the schema`);
    if ((l.startsWith('enum:') ? 'string' : l) !== v) out.push(`${path}: ${l} in the layout, a ${v} in the snapshot`);
  }
  if (out.length > 0) return out;
  const paths = (leaves: Leaf[]): string[] => leaves.map((l) => l.path);
  const layoutOrder = paths(sources.layout);
  if (JSON.stringify(layoutOrder) !== JSON.stringify(paths(sources.snapshot))) out.push('the snapshot does not follow the layout order');
  const workersLast = [...layoutOrder.filter((p) => !p.startsWith('workers[]')), ...layoutOrder.filter((p) => p.startsWith('workers[]'))];
  if (JSON.stringify(workersLast) !== JSON.stringify(paths(sources.schema))) out.push('the schema does not follow the layout order');
  return out;
}
