import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { DvblastctlError, DvblastctlRunner, parseSdtXml } from '../../../src/ingest/dvb/ctl.js';
import { parseStatusLine } from '../../../src/ingest/dvb/process.js';

const fixture = (name: string): string => readFileSync(new URL(`../../../fixtures/dvb/${name}`, import.meta.url), 'utf8');

test('get_sdt: service names and providers from the service descriptors (captured from dvblast 3.4)', () => {
  assert.deepEqual(parseSdtXml(fixture('get_sdt.xml')), [
    { serviceId: 1001, name: 'Alpha', provider: 'FFmpeg', type: 1, running: 4, scrambled: false },
    { serviceId: 1002, name: 'Beta', provider: 'FFmpeg', type: 1, running: 4, scrambled: false },
  ]);
});

test('get_sdt: dvblast\'s "No data" and junk are errors, a service without a descriptor has empty names', () => {
  assert.throws(() => parseSdtXml(fixture('get_sdt-nodata.xml')), /No data/);
  assert.throws(() => parseSdtXml('hello'), /get_sdt/);
  assert.deepEqual(parseSdtXml('<SDT><SERVICE sid="5"/><SERVICE/></SDT>'), [{ serviceId: 5, name: '', provider: '' }]);
});

test('dvblast -x xml events: lock and bitrate lines are read, the rest ignored', () => {
  const events = fixture('dvblast-stdout.xml').split('\n').map(parseStatusLine).filter((e) => e !== null);
  assert.deepEqual(events, [
    { type: 'lock', status: '1' },
    { type: 'bitrate', status: '1', value: 586560 },
    { type: 'bitrate', status: '0', value: 0 },
    { type: 'lock', status: '0' },
  ]);
});

const hasDvblastctl = ((): boolean => { try { execFileSync('dvblastctl', ['-h'], { stdio: 'ignore' }); return true; } catch (e) { return (e as { status?: number }).status !== undefined; } })();

test('dvblastctl with no dvblast behind the socket: an error naming command, socket and dvblastctl\'s reason', { skip: !hasDvblastctl && 'dvblastctl not installed' }, async () => {
  const ctl = new DvblastctlRunner({ command: 'dvblastctl', timeoutMs: 2000 });
  await assert.rejects(ctl.reload('/nonexistent/headend-test.sock'), (e: unknown) =>
    e instanceof DvblastctlError && e.command === 'reload' && /\[socket:\/nonexistent\/headend-test\.sock\]: Cannot send comm socket/.test(e.message));
  await assert.rejects(ctl.sdt('/nonexistent/headend-test.sock'), /dvblastctl get_sdt .*Cannot send comm socket/);
});
