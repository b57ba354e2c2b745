/**
 * Messages we encode, read back by an independent decoder: tshark. Each is
 * framed as a real sender would (IPv4 TTL 1 + Router Alert; IPv6 hop limit 1
 * + hop-by-hop Router Alert, PROTOCOLS.md "Framing when sending"), written to
 * a raw-IP pcap, and must come out of tshark with the values we meant, a
 * good checksum and no malformed or warning expert info.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addrToBuffer, parseAddr, type AddrKey } from '../../src/membership/addr.js';
import { encodeIgmp, encodeMld } from '../../src/membership/codec.js';
import { RecordType } from '../../src/membership/types.js';

const a = parseAddr;
const hasTshark = (() => {
  try { execFileSync('tshark', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
})();

function ones(buf: Buffer): number {
  let s = 0;
  for (let i = 0; i < buf.length; i += 2) s += buf.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** IPv4 header with the Router Alert option (RFC 2113), TTL 1, TOS 0xc0. */
function ipv4(from: AddrKey, to: AddrKey, payload: Buffer): Buffer {
  const h = Buffer.alloc(24);
  h[0] = 0x46;
  h[1] = 0xc0;
  h.writeUInt16BE(24 + payload.length, 2);
  h[8] = 1;
  h[9] = 2;
  addrToBuffer(from).copy(h, 12);
  addrToBuffer(to).copy(h, 16);
  h.writeUInt32BE(0x94040000, 20);
  h.writeUInt16BE(ones(h), 10);
  return Buffer.concat([h, payload]);
}

/** IPv6 header + hop-by-hop Router Alert (value 0 = MLD, RFC 2711) + PadN, hop limit 1. */
function ipv6(from: AddrKey, to: AddrKey, payload: Buffer): Buffer {
  const h = Buffer.alloc(48);
  h[0] = 0x60;
  h.writeUInt16BE(8 + payload.length, 4);
  h[6] = 0; // hop-by-hop
  h[7] = 1;
  addrToBuffer(from).copy(h, 8);
  addrToBuffer(to).copy(h, 24);
  Buffer.from([58, 0, 5, 2, 0, 0, 1, 0]).copy(h, 40);
  return Buffer.concat([h, payload]);
}

/** libpcap file, LINKTYPE_RAW (101): each packet starts at its IP header. */
function pcap(packets: Buffer[]): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(65535, 16);
  head.writeUInt32LE(101, 20);
  return Buffer.concat([head, ...packets.flatMap((p) => {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(p.length, 8);
    r.writeUInt32LE(p.length, 12);
    return [r, p];
  })]);
}

function tshark(file: string, args: string[]): string {
  return execFileSync('tshark', ['-r', file, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

test('tshark decodes our IGMPv3/MLDv2 queries and reports without complaint', { skip: !hasTshark && 'tshark not installed' }, () => {
  const querier4 = a('10.9.0.1');
  const querierLL = a('fe80::1');
  const ssm6 = a('ff3e:40:2001:db8:1:0:8000:1');
  const packets = [
    // 25.6 s needs the float form (code 0x90); QQIC 200 s too (code 0x89).
    ipv4(querier4, a('232.1.1.1'), encodeIgmp({
      kind: 'query', proto: 'igmp', version: 3, maxRespMs: 25_600, group: a('232.1.1.1'), suppress: true, qrv: 2, qqicS: 200,
      sources: [a('10.0.0.1'), a('10.0.0.2')],
    })),
    // 40 s needs the 16-bit float form.
    ipv6(querierLL, ssm6, encodeMld({
      kind: 'query', proto: 'mld', version: 2, maxRespMs: 40_000, group: ssm6, suppress: false, qrv: 3, qqicS: 200,
      sources: [a('2001:db8::1'), a('2001:db8::2')],
    }, querierLL, ssm6)),
    ipv4(a('10.9.0.2'), a('224.0.0.22'), encodeIgmp({
      kind: 'report', proto: 'igmp', version: 3, records: [
        { type: RecordType.ALLOW_NEW_SOURCES, group: a('232.1.1.1'), sources: [a('10.0.0.1')], auxWords: 0 },
        { type: RecordType.CHANGE_TO_EXCLUDE_MODE, group: a('239.1.1.1'), sources: [], auxWords: 0 },
      ],
    })),
    ipv6(a('fe80::2'), a('ff02::16'), encodeMld({
      kind: 'report', proto: 'mld', version: 2, records: [
        { type: RecordType.BLOCK_OLD_SOURCES, group: ssm6, sources: [a('2001:db8::1')], auxWords: 0 },
        { type: RecordType.CHANGE_TO_INCLUDE_MODE, group: a('ff0e::1:1'), sources: [], auxWords: 0 },
      ],
    }, a('fe80::2'), a('ff02::16'))),
  ];
  const dir = mkdtempSync(join(tmpdir(), 'codec-tshark-'));
  try {
    const file = join(dir, 'encoded.pcap');
    writeFileSync(file, pcap(packets));
    const complaints = tshark(file, ['-Y', '_ws.malformed || _ws.expert.severity >= "warning"']);
    assert.equal(complaints.trim(), '', `tshark complains:\n${complaints}`);
    const fields = [
      'igmp.version', 'igmp.max_resp', 'igmp.s', 'igmp.qrv', 'igmp.qqic', 'igmp.saddr', 'igmp.checksum.status', 'igmp.record_type', 'igmp.maddr',
      'icmpv6.type', 'icmpv6.checksum.status', 'icmpv6.mld.maximum_response_code', 'icmpv6.mld.flag.qrv', 'icmpv6.mld.qqi',
      'icmpv6.mld.source_address', 'icmpv6.mldr.mar.record_type', 'icmpv6.mldr.mar.multicast_address',
    ];
    const rows = tshark(file, ['-T', 'fields', '-E', 'separator=|', '-E', 'aggregator=,', ...fields.flatMap((f) => ['-e', f])])
      .trim().split('\n').map((line) => Object.fromEntries(line.split('|').map((v, i) => [fields[i], v])));
    assert.equal(rows.length, 4);
    const [q4, q6, r4, r6] = rows;
    // igmp.max_resp is decoded, in tenths of a second; igmp.qqic is the raw code (0x89 = 137 means
    // (9 | 0x10) << 3 = 200 s), while icmpv6.mld.qqi is decoded. Checksum status 1 = Good.
    assert.deepEqual(
      [q4['igmp.version'], q4['igmp.max_resp'], q4['igmp.s'], q4['igmp.qrv'], q4['igmp.qqic'], q4['igmp.saddr'], q4['igmp.checksum.status']],
      ['3', '256', '1', '2', '137', '10.0.0.1,10.0.0.2', '1'],
    );
    assert.deepEqual(
      [q6['icmpv6.type'], q6['icmpv6.checksum.status'], q6['icmpv6.mld.maximum_response_code'], q6['icmpv6.mld.flag.qrv'], q6['icmpv6.mld.qqi'], q6['icmpv6.mld.source_address']],
      ['130', '1', '40000', '3', '200', '2001:db8::1,2001:db8::2'],
    );
    assert.deepEqual([r4['igmp.checksum.status'], r4['igmp.record_type'], r4['igmp.maddr']], ['1', '5,4', '232.1.1.1,239.1.1.1']);
    assert.deepEqual(
      [r6['icmpv6.type'], r6['icmpv6.checksum.status'], r6['icmpv6.mldr.mar.record_type'], r6['icmpv6.mldr.mar.multicast_address']],
      ['143', '1', '6,3', 'ff3e:40:2001:db8:1:0:8000:1,ff0e::1:1'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
