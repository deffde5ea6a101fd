// What a web page must not do to this server (docs/API.md "Browsers and other origins"):
//
// - Host: only a loopback name or address, the listen address, or one of --allowed-hosts.
//   Anything else is refused (403 FORBIDDEN_HOST) on every route: a page that rebinds its
//   own DNS name to 127.0.0.1 reaches us with its name in Host, never ours. (No Host at
//   all is accepted: browsers always send one.)
// - Origin: a state-changing request (any method but GET/HEAD/OPTIONS) or a WebSocket
//   upgrade that a browser marks as coming from another origin (an Origin header that is
//   not this server's own, or Sec-Fetch-Site other than same-origin/none) is refused
//   (403 FORBIDDEN_ORIGIN). curl and other non-browser clients send neither header.
// - Content type: a state-changing request carries JSON or nothing. `text/plain`, form
//   types and the rest are 415: those are the bodies a page may send cross-site without a
//   CORS preflight. A request with no body and no content type (curl -X POST) is fine.
//
// Runs first among the onRequest hooks, before the rate limit and the token check.
import { networkInterfaces } from 'node:os';

import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

import { isLoopback } from '../config.js';
import { SAFE_METHODS } from '../methods.js';
import { HttpProblem } from '../problems.js';
import { problems } from '../schemas/common.js';

export interface OriginGuardOptions {
  /** The address the server listens on: always allowed as a Host. */
  listenHost?: string | undefined;
  /** More Host names or addresses to accept (a DNS name the server is reached by). */
  allowedHosts?: readonly string[] | undefined;
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

/** The host part of a Host header or URL authority, lower case, brackets kept off IPv6. */
export function hostnameOf(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith('[')) {
    const end = a.indexOf(']');
    return end === -1 ? a : a.slice(1, end);
  }
  const colon = a.indexOf(':');
  // More than one colon without brackets: a bare IPv6 address, no port.
  if (colon !== -1 && a.indexOf(':', colon + 1) === -1) return a.slice(0, colon);
  return a;
}

/** The Host names this server answers to, beside loopback ones. */
export function allowedHostSet(opts: OriginGuardOptions): Set<string> {
  const set = new Set<string>();
  for (const h of opts.allowedHosts ?? []) if (h.trim() !== '') set.add(hostnameOf(h));
  const listen = opts.listenHost;
  if (listen !== undefined && listen !== '') {
    if (WILDCARD_HOSTS.has(listen)) {
      // Listening everywhere: the machine's own addresses are its names.
      for (const addrs of Object.values(networkInterfaces())) for (const a of addrs ?? []) set.add(a.address.toLowerCase());
    } else {
      set.add(hostnameOf(listen));
    }
  }
  return set;
}

const MAX_REMEMBERED_HOSTS = 64;

function isJson(contentType: string): boolean {
  if (contentType === 'application/json') return true;
  const media = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return media === 'application/json' || (media.startsWith('application/') && media.endsWith('+json'));
}

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  const length = headers['content-length'];
  if (length !== undefined && length !== '0') return true;
  return headers['transfer-encoding'] !== undefined;
}

/**
 * Answers a refused request. Not a closure made per request: the hook runs on every one.
 * A refused upgrade is answered on the raw socket, which no HTTP server tracks and
 * @fastify/websocket only ends for requests its own later hook has seen: end it here.
 */
function refuse(request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void, upgrade: boolean, problem: HttpProblem): void {
  if (upgrade) reply.raw.once('finish', () => request.raw.socket?.destroy());
  done(problem);
}

export default fp<OriginGuardOptions>(
  async (app, opts) => {
    // The document says what this guard answers: 403 on every operation, 415 on mutating ones.
    app.addHook('onRoute', (route) => {
      if (route.schema?.hide) return;
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const mutating = !methods.every((m) => SAFE_METHODS.has(m));
      route.schema = { ...route.schema, response: { ...problems(403, ...(mutating ? [415] : [])), ...(route.schema?.response as object) } };
    });
    const allowed = allowedHostSet(opts);
    // The verdict per Host header as sent: a client sends the same one on every request.
    // Bounded: past MAX_REMEMBERED_HOSTS distinct values, the rest are judged each time.
    const verdicts = new Map<string, boolean>();
    const hostAllowed = (header: string): boolean => {
      let verdict = verdicts.get(header);
      if (verdict === undefined) {
        const host = hostnameOf(header);
        verdict = isLoopback(host) || allowed.has(host);
        if (verdicts.size < MAX_REMEMBERED_HOSTS) verdicts.set(header, verdict);
      }
      return verdict;
    };

    // A callback hook, not an async one: it runs on every request, and a promise per
    // request is measurable (bench/http.bench.ts).
    app.addHook('onRequest', (request, reply, done) => {
      const headers = request.headers;
      const host = headers.host;
      const upgrade = headers.upgrade !== undefined && headers.upgrade.toLowerCase() === 'websocket';
      // No Host at all only comes from non-browser clients (HTTP/1.0, in-process
      // injection): browsers always send one, so it cannot carry a rebinding attack.
      if (host !== undefined && !hostAllowed(host)) {
        return refuse(request, reply, done, upgrade, new HttpProblem(
          403,
          'Forbidden host',
          `Host ${JSON.stringify(host)} is not this server's: use a loopback address or one listed in --allowed-hosts`,
          { code: 'FORBIDDEN_HOST' },
        ));
      }
      if (SAFE_METHODS.has(request.method) && !upgrade) return done();

      const site = headers['sec-fetch-site'];
      const origin = headers.origin;
      if ((site !== undefined && site !== 'same-origin' && site !== 'none') || (origin !== undefined && (host === undefined || origin.toLowerCase() !== `http://${host.toLowerCase()}`))) {
        return refuse(request, reply, done, upgrade, new HttpProblem(
          403,
          'Forbidden origin',
          `a request from ${origin ?? `a ${String(site)} page`} may not ${upgrade ? 'open this WebSocket' : 'change this server'}; ` +
            'only pages this server serves, and non-browser clients, may',
          { code: 'FORBIDDEN_ORIGIN' },
        ));
      }
      if (upgrade) return done();
      const type = headers['content-type'];
      if (type === undefined ? hasBody(headers) : !isJson(type)) {
        return done(new HttpProblem(
          415,
          'Unsupported media type',
          `send application/json (or no body at all), not ${type === undefined ? 'a body without a content type' : JSON.stringify(type)}`,
          { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' },
        ));
      }
      done();
    });
  },
  { name: 'gamesrv-origin-guard' },
);
