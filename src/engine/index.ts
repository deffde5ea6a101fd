export {
  Engine,
  cancelLockBenchmarks,
  defaultPipePath,
  defaultLockBenchmarkIterations,
  defaultLockBenchmarkThreads,
  lockKinds,
  encodeEvents,
  EventColumns,
  pipeSend,
  protocolConstants,
  readMonitor,
  readJournal,
  replayJournal,
  verifyJournal,
  runBots,
  runLockBenchmark,
  socketUnackedBytes,
} from './engine.js';
export { EngineError, type EngineErrorCode, type EngineErrorDetails } from './errors.js';
export { addonPath } from './native.js';
export { ticketFormat, verifyTicket } from './tickets.js';
export { bucketsOf } from './snapshot.js';
export * from './types.js';
