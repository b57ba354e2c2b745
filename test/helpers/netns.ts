/**
 * Network namespaces for end-to-end tests: `Lab`, `Netns`, `waitLinkLocal`,
 * `canUseNetns`. The harness lives in src/lab/netns.ts, where `headend lab`
 * runs it from the build; this is the tests' name for it. Namespaces left by
 * a failing test are still removed when the test process exits.
 */
export * from '../../src/lab/netns.js';
