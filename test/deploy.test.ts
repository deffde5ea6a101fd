// The deployment files (deploy/Dockerfile, deploy/agones/*.yaml) against the server they
// deploy: every flag, environment variable, port and path they name must be one the server
// has. No container engine or Kubernetes runs here (docs/DEPLOY.md says what that leaves
// unchecked), so this is what stands between a renamed flag and a fleet that never starts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

import { SETTINGS, isLoopback, loadConfig } from '../src/config.js';
import { addonPath } from '../src/engine/native.js';
import { PUBLIC_DIR } from '../src/routes/dashboard.js';
import { EngineOptions } from '../src/schemas/engine-config.js';
import { build } from './helpers/app.js';
import { ROOT, envPairs, execForm, ignored, parseDockerfile, read, readDeployFiles, yamlDocs, type DeployFiles } from './helpers/deploy-files.js';
import type { Json } from './helpers/json.js';

/** Ports the Agones SDK sidecar listens on inside every GameServer pod (gRPC, HTTP, health). */
const AGONES_SIDECAR_PORTS = [9357, 9358, 8080];

/** Seconds the SIGTERM sequence may take beyond the drain and stop deadlines (SDK Shutdown, exit). */
const SHUTDOWN_MARGIN_S = 5;

// --- what the server has --------------------------------------------------------------

interface ServerFacts {
  /** Flags from `gamesrv server --help`, without dashes. */
  flags: Set<string>;
  /** Environment variables from --help (the config table's). */
  envs: Set<string>;
}

function serverFacts(): ServerFacts {
  const help = execFileSync(process.execPath, ['--import', 'tsx', 'src/server.ts', '--help'], { cwd: ROOT, encoding: 'utf8' });
  const flags = new Set([...help.matchAll(/(?:^|\s)--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!));
  const envs = new Set([...help.matchAll(/\[(GAMESRV_[A-Z0-9_]+)(?:=[^\]]*)?\]/g)].map((m) => m[1]!));
  return { flags, envs };
}

// --- the cross-check -----------------------------------------------------------------

/** Values for variables a manifest takes from the cluster: the shapes the server accepts. */
const CLUSTER_VALUES: Record<string, string> = {
  'fieldRef:metadata.name': 'gamesrv-x7k2p-9qz4m',
  'secretKeyRef:gamesrv/token': 'placeholder-token-0123456789abcdef',
  'secretKeyRef:gamesrv/ticket-secret': 'placeholder-ticket-secret-0123456789abcdef',
  'secretKeyRef:gamesrv/database-url': 'postgres://gamesrv:pw@postgres.default.svc/gamesrv',
};

interface CheckResult {
  problems: string[];
  /** HTTP paths the manifests probe: checked against the running app separately. */
  httpPaths: string[];
}

/** Everything the deploy files say that the server must agree with; [] when all is well. */
function crossCheck(files: DeployFiles, facts: ServerFacts): CheckResult {
  const problems: string[] = [];
  const httpPaths: string[] = [];
  const flagProblems = (where: string, argv: string[]) => {
    for (const a of argv) {
      const m = /^--([^=]+)/.exec(a);
      if (m && !facts.flags.has(m[1]!)) problems.push(`${where}: flag --${m[1]} is not one of the server's (gamesrv --help)`);
    }
  };
  const envProblems = (where: string, names: string[]) => {
    for (const n of names) {
      if (n.startsWith('GAMESRV_') && !facts.envs.has(n)) problems.push(`${where}: ${n} is not a variable the server reads (gamesrv --help)`);
      if (!n.startsWith('GAMESRV_')) problems.push(`${where}: ${n} is not a gamesrv variable`);
    }
  };

  // The Dockerfile.
  const ins = parseDockerfile(files.dockerfile);
  const stages = [...new Set(ins.map((i) => i.stage))];
  const runtime = stages.at(-1)!;
  const ignore = files.dockerignore.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  for (const i of ins.filter((x) => x.op === 'COPY' && !x.args.startsWith('--from'))) {
    const parts = i.args.split(/\s+/);
    for (const src of parts.slice(0, -1)) {
      if (!existsSync(join(ROOT, src))) problems.push(`Dockerfile COPY ${src}: no such file in the repository`);
      else if (ignored(src.replace(/^\.\//, ''), ignore)) problems.push(`Dockerfile COPY ${src}: excluded by Dockerfile.dockerignore`);
    }
  }
  const rt = ins.filter((i) => i.stage === runtime);
  const one = (op: string) => {
    const found = rt.filter((i) => i.op === op);
    if (found.length !== 1) problems.push(`Dockerfile runtime stage: ${found.length} ${op} instructions, want 1`);
    return found[0];
  };
  const entrypoint = execForm(one('ENTRYPOINT') ?? { op: 'ENTRYPOINT', args: '[]', stage: runtime }, problems);
  const cmd = execForm(one('CMD') ?? { op: 'CMD', args: '[]', stage: runtime }, problems);
  flagProblems('Dockerfile ENTRYPOINT/CMD', [...entrypoint, ...cmd]);
  // The entry point is what `npm start` runs, compiled from src/.
  const start = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts['start'];
  if (`node ${entrypoint[1]}` !== start || entrypoint[0] !== 'node') problems.push(`Dockerfile ENTRYPOINT ${JSON.stringify(entrypoint)} is not \`npm start\` (${start})`);
  const entrySource = (entrypoint[1] ?? '').replace(/^dist\//, 'src/').replace(/\.js$/, '.ts');
  if (!existsSync(join(ROOT, entrySource))) problems.push(`Dockerfile ENTRYPOINT ${entrypoint[1]}: no ${entrySource} compiles to it`);
  const imageEnv = new Map(rt.filter((i) => i.op === 'ENV').flatMap((i) => envPairs(i.args)));
  envProblems('Dockerfile ENV', [...imageEnv.keys()]);
  const exposed = rt.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/));
  const volumes = rt.filter((i) => i.op === 'VOLUME').flatMap((i) => execForm(i, problems));
  const user = one('USER')?.args ?? '';
  if (/^(root|0)(:|$)/.test(user) || user === '') problems.push(`Dockerfile USER "${user}": the server must not run as root`);
  if (one('STOPSIGNAL')?.args !== 'SIGTERM') problems.push('Dockerfile STOPSIGNAL is not SIGTERM');
  // What the build stage copies out must be where the runtime looks for it.
  const fromBuild = rt.filter((i) => i.op === 'COPY' && i.args.startsWith('--from')).map((i) => i.args.split(/\s+/).at(-1)!.replace(/^\.\//, ''));
  const loaded = relative(ROOT, addonPath() ?? '');
  for (const need of ['package.json', 'node_modules', 'dist', loaded, relative(ROOT, PUBLIC_DIR)]) {
    if (!fromBuild.includes(need)) problems.push(`Dockerfile runtime stage does not copy ${need} (the server needs it)`);
  }
  // The build finds libpq through pkg-config (CMakeLists.txt): without it PostgreSQL is compiled out.
  const buildRun = ins.filter((i) => i.stage !== runtime && i.op === 'RUN').map((i) => i.args).join(' ');
  for (const pkg of ['cmake', 'pkg-config', 'libpq-dev', 'libsqlite3-dev']) {
    if (!new RegExp(`\\b${pkg}\\b`).test(buildRun)) problems.push(`Dockerfile build stage does not install ${pkg}`);
  }
  const imageArgs = [...entrypoint.slice(2), ...cmd];

  // The YAML files.
  const docs: { path: string; doc: Json }[] = [];
  for (const [path, text] of Object.entries(files.yaml)) for (const doc of yamlDocs(text, path, problems)) docs.push({ path, doc });
  const fleets = docs.filter((d) => d.doc['kind'] === 'Fleet');
  const autoscalers = docs.filter((d) => d.doc['kind'] === 'FleetAutoscaler');
  if (fleets.length !== 1) problems.push(`${fleets.length} Fleets under deploy/, want 1`);
  if (autoscalers.length !== 1) problems.push(`${autoscalers.length} FleetAutoscalers under deploy/, want 1`);
  const fleet = fleets[0]?.doc ?? {};
  const gs = fleet['spec']?.['template']?.['spec'] ?? {};
  const pod = gs['template']?.['spec'] ?? {};
  const containers: Json[] = pod['containers'] ?? [];
  const c = gs['container'] !== undefined ? containers.find((x) => x['name'] === gs['container']) : containers[0];
  if (!c) {
    problems.push('fleet.yaml: no game server container');
    return { problems, httpPaths };
  }

  // The container's command line and environment, as Kubernetes composes them with the image's.
  const argv: string[] = c['command'] !== undefined ? [...(c['command'] as string[]), ...((c['args'] as string[]) ?? [])] : [...entrypoint, ...((c['args'] as string[]) ?? cmd)];
  flagProblems('fleet.yaml command/args', argv);
  const podEnv = new Map(imageEnv);
  const fleetEnv: Json[] = c['env'] ?? [];
  envProblems('fleet.yaml env', fleetEnv.map((e) => String(e['name'])));
  for (const e of fleetEnv) {
    const from = e['valueFrom'];
    let value: string | undefined = e['value'] === undefined ? undefined : String(e['value']);
    if (from?.['fieldRef']) value = CLUSTER_VALUES[`fieldRef:${from['fieldRef']['fieldPath']}`];
    if (from?.['secretKeyRef']) value = CLUSTER_VALUES[`secretKeyRef:${from['secretKeyRef']['name']}/${from['secretKeyRef']['key']}`];
    if (value === undefined) problems.push(`fleet.yaml env ${e['name']}: a value source this test has no stand-in for`);
    else podEnv.set(String(e['name']), value);
  }
  // The server's own parser, strict about flags and ranges, on exactly that.
  let config;
  try {
    const parsed = loadConfig(argv.slice(2), Object.fromEntries(podEnv));
    assert.notEqual(parsed, 'help');
    config = parsed as Exclude<typeof parsed, 'help'>;
  } catch (err) {
    problems.push(`the server refuses the fleet's command line and environment: ${(err as Error).message}`);
    return { problems, httpPaths };
  }
  // The image alone (docker run) must start too.
  try {
    loadConfig(imageArgs, Object.fromEntries(imageEnv));
  } catch (err) {
    problems.push(`the server refuses the image's own command line and environment: ${(err as Error).message}`);
  }

  // Ports: the game port is the GameServer's one port; the control plane has no host port.
  const gamePortDefault = (SETTINGS.gamePort.schema as { default?: number }).default;
  const ports: Json[] = gs['ports'] ?? [];
  if (ports.length !== 1) problems.push(`fleet.yaml: ${ports.length} GameServer ports, want the game port alone`);
  const gp = ports[0] ?? {};
  if (gp['containerPort'] !== config.engineConfig.sessionPort) problems.push(`fleet.yaml GameServer port ${gp['containerPort']} is not the server's game port ${config.engineConfig.sessionPort}`);
  if (gp['containerPort'] !== gamePortDefault) problems.push(`fleet.yaml GameServer port ${gp['containerPort']} is not the default game port ${gamePortDefault}`);
  if (gp['protocol'] !== 'TCP') problems.push(`fleet.yaml GameServer port protocol ${gp['protocol']}: the game port is TCP`);
  if (gp['portPolicy'] !== 'Dynamic') problems.push(`fleet.yaml GameServer portPolicy ${gp['portPolicy']}, want Dynamic`);
  if (JSON.stringify(exposed) !== JSON.stringify([`${gamePortDefault}/tcp`])) problems.push(`Dockerfile EXPOSE ${exposed.join(' ')}: want the game port ${gamePortDefault}/tcp alone`);
  if (isLoopback(config.engineConfig.gameHost ?? '')) problems.push(`game host ${config.engineConfig.gameHost}: players could not reach it`);
  if (isLoopback(config.host)) problems.push(`control host ${config.host}: probes and the cluster could not reach it`);
  if (AGONES_SIDECAR_PORTS.includes(config.port)) problems.push(`control port ${config.port} is taken by the Agones sidecar in the pod`);
  if (AGONES_SIDECAR_PORTS.includes(config.engineConfig.sessionPort ?? -1)) problems.push(`game port ${config.engineConfig.sessionPort} is taken by the Agones sidecar`);
  if (config.port === config.engineConfig.sessionPort) problems.push('control port and game port are the same');
  const named = new Map<string, number>();
  for (const p of (c['ports'] as Json[] | undefined) ?? []) {
    if (p['hostPort'] !== undefined) problems.push(`fleet.yaml container port ${p['name']}: a hostPort exposes it outside the cluster`);
    if (p['containerPort'] !== config.port) problems.push(`fleet.yaml container port ${p['name']} ${p['containerPort']} is not the control port ${config.port}`);
    named.set(String(p['name']), Number(p['containerPort']));
  }
  if (config.tokenSource.kind === 'none') problems.push('the control plane listens beyond loopback: it needs a token');
  if (config.ticketSecretSource.kind === 'generated') problems.push('the fleet generates a ticket secret per server: tickets would not cross servers (set GAMESRV_TICKET_SECRET)');
  for (const kind of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
    const get = c[kind]?.['httpGet'];
    if (!get) continue;
    const port = typeof get['port'] === 'string' ? named.get(get['port']) : Number(get['port']);
    if (port !== config.port) problems.push(`fleet.yaml ${kind} port ${get['port']} is not the control port ${config.port}`);
    httpPaths.push(String(get['path']));
  }
  if (c['livenessProbe'] !== undefined) problems.push('fleet.yaml livenessProbe: Agones sets its own (the sidecar\'s health); one here replaces it');

  // Paths: the data directory is the image's volume and the pod's mount.
  const mounts = ((c['volumeMounts'] as Json[] | undefined) ?? []).map((m) => String(m['mountPath']));
  const dataDir = config.engineConfig.dataDir ?? '';
  if (!volumes.includes(dataDir)) problems.push(`Dockerfile VOLUME ${volumes.join(' ')} does not hold the data directory ${dataDir}`);
  if (!mounts.includes(dataDir)) problems.push(`fleet.yaml mounts no volume at the data directory ${dataDir}`);

  // Health: Agones' period must allow for the server's ping period.
  const agonesHealth = SETTINGS.agonesHealthMs;
  const pingMs = Number(podEnv.get(agonesHealth.env) ?? (agonesHealth.schema as { default?: number }).default);
  const health = gs['health'] ?? {};
  if (health['disabled'] === true) problems.push('fleet.yaml: Agones health checking is disabled');
  const period = Number(health['periodSeconds']);
  const threshold = Number(health['failureThreshold']);
  const delay = Number(health['initialDelaySeconds']);
  if (!(period * 1000 >= 2 * pingMs)) problems.push(`fleet.yaml health.periodSeconds ${period}: want at least two of the server's ${pingMs} ms pings in a period`);
  if (!(threshold >= 2)) problems.push(`fleet.yaml health.failureThreshold ${threshold}: one late ping must not fail the server`);
  if (!(delay * 1000 >= pingMs)) problems.push(`fleet.yaml health.initialDelaySeconds ${delay}: shorter than one ping period`);

  // The players Counter: capacity is the World's maxPlayers.
  const maxPlayers = (EngineOptions.properties.maxPlayers as { default?: number }).default;
  const players = gs['counters']?.['players'];
  if (!players) problems.push('fleet.yaml: no "players" Counter');
  else if (players['capacity'] !== maxPlayers) problems.push(`fleet.yaml players capacity ${players['capacity']} is not the server's maxPlayers ${maxPlayers}`);

  // SIGTERM: drain, then stop (with the final flush), then Shutdown(), before Kubernetes kills.
  const grace = Number(pod['terminationGracePeriodSeconds']);
  const needed = Math.ceil((config.drainDeadlineMs + config.stopDeadlineMs) / 1000) + SHUTDOWN_MARGIN_S;
  if (!(grace >= needed)) problems.push(`fleet.yaml terminationGracePeriodSeconds ${grace}: drain + stop deadlines + margin need ${needed}`);

  // The autoscaler scales this fleet on that Counter.
  const fas = autoscalers[0]?.doc ?? {};
  const policy = fas['spec']?.['policy'] ?? {};
  if (fas['spec']?.['fleetName'] !== fleet['metadata']?.['name']) problems.push(`fleetautoscaler.yaml fleetName ${fas['spec']?.['fleetName']} is not the Fleet ${fleet['metadata']?.['name']}`);
  if (policy['type'] !== 'Counter') problems.push(`fleetautoscaler.yaml policy ${policy['type']}, want Counter`);
  const counter = policy['counter'] ?? {};
  if (counter['key'] !== 'players' || !players) problems.push(`fleetautoscaler.yaml counter key ${counter['key']} is not the fleet's "players" Counter`);
  const [buffer, min, max] = [counter['bufferSize'], counter['minCapacity'], counter['maxCapacity']].map(Number) as [number, number, number];
  if (!(buffer > 0 && buffer <= min && min <= max)) problems.push(`fleetautoscaler.yaml: Agones refuses anything but 0 < bufferSize (${buffer}) <= minCapacity (${min}) <= maxCapacity (${max})`);
  if (!(max >= maxPlayers!)) problems.push(`fleetautoscaler.yaml maxCapacity ${max} is less than one server's capacity ${maxPlayers}`);

  // Allocations pick servers of this fleet by its Counter.
  for (const { path, doc } of docs.filter((d) => d.doc['kind'] === 'GameServerAllocation')) {
    const selectors: Json[] = doc['spec']?.['selectors'] ?? [];
    if (selectors.length === 0) problems.push(`${path}: no selectors`);
    for (const s of selectors) {
      if (s['matchLabels']?.['agones.dev/fleet'] !== fleet['metadata']?.['name']) problems.push(`${path}: selector fleet ${s['matchLabels']?.['agones.dev/fleet']} is not the Fleet ${fleet['metadata']?.['name']}`);
      for (const key of Object.keys(s['counters'] ?? {})) if (!gs['counters']?.[key]) problems.push(`${path}: counter ${key} is not one of the fleet's`);
    }
  }

  // Server names: unique per pod, within the server's pattern for the longest pod name.
  const name = String(fleet['metadata']?.['name'] ?? '');
  const pattern = new RegExp((SETTINGS.serverName.schema as { pattern?: string }).pattern!);
  if (!pattern.test(`${name}-xxxxx-xxxxx`)) problems.push(`fleet name "${name}": its pods' names would not be valid server names (${pattern})`);
  if (!fleetEnv.some((e) => e['name'] === 'GAMESRV_SERVER_NAME' && e['valueFrom']?.['fieldRef']?.['fieldPath'] === 'metadata.name')) {
    problems.push('fleet.yaml: GAMESRV_SERVER_NAME is not the pod name (servers sharing a database need distinct names)');
  }
  return { problems, httpPaths };
}

// --- the tests -------------------------------------------------------------------------

const facts = serverFacts();
const files = readDeployFiles();

test('the server --help lists the flags and variables the check compares with', () => {
  for (const f of ['host', 'port', 'game-host', 'game-port', 'data-dir']) assert.ok(facts.flags.has(f), `--${f} in --help`);
  for (const e of ['GAMESRV_PORT', 'GAMESRV_GAME_PORT', 'GAMESRV_TOKEN']) assert.ok(facts.envs.has(e), `${e} in --help`);
});

test('every YAML file under deploy/ parses', () => {
  for (const f of ['allocation', 'fleet', 'fleetautoscaler']) assert.ok(`deploy/agones/${f}.yaml` in files.yaml, `deploy/agones/${f}.yaml is read`);
  for (const [path, text] of Object.entries(files.yaml)) {
    const problems: string[] = [];
    const docs = yamlDocs(text, path, problems);
    assert.deepEqual(problems, []);
    assert.ok(docs.length > 0 && docs.every((d) => typeof d['apiVersion'] === 'string' && typeof d['kind'] === 'string'), `${path}: apiVersion and kind`);
  }
});

test('the Dockerfile and the Agones manifests agree with the server', () => {
  assert.deepEqual(crossCheck(files, facts).problems, []);
});

test('the paths the manifests probe are routes the server answers', async (t) => {
  const { httpPaths } = crossCheck(files, facts);
  assert.ok(httpPaths.includes('/v1/ready'), 'the readiness probe');
  const app = await build(t);
  for (const url of httpPaths) {
    assert.ok(app.hasRoute({ method: 'GET', url }), `GET ${url} is registered`);
    const res = await app.inject({ method: 'GET', url });
    assert.equal(res.statusCode, 200, `GET ${url} on a running engine`);
  }
  // A misspelled probe path reaches this check, and fails it.
  const typo = crossCheck(mutated('path: /v1/ready', 'path: /v1/readyz', 'deploy/agones/fleet.yaml'), facts).httpPaths;
  assert.ok(typo.some((url) => !app.hasRoute({ method: 'GET', url })), typo.join(' '));
});

test('SIGTERM, the image\'s stop signal, is what the server drains on', () => {
  assert.match(read('src/server.ts'), /process\.on\('SIGTERM'/);
});

// The check must be able to fail: each mutation below is one a rename or a typo makes.
const mutated = (from: string, to: string, where: 'dockerfile' | `deploy/agones/${'fleet' | 'fleetautoscaler' | 'allocation'}.yaml`): DeployFiles => {
  const copy: DeployFiles = { ...files, yaml: { ...files.yaml } };
  const text = where === 'dockerfile' ? copy.dockerfile : copy.yaml[where]!;
  assert.ok(text.includes(from), `${where} contains ${from}`);
  const changed = text.replace(from, to);
  if (where === 'dockerfile') copy.dockerfile = changed;
  else copy.yaml[where] = changed;
  return copy;
};

test('a misspelled flag fails the check (in-memory copy)', () => {
  const { problems } = crossCheck(mutated('"--game-host"', '"--game-hots"', 'dockerfile'), facts);
  assert.ok(problems.some((p) => p.includes('flag --game-hots is not one of the server')), problems.join('\n'));
});

test('a misspelled variable, a wrong port, a wrong counter fail the check (in-memory copies)', () => {
  const cases: [string, string, Parameters<typeof mutated>[2], string][] = [
    ['name: GAMESRV_DRAIN_DEADLINE_MS', 'name: GAMESRV_DRAIN_DEADLINE', 'deploy/agones/fleet.yaml', 'GAMESRV_DRAIN_DEADLINE is not a variable'],
    ['GAMESRV_PORT=8090', 'GAMESRV_PORT=8080', 'dockerfile', 'taken by the Agones sidecar'],
    ['containerPort: 7777', 'containerPort: 7778', 'deploy/agones/fleet.yaml', 'is not the server\'s game port'],
    ['key: players', 'key: player', 'deploy/agones/fleetautoscaler.yaml', 'is not the fleet\'s "players" Counter'],
    ['terminationGracePeriodSeconds: 45', 'terminationGracePeriodSeconds: 20', 'deploy/agones/fleet.yaml', 'terminationGracePeriodSeconds 20'],
    ['periodSeconds: 5\n        failureThreshold', 'periodSeconds: 3\n        failureThreshold', 'deploy/agones/fleet.yaml', 'health.periodSeconds 3'],
    ['COPY native ./native', 'COPY natve ./native', 'dockerfile', 'COPY natve: no such file'],
    ['agones.dev/fleet: gamesrv\n      gameServerState: Ready', 'agones.dev/fleet: gamesvr\n      gameServerState: Ready', 'deploy/agones/allocation.yaml', 'selector fleet gamesvr'],
  ];
  for (const [from, to, where, expected] of cases) {
    const r = crossCheck(mutated(from, to, where), facts);
    assert.ok(r.problems.some((p) => p.includes(expected)), `${from} -> ${to}: ${r.problems.join('\n') || 'no problem found'}`);
  }
});
