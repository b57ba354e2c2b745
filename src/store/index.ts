/**
 * The store room's entry point: `openStore(path, { logger, plan })` and the
 * record types (Channel, DvbTuning, HistoryEntry ...). See store.ts.
 */
export * from './store.js';
export { openStoreFromConfig } from './from-config.js';
