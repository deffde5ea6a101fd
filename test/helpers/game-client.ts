// A game client for the tests, written from docs/PROTOCOL.md ("Game protocol (TCP)"):
// frames, HELLO, inputs, and the view a client keeps (CELL blocks replace a cell's
// content, LEAVE forgets players). Message type numbers come from the engine's exported
// table (the document is checked against the same table by test/game-protocol.test.ts).
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

import { loadBinding } from '../../src/engine/native.js';

interface GameProtocolTable {
  clientTypes: Record<'HELLO' | 'MOVE' | 'ATTACK' | 'CHAT' | 'PING' | 'BYE', number>;
  serverTypes: Record<string, number>;
  errorCodes: Record<string, number>;
  kickReasons: Record<string, number>;
  constants: Record<string, number>;
}
export const PROTOCOL = (loadBinding() as unknown as { gameProtocol: GameProtocolTable }).gameProtocol;
const T = PROTOCOL.clientTypes;
const S = PROTOCOL.serverTypes as Record<'WELCOME' | 'STATE' | 'LEAVE' | 'CHAT' | 'HIT' | 'DEATH' | 'PONG' | 'NOTICE' | 'KICK' | 'ERROR', number>;
const nameOf = (table: Record<string, number>, value: number) => Object.keys(table).find((k) => table[k] === value) ?? `#${value}`;

export interface ServerMessage {
  type: string;
  payload: Buffer;
}

export interface Welcome {
  sessionId: number;
  playerId: number;
  tickRateHz: number;
  replicationHz: number;
  worldMin: number;
  worldMax: number;
  aoiRadius: number;
}

export interface Seen {
  x: number;
  y: number;
  hp: number;
}

export class GameClient {
  readonly socket: Socket;
  readonly messages: ServerMessage[] = [];
  /** What the client sees: cell key -> the players of that cell's latest CELL block. */
  readonly cells = new Map<string, Map<number, Seen>>();
  welcome: Welcome | undefined;
  lastState: { tick: bigint; lastClientSeq: number } | undefined;
  readonly closed: Promise<void>;
  #buffer: Buffer = Buffer.alloc(0);
  #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('close', () => this.#notify());
    socket.on('error', () => {});
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<GameClient> {
    const socket = connect({ port, host, noDelay: true });
    await once(socket, 'connect');
    return new GameClient(socket);
  }

  /** Every player the client sees now. */
  visible(): Map<number, Seen> {
    const all = new Map<number, Seen>();
    for (const cell of this.cells.values()) for (const [id, seen] of cell) all.set(id, seen);
    return all;
  }

  /** Resolves once `check` holds (re-checked after every message and at close); rejects after `timeoutMs`. */
  async until<T>(check: () => T | undefined | false, what: string, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v !== undefined && v !== false) return v;
      if (this.socket.destroyed && this.#buffer.length === 0) {
        const again = check();
        if (again !== undefined && again !== false) return again;
        throw new Error(`${what}: the connection closed first (last: ${this.messages.at(-1)?.type ?? 'nothing'})`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: not within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The first message of `type` at index >= `from`. */
  async next(type: string, from = 0, timeoutMs?: number): Promise<ServerMessage> {
    return this.until(() => this.messages.slice(from).find((m) => m.type === type), `a ${type}`, timeoutMs);
  }

  frame(type: number, payload: Buffer = Buffer.alloc(0)): void {
    const head = Buffer.alloc(5);
    head.writeUInt32LE(payload.length + 1, 0);
    head.writeUInt8(type, 4);
    this.socket.write(Buffer.concat([head, payload]));
  }

  hello(ticket: string, version = PROTOCOL.constants['protocolVersion']!): void {
    const t = Buffer.from(ticket, 'latin1');
    const p = Buffer.alloc(4 + t.length);
    p.writeUInt16LE(version, 0);
    p.writeUInt16LE(t.length, 2);
    t.copy(p, 4);
    this.frame(T.HELLO, p);
  }

  async login(ticket: string): Promise<Welcome> {
    this.hello(ticket);
    await this.next('WELCOME');
    return this.welcome!;
  }

  move(x: number, y: number, clientSeq: number): void {
    const p = Buffer.alloc(20);
    p.writeDoubleLE(x, 0);
    p.writeDoubleLE(y, 8);
    p.writeUInt32LE(clientSeq, 16);
    this.frame(T.MOVE, p);
  }

  attack(target: number): void {
    const p = Buffer.alloc(4);
    p.writeUInt32LE(target, 0);
    this.frame(T.ATTACK, p);
  }

  chat(text: string | Buffer): void {
    const t = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    const p = Buffer.alloc(2 + t.length);
    p.writeUInt16LE(t.length, 0);
    t.copy(p, 2);
    this.frame(T.CHAT, p);
  }

  ping(t: bigint): void {
    const p = Buffer.alloc(8);
    p.writeBigUInt64LE(t, 0);
    this.frame(T.PING, p);
  }

  bye(): void {
    this.frame(T.BYE);
  }

  close(): void {
    this.socket.destroy();
  }

  /** An ERROR's {code name, text}, a KICK's {reason name, text}, a CHAT's {from, text}. */
  static error(m: ServerMessage): { code: string; text: string } {
    return { code: nameOf(PROTOCOL.errorCodes, m.payload.readUInt16LE(0)), text: m.payload.subarray(4).toString('utf8') };
  }
  static kick(m: ServerMessage): { reason: string; text: string } {
    return { reason: nameOf(PROTOCOL.kickReasons, m.payload.readUInt8(0)), text: m.payload.subarray(3).toString('utf8') };
  }
  static chat(m: ServerMessage): { from: number; text: string } {
    return { from: m.payload.readUInt32LE(0), text: m.payload.subarray(6).toString('utf8') };
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #receive(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length >= 5) {
      const length = this.#buffer.readUInt32LE(0);
      if (this.#buffer.length < 4 + length) break;
      const type = this.#buffer.readUInt8(4);
      const payload = this.#buffer.subarray(5, 4 + length);
      this.#buffer = this.#buffer.subarray(4 + length);
      this.#apply({ type: nameOf(S, type), payload });
    }
    this.#notify();
  }

  #apply(m: ServerMessage): void {
    this.messages.push(m);
    const p = m.payload;
    if (m.type === 'WELCOME') {
      this.welcome = {
        sessionId: p.readUInt32LE(0),
        playerId: p.readUInt32LE(4),
        tickRateHz: p.readUInt16LE(8),
        replicationHz: p.readUInt16LE(10),
        worldMin: p.readDoubleLE(12),
        worldMax: p.readDoubleLE(20),
        aoiRadius: p.readDoubleLE(28),
      };
    } else if (m.type === 'STATE') {
      this.lastState = { tick: p.readBigUInt64LE(0), lastClientSeq: p.readUInt32LE(8) };
      const cells = p.readUInt16LE(12);
      let at = 14;
      for (let c = 0; c < cells; c++) {
        const key = `${p.readInt32LE(at)},${p.readInt32LE(at + 4)}`;
        const count = p.readUInt16LE(at + 8);
        at += 10;
        const content = new Map<number, Seen>();
        for (let i = 0; i < count; i++, at += 16) {
          content.set(p.readUInt32LE(at), { x: p.readFloatLE(at + 4), y: p.readFloatLE(at + 8), hp: p.readInt32LE(at + 12) });
        }
        this.cells.set(key, content);
      }
    } else if (m.type === 'LEAVE') {
      const n = p.readUInt16LE(0);
      const gone = new Set<number>();
      for (let i = 0; i < n; i++) gone.add(p.readUInt32LE(2 + 4 * i));
      for (const cell of this.cells.values()) for (const id of gone) cell.delete(id);
    }
  }
}
