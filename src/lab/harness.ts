/**
 * The namespace harness and the icecast2 source the lab runs on are the very
 * ones the end-to-end tests use (test/helpers/netns.ts, icecast.ts): one
 * implementation, tested by the suite. They are TypeScript outside src/, so
 * from the build (dist/) they are loaded through tsx's loader, registered on
 * demand. `headend lab` therefore needs the source checkout, which is where
 * the README's set-up leaves it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT, type LabLike } from './parts.js';
import type { StartIcecast } from './run.js';

export interface Harness {
  newLab(): LabLike;
  canUseNetns(): boolean;
  startIcecast: StartIcecast;
}

export async function loadHarness(): Promise<Harness> {
  const netnsTs = join(REPO_ROOT, 'test', 'helpers', 'netns.ts');
  const icecastTs = join(REPO_ROOT, 'test', 'helpers', 'icecast.ts');
  if (!existsSync(netnsTs) || !existsSync(icecastTs)) {
    throw new Error(`headend lab needs the source checkout: ${netnsTs} not found`);
  }
  if (!import.meta.url.endsWith('.ts')) {
    const { register } = await import('tsx/esm/api');
    register();
  }
  const netns = (await import(pathToFileURL(netnsTs).href)) as { Lab: new () => LabLike; canUseNetns: () => boolean };
  const icecast = (await import(pathToFileURL(icecastTs).href)) as { startIcecast: StartIcecast };
  return { newLab: () => new netns.Lab(), canUseNetns: netns.canUseNetns, startIcecast: icecast.startIcecast };
}
