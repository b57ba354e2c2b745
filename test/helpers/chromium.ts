/**
 * Debian's Chromium (scripts/setup installs it), headless, driven by
 * playwright-core, which downloads no browser of its own. Each launch gets a
 * fresh profile directory; inside a namespace, the executable is a two-line
 * wrapper around `ip netns exec`, so the browser reaches what listens on that
 * namespace's loopback while playwright talks to it over the inherited pipe.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Why a browser test cannot run here, or false. */
export const noChromium: string | false = existsSync(CHROMIUM) ? false : `needs ${CHROMIUM} (scripts/setup installs it)`;

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Browser {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Closes the browser (the process ends) and removes its profile. Safe to call twice. */
  close(): Promise<void>;
}

export async function launchChromium(opts: { netns?: string; width?: number; height?: number } = {}): Promise<Browser> {
  const dir = await mkdtemp(join(tmpdir(), 'headend-chromium-'));
  let executablePath = CHROMIUM;
  if (opts.netns) {
    executablePath = join(dir, 'chromium-in-netns');
    await writeFile(executablePath, `#!/bin/sh\nexec ip netns exec ${opts.netns} ${CHROMIUM} "$@"\n`);
    await chmod(executablePath, 0o755);
  }
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath,
      headless: true,
      viewport: { width: opts.width ?? 1400, height: opts.height ?? 1000 },
      args: ARGS,
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  let closing: Promise<void> | undefined;
  return {
    context,
    page,
    close: () => {
      closing ??= (async () => {
        await context.close();
        await rm(dir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}
