// The REST client: JSON in, JSON or an RFC 9457 problem out (docs/API.md). A 401 asks for
// the token and retries with `Authorization: Bearer`; a wrong token asks again.
import { tokens } from './token.js';

const MAX_TOKEN_TRIES = 3;

/**
 * @typedef {{ ok: true, status: number, data: any }
 *   | { ok: false, status: number, problem: { code?: string, title?: string, detail: string, field?: string, state?: string } }} ApiResult
 */

/**
 * @param {'GET' | 'POST' | 'DELETE'} method
 * @param {string} path relative to the page, e.g. 'v1/engine/pause'
 * @param {unknown} [body]
 * @returns {Promise<ApiResult>}
 */
export async function api(method, path, body) {
  for (let tries = 0; ; tries += 1) {
    const token = tokens.current;
    const result = await send(method, path, body, token);
    if (result.ok || result.status !== 401 || tries >= MAX_TOKEN_TRIES) return result;
    if (token !== null && tokens.current === token) tokens.clear();
    const again = token !== null ? 'That token was refused. ' : '';
    const entered = await tokens.ask(`${again}${method} /${path}: ${result.problem.detail}`);
    if (entered === null) return result;
  }
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} body
 * @param {string | null} token
 * @returns {Promise<ApiResult>}
 */
async function send(method, path, body, token) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json, application/problem+json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    return { ok: false, status: 0, problem: { code: 'NETWORK', detail: `the server did not answer (${/** @type {Error} */ (err).message})` } };
  }
  const text = await response.text();
  let data;
  try {
    data = text === '' ? null : JSON.parse(text);
  } catch {
    data = null;
  }
  if (response.ok) return { ok: true, status: response.status, data };
  const problem = data !== null && typeof data === 'object' && typeof data.detail === 'string'
    ? data
    : { detail: `${response.status} ${response.statusText}` };
  return { ok: false, status: response.status, problem };
}

/**
 * Runs `task` from an event handler or a timer, where nobody awaits it: a failure (the
 * connection dropping while a body is read, a dialog that cannot open) goes to `report`
 * as one line instead of becoming an unhandled rejection.
 * @param {Promise<unknown>} task
 * @param {(message: string) => void} report
 */
export function settle(task, report) {
  task.catch((/** @type {unknown} */ err) => report(err instanceof Error ? err.message : String(err)));
}

/**
 * A problem as one line for people: its detail, and where the input was wrong.
 * @param {{ detail: string, field?: string }} problem
 */
export function describeProblem(problem) {
  return problem.field ? `${problem.detail} (${problem.field})` : problem.detail;
}
