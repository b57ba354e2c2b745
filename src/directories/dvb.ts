/**
 * DVB-S/S2 service lists: one line per (carrier, service), the fields in the
 * order dvblast is told them (`dvblast -f FREQ -v 13|18 -s SYMBOLRATE -5 SYSTEM
 * -F FEC -m MODULATION`, then the service id in its config):
 *
 *   # frequency_khz  polarisation  symbol_rate  system  fec  modulation  service_id  name
 *   10773000  H  22000000  DVBS2  3/4  PSK_8  6301  BBC One HD
 *
 * - Fields are separated by spaces or tabs; the name is the rest of the line.
 * - frequency_khz: downlink frequency in kHz (an integer).
 * - polarisation: H, V (linear) or L, R (circular).
 * - symbol_rate: symbols per second (22000000, not 22000).
 * - system: DVBS or DVBS2 (DVB-S, DVB-S2 accepted).
 * - fec: 1/2 2/3 3/4 3/5 4/5 5/6 6/7 7/8 8/9 9/10 or auto.
 * - modulation: QPSK, PSK_8, APSK_16, APSK_32 (8PSK, 16APSK, 32APSK accepted).
 * - service_id: 1..65535, the program_number of the service in its transport stream.
 * - Lines starting with # and blank lines are ignored.
 *
 * The stable key is `<frequency_khz><polarisation>/<service_id>`; the service
 * number comes from the same pair (src/plan/plan.ts), so a carrier off the
 * plan's grid is skipped with the plan's reason.
 */
import { DVB_FECS, tuningProblem } from '../store/store.js';
import type { DvbModulation, DvbSystem, DvbTuning, Polarisation } from '../store/types.js';
import { cleanText } from './common.js';
import { DirectoryFormatError, type ParseResult } from './types.js';

const KIND = 'DVB service list';

const SYSTEMS: Record<string, DvbSystem> = { DVBS: 'DVBS', 'DVB-S': 'DVBS', DVBS2: 'DVBS2', 'DVB-S2': 'DVBS2' };
const MODULATIONS: Record<string, DvbModulation> = {
  QPSK: 'QPSK', PSK_8: 'PSK_8', '8PSK': 'PSK_8', APSK_16: 'APSK_16', '16APSK': 'APSK_16', APSK_32: 'APSK_32', '32APSK': 'APSK_32',
};

export function dvbExternalId(t: Pick<DvbTuning, 'frequencyKhz' | 'polarisation'>, serviceId: number): string {
  return `${t.frequencyKhz}${t.polarisation}/${serviceId}`;
}

export function parseDvbList(text: string): ParseResult {
  if (text.includes('\0')) throw new DirectoryFormatError(KIND, 'binary data');
  const result: ParseResult = { entries: [], skipped: [] };
  let dataLines = 0;
  let structural = 0;
  text.replace(/^\uFEFF/, '').split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    dataLines++;
    const at = i + 1;
    const f = line.split(/[ \t]+/);
    if (f.length < 8) { structural++; result.skipped.push({ at, reason: `${f.length} fields, expected 8 (frequency_khz polarisation symbol_rate system fec modulation service_id name)` }); return; }
    const bad = (field: string, why: string) => result.skipped.push({ at, reason: `${field}: ${why}` });
    if (!/^\d+$/.test(f[0])) { structural++; return bad('frequency_khz', `not an integer: "${f[0].slice(0, 20)}"`); }
    const pol = f[1].toUpperCase();
    if (!['H', 'V', 'L', 'R'].includes(pol)) return bad('polarisation', `must be H, V, L or R, got "${f[1].slice(0, 10)}"`);
    if (!/^\d+$/.test(f[2])) return bad('symbol_rate', `not an integer: "${f[2].slice(0, 20)}"`);
    const symbolRate = Number(f[2]);
    if (symbolRate < 100_000) return bad('symbol_rate', `${symbolRate} looks like kS/s; write symbols/s (22000000)`);
    const system = SYSTEMS[f[3].toUpperCase()];
    if (!system) return bad('system', `must be DVBS or DVBS2, got "${f[3].slice(0, 10)}"`);
    const fec = f[4].toLowerCase();
    if (!DVB_FECS.has(fec)) return bad('fec', `must be one of ${[...DVB_FECS].join(' ')}, got "${f[4].slice(0, 10)}"`);
    const modulation = MODULATIONS[f[5].toUpperCase()];
    if (!modulation) return bad('modulation', `must be QPSK, PSK_8, APSK_16 or APSK_32, got "${f[5].slice(0, 10)}"`);
    if (!/^\d+$/.test(f[6]) || Number(f[6]) < 1 || Number(f[6]) > 0xffff) return bad('service_id', `must be 1..65535, got "${f[6].slice(0, 10)}"`);
    const name = cleanText(f.slice(7).join(' '));
    if (!name) return bad('name', 'empty');
    const tuning: DvbTuning = { frequencyKhz: Number(f[0]), polarisation: pol as Polarisation, symbolRate, system, fec, modulation };
    const problem = tuningProblem(tuning);
    if (problem) return bad(problem.split(':')[0], problem.split(':').slice(1).join(':').trim());
    const serviceId = Number(f[6]);
    result.entries.push({ externalId: dvbExternalId(tuning, serviceId), name, kind: 'dvb', tuning, serviceId, tags: [] });
  });
  if (dataLines > 0 && result.entries.length === 0 && structural === dataLines) {
    throw new DirectoryFormatError(KIND, 'no line has the 8 fields "frequency_khz polarisation symbol_rate system fec modulation service_id name"');
  }
  return result;
}
