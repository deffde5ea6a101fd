// The dashboard in a real browser: Debian's chromium driven by playwright-core, against a
// server this test starts (scripts/browser-test.sh; the `browser` lane of .ci/run).
// Screenshots go to test-results/ (CI artifacts); DASHBOARD_DOCS_SCREENSHOT=1 also writes
// the 1280×800 one to docs/dashboard.png and the world map's to docs/dashboard-world.png. Every wait is for a selector, a page condition
// or a hub tick, with a deadline; nothing sleeps.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';

import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { WebSocket } from 'ws';

import { buildApp, type AppOptions } from '../../src/app.js';
import type { StorageStatus } from '../../src/schemas/stats.js';
import type { TicketsIssued } from '../../src/schemas/tickets.js';
import { SMALL_ENGINE, uniqueServerName } from '../helpers/app.js';
import { GameClient } from '../helpers/game-client.js';
import { rng } from '../helpers/rng.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const RESULTS = join(process.cwd(), 'test-results');
/** Generous for a shared 2-core machine; a failure still fails in seconds. */
const WAIT_MS = 10_000;
/** The bound for showing a state change after clicking. */
const STATE_CHANGE_MS = 1000;
/** Frames every 250 ms keep the test short; the page's default is 1000. */
const PAGE = '?interval=250&minutes=2';
const TEST = { timeout: 120_000 };

let browser: Browser;

before(async () => {
  await mkdir(RESULTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 30_000 });
});
after(() => browser?.close());

interface Server {
  app: FastifyInstance;
  url: string;
  /** While true, every telemetry socket reports a send buffer above the high watermark. */
  stuck: { on: boolean };
}

async function startServer(t: TestContext, opts: AppOptions = {}): Promise<Server> {
  const stuck = { on: false };
  const app = await buildApp({
    autoStart: true,
    docsUi: false,
    ...opts,
    engineConfig: { ...SMALL_ENGINE, serverName: uniqueServerName('browser'), ...opts.engineConfig },
    telemetry: { bufferedAmountForTesting: (socket: WebSocket) => (stuck.on ? 1024 * 1024 : socket.bufferedAmount) },
  });
  t.after(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  assert.ok(address !== null && typeof address === 'object');
  return { app, url: `http://127.0.0.1:${address.port}/`, stuck };
}

/** A page that records console errors and uncaught exceptions. */
async function openPage(t: TestContext, width: number, height: number): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme: 'light' });
  t.after(() => context.close());
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`page: ${err.message}`));
  return { page, errors };
}

/** Chromium logs every non-2xx response as a console error; these are the ones a test provoked on purpose. */
function unexpected(errors: string[], provoked: number[] = []): string[] {
  const ok = provoked.map((status) => `Failed to load resource: the server responded with a status of ${status}`);
  return errors.filter((e) => !ok.some((prefix) => e.startsWith(`console: ${prefix}`)));
}

const points = (page: Page, chart: string) => page.$eval(`#chart-${chart}`, (el) => Number((el as HTMLElement).dataset['points']));

/** Resolves at the first hub tick after which `cond` holds. */
function hubUntil(app: FastifyInstance, what: string, cond: () => boolean): Promise<void> {
  if (cond()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      app.telemetry.off('tick', on);
      reject(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`));
    }, WAIT_MS);
    const on = () => {
      if (!cond()) return;
      clearTimeout(timer);
      app.telemetry.off('tick', on);
      resolve();
    };
    app.telemetry.on('tick', on);
  });
}

async function inject(page: Page, type: string, playerId: number, data: string, count: number): Promise<void> {
  const form = page.locator('#inject-form');
  await form.locator('select[name="type"]').selectOption(type);
  await form.locator('input[name="playerId"]').fill(String(playerId));
  if (type !== 'PLAYER_LOGOUT') await form.locator('input[name="data"]').fill(data);
  await form.locator('input[name="count"]').fill(String(count));
  await page.evaluate(() => delete document.getElementById('inject-result')!.dataset['accepted']);
  await form.locator('button[type="submit"]').click();
  await page.waitForSelector(`#inject-result[data-accepted="${count}"]`);
}

describe('dashboard in chromium', () => {
  test('live data, lifecycle, injection, tasks, coalescing, reconnection, both sizes', TEST, async (t) => {
    const { app, url, stuck } = await startServer(t);
    const { page, errors } = await openPage(t, 1280, 800);
    await page.goto(url + PAGE);

    await t.test('connects, subscribes and fills every chart and the threads table', async () => {
      await page.waitForSelector('#connection[data-status="live"][data-connections="1"]');
      await page.waitForSelector('#engine-state[data-state="running"]');
      await page.waitForFunction(() => {
        const charts = [...document.querySelectorAll<HTMLElement>('figure.chart')];
        return charts.length === 7 && charts.every((c) => Number(c.dataset['points']) >= 3);
      });
      const threads = await page.$$eval('#thread-table tbody tr td:first-child', (tds) => tds.map((td) => td.textContent));
      assert.ok(threads.some((n) => n?.startsWith('gs-loop-')), `threads: ${threads.join(', ')}`);
      assert.ok(threads.some((n) => n?.startsWith('gs-events-')), `threads: ${threads.join(', ')}`);
      const before = await points(page, 'events');
      await page.waitForFunction((n) => Number(document.getElementById('chart-events')!.dataset['points']) >= n + 2, before);
    });

    await t.test('Pause shows the paused state within a second; Resume goes back', async () => {
      const clicked = Date.now();
      await page.click('button[data-action="pause"]');
      await page.waitForSelector('#engine-state[data-state="paused"]', { timeout: STATE_CHANGE_MS });
      assert.ok(Date.now() - clicked <= STATE_CHANGE_MS, `took ${Date.now() - clicked} ms`);
      assert.equal(app.engine.state, 'paused');
      assert.ok(await page.isEnabled('button[data-action="resume"]'));
      assert.ok(await page.isDisabled('button[data-action="pause"]'));
      await page.click('button[data-action="resume"]');
      await page.waitForSelector('#engine-state[data-state="running"]', { timeout: STATE_CHANGE_MS });
      assert.equal(app.engine.state, 'running');
    });

    await t.test('100 events through the form raise the processed counter by exactly 100', async () => {
      const processed = app.engine.snapshot().events.processed;
      // The counter shows the engine's current count before the injection.
      await page.waitForSelector(`#stat-processed[data-value="${processed}"]`);
      await inject(page, 'PLAYER_LOGIN', 7, 'Tester', 100);
      await page.waitForSelector(`#stat-processed[data-value="${processed + 100}"]`);
      assert.equal(app.engine.snapshot().events.processed, processed + 100);
      // It stays there: a later frame shows the same count.
      const seq = await points(page, 'events');
      await page.waitForFunction((n) => Number(document.getElementById('chart-events')!.dataset['points']) > n, seq);
      assert.equal(await page.$eval('#stat-processed', (el) => (el as HTMLElement).dataset['value']), String(processed + 100));
      await page.waitForSelector('#stat-players:text-is("1")');
    });

    await t.test('a task through the form runs and is listed', async () => {
      const form = page.locator('#task-form');
      await form.locator('select[name="kind"]').selectOption('database');
      await form.locator('input[name="query"]').fill('SELECT 42');
      await form.locator('button[type="submit"]').click();
      const id = await page.waitForSelector('#task-result[data-task-id]').then((el) => el.getAttribute('data-task-id'));
      await page.waitForSelector(`#task-table tr[data-id="${id}"][data-status="done"]`);
      assert.equal(app.engine.task(Number(id))?.status, 'done');
    });

    await t.test('screenshots at 1280×800, light and dark', async () => {
      // More kinds of traffic, over several frames, so the latency chart has more than one type.
      for (let round = 0; round < 4; round++) {
        await inject(page, 'PLAYER_MOVE', 7, '120,80', 500);
        await inject(page, 'PLAYER_CHAT', 7, 'gg', 200);
        await inject(page, 'PLAYER_ATTACK', 7, '8,5', 50);
      }
      // p99 and p50 of each of the three types, from the windows the events fell in.
      await page.waitForFunction(() => Number(document.getElementById('chart-latency')!.dataset['series']) >= 6);
      await page.waitForSelector(`#stat-processed[data-value="${app.engine.snapshot().events.accepted}"]`);
      await page.evaluate(() => window.scrollTo(0, 0));
      const shot = join(RESULTS, 'dashboard-1280x800.png');
      await page.screenshot({ path: shot });
      if (process.env['DASHBOARD_DOCS_SCREENSHOT'] === '1') await copyFile(shot, join(process.cwd(), 'docs', 'dashboard.png'));
      const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.waitForFunction((bg) => getComputedStyle(document.body).backgroundColor !== bg, light);
      // The charts are redrawn in the dark palette, their legends showing the newest values.
      await page.waitForFunction(() => document.querySelector('#chart-events .u-legend .u-value')?.textContent !== '—');
      await page.screenshot({ path: join(RESULTS, 'dashboard-1280x800-dark.png') });
      await page.emulateMedia({ colorScheme: 'light' });
    });

    await t.test('frames coalesced for a slow page show the marker', async () => {
      assert.ok(await page.isHidden('#coalesced'));
      const dropped = app.telemetry.stats().framesDropped;
      stuck.on = true;
      await hubUntil(app, 'frames to be coalesced', () => app.telemetry.stats().framesDropped > dropped);
      stuck.on = false;
      await page.waitForSelector('#coalesced:visible');
      const shown = await page.$eval('#coalesced', (el) => Number((el as HTMLElement).dataset['dropped']));
      assert.ok(shown > 0, `marker counts ${shown}`);
    });

    await t.test('a socket killed by the server shows reconnection, then data flows again', async () => {
      const reconnecting = page.waitForSelector('#connection[data-status="reconnecting"]');
      const sockets = [...app.websocketServer.clients];
      assert.equal(sockets.length, 1);
      for (const socket of sockets) socket.terminate();
      await reconnecting;
      await page.waitForSelector('#connection[data-status="live"][data-connections="2"]');
      const before = await points(page, 'events');
      await page.waitForFunction((n) => Number(document.getElementById('chart-events')!.dataset['points']) >= n + 2, before);
      assert.equal(app.telemetry.stats().connections, 1);
    });

    await t.test('narrow screen: one column, nothing wider than the viewport', async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      await page.waitForFunction(() => document.documentElement.scrollWidth <= 390);
      const columns = await page.$eval('.layout', (el) => getComputedStyle(el).gridTemplateColumns.split(' ').length);
      assert.equal(columns, 1);
      const chartWidth = await page.$eval('#chart-events .uplot', (el) => el.getBoundingClientRect().width);
      assert.ok(chartWidth <= 390, `chart is ${chartWidth}px wide`);
      await page.screenshot({ path: join(RESULTS, 'dashboard-390x844.png'), fullPage: true });
      await page.setViewportSize({ width: 1280, height: 800 });
    });

    await t.test('Stop, then a refused injection shows the 409 problem detail', async () => {
      await page.click('button[data-action="stop"]');
      await page.waitForSelector('#engine-state[data-state="stopped"]', { timeout: WAIT_MS });
      await page.waitForSelector('#engine-message.ok');
      await page.click('#inject-form button[type="submit"]');
      await page.waitForSelector('#inject-result.error');
      const text = await page.textContent('#inject-result');
      assert.match(text ?? '', /^refused \(409\): \S/);
      assert.ok(await page.isEnabled('button[data-action="start"]'));
    });

    assert.deepEqual(unexpected(errors, [409]), []);
  });

  test('world map and sessions: game-port players drawn at their positions, coloured by hp; Kick closes one', TEST, async (t) => {
    const WORLD = 1000;
    const AOI = 100;
    const { app, url } = await startServer(t, { engineOptions: { worldSize: WORLD }, engineConfig: { sessionPort: 0, aoiRadius: AOI } });
    const port = app.engine.gamePort;
    assert.ok(port !== null);
    // Far apart, one badly hurt; and a spot no one is near, inside a cell, which must stay background.
    const players = [
      { id: 1, x: -600, y: 600, hp: 100 },
      { id: 2, x: 600, y: 600, hp: 100 },
      { id: 3, x: 600, y: -600, hp: 10 },
      { id: 4, x: -250, y: -700, hp: 100 },
    ];
    const empty = { x: -750, y: -150 };
    const issued = await app.inject({ method: 'POST', url: '/v1/tickets', payload: { tickets: players.map((p) => ({ playerId: p.id, name: `p${p.id}` })) } });
    assert.equal(issued.statusCode, 201, issued.body);
    const { tickets } = issued.json() as TicketsIssued;
    const clients = await Promise.all(players.map(() => GameClient.connect(port)));
    t.after(() => clients.forEach((c) => c.close()));
    await Promise.all(clients.map((c, i) => c.login(tickets[i]!.ticket)));
    players.forEach((p, i) => clients[i]!.move(p.x, p.y, 1));
    const hit = await app.inject({ method: 'POST', url: '/v1/events', payload: { type: 'PLAYER_ATTACK', playerId: 1, data: { target: 3, damage: 90 } } });
    assert.equal(hit.statusCode, 202, hit.body);
    // Every client sees itself where it moved, with its hp: the World has applied it all.
    await Promise.all(
      clients.map((c, i) => {
        const p = players[i]!;
        return c.until(() => {
          const me = c.visible().get(p.id);
          return me !== undefined && me.x === p.x && me.y === p.y && me.hp === p.hp;
        }, `player ${p.id} at (${p.x}, ${p.y}) with ${p.hp} hp`);
      }),
    );
    // The rest of the map, for the screenshot: players through the REST API, kept clear of the spots checked below.
    const rand = rng(14);
    const crowd: { type: string; playerId: number; data?: unknown }[] = [];
    for (let id = 100; crowd.length < 3 * 150; id++) {
      const x = Math.round((rand() * 2 - 1) * (WORLD - 20));
      const y = Math.round((rand() * 2 - 1) * (WORLD - 20));
      if ([...players, empty].some((q) => Math.hypot(q.x - x, q.y - y) < 60)) continue;
      crowd.push({ type: 'PLAYER_LOGIN', playerId: id }, { type: 'PLAYER_MOVE', playerId: id, data: { x, y } });
      crowd.push({ type: 'PLAYER_ATTACK', playerId: 1, data: { target: id, damage: Math.floor(rand() * 100) } });
    }
    assert.equal((await app.inject({ method: 'POST', url: '/v1/events', payload: { events: crowd } })).statusCode, 202);
    await app.engine.flush();
    const online = players.length + crowd.length / 3;

    const { page, errors } = await openPage(t, 1280, 800);
    await page.goto(url + PAGE);

    await t.test('the map draws every online player at its coordinates, green at full hp, red when hurt, over the AOI grid', async () => {
      await page.waitForSelector(`#world-map[data-points="${online}"]`);
      assert.equal(await page.$eval('#world', (el) => (el as HTMLElement).dataset['online']), String(online));
      // Cell edges every 100 inside ±1000: 19 vertical and 19 horizontal lines.
      assert.equal(await page.$eval('#world-map', (el) => (el as HTMLElement).dataset['gridLines']), String(2 * ((2 * WORLD) / AOI - 1)));
      // The pixel at each player's position, read back from the canvas.
      const colours = await page.$eval(
        '#world-map',
        (el, { spots, world }) => {
          const canvas = el as HTMLCanvasElement;
          const ctx = canvas.getContext('2d')!;
          const k = canvas.width / (2 * world);
          return spots.map((s) => [...ctx.getImageData(Math.round((s.x + world) * k), Math.round((world - s.y) * k), 1, 1).data.slice(0, 3)]);
        },
        { spots: [...players, empty], world: WORLD },
      );
      players.forEach((p, i) => {
        const [r, g] = colours[i]!;
        if (p.hp === 100) assert.ok(g! > r! + 60, `player ${p.id} (full hp) is green: rgb ${colours[i]!.join(',')}`);
        else assert.ok(r! > g! + 60, `player ${p.id} (${p.hp} hp) is red: rgb ${colours[i]!.join(',')}`);
      });
      const [r, g, b] = colours.at(-1)!;
      assert.ok(Math.max(r!, g!, b!) - Math.min(r!, g!, b!) < 16, `nobody at (${empty.x}, ${empty.y}): background, rgb ${colours.at(-1)!.join(',')}`);
    });

    await t.test('the sessions panel lists the game-port players; screenshot', async () => {
      for (const p of players) await page.waitForSelector(`#session-table tr[data-player="${p.id}"][data-state="live"]`);
      assert.equal(await page.$$eval('#session-table tbody tr', (rows) => rows.length), players.length);
      await page.waitForSelector(`#sessions[data-active="${players.length}"]`);
      await page.$eval('#world', (el) => el.scrollIntoView());
      const shot = join(RESULTS, 'dashboard-world-1280x800.png');
      await page.screenshot({ path: shot });
      if (process.env['DASHBOARD_DOCS_SCREENSHOT'] === '1') await copyFile(shot, join(process.cwd(), 'docs', 'dashboard-world.png'));
    });

    await t.test('Kick closes that player\'s connection with KICK operator; the row and the dot go', async () => {
      const victim = clients[1]!;
      await page.click('#session-table tr[data-player="2"] button');
      const kick = GameClient.kick(await victim.next('KICK'));
      assert.equal(kick.reason, 'operator');
      assert.match(kick.text, /dashboard/);
      await victim.closed;
      await page.waitForSelector('#sessions-result.ok');
      await page.waitForSelector('#session-table tr[data-player="2"]', { state: 'detached' });
      await page.waitForSelector(`#world-map[data-points="${online - 1}"]`);
      // Only that one: the others are still connected and listed.
      for (const c of [clients[0]!, clients[2]!, clients[3]!]) assert.equal(c.socket.destroyed, false);
      assert.equal(await page.$$eval('#session-table tbody tr', (rows) => rows.length), players.length - 1);
    });

    assert.deepEqual(unexpected(errors), []);
  });

  test('storage panel: GET /v1/storage\'s values from the storage topic; Checkpoint now writes the players; without a database, 409 NO_DATABASE', TEST, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gamesrv-browser-storage-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    // SQLite and the journal, the periodic flush an hour away; a token, which Checkpoint now must send.
    const { app, url } = await startServer(t, { token: 'storage-token', engineConfig: { database: 'sqlite', durability: 'journal', dataDir, flushMs: 3_600_000 } });
    const auth = { authorization: 'Bearer storage-token' };
    const events = [1, 2, 3, 4].map((playerId) => ({ type: 'PLAYER_LOGIN', playerId, data: `p${playerId}` }));
    const accepted = await app.inject({ method: 'POST', url: '/v1/events', headers: auth, payload: { events } });
    assert.equal(accepted.statusCode, 202, accepted.body);
    const last = (accepted.json() as { lastSeq: number }).lastSeq;
    await app.engine.flush();
    const status = (await app.inject('/v1/storage')).json() as StorageStatus;

    const { page, errors } = await openPage(t, 1280, 800);
    await page.goto(`${url}${PAGE}#token=storage-token`);

    await t.test('the panel shows the backend, location, checkpoint, flushes and the journal', async () => {
      await page.waitForSelector('#connection[data-status="live"]');
      await page.waitForSelector(`#storage[data-database="sqlite"][data-open="true"] #storage-applied-seq[data-value="${last}"]`);
      const shown = await page.$$eval('#storage [data-value]', (els) => Object.fromEntries(els.map((el) => [el.id, (el as HTMLElement).dataset['value']])));
      const { storage: s, journal: j } = status;
      assert.deepEqual(shown, {
        'storage-location': join(dataDir, 'gamesrv.db'),
        'storage-schema': String(s.schemaVersion),
        'storage-checkpoint-seq': '0',
        'storage-dirty': String(events.length),
        'storage-flushes': String(s.flushes),
        'storage-rows': String(s.rowsFlushed),
        'storage-journal-mode': 'journal',
        'storage-segments': String(j.segments),
        'storage-journal-size': String(j.diskBytes),
        'storage-last-seq': String(last),
        'storage-applied-seq': String(last),
      });
      assert.equal(s.location, join(dataDir, 'gamesrv.db'));
      assert.equal(await page.textContent('#storage-backend'), '(sqlite)');
      assert.equal(await page.textContent('#storage-last-seq'), last.toLocaleString('en-US'));
      await page.$eval('#storage', (el) => el.scrollIntoView());
      await page.screenshot({ path: join(RESULTS, 'dashboard-storage-1280x800.png') });
    });

    await t.test('Checkpoint now writes the changed players with the page\'s token and shows the new checkpoint', async () => {
      await page.click('#storage-checkpoint');
      await page.waitForSelector('#storage-result.ok');
      assert.equal(await page.textContent('#storage-result'), `checkpoint: ${events.length} players written; the store holds every event to #${last}`);
      await page.waitForSelector(`#storage-checkpoint-seq[data-value="${last}"]`);
      await page.waitForSelector('#storage-dirty[data-value="0"]');
      assert.equal(await page.$eval('#storage-rows', (el) => (el as HTMLElement).dataset['value']), String(status.storage.rowsFlushed + events.length));
      assert.equal(app.engine.snapshot().storage.checkpointSeq, last);
      assert.equal(await page.$('#token-dialog[open]'), null, 'never asked for the token');
      assert.ok(await page.isEnabled('#storage-checkpoint'));
    });
    assert.deepEqual(unexpected(errors), []);

    await t.test('without a database the button shows the 409 NO_DATABASE problem', async (st) => {
      const plain = await startServer(st);
      const other = await openPage(st, 1280, 800);
      await other.page.goto(plain.url + PAGE);
      await other.page.waitForSelector('#storage[data-database="simulated"]');
      assert.equal(await other.page.textContent('#storage-backend'), '(simulated: nothing persists)');
      await other.page.click('#storage-checkpoint');
      await other.page.waitForSelector('#storage-result.error[data-code="NO_DATABASE"]');
      assert.match((await other.page.textContent('#storage-result')) ?? '', /^checkpoint refused \(409 NO_DATABASE\): \S/);
      assert.deepEqual(unexpected(other.errors, [409]), []);
    });
  });

  test('with a token: asks for it on 401, retries with Bearer, and unlocks telemetry', TEST, async (t) => {
    const { app, url } = await startServer(t, { token: 'sekret-token' });
    const { page, errors } = await openPage(t, 1280, 800);
    await page.goto(url + PAGE);

    // Telemetry asks first (subscribe needs the token); state frames flow without it.
    await page.waitForSelector('#token-dialog[open]');
    await page.waitForSelector('#engine-state[data-state="running"]');
    await page.click('#token-dialog button[value="cancel"]');
    await page.waitForSelector('#connection[data-status="unauthorized"]');
    assert.equal(await points(page, 'events'), 0);

    // A REST 401 asks again with the problem's detail; a wrong token is refused and asked for again.
    await page.click('button[data-action="pause"]');
    await page.waitForSelector('#token-dialog[open] .token-reason:has-text("Bearer")');
    await page.fill('#token-dialog input[name="token"]', 'wrong');
    await page.click('#token-dialog button[value="ok"]');
    await page.waitForSelector('#token-dialog[open] .token-reason:has-text("refused")');
    assert.equal(app.engine.state, 'running');
    await page.fill('#token-dialog input[name="token"]', 'sekret-token');
    await page.click('#token-dialog button[value="ok"]');
    await page.waitForSelector('#engine-state[data-state="paused"]');
    assert.equal(app.engine.state, 'paused');

    // The token entered for REST authenticates the socket too.
    await page.waitForSelector('#connection[data-status="live"]');
    await page.waitForFunction(() => Number(document.getElementById('chart-events')!.dataset['points']) >= 2);

    // Without a token the page shows the 401 detail when the operator cancels.
    await page.evaluate(() => sessionStorage.clear());
    await page.click('button[data-action="resume"]');
    await page.waitForSelector('#token-dialog[open]');
    await page.click('#token-dialog button[value="cancel"]');
    await page.waitForSelector('#engine-message.error:has-text("refused (401)")');
    assert.equal(app.engine.state, 'paused');

    assert.deepEqual(unexpected(errors, [401]), []);
  });

  test('the URL the server prints: the token comes from the fragment, which is then dropped', TEST, async (t) => {
    const { app, url } = await startServer(t, { token: 'fragment-token' });
    const { page, errors } = await openPage(t, 1280, 800);
    await page.goto(`${url}${PAGE}#token=fragment-token`);
    // Subscribing needs the token: live data means the socket authenticated with it.
    await page.waitForSelector('#connection[data-status="live"]');
    await page.waitForFunction(() => Number(document.getElementById('chart-events')!.dataset['points']) >= 2);
    assert.equal(await page.evaluate(() => location.hash), '');
    assert.ok(!(await page.evaluate(() => location.href)).includes('fragment-token'));
    await page.click('button[data-action="pause"]');
    await page.waitForSelector('#engine-state[data-state="paused"]');
    assert.equal(app.engine.state, 'paused');
    assert.equal(await page.$('#token-dialog[open]'), null, 'never asked for the token');
    assert.deepEqual(unexpected(errors), []);
  });
});
