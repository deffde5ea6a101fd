// A fake Agones SDK sidecar for contract tests: a real gRPC server (@grpc/grpc-js) serving
// the service definitions and messages the SDK package itself ships (lib/sdk_grpc_pb.js,
// lib/beta/beta_grpc_pb.js, generated from Agones' .proto files), so the server under
// test speaks the SDK's own protocol. Every call is recorded with its time; the
// GameServer state moves as Agones would move it (Ready → Ready, Shutdown → Shutdown)
// and is streamed to watchers.
//
// It listens on port 0 through a plain TCP listener whose connections are injected into
// the gRPC server (createConnectionInjector), so `acceptAfter()` can hold the sidecar
// "not started" (connections refused by reset) while the port is already known.
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { createServer, type Server as NetServer, type Socket } from 'node:net';

import * as grpc from '@grpc/grpc-js';

const require = createRequire(import.meta.url);
/* eslint-disable @typescript-eslint/no-explicit-any -- the generated JS ships no typings */
const sdkServices = require('@google-cloud/agones-sdk/lib/sdk_grpc_pb.js') as Record<string, grpc.ServiceDefinition>;
const sdkMessages = require('@google-cloud/agones-sdk/lib/sdk_pb.js') as any;
const betaServices = require('@google-cloud/agones-sdk/lib/beta/beta_grpc_pb.js') as Record<string, grpc.ServiceDefinition>;
const betaMessages = require('@google-cloud/agones-sdk/lib/beta/beta_pb.js') as any;

export type CallName =
  | 'Ready'
  | 'Allocate'
  | 'Shutdown'
  | 'Health'
  | 'GetGameServer'
  | 'WatchGameServer'
  | 'SetLabel'
  | 'SetAnnotation'
  | 'Reserve'
  | 'GetCounter'
  | 'UpdateCounter';

export interface Call {
  name: CallName;
  atMs: number;
  /** SetLabel: {key, value}; UpdateCounter: {name, count?, capacity?, countDiff?}; Ready: {gamePortAccepted?}. */
  detail?: Record<string, unknown>;
}

export interface Counter {
  count: number;
  capacity: number;
}

export class FakeAgones extends EventEmitter<{ call: [Call] }> {
  readonly calls: Call[] = [];
  readonly counters = new Map<string, Counter>();
  readonly labels = new Map<string, string>();
  state = 'Scheduled';
  /** Runs before Ready() is answered (a test checks the game port accepts there). */
  onReady: (() => Promise<Record<string, unknown>>) | undefined;
  /** Runs when Shutdown() arrives; what it returns is recorded with the call. */
  onShutdown: (() => Record<string, unknown>) | undefined;
  readonly #grpc = new grpc.Server();
  readonly #net: NetServer;
  readonly #sockets = new Set<Socket>();
  readonly #watchers = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  #accepting = false;
  port = 0;

  private constructor() {
    super();
    this.#grpc.addService(sdkServices['agones.dev.sdk.SDK']!, this.#sdkImpl());
    this.#grpc.addService(betaServices['agones.dev.sdk.beta.SDK']!, this.#betaImpl());
    const injector = this.#grpc.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.#net = createServer((socket) => {
      if (!this.#accepting) return socket.destroy();
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      injector.injectConnection(socket);
    });
  }

  /** Listens on a free port; accepts at once unless `accepting` is false (then: acceptFrom()). */
  static async start(accepting = true): Promise<FakeAgones> {
    const fake = new FakeAgones();
    fake.#accepting = accepting;
    await new Promise<void>((resolve) => fake.#net.listen(0, resolve));
    fake.port = (fake.#net.address() as { port: number }).port;
    return fake;
  }

  /** The sidecar "starts": connections from now on reach the gRPC server. */
  acceptFrom(): void {
    this.#accepting = true;
  }

  count(name: CallName): number {
    return this.calls.filter((c) => c.name === name).length;
  }

  /** Resolves with the first call (past `after` calls of that name) that `match` accepts. */
  next(name: CallName, match: (c: Call) => boolean = () => true, after = 0): Promise<Call> {
    const seen = this.calls.filter((c) => c.name === name);
    const found = seen.slice(after).find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => {
      const on = (c: Call) => {
        if (c.name === name && match(c)) {
          this.off('call', on);
          resolve(c);
        }
      };
      this.on('call', on);
    });
  }

  /** Moves the GameServer to `state` (as an allocation would) and tells every watcher. */
  setState(state: string): void {
    this.state = state;
    const gs = this.#gameServer();
    for (const w of this.#watchers) w.write(gs);
  }

  /** Ends every WatchGameServer stream cleanly (status OK), as a restarting sidecar would. */
  endWatches(): void {
    for (const w of this.#watchers) w.end();
    this.#watchers.clear();
  }

  async close(): Promise<void> {
    for (const w of this.#watchers) w.end();
    this.#watchers.clear();
    this.#grpc.forceShutdown();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#net.close(() => resolve()));
  }

  #record(name: CallName, detail?: Record<string, unknown>): void {
    const call: Call = { name, atMs: Date.now(), ...(detail ? { detail } : {}) };
    this.calls.push(call);
    this.emit('call', call);
  }

  #gameServer(): unknown {
    const gs = new sdkMessages.GameServer();
    const meta = new sdkMessages.GameServer.ObjectMeta();
    meta.setName('gamesrv-test');
    gs.setObjectMeta(meta);
    const status = new sdkMessages.GameServer.Status();
    status.setState(this.state);
    gs.setStatus(status);
    return gs;
  }

  #sdkImpl(): grpc.UntypedServiceImplementation {
    const empty = () => new sdkMessages.Empty();
    const unary = (then: (req: any) => unknown) =>
      (call: grpc.ServerUnaryCall<any, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        Promise.resolve(then(call.request)).then((reply) => cb(null, reply), (err: Error) => cb(err, null));
      };
    return {
      ready: unary(async () => {
        const detail = this.onReady ? await this.onReady() : undefined;
        this.#record('Ready', detail);
        this.setState('Ready');
        return empty();
      }),
      allocate: unary(() => {
        this.#record('Allocate');
        this.setState('Allocated');
        return empty();
      }),
      shutdown: unary(() => {
        this.#record('Shutdown', this.onShutdown?.());
        this.setState('Shutdown');
        return empty();
      }),
      health: (call: grpc.ServerReadableStream<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        call.on('data', () => this.#record('Health'));
        call.on('end', () => cb(null, empty()));
        call.on('error', () => {});
      },
      getGameServer: unary(() => {
        this.#record('GetGameServer');
        return this.#gameServer();
      }),
      watchGameServer: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        this.#record('WatchGameServer');
        this.#watchers.add(call);
        call.on('cancelled', () => this.#watchers.delete(call));
        call.on('error', () => this.#watchers.delete(call));
        call.write(this.#gameServer());
      },
      setLabel: unary((req) => {
        this.labels.set(req.getKey(), req.getValue());
        this.#record('SetLabel', { key: req.getKey(), value: req.getValue() });
        return empty();
      }),
      setAnnotation: unary(() => {
        this.#record('SetAnnotation');
        return empty();
      }),
      reserve: unary(() => {
        this.#record('Reserve');
        return empty();
      }),
    };
  }

  #betaImpl(): grpc.UntypedServiceImplementation {
    const counterMessage = (name: string, c: Counter) => {
      const m = new betaMessages.Counter();
      m.setName(name);
      m.setCount(c.count);
      m.setCapacity(c.capacity);
      return m;
    };
    const notFound = (what: string) => Object.assign(new Error(`${what} not found`), { code: grpc.status.NOT_FOUND });
    const unimplemented = (_call: unknown, cb: grpc.sendUnaryData<unknown>) =>
      cb(Object.assign(new Error('lists are not part of this fake'), { code: grpc.status.UNIMPLEMENTED }), null);
    return {
      getCounter: (call: grpc.ServerUnaryCall<any, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const name = call.request.getName() as string;
        this.#record('GetCounter', { name });
        const c = this.counters.get(name);
        if (c === undefined) cb(notFound(`counter ${name}`), null);
        else cb(null, counterMessage(name, c));
      },
      updateCounter: (call: grpc.ServerUnaryCall<any, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const u = call.request.getCounterupdaterequest();
        const name = u.getName() as string;
        const c = this.counters.get(name) ?? { count: 0, capacity: 0 };
        const detail: Record<string, unknown> = { name };
        if (u.hasCapacity()) c.capacity = detail['capacity'] = u.getCapacity().getValue();
        if (u.hasCount()) c.count = detail['count'] = u.getCount().getValue();
        if (u.getCountdiff() !== 0) c.count += detail['countDiff'] = u.getCountdiff();
        this.counters.set(name, c);
        this.#record('UpdateCounter', detail);
        cb(null, counterMessage(name, c));
      },
      getList: unimplemented,
      updateList: unimplemented,
      addListValue: unimplemented,
      removeListValue: unimplemented,
    };
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */
