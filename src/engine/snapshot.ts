// Rebuilds EngineSnapshot from the flat form the binding writes (one Float64Array of
// numbers, one string of text fields joined by '\0'), guided by the layout descriptor
// the binding exports once at load (binding.snapshotLayout, made from the one table of
// snapshot fields in native/src/addon/snapshot_layout.cpp). Nothing here names a field.
//
// From the descriptor it compiles, once per process, a function that returns a single
// object literal in the public key order with every value read at its offset: V8 gives
// each sub-object one shape, as it would a hand-written literal, which is far cheaper
// than setting properties one by one in a loop (or through Node-API).
import { EngineError } from './errors.js';
import { loadBinding } from './native.js';
import type { EngineSnapshot, Histogram, HistogramBuckets, SnapshotLayout, SnapshotLayoutField } from './types.js';

/** The buckets of histograms from snapshots taken with `{ buckets: true }`; kept out of the objects' JSON. */
const BUCKETS = new WeakMap<Histogram, HistogramBuckets>();

/** The non-empty buckets of a histogram from a snapshot taken with `{ buckets: true }`. */
export function bucketsOf(h: Histogram): HistogramBuckets | undefined {
  return BUCKETS.get(h);
}

/** The bucket section after the rows: per histogram, n, then n × (index, count, upperUs). Returns the end. */
function readBuckets(v: Float64Array, at: number, hists: readonly Histogram[]): number {
  for (const h of hists) {
    const n = v[at++] as number;
    const b: HistogramBuckets = { index: new Array<number>(n), count: new Array<number>(n), upperUs: new Array<number>(n) };
    for (let k = 0; k < n; k++) {
      b.index[k] = v[at++] as number;
      b.count[k] = v[at++] as number;
      b.upperUs[k] = v[at++] as number;
    }
    BUCKETS.set(h, b);
  }
  return at;
}

interface Decoder {
  /** Builds the snapshot from values and texts; end[0] gets the offset after the rows. */
  decode(v: Float64Array, t: readonly string[], end: Float64Array): unknown;
  /** Every histogram of a decoded snapshot, in layout order (the order of the bucket section). */
  histograms(snapshot: unknown): Histogram[];
}

type Tree = Map<string, Tree | SnapshotLayoutField>;

function layoutError(detail: string): EngineError {
  return new EngineError('INTERNAL', `snapshot layout: ${detail}`);
}

/** Compiles the decoder for one layout. Keys and labels enter the code only as JSON literals. */
function compile(layout: SnapshotLayout): Decoder {
  const labels: (readonly string[])[] = [];
  const label = (names: readonly string[] | undefined, read: string): string => {
    if (names === undefined) throw layoutError('a label without labels');
    labels.push(names);
    return `L[${labels.length - 1}][${read}]`;
  };
  const histogram = (read: (i: number) => string): string =>
    `{${layout.histogram.map((part, i) => `${JSON.stringify(part)}: ${read(i)}`).join(', ')}}`;
  const scalar = (kind: string, names: readonly string[] | undefined, num: (i: number) => string, text: string): string => {
    switch (kind) {
      case 'counter':
      case 'gauge':
        return num(0);
      case 'flag':
        return `${num(0)} !== 0`;
      case 'label':
        return label(names, num(0));
      case 'histogram':
        return histogram(num);
      case 'text':
        return text;
      default:
        throw layoutError(`unknown kind '${kind}'`);
    }
  };

  // Rows come after the fixed part, in layout order; r and q walk their numbers and texts.
  const before: string[] = [`let r = ${layout.size}, q = ${layout.texts};`];
  const rows = (f: SnapshotLayoutField): string => {
    const columns = f.columns ?? [];
    const name = `rows${before.length}`;
    let nums = 0;
    let texts = 0;
    const cells = columns.map((c) => {
      if (c.kind === 'rows' || c.kind === 'histogram') throw layoutError(`a ${c.kind} column`);
      const at = c.kind === 'text' ? texts++ : nums++;
      return `${JSON.stringify(c.name)}: ${scalar(c.kind, c.labels, () => `v[r + ${at}]`, `t[q + ${at}]`)}`;
    });
    before.push(
      `const ${name} = new Array(v[${f.at}]);`,
      `for (let i = 0; i < ${name}.length; i++, r += ${nums}, q += ${texts}) ${name}[i] = {${cells.join(', ')}};`,
    );
    return name;
  };

  const root: Tree = new Map();
  const histPaths: string[] = [];
  for (const f of layout.fields) {
    const keys = f.path.split('.');
    const last = keys.pop() as string;
    let node = root;
    for (const k of keys) {
      const next = node.get(k) ?? (new Map() as Tree);
      if (!(next instanceof Map)) throw layoutError(`'${f.path}' is inside a field`);
      node.set(k, next);
      node = next;
    }
    if (node.has(last)) throw layoutError(`'${f.path}' twice`);
    node.set(last, f);
    if (f.kind === 'histogram') histPaths.push(f.path);
  }
  const literal = (node: Tree): string =>
    `{${[...node]
      .map(([k, x]) => {
        const value =
          x instanceof Map
            ? literal(x)
            : x.kind === 'rows'
              ? rows(x)
              : scalar(x.kind, x.labels, (i) => `v[${x.at + i}]`, `t[${x.at}]`);
        return `${JSON.stringify(k)}: ${value}`;
      })
      .join(', ')}}`;
  const body = literal(root);
  const access = (path: string): string => `s${path.split('.').map((k) => `[${JSON.stringify(k)}]`).join('')}`;

  // Code generation from our own addon's descriptor, never from input: the only way to
  // get literal-speed objects from a layout that is data.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const makeDecode = new Function('L', `return (v, t, end) => { ${before.join(' ')} const o = ${body}; end[0] = r; return o; };`) as (
    l: typeof labels,
  ) => Decoder['decode'];
  const decode = makeDecode(labels);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const histograms = new Function('s', `return [${histPaths.map(access).join(', ')}];`) as Decoder['histograms'];
  return { decode, histograms };
}

const decoders = new WeakMap<SnapshotLayout, Decoder>();

function decoderFor(layout: SnapshotLayout): Decoder {
  let d = decoders.get(layout);
  if (d === undefined) {
    d = compile(layout);
    decoders.set(layout, d);
  }
  return d;
}

/** Fills `values` (see writeSnapshot in native/src/addon/snapshot_layout.hpp) and returns the text fields. */
export type SnapshotSource = (values: Float64Array, withBuckets: boolean) => string;

/**
 * Owns the Float64Array the binding writes into, reused across calls. It never leaves
 * this object (the binding fills it synchronously and the decoder copies every number
 * into the plain object it returns), so reuse cannot leak into results.
 */
export class SnapshotReader {
  #values = new Float64Array(1024);
  readonly #end = new Float64Array(1);
  #text = '';
  #texts: readonly string[] = [];
  #decoder: Decoder | undefined;
  readonly #layout: () => SnapshotLayout;

  /** `layout` defaults to the loaded addon's (binding.snapshotLayout). */
  constructor(layout: () => SnapshotLayout = () => loadBinding().snapshotLayout) {
    this.#layout = layout;
  }

  read(fill: SnapshotSource, withBuckets = false): EngineSnapshot {
    this.#decoder ??= decoderFor(this.#layout());
    let text = fill(this.#values, withBuckets);
    // values[0] is the count the snapshot needs; more workers and buckets can make it grow.
    while ((this.#values[0] as number) > this.#values.length) {
      this.#values = new Float64Array(2 * (this.#values[0] as number));
      text = fill(this.#values, withBuckets);
    }
    if (text !== this.#text) {
      this.#text = text;
      this.#texts = text.split('\0');
    }
    const v = this.#values;
    const snapshot = this.#decoder.decode(v, this.#texts, this.#end);
    let at = this.#end[0] as number;
    if (withBuckets) at = readBuckets(v, at, this.#decoder.histograms(snapshot));
    if (at !== v[0]) {
      throw new EngineError('INTERNAL', `snapshot layout mismatch: the binding wrote ${v[0]} numbers, ${at} were read`);
    }
    return snapshot as EngineSnapshot;
  }
}
