/**
 * Methods that change nothing: no token, no origin or content-type check, no rate limit.
 * Every other method is a mutating request (docs/API.md "Browsers and other origins").
 */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);
