import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddr, IPV4_ANY, IPV6_ANY } from '../../src/membership/addr.js';
import {
  CodecError,
  decodeIgmp,
  decodeMaxRespCode,
  decodeMembership,
  decodeMld,
  encodeIgmp,
  encodeMaxRespCode,
  encodeMld,
  maxFloatCodeValue,
  messageToJson,
  protoOfType,
  type FloatCodeKind,
} from '../../src/membership/codec.js';
import { RecordType, type MembershipMessage } from '../../src/membership/types.js';

const a = parseAddr;
const hex = (s: string) => Buffer.from(s.replace(/[\s:]/g, ''), 'hex');
const LL = a('fe80::1');
const MLDV2_ALL = a('ff02::16');

function codecError(fn: () => unknown): CodecError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CodecError, `expected CodecError, got ${(err as Error)?.stack ?? err}`);
    return err;
  }
  assert.fail('expected a CodecError, nothing was thrown');
}

const igmpMessages: MembershipMessage[] = [
  { kind: 'query', proto: 'igmp', version: 1, maxRespMs: 0, group: IPV4_ANY, suppress: false, qrv: 0, qqicS: 0, sources: [] },
  { kind: 'query', proto: 'igmp', version: 2, maxRespMs: 10_000, group: IPV4_ANY, suppress: false, qrv: 0, qqicS: 0, sources: [] },
  { kind: 'query', proto: 'igmp', version: 2, maxRespMs: 1_000, group: a('239.1.2.3'), suppress: false, qrv: 0, qqicS: 0, sources: [] },
  { kind: 'query', proto: 'igmp', version: 3, maxRespMs: 10_000, group: IPV4_ANY, suppress: false, qrv: 2, qqicS: 125, sources: [] },
  {
    kind: 'query', proto: 'igmp', version: 3, maxRespMs: 3_174_400, group: a('232.1.1.1'), suppress: true, qrv: 7, qqicS: 31744,
    sources: [a('10.0.0.1'), a('10.0.0.2')],
  },
  {
    kind: 'report', proto: 'igmp', version: 3,
    records: [
      { type: RecordType.ALLOW_NEW_SOURCES, group: a('232.1.1.1'), sources: [a('10.0.0.1')], auxWords: 0 },
      { type: RecordType.CHANGE_TO_EXCLUDE_MODE, group: a('239.1.1.1'), sources: [], auxWords: 0 },
      { type: RecordType.MODE_IS_INCLUDE, group: a('239.1.1.2'), sources: [a('10.0.0.3'), a('10.0.0.4')], auxWords: 2 },
    ],
  },
  { kind: 'report', proto: 'igmp', version: 3, records: [] },
  { kind: 'legacy-report', proto: 'igmp', version: 1, group: a('224.1.1.1'), maxRespCode: 0 },
  { kind: 'legacy-report', proto: 'igmp', version: 2, group: a('239.255.255.250'), maxRespCode: 0 },
  { kind: 'legacy-leave', proto: 'igmp', version: 2, group: a('239.255.255.250') },
];

const mldMessages: MembershipMessage[] = [
  { kind: 'query', proto: 'mld', version: 1, maxRespMs: 10_000, group: IPV6_ANY, suppress: false, qrv: 0, qqicS: 0, sources: [] },
  { kind: 'query', proto: 'mld', version: 2, maxRespMs: 10_000, group: IPV6_ANY, suppress: false, qrv: 2, qqicS: 125, sources: [] },
  {
    kind: 'query', proto: 'mld', version: 2, maxRespMs: 8_387_584, group: a('ff3e:40:2001:db8:1:0:8000:1'), suppress: true, qrv: 3, qqicS: 136,
    sources: [a('2001:db8::1'), a('2001:db8::2')],
  },
  {
    kind: 'report', proto: 'mld', version: 2,
    records: [
      { type: RecordType.ALLOW_NEW_SOURCES, group: a('ff3e:40:2001:db8:1:0:8000:1'), sources: [a('2001:db8::1')], auxWords: 0 },
      { type: RecordType.BLOCK_OLD_SOURCES, group: a('ff3e:40:2001:db8:1:0:8000:2'), sources: [a('2001:db8::1'), a('2001:db8::2')], auxWords: 1 },
      { type: RecordType.CHANGE_TO_INCLUDE_MODE, group: a('ff0e::1234'), sources: [], auxWords: 0 },
    ],
  },
  { kind: 'legacy-report', proto: 'mld', version: 1, group: a('ff0e::1234'), maxRespCode: 0 },
  { kind: 'legacy-leave', proto: 'mld', version: 1, group: a('ff0e::1234') },
];

test('a classic IGMPv2 report (checksum 0xfa04) decodes and re-encodes byte for byte', () => {
  const bytes = hex('16 00 fa 04 ef ff ff fa');
  const msg = decodeIgmp(bytes);
  assert.deepEqual(msg, { kind: 'legacy-report', proto: 'igmp', version: 2, group: a('239.255.255.250'), maxRespCode: 0 });
  assert.deepEqual(encodeIgmp(msg), bytes);
});

test('decode(encode(x)) deep-equals x for every IGMP message kind', () => {
  for (const msg of igmpMessages) {
    const bytes = encodeIgmp(msg);
    assert.deepEqual(decodeIgmp(bytes), msg, messageToJson(msg).kind as string);
    assert.deepEqual(decodeMembership('igmp', bytes), msg);
    assert.deepEqual(encodeIgmp(decodeIgmp(bytes)), bytes);
  }
});

test('decode(encode(x)) deep-equals x for every MLD message kind, checksum over the pseudo-header', () => {
  for (const msg of mldMessages) {
    const bytes = encodeMld(msg, LL, MLDV2_ALL);
    assert.deepEqual(decodeMld(bytes, LL, MLDV2_ALL), msg);
    assert.deepEqual(decodeMld(bytes), msg, 'without addresses the checksum is not checked');
    assert.deepEqual(decodeMembership('mld', bytes, LL, MLDV2_ALL), msg);
    assert.deepEqual(encodeMld(decodeMld(bytes), LL, MLDV2_ALL), bytes);
    const e = codecError(() => decodeMld(bytes, LL, a('ff02::2')));
    assert.equal(e.reason, 'bad checksum');
    assert.equal(e.field, 'checksum');
    assert.equal(e.offset, 2);
  }
});

test('IGMP query version follows the length and max resp code (RFC 9776 §7.1)', () => {
  const v1 = encodeIgmp(igmpMessages[0]);
  assert.equal(v1.length, 8);
  assert.equal(v1[1], 0);
  const v2 = encodeIgmp(igmpMessages[1]);
  assert.equal(v2[1], 100, 'IGMPv2 max resp time is literal tenths of a second');
  const v3 = encodeIgmp(igmpMessages[3]);
  assert.equal(v3.length, 12);
  assert.deepEqual([v3[1], v3[8], v3[9]], [100, 2, 125]);
  for (const len of [9, 10, 11]) {
    const bytes = Buffer.concat([v3.subarray(0, len)]);
    const e = codecError(() => decodeIgmp(bytes));
    assert.equal(e.reason, 'bad length');
  }
  for (const len of [25, 26, 27]) {
    const bytes = encodeMld(mldMessages[1], LL, MLDV2_ALL).subarray(0, len);
    assert.equal(codecError(() => decodeMld(bytes)).reason, 'bad length');
  }
});

test('every truncation of a report is a CodecError naming field and offset', () => {
  const cases: Array<[string, Buffer, (b: Buffer) => unknown]> = [
    ['igmp', encodeIgmp(igmpMessages[5]), (b) => decodeIgmp(b)],
    ['mld', encodeMld(mldMessages[3], LL, MLDV2_ALL), (b) => decodeMld(b, LL, MLDV2_ALL)],
  ];
  for (const [name, full, decode] of cases) {
    for (let len = 0; len < full.length; len++) {
      const e = codecError(() => decode(full.subarray(0, len)));
      assert.equal(e.reason, 'truncated', `${name} cut to ${len}: ${e.message}`);
      assert.ok(e.offset <= len, `${name} cut to ${len}: offset ${e.offset}`);
      assert.match(e.message, /^truncated at offset \d+: .+ needs \d+ bytes, \d+ left$/);
      assert.ok(e.field.length > 0);
    }
  }
});

test('every truncation of every message kind fails with a CodecError, never a TypeError', () => {
  const all: Array<[Buffer, (b: Buffer) => unknown]> = [
    ...igmpMessages.map((m): [Buffer, (b: Buffer) => unknown] => [encodeIgmp(m), decodeIgmp]),
    ...mldMessages.map((m): [Buffer, (b: Buffer) => unknown] => [encodeMld(m, LL, MLDV2_ALL), (b) => decodeMld(b, LL, MLDV2_ALL)]),
  ];
  for (const [full, decode] of all) {
    for (let len = 0; len < full.length; len++) codecError(() => decode(full.subarray(0, len)));
  }
});

test('the field a short message cuts is named exactly', () => {
  const mld = encodeMld(mldMessages[3], LL, MLDV2_ALL);
  // record 1 header is 20 bytes from 8, its one source from 28: cut it after 7 bytes.
  const e = codecError(() => decodeMld(mld.subarray(0, 35)));
  assert.equal(e.message, 'truncated at offset 28: record 1 source 1 needs 16 bytes, 7 left');
  assert.equal(e.field, 'record 1 source 1');
  assert.equal(e.offset, 28);
  assert.equal(codecError(() => decodeIgmp(hex('22 00'))).message, 'truncated at offset 2: report checksum needs 2 bytes, 0 left');
  assert.equal(codecError(() => decodeIgmp(Buffer.alloc(0))).field, 'type');
});

test('N larger than the bytes present: the first missing source is named', () => {
  const q = encodeIgmp(igmpMessages[4]); // 2 sources
  const lying = Buffer.from(q);
  lying.writeUInt16BE(5, 10);
  const e = codecError(() => decodeIgmp(lying));
  assert.equal(e.message, 'truncated at offset 20: query source 3 needs 4 bytes, 0 left');
  const r = Buffer.from(encodeIgmp(igmpMessages[5]));
  r.writeUInt16BE(0xffff, 10); // record 1 claims 65535 sources
  const e2 = codecError(() => decodeIgmp(r));
  assert.equal(e2.field.startsWith('record 1 source'), true, e2.message);
  const m = Buffer.from(encodeIgmp(igmpMessages[5]));
  m.writeUInt16BE(4, 6); // 4 records, 3 present
  assert.equal(codecError(() => decodeIgmp(m)).field, 'record 4 header');
});

test('aux data is skipped by its length; aux-len beyond the data is named', () => {
  const msg = mldMessages[3];
  const bytes = encodeMld(msg, LL, MLDV2_ALL);
  assert.equal(bytes.length, 8 + (20 + 16) + (20 + 32 + 4) + 20);
  const over = Buffer.from(encodeIgmp(igmpMessages[5]));
  // record 3 (last) has auxWords 2 at offset 8+12+8+... : find it by walking
  const rec3 = 8 + (8 + 4) + 8;
  assert.equal(over[rec3 + 1], 2);
  over[rec3 + 1] = 3;
  const e = codecError(() => decodeIgmp(over));
  assert.equal(e.field, 'record 3 aux data');
  assert.equal(e.offset, rec3 + 8 + 8);
  assert.equal(e.message, `truncated at offset ${rec3 + 16}: record 3 aux data needs 12 bytes, 8 left`);
});

test('records of unknown type are skipped (RFC 9776 §4.2.12), the rest still decode', () => {
  const bytes = Buffer.from(encodeIgmp(igmpMessages[5]));
  bytes[8] = 9; // record 1 type
  bytes.writeUInt16BE(0, 2);
  bytes.writeUInt16BE(encodeChecksumOf(bytes), 2);
  const msg = decodeIgmp(bytes);
  assert.equal(msg.kind, 'report');
  assert.deepEqual(msg.kind === 'report' && msg.records.map((r) => r.type), [4, 1]);
});

function encodeChecksumOf(buf: Buffer): number {
  let sum = 0;
  for (let i = 0; i < buf.length; i += 2) sum += buf.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

test('bad checksum names the stored and the expected value', () => {
  const bytes = hex('16 00 12 34 ef ff ff fa');
  const e = codecError(() => decodeIgmp(bytes));
  assert.equal(e.message, 'bad checksum: 0x1234, expected 0xfa04');
  assert.equal(e.field, 'checksum');
  assert.equal(e.reason, 'bad checksum');
  const flipped = hex('16 00 fa 04 ef ff ff fb');
  assert.equal(codecError(() => decodeIgmp(flipped)).reason, 'bad checksum');
});

test('unknown types', () => {
  assert.equal(codecError(() => decodeIgmp(hex('99 00 00 00 00 00 00 00'))).message, 'unknown type 0x99 at offset 0');
  assert.equal(codecError(() => decodeMld(hex('88 00 00 00'))).reason, 'unknown type');
  assert.equal(codecError(() => decodeIgmp(hex('8f 00 00 00'))).reason, 'unknown type', 'an MLD type is not IGMP');
  assert.equal(protoOfType(0x22), 'igmp');
  assert.equal(protoOfType(143), 'mld');
  assert.equal(protoOfType(0x99), undefined);
});

test('random garbage only ever raises CodecError', () => {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const types = [0x11, 0x12, 0x16, 0x17, 0x22, 130, 131, 132, 143, 0];
  for (let i = 0; i < 5000; i++) {
    const buf = Buffer.alloc(rand() % 80);
    for (let j = 0; j < buf.length; j++) buf[j] = rand();
    if (buf.length > 0) buf[0] = types[i % types.length];
    for (const decode of [() => decodeIgmp(buf), () => decodeMld(buf, LL, MLDV2_ALL), () => decodeMld(buf)]) {
      try {
        decode();
      } catch (err) {
        assert.ok(err instanceof CodecError, `garbage ${buf.toString('hex')}: ${(err as Error).stack}`);
      }
    }
  }
});

test('encode refuses what the wire cannot carry, naming the field', () => {
  const bad = { ...igmpMessages[3], group: a('ff02::1') } as MembershipMessage;
  const e = codecError(() => encodeIgmp(bad));
  assert.equal(e.field, 'group address');
  assert.equal(e.reason, 'bad value');
  assert.equal(codecError(() => encodeIgmp(mldMessages[0])).field, 'proto');
  assert.equal(codecError(() => encodeIgmp({ ...igmpMessages[3], maxRespMs: 3_174_500 } as MembershipMessage)).field, 'max resp code');
  assert.equal(codecError(() => encodeIgmp({ ...igmpMessages[1], maxRespMs: 0 } as MembershipMessage)).field, 'max resp code');
  assert.equal(codecError(() => encodeMld(mldMessages[0], a('10.0.0.1'), MLDV2_ALL)).field, 'pseudo-header source');
  assert.equal(codecError(() => encodeIgmp({ ...igmpMessages[9], version: 3 } as MembershipMessage)).field, 'version');
});

test('QRV above 7 is sent as 0 (RFC 9776 §4.1.6), non-representable times round up', () => {
  const q = { ...igmpMessages[3], qrv: 9, maxRespMs: 12_950, qqicS: 129 } as MembershipMessage;
  const back = decodeIgmp(encodeIgmp(q));
  assert.equal(back.kind, 'query');
  if (back.kind !== 'query') return;
  assert.equal(back.qrv, 0);
  assert.equal(back.maxRespMs, 13_600, '129.5 tenths -> 130 -> next code value 136');
  assert.equal(back.qqicS, 136);
});

test('float codes at the boundaries (RFC 9776 §4.1.1, RFC 9777 §5.1.3)', () => {
  const cases: Array<[FloatCodeKind, number, number]> = [
    ['igmp-mrc', 0, 0],
    ['igmp-mrc', 127, 127],
    ['igmp-mrc', 0x80, 128],
    ['igmp-mrc', 0x8f, 248],
    ['igmp-mrc', 0x90, 256],
    ['igmp-mrc', 0xff, 31744],
    ['qqic', 127, 127],
    ['qqic', 0x80, 128],
    ['qqic', 0xff, 31744],
    ['mld-mrc', 32767, 32767],
    ['mld-mrc', 0x8000, 32768],
    ['mld-mrc', 0x8fff, 0x1fff << 3],
    ['mld-mrc', 0x9000, 0x1000 << 4],
    ['mld-mrc', 0xffff, 8_387_584],
  ];
  for (const [kind, code, value] of cases) {
    assert.equal(decodeMaxRespCode(code, kind), value, `${kind} decode 0x${code.toString(16)}`);
    assert.equal(encodeMaxRespCode(value, kind), code, `${kind} encode ${value}`);
  }
  assert.equal(maxFloatCodeValue('igmp-mrc'), 31744);
  assert.equal(maxFloatCodeValue('mld-mrc'), 8_387_584);
  assert.equal(encodeMaxRespCode(129, 'igmp-mrc'), 0x81, 'rounds up to 136');
  assert.equal(encodeMaxRespCode(249, 'igmp-mrc'), 0x90, 'round-up carries into the next exponent');
  assert.equal(encodeMaxRespCode(32769, 'mld-mrc'), 0x8001);
  assert.throws(() => encodeMaxRespCode(31745, 'igmp-mrc'), RangeError);
  assert.throws(() => encodeMaxRespCode(8_387_585, 'mld-mrc'), RangeError);
  assert.throws(() => encodeMaxRespCode(-1, 'qqic'), RangeError);
});

test('every float code is the smallest one whose value is at least the value encoded', () => {
  for (const [kind, codes] of [['igmp-mrc', 0x100], ['mld-mrc', 0x10000]] as Array<[FloatCodeKind, number]>) {
    let prev = -1;
    for (let code = 0; code < codes; code++) {
      const value = decodeMaxRespCode(code, kind);
      assert.ok(value > prev, `${kind} codes increase: 0x${code.toString(16)}`);
      assert.equal(encodeMaxRespCode(value, kind), code);
      if (value - prev > 1) assert.equal(encodeMaxRespCode(prev + 1, kind), code, `${kind} ${prev + 1} rounds up`);
      prev = value;
    }
  }
});

test('messageToJson: addresses as text, record types by name and number', () => {
  assert.deepEqual(messageToJson(mldMessages[3]), {
    proto: 'mld', version: 2, kind: 'report',
    records: [
      { type: 'ALLOW_NEW_SOURCES', typeNumber: 5, group: 'ff3e:40:2001:db8:1:0:8000:1', sources: ['2001:db8::1'], auxWords: 0 },
      { type: 'BLOCK_OLD_SOURCES', typeNumber: 6, group: 'ff3e:40:2001:db8:1:0:8000:2', sources: ['2001:db8::1', '2001:db8::2'], auxWords: 1 },
      { type: 'CHANGE_TO_INCLUDE_MODE', typeNumber: 3, group: 'ff0e::1234', sources: [], auxWords: 0 },
    ],
  });
  assert.deepEqual(messageToJson(igmpMessages[4]), {
    proto: 'igmp', version: 3, kind: 'query', group: '232.1.1.1', general: false, maxRespMs: 3_174_400,
    suppress: true, qrv: 7, qqicS: 31744, sources: ['10.0.0.1', '10.0.0.2'],
  });
  assert.deepEqual(messageToJson(igmpMessages[9]), { proto: 'igmp', version: 2, kind: 'legacy-leave', group: '239.255.255.250' });
  assert.equal(messageToJson(igmpMessages[3]).general, true);
});

test('extra octets after the last field are ignored but still checksummed (RFC 2236 §2.5)', () => {
  const longer = Buffer.concat([hex('16 00 00 00 ef ff ff fa'), hex('de ad be ef')]);
  longer.writeUInt16BE(encodeChecksumOf(longer), 2);
  assert.deepEqual(decodeIgmp(longer), decodeIgmp(hex('16 00 fa 04 ef ff ff fa')));
  longer[9] ^= 1;
  assert.equal(codecError(() => decodeIgmp(longer)).reason, 'bad checksum');
});
