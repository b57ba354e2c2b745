/**
 * A real icecast2 fed a tone, for tests: `startIcecast` and its types. It
 * lives in src/lab/icecast.ts, where `headend lab` runs it from the build;
 * this is the tests' name for it.
 */
export * from '../../src/lab/icecast.js';
