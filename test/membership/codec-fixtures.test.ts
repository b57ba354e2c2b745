/**
 * The codecs against messages captured from real Linux hosts and a Linux
 * bridge querier (fixtures/membership, made by
 * scripts/capture-membership-fixtures.ts), plus hand-made broken ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAddr } from '../../src/membership/addr.js';
import { CodecError, decodeMembership, decodeMld, encodeIgmp, encodeMld, messageToJson, type GroupRecordJson } from '../../src/membership/codec.js';

interface Fixture {
  name: string;
  proto: 'igmp' | 'mld';
  hex: string;
  from?: string;
  to?: string;
  expect?: Record<string, unknown> & { records?: Partial<GroupRecordJson>[]; recordsInclude?: Partial<GroupRecordJson>[] };
  expectError?: { reason: string; field?: string; offset?: number };
}

const DIR = 'fixtures/membership';
const fixtures: Fixture[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Fixture);

test('the fixture set covers every message kind the brief asks for', () => {
  const names = new Set(fixtures.map((f) => f.name));
  for (const name of [
    'igmpv3-report-allow-ssm-join', 'igmpv3-report-block-ssm-leave', 'igmpv3-report-to-ex-asm-join', 'igmpv3-report-to-in-asm-leave',
    'igmpv2-report', 'igmpv2-leave', 'igmpv1-report',
    'mldv2-report-allow-ssm-join', 'mldv2-report-block-ssm-leave', 'mldv2-report-to-ex-asm-join', 'mldv2-report-to-in-asm-leave',
    'mldv1-report', 'mldv1-done',
    'igmpv1-query-general', 'igmpv2-query-general', 'igmpv3-query-general', 'mldv1-query-general', 'mldv2-query-general',
  ]) {
    assert.ok(names.has(name), `missing fixture ${name}`);
  }
  assert.ok(fixtures.filter((f) => f.expectError).length >= 5, 'hand-made broken messages');
});

const pick = (r: Partial<GroupRecordJson>) => ({ typeNumber: r.typeNumber, group: r.group, sources: r.sources });

for (const f of fixtures) {
  const bytes = Buffer.from(f.hex, 'hex');
  const from = f.from === undefined ? undefined : parseAddr(f.from);
  const to = f.to === undefined ? undefined : parseAddr(f.to);

  if (f.expectError) {
    test(`${f.name}: refused with ${f.expectError.reason}`, () => {
      assert.throws(() => decodeMembership(f.proto, bytes, from, to), (err: unknown) => {
        assert.ok(err instanceof CodecError, String(err));
        assert.equal(err.reason, f.expectError!.reason, err.message);
        if (f.expectError!.field !== undefined) assert.equal(err.field, f.expectError!.field, err.message);
        if (f.expectError!.offset !== undefined) assert.equal(err.offset, f.expectError!.offset, err.message);
        return true;
      });
    });
    continue;
  }

  test(`${f.name}: decodes as captured and re-encodes to the same bytes`, () => {
    // For MLD this verifies the kernel's checksum over our pseudo-header.
    const msg = decodeMembership(f.proto, bytes, from, to);
    const json = messageToJson(msg) as Record<string, unknown> & { records?: GroupRecordJson[] };
    const { records, recordsInclude, ...fields } = f.expect!;
    for (const [key, value] of Object.entries(fields)) assert.deepEqual(json[key], value, `${key} of ${JSON.stringify(json)}`);
    if (records) assert.deepEqual(json.records!.map(pick), records.map(pick));
    for (const want of recordsInclude ?? []) {
      assert.ok(json.records!.some((r) => JSON.stringify(pick(r)) === JSON.stringify(pick(want))),
        `record ${JSON.stringify(want)} in ${JSON.stringify(json.records)}`);
    }
    const again = f.proto === 'igmp' ? encodeIgmp(msg) : encodeMld(msg, from!, to!);
    assert.equal(again.toString('hex'), f.hex);
    assert.deepEqual(decodeMembership(f.proto, again, from, to), msg);
  });

  if (f.proto === 'mld') {
    test(`${f.name}: the checksum covers the pseudo-header`, () => {
      assert.throws(() => decodeMld(bytes, from, parseAddr('ff02::1234')), (err: unknown) => err instanceof CodecError && err.reason === 'bad checksum');
      assert.throws(() => decodeMld(bytes, parseAddr('fe80::dead'), to), (err: unknown) => err instanceof CodecError && err.reason === 'bad checksum');
    });
  }
}
