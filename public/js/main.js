// The gamesrv operations dashboard: wires the panels to one telemetry connection.
// URL parameters: ?interval=<ms> (telemetry period, 50..60000, default 1000) and
// ?minutes=<n> (chart window, 1..60, default 5).
import { TelemetryClient } from './lib/telemetry.js';
import { CHART_TOPICS, chartsPanel } from './panels/charts.js';
import { connectionPanel } from './panels/connection.js';
import { enginePanel } from './panels/engine.js';
import { injectorPanel } from './panels/injector.js';
import { sessionsPanel } from './panels/sessions.js';
import { storagePanel } from './panels/storage.js';
import { tasksPanel } from './panels/tasks.js';
import { threadsPanel } from './panels/threads.js';
import { worldPanel } from './panels/world.js';

const params = new URLSearchParams(location.search);
/** @param {string} name @param {number} min @param {number} max @param {number} fallback */
const intParam = (name, min, max, fallback) => {
  const v = Number(params.get(name));
  return Number.isInteger(v) && v >= min && v <= max ? v : fallback;
};

const intervalMs = intParam('interval', 50, 60_000, 1000);
const windowSec = intParam('minutes', 1, 60, 5) * 60;
const byId = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

const telemetry = new TelemetryClient({ topics: ['workers', 'sessions', 'storage', 'world', ...CHART_TOPICS], intervalMs });
connectionPanel(byId('connection'), telemetry);
enginePanel(byId('engine'), telemetry);
chartsPanel(byId('charts'), telemetry, { windowSec });
threadsPanel(byId('threads'), telemetry);
worldPanel(byId('world'), telemetry);
sessionsPanel(byId('sessions'), telemetry);
storagePanel(byId('storage'), telemetry);
injectorPanel(byId('inject'));
tasksPanel(byId('tasks'));
telemetry.start();
