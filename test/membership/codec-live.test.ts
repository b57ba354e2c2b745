/**
 * The codec against this machine's kernel, live: a host in a namespace joins
 * through test/helpers/joiner.ts, tcpdump records what its kernel sends, and
 * the codec must decode it (the MLD checksum over the captured addresses).
 * The frozen fixtures cover many kinds; this guards against kernel drift and
 * keeps the joiner and the capture script working. Needs root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Lab, canUseNetns } from '../helpers/netns.js';
import { startJoiner } from '../helpers/joiner.js';
import { capture, removeCaptures, addrBytes, type CapturedPacket } from '../../scripts/capture-membership-fixtures.js';
import { parseAddr } from '../../src/membership/addr.js';
import { decodeMembership, encodeIgmp, encodeMld, messageToJson } from '../../src/membership/codec.js';

const hasTcpdump = (() => {
  try { execFileSync('tcpdump', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
})();
const skip = !canUseNetns() ? 'needs root and iproute2' : !hasTcpdump ? 'needs tcpdump' : false;

function decodeCaptured(p: CapturedPacket) {
  const from = parseAddr(p.from);
  const to = parseAddr(p.to);
  const msg = decodeMembership(p.proto, p.payload, from, to);
  const again = p.proto === 'igmp' ? encodeIgmp(msg) : encodeMld(msg, from, to);
  assert.equal(again.toString('hex'), p.payload.toString('hex'), 'encode(decode(bytes)) = bytes');
  return messageToJson(msg);
}

test('source-specific joins and leaves from a live Linux host decode as ALLOW / BLOCK', { skip }, async () => {
  const lab = new Lab();
  try {
    const host = await lab.netns('host');
    const peer = await lab.netns('peer');
    await lab.veth(host, 'eth0', peer, 'eth0');
    await host.exec('ip', ['addr', 'add', '10.9.0.2/24', 'dev', 'eth0']);
    const joiner = await startJoiner(host);
    const group4 = '232.1.2.3', source4 = '10.9.0.1';
    const group6 = 'ff3e:40:2001:db8:1:0:8000:7', source6 = '2001:db8:1::1';
    const record = (proto: 'igmp' | 'mld', type: number, group: string) => (p: CapturedPacket) =>
      p.proto === proto && p.payload[0] === (proto === 'igmp' ? 0x22 : 143) && p.payload[8] === type && p.payload.includes(addrBytes(group));

    const join4 = decodeCaptured(await capture(host, 'eth0', 'IGMPv3 ALLOW', () => joiner.join(group4, 'eth0', source4), record('igmp', 5, group4)));
    assert.deepEqual(join4.records, [{ type: 'ALLOW_NEW_SOURCES', typeNumber: 5, group: group4, sources: [source4], auxWords: 0 }]);
    const leave4 = decodeCaptured(await capture(host, 'eth0', 'IGMPv3 BLOCK', () => joiner.leave(group4, 'eth0', source4), record('igmp', 6, group4)));
    assert.deepEqual(leave4.records, [{ type: 'BLOCK_OLD_SOURCES', typeNumber: 6, group: group4, sources: [source4], auxWords: 0 }]);

    const join6 = decodeCaptured(await capture(host, 'eth0', 'MLDv2 ALLOW', () => joiner.join(group6, 'eth0', source6), record('mld', 5, group6)));
    assert.deepEqual(join6.records, [{ type: 'ALLOW_NEW_SOURCES', typeNumber: 5, group: group6, sources: [source6], auxWords: 0 }]);
    const asm6 = decodeCaptured(await capture(host, 'eth0', 'MLDv2 TO_EX', () => joiner.join('ff0e::4:5', 'eth0'), record('mld', 4, 'ff0e::4:5')));
    assert.deepEqual(asm6.records, [{ type: 'CHANGE_TO_EXCLUDE_MODE', typeNumber: 4, group: 'ff0e::4:5', sources: [], auxWords: 0 }]);

    // The joiner answers bad commands with an error line and keeps serving.
    await assert.rejects(joiner.join('239.1.1.1', 'nosuch0'), /^Error: joiner: error join 239\.1\.1\.1 nosuch0: /);
    await assert.rejects(joiner.command('wave 239.1.1.1 eth0'), /unknown command "wave"/);
    await assert.rejects(joiner.join('ff0e::1', 'eth0', '10.0.0.1'), /not of the group's family/);
    assert.match(await joiner.leave(group6, 'eth0', source6), /^ok leave /);
    await joiner.close();
    assert.equal(joiner.child.exitCode, 0);
  } finally {
    await lab.close();
    removeCaptures();
  }
});
