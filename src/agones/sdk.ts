// The SDK package seen from TypeScript, and the waits the lifecycle cuts short on close().
import { createRequire } from 'node:module';

export type AgonesSDK = import('@google-cloud/agones-sdk').default;
export type Beta = import('@google-cloud/agones-sdk/src/beta.js').default;
type AgonesSDKClass = typeof import('@google-cloud/agones-sdk').default;
/** Loaded on first use: a server that is not an Agones game server never loads gRPC. */
let sdkClass: AgonesSDKClass | undefined;
// The package is CommonJS (module.exports = the class); its typings say `export default`.
const loadSdk = (): AgonesSDKClass => (sdkClass ??= createRequire(import.meta.url)('@google-cloud/agones-sdk') as AgonesSDKClass);

/** An SDK talking to `port`: the package reads AGONES_SDK_GRPC_PORT in its constructor, which a test cannot set per app. */
export function sdkAt(port: number): AgonesSDK {
  class At extends loadSdk() {
    override get port(): string {
      return String(port);
    }
  }
  return new At();
}

/** The SDK's close() leaves the alpha and beta clients' channels open. */
export function closeSdk(sdk: AgonesSDK): void {
  sdk.close();
  for (const part of [sdk.alpha, (sdk as unknown as { beta: Beta }).beta]) (part as unknown as { client: { close(): void } }).client.close();
}

/** `p`, or a rejection when `signal` aborts first. */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}

/** Waits `ms`, or less when `signal` aborts. */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
