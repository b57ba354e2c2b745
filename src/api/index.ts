/** The api room: `buildApi` / `listenApi` (server.ts) and the M3U / SDP exports (export.ts). */
export * from './server.js';
export * from './export.js';
export { describeRef } from './plan-lookup.js';
