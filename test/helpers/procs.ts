/**
 * Looking at real processes from tests: alive (not a zombie), members of a
 * process group, and polling for a condition with a deadline instead of
 * sleeping.
 */
import { readdirSync } from 'node:fs';
import { procStat } from '../../src/ingest/supervisor.js';

/** True while `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const st = procStat(pid);
  return st !== null && st.state !== 'Z';
}

/** Live processes in process group `pgid`. */
export function groupMembers(pgid: number): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number)
    .filter((p) => procStat(p)?.pgrp === pgid && isAlive(p));
}

/** Polls `pred` every 10 ms; rejects naming `what` after `timeoutMs`. */
export async function waitFor(what: string, pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
